/* Scalars of the config file: ${VAR} expansion, YAML 1.2 core typing, and
 * free-form sections as rb_value trees. */
#include "config/config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/values.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

int rb_cfg_fail(rb_cfg_ctx *ctx, const rb_ynode *at, const char *fmt, ...)
{
    if (!ctx->errlen)
        return -1;
    int off;
    if (at)
        off = snprintf(ctx->err, ctx->errlen, "%s:%zu:%zu: ", ctx->display, at->line, at->col);
    else
        off = snprintf(ctx->err, ctx->errlen, "%s: ", ctx->display);
    if (off < 0 || (size_t)off >= ctx->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err + off, ctx->errlen - (size_t)off, fmt, ap);
    va_end(ap);
    return -1;
}

char *rb_cfg_join(const char *parent, const char *key)
{
    if (!parent || !*parent)
        return rb_xstrdup(key);
    size_t n = strlen(parent) + strlen(key) + 2;
    char *s = rb_xmalloc(n);
    snprintf(s, n, "%s.%s", parent, key);
    return s;
}

const char *rb_cfg_node_kind(const rb_ynode *n)
{
    switch (n->kind) {
    case RB_YMAP: return "a mapping";
    case RB_YSEQ: return "a list";
    default: return "a scalar";
    }
}

/* Index of the '}' closing the "${" whose body starts at `i`, counting
 * nested ${...} (for defaults such as ${A:-${B}}), or (size_t)-1. */
static size_t closing_brace(const char *s, size_t i)
{
    size_t depth = 1;
    for (; s[i]; i++) {
        if (s[i] == '$' && s[i + 1] == '$') {
            i++;
        } else if (s[i] == '$' && s[i + 1] == '{') {
            depth++;
            i++;
        } else if (s[i] == '}' && --depth == 0) {
            return i;
        }
    }
    return (size_t)-1;
}

static int valid_var_name(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

static int expand_into(rb_cfg_ctx *ctx, const rb_ynode *at, const char *what, const char *in,
                       size_t n, rb_buf *out)
{
    size_t i = 0;
    while (i < n) {
        if (in[i] != '$' || i + 1 >= n || (in[i + 1] != '$' && in[i + 1] != '{')) {
            /* A lone '$' is kept as written. */
            rb_buf_add(out, in + i, 1);
            i++;
            continue;
        }
        if (in[i + 1] == '$') {
            rb_buf_add(out, "$", 1);
            i += 2;
            continue;
        }
        size_t body = i + 2;
        size_t end = closing_brace(in, body);
        if (end == (size_t)-1 || end >= n)
            return rb_cfg_fail(ctx, at, "unterminated \"${\" in the value of \"%s\" (write $$ for a literal $)", what);
        const char *dflt = NULL;
        size_t name_len = end - body, dflt_len = 0;
        for (size_t k = body; k + 1 < end; k++) {
            if (in[k] == ':' && in[k + 1] == '-') {
                name_len = k - body;
                dflt = in + k + 2;
                dflt_len = end - (k + 2);
                break;
            }
        }
        if (!valid_var_name(in + body, name_len))
            return rb_cfg_fail(ctx, at, "invalid variable name \"%.*s\" in the value of \"%s\" "
                               "(expected ${NAME} or ${NAME:-default})", (int)name_len, in + body, what);
        char name[256];
        if (name_len >= sizeof name)
            return rb_cfg_fail(ctx, at, "variable name too long in the value of \"%s\"", what);
        memcpy(name, in + body, name_len);
        name[name_len] = '\0';
        const char *val = getenv(name);
        if (dflt && (!val || !*val)) {
            if (expand_into(ctx, at, what, dflt, dflt_len, out))
                return -1;
        } else if (val) {
            rb_buf_add(out, val, strlen(val));
        } else {
            return rb_cfg_fail(ctx, at, "environment variable \"%s\" is not set (used by \"%s\"; "
                               "set it or write ${%s:-default})", name, what, name);
        }
        i = end + 1;
    }
    return 0;
}

int rb_cfg_expand(rb_cfg_ctx *ctx, const rb_ynode *at, const char *what, const char *in, char **out)
{
    rb_buf b = {0};
    rb_buf_add(&b, "", 0);
    if (expand_into(ctx, at, what, in, strlen(in), &b)) {
        rb_buf_free(&b);
        *out = NULL;
        return -1;
    }
    *out = b.p;
    return 0;
}

static int all_in(const char *s, size_t n, const char *set)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr(set, s[i]))
            return 0;
    return 1;
}

/* [-+]? ( \.[0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static int is_core_float(const char *s)
{
    size_t i = 0, digits = 0;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (isdigit((unsigned char)s[i])) {
        i++;
        digits++;
    }
    if (s[i] == '.') {
        i++;
        size_t frac = 0;
        while (isdigit((unsigned char)s[i])) {
            i++;
            frac++;
        }
        if (digits == 0 && frac == 0)
            return 0;
    } else if (digits == 0) {
        return 0;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        if (s[i] == '+' || s[i] == '-')
            i++;
        if (!isdigit((unsigned char)s[i]))
            return 0;
        while (isdigit((unsigned char)s[i]))
            i++;
    }
    return s[i] == '\0';
}

int rb_cfg_resolve_plain(const char *s, rb_cfg_scalar *out)
{
    size_t n = strlen(s);
    out->type = RB_VSTRING;
    if (n == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL")) {
        out->type = RB_VNULL;
        return 0;
    }
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        out->type = RB_VBOOL;
        out->b = 1;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        out->type = RB_VBOOL;
        out->b = 0;
        return 0;
    }
    int base = 0;
    const char *digits = s;
    size_t sign = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (all_in(s + sign, n - sign, "0123456789")) {
        base = 10;
    } else if (n > 2 && s[0] == '0' && s[1] == 'o' && all_in(s + 2, n - 2, "01234567")) {
        base = 8;
        digits = s + 2;
    } else if (n > 2 && s[0] == '0' && s[1] == 'x' && all_in(s + 2, n - 2, "0123456789abcdefABCDEF")) {
        base = 16;
        digits = s + 2;
    }
    if (base) {
        errno = 0;
        char *end;
        long long v;
        if (base == 10) {
            v = strtoll(digits, &end, 10);
        } else {
            unsigned long long u = strtoull(digits, &end, base);
            if (u > INT64_MAX)
                errno = ERANGE;
            v = (long long)u;
        }
        if (errno == ERANGE)
            return -1;
        out->type = RB_VINT;
        out->i = v;
        return 0;
    }
    if (is_core_float(s)) {
        out->type = RB_VDOUBLE;
        out->d = strtod(s, NULL);
        return 0;
    }
    const char *inf = s + sign;
    if (!strcmp(inf, ".inf") || !strcmp(inf, ".Inf") || !strcmp(inf, ".INF")) {
        out->type = RB_VDOUBLE;
        out->d = s[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) {
        out->type = RB_VDOUBLE;
        out->d = NAN;
        return 0;
    }
    return 0;
}

void rb_cfg_scalar_clear(rb_cfg_scalar *s)
{
    free(s->text);
    memset(s, 0, sizeof *s);
}

int rb_cfg_scalar_get(rb_cfg_ctx *ctx, const rb_ynode *n, const char *what, int expand,
                      rb_cfg_scalar *out)
{
    memset(out, 0, sizeof *out);
    if (n->kind != RB_YSCALAR)
        return rb_cfg_fail(ctx, n, "\"%s\" must be a scalar, not %s", what, rb_cfg_node_kind(n));
    if (strlen(n->text) != n->len)
        return rb_cfg_fail(ctx, n, "the value of \"%s\" contains a NUL character", what);

    /* "!" is the non-specific tag: a string, like a quoted scalar. */
    int nonspecific = n->tag && !strcmp(n->tag, "!");
    const char *tag = nonspecific ? NULL : n->tag;
    const char *std = tag && !strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) ? tag + strlen(TAG_PREFIX) : NULL;
    if (tag && !(std && (!strcmp(std, "str") || !strcmp(std, "int") || !strcmp(std, "float") ||
                         !strcmp(std, "bool") || !strcmp(std, "null"))))
        return rb_cfg_fail(ctx, n, "unsupported tag \"%s\" on \"%s\" (only !!str, !!int, !!float, "
                           "!!bool and !!null are understood)", tag, what);

    if (expand) {
        if (rb_cfg_expand(ctx, n, what, n->text, &out->text))
            return -1;
    } else {
        out->text = rb_xstrdup(n->text);
    }

    out->type = RB_VSTRING;
    if (nonspecific || (std && !strcmp(std, "str")) || (!std && !n->plain))
        return 0;

    rb_cfg_scalar r = {0};
    if (rb_cfg_resolve_plain(out->text, &r)) {
        rb_cfg_scalar_clear(out);
        return rb_cfg_fail(ctx, n, "the integer value of \"%s\" does not fit in 64 bits", what);
    }
    if (std) {
        /* An explicit tag demands its type; !!float also takes integers. */
        int ok = (!strcmp(std, "int") && r.type == RB_VINT) ||
                 (!strcmp(std, "float") && (r.type == RB_VDOUBLE || r.type == RB_VINT)) ||
                 (!strcmp(std, "bool") && r.type == RB_VBOOL) ||
                 (!strcmp(std, "null") && r.type == RB_VNULL);
        if (!ok) {
            rb_cfg_scalar_clear(out);
            return rb_cfg_fail(ctx, n, "the value of \"%s\" is not a valid !!%s", what, std);
        }
        if (!strcmp(std, "float") && r.type == RB_VINT) {
            r.type = RB_VDOUBLE;
            r.d = (double)r.i;
        }
    }
    out->type = r.type;
    out->b = r.b;
    out->i = r.i;
    out->d = r.d;
    return 0;
}

static void must(rb_status st)
{
    if (st != RB_OK)
        abort(); /* only allocation can fail: keys are checked for duplicates first */
}

static int check_collection_tag(rb_cfg_ctx *ctx, const rb_ynode *n, const char *what)
{
    const char *want = n->kind == RB_YMAP ? TAG_PREFIX "map" : TAG_PREFIX "seq";
    if (n->tag && strcmp(n->tag, "!") && strcmp(n->tag, want))
        return rb_cfg_fail(ctx, n, "unsupported tag \"%s\" on \"%s\"", n->tag, what);
    return 0;
}

static int to_value(rb_cfg_ctx *ctx, const rb_ynode *n, const char *what, rb_value **out)
{
    *out = NULL;
    if (ctx->values_left == 0)
        return rb_cfg_fail(ctx, n, "too many values under \"%s\" (more than %d, counting aliases "
                           "as copies)", what, RB_CFG_MAX_VALUES);
    ctx->values_left--;

    if (n->kind == RB_YSCALAR) {
        rb_cfg_scalar s;
        if (rb_cfg_scalar_get(ctx, n, what, 1, &s))
            return -1;
        switch (s.type) {
        case RB_VNULL: *out = rbv_null(); break;
        case RB_VBOOL: *out = rbv_bool(s.b); break;
        case RB_VINT: *out = rbv_int(s.i); break;
        case RB_VDOUBLE: *out = rbv_double(s.d); break;
        default: *out = rbv_string(s.text); break;
        }
        rb_cfg_scalar_clear(&s);
        if (!*out)
            abort();
        return 0;
    }
    if (check_collection_tag(ctx, n, what))
        return -1;

    if (n->kind == RB_YSEQ) {
        rb_value *list = rbv_list();
        if (!list)
            abort();
        for (size_t i = 0; i < n->n_kids; i++) {
            char *sub = rb_xmalloc(strlen(what) + 24);
            sprintf(sub, "%s[%zu]", what, i);
            rb_value *item;
            int rc = to_value(ctx, n->kids[i], sub, &item);
            free(sub);
            if (rc) {
                rbv_free(list);
                return -1;
            }
            must(rbv_list_append(list, item));
        }
        *out = list;
        return 0;
    }

    rb_value *map = rbv_map();
    if (!map)
        abort();
    for (size_t i = 0; i + 1 < n->n_kids; i += 2) {
        const rb_ynode *k = n->kids[i];
        if (k->kind != RB_YSCALAR || strlen(k->text) != k->len) {
            rbv_free(map);
            return rb_cfg_fail(ctx, k, "keys under \"%s\" must be strings, not %s", what,
                               rb_cfg_node_kind(k));
        }
        if (rbv_map_get(map, k->text)) {
            rbv_free(map);
            return rb_cfg_fail(ctx, k, "duplicate key \"%s\" in \"%s\"", k->text, what);
        }
        char *sub = rb_cfg_join(what, k->text);
        rb_value *item;
        int rc = to_value(ctx, n->kids[i + 1], sub, &item);
        free(sub);
        if (rc) {
            rbv_free(map);
            return -1;
        }
        must(rbv_map_set(map, k->text, item));
    }
    *out = map;
    return 0;
}

int rb_cfg_to_value(rb_cfg_ctx *ctx, const rb_ynode *n, const char *what, rb_value **out)
{
    return to_value(ctx, n, what, out);
}
