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

rb_status kv_compare(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const char *vault = kv_host->map_get_string(args, "name", "");
    const char *set_id = kv_host->map_get_string(args, "set_id", "");
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
    rb_value *live = NULL;
    st = live_objects(ctx, vault, &live);
    if (st != RB_OK) {
        kv_host->value_free(sets);
        return st;
    }
    rb_value *missing = missing_from(kv_host->map_get(set, "names"), live);
    rb_value *o = kv_host->value_map();
    kv_host->map_set(o, "set_id", kv_host->value_string(set_id));
    kv_host->map_set(o, "expected", kv_host->value_int((int64_t)kv_host->value_len(kv_host->map_get(set, "names"))));
    kv_host->map_set(o, "present", kv_host->value_int((int64_t)kv_host->value_len(live)));
    kv_host->map_set(o, "equal", kv_host->value_bool(kv_host->value_len(missing) == 0));
    kv_host->map_set(o, "missing", missing);
    kv_host->value_free(live);
    kv_host->value_free(sets);
    *out = o;
    return RB_OK;
}
