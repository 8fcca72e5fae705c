/* future: a plugin as a later SDK (ABI 1.<next>) would build it, with larger
 * rb_plugin and rb_action structs. This host must load it, read only the
 * fields it knows, and stride the action array by the plugin's action_size. */
#include "rebound/rebound.h"

static const rb_host_api *host;

/* What rb_action might look like after fields are appended. */
typedef struct future_action {
    rb_action base;
    const char *appended_later;
    int another;
} future_action;

typedef struct future_plugin {
    rb_plugin base;
    void (*appended_later)(void);
} future_plugin;

static rb_status answer(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_value *m = host->value_map();
    host->map_set(m, "answer", host->value_int(42));
    *out = m;
    return RB_OK;
}

static const rb_field answer_outputs[] = {
    {.name = "answer", .type = RB_TINT, .help = "always 42"},
    {0},
};

static const future_action actions[] = {
    {.base = {.name = "first", .summary = "first", .effect = RB_EFFECT_READ, .run = answer},
     .appended_later = "x"},
    {.base = {.name = "second", .summary = "second", .effect = RB_EFFECT_WRITE,
              .outputs = answer_outputs, .run = answer, .plan = answer},
     .appended_later = "y"},
};

static const future_plugin plugin = {
    .base = {
        .abi_major = RB_ABI_MAJOR,
        .abi_minor = RB_ABI_MINOR + 1,
        .struct_size = sizeof(future_plugin),
        .name = "future",
        .version = "9.9.9",
        .description = "built for a later ABI minor",
        .actions = &actions[0].base,
        .n_actions = sizeof actions / sizeof actions[0],
        .action_size = sizeof(future_action),
    },
};


RB_PLUGIN_EXPORT int rb_plugin_init(const rb_host_api *h, const rb_plugin **out, char **errmsg)
{
    host = h;
    *out = &plugin.base;
    return RB_OK;
}
