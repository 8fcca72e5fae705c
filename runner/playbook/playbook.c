/* Loading a playbook and running pieces of it (step bodies, `when`). */
#include "playbook/playbook.h"

#include <errno.h>
#include <math.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/values.h"
#include "playbook/sandbox.h"

/* run(ctx) then verify(out, ctx): written in Lua so a plugin call deep in
 * either can yield through it. */
static const char step_wrapper[] =
    "return function(run, verify, ctx, do_verify)\n"
    "  local out = run(ctx)\n"
    "  if out ~= nil and type(out) ~= 'table' then\n"
    "    return false, type(out)\n"
    "  end\n"
    "  if do_verify and verify then verify(out, ctx) end\n"
    "  return true, out\n"
    "end\n";

/* ctx.params, ctx.estate, ctx.target... are shared by every step, so they
 * are built once and frozen: a step cannot change what another one sees. */
/* ctx.params, ctx.estate, ctx.target... are shared by every step, so they
 * are built once and frozen: a step cannot change what another one sees.
 * The globals it uses are captured now, before the playbook runs, so a
 * playbook cannot undo the freezing by redefining them. The table of
 * genuine proxies (proxy -> original) is returned too: only those are
 * looked through when values are converted. */
static const char freeze_source[] =
    "local type, setmetatable, error, tostring, rawnext = type, setmetatable, error, tostring, next\n"
    "local originals = setmetatable({}, { __mode = 'k' })\n"
    "local function freeze(t, seen)\n"
    "  if type(t) ~= 'table' then return t end\n"
    "  if seen[t] then return seen[t] end\n"
    "  local proxy = {}\n"
    "  seen[t] = proxy\n"
    "  originals[proxy] = t\n"
    "  for k, v in rawnext, t do t[k] = freeze(v, seen) end\n"
    "  local function iter(_, k) return rawnext(t, k) end\n"
    "  return setmetatable(proxy, {\n"
    "    __index = t,\n"
    "    __newindex = function(_, k) error('ctx values are read-only (tried to set ' .. tostring(k) .. ')', 2) end,\n"
    "    __len = function() return #t end,\n"
    "    __pairs = function() return iter, proxy, nil end,\n"
    "    __metatable = 'read-only',\n"
    "  })\n"
    "end\n"
    "-- next() on a read-only proxy walks what it stands for\n"
    "next = function(t, k) return rawnext(originals[t] or t, k) end\n"
    "return function(t) return freeze(t, {}) end, originals\n";

static int traceback_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Message of a failed protected call, with the limit errors reworded. */
static char *error_text(rb_lua_env *env, lua_State *L, int rc)
{
    if (rc == LUA_ERRMEM || env->limit_hit == RB_LIMIT_MEMORY) {
        env->limit_hit = RB_LIMIT_MEMORY;
        return rb_xasprintf("playbook exceeded its memory limit (%zu MiB)",
                            env->max_memory / (1024 * 1024));
    }
    const char *m = lua_tostring(L, -1);
    return rb_xstrdup(m ? m : "unknown error");
}

static char *dirname_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return rb_xstrdup(".");
    if (slash == path)
        return rb_xstrdup("/");
    return rb_xstrndup(path, (size_t)(slash - path));
}

rb_playbook *rb_playbook_load(const char *path, const rb_registry *registry,
                              const rb_limits *limits, char **err)
{
    *err = NULL;
    rb_playbook *pb = rb_xcalloc(1, sizeof *pb);
    rb_lua_env *env = rb_xcalloc(1, sizeof *env);
    pb->env = env;
    pb->path = rb_xstrdup(path);
    pb->dir = dirname_of(path);
    pb->param_spec = rbv_map();
    env->dir = pb->dir;
    env->registry = registry;
    env->pb = pb;
    env->wrapper_ref = LUA_NOREF;
    env->freeze_ref = LUA_NOREF;
    env->main = NULL;
    env->base_ref = LUA_NOREF;
    if (limits) {
        env->max_memory = limits->max_memory;
        env->max_instructions = limits->max_instructions;
    }
    FILE *probe = fopen(path, "r");
    if (!probe) {
        *err = rb_xasprintf("%s: cannot open playbook: %s", path, strerror(errno));
        rb_playbook_free(pb);
        return NULL;
    }
    fclose(probe);

    pb->L = rb_lua_sandbox_new(env);
    if (!pb->L) {
        *err = rb_xstrdup("cannot create a Lua state");
        rb_playbook_free(pb);
        return NULL;
    }
    lua_State *L = pb->L;
    env->main = L;
    rb_dsl_open(L);

    if (luaL_loadbufferx(L, step_wrapper, sizeof step_wrapper - 1, "=rebound", "t") != LUA_OK ||
        lua_pcall(L, 0, 1, 0) != LUA_OK) {
        *err = rb_xasprintf("internal error: %s", lua_tostring(L, -1));
        rb_playbook_free(pb);
        return NULL;
    }
    env->wrapper_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (luaL_loadbufferx(L, freeze_source, sizeof freeze_source - 1, "=rebound", "t") != LUA_OK ||
        lua_pcall(L, 0, 2, 0) != LUA_OK) {
        *err = rb_xasprintf("internal error: %s", lua_tostring(L, -1));
        rb_playbook_free(pb);
        return NULL;
    }
    lua_setfield(L, LUA_REGISTRYINDEX, RB_FROZEN_PROXIES);
    env->freeze_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    env->base_ref = LUA_NOREF;

    rb_lua_env_enter(env);
    lua_pushcfunction(L, traceback_handler);
    int rc = luaL_loadfilex(L, path, "t");
    env->loading = 1;
    if (rc == LUA_OK)
        rc = lua_pcall(L, 0, 0, -2);
    env->loading = 0;
    if (rc != LUA_OK) {
        *err = error_text(env, L, rc);
        lua_settop(L, 0);
        rb_playbook_free(pb);
        return NULL;
    }
    lua_settop(L, 0);
    if (!pb->name) {
        *err = rb_xasprintf("%s: the playbook does not declare itself: add playbook { name = "
                            "\"...\" } at the top",
                            path);
        rb_playbook_free(pb);
        return NULL;
    }
    if (pb->n_steps == 0) {
        *err = rb_xasprintf("%s: the playbook declares no steps", path);
        rb_playbook_free(pb);
        return NULL;
    }
    return pb;
}

void rb_playbook_free(rb_playbook *pb)
{
    if (!pb)
        return;
    if (pb->L)
        lua_close(pb->L);
    for (size_t i = 0; i < pb->n_steps; i++) {
        rb_step *s = &pb->steps[i];
        free(s->name);
        free(s->description);
        for (size_t k = 0; k < s->n_needs; k++)
            free(s->needs[k]);
        free(s->needs);
        free(s->file);
    }
    free(pb->steps);
    for (size_t i = 0; i < pb->n_plugins; i++)
        free(pb->plugins[i]);
    free(pb->plugins);
    rbv_free(pb->param_spec);
    free(pb->path);
    free(pb->dir);
    free(pb->name);
    free(pb->description);
    free(pb->env);
    free(pb);
}

void rb_playbook_set_hooks(rb_playbook *pb, const rb_call_hooks *hooks)
{
    pb->env->hooks = *hooks;
    pb->env->have_hooks = 1;
}

void rb_playbook_set_deadline(rb_playbook *pb, double deadline, double timeout_s)
{
    pb->env->deadline = deadline;
    pb->env->timeout_s = timeout_s;
    pb->env->timed_out = 0;
}

int rb_playbook_limit_hit(const rb_playbook *pb)
{
    return pb->env->limit_hit != RB_LIMIT_NONE;
}

/* --- params -------------------------------------------------------------- */

static rb_value *typed_param(const char *name, const char *type, const rb_value *raw, char **err)
{
    if (rbv_type(raw) != RB_VSTRING)
        return rbv_copy(raw);
    const char *s = rbv_as_string(raw);
    char *end = NULL;
    if (strncmp(type, "int", 3) == 0) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (!*s || *end || errno) {
            *err = rb_xasprintf("parameter \"%s\" must be an integer, got \"%s\"", name, s);
            return NULL;
        }
        return rbv_int(v);
    }
    if (strncmp(type, "number", 6) == 0) {
        errno = 0;
        double v = strtod(s, &end);
        if (!*s || *end || errno || !isfinite(v)) {
            *err = rb_xasprintf("parameter \"%s\" must be a number, got \"%s\"", name, s);
            return NULL;
        }
        return rbv_double(v);
    }
    if (strncmp(type, "bool", 4) == 0) {
        if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "1") == 0)
            return rbv_bool(1);
        if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "0") == 0)
            return rbv_bool(0);
        *err = rb_xasprintf("parameter \"%s\" must be true or false, got \"%s\"", name, s);
        return NULL;
    }
    return rbv_copy(raw);
}

rb_value *rb_playbook_check_params(const rb_playbook *pb, const rb_value *raw, char **err)
{
    *err = NULL;
    rb_value *out = rbv_map();
    for (size_t i = 0; i < rbv_len(raw); i++) {
        const char *k = rbv_map_key_at(raw, i);
        const char *type = rbv_map_get_string(pb->param_spec, k, NULL);
        if (!type) {
            rb_buf b = {0};
            for (size_t j = 0; j < rbv_len(pb->param_spec); j++)
                rb_buf_printf(&b, "%s%s", j ? ", " : "", rbv_map_key_at(pb->param_spec, j));
            *err = rb_xasprintf("unknown parameter \"%s\" (playbook %s accepts: %s)", k,
                                pb->name, b.p ? b.p : "no parameters");
            rb_buf_free(&b);
            rbv_free(out);
            return NULL;
        }
        rb_value *v = typed_param(k, type, rbv_map_value_at(raw, i), err);
        if (!v) {
            rbv_free(out);
            return NULL;
        }
        rbv_map_set(out, k, v);
    }
    for (size_t j = 0; j < rbv_len(pb->param_spec); j++) {
        const char *k = rbv_map_key_at(pb->param_spec, j);
        const char *type = rbv_as_string(rbv_map_value_at(pb->param_spec, j));
        if (type[strlen(type) - 1] != '?' && !rbv_map_get(out, k)) {
            *err = rb_xasprintf("missing required parameter \"%s\" (%s): pass --param %s=...",
                                k, type, k);
            rbv_free(out);
            return NULL;
        }
    }
    return out;
}

/* --- step bodies ---------------------------------------------------------- */

int rb_playbook_set_base_ctx(rb_playbook *pb, const rb_value *base, char **err)
{
    lua_State *L = pb->L;
    *err = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, pb->env->base_ref);
    pb->env->base_ref = LUA_NOREF;
    if (rbv_type(base) != RB_VMAP) {
        *err = rb_xstrdup("the base ctx must be a map");
        return -1;
    }
    /* Keep the top level an ordinary table (steps copy it) and freeze the
     * values below it. */
    lua_createtable(L, 0, (int)rbv_len(base));
    for (size_t i = 0; i < rbv_len(base); i++) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, pb->env->freeze_ref);
        rb_lua_push_value(L, rbv_map_value_at(base, i));
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
            *err = rb_xstrdup(lua_tostring(L, -1));
            lua_settop(L, 0);
            return -1;
        }
        lua_setfield(L, -2, rbv_map_key_at(base, i));
    }
    pb->env->base_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Pushes the step's ctx: the frozen base fields plus the step's own. */
static void push_step_ctx(rb_playbook *pb, lua_State *co, const rb_value *extra,
                          const rb_named_value *outputs, size_t n_outputs)
{
    lua_createtable(co, 0, 12);
    if (pb->env->base_ref != LUA_NOREF) {
        lua_rawgeti(co, LUA_REGISTRYINDEX, pb->env->base_ref);
        lua_pushnil(co);
        while (lua_next(co, -2)) {
            lua_pushvalue(co, -2);
            lua_insert(co, -2);
            lua_rawset(co, -5);
        }
        lua_pop(co, 1);
    }
    for (size_t i = 0; i < rbv_len(extra); i++) {
        rb_lua_push_value(co, rbv_map_value_at(extra, i));
        lua_setfield(co, -2, rbv_map_key_at(extra, i));
    }
    lua_createtable(co, 0, (int)n_outputs);
    for (size_t i = 0; i < n_outputs; i++) {
        if (outputs[i].value)
            rb_lua_push_value(co, outputs[i].value);
        else
            lua_newtable(co);
        lua_setfield(co, -2, outputs[i].name);
    }
    lua_setfield(co, -2, "outputs");
}

lua_State *rb_step_thread_start(rb_playbook *pb, const rb_step *step, const rb_value *ctx,
                                const rb_named_value *outputs, size_t n_outputs,
                                int do_verify, int *anchor_ref)
{
    lua_State *L = pb->L;
    lua_State *co = lua_newthread(L);
    *anchor_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    pb->current_step = step;
    pb->env->limit_hit = RB_LIMIT_NONE; /* a new attempt */
    lua_rawgeti(co, LUA_REGISTRYINDEX, pb->env->wrapper_ref);
    lua_rawgeti(co, LUA_REGISTRYINDEX, step->run_ref);
    if (step->verify_ref != LUA_NOREF)
        lua_rawgeti(co, LUA_REGISTRYINDEX, step->verify_ref);
    else
        lua_pushnil(co);
    push_step_ctx(pb, co, ctx, outputs, n_outputs);
    lua_pushboolean(co, do_verify);
    return co;
}

int rb_step_thread_resume(rb_playbook *pb, lua_State *co, rb_value **out, char **err)
{
    rb_lua_env *env = pb->env;
    *out = NULL;
    *err = NULL;
    int nargs = lua_status(co) == LUA_OK ? lua_gettop(co) - 1 : 0;
    int nres = 0;
    env->in_step = 1;
    env->step_thread = co;
    rb_lua_env_enter(env);
    int rc = lua_resume(co, pb->L, nargs, &nres);
    env->in_step = 0;
    env->step_thread = NULL;
    /* A limit the step caught (pcall, a nested coroutine) still ends it:
     * limits are sticky for the whole attempt. */
    if ((rc == LUA_OK || rc == LUA_YIELD) && (env->limit_hit != RB_LIMIT_NONE || env->timed_out)) {
        lua_pop(co, nres);
        const rb_step *st = pb->current_step;
        char msg[200];
        if (env->limit_hit == RB_LIMIT_MEMORY)
            snprintf(msg, sizeof msg, "playbook exceeded its memory limit (%zu MiB)",
                     env->max_memory / (1024 * 1024));
        else if (env->limit_hit == RB_LIMIT_INSTRUCTIONS)
            snprintf(msg, sizeof msg, "playbook exceeded its instruction limit (%lld "
                     "instructions in one go; an endless loop?)", env->max_instructions);
        else
            snprintf(msg, sizeof msg, "timed out after %gs (in the step's Lua code)",
                     env->timeout_s);
        *err = rb_xasprintf("%s:%d: %s", st ? st->file : pb->path, st ? st->line : 0, msg);
        return LUA_ERRRUN;
    }
    if (rc == LUA_YIELD) {
        int ours = nres == 1 && lua_touserdata(co, -1) == (void *)&rb_plugin_yield_marker;
        lua_pop(co, nres);
        if (ours)
            return LUA_YIELD;
        const rb_step *st = pb->current_step;
        *err = rb_xasprintf("%s:%d: step \"%s\" yielded (coroutine.yield) outside a coroutine "
                            "of its own; steps may only wait on plugin calls",
                            st ? st->file : pb->path, st ? st->line : 0, st ? st->name : "?");
        return LUA_ERRRUN;
    }
    if (rc != LUA_OK) {
        char *msg = error_text(env, co, rc);
        if (env->limit_hit == RB_LIMIT_MEMORY) {
            /* No traceback (no memory for one): name the step instead. */
            const rb_step *st = pb->current_step;
            *err = st ? rb_xasprintf("%s:%d: %s", st->file, st->line, msg) : rb_xstrdup(msg);
            free(msg);
        } else {
            luaL_traceback(pb->L, co, msg, 0);
            *err = rb_xstrdup(lua_tostring(pb->L, -1));
            lua_pop(pb->L, 1);
            free(msg);
        }
        return rc;
    }
    const rb_step *st = pb->current_step;
    if (nres == 2 && !lua_toboolean(co, -2)) {
        *err = rb_xasprintf("%s:%d: step \"%s\": run must return a table of outputs or nil, "
                            "not a %s",
                            st ? st->file : pb->path, st ? st->line : 0, st ? st->name : "?",
                            lua_tostring(co, -1));
        lua_pop(co, nres);
        return LUA_ERRRUN;
    }
    if (nres == 2 && !lua_isnil(co, -1)) {
        char *cerr = NULL;
        *out = rb_lua_to_value(co, -1, &cerr);
        if (!*out) {
            *err = rb_xasprintf("%s:%d: step \"%s\" outputs: %s", st ? st->file : pb->path,
                                st ? st->line : 0, st ? st->name : "?", cerr);
            free(cerr);
            lua_pop(co, nres);
            return LUA_ERRRUN;
        }
    }
    lua_pop(co, nres);
    return LUA_OK;
}

void rb_step_thread_end(rb_playbook *pb, int anchor_ref)
{
    luaL_unref(pb->L, LUA_REGISTRYINDEX, anchor_ref);
}

int rb_step_eval_when(rb_playbook *pb, const rb_step *step, const rb_value *ctx,
                      const rb_named_value *outputs, size_t n_outputs, char **err)
{
    *err = NULL;
    if (step->when_ref == LUA_NOREF)
        return 1;
    lua_State *L = pb->L;
    rb_lua_env *env = pb->env;
    env->limit_hit = RB_LIMIT_NONE;
    rb_lua_env_enter(env);
    lua_pushcfunction(L, traceback_handler);
    lua_rawgeti(L, LUA_REGISTRYINDEX, step->when_ref);
    push_step_ctx(pb, L, ctx, outputs, n_outputs);
    int rc = lua_pcall(L, 1, 1, -3);
    if (rc == LUA_OK && env->limit_hit != RB_LIMIT_NONE) {
        lua_settop(L, 0);
        *err = rb_xstrdup(env->limit_hit == RB_LIMIT_MEMORY
                              ? "playbook exceeded its memory limit"
                              : "playbook exceeded its instruction limit");
        return -1;
    }
    if (rc != LUA_OK) {
        *err = error_text(env, L, rc);
        lua_settop(L, 0);
        return -1;
    }
    int r = lua_toboolean(L, -1);
    lua_settop(L, 0);
    return r;
}
