/* keyvault.recover_deleted: brings a soft-deleted secret, key or
 * certificate back. Idempotent, as a resumed run needs: an item that is
 * already live again counts as recovered. */
#include <string.h>

#include "kv.h"

static int valid_kind(const char *kind)
{
    return strcmp(kind, "secrets") == 0 || strcmp(kind, "keys") == 0 ||
           strcmp(kind, "certificates") == 0;
}

static rb_value *outputs(const char *kind, const char *item, int already)
{
    rb_value *o = kv_host->value_map();
    kv_host->map_set(o, "kind", kv_host->value_string(kind));
    kv_host->map_set(o, "item", kv_host->value_string(item));
    kv_host->map_set(o, "recovered", kv_host->value_bool(1));
    kv_host->map_set(o, "already_live", kv_host->value_bool(already));
    return o;
}

rb_status kv_recover_deleted(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const char *vault = kv_host->map_get_string(args, "name", "");
    const char *kind = kv_host->map_get_string(args, "kind", "");
    const char *item = kv_host->map_get_string(args, "item", "");
    if (!valid_kind(kind)) {
        kv_host->set_error(ctx, "kind must be secrets, keys or certificates, not \"%s\"", kind);
        return RB_EINVAL;
    }
    char *path = kv_host->str_format("/deleted%s/%s/recover", kind, item);
    rb_value *body = NULL;
    rb_status st = kv_host->vault_call(ctx, vault, "POST", path, KV_DATA_API, NULL, &body, NULL);
    kv_host->mem_free(path);
    kv_host->value_free(body); /* never keep a bundle: it may carry a value */
    if (st == RB_OK) {
        *out = outputs(kind, item, 0);
        return RB_OK;
    }
    if (st != RB_ENOTFOUND)
        return st;
    /* Not in the deleted collection: recovered by an earlier attempt, or
     * never deleted. Live means done; otherwise it is truly gone. */
    char *live = kv_host->str_format("/%s/%s", kind, item);
    rb_value *probe = NULL;
    st = kv_host->vault_call(ctx, vault, "GET", live, KV_DATA_API, NULL, &probe, NULL);
    kv_host->mem_free(live);
    kv_host->value_free(probe);
    if (st == RB_OK) {
        *out = outputs(kind, item, 1);
        return RB_OK;
    }
    if (st == RB_ENOTFOUND)
        kv_host->set_error(ctx, "%s/%s is neither soft-deleted nor live in vault %s: it was purged "
                                "or never existed; restore it from a backup",
                           kind, item, vault);
    return st;
}

rb_status kv_recover_deleted_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    *out = outputs(kv_host->map_get_string(args, "kind", ""), kv_host->map_get_string(args, "item", ""),
                   0);
    return RB_OK;
}
