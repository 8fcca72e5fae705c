/* keyvault.inventory: secrets, keys and certificates with their versions,
 * attributes and tags, across every page, and the soft-deleted items. It
 * uses only list endpoints, which never return secret values. */
#include <string.h>

#include "kv.h"

static void copy_attributes(rb_value *dst, const rb_value *item)
{
    const rb_value *attr = kv_host->map_get(item, "attributes");
    kv_host->map_set(dst, "enabled", kv_host->value_bool(kv_host->map_get_bool(attr, "enabled", 1)));
    static const char *const times[][2] = {
        {"created", "created"}, {"updated", "updated"}, {"exp", "expires"}, {"nbf", "not_before"}};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        const rb_value *t = kv_host->map_get(attr, times[i][0]);
        if (t)
            kv_host->map_set(dst, times[i][1], kv_host->value_copy(t));
    }
}

/* One collection: "secrets", "keys" or "certificates". */
static rb_status list_kind(rb_ctx *ctx, const char *vault, const char *coll, rb_value **out,
                           int64_t *n_versions)
{
    rb_value *items = NULL;
    char *path = kv_host->str_format("/%s", coll);
    rb_status st = kv_list_all(ctx, vault, path, &items);
    kv_host->mem_free(path);
    if (st != RB_OK)
        return st;
    /* Keys list as "kid", the others as "id". */
    const char *id_field = strcmp(coll, "keys") == 0 ? "kid" : "id";
    rb_value *result = kv_host->value_list();
    for (size_t i = 0; i < kv_host->value_len(items); i++) {
        const rb_value *item = kv_host->list_get(items, i);
        rb_value *name = kv_id_segment(kv_host->map_get_string(item, id_field, NULL), 0);
        const char *n = kv_host->value_as_string(name);
        if (!n) {
            kv_host->value_free(name);
            continue;
        }
        rb_value *entry = kv_host->value_map();
        kv_host->map_set(entry, "name", name);
        copy_attributes(entry, item);
        if (kv_host->map_get_bool(item, "managed", 0))
            kv_host->map_set(entry, "managed", kv_host->value_bool(1));
        const rb_value *tags = kv_host->map_get(item, "tags");
        kv_host->map_set(entry, "tags", tags ? kv_host->value_copy(tags) : kv_host->value_map());
        const char *ct = kv_host->map_get_string(item, "contentType", NULL);
        if (ct)
            kv_host->map_set(entry, "content_type", kv_host->value_string(ct));

        rb_value *versions = NULL;
        char *vpath = kv_host->str_format("/%s/%s/versions", coll, n);
        st = kv_list_all(ctx, vault, vpath, &versions);
        kv_host->mem_free(vpath);
        if (st != RB_OK) {
            kv_host->value_free(entry);
            break;
        }
        rb_value *vlist = kv_host->value_list();
        for (size_t k = 0; k < kv_host->value_len(versions); k++) {
            const rb_value *v = kv_host->list_get(versions, k);
            rb_value *ve = kv_host->value_map();
            kv_host->map_set(ve, "version",
                             kv_id_segment(kv_host->map_get_string(v, id_field, NULL), 0));
            copy_attributes(ve, v);
            kv_host->list_append(vlist, ve);
        }
        kv_host->value_free(versions);
        *n_versions += (int64_t)kv_host->value_len(vlist);
        kv_host->map_set(entry, "versions", vlist);
        kv_host->list_append(result, entry);
    }
    kv_host->value_free(items);
    if (st != RB_OK) {
        kv_host->value_free(result);
        return st;
    }
    *out = result;
    return RB_OK;
}

static rb_status list_deleted(rb_ctx *ctx, const char *vault, const char *coll, rb_value **out)
{
    rb_value *items = NULL;
    char *path = kv_host->str_format("/deleted%s", coll);
    rb_status st = kv_list_all(ctx, vault, path, &items);
    kv_host->mem_free(path);
    if (st != RB_OK)
        return st;
    const char *id_field = strcmp(coll, "keys") == 0 ? "kid" : "id";
    rb_value *result = kv_host->value_list();
    for (size_t i = 0; i < kv_host->value_len(items); i++) {
        const rb_value *item = kv_host->list_get(items, i);
        rb_value *entry = kv_host->value_map();
        kv_host->map_set(entry, "name", kv_id_segment(kv_host->map_get_string(item, id_field, NULL), 0));
        const rb_value *d = kv_host->map_get(item, "deletedDate");
        const rb_value *p = kv_host->map_get(item, "scheduledPurgeDate");
        if (d)
            kv_host->map_set(entry, "deleted", kv_host->value_copy(d));
        if (p)
            kv_host->map_set(entry, "scheduled_purge", kv_host->value_copy(p));
        kv_host->list_append(result, entry);
    }
    kv_host->value_free(items);
    *out = result;
    return RB_OK;
}

rb_status kv_inventory(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const char *vault = kv_host->map_get_string(args, "name", "");
    static const char *const kinds[] = {"secrets", "keys", "certificates"};
    rb_value *result = kv_host->value_map();
    rb_value *deleted = kv_host->value_map();
    rb_value *counts = kv_host->value_map();
    kv_host->map_set(result, "vault", kv_host->value_string(vault));
    int64_t n_deleted = 0;
    for (size_t i = 0; i < 3; i++) {
        rb_value *list = NULL, *dlist = NULL;
        int64_t versions = 0;
        rb_status st = list_kind(ctx, vault, kinds[i], &list, &versions);
        if (st == RB_OK && kv_host->map_get_bool(args, "include_deleted", 1))
            st = list_deleted(ctx, vault, kinds[i], &dlist);
        if (st != RB_OK) {
            kv_host->value_free(list);
            kv_host->value_free(result);
            kv_host->value_free(deleted);
            kv_host->value_free(counts);
            return st;
        }
        kv_host->map_set(counts, kinds[i], kv_host->value_int((int64_t)kv_host->value_len(list)));
        char *vk = kv_host->str_format("%s_versions", kinds[i]);
        kv_host->map_set(counts, vk, kv_host->value_int(versions));
        kv_host->mem_free(vk);
        kv_host->map_set(result, kinds[i], list);
        if (dlist) {
            n_deleted += (int64_t)kv_host->value_len(dlist);
            kv_host->map_set(deleted, kinds[i], dlist);
        }
        kv_host->progress(ctx, i + 1, 3);
    }
    kv_host->map_set(counts, "deleted", kv_host->value_int(n_deleted));
    kv_host->map_set(result, "deleted", deleted);
    kv_host->map_set(result, "counts", counts);
    *out = result;
    return RB_OK;
}

/* What compare checks of one item: everything a restore must bring back
 * (not created/updated, which are the restore's own). */
static rb_value *index_entry(const rb_value *e)
{
    rb_value *x = kv_host->value_map();
    kv_host->map_set(x, "versions",
                     kv_host->value_int((int64_t)kv_host->value_len(kv_host->map_get(e, "versions"))));
    static const char *const keep[] = {"enabled", "expires", "not_before", "content_type", "tags"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        const rb_value *v = kv_host->map_get(e, keep[i]);
        if (v)
            kv_host->map_set(x, keep[i], kv_host->value_copy(v));
    }
    return x;
}

rb_status kv_index(rb_ctx *ctx, const char *vault, rb_value **index)
{
    /* Certificates first: a backup restores them (and the key and secret
     * they carry) before the standalone keys and secrets. */
    static const char *const kinds[] = {"certificates", "keys", "secrets"};
    *index = kv_host->value_map();
    for (size_t k = 0; k < 3; k++) {
        rb_value *list = NULL;
        int64_t versions = 0;
        rb_status st = list_kind(ctx, vault, kinds[k], &list, &versions);
        if (st != RB_OK) {
            kv_host->value_free(*index);
            *index = NULL;
            return st;
        }
        for (size_t i = 0; i < kv_host->value_len(list); i++) {
            const rb_value *e = kv_host->list_get(list, i);
            if (kv_host->map_get_bool(e, "managed", 0))
                continue; /* a certificate's own key and secret come back with it */
            char *key = kv_host->str_format("%s/%s", kinds[k], kv_host->map_get_string(e, "name", ""));
            kv_host->map_set(*index, key, index_entry(e));
            kv_host->mem_free(key);
        }
        kv_host->value_free(list);
    }
    return RB_OK;
}
