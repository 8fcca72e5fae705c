/* keyvault: Key Vault protection checks and inventory, through the host's
 * Azure routines (plugin ABI 1.1). Backup, restore, recovery and drill
 * actions build on these once the backup vault lands (issue 6/7). */
#include <string.h>

#include "kv.h"

const rb_host_api *kv_host;

/* keyvault.properties: what protects the vault (ARM). */
static rb_status kv_properties(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    char *id = kv_vault_id(args);
    rb_value *body = NULL;
    rb_status st = kv_host->arm_call(ctx, "GET", id, KV_ARM_API, NULL, &body, NULL);
    kv_host->mem_free(id);
    if (st != RB_OK)
        return st;
    const rb_value *props = kv_host->map_get(body, "properties");
    const rb_value *acls = kv_host->map_get(props, "networkAcls");
    rb_value *o = kv_host->value_map();
    kv_host->map_set(o, "id", kv_host->value_string(kv_host->map_get_string(body, "id", "")));
    kv_host->map_set(o, "location",
                     kv_host->value_string(kv_host->map_get_string(body, "location", "")));
    kv_host->map_set(o, "vault_uri",
                     kv_host->value_string(kv_host->map_get_string(props, "vaultUri", "")));
    /* Absent means on: soft delete cannot be turned off on new vaults. */
    kv_host->map_set(o, "soft_delete",
                     kv_host->value_bool(kv_host->map_get_bool(props, "enableSoftDelete", 1)));
    kv_host->map_set(o, "retention_days",
                     kv_host->value_int(kv_host->map_get_int(props, "softDeleteRetentionInDays", 90)));
    kv_host->map_set(o, "purge_protection",
                     kv_host->value_bool(kv_host->map_get_bool(props, "enablePurgeProtection", 0)));
    kv_host->map_set(o, "rbac",
                     kv_host->value_bool(kv_host->map_get_bool(props, "enableRbacAuthorization", 0)));
    kv_host->map_set(o, "public_network_access",
                     kv_host->value_string(kv_host->map_get_string(props, "publicNetworkAccess",
                                                                   "Enabled")));
    kv_host->map_set(o, "network_default_action",
                     kv_host->value_string(kv_host->map_get_string(acls, "defaultAction", "Allow")));
    kv_host->value_free(body);
    *out = o;
    return RB_OK;
}

static const rb_field vault_params[] = {
    {.name = "subscription", .type = RB_TSTRING, .required = 1, .help = "subscription id"},
    {.name = "resource_group", .type = RB_TSTRING, .required = 1, .help = "resource group"},
    {.name = "name", .type = RB_TSTRING, .required = 1, .help = "vault name"},
    {0}};
static const rb_field inventory_params[] = {
    {.name = "subscription", .type = RB_TSTRING, .required = 1, .help = "subscription id"},
    {.name = "resource_group", .type = RB_TSTRING, .required = 1, .help = "resource group"},
    {.name = "name", .type = RB_TSTRING, .required = 1, .help = "vault name"},
    {.name = "include_deleted", .type = RB_TBOOL, .default_json = "true",
     .help = "also list soft-deleted items"},
    {0}};
static const rb_field recover_params[] = {
    {.name = "subscription", .type = RB_TSTRING, .required = 1, .help = "subscription id"},
    {.name = "resource_group", .type = RB_TSTRING, .required = 1, .help = "resource group"},
    {.name = "name", .type = RB_TSTRING, .required = 1, .help = "vault name"},
    {.name = "kind", .type = RB_TSTRING, .required = 1, .help = "secrets, keys or certificates"},
    {.name = "item", .type = RB_TSTRING, .required = 1, .help = "the item's name"},
    {0}};
static const rb_field recover_out[] = {
    {.name = "kind", .type = RB_TSTRING, .help = "secrets, keys or certificates"},
    {.name = "item", .type = RB_TSTRING, .help = "the item's name"},
    {.name = "recovered", .type = RB_TBOOL, .help = "the item is live"},
    {.name = "already_live", .type = RB_TBOOL, .help = "it was live before this call (resume)"},
    {0}};
static const rb_field drill_vault_params[] = {
    {.name = "subscription", .type = RB_TSTRING, .required = 1, .help = "subscription id"},
    {.name = "resource_group", .type = RB_TSTRING, .required = 1, .help = "resource group"},
    {.name = "name", .type = RB_TSTRING, .required = 1, .help = "vault name"},
    {.name = "location", .type = RB_TSTRING, .required = 1, .help = "region"},
    {.name = "drill_id", .type = RB_TSTRING, .required = 1,
     .help = "the drill's run id, written to / checked against the rebound-drill tag"},
    {.name = "tenant", .type = RB_TSTRING, .default_json = "\"\"", .help = "tenant id (create)"},
    {0}};
static const rb_field drill_vault_out[] = {
    {.name = "id", .type = RB_TSTRING, .help = "ARM resource id"},
    {.name = "name", .type = RB_TSTRING, .help = "vault name"},
    {.name = "vault_uri", .type = RB_TSTRING, .help = "data-plane URL"},
    {0}};
static const rb_field purge_out[] = {
    {.name = "deleted", .type = RB_TBOOL, .help = "the vault was deleted"},
    {.name = "purged", .type = RB_TBOOL, .help = "and purged"},
    {.name = "note", .type = RB_TSTRING, .help = "what happened"},
    {0}};
static const rb_field backup_out[] = {
    {.name = "set_id", .type = RB_TSTRING, .help = "the backup set written"},
    {.name = "items", .type = RB_TINT, .help = "items backed up"},
    {.name = "bytes", .type = RB_TINT, .help = "bytes stored"},
    {.name = "counts", .type = RB_TMAP, .help = "items per kind"},
    {0}};
static const rb_field restore_params[] = {
    {.name = "subscription", .type = RB_TSTRING, .required = 1, .help = "subscription id"},
    {.name = "resource_group", .type = RB_TSTRING, .required = 1, .help = "resource group"},
    {.name = "name", .type = RB_TSTRING, .required = 1, .help = "the vault to restore into"},
    {.name = "set_id", .type = RB_TSTRING, .default_json = "\"\"", .help = "the set to restore"},
    {.name = "source", .type = RB_TSTRING, .default_json = "\"\"",
     .help = "or: the backed-up vault's resource id, for its newest set"},
    {0}};
static const rb_field restore_out[] = {
    {.name = "set_id", .type = RB_TSTRING, .help = "the set restored"},
    {.name = "restored", .type = RB_TINT, .help = "items restored"},
    {.name = "recovered", .type = RB_TINT, .help = "items that were soft-deleted and recovered"},
    {.name = "conflicts", .type = RB_TLIST, .help = "items live in the target: not overwritten"},
    {0}};
static const rb_field verify_params[] = {
    {.name = "subscription", .type = RB_TSTRING, .required = 1, .help = "subscription id"},
    {.name = "resource_group", .type = RB_TSTRING, .required = 1, .help = "resource group"},
    {.name = "name", .type = RB_TSTRING, .required = 1, .help = "vault name"},
    {.name = "rpo_minutes", .type = RB_TINT, .default_json = "1440",
     .help = "the newest backup may be at most this old"},
    {.name = "now", .type = RB_TINT, .required = 1, .help = "current time, Unix seconds (os.time())"},
    {0}};
static const rb_field verify_out[] = {
    {.name = "set_id", .type = RB_TANY, .help = "the newest set, or null"},
    {.name = "age_minutes", .type = RB_TANY, .help = "its age, or null"},
    {.name = "rpo_minutes", .type = RB_TINT, .help = "the RPO checked"},
    {.name = "within_rpo", .type = RB_TBOOL, .help = "newest set is recent enough"},
    {.name = "missing", .type = RB_TLIST, .help = "live items not in the newest set"},
    {.name = "ok", .type = RB_TBOOL, .help = "within the RPO and nothing missing"},
    {0}};
static const rb_field compare_params[] = {
    {.name = "subscription", .type = RB_TSTRING, .required = 1, .help = "subscription id"},
    {.name = "resource_group", .type = RB_TSTRING, .required = 1, .help = "resource group"},
    {.name = "name", .type = RB_TSTRING, .required = 1, .help = "the restored vault"},
    {.name = "set_id", .type = RB_TSTRING, .required = 1, .help = "the set it was restored from"},
    {.name = "values_from", .type = RB_TSTRING, .default_json = "\"\"",
     .help = "also compare contents with this vault (the source, in a drill): secret values "
             "in memory only, keys' public parts, certificates' thumbprints"},
    {0}};
static const rb_field compare_out[] = {
    {.name = "set_id", .type = RB_TSTRING, .help = "the set"},
    {.name = "expected", .type = RB_TINT, .help = "items in the set"},
    {.name = "present", .type = RB_TINT, .help = "items in the vault"},
    {.name = "equal", .type = RB_TBOOL, .help = "nothing missing, nothing different"},
    {.name = "missing", .type = RB_TLIST, .help = "items of the set that are not"},
    {.name = "attributes_checked", .type = RB_TBOOL,
     .help = "the set has an index: version counts, attributes and tags were compared"},
    {.name = "differences", .type = RB_TLIST, .help = "\"kind/name: field\" that differ"},
    {.name = "values_checked", .type = RB_TINT, .help = "items whose content was compared"},
    {.name = "values_differ", .type = RB_TLIST, .help = "items whose content differs"},
    {0}};
static const rb_field properties_out[] = {
    {.name = "id", .type = RB_TSTRING, .help = "ARM resource id"},
    {.name = "location", .type = RB_TSTRING, .help = "region"},
    {.name = "vault_uri", .type = RB_TSTRING, .help = "data-plane URL"},
    {.name = "soft_delete", .type = RB_TBOOL, .help = "soft delete is on"},
    {.name = "retention_days", .type = RB_TINT, .help = "soft-delete retention"},
    {.name = "purge_protection", .type = RB_TBOOL, .help = "purge protection is on"},
    {.name = "rbac", .type = RB_TBOOL, .help = "Azure RBAC authorization"},
    {.name = "public_network_access", .type = RB_TSTRING, .help = "Enabled or Disabled"},
    {.name = "network_default_action", .type = RB_TSTRING, .help = "Allow or Deny"},
    {0}};
static const rb_field inventory_out[] = {
    {.name = "vault", .type = RB_TSTRING, .help = "vault name"},
    {.name = "secrets", .type = RB_TLIST, .help = "name, enabled, tags, versions (no values)"},
    {.name = "keys", .type = RB_TLIST, .help = "name, enabled, tags, versions"},
    {.name = "certificates", .type = RB_TLIST, .help = "name, enabled, tags, versions"},
    {.name = "deleted", .type = RB_TMAP, .help = "soft-deleted secrets, keys, certificates"},
    {.name = "counts", .type = RB_TMAP, .help = "items and versions per kind, deleted"},
    {0}};

static const rb_action actions[] = {
    {.name = "properties", .summary = "Soft delete, purge protection, RBAC and network rules",
     .effect = RB_EFFECT_READ, .params = vault_params, .outputs = properties_out,
     .run = kv_properties},
    {.name = "inventory", .summary = "Secrets, keys and certificates with versions (never values)",
     .effect = RB_EFFECT_READ, .params = inventory_params, .outputs = inventory_out,
     .run = kv_inventory},
    {.name = "recover_deleted", .summary = "Recover a soft-deleted secret, key or certificate",
     .effect = RB_EFFECT_WRITE, .params = recover_params, .outputs = recover_out,
     .run = kv_recover_deleted, .plan = kv_recover_deleted_plan},
    {.name = "create_drill_vault", .summary = "Create a scratch vault tagged with the drill's id",
     .effect = RB_EFFECT_WRITE, .params = drill_vault_params, .outputs = drill_vault_out,
     .run = kv_create_drill_vault, .plan = kv_create_drill_vault_plan},
    {.name = "purge_drill_vault",
     .summary = "Delete and purge a vault, only if a drill with this id created it",
     .effect = RB_EFFECT_DESTRUCTIVE, .params = drill_vault_params, .outputs = purge_out,
     .run = kv_purge_drill_vault, .plan = kv_purge_drill_vault_plan},
    {.name = "backup", .summary = "Key Vault backups of every item, as one signed set in the backup vault",
     .effect = RB_EFFECT_WRITE, .params = vault_params, .outputs = backup_out, .run = kv_backup,
     .plan = kv_backup_plan},
    {.name = "restore",
     .summary = "Restore a set into a vault (same subscription and geography); never overwrites",
     .effect = RB_EFFECT_WRITE, .params = restore_params, .outputs = restore_out,
     .run = kv_restore, .plan = kv_restore_plan},
    {.name = "verify_backup", .summary = "Every live item is in a backup newer than the RPO",
     .effect = RB_EFFECT_READ, .params = verify_params, .outputs = verify_out,
     .run = kv_verify_backup},
    {.name = "compare", .summary = "A restored vault holds every item of the set, alike",
     .effect = RB_EFFECT_READ, .params = compare_params, .outputs = compare_out, .run = kv_compare},
};

static const rb_plugin plugin = {
    RB_PLUGIN_HEADER,
    .name = "keyvault",
    .version = "0.1.0",
    .description = "Azure Key Vault: protection checks, inventory, recovery of deleted items",
    RB_PLUGIN_ACTIONS(actions),
};

RB_PLUGIN_EXPORT int rb_plugin_init(const rb_host_api *h, const rb_plugin **out, char **errmsg)
{
    if (!RB_HOST_HAS(h, backup_get)) {
        *errmsg = h->str_dup("keyvault needs a host with plugin ABI 1.2 (Azure and backup routines)");
        return RB_EABI;
    }
    kv_host = h;
    *out = &plugin;
    return RB_OK;
}
