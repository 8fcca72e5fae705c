/* The scratch vault of a drill: created with a tag naming the drill, and
 * purged only when that tag is there, so these actions can never touch a
 * vault a drill did not create. */
#include <string.h>

#include "kv.h"

#define DRILL_TAG "rebound-drill"

static rb_value *vault_outputs(const rb_value *body)
{
    const rb_value *props = kv_host->map_get(body, "properties");
    rb_value *o = kv_host->value_map();
    kv_host->map_set(o, "id", kv_host->value_string(kv_host->map_get_string(body, "id", "")));
    kv_host->map_set(o, "name", kv_host->value_string(kv_host->map_get_string(body, "name", "")));
    kv_host->map_set(o, "vault_uri",
                     kv_host->value_string(kv_host->map_get_string(props, "vaultUri", "")));
    return o;
}

rb_status kv_create_drill_vault(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    char *id = kv_vault_id(args);
    rb_value *body = kv_host->value_map();
    kv_host->map_set(body, "location",
                     kv_host->value_string(kv_host->map_get_string(args, "location", "")));
    rb_value *tags = kv_host->value_map();
    kv_host->map_set(tags, DRILL_TAG,
                     kv_host->value_string(kv_host->map_get_string(args, "drill_id", "")));
    kv_host->map_set(body, "tags", tags);
    rb_value *props = kv_host->value_map();
    rb_value *sku = kv_host->value_map();
    kv_host->map_set(sku, "family", kv_host->value_string("A"));
    kv_host->map_set(sku, "name", kv_host->value_string("standard"));
    kv_host->map_set(props, "sku", sku);
    kv_host->map_set(props, "tenantId",
                     kv_host->value_string(kv_host->map_get_string(args, "tenant", "")));
    /* A scratch vault: soft delete (always on), shortest retention, and no
     * purge protection so the drill can clean up after itself. */
    kv_host->map_set(props, "softDeleteRetentionInDays", kv_host->value_int(7));
    kv_host->map_set(props, "enableRbacAuthorization", kv_host->value_bool(1));
    kv_host->map_set(body, "properties", props);
    rb_value *resp = NULL;
    rb_status st = kv_host->arm_call(ctx, "PUT", id, KV_ARM_API, body, &resp, NULL);
    kv_host->value_free(body);
    kv_host->mem_free(id);
    if (st != RB_OK)
        return st;
    *out = vault_outputs(resp);
    kv_host->value_free(resp);
    return RB_OK;
}

rb_status kv_create_drill_vault_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    char *id = kv_vault_id(args);
    rb_value *o = kv_host->value_map();
    kv_host->map_set(o, "id", kv_host->value_string(id));
    kv_host->map_set(o, "name", kv_host->value_string(kv_host->map_get_string(args, "name", "")));
    kv_host->map_set(o, "vault_uri", kv_host->value_string("(created by the drill)"));
    kv_host->mem_free(id);
    *out = o;
    return RB_OK;
}

static rb_value *purge_outputs(int deleted, int purged, const char *note)
{
    rb_value *o = kv_host->value_map();
    kv_host->map_set(o, "deleted", kv_host->value_bool(deleted));
    kv_host->map_set(o, "purged", kv_host->value_bool(purged));
    kv_host->map_set(o, "note", kv_host->value_string(note));
    return o;
}

rb_status kv_purge_drill_vault(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const char *drill = kv_host->map_get_string(args, "drill_id", "");
    char *id = kv_vault_id(args);
    rb_value *vault = NULL;
    rb_status st = kv_host->arm_call(ctx, "GET", id, KV_ARM_API, NULL, &vault, NULL);
    if (st == RB_OK) {
        const char *tag = kv_host->map_get_string(kv_host->map_get(vault, "tags"), DRILL_TAG, NULL);
        if (!tag || !*drill || strcmp(tag, drill) != 0) {
            kv_host->set_error(ctx, "refusing to delete vault %s: it is not tagged %s=%s, so this "
                                    "drill did not create it",
                               kv_host->map_get_string(args, "name", ""), DRILL_TAG, drill);
            kv_host->value_free(vault);
            kv_host->mem_free(id);
            return RB_EDENIED;
        }
        kv_host->value_free(vault);
        st = kv_host->arm_call(ctx, "DELETE", id, KV_ARM_API, NULL, NULL, NULL);
    } else if (st == RB_ENOTFOUND) {
        st = RB_OK; /* deleted by an earlier attempt: go on to the purge */
    }
    kv_host->mem_free(id);
    if (st != RB_OK)
        return st;
    char *purge = kv_host->str_format("/subscriptions/%s/providers/Microsoft.KeyVault/locations/%s/"
                                      "deletedVaults/%s/purge",
                                      kv_host->map_get_string(args, "subscription", ""),
                                      kv_host->map_get_string(args, "location", ""),
                                      kv_host->map_get_string(args, "name", ""));
    st = kv_host->arm_call(ctx, "POST", purge, KV_ARM_API, NULL, NULL, NULL);
    kv_host->mem_free(purge);
    if (st == RB_OK) {
        *out = purge_outputs(1, 1, "deleted and purged");
    } else if (st == RB_ENOTFOUND) {
        *out = purge_outputs(1, 1, "already purged");
        st = RB_OK;
    }
    return st;
}

rb_status kv_purge_drill_vault_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    (void)args;
    *out = purge_outputs(1, 1, "would delete and purge the drill's scratch vault");
    return RB_OK;
}
