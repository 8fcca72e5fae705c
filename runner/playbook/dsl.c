/* The playbook DSL: playbook{}, step "name" {}, plugin "name", expect, fail.
 * Everything here runs while the top-level chunk declares the playbook,
 * except plugin action calls, which run inside steps. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/values.h"
#include "playbook/sandbox.h"

static const char *const step_fields[] = {"needs", "effect", "run", "verify", "when",
                                          "retry", "timeout", "always", "description", NULL};

static int check_known_fields(lua_State *L, int idx, const char *what, const char *const *known)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "%s: field names must be strings", what);
        const char *k = lua_tostring(L, -1);
        int ok = 0;
        for (const char *const *f = known; *f; f++)
            ok |= strcmp(*f, k) == 0;
        if (!ok) {
            rb_buf b = {0};
            for (const char *const *f = known; *f; f++)
                rb_buf_printf(&b, "%s%s", f == known ? "" : ", ", *f);
            lua_pushfstring(L, "%s: unknown field \"%s\" (expected one of: %s)", what, k, b.p);
            rb_buf_free(&b);
            luaL_where(L, 1);
            lua_insert(L, -2);
            lua_concat(L, 2);
            return lua_error(L);
        }
    }
    return 0;
}

static char *opt_string_field(lua_State *L, int idx, const char *field, const char *what)
{
    lua_getfield(L, idx, field);
    char *r = NULL;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: \"%s\" must be a string", what, field);
        r = rb_xstrdup(lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    return r;
}

static int opt_function_ref(lua_State *L, int idx, const char *field, const char *what)
{
    lua_getfield(L, idx, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return LUA_NOREF;
    }
    if (!lua_isfunction(L, -1))
        luaL_error(L, "%s: \"%s\" must be a function", what, field);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* playbook { name = "...", description = "...", params = { p = "string?" } } */
static int dsl_playbook(lua_State *L)
{
    rb_lua_env *env = rb_lua_env_of(L);
    rb_playbook *pb = env->pb;
    if (!env->loading)
        return luaL_error(L, "playbook{} can only be used at the top level of the playbook");
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const fields[] = {"name", "description", "params", NULL};
    check_known_fields(L, 1, "playbook", fields);
    if (pb->name)
        return luaL_error(L, "playbook{} may appear only once");
    pb->name = opt_string_field(L, 1, "name", "playbook");
    if (!pb->name || !*pb->name)
        return luaL_error(L, "playbook: \"name\" is required");
    pb->description = opt_string_field(L, 1, "description", "playbook");
    lua_getfield(L, 1, "params");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            return luaL_error(L, "playbook: \"params\" must be a table of name = \"type\"");
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "playbook: each param must be name = \"type\" "
                                     "(string, int, number, bool; ? suffix = optional)");
            const char *t = lua_tostring(L, -1);
            size_t tl = strlen(t);
            size_t base = tl && t[tl - 1] == '?' ? tl - 1 : tl;
            static const char *const types[] = {"string", "int", "number", "bool", NULL};
            int ok = 0;
            for (const char *const *ty = types; *ty; ty++)
                ok |= strlen(*ty) == base && strncmp(*ty, t, base) == 0;
            if (!ok)
                return luaL_error(L, "playbook: param \"%s\" has unknown type \"%s\" (string, "
                                     "int, number, bool; ? suffix = optional)",
                                  lua_tostring(L, -2), t);
            rbv_map_set(pb->param_spec, lua_tostring(L, -2), rbv_string(t));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return 0;
}

static rb_effect parse_effect(lua_State *L, const char *what, const char *s)
{
    if (strcmp(s, "read") == 0)
        return RB_EFFECT_READ;
    if (strcmp(s, "write") == 0)
        return RB_EFFECT_WRITE;
    if (strcmp(s, "destructive") == 0)
        return RB_EFFECT_DESTRUCTIVE;
    luaL_error(L, "%s: effect must be \"read\", \"write\" or \"destructive\", not \"%s\"", what, s);
    return RB_EFFECT_READ;
}

static void parse_needs(lua_State *L, int idx, rb_step *st, const char *what)
{
    lua_getfield(L, idx, "needs");
    if (lua_type(L, -1) == LUA_TSTRING) {
        st->needs = rb_xmalloc(sizeof *st->needs);
        st->needs[0] = rb_xstrdup(lua_tostring(L, -1));
        st->n_needs = 1;
    } else if (lua_istable(L, -1)) {
        size_t n = lua_rawlen(L, -1);
        st->needs = rb_xcalloc(n + 1, sizeof *st->needs);
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i);
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "%s: \"needs\" must list step names (strings)", what);
            st->needs[st->n_needs++] = rb_xstrdup(lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "%s: \"needs\" must be a step name or a list of step names", what);
    }
    lua_pop(L, 1);
}

static void parse_retry(lua_State *L, int idx, rb_step *st, const char *what)
{
    st->retry_attempts = 1;
    st->retry_backoff_s = 1.0;
    lua_getfield(L, idx, "retry");
    if (lua_isinteger(L, -1)) {
        lua_Integer v = lua_tointeger(L, -1);
        if (v < 1 || v > 100)
            luaL_error(L, "%s: retry attempts must be between 1 and 100", what);
        st->retry_attempts = (int)v;
    } else if (lua_istable(L, -1)) {
        static const char *const fields[] = {"attempts", "backoff", NULL};
        char *sub = rb_xasprintf("%s.retry", what);
        lua_pushstring(L, sub);
        free(sub);
        check_known_fields(L, lua_gettop(L) - 1, lua_tostring(L, -1), fields);
        lua_pop(L, 1);
        lua_getfield(L, -1, "attempts");
        if (!lua_isnil(L, -1)) {
            if (!lua_isinteger(L, -1))
                luaL_error(L, "%s: retry.attempts must be an integer", what);
            lua_Integer v = lua_tointeger(L, -1);
            if (v < 1 || v > 100)
                luaL_error(L, "%s: retry attempts must be between 1 and 100", what);
            st->retry_attempts = (int)v;
        }
        lua_pop(L, 1);
        lua_getfield(L, -1, "backoff");
        if (!lua_isnil(L, -1)) {
            if (!lua_isnumber(L, -1))
                luaL_error(L, "%s: retry.backoff must be a number of seconds", what);
            st->retry_backoff_s = lua_tonumber(L, -1);
        }
        lua_pop(L, 1);
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "%s: \"retry\" must be a whole number of attempts or "
                      "{ attempts = N, backoff = seconds }",
                   what);
    }
    lua_pop(L, 1);
    if (st->retry_attempts < 1 || st->retry_attempts > 100)
        luaL_error(L, "%s: retry attempts must be between 1 and 100", what);
    if (st->retry_backoff_s < 0 || st->retry_backoff_s > 3600)
        luaL_error(L, "%s: retry backoff must be between 0 and 3600 seconds", what);
}

/* step "name" { ... }: the second call, with the definition table. */
static int dsl_step_define(lua_State *L)
{
    rb_lua_env *env = rb_lua_env_of(L);
    rb_playbook *pb = env->pb;
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    if (!env->loading)
        return luaL_error(L, "steps can only be declared at the top level of the playbook, "
                             "not while it runs");
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushfstring(L, "step \"%s\"", name);
    const char *what = lua_tostring(L, -1);
    int what_idx = lua_gettop(L);
    check_known_fields(L, 1, what, step_fields);

    rb_step st;
    memset(&st, 0, sizeof st);
    st.run_ref = st.verify_ref = st.when_ref = LUA_NOREF;

    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar)) {
        /* ar.source, not short_src: Lua shortens long paths with "..." */
        st.file = rb_xstrdup(ar.source[0] == '@' ? ar.source + 1 : ar.short_src);
        st.line = ar.currentline;
    } else {
        st.file = rb_xstrdup(pb->path);
    }
    /* From here on errors must not leak st: collect everything with Lua
     * errors raised only before allocation-heavy parts... simplest is to
     * append the step first and let rb_playbook_free reclaim it. */
    pb->steps = rb_xrealloc(pb->steps, (pb->n_steps + 1) * sizeof *pb->steps);
    rb_step *s = &pb->steps[pb->n_steps++];
    *s = st;
    s->name = rb_xstrdup(name);
    s->retry_attempts = 1;

    s->description = opt_string_field(L, 1, "description", what);
    char *eff = opt_string_field(L, 1, "effect", what);
    if (eff) {
        lua_pushstring(L, eff);
        free(eff);
        s->effect = parse_effect(L, what, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    parse_needs(L, 1, s, what);
    parse_retry(L, 1, s, what);
    lua_getfield(L, 1, "timeout");
    if (!lua_isnil(L, -1)) {
        if (!lua_isnumber(L, -1) || lua_tonumber(L, -1) <= 0)
            luaL_error(L, "%s: \"timeout\" must be a positive number of seconds", what);
        s->timeout_s = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "always");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
        luaL_error(L, "%s: \"always\" must be true or false", what);
    s->always = lua_toboolean(L, -1);
    lua_pop(L, 1);
    s->run_ref = opt_function_ref(L, 1, "run", what);
    s->verify_ref = opt_function_ref(L, 1, "verify", what);
    s->when_ref = opt_function_ref(L, 1, "when", what);
    if (s->run_ref == LUA_NOREF)
        luaL_error(L, "%s: \"run\" (a function) is required", what);
    lua_settop(L, what_idx - 1);
    return 0;
}

static int dsl_step(lua_State *L)
{
    /* The graph is fixed before anything runs: no steps from inside steps. */
    if (!rb_lua_env_of(L)->loading)
        return luaL_error(L, "steps can only be declared at the top level of the playbook, "
                             "not while it runs");
    const char *name = luaL_checkstring(L, 1);
    if (!*name)
        return luaL_error(L, "step names must not be empty");
    for (const char *c = name; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == '"')
            return luaL_error(L, "step name \"%s\" contains a control character or quote", name);
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, dsl_step_define, 1);
    return 1;
}

/* --- plugin "name" ------------------------------------------------------ */

static int action_finish(lua_State *L, int status, lua_KContext kctx);

const char rb_plugin_yield_marker = 0;

static int raise_owned(lua_State *L, char *msg)
{
    luaL_where(L, 1);
    lua_pushstring(L, msg ? msg : "unknown error");
    free(msg);
    lua_concat(L, 2);
    return lua_error(L);
}

static int action_call(lua_State *L)
{
    rb_lua_env *env = rb_lua_env_of(L);
    const rb_loaded_plugin *p = lua_touserdata(L, lua_upvalueindex(1));
    const rb_action *a = lua_touserdata(L, lua_upvalueindex(2));
    if (!env->in_step || !env->have_hooks)
        return luaL_error(L, "%s.%s: plugin actions can only be called from a step's run or "
                             "verify function", p->def->name, a->name);
    /* The call yields to the scheduler; from a coroutine of the playbook's
     * own, that yield would land in the playbook instead. */
    if (L != env->step_thread)
        return luaL_error(L, "%s.%s: plugin actions cannot be called from inside a coroutine",
                          p->def->name, a->name);
    if (lua_gettop(L) > 1 || (!lua_isnoneornil(L, 1) && !lua_istable(L, 1)))
        return luaL_error(L, "%s.%s: call it with one table of arguments, e.g. %s.%s { ... }",
                          p->def->name, a->name, p->def->name, a->name);
    rb_value *raw = NULL;
    if (lua_istable(L, 1)) {
        char *err = NULL;
        raw = rb_lua_to_value(L, 1, &err);
        if (!raw)
            return raise_owned(L, rb_xasprintf("%s.%s: %s", p->def->name, a->name, err));
    }
    char msg[512];
    rb_value *args = rb_validate_args(p, a, raw, msg, sizeof msg);
    rbv_free(raw);
    if (!args)
        return luaL_error(L, "%s", msg);
    rb_value *out = NULL;
    char *err = NULL;
    switch (env->hooks.call(env->hooks.data, p, a, args, &out, &err)) {
    case RB_CALL_DONE:
        rb_lua_push_value(L, out);
        rbv_free(out);
        return 1;
    case RB_CALL_ERROR:
        return raise_owned(L, err);
    case RB_CALL_PENDING:
        break;
    }
    /* The marker tells the step runner this yield is ours (a plugin call
     * in flight), not a stray coroutine.yield() in the step. */
    lua_pushlightuserdata(L, (void *)&rb_plugin_yield_marker);
    return lua_yieldk(L, 1, 0, action_finish);
}

static int action_finish(lua_State *L, int status, lua_KContext kctx)
{
    (void)status;
    (void)kctx;
    rb_lua_env *env = rb_lua_env_of(L);
    rb_value *out = NULL;
    char *err = NULL;
    if (env->hooks.take_result(env->hooks.data, &out, &err) != 0)
        return raise_owned(L, err);
    rb_lua_push_value(L, out);
    rbv_free(out);
    return 1;
}

static int plugin_unknown_action(lua_State *L)
{
    const rb_loaded_plugin *p = lua_touserdata(L, lua_upvalueindex(1));
    const char *name = lua_tostring(L, 2);
    rb_buf b = {0};
    for (size_t i = 0; i < p->def->n_actions; i++)
        rb_buf_printf(&b, "%s%s", i ? ", " : "", rb_plugin_action_at(p, i)->name);
    lua_pushfstring(L, "plugin \"%s\" has no action \"%s\" (actions: %s)", p->def->name,
                    name ? name : "?", b.p ? b.p : "none");
    rb_buf_free(&b);
    luaL_where(L, 1);
    lua_insert(L, -2);
    lua_concat(L, 2);
    return lua_error(L);
}

static int dsl_plugin(lua_State *L)
{
    rb_lua_env *env = rb_lua_env_of(L);
    const char *name = luaL_checkstring(L, 1);
    const rb_loaded_plugin *p = rb_registry_find(env->registry, name);
    if (!p) {
        const rb_refusal *r = rb_registry_refusal_for(env->registry, name);
        if (r)
            return luaL_error(L, "plugin \"%s\" is not available: %s was refused: %s", name,
                              r->path, r->reason);
        return luaL_error(L, "plugin \"%s\" not found in the plugin path (see `rebound plugins "
                             "list`)", name);
    }
    rb_playbook *pb = env->pb;
    int seen = 0;
    for (size_t i = 0; i < pb->n_plugins; i++)
        seen |= strcmp(pb->plugins[i], name) == 0;
    if (!seen) {
        pb->plugins = rb_xrealloc(pb->plugins, (pb->n_plugins + 1) * sizeof *pb->plugins);
        pb->plugins[pb->n_plugins++] = rb_xstrdup(name);
    }
    lua_createtable(L, 0, (int)p->def->n_actions);
    for (size_t i = 0; i < p->def->n_actions; i++) {
        const rb_action *a = rb_plugin_action_at(p, i);
        lua_pushlightuserdata(L, (void *)p);
        lua_pushlightuserdata(L, (void *)a);
        lua_pushcclosure(L, action_call, 2);
        lua_setfield(L, -2, a->name);
    }
    lua_createtable(L, 0, 1);
    lua_pushlightuserdata(L, (void *)p);
    lua_pushcclosure(L, plugin_unknown_action, 1);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    return 1;
}

/* expect(cond, message): a failed verification. */
static int dsl_expect(lua_State *L)
{
    if (lua_toboolean(L, 1))
        return 0;
    const char *msg = luaL_optstring(L, 2, "expectation failed");
    return luaL_error(L, "verification failed: %s", msg);
}

static int dsl_fail(lua_State *L)
{
    return luaL_error(L, "%s", luaL_optstring(L, 1, "step failed"));
}

void rb_dsl_open(lua_State *L)
{
    lua_register(L, "playbook", dsl_playbook);
    lua_register(L, "step", dsl_step);
    lua_register(L, "plugin", dsl_plugin);
    lua_register(L, "expect", dsl_expect);
    lua_register(L, "fail", dsl_fail);
}
