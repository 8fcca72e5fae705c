/* Validates an action's arguments against the plugin's own params table, as
 * Fluent Bit validates settings against its config_map: plugins never
 * hand-check names or types, and every message names plugin.action and the
 * parameter. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/values.h"
#include "plugin/check.h"
#include "plugin/registry.h"

int rb_type_accepts(rb_type t, const rb_value *v)
{
    rb_value_type vt = rbv_type(v);
    switch (t) {
    case RB_TANY: return 1;
    case RB_TBOOL: return vt == RB_VBOOL;
    case RB_TINT:
        if (vt == RB_VINT)
            return 1;
        if (vt == RB_VDOUBLE) {
            double d = rbv_as_double(v);
            return isfinite(d) && d == floor(d) && fabs(d) < 9.0e18;
        }
        return 0;
    case RB_TNUMBER: return vt == RB_VINT || vt == RB_VDOUBLE;
    case RB_TSTRING: return vt == RB_VSTRING;
    case RB_TBYTES: return vt == RB_VBYTES || vt == RB_VSTRING;
    case RB_TLIST: return vt == RB_VLIST;
    case RB_TMAP: return vt == RB_VMAP;
    }
    return 0;
}

RB_FMT(6, 7)
static rb_value *fail(rb_value *partial, const rb_loaded_plugin *p, const rb_action *a, char *err,
                      size_t errlen, const char *fmt, ...)
{
    rbv_free(partial);
    if (!err || !errlen)
        return NULL;
    int n = snprintf(err, errlen, "%s.%s: ", p->def->name, a->name);
    if (n < 0 || (size_t)n >= errlen)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return NULL;
}

static const rb_field *find_param(const rb_action *a, const char *name)
{
    for (const rb_field *f = a->params; f && f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

/* "a, b, c" for a message about an unknown parameter. */
static char *param_names(const rb_action *a)
{
    rb_buf b = {0};
    for (const rb_field *f = a->params; f && f->name; f++)
        rb_buf_printf(&b, "%s%s", b.len ? ", " : "", f->name);
    if (!b.len)
        rb_buf_puts(&b, "(none)");
    return b.p;
}

/* A value normalised to the declared type: integral doubles for an integer
 * parameter become integers, so plugins can read them with map_get_int. */
static rb_value *normalise(rb_type t, const rb_value *v)
{
    if (t == RB_TINT && rbv_type(v) == RB_VDOUBLE)
        return rbv_int((int64_t)rbv_as_double(v));
    return rbv_copy(v);
}

rb_value *rb_validate_args(const rb_loaded_plugin *p, const rb_action *a, const rb_value *args,
                           char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (args && rbv_type(args) != RB_VMAP)
        return fail(NULL, p, a, err, errlen, "arguments must be a map, got %s",
                    rbv_type_name(rbv_type(args)));

    /* First the names the caller gave, so a typo is reported as a typo and
     * not as the required parameter it was meant to be. */
    for (size_t i = 0; i < rbv_len(args); i++) {
        const char *key = rbv_map_key_at(args, i);
        if (find_param(a, key))
            continue;
        char *names = param_names(a);
        fail(NULL, p, a, err, errlen, "unknown parameter \"%s\" (parameters: %s)", key, names);
        free(names);
        return NULL;
    }

    rb_value *out = rbv_map();
    for (const rb_field *f = a->params; f && f->name; f++) {
        const rb_value *v = rbv_map_get(args, f->name);
        /* An explicit null (JSON null) means "not given". */
        if (v && rbv_type(v) == RB_VNULL)
            v = NULL;
        if (!v) {
            if (f->required)
                return fail(out, p, a, err, errlen, "missing required parameter \"%s\" (%s)",
                            f->name, rb_type_name(f->type));
            if (f->default_json) {
                rb_value *dv = rbv_from_json_text(f->default_json);
                if (dv) /* checked at load time; a bad default cannot get here */
                    rbv_map_set(out, f->name, normalise(f->type, dv));
                rbv_free(dv);
            }
            continue;
        }
        if (!rb_type_accepts(f->type, v)) {
            const char *want = rb_type_name(f->type);
            int an = strchr("aeiou", want[0]) != NULL;
            return fail(out, p, a, err, errlen, "parameter \"%s\" must be %s %s, got %s", f->name,
                        an ? "an" : "a", want, rbv_type_name(rbv_type(v)));
        }
        rbv_map_set(out, f->name, normalise(f->type, v));
    }
    return out;
}
