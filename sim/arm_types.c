/* Type-specific ARM behaviour on top of the generic engine (arm.c): the
 * dispatch to the provider families (arm_storage.c, arm_compute.c, sql.c)
 * and Key Vault's control plane (Microsoft.KeyVault/stable/2023-07-01,
 * keyvault.json): vaults with enableSoftDelete / softDeleteRetentionInDays /
 * enablePurgeProtection, createMode recover, deletedVaults list/get/purge.
 * Types without hooks (Site Recovery, ...) get generic CRUD; a few generic
 * actions are accepted as LROs. */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arm_family.h"

/* Tables resolved by az_sql_prepare between the PUT hook and after_put
 * (both run in one request, under az_g.mu). */
static cJSON *pending_sql_tables;

static cJSON *deleted_vaults(void) { return az_obj(az_g.st, "deleted_vaults"); }

static int vault_put(az_req *r, az_resp *p, const char *id, const cJSON *body, cJSON *res,
                     cJSON *existing) {
  const char *name = r->seg[r->nseg - 1];
  char *lname = az_lower(name);
  cJSON *props = az_obj(res, "properties");
  cJSON *bp = cJSON_GetObjectItem(body, "properties");
  const char *mode = az_str(bp, "createMode");
  cJSON *del = cJSON_GetObjectItemCaseSensitive(deleted_vaults(), lname);
  int rc = 0;
  if (!existing && del && !az_ieq(mode, "recover")) {
    az_resp_error(p, 409, "ConflictError",
                  "A vault with the same name already exists in deleted state. You need to either "
                  "recover or purge existing key vault. Follow this link "
                  "https://go.microsoft.com/fwlink/?linkid=2149745 for more information on soft "
                  "delete.");
    rc = -1;
  } else if (!existing && az_ieq(mode, "recover")) {
    if (!del) {
      az_resp_error(p, 404, "DeletedVaultNotFound", "The deleted vault '%s' could not be found.", name);
      rc = -1;
    } else {
      cJSON *old = cJSON_GetObjectItem(del, "_res");
      az_set(res, "properties", cJSON_Duplicate(cJSON_GetObjectItem(old, "properties"), 1));
      props = az_obj(res, "properties");
      cJSON *ks = az_kv_store(lname, false);
      if (ks) az_set_bool(ks, "deleted", false);
      cJSON_DeleteItemFromObjectCaseSensitive(deleted_vaults(), lname);
    }
  }
  if (rc == 0 && existing) {
    cJSON *oldp = cJSON_GetObjectItem(cJSON_GetObjectItem(existing, "res"), "properties");
    if (az_bool(oldp, "enablePurgeProtection", false) && !az_bool(props, "enablePurgeProtection", true)) {
      az_resp_error(p, 400, "BadRequest",
                    "The property \"enablePurgeProtection\" cannot be set to false. Enabling the "
                    "purge protection for a vault is an irreversible action.");
      rc = -1;
    } else if (az_bool(oldp, "enableSoftDelete", true) && !az_bool(props, "enableSoftDelete", true)) {
      az_resp_error(p, 400, "BadRequest",
                    "The property \"enableSoftDelete\" cannot be set to false. Enabling the 'soft "
                    "delete' functionality is an irreversible action.");
      rc = -1;
    }
  }
  double days = az_num(props, "softDeleteRetentionInDays", 90);
  if (rc == 0 && (days < 7 || days > 90)) {
    az_resp_error(p, 400, "BadRequest", "The property \"softDeleteRetentionInDays\" must be between 7 and 90.");
    rc = -1;
  }
  if (rc == 0) {
    cJSON_DeleteItemFromObject(props, "createMode");
    if (!cJSON_GetObjectItem(props, "enableSoftDelete")) az_set_bool(props, "enableSoftDelete", true);
    az_set_num(props, "softDeleteRetentionInDays", days);
    if (!cJSON_GetObjectItem(props, "tenantId"))
      az_set_str(props, "tenantId", az_str(az_sub_get(r->seg[1]), "tenantId"));
    if (!cJSON_GetObjectItem(props, "sku")) {
      cJSON *sku = cJSON_CreateObject();
      cJSON_AddStringToObject(sku, "family", "A");
      cJSON_AddStringToObject(sku, "name", "standard");
      az_set(props, "sku", sku);
    }
    if (!cJSON_GetObjectItem(props, "accessPolicies")) az_set(props, "accessPolicies", cJSON_CreateArray());
    char *uri = az_strdupf("%s://%s.%s:%d/", az_g.tls ? "https" : "http", lname, az_g.kv_suffix, az_g.port);
    az_set_str(props, "vaultUri", uri);
    free(uri);
  }
  free(lname);
  return rc;
}

int az_type_put(az_req *r, az_resp *p, const char *id, const char *type, const cJSON *body,
                cJSON *res, cJSON *existing) {
  if (az_ieq(type, T_VAULT)) return vault_put(r, p, id, body, res, existing);
  if (strncasecmp(type, "microsoft.storage/", 18) == 0) return az_storage_put(r, p, id, type, res, existing);
  if (strncasecmp(type, "microsoft.compute/", 18) == 0) return az_compute_put(r, p, type, res, existing);
  if (az_ieq(type, T_SQLDB)) {
    cJSON_Delete(pending_sql_tables);
    pending_sql_tables = NULL;
    if (existing) return 0;
    return az_sql_prepare(r, p, cJSON_GetObjectItem(res, "properties"), &pending_sql_tables);
  }
  if (az_ieq(type, T_SQLDROPPED)) {
    az_resp_error(p, 405, "MethodNotAllowed", "restorableDroppedDatabases are read-only.");
    return -1;
  }
  return 0;
}

void az_type_after_put(az_req *r, const char *id, const char *type, cJSON *entry) {
  if (az_ieq(type, T_VAULT)) {
    char *l = az_lower(az_str(cJSON_GetObjectItem(entry, "res"), "name"));
    cJSON *ks = az_kv_store(l, true);
    az_set_str(ks, "sub", az_str(entry, "sub"));
    az_set_str(ks, "location", az_str(cJSON_GetObjectItem(entry, "res"), "location"));
    az_set_str(ks, "id", entry->string);
    free(l);
  } else if (strncasecmp(type, "microsoft.storage/", 18) == 0) {
    az_storage_after_put(id, type, entry);
  } else if (strncasecmp(type, "microsoft.compute/", 18) == 0) {
    az_compute_after_put(r, type, entry);
  } else if (az_ieq(type, T_SQLDB)) {
    az_sql_after_put(entry, pending_sql_tables, r->now);
    pending_sql_tables = NULL;
  }
}

int az_type_delete(az_req *r, az_resp *p, const char *id, const char *type, cJSON *entry) {
  if (strncasecmp(type, "microsoft.storage/", 18) == 0) return az_storage_delete(r, p, id, type, entry);
  if (strncasecmp(type, "microsoft.compute/", 18) == 0) return az_compute_delete(r, p, type, entry);
  if (az_ieq(type, T_SQLDROPPED)) {
    az_resp_error(p, 405, "MethodNotAllowed", "restorableDroppedDatabases cannot be deleted; they expire with the retention.");
    return -1;
  }
  return 0;
}

void az_type_finish_delete(cJSON *entry, double now) {
  const char *type = az_str(entry, "type");
  cJSON *res = cJSON_GetObjectItem(entry, "res");
  if (az_ieq(type, T_VAULT)) {
    cJSON *props = cJSON_GetObjectItem(res, "properties");
    char *lname = az_lower(az_str(res, "name"));
    if (az_bool(props, "enableSoftDelete", true)) {
      cJSON *d = cJSON_CreateObject();
      char *did = az_strdupf("/subscriptions/%s/providers/Microsoft.KeyVault/locations/%s/deletedVaults/%s",
                             az_str(entry, "sub"), az_str(res, "location") ? az_str(res, "location") : "westeurope",
                             az_str(res, "name"));
      cJSON_AddStringToObject(d, "id", did);
      free(did);
      cJSON_AddStringToObject(d, "name", az_str(res, "name"));
      cJSON_AddStringToObject(d, "type", "Microsoft.KeyVault/deletedVaults");
      cJSON *dp = cJSON_AddObjectToObject(d, "properties");
      cJSON_AddStringToObject(dp, "vaultId", az_str(res, "id"));
      cJSON_AddStringToObject(dp, "location", az_str(res, "location") ? az_str(res, "location") : "westeurope");
      char ts[64];
      az_iso8601(now, ts, sizeof ts);
      cJSON_AddStringToObject(dp, "deletionDate", ts);
      double purge = now + 86400.0 * az_num(props, "softDeleteRetentionInDays", 90);
      az_iso8601(purge, ts, sizeof ts);
      cJSON_AddStringToObject(dp, "scheduledPurgeDate", ts);
      cJSON_AddBoolToObject(dp, "purgeProtectionEnabled", az_bool(props, "enablePurgeProtection", false));
      if (cJSON_GetObjectItem(res, "tags")) cJSON_AddItemToObject(dp, "tags", cJSON_Duplicate(cJSON_GetObjectItem(res, "tags"), 1));
      cJSON_AddNumberToObject(d, "_purge_at", purge);
      cJSON_AddItemToObject(d, "_res", cJSON_Duplicate(res, 1));
      cJSON_AddStringToObject(d, "_sub", az_str(entry, "sub"));
      az_set(deleted_vaults(), lname, d);
      cJSON *ks = az_kv_store(lname, false);
      if (ks) az_set_bool(ks, "deleted", true);
    } else {
      cJSON_DeleteItemFromObjectCaseSensitive(az_obj(az_g.st, "kv"), lname);
    }
    free(lname);
  } else if (strncasecmp(type, "microsoft.storage/", 18) == 0) {
    az_storage_finish_delete(entry, now);
  } else if (strncasecmp(type, "microsoft.compute/", 18) == 0) {
    az_compute_finish_delete(entry);
  } else if (az_ieq(type, T_SQLDB)) {
    az_sql_dropped(entry, now);
  }
}

void az_type_tick(double now) {
  cJSON *d = deleted_vaults();
  cJSON *it = d->child;
  while (it) {
    cJSON *next = it->next;
    if (az_num(it, "_purge_at", 0) <= now) {
      cJSON_DeleteItemFromObjectCaseSensitive(az_obj(az_g.st, "kv"), it->string);
      cJSON_Delete(cJSON_DetachItemViaPointer(d, it));
    }
    it = next;
  }
  az_compute_tick(now);
  az_storage_tick(now);
}

int az_type_lro_style(const char *type, const char *method) {
  if (az_ieq(type, T_DISK) || az_ieq(type, T_SNAPSHOT) || az_ieq(type, T_VM)) return 1;
  (void)method;
  return 0;
}

bool az_type_action(az_req *r, az_resp *p, const char *id, const char *type, const char *action,
                    cJSON *entry) {
  if (az_storage_action(r, p, type, action, entry)) return true;
  if (az_compute_action(r, p, id, type, action, entry)) return true;
  static const char *generic[] = {"start", "powerOff", "deallocate", "restart", "testFailover",
                                  "testFailoverCleanup", "plannedFailover", "unplannedFailover",
                                  "failoverCommit", "reProtect", "failover", "export"};
  for (size_t i = 0; i < sizeof generic / sizeof *generic; i++) {
    if (az_ieq(action, generic[i])) {
      az_resp_empty(p, 202);
      az_lro_start(r, p, "action", id, cJSON_Duplicate(cJSON_GetObjectItem(entry, "res"), 1), 2);
      return true;
    }
  }
  return false;
}

/* ---- subscription-scope specials: Key Vault deleted vaults ---- */
bool az_type_sub_route(az_req *r, az_resp *p) {
  if (r->nseg < 5 || strcasecmp(r->seg[2], "providers") != 0 || strcasecmp(r->seg[3], "Microsoft.KeyVault") != 0)
    return false;
  char *lsub = az_lower(r->seg[1]);
  bool handled = true;
  if (r->nseg == 5 && strcasecmp(r->seg[4], "deletedVaults") == 0 && strcmp(r->method, "GET") == 0) {
    cJSON *items = cJSON_CreateArray();
    cJSON *d;
    cJSON_ArrayForEach(d, deleted_vaults()) {
      if (az_ieq(az_str(d, "_sub"), lsub)) cJSON_AddItemToArray(items, az_strip_private(d));
    }
    az_page(r, p, items);
  } else if ((r->nseg == 8 || r->nseg == 9) && strcasecmp(r->seg[4], "locations") == 0 &&
             strcasecmp(r->seg[6], "deletedVaults") == 0) {
    char *lname = az_lower(r->seg[7]);
    cJSON *d = cJSON_GetObjectItemCaseSensitive(deleted_vaults(), lname);
    if (d && !az_ieq(az_str(d, "_sub"), lsub)) d = NULL;
    if (!d) {
      az_resp_error(p, 404, "DeletedVaultNotFound", "The deleted vault '%s' could not be found.", r->seg[7]);
    } else if (r->nseg == 8 && strcmp(r->method, "GET") == 0) {
      az_resp_json(p, 200, az_strip_private(d));
    } else if (r->nseg == 9 && strcasecmp(r->seg[8], "purge") == 0 && strcmp(r->method, "POST") == 0) {
      if (az_bool(cJSON_GetObjectItem(d, "properties"), "purgeProtectionEnabled", false)) {
        az_resp_error(p, 409, "OperationNotAllowed",
                      "Operation 'DeletedVaultPurge' is not allowed. Vault '%s' has purge "
                      "protection enabled; it is purged automatically at its scheduled purge date.",
                      r->seg[7]);
      } else {
        cJSON_DeleteItemFromObjectCaseSensitive(az_obj(az_g.st, "kv"), lname);
        char *did = az_strdupf("%s", az_str(d, "id"));
        cJSON_DeleteItemFromObjectCaseSensitive(deleted_vaults(), lname);
        az_resp_empty(p, 202);
        az_lro_start(r, p, "action", did, NULL, 2);
        free(did);
      }
    } else {
      az_resp_error(p, 405, "MethodNotAllowed", "The requested resource does not support http method '%s'.", r->method);
    }
    free(lname);
  } else {
    handled = false;
  }
  free(lsub);
  return handled;
}





