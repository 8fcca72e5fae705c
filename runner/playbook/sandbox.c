/* The Lua sandbox: which libraries a playbook sees, the memory cap, the
 * instruction budget, and require() limited to the playbook's folder. */
#include "playbook/sandbox.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"

static void count_hook(lua_State *L, lua_Debug *ar);

/* The hook fires every HOOK_INTERVAL VM instructions. */
#define HOOK_INTERVAL 10000

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    rb_lua_env *env = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        env->used -= old;
        return NULL;
    }
    if (env->max_memory && nsize > old && env->used - old + nsize > env->max_memory) {
        env->limit_hit = RB_LIMIT_MEMORY;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p)
        env->used = env->used - old + nsize;
    return p;
}

rb_lua_env *rb_lua_env_of(lua_State *L)
{
    return *(rb_lua_env **)lua_getextraspace(L);
}

/* Raises msg at the running Lua code's position and, from then on, at
 * every instruction, so a pcall() that catches it cannot keep the playbook
 * going. */
static void raise_sticky(lua_State *L, lua_Debug *ar, const char *msg)
{
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    char where[300] = "";
    if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
        snprintf(where, sizeof where, "%s:%d: ", ar->short_src, ar->currentline);
    lua_pushfstring(L, "%s%s", where, msg);
    lua_error(L);
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    rb_lua_env *env = rb_lua_env_of(L);
    env->count += HOOK_INTERVAL;
    char msg[200];
    if (env->limit_hit == RB_LIMIT_MEMORY) {
        /* The allocator refused; if a pcall swallowed that, stop here. */
        snprintf(msg, sizeof msg, "playbook exceeded its memory limit (%zu MiB)",
                 env->max_memory / (1024 * 1024));
        raise_sticky(L, ar, msg);
    }
    if (env->deadline > 0 && (env->timed_out || rb_mono_s() > env->deadline)) {
        /* A step's timeout also bounds its own Lua code. */
        env->timed_out = 1;
        snprintf(msg, sizeof msg, "timed out after %gs (in the step's Lua code)", env->timeout_s);
        raise_sticky(L, ar, msg);
    }
    if (env->max_instructions > 0 && env->count > env->max_instructions) {
        env->limit_hit = RB_LIMIT_INSTRUCTIONS;
        snprintf(msg, sizeof msg, "playbook exceeded its instruction limit (%lld instructions "
                 "in one go; an endless loop?)", env->max_instructions);
        raise_sticky(L, ar, msg);
    }
}

void rb_lua_env_enter(rb_lua_env *env)
{
    env->count = 0;
    if (env->main)
        lua_sethook(env->main, count_hook, LUA_MASKCOUNT, HOOK_INTERVAL);
}

/* load() for text chunks only: binary chunks could break out of the VM. */
static int sandbox_load(lua_State *L)
{
    int nargs = lua_gettop(L);
    if (nargs >= 3 && !lua_isnil(L, 3)) {
        const char *mode = luaL_checkstring(L, 3);
        if (strchr(mode, 'b'))
            return luaL_error(L, "loading binary chunks is not allowed in playbooks");
    }
    if (lua_type(L, 1) == LUA_TSTRING) {
        const char *s = lua_tostring(L, 1);
        if (s[0] == LUA_SIGNATURE[0])
            return luaL_error(L, "loading binary chunks is not allowed in playbooks");
    }
    /* Forward exactly the arguments given (an explicit nil env would hide
     * the globals), with the mode forced to text. */
    if (nargs < 3)
        lua_settop(L, 3);
    lua_pushstring(L, "t");
    lua_replace(L, 3);
    if (nargs < 2) {
        lua_pushnil(L);
        lua_replace(L, 2);
    }
    lua_pushvalue(L, lua_upvalueindex(1)); /* the original load */
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* require(name) loads <playbook dir>/<name with dots as slashes>.lua. */
static int sandbox_require(lua_State *L)
{
    rb_lua_env *env = rb_lua_env_of(L);
    const char *name = luaL_checkstring(L, 1);
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.' && *c != '-')
            return luaL_error(L, "require \"%s\": module names may use letters, digits, _ - "
                                 "and . only", name);
    if (!*name || name[0] == '.')
        return luaL_error(L, "require \"%s\": invalid module name", name);
    lua_getfield(L, LUA_REGISTRYINDEX, "rebound.modules");
    lua_getfield(L, -1, name);
    if (!lua_isnil(L, -1))
        return 1;
    lua_pop(L, 1);
    char *rel = rb_xstrdup(name);
    for (char *c = rel; *c; c++)
        if (*c == '.')
            *c = '/';
    char *path = rb_xasprintf("%s/%s.lua", env->dir, rel);
    free(rel);
    int rc = luaL_loadfilex(L, path, "t");
    if (rc != LUA_OK) {
        free(path);
        return lua_error(L);
    }
    free(path);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
    return 1;
}

static int sandbox_print(lua_State *L)
{
    rb_buf b = {0};
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1)
            rb_buf_add(&b, "\t", 1);
        rb_buf_add(&b, s, len);
        lua_pop(L, 1);
    }
    lua_Debug ar;
    int line = 0;
    const char *src = "playbook";
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar)) {
        line = ar.currentline;
        src = ar.short_src;
    }
    rb_log(RB_LOG_INFO, "%s:%d: %s", src, line, b.p ? b.p : "");
    rb_buf_free(&b);
    return 0;
}

/* setmetatable without finalizers: Lua runs __gc with hooks off, so a
 * finalizer could loop forever past every limit and timeout. */
static int sandbox_setmetatable(lua_State *L)
{
    if (lua_istable(L, 2)) {
        lua_pushstring(L, "__gc");
        lua_rawget(L, 2);
        int has_gc = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (has_gc)
            return luaL_error(L, "finalizers (__gc) are not allowed in playbooks");
    }
    lua_pushvalue(L, lua_upvalueindex(1)); /* the original setmetatable */
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int sandbox_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "count") == 0) {
        lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT, 0) +
                              (lua_Number)lua_gc(L, LUA_GCCOUNTB, 0) / 1024.0);
        return 1;
    }
    if (strcmp(opt, "collect") == 0 || strcmp(opt, "step") == 0) {
        lua_gc(L, LUA_GCCOLLECT);
        lua_pushinteger(L, 0);
        return 1;
    }
    return luaL_error(L, "collectgarbage(\"%s\") is not allowed in playbooks", opt);
}

static void remove_field(lua_State *L, const char *table, const char *field)
{
    lua_getglobal(L, table);
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        lua_setfield(L, -2, field);
    }
    lua_pop(L, 1);
}

lua_State *rb_lua_sandbox_new(rb_lua_env *env)
{
    lua_State *L = lua_newstate(limited_alloc, env);
    if (!L)
        return NULL;
    *(rb_lua_env **)lua_getextraspace(L) = env;

    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},          {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table},    {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},    {LUA_COLIBNAME, luaopen_coroutine},
        {NULL, NULL}};
    for (const luaL_Reg *lib = libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    /* os: time, clock and date only. */
    luaL_requiref(L, "os.full", luaopen_os, 0);
    lua_newtable(L);
    static const char *const os_keep[] = {"time", "clock", "date", "difftime", NULL};
    for (const char *const *k = os_keep; *k; k++) {
        lua_getfield(L, -2, *k);
        lua_setfield(L, -2, *k);
    }
    lua_setglobal(L, "os");
    lua_pop(L, 1);

    lua_pushnil(L);
    lua_setglobal(L, "dofile");
    lua_pushnil(L);
    lua_setglobal(L, "loadfile");
    /* rawset would write through the read-only proxies of the shared ctx. */
    lua_pushnil(L);
    lua_setglobal(L, "rawset");
    remove_field(L, "string", "dump");

    lua_getglobal(L, "load");
    lua_pushcclosure(L, sandbox_load, 1);
    lua_setglobal(L, "load");
    lua_register(L, "require", sandbox_require);
    lua_register(L, "print", sandbox_print);
    lua_register(L, "collectgarbage", sandbox_collectgarbage);
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, sandbox_setmetatable, 1);
    lua_setglobal(L, "setmetatable");

    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "rebound.modules");

    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_INTERVAL);
    return L;
}
