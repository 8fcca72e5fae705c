/* The Key Vault plugin: shared declarations. Actions live one per file;
 * they reach ARM and the vault's data plane only through the host table. */
#ifndef REBOUND_PLUGIN_KEYVAULT_H
#define REBOUND_PLUGIN_KEYVAULT_H

#include <rebound/rebound.h>

/* ARM api-version for Microsoft.KeyVault/vaults, and the data plane's. */
#define KV_ARM_API "2023-07-01"
#define KV_DATA_API "7.5"

extern const rb_host_api *kv_host;

/* "/subscriptions/S/resourceGroups/RG/providers/Microsoft.KeyVault/vaults/N"
 * from the args (subscription, resource_group, name); malloc'd with the
 * host (free with kv_host->mem_free). */
char *kv_vault_id(const rb_value *args);

/* GETs every page of a data-plane collection (following nextLink, which
 * is an absolute URL on the vault: its path and query are reused) and
 * appends each element of "value" to *items (a list it creates). */
rb_status kv_list_all(rb_ctx *ctx, const char *vault, const char *path, rb_value **items);

/* The last path segment of an id URL ("https://v.../secrets/NAME/VER"):
 * segment 0 = last. Returns a new string value or null. */
rb_value *kv_id_segment(const char *id, int from_end);

/* The vault's items as compare checks them: a new map "kind/name" ->
 * {versions, enabled, expires, not_before, content_type, tags}, without the
 * key and secret Key Vault manages for each certificate; certificates,
 * then keys, then secrets (the order backup stores them in). */
rb_status kv_index(rb_ctx *ctx, const char *vault, rb_value **index);
/* The object of a backup set that holds that index (JSON). */
#define KV_INDEX_OBJECT "index.json"

/* The Azure geography of a region ("West Europe" or "westeurope" ->
 * "Europe"), or NULL when the region is not known here (kv_geo.c). */
const char *kv_geography(const char *region);
/* The object of a Key Vault backup set that records the vault it came from:
 * {id, location}. */
#define KV_VAULT_OBJECT "vault.json"

rb_status kv_inventory(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status kv_recover_deleted(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status kv_recover_deleted_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status kv_create_drill_vault(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status kv_create_drill_vault_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status kv_purge_drill_vault(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status kv_purge_drill_vault_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status kv_backup(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status kv_backup_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status kv_restore(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status kv_restore_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status kv_verify_backup(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status kv_compare(rb_ctx *ctx, const rb_value *args, rb_value **out);

#endif
