/* What the host checks in a plugin definition before it accepts it.
 *
 * Everything here reads only the fields that the ABI 1.0 layout defines and
 * that struct_size / action_size say the plugin provided: a plugin built
 * with a later minor has larger structs whose extra fields this host never
 * touches. */
#include "plugin/check.h"

#include <stdint.h>
#include <string.h>

#include "core/util.h"
#include "core/values.h"
#include "plugin/registry.h"

/* The end of the last field the host reads, per minor of major 1. Only
 * minor 0 exists; a later minor appends an entry here. */
#define PLUGIN_SIZE_1_0 (offsetof(rb_plugin, fini) + sizeof(((rb_plugin *)0)->fini))
#define ACTION_SIZE_1_0 (offsetof(rb_action, plan) + sizeof(((rb_action *)0)->plan))

/* Upper bounds that catch a table without its terminator or a garbage count
 * before the host walks off into memory it does not own. */
#define MAX_ACTIONS 4096
#define MAX_FIELDS 1024

int rb_name_valid(const char *s)
{
    if (!s || !(*s >= 'a' && *s <= 'z'))
        return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return n <= RB_NAME_MAX;
}

const rb_action *rb_def_action_at(const rb_plugin *def, size_t i)
{
    return (const rb_action *)(const void *)((const char *)def->actions + i * def->action_size);
}

int rb_plugin_has_fini(const rb_plugin *def)
{
    return def && def->abi_major == RB_ABI_MAJOR && def->struct_size >= PLUGIN_SIZE_1_0 &&
           def->fini != NULL;
}

static char *check_fields(const rb_action *a, const rb_field *fields, const char *what)
{
    if (!fields)
        return NULL;
    for (size_t i = 0; fields[i].name; i++) {
        const rb_field *f = &fields[i];
        if (i >= MAX_FIELDS)
            return rb_xasprintf("action \"%s\": %s table has more than %d entries "
                                "(missing the {NULL} terminator?)",
                                a->name, what, MAX_FIELDS);
        if (!rb_name_valid(f->name))
            return rb_xasprintf("action \"%s\": invalid %s name \"%s\" (must match [a-z][a-z0-9_]*)",
                                a->name, what, f->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(fields[j].name, f->name) == 0)
                return rb_xasprintf("action \"%s\": duplicate %s \"%s\"", a->name, what, f->name);
        if ((unsigned)f->type > RB_TMAP)
            return rb_xasprintf("action \"%s\": %s \"%s\" has an unknown type %d", a->name, what,
                                f->name, (int)f->type);
        if (!f->default_json)
            continue;
        if (f->required)
            return rb_xasprintf("action \"%s\": %s \"%s\" is required and also has a default",
                                a->name, what, f->name);
        rb_value *dv = rbv_from_json_text(f->default_json);
        if (!dv)
            return rb_xasprintf("action \"%s\": %s \"%s\" has a default that is not JSON: %s",
                                a->name, what, f->name, f->default_json);
        int ok = rb_type_accepts(f->type, dv);
        rbv_free(dv);
        if (!ok) {
            const char *t = rb_type_name(f->type);
            return rb_xasprintf("action \"%s\": %s \"%s\" has a default that is not %s %s: %s",
                                a->name, what, f->name, strchr("aeiou", t[0]) ? "an" : "a", t,
                                f->default_json);
        }
    }
    return NULL;
}

static char *check_action(const rb_plugin *def, size_t i)
{
    const rb_action *a = rb_def_action_at(def, i);
    if (!a->name || !*a->name)
        return rb_xasprintf("action %zu has no name", i);
    if (!rb_name_valid(a->name))
        return rb_xasprintf("invalid action name \"%s\" (must match [a-z][a-z0-9_]*)", a->name);
    for (size_t j = 0; j < i; j++)
        if (strcmp(rb_def_action_at(def, j)->name, a->name) == 0)
            return rb_xasprintf("duplicate action name \"%s\"", a->name);
    if ((unsigned)a->effect > RB_EFFECT_DESTRUCTIVE)
        return rb_xasprintf("action \"%s\" has an unknown effect %d", a->name, (int)a->effect);
    if (!a->run)
        return rb_xasprintf("action \"%s\" has no run()", a->name);
    if (a->effect != RB_EFFECT_READ && !a->plan)
        return rb_xasprintf("action \"%s\" is a %s action without plan() "
                            "(plan mode needs its predicted outputs)",
                            a->name, rb_effect_name(a->effect));
    char *why = check_fields(a, a->params, "parameter");
    if (!why)
        why = check_fields(a, a->outputs, "output");
    return why;
}

char *rb_plugin_check_def(const rb_plugin *def)
{
    if (def->abi_major != RB_ABI_MAJOR)
        return rb_xasprintf("built for plugin ABI %u.%u, but this host speaks ABI %d.%d "
                            "(the major version must match)",
                            (unsigned)def->abi_major, (unsigned)def->abi_minor, RB_ABI_MAJOR,
                            RB_ABI_MINOR);
    if (def->struct_size < PLUGIN_SIZE_1_0)
        return rb_xasprintf("rb_plugin.struct_size is %u bytes, but ABI %d.0 needs at least %zu",
                            (unsigned)def->struct_size, RB_ABI_MAJOR, (size_t)PLUGIN_SIZE_1_0);
    if (!def->name || !*def->name)
        return rb_xasprintf("plugin has no name");
    if (!rb_name_valid(def->name))
        return rb_xasprintf("invalid plugin name \"%s\" (must match [a-z][a-z0-9_]*, at most %d "
                            "characters)",
                            def->name, RB_NAME_MAX);
    if (def->n_actions == 0)
        return NULL;
    if (!def->actions)
        return rb_xasprintf("declares %zu actions but no action table", def->n_actions);
    if (def->n_actions > MAX_ACTIONS)
        return rb_xasprintf("declares %zu actions (at most %d)", def->n_actions, MAX_ACTIONS);
    if (def->action_size < ACTION_SIZE_1_0)
        return rb_xasprintf("action_size is %zu bytes, but ABI %d.0 needs at least %zu",
                            def->action_size, RB_ABI_MAJOR, (size_t)ACTION_SIZE_1_0);
    for (size_t i = 0; i < def->n_actions; i++) {
        char *why = check_action(def, i);
        if (why)
            return why;
    }
    return NULL;
}
