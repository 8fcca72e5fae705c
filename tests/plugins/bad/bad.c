/* Plugins the loader must refuse, one defect each, chosen by -DBAD_<NAME>
 * (see CMakeLists.txt). Each compiles cleanly: the defects are in what the
 * plugin declares, not in C. */
#include <stddef.h>

#include "rebound/rebound.h"

static const rb_host_api *host;

static rb_status run(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    *out = host->value_map();
    return RB_OK;
}

static const rb_field params[] = {
#if defined(BAD_BAD_DEFAULT)
    {.name = "count", .type = RB_TINT, .default_json = "\"three\"", .help = "not an integer"},
#else
    {.name = "count", .type = RB_TINT, .default_json = "3", .help = "how many"},
#endif
    {0},
};

static const rb_action actions[] = {
    {.name = "look", .summary = "reads", .effect = RB_EFFECT_READ, .params = params, .run = run},
#if defined(BAD_NO_PLAN)
    {.name = "change", .summary = "writes without plan()", .effect = RB_EFFECT_WRITE, .run = run},
#elif defined(BAD_NO_RUN)
    {.name = "change", .summary = "no run()", .effect = RB_EFFECT_WRITE, .plan = run},
#elif defined(BAD_DUP_ACTION)
    {.name = "look", .summary = "same name again", .effect = RB_EFFECT_READ, .run = run},
#else
    {.name = "change", .summary = "writes", .effect = RB_EFFECT_WRITE, .run = run, .plan = run},
#endif
};

#if defined(BAD_DUP)
#define NAME "testkit"
#elif defined(BAD_BAD_NAME)
#define NAME "Bad-Name"
#elif defined(BAD_BAD_ABI)
#define NAME "bad_abi"
#else
#define NAME "bad"
#endif

static const rb_plugin plugin = {
#if defined(BAD_BAD_ABI)
    .abi_major = RB_ABI_MAJOR + 1, .abi_minor = 0, .struct_size = sizeof(rb_plugin),
#elif defined(BAD_SHORT_STRUCT)
    .abi_major = RB_ABI_MAJOR, .abi_minor = RB_ABI_MINOR, .struct_size = offsetof(rb_plugin, fini),
#else
    RB_PLUGIN_HEADER,
#endif
    .name = NAME,
    .version = "0.0.1",
    .description = "a plugin the loader must refuse",
#if defined(BAD_SHORT_ACTION)
    .actions = actions, .n_actions = 2, .action_size = offsetof(rb_action, plan),
#else
    RB_PLUGIN_ACTIONS(actions),
#endif
};


RB_PLUGIN_EXPORT int rb_plugin_init(const rb_host_api *h, const rb_plugin **out, char **errmsg)
{
    host = h;
#if defined(BAD_INIT_FAILS)
    (void)plugin;
    *errmsg = h->str_format("setting %s is missing", "endpoint");
    return RB_EINVAL;
#else
    *out = &plugin;
    return RB_OK;
#endif
}
