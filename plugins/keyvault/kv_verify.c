/* keyvault.verify_backup and keyvault.compare: the proof a recovery needs. */
#include <string.h>

#include "kv.h"

static const char *const kinds[] = {"certificates", "keys", "secrets"};

/* "kind/name" of every live, unmanaged item of a vault. */
static rb_status live_objects(rb_ctx *ctx, const char *vault, rb_value **objects)
{
    *objects = kv_host->value_list();
    for (size_t k = 0; k < 3; k++) {
        rb_value *items = NULL;
        char *path = kv_host->str_format("/%s", kinds[k]);
        rb_status st = kv_list_all(ctx, vault, path, &items);
        kv_host->mem_free(path);
        if (st != RB_OK) {
            kv_host->value_free(*objects);
            *objects = NULL;
            return st;
        }
        const char *id_field = strcmp(kinds[k], "keys") == 0 ? "kid" : "id";
        for (size_t i = 0; i < kv_host->value_len(items); i++) {
            const rb_value *item = kv_host->list_get(items, i);
            if (kv_host->map_get_bool(item, "managed", 0))
                continue;
            rb_value *name = kv_id_segment(kv_host->map_get_string(item, id_field, NULL), 0);
            if (kv_host->value_as_string(name)) {
                char *o = kv_host->str_format("%s/%s", kinds[k], kv_host->value_as_string(name));
                kv_host->list_append(*objects, kv_host->value_string(o));
                kv_host->mem_free(o);
            }
            kv_host->value_free(name);
        }
        kv_host->value_free(items);
    }
    return RB_OK;
}

static int contains(const rb_value *list, const char *s)
{
    for (size_t i = 0; i < kv_host->value_len(list); i++) {
        const char *x = kv_host->value_as_string(kv_host->list_get(list, i));
        if (x && strcmp(x, s) == 0)
            return 1;
    }
    return 0;
}

/* Items of `want` missing from `have`, as a new list. */
static rb_value *missing_from(const rb_value *want, const rb_value *have)
{
    rb_value *m = kv_host->value_list();
    for (size_t i = 0; i < kv_host->value_len(want); i++) {
        const char *x = kv_host->value_as_string(kv_host->list_get(want, i));
        if (x && !contains(have, x))
            kv_host->list_append(m, kv_host->value_string(x));
    }
    return m;
}

rb_status kv_verify_backup(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const char *vault = kv_host->map_get_string(args, "name", "");
    int64_t rpo_minutes = kv_host->map_get_int(args, "rpo_minutes", 1440);
    int64_t now = kv_host->map_get_int(args, "now", 0);
    char *id = kv_vault_id(args);
    rb_value *sets = NULL;
    rb_status st = kv_host->backup_list(ctx, id, "keyvault", &sets);
    kv_host->mem_free(id);
    if (st != RB_OK)
        return st;
    rb_value *live = NULL;
    st = live_objects(ctx, vault, &live);
    if (st != RB_OK) {
        kv_host->value_free(sets);
        return st;
    }
    const rb_value *newest = kv_host->list_get(sets, 0);
    rb_value *o = kv_host->value_map();
    rb_value *missing;
    if (!newest) {
        missing = kv_host->value_copy(live);
        kv_host->map_set(o, "set_id", kv_host->value_null());
        kv_host->map_set(o, "age_minutes", kv_host->value_null());
    } else {
        missing = missing_from(live, kv_host->map_get(newest, "names"));
        int64_t created = kv_host->map_get_int(newest, "created_s", 0);
        kv_host->map_set(o, "set_id", kv_host->value_copy(kv_host->map_get(newest, "set_id")));
        kv_host->map_set(o, "age_minutes",
                         kv_host->value_int(now > created ? (now - created) / 60 : 0));
    }
    int64_t age = kv_host->map_get_int(o, "age_minutes", -1);
    int within = newest && age >= 0 && age <= rpo_minutes;
    kv_host->map_set(o, "rpo_minutes", kv_host->value_int(rpo_minutes));
    kv_host->map_set(o, "within_rpo", kv_host->value_bool(within));
    kv_host->map_set(o, "missing", missing);
    kv_host->map_set(o, "ok", kv_host->value_bool(within && kv_host->value_len(missing) == 0));
    kv_host->value_free(live);
    kv_host->value_free(sets);
    *out = o;
    return RB_OK;
}

/* ---- compare ------------------------------------------------------------- */

/* Deep equality; maps compare by key whatever their order (a service may
 * return the same tags in another order). */
static int values_equal(const rb_value *a, const rb_value *b)
{
    rb_value_type t = kv_host->value_type(a);
    if (t != kv_host->value_type(b))
        return 0;
    size_t n = kv_host->value_len(a);
    switch (t) {
    case RB_VMAP:
        if (n != kv_host->value_len(b))
            return 0;
        for (size_t i = 0; i < n; i++) {
            const rb_value *other = kv_host->map_get(b, kv_host->map_key_at(a, i));
            if (!other || !values_equal(kv_host->map_value_at(a, i), other))
                return 0;
        }
        return 1;
    case RB_VLIST:
        if (n != kv_host->value_len(b))
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!values_equal(kv_host->list_get(a, i), kv_host->list_get(b, i)))
                return 0;
        return 1;
    default: {
        char *ta = kv_host->json_encode(a), *tb = kv_host->json_encode(b);
        int eq = ta && tb && strcmp(ta, tb) == 0;
        kv_host->mem_free(ta);
        kv_host->mem_free(tb);
        return eq;
    }
    }
}

/* "kind/name: field" for every field of want that have lacks or differs. */
static void diff_item(const char *object, const rb_value *want, const rb_value *have,
                      rb_value *differences)
{
    for (size_t i = 0; i < kv_host->value_len(want); i++) {
        const char *field = kv_host->map_key_at(want, i);
        if (!values_equal(kv_host->map_value_at(want, i), kv_host->map_get(have, field))) {
            char *d = kv_host->str_format("%s: %s", object, field);
            kv_host->list_append(differences, kv_host->value_string(d));
            kv_host->mem_free(d);
        }
    }
}

/* The part of an item that proves its content: a secret's value (compared
 * here, in memory, and forgotten), a key's public part, a certificate's
 * thumbprint. The caller frees it. */
static rb_status content_of(rb_ctx *ctx, const char *vault, const char *kind, const char *name,
                            rb_value **out)
{
    *out = NULL;
    char *path = kv_host->str_format("/%s/%s", kind, name);
    rb_value *resp = NULL;
    rb_status st = kv_host->vault_call(ctx, vault, "GET", path, KV_DATA_API, NULL, &resp, NULL);
    kv_host->mem_free(path);
    if (st != RB_OK)
        return st;
    const rb_value *part = strcmp(kind, "secrets") == 0  ? kv_host->map_get(resp, "value")
                           : strcmp(kind, "keys") == 0   ? kv_host->map_get(resp, "key")
                                                         : kv_host->map_get(resp, "x5t");
    rb_value *copy = kv_host->value_copy(part);
    if (strcmp(kind, "keys") == 0) /* the key id names the vault: compare the material */
        kv_host->map_set(copy, "kid", kv_host->value_null());
    *out = copy;
    kv_host->value_free(resp);
    return RB_OK;
}

rb_status kv_compare(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const char *vault = kv_host->map_get_string(args, "name", "");
    const char *set_id = kv_host->map_get_string(args, "set_id", "");
    const char *values_from = kv_host->map_get_string(args, "values_from", "");
    rb_value *sets = NULL;
    rb_status st = kv_host->backup_list(ctx, NULL, "keyvault", &sets);
    if (st != RB_OK)
        return st;
    const rb_value *set = NULL;
    for (size_t i = 0; i < kv_host->value_len(sets) && !set; i++)
        if (strcmp(kv_host->map_get_string(kv_host->list_get(sets, i), "set_id", ""), set_id) == 0)
            set = kv_host->list_get(sets, i);
    if (!set) {
        kv_host->value_free(sets);
        kv_host->set_error(ctx, "no Key Vault backup set %s", set_id);
        return RB_ENOTFOUND;
    }
    /* The items of the set (objects "kind/name"; index.json is not one). */
    rb_value *want = kv_host->value_list();
    const rb_value *names = kv_host->map_get(set, "names");
    int has_index = 0;
    for (size_t i = 0; i < kv_host->value_len(names); i++) {
        const char *n = kv_host->value_as_string(kv_host->list_get(names, i));
        if (n && strchr(n, '/'))
            kv_host->list_append(want, kv_host->value_string(n));
        has_index |= n && strcmp(n, KV_INDEX_OBJECT) == 0;
    }
    rb_value *live = NULL, *index = NULL, *live_index = NULL;
    rb_value *differences = kv_host->value_list(), *values_differ = kv_host->value_list();
    int64_t values_checked = 0;
    if (has_index && RB_HOST_HAS(kv_host, json_decode)) {
        rb_value *text = NULL;
        st = kv_host->backup_get(ctx, set_id, KV_INDEX_OBJECT, &text);
        size_t len = 0;
        const char *t = st == RB_OK ? kv_host->value_as_bytes(text, &len) : NULL;
        if (st == RB_OK && kv_host->json_decode(t, len, &index) != RB_OK) {
            kv_host->set_error(ctx, "set %s: %s is not JSON", set_id, KV_INDEX_OBJECT);
            st = RB_ECORRUPT;
        }
        kv_host->value_free(text);
        /* The restored vault's index names its items too: one listing. */
        if (st == RB_OK)
            st = kv_index(ctx, vault, &live_index);
        if (st == RB_OK) {
            live = kv_host->value_list();
            for (size_t i = 0; i < kv_host->value_len(live_index); i++)
                kv_host->list_append(live, kv_host->value_string(kv_host->map_key_at(live_index, i)));
        }
    } else {
        st = live_objects(ctx, vault, &live);
    }
    rb_value *missing = st == RB_OK ? missing_from(want, live) : NULL;
    for (size_t i = 0; st == RB_OK && index && i < kv_host->value_len(index); i++) {
        const char *object = kv_host->map_key_at(index, i);
        const rb_value *have = kv_host->map_get(live_index, object);
        if (have)
            diff_item(object, kv_host->map_value_at(index, i), have, differences);
    }
    /* Optional: the content itself, against the vault the set came from
     * (a drill, where it still exists), compared in memory only. */
    for (size_t i = 0; st == RB_OK && *values_from && i < kv_host->value_len(want); i++) {
        const char *object = kv_host->value_as_string(kv_host->list_get(want, i));
        if (contains(missing, object))
            continue;
        /* A disabled item's content cannot be read (Key Vault answers 403):
         * its attributes were compared above. */
        if (index && !kv_host->map_get_bool(kv_host->map_get(index, object), "enabled", 1))
            continue;
        const char *slash = strchr(object, '/');
        char *kind = kv_host->str_format("%.*s", (int)(slash - object), object);
        rb_value *a = NULL, *b = NULL;
        st = content_of(ctx, values_from, kind, slash + 1, &a);
        if (st == RB_ENOTFOUND) { /* gone from the source since: nothing to compare */
            st = RB_OK;
        } else if (st == RB_OK && (st = content_of(ctx, vault, kind, slash + 1, &b)) == RB_OK) {
            values_checked++;
            if (!values_equal(a, b))
                kv_host->list_append(values_differ, kv_host->value_string(object));
        }
        kv_host->value_free(a);
        kv_host->value_free(b);
        kv_host->mem_free(kind);
    }
    if (st != RB_OK) {
        kv_host->value_free(missing);
        kv_host->value_free(differences);
        kv_host->value_free(values_differ);
    } else {
        rb_value *o = kv_host->value_map();
        size_t bad = kv_host->value_len(missing) + kv_host->value_len(differences) +
                     kv_host->value_len(values_differ);
        kv_host->map_set(o, "set_id", kv_host->value_string(set_id));
        kv_host->map_set(o, "expected", kv_host->value_int((int64_t)kv_host->value_len(want)));
        kv_host->map_set(o, "present", kv_host->value_int((int64_t)kv_host->value_len(live)));
        kv_host->map_set(o, "equal", kv_host->value_bool(bad == 0));
        kv_host->map_set(o, "missing", missing);
        kv_host->map_set(o, "attributes_checked", kv_host->value_bool(index != NULL));
        kv_host->map_set(o, "differences", differences);
        kv_host->map_set(o, "values_checked", kv_host->value_int(values_checked));
        kv_host->map_set(o, "values_differ", values_differ);
        *out = o;
    }
    kv_host->value_free(live);
    kv_host->value_free(index);
    kv_host->value_free(live_index);
    kv_host->value_free(want);
    kv_host->value_free(sets);
    return st;
}
