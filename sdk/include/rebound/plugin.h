/* rebound plugin SDK: what a plugin declares.
 *
 * A plugin is a shared object that exports exactly one symbol:
 *
 *     RB_PLUGIN_EXPORT int rb_plugin_init(const rb_host_api *host,
 *                                         const rb_plugin **out,
 *                                         char **errmsg);
 *
 * It returns RB_OK and points *out at an rb_plugin that stays valid until
 * the plugin's fini() has run (usually a static const struct). On failure it
 * returns a negative rb_status and may set *errmsg to a message allocated
 * with host->str_dup() or host->str_format(); the host frees it.
 *
 * rb_plugin begins with {abi_major, abi_minor, struct_size}. Fields are only
 * ever appended: the host reads only the fields that struct_size covers, and
 * refuses a plugin whose abi_major differs from its own. */
#ifndef REBOUND_PLUGIN_H
#define REBOUND_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "value.h"
#include "version.h"

#if defined(__GNUC__)
#define RB_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define RB_PLUGIN_EXPORT
#endif

/* The name of the entry point, for hosts and tools that look it up. */
#define RB_PLUGIN_ENTRY "rb_plugin_init"

typedef struct rb_ctx rb_ctx;           /* one action call; opaque */
typedef struct rb_host_api rb_host_api; /* see host.h */

/* What an action does to the estate. Plan mode runs only RB_EFFECT_READ
 * actions and asks the others for predicted outputs through plan(). */
typedef enum rb_effect {
    RB_EFFECT_READ = 0,        /* reads only; safe in plan mode */
    RB_EFFECT_WRITE = 1,       /* creates or changes something */
    RB_EFFECT_DESTRUCTIVE = 2  /* deletes or overwrites; needs confirmation */
} rb_effect;

/* One parameter or output of an action. Arrays of rb_field end with an
 * element whose name is NULL. This struct is frozen: it never grows. */
typedef struct rb_field {
    const char *name;
    rb_type type;
    int required;            /* non-zero: the caller must supply it */
    const char *default_json; /* default as JSON text ("8", "\"x\""), or NULL */
    const char *help;        /* one line for `rebound plugins info` and docs */
} rb_field;

/* Runs the action. args is a map validated against the params table, with
 * defaults filled in. On success, set *out to a new map (or leave it NULL for
 * "no outputs"); the host takes ownership. On failure, return a negative
 * status and describe it with host->set_error(ctx, ...). */
typedef rb_status (*rb_action_fn)(rb_ctx *ctx, const rb_value *args, rb_value **out);

typedef struct rb_action {
    const char *name;          /* lower_snake_case, unique within the plugin */
    const char *summary;       /* one line */
    rb_effect effect;
    const rb_field *params;    /* NULL-name terminated; may be NULL */
    const rb_field *outputs;   /* NULL-name terminated; may be NULL */
    rb_action_fn run;
    /* Predicted outputs for plan mode, without side effects. Required for
     * write and destructive actions; ignored for read actions. */
    rb_action_fn plan;
} rb_action;

typedef struct rb_plugin {
    uint16_t abi_major;        /* RB_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;        /* RB_ABI_MINOR the plugin was built with */
    uint32_t struct_size;      /* sizeof(rb_plugin) the plugin was built with */
    const char *name;          /* unique; what playbooks pass to plugin "..." */
    const char *version;       /* the plugin's own version, e.g. "1.2.0" */
    const char *description;   /* one line */
    const rb_action *actions;  /* array of n_actions elements */
    size_t n_actions;
    size_t action_size;        /* sizeof(rb_action) the plugin was built with */
    /* Called once before the host unloads the plugin; may be NULL. */
    void (*fini)(void);
} rb_plugin;

/* Fills the header fields of a plugin definition. */
#define RB_PLUGIN_HEADER \
    .abi_major = RB_ABI_MAJOR, .abi_minor = RB_ABI_MINOR, .struct_size = sizeof(rb_plugin)

/* Sets actions, n_actions and action_size from a static array. */
#define RB_PLUGIN_ACTIONS(array) \
    .actions = (array), .n_actions = sizeof(array) / sizeof((array)[0]), \
    .action_size = sizeof(rb_action)

typedef int (*rb_plugin_init_fn)(const rb_host_api *host, const rb_plugin **out, char **errmsg);

/* The entry point every plugin defines (declared here so plugins need no
 * prototype of their own under -Wmissing-prototypes). */
RB_PLUGIN_EXPORT int rb_plugin_init(const rb_host_api *host, const rb_plugin **out, char **errmsg);

#endif
