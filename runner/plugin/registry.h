/* The plugin registry: finds, loads and checks plugins.
 *
 * Each candidate file in a plugin directory is dlopen()ed with
 * RTLD_NOW|RTLD_LOCAL, its single entry `rb_plugin_init` resolved and
 * called, and the rb_plugin it returns checked: same ABI major, a minor and
 * struct_size that cover what the host reads, a name not already taken,
 * well-formed actions (names, effects, plan() for write/destructive actions,
 * field tables). A refusal is recorded with the path and the reason and the
 * scan goes on; the run fails only if a playbook needs a refused plugin. */
#ifndef REBOUND_RUNNER_REGISTRY_H
#define REBOUND_RUNNER_REGISTRY_H

#include <stddef.h>
#include <stdio.h>

#include "rebound/plugin.h"

typedef struct rb_registry rb_registry;

typedef struct rb_loaded_plugin {
    char *path;                /* the shared object */
    void *handle;              /* dlopen handle */
    const rb_plugin *def;      /* what rb_plugin_init returned */
    const rb_value *settings;  /* plugins.settings.<name>, or an empty map */
} rb_loaded_plugin;

typedef struct rb_refusal {
    char *path;
    char *name;                /* plugin name if known, else NULL */
    char *reason;
} rb_refusal;

/* settings: the config's plugins.settings map (borrowed; may be NULL). */
rb_registry *rb_registry_new(const rb_value *settings);
void rb_registry_free(rb_registry *reg); /* calls each plugin's fini, dlcloses */

/* Scans one directory (non-recursive) for regular files named *.so (hidden
 * files skipped), in name order; each is loaded with rb_registry_load_file,
 * so a stray non-ELF *.so is reported rather than silently skipped. Other
 * files (READMEs, build files, *.so.N versioned libraries a plugin may ship
 * next to itself) are ignored. A missing or unreadable directory is recorded
 * as a refusal too. */
void rb_registry_scan_dir(rb_registry *reg, const char *dir);
/* Loads one file; returns 0 when loaded (or when the same file is already
 * loaded), -1 when refused (recorded). */
int rb_registry_load_file(rb_registry *reg, const char *path);

size_t rb_registry_count(const rb_registry *reg);
const rb_loaded_plugin *rb_registry_at(const rb_registry *reg, size_t i);
const rb_loaded_plugin *rb_registry_find(const rb_registry *reg, const char *name);

size_t rb_registry_refusal_count(const rb_registry *reg);
const rb_refusal *rb_registry_refusal_at(const rb_registry *reg, size_t i);
/* The refusal for a plugin name, if one was refused under that name (or
 * whose file name matches lib<name>.so / <name>.so); NULL otherwise. */
const rb_refusal *rb_registry_refusal_for(const rb_registry *reg, const char *name);

/* Action i of a plugin, striding by the plugin's action_size. */
const rb_action *rb_plugin_action_at(const rb_loaded_plugin *p, size_t i);
const rb_action *rb_plugin_find_action(const rb_loaded_plugin *p, const char *name);

const char *rb_effect_name(rb_effect e);
const char *rb_type_name(rb_type t);

/* Checks args (a map, may be NULL for "no arguments") against an action's
 * params table: unknown names, missing required ones, wrong types. On
 * success returns a new map with defaults filled in (caller frees with
 * rbv_free); on failure returns NULL with a message like
 * `keyvault.backup: parameter "vault" must be a string, got integer`. */
rb_value *rb_validate_args(const rb_loaded_plugin *p, const rb_action *a, const rb_value *args,
                           char *err, size_t errlen);

/* `rebound plugins list` and `plugins info NAME` renderings. json selects
 * --output json. print_info returns 0, or -1 without printing anything when
 * no plugin has that name (the caller reports it, with
 * rb_registry_refusal_for() when the plugin was refused). */
void rb_registry_print_list(const rb_registry *reg, FILE *out, int json);
int rb_registry_print_info(const rb_registry *reg, const char *name, FILE *out, int json);

#endif
