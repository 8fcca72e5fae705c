/* rb_value: the tagged value that crosses the plugin boundary. */
#include "core/values.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

struct rb_value {
    rb_value_type type;
    union {
        int b;
        int64_t i;
        double d;
        struct {
            char *p;   /* always NUL-terminated, also for bytes */
            size_t n;
        } s;
        struct {
            rb_value **items;
            char **keys; /* maps only */
            size_t n, cap;
        } c;
    } u;
};

static rb_value *new_value(rb_value_type t)
{
    rb_value *v = rb_xcalloc(1, sizeof *v);
    v->type = t;
    return v;
}

rb_value *rbv_null(void) { return new_value(RB_VNULL); }

rb_value *rbv_bool(int b)
{
    rb_value *v = new_value(RB_VBOOL);
    v->u.b = b != 0;
    return v;
}

rb_value *rbv_int(int64_t i)
{
    rb_value *v = new_value(RB_VINT);
    v->u.i = i;
    return v;
}

rb_value *rbv_double(double d)
{
    rb_value *v = new_value(RB_VDOUBLE);
    v->u.d = d;
    return v;
}

static rb_value *new_blob(rb_value_type t, const void *data, size_t len)
{
    rb_value *v = new_value(t);
    v->u.s.p = rb_xmalloc(len + 1);
    if (len)
        memcpy(v->u.s.p, data, len);
    v->u.s.p[len] = '\0';
    v->u.s.n = len;
    return v;
}

rb_value *rbv_string(const char *s) { return new_blob(RB_VSTRING, s ? s : "", s ? strlen(s) : 0); }
rb_value *rbv_string_n(const char *s, size_t len) { return new_blob(RB_VSTRING, s, len); }
rb_value *rbv_bytes(const void *data, size_t len) { return new_blob(RB_VBYTES, data, len); }
rb_value *rbv_list(void) { return new_value(RB_VLIST); }
rb_value *rbv_map(void) { return new_value(RB_VMAP); }

static void grow(rb_value *c)
{
    if (c->u.c.n < c->u.c.cap)
        return;
    size_t cap = c->u.c.cap ? c->u.c.cap * 2 : 4;
    c->u.c.items = rb_xrealloc(c->u.c.items, cap * sizeof *c->u.c.items);
    if (c->type == RB_VMAP)
        c->u.c.keys = rb_xrealloc(c->u.c.keys, cap * sizeof *c->u.c.keys);
    c->u.c.cap = cap;
}

rb_status rbv_list_append(rb_value *list, rb_value *item)
{
    if (!list || list->type != RB_VLIST || !item) {
        rbv_free(item);
        return RB_EINVAL;
    }
    grow(list);
    list->u.c.items[list->u.c.n++] = item;
    return RB_OK;
}

static long map_index(const rb_value *map, const char *key)
{
    for (size_t i = 0; i < map->u.c.n; i++)
        if (strcmp(map->u.c.keys[i], key) == 0)
            return (long)i;
    return -1;
}

rb_status rbv_map_set(rb_value *map, const char *key, rb_value *item)
{
    if (!map || map->type != RB_VMAP || !key || !item) {
        rbv_free(item);
        return RB_EINVAL;
    }
    long at = map_index(map, key);
    if (at >= 0) {
        rbv_free(map->u.c.items[at]);
        map->u.c.items[at] = item;
        return RB_OK;
    }
    grow(map);
    map->u.c.keys[map->u.c.n] = rb_xstrdup(key);
    map->u.c.items[map->u.c.n++] = item;
    return RB_OK;
}

rb_value *rbv_copy(const rb_value *v)
{
    if (!v)
        return rbv_null();
    switch (v->type) {
    case RB_VNULL: return rbv_null();
    case RB_VBOOL: return rbv_bool(v->u.b);
    case RB_VINT: return rbv_int(v->u.i);
    case RB_VDOUBLE: return rbv_double(v->u.d);
    case RB_VSTRING:
    case RB_VBYTES: return new_blob(v->type, v->u.s.p, v->u.s.n);
    case RB_VLIST: {
        rb_value *l = rbv_list();
        for (size_t i = 0; i < v->u.c.n; i++)
            rbv_list_append(l, rbv_copy(v->u.c.items[i]));
        return l;
    }
    case RB_VMAP: {
        rb_value *m = rbv_map();
        for (size_t i = 0; i < v->u.c.n; i++)
            rbv_map_set(m, v->u.c.keys[i], rbv_copy(v->u.c.items[i]));
        return m;
    }
    }
    return rbv_null();
}

void rbv_free(rb_value *v)
{
    if (!v)
        return;
    switch (v->type) {
    case RB_VSTRING:
    case RB_VBYTES:
        free(v->u.s.p);
        break;
    case RB_VLIST:
    case RB_VMAP:
        for (size_t i = 0; i < v->u.c.n; i++) {
            rbv_free(v->u.c.items[i]);
            if (v->u.c.keys)
                free(v->u.c.keys[i]);
        }
        free(v->u.c.items);
        free(v->u.c.keys);
        break;
    default:
        break;
    }
    free(v);
}

rb_value_type rbv_type(const rb_value *v) { return v ? v->type : RB_VNULL; }

const char *rbv_type_name(rb_value_type t)
{
    switch (t) {
    case RB_VNULL: return "null";
    case RB_VBOOL: return "boolean";
    case RB_VINT: return "integer";
    case RB_VDOUBLE: return "number";
    case RB_VSTRING: return "string";
    case RB_VBYTES: return "bytes";
    case RB_VLIST: return "list";
    case RB_VMAP: return "map";
    }
    return "?";
}

int rbv_as_bool(const rb_value *v) { return v && v->type == RB_VBOOL ? v->u.b : 0; }

int64_t rbv_as_int(const rb_value *v)
{
    if (!v)
        return 0;
    if (v->type == RB_VINT)
        return v->u.i;
    if (v->type == RB_VDOUBLE && isfinite(v->u.d) && fabs(v->u.d) < 9.2e18)
        return (int64_t)v->u.d;
    return 0;
}

double rbv_as_double(const rb_value *v)
{
    if (!v)
        return 0;
    if (v->type == RB_VDOUBLE)
        return v->u.d;
    if (v->type == RB_VINT)
        return (double)v->u.i;
    return 0;
}

const char *rbv_as_string(const rb_value *v) { return v && v->type == RB_VSTRING ? v->u.s.p : NULL; }

const void *rbv_as_bytes(const rb_value *v, size_t *len)
{
    if (v && (v->type == RB_VBYTES || v->type == RB_VSTRING)) {
        if (len)
            *len = v->u.s.n;
        return v->u.s.p;
    }
    if (len)
        *len = 0;
    return NULL;
}

size_t rbv_len(const rb_value *v)
{
    return v && (v->type == RB_VLIST || v->type == RB_VMAP) ? v->u.c.n : 0;
}

const rb_value *rbv_list_get(const rb_value *list, size_t i)
{
    return list && list->type == RB_VLIST && i < list->u.c.n ? list->u.c.items[i] : NULL;
}

const rb_value *rbv_map_get(const rb_value *map, const char *key)
{
    if (!map || map->type != RB_VMAP || !key)
        return NULL;
    long at = map_index(map, key);
    return at >= 0 ? map->u.c.items[at] : NULL;
}

const char *rbv_map_key_at(const rb_value *map, size_t i)
{
    return map && map->type == RB_VMAP && i < map->u.c.n ? map->u.c.keys[i] : NULL;
}

const rb_value *rbv_map_value_at(const rb_value *map, size_t i)
{
    return map && map->type == RB_VMAP && i < map->u.c.n ? map->u.c.items[i] : NULL;
}

const char *rbv_map_get_string(const rb_value *map, const char *key, const char *dflt)
{
    const char *s = rbv_as_string(rbv_map_get(map, key));
    return s ? s : dflt;
}

int64_t rbv_map_get_int(const rb_value *map, const char *key, int64_t dflt)
{
    const rb_value *v = rbv_map_get(map, key);
    return v && (v->type == RB_VINT || v->type == RB_VDOUBLE) ? rbv_as_int(v) : dflt;
}

int rbv_map_get_bool(const rb_value *map, const char *key, int dflt)
{
    const rb_value *v = rbv_map_get(map, key);
    return v && v->type == RB_VBOOL ? v->u.b : dflt;
}

int rbv_equal(const rb_value *a, const rb_value *b)
{
    rb_value_type ta = rbv_type(a), tb = rbv_type(b);
    if ((ta == RB_VINT || ta == RB_VDOUBLE) && (tb == RB_VINT || tb == RB_VDOUBLE))
        return ta == tb && ta == RB_VINT ? a->u.i == b->u.i : rbv_as_double(a) == rbv_as_double(b);
    if (ta != tb)
        return 0;
    switch (ta) {
    case RB_VNULL: return 1;
    case RB_VBOOL: return a->u.b == b->u.b;
    case RB_VSTRING:
    case RB_VBYTES: return a->u.s.n == b->u.s.n && memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
    case RB_VLIST:
        if (a->u.c.n != b->u.c.n)
            return 0;
        for (size_t i = 0; i < a->u.c.n; i++)
            if (!rbv_equal(a->u.c.items[i], b->u.c.items[i]))
                return 0;
        return 1;
    case RB_VMAP:
        if (a->u.c.n != b->u.c.n)
            return 0;
        for (size_t i = 0; i < a->u.c.n; i++) {
            const rb_value *other = rbv_map_get(b, a->u.c.keys[i]);
            if (!other || !rbv_equal(a->u.c.items[i], other))
                return 0;
        }
        return 1;
    default: return 0;
    }
}

/* --- JSON ---------------------------------------------------------------- */

static cJSON *bytes_to_json(const rb_value *v)
{
    size_t enc_len = 4 * ((v->u.s.n + 2) / 3) + 1;
    char *enc = rb_xmalloc(enc_len);
    EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)v->u.s.p, (int)v->u.s.n);
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddStringToObject(o, "$bytes", enc);
    free(enc);
    return o;
}

static rb_value *bytes_from_json(const char *b64)
{
    size_t in = strlen(b64);
    unsigned char *out = rb_xmalloc(in / 4 * 3 + 3);
    int n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)in);
    if (n < 0) {
        free(out);
        return rbv_string(b64);
    }
    /* EVP_DecodeBlock counts padding bytes as data; take them off. */
    if (in >= 1 && b64[in - 1] == '=')
        n--;
    if (in >= 2 && b64[in - 2] == '=')
        n--;
    rb_value *v = rbv_bytes(out, (size_t)n);
    free(out);
    return v;
}

/* Integers beyond 2^53 do not survive a double; they travel as
 * {"$int": "digits"} like bytes travel as {"$bytes": ...}. */
#define RB_EXACT_INT_LIMIT 9007199254740992LL

static cJSON *int_to_json(int64_t i)
{
    if (i > -RB_EXACT_INT_LIMIT && i < RB_EXACT_INT_LIMIT)
        return cJSON_CreateNumber((double)i);
    char digits[24];
    snprintf(digits, sizeof digits, "%lld", (long long)i);
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddStringToObject(o, "$int", digits);
    return o;
}

/* cJSON prints doubles with 15 significant digits when that reads back
 * "close enough"; outputs must come back from the journal bit for bit, so
 * print the shortest exact form (%.17g) ourselves. */
static cJSON *double_to_json(double d)
{
    if (!isfinite(d))
        return cJSON_CreateNull();
    if (d == floor(d) && fabs(d) < 1e15)
        return cJSON_CreateNumber(d);
    char text[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, d);
        if (strtod(text, NULL) == d)
            break;
    }
    return cJSON_CreateRaw(text);
}

cJSON *rbv_to_json(const rb_value *v)
{
    switch (rbv_type(v)) {
    case RB_VNULL: return cJSON_CreateNull();
    case RB_VBOOL: return cJSON_CreateBool(v->u.b);
    case RB_VINT: return int_to_json(v->u.i);
    case RB_VDOUBLE: return double_to_json(v->u.d);
    case RB_VSTRING: return cJSON_CreateString(v->u.s.p);
    case RB_VBYTES: return bytes_to_json(v);
    case RB_VLIST: {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; a && i < v->u.c.n; i++)
            cJSON_AddItemToArray(a, rbv_to_json(v->u.c.items[i]));
        return a;
    }
    case RB_VMAP: {
        cJSON *o = cJSON_CreateObject();
        for (size_t i = 0; o && i < v->u.c.n; i++)
            cJSON_AddItemToObject(o, v->u.c.keys[i], rbv_to_json(v->u.c.items[i]));
        return o;
    }
    }
    return cJSON_CreateNull();
}

rb_value *rbv_from_json(const cJSON *j)
{
    if (!j || cJSON_IsNull(j))
        return rbv_null();
    if (cJSON_IsBool(j))
        return rbv_bool(cJSON_IsTrue(j));
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0)
            return rbv_int((int64_t)d);
        return rbv_double(d);
    }
    if (cJSON_IsString(j))
        return rbv_string(j->valuestring);
    if (cJSON_IsArray(j)) {
        rb_value *l = rbv_list();
        for (const cJSON *c = j->child; c; c = c->next)
            rbv_list_append(l, rbv_from_json(c));
        return l;
    }
    if (cJSON_IsRaw(j) && j->valuestring) {
        char *end;
        double d = strtod(j->valuestring, &end);
        return *end ? rbv_string(j->valuestring) : rbv_double(d);
    }
    if (cJSON_IsObject(j)) {
        const cJSON *only = j->child;
        if (only && !only->next && only->string && strcmp(only->string, "$bytes") == 0 &&
            cJSON_IsString(only))
            return bytes_from_json(only->valuestring);
        if (only && !only->next && only->string && strcmp(only->string, "$int") == 0 &&
            cJSON_IsString(only)) {
            char *end;
            errno = 0;
            long long i = strtoll(only->valuestring, &end, 10);
            if (!*end && !errno && *only->valuestring)
                return rbv_int(i);
        }
        rb_value *m = rbv_map();
        for (const cJSON *c = j->child; c; c = c->next)
            rbv_map_set(m, c->string ? c->string : "", rbv_from_json(c));
        return m;
    }
    return rbv_null();
}

char *rbv_to_json_text(const rb_value *v)
{
    cJSON *j = rbv_to_json(v);
    if (!j)
        rb_die_oom();
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s)
        rb_die_oom();
    return s;
}

rb_value *rbv_from_json_text(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    if (!j)
        return NULL;
    rb_value *v = rbv_from_json(j);
    cJSON_Delete(j);
    return v;
}

/* Canonical form for digests: maps with sorted keys. */
static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void digest_update(EVP_MD_CTX *md, const rb_value *v)
{
    /* Numbers hash by value: 2.0 and 2 alike, as they are alike in JSON. */
    if (rbv_type(v) == RB_VDOUBLE && v->u.d == floor(v->u.d) && fabs(v->u.d) < 9.2e18) {
        rb_value as_int = {.type = RB_VINT, .u.i = (int64_t)v->u.d};
        digest_update(md, &as_int);
        return;
    }
    char tag = (char)('0' + rbv_type(v));
    EVP_DigestUpdate(md, &tag, 1);
    switch (rbv_type(v)) {
    case RB_VNULL: break;
    case RB_VBOOL: EVP_DigestUpdate(md, v->u.b ? "t" : "f", 1); break;
    case RB_VINT: {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%lld;", (long long)v->u.i);
        EVP_DigestUpdate(md, buf, (size_t)n);
        break;
    }
    case RB_VDOUBLE: {
        char buf[48];
        int n = snprintf(buf, sizeof buf, "%.17g;", v->u.d);
        EVP_DigestUpdate(md, buf, (size_t)n);
        break;
    }
    case RB_VSTRING:
    case RB_VBYTES: {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%zu:", v->u.s.n);
        EVP_DigestUpdate(md, buf, (size_t)n);
        EVP_DigestUpdate(md, v->u.s.p, v->u.s.n);
        break;
    }
    case RB_VLIST:
        for (size_t i = 0; i < v->u.c.n; i++)
            digest_update(md, v->u.c.items[i]);
        EVP_DigestUpdate(md, "]", 1);
        break;
    case RB_VMAP: {
        char **keys = rb_xmalloc((v->u.c.n + 1) * sizeof *keys);
        for (size_t i = 0; i < v->u.c.n; i++)
            keys[i] = v->u.c.keys[i];
        qsort(keys, v->u.c.n, sizeof *keys, key_cmp);
        for (size_t i = 0; i < v->u.c.n; i++) {
            EVP_DigestUpdate(md, keys[i], strlen(keys[i]) + 1);
            digest_update(md, rbv_map_get(v, keys[i]));
        }
        free(keys);
        EVP_DigestUpdate(md, "}", 1);
        break;
    }
    }
}

void rbv_digest(const rb_value *v, char out[65])
{
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        rb_die_oom();
    EVP_DigestInit_ex(md, rb_sha256(), NULL);
    digest_update(md, v);
    EVP_DigestFinal_ex(md, h, &hl);
    EVP_MD_CTX_free(md);
    rb_hex(h, 32, out);
}
