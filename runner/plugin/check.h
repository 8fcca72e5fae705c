/* Internal to runner/plugin/: the checks the loader and the argument
 * validator share. Not part of the SDK. */
#ifndef REBOUND_RUNNER_PLUGIN_CHECK_H
#define REBOUND_RUNNER_PLUGIN_CHECK_H

#include <stddef.h>

#include "rebound/plugin.h"

/* Longest plugin, action or field name the host accepts. */
#define RB_NAME_MAX 64

/* Non-zero when s matches [a-z][a-z0-9_]* and is at most RB_NAME_MAX long. */
int rb_name_valid(const char *s);

/* Action i of a definition, striding by its action_size. */
const rb_action *rb_def_action_at(const rb_plugin *def, size_t i);

/* Checks a definition returned by rb_plugin_init against what this host
 * reads: ABI major, struct sizes, names, actions and their field tables.
 * Returns NULL when acceptable, else the reason (malloc'd; caller frees). */
char *rb_plugin_check_def(const rb_plugin *def);

/* Non-zero when the host may call the plugin's fini (the header is ours and
 * struct_size covers the field). */
int rb_plugin_has_fini(const rb_plugin *def);

/* Whether v is acceptable for a declared type. An integral double is
 * acceptable for RB_TINT (Lua writes 1e3 and 2^3 as floats); strings are
 * acceptable for RB_TBYTES (Lua strings are byte strings). */
int rb_type_accepts(rb_type t, const rb_value *v);

#endif
