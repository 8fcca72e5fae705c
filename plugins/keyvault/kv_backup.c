/* keyvault.backup and keyvault.restore: Key Vault's own backup blobs
 * (opaque, encrypted by the service; no secret value is ever seen in
 * clear) stored as one signed set in the backup vault, and restored into a
 * vault of the same subscription and geography. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kv.h"

static const char *const kinds[] = {"certificates", "keys", "secrets"};

rb_status kv_backup(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const char *vault = kv_host->map_get_string(args, "name", "");
    /* One listing serves both: the items to back up (without the key and
     * secret Key Vault manages for each certificate: the certificate's
     * backup carries them) and the index compare will check a restore
     * against (version counts, attributes, tags; no value: list endpoints
     * never return one). */
    rb_value *index = NULL;
    rb_status st = kv_index(ctx, vault, &index);
    if (st != RB_OK)
        return st;
    rb_value *objects = kv_host->value_map();
    rb_value *counts = kv_host->value_map();
    for (size_t k = 0; k < 3; k++)
        kv_host->map_set(counts, kinds[k], kv_host->value_int(0));
    size_t n = kv_host->value_len(index);
    int64_t items = 0;
    for (size_t i = 0; i < n && st == RB_OK; i++) {
        const char *object = kv_host->map_key_at(index, i); /* "kind/name" */
        const char *slash = strchr(object, '/');
        char *path = kv_host->str_format("/%s/backup", object);
        rb_value *resp = NULL;
        st = kv_host->vault_call(ctx, vault, "POST", path, KV_DATA_API, NULL, &resp, NULL);
        kv_host->mem_free(path);
        const char *blob = kv_host->map_get_string(resp, "value", NULL);
        if (st == RB_OK && !blob) {
            kv_host->set_error(ctx, "%s: the backup answer has no value", object);
            st = RB_EPROTO;
        }
        if (st == RB_OK) {
            kv_host->map_set(objects, object, kv_host->value_string(blob));
            char *kind = kv_host->str_format("%.*s", (int)(slash - object), object);
            kv_host->map_set(counts, kind,
                             kv_host->value_int(kv_host->map_get_int(counts, kind, 0) + 1));
            kv_host->mem_free(kind);
            items++;
        }
        kv_host->value_free(resp);
        if (st == RB_OK && kv_host->progress(ctx, i + 1, n))
            st = RB_ECANCELED;
    }
    if (st == RB_OK && items == 0) {
        kv_host->set_error(ctx, "vault %s has nothing to back up", vault);
        st = RB_ENOTFOUND;
    }
    if (st == RB_OK && RB_HOST_HAS(kv_host, json_encode)) {
        char *text = kv_host->json_encode(index);
        if (text)
            kv_host->map_set(objects, KV_INDEX_OBJECT, kv_host->value_string(text));
        kv_host->mem_free(text);
    }
    kv_host->value_free(index);
    /* Where the vault is: a restore is allowed only into its geography. */
    if (st == RB_OK && RB_HOST_HAS(kv_host, json_encode)) {
        char *id = kv_vault_id(args);
        rb_value *res = NULL;
        if (kv_host->arm_call(ctx, "GET", id, KV_ARM_API, NULL, &res, NULL) == RB_OK) {
            rb_value *rec = kv_host->value_map();
            kv_host->map_set(rec, "id", kv_host->value_string(kv_host->map_get_string(res, "id", id)));
            kv_host->map_set(rec, "location",
                             kv_host->value_string(kv_host->map_get_string(res, "location", "")));
            char *text = kv_host->json_encode(rec);
            if (text)
                kv_host->map_set(objects, KV_VAULT_OBJECT, kv_host->value_string(text));
            kv_host->mem_free(text);
            kv_host->value_free(rec);
        } else {
            kv_host->log(ctx, RB_LOG_WARN, "vault %s: its location could not be read; the set "
                                           "will not record it", vault);
        }
        kv_host->value_free(res);
        kv_host->mem_free(id);
    }
    rb_value *set = NULL;
    if (st == RB_OK) {
        char *id = kv_vault_id(args);
        st = kv_host->backup_put(ctx, id, "keyvault", objects, &set);
        kv_host->mem_free(id);
    }
    kv_host->value_free(objects);
    if (st != RB_OK) {
        kv_host->value_free(counts);
        return st;
    }
    rb_value *o = kv_host->value_map();
    kv_host->map_set(o, "set_id", kv_host->value_copy(kv_host->map_get(set, "set_id")));
    kv_host->map_set(o, "items", kv_host->value_int(items));
    kv_host->map_set(o, "bytes", kv_host->value_copy(kv_host->map_get(set, "bytes")));
    kv_host->map_set(o, "counts", counts);
    kv_host->value_free(set);
    *out = o;
    return RB_OK;
}

rb_status kv_backup_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    (void)args;
    rb_value *o = kv_host->value_map();
    kv_host->map_set(o, "set_id", kv_host->value_string("(the new backup set)"));
    kv_host->map_set(o, "items", kv_host->value_int(0));
    kv_host->map_set(o, "bytes", kv_host->value_int(0));
    kv_host->map_set(o, "counts", kv_host->value_map());
    *out = o;
    return RB_OK;
}

/* The set to restore: set_id, or the newest set of `source` (a vault id). */
static rb_status find_set(rb_ctx *ctx, const rb_value *args, rb_value **found)
{
    const char *set_id = kv_host->map_get_string(args, "set_id", "");
    const char *source = kv_host->map_get_string(args, "source", "");
    rb_value *sets = NULL;
    rb_status st = kv_host->backup_list(ctx, *source ? source : NULL, "keyvault", &sets);
    if (st != RB_OK)
        return st;
    for (size_t i = 0; i < kv_host->value_len(sets); i++) {
        const rb_value *s = kv_host->list_get(sets, i);
        if (!*set_id || strcmp(kv_host->map_get_string(s, "set_id", ""), set_id) == 0) {
            *found = kv_host->value_copy(s);
            kv_host->value_free(sets);
            return RB_OK;
        }
    }
    kv_host->value_free(sets);
    kv_host->set_error(ctx, "no Key Vault backup set %s%s%s in the backup vault",
                       *set_id ? set_id : "", *set_id ? "" : "of ", *set_id ? "" : source);
    return RB_ENOTFOUND;
}

/* Key Vault restores a backup only into the same subscription (and
 * geography): a set from another subscription is refused before anything
 * is sent, also in plan mode. */
static int same_subscription(const char *source_id, const char *subscription)
{
    static const char prefix[] = "/subscriptions/";
    size_t p = sizeof prefix - 1, n = strlen(subscription);
    return source_id && strncasecmp(source_id, prefix, p) == 0 &&
           strncasecmp(source_id + p, subscription, n) == 0 && source_id[p + n] == '/';
}

static rb_status check_subscription(rb_ctx *ctx, const rb_value *args, const char *source_id)
{
    const char *sub = kv_host->map_get_string(args, "subscription", "");
    if (!source_id || !*source_id || same_subscription(source_id, sub))
        return RB_OK;
    kv_host->set_error(ctx, "a Key Vault backup restores only into the subscription it came from: "
                            "%s is not in subscription %s",
                       source_id, sub);
    return RB_EINVAL;
}

/* The location of an ARM resource, or "" (into buf). */
static void location_of(rb_ctx *ctx, const char *id, char *buf, size_t len)
{
    buf[0] = '\0';
    rb_value *res = NULL;
    if (id && *id && kv_host->arm_call(ctx, "GET", id, KV_ARM_API, NULL, &res, NULL) == RB_OK)
        snprintf(buf, len, "%s", kv_host->map_get_string(res, "location", ""));
    kv_host->value_free(res);
}

/* The backed-up vault's location: recorded in the set (vault.json), else
 * the source vault's own if it still exists. */
static void source_location(rb_ctx *ctx, const char *set_id, const char *source_id, char *buf,
                            size_t len)
{
    buf[0] = '\0';
    rb_value *data = NULL, *rec = NULL;
    if (set_id && *set_id && RB_HOST_HAS(kv_host, json_decode) &&
        kv_host->backup_get(ctx, set_id, KV_VAULT_OBJECT, &data) == RB_OK) {
        size_t n = 0;
        const char *t = kv_host->value_as_bytes(data, &n);
        if (kv_host->json_decode(t, n, &rec) == RB_OK)
            snprintf(buf, len, "%s", kv_host->map_get_string(rec, "location", ""));
    }
    kv_host->value_free(data);
    kv_host->value_free(rec);
    if (!buf[0])
        location_of(ctx, source_id, buf, len);
}

/* Key Vault restores a backup only into the geography it came from: a
 * target elsewhere is refused before anything is sent, also in plan mode.
 * When either location is unknown the service decides. */
static rb_status check_geography(rb_ctx *ctx, const rb_value *args, const char *set_id,
                                 const char *source_id)
{
    char from[64], to[64];
    source_location(ctx, set_id, source_id, from, sizeof from);
    char *target = kv_vault_id(args);
    location_of(ctx, target, to, sizeof to);
    kv_host->mem_free(target);
    const char *gf = kv_geography(from), *gt = kv_geography(to);
    if (!gf || !gt || strcmp(gf, gt) == 0)
        return RB_OK;
    kv_host->set_error(ctx, "a Key Vault backup restores only into the geography it came from: "
                            "%s (%s) is not in %s, where the backup was made (%s)",
                       to, gt, gf, from);
    return RB_EINVAL;
}

rb_status kv_restore(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const char *vault = kv_host->map_get_string(args, "name", "");
    if (!*kv_host->map_get_string(args, "set_id", "") && !*kv_host->map_get_string(args, "source", "")) {
        kv_host->set_error(ctx, "give set_id, or source (the backed-up vault's id) for its newest set");
        return RB_EINVAL;
    }
    rb_value *set = NULL;
    rb_status st = find_set(ctx, args, &set);
    if (st == RB_OK)
        st = check_subscription(ctx, args, kv_host->map_get_string(set, "source_id", ""));
    if (st == RB_OK)
        st = check_geography(ctx, args, kv_host->map_get_string(set, "set_id", ""),
                             kv_host->map_get_string(set, "source_id", ""));
    if (st != RB_OK) {
        kv_host->value_free(set);
        return st;
    }
    const char *set_id = kv_host->map_get_string(set, "set_id", "");
    const rb_value *names = kv_host->map_get(set, "names");
    int64_t restored = 0, recovered = 0;
    rb_value *conflicts = kv_host->value_list();
    size_t n = kv_host->value_len(names);
    for (size_t i = 0; i < n && st == RB_OK; i++) {
        const char *object = kv_host->value_as_string(kv_host->list_get(names, i));
        const char *slash = object ? strchr(object, '/') : NULL;
        if (!slash)
            continue;
        char *kind = kv_host->str_format("%.*s", (int)(slash - object), object);
        const char *item = slash + 1;
        rb_value *blob = NULL;
        st = kv_host->backup_get(ctx, set_id, object, &blob);
        if (st == RB_OK) {
            size_t len = 0;
            const char *text = kv_host->value_as_bytes(blob, &len);
            rb_value *body = kv_host->value_map();
            kv_host->map_set(body, "value", kv_host->value_string(text ? text : ""));
            char *path = kv_host->str_format("/%s/restore", kind);
            st = kv_host->vault_call(ctx, vault, "POST", path, KV_DATA_API, body, NULL, NULL);
            kv_host->mem_free(path);
            kv_host->value_free(body);
            if (st == RB_OK) {
                restored++;
            } else if (st == RB_ECONFLICT || st == RB_EEXISTS) {
                /* Soft-deleted in the target: recover it; live: a conflict
                 * that is reported, never overwritten. */
                char *rpath = kv_host->str_format("/deleted%s/%s/recover", kind, item);
                st = kv_host->vault_call(ctx, vault, "POST", rpath, KV_DATA_API, NULL, NULL, NULL);
                kv_host->mem_free(rpath);
                if (st == RB_OK) {
                    recovered++;
                } else if (st == RB_ENOTFOUND) {
                    kv_host->list_append(conflicts, kv_host->value_string(object));
                    st = RB_OK;
                }
            }
        }
        kv_host->value_free(blob);
        kv_host->mem_free(kind);
        if (st == RB_OK && kv_host->progress(ctx, i + 1, n))
            st = RB_ECANCELED;
    }
    if (st != RB_OK) {
        kv_host->value_free(conflicts);
        kv_host->value_free(set);
        return st;
    }
    rb_value *o = kv_host->value_map();
    kv_host->map_set(o, "set_id", kv_host->value_string(set_id));
    kv_host->map_set(o, "restored", kv_host->value_int(restored));
    kv_host->map_set(o, "recovered", kv_host->value_int(recovered));
    kv_host->map_set(o, "conflicts", conflicts);
    kv_host->value_free(set);
    *out = o;
    return RB_OK;
}

rb_status kv_restore_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_status st = check_subscription(ctx, args, kv_host->map_get_string(args, "source", ""));
    if (st == RB_OK)
        st = check_geography(ctx, args, kv_host->map_get_string(args, "set_id", ""),
                             kv_host->map_get_string(args, "source", ""));
    if (st != RB_OK)
        return st;
    rb_value *o = kv_host->value_map();
    kv_host->map_set(o, "set_id",
                     kv_host->value_string(kv_host->map_get_string(args, "set_id", "(newest)")));
    kv_host->map_set(o, "restored", kv_host->value_int(0));
    kv_host->map_set(o, "recovered", kv_host->value_int(0));
    kv_host->map_set(o, "conflicts", kv_host->value_list());
    *out = o;
    return RB_OK;
}
