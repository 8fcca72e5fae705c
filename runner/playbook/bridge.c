/* Conversions between Lua values and rb_value. Lua strings that are valid
 * UTF-8 become strings, others bytes; a table whose keys are exactly 1..n
 * becomes a list, one with string keys a map; an empty table becomes an
 * empty map. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/values.h"
#include "playbook/playbook.h"
#include "playbook/sandbox.h"

#define MAX_DEPTH 64

void rb_lua_push_value(lua_State *L, const rb_value *v)
{
    if (!lua_checkstack(L, 4)) { /* deeper than Lua's stack allows: cut, never panic */
        lua_pushnil(L);
        return;
    }
    switch (rbv_type(v)) {
    case RB_VNULL: lua_pushnil(L); break;
    case RB_VBOOL: lua_pushboolean(L, rbv_as_bool(v)); break;
    case RB_VINT: lua_pushinteger(L, (lua_Integer)rbv_as_int(v)); break;
    case RB_VDOUBLE: lua_pushnumber(L, rbv_as_double(v)); break;
    case RB_VSTRING:
    case RB_VBYTES: {
        size_t n;
        const void *p = rbv_as_bytes(v, &n);
        lua_pushlstring(L, p, n);
        break;
    }
    case RB_VLIST: {
        size_t n = rbv_len(v);
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            rb_lua_push_value(L, rbv_list_get(v, i));
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case RB_VMAP: {
        size_t n = rbv_len(v);
        lua_createtable(L, 0, (int)n);
        for (size_t i = 0; i < n; i++) {
            rb_lua_push_value(L, rbv_map_value_at(v, i));
            lua_setfield(L, -2, rbv_map_key_at(v, i));
        }
        break;
    }
    }
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n)
            return 0;
        unsigned long cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const unsigned long min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static rb_value *convert(lua_State *L, int idx, int depth, char **err);

static rb_value *convert_table(lua_State *L, int idx, int depth, char **err)
{
    if (!lua_checkstack(L, 8)) {
        *err = rb_xstrdup("table nesting is too deep");
        return NULL;
    }
    /* A read-only proxy of the shared ctx: convert what it stands for.
     * Only genuine proxies (raw lookups, nothing a playbook can fake). */
    lua_getfield(L, LUA_REGISTRYINDEX, RB_FROZEN_PROXIES);
    if (lua_istable(L, -1)) {
        lua_pushvalue(L, idx);
        lua_rawget(L, -2);
        if (lua_istable(L, -1)) {
            rb_value *v = convert_table(L, lua_gettop(L), depth + 1, err);
            lua_pop(L, 2);
            return v;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    size_t n = lua_rawlen(L, idx);
    size_t count = 0, in_range = 0;
    int all_strings = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (lua_type(L, -1) != LUA_TSTRING)
            all_strings = 0;
        if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 &&
            (lua_Unsigned)lua_tointeger(L, -1) <= n)
            in_range++;
    }
    if (count == 0)
        return rbv_map();
    /* A list only when every key is an integer 1..n with no holes. */
    if (n == count && in_range == count) {
        rb_value *list = rbv_list();
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i);
            rb_value *item = convert(L, lua_gettop(L), depth + 1, err);
            lua_pop(L, 1);
            if (!item) {
                rbv_free(list);
                return NULL;
            }
            rbv_list_append(list, item);
        }
        return list;
    }
    if (!all_strings) {
        *err = rb_xstrdup("tables must be lists (keys 1..n) or maps (string keys), not both");
        return NULL;
    }
    rb_value *map = rbv_map();
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        rb_value *item = convert(L, lua_gettop(L), depth + 1, err);
        lua_pop(L, 1);
        if (!item) {
            lua_pop(L, 1);
            rbv_free(map);
            return NULL;
        }
        rbv_map_set(map, lua_tostring(L, -1), item);
    }
    return map;
}

static rb_value *convert(lua_State *L, int idx, int depth, char **err)
{
    if (depth > MAX_DEPTH || !lua_checkstack(L, 8)) {
        *err = rb_xstrdup("table nesting is too deep (or the table contains itself)");
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return rbv_null();
    case LUA_TBOOLEAN: return rbv_bool(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return rbv_int((int64_t)lua_tointeger(L, idx));
        return rbv_double(lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (valid_utf8((const unsigned char *)s, n) && memchr(s, 0, n) == NULL)
            return rbv_string_n(s, n);
        return rbv_bytes(s, n);
    }
    case LUA_TTABLE: return convert_table(L, idx, depth, err);
    default:
        *err = rb_xasprintf("a %s cannot be passed to or returned from a plugin or step",
                            luaL_typename(L, idx));
        return NULL;
    }
}

rb_value *rb_lua_to_value(lua_State *L, int idx, char **err)
{
    *err = NULL;
    return convert(L, lua_absindex(L, idx), 0, err);
}
