/* Helpers shared by the VM plugin's actions: resource ids, values, the
 * JSON of recorded configurations, and the backup-vault lookups. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vm.h"

char *vm_rg_id(const rb_value *args)
{
    return H->str_format("/subscriptions/%s/resourceGroups/%s",
                         H->map_get_string(args, "subscription", ""),
                         H->map_get_string(args, "resource_group", ""));
}

char *vm_res_id(const char *sub, const char *rg, const char *type, const char *name)
{
    return H->str_format("/subscriptions/%s/resourceGroups/%s/providers/%s/%s", sub, rg, type,
                         name);
}

const char *vm_id_name(const char *id)
{
    if (!id)
        return "";
    const char *s = strrchr(id, '/');
    return s ? s + 1 : id;
}

int vm_id_eq(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

char *vm_id_parent(const char *id, const char *segment)
{
    if (!id)
        return NULL;
    size_t n = strlen(segment);
    for (const char *p = id; (p = strchr(p, '/')) != NULL; p++) {
        if (strncasecmp(p + 1, segment, n) == 0 && p[1 + n] == '/') {
            char *s = H->mem_alloc((size_t)(p - id) + 1);
            if (!s)
                return NULL;
            memcpy(s, id, (size_t)(p - id));
            s[p - id] = '\0';
            return s;
        }
    }
    return NULL;
}

int vm_name_wanted(const rb_value *names, const char *name)
{
    if (H->value_len(names) == 0)
        return 1;
    for (size_t i = 0; i < H->value_len(names); i++)
        if (vm_id_eq(H->value_as_string(H->list_get(names, i)), name))
            return 1;
    return 0;
}

/* --- values <-> JSON ------------------------------------------------------ */

/* The recorded configurations (vm.json, disk.json) through the host's JSON
 * routines (ABI 1.3): one JSON library in the process, none in the plugin. */
char *vm_to_json(const rb_value *v)
{
    return H->json_encode(v);
}

rb_value *vm_from_json(const char *text, size_t len)
{
    rb_value *v = NULL;
    return text && H->json_decode(text, len, &v) == RB_OK ? v : NULL;
}

/* --- shorthands ----------------------------------------------------------- */

rb_value *vm_str(const char *s)
{
    return s ? H->value_string(s) : H->value_null();
}

void vm_set_str(rb_value *m, const char *k, const char *s)
{
    H->map_set(m, k, vm_str(s));
}

void vm_set_int(rb_value *m, const char *k, int64_t i)
{
    H->map_set(m, k, H->value_int(i));
}

void vm_copy_field(rb_value *dst, const char *dk, const rb_value *src, const char *sk)
{
    const rb_value *v = H->map_get(src, sk);
    H->map_set(dst, dk, v ? H->value_copy(v) : H->value_null());
}

static const rb_value *get_path(const rb_value *v, va_list ap)
{
    const char *k;
    while (v && (k = va_arg(ap, const char *)) != NULL)
        v = H->map_get(v, k);
    return v;
}

const rb_value *vm_get(const rb_value *v, ...)
{
    va_list ap;
    va_start(ap, v);
    const rb_value *r = get_path(v, ap);
    va_end(ap);
    return r;
}

const char *vm_get_str(const rb_value *v, const char *dflt, ...)
{
    va_list ap;
    va_start(ap, dflt);
    const rb_value *r = get_path(v, ap);
    va_end(ap);
    const char *s = H->value_as_string(r);
    return s ? s : dflt;
}

void vm_list_add_unique(rb_value *list, const char *s)
{
    if (!s || !*s)
        return;
    for (size_t i = 0; i < H->value_len(list); i++)
        if (vm_id_eq(H->value_as_string(H->list_get(list, i)), s))
            return;
    H->list_append(list, H->value_string(s));
}

const char *vm_access_sas(const rb_value *resp)
{
    const char *url = H->map_get_string(resp, "accessSAS", NULL);
    if (!url) /* Azure also answers with the whole operation result */
        url = vm_get_str(resp, NULL, "properties", "output", "accessSAS", NULL);
    return url && *url ? url : NULL;
}

void vm_sas_error(rb_ctx *ctx, rb_status st, const char *what, const char *id, const char *set_id)
{
    /* The host's message names the request's URL without its query; a
     * managed disk's SAS URL is a credential as a whole (azsim, for one,
     * puts the grant in the path), so none of it goes into the step error. */
    const char *why = st == RB_EDENIED || st == RB_EAUTH ? "the SAS was refused (revoked or expired?)"
                      : st == RB_ECORRUPT               ? "a block did not match the signed manifest"
                      : st == RB_ECANCELED              ? "cancelled"
                                                        : "the transfer failed";
    H->set_error(ctx, "%s %s%s%s through its SAS: %s (%s); the SAS itself is never shown", what,
                 vm_id_name(id), set_id ? " from set " : "", set_id ? set_id : "", why,
                 rb_status_name(st));
}

rb_status vm_need_streams(rb_ctx *ctx)
{
    if (RB_HOST_HAS(H, url_digest))
        return RB_OK;
    H->set_error(ctx, "this action streams disks: it needs a host with plugin ABI 1.3 "
                      "(backup_put_stream, backup_to_url); this host is %u.%u",
                 H->abi_major, H->abi_minor);
    return RB_EUNSUPPORTED;
}

/* --- the backup vault ------------------------------------------------------ */

rb_status vm_newest_set(rb_ctx *ctx, const char *source_id, const char *kind, rb_value **set)
{
    *set = NULL;
    rb_value *sets = NULL;
    rb_status st = H->backup_list(ctx, NULL, kind, &sets);
    if (st != RB_OK)
        return st;
    /* Newest first; ARM ids compare case-insensitively. */
    for (size_t i = 0; i < H->value_len(sets); i++) {
        const rb_value *s = H->list_get(sets, i);
        if (vm_id_eq(H->map_get_string(s, "source_id", ""), source_id)) {
            *set = H->value_copy(s);
            break;
        }
    }
    H->value_free(sets);
    return *set ? RB_OK : RB_ENOTFOUND;
}

rb_status vm_read_json(rb_ctx *ctx, const char *set_id, const char *object, rb_value **out)
{
    *out = NULL;
    rb_value *data = NULL;
    rb_status st = H->backup_get(ctx, set_id, object, &data);
    if (st != RB_OK)
        return st;
    size_t len = 0;
    const char *text = H->value_as_bytes(data, &len);
    *out = vm_from_json(text, len);
    H->value_free(data);
    if (!*out || H->value_type(*out) != RB_VMAP) {
        H->value_free(*out);
        *out = NULL;
        H->set_error(ctx, "set %s: %s is not a JSON object", set_id, object);
        return RB_ECORRUPT;
    }
    return RB_OK;
}

rb_status vm_manifest_object(rb_ctx *ctx, const char *set_id, const char *object,
                             char sha[65], int64_t *bytes)
{
    rb_status st = vm_need_streams(ctx);
    if (st != RB_OK)
        return st;
    rb_value *m = NULL;
    st = H->backup_manifest(ctx, set_id, &m);
    if (st != RB_OK)
        return st;
    const rb_value *objs = H->map_get(m, "objects");
    st = RB_ENOTFOUND;
    for (size_t i = 0; i < H->value_len(objs); i++) {
        const rb_value *o = H->list_get(objs, i);
        if (strcmp(H->map_get_string(o, "name", ""), object) == 0) {
            snprintf(sha, 65, "%s", H->map_get_string(o, "sha256", ""));
            *bytes = H->map_get_int(o, "bytes", 0);
            st = RB_OK;
            break;
        }
    }
    H->value_free(m);
    if (st != RB_OK)
        H->set_error(ctx, "set %s has no object %s", set_id, object);
    return st;
}
