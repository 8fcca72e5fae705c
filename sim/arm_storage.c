/* Storage resource provider behaviour (Microsoft.Storage/stable/2023-05-01,
 * storage.json and blob.json): storage accounts, blobServices/default
 * (blob and container delete retention), containers,
 * containers/immutabilityPolicies/default (create/update while unlocked,
 * lock with If-Match, extend, delete only while unlocked), setLegalHold and
 * clearLegalHold, listKeys, fileServices/default and fileServices/default/shares
 * (create; PUT with $expand=snapshots creates a share snapshot and answers its
 * snapshotTime; DELETE with x-ms-snapshot deletes one snapshot, with
 * $include=none refuses a share that has snapshots), and the guards that stop deleting containers,
 * accounts and groups holding locked or held data. */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arm_family.h"

/* ARM storage etags look like "8d57a8a5edb084a" (quoted, 15 hex digits). */
static void new_etag(char *out, size_t n) {
  char t[17];
  az_rand_token(t, 7);
  snprintf(out, n, "\"8d%.13s\"", t);
}

/* If-Match arrives quoted or bare (the spec examples send it bare). */
static bool etag_eq(const char *a, const char *b) {
  if (!a || !b) return false;
  size_t la = strlen(a), lb = strlen(b);
  if (la >= 2 && a[0] == '"' && a[la - 1] == '"') a++, la -= 2;
  if (lb >= 2 && b[0] == '"' && b[lb - 1] == '"') b++, lb -= 2;
  return la == lb && strncmp(a, b, la) == 0;
}

/* id of .../storageAccounts/{a}/blobServices/default/containers/{c}[/...]:
 * fills account and container names. */
static bool container_names(const char *id, char *acct, size_t an, char *cont, size_t cn) {
  const char *a = strcasestr(id, "/storageaccounts/");
  const char *c = strcasestr(id, "/containers/");
  if (!a) return false;
  a += strlen("/storageaccounts/");
  size_t al = strcspn(a, "/");
  snprintf(acct, an, "%.*s", (int)al, a);
  if (cont) {
    if (!c) return false;
    c += strlen("/containers/");
    snprintf(cont, cn, "%.*s", (int)strcspn(c, "/"), c);
  }
  return true;
}

/* id of .../storageAccounts/{a}/fileServices/default/shares/{s} */
static bool share_names(const char *id, char *acct, size_t an, char *share, size_t sn) {
  const char *s = strcasestr(id, "/shares/");
  if (!s || !container_names(id, acct, an, NULL, 0)) return false;
  s += strlen("/shares/");
  snprintf(share, sn, "%.*s", (int)strcspn(s, "/"), s);
  return true;
}

static int share_put(az_req *r, az_resp *p, const char *id, cJSON *res, cJSON *existing) {
  const char *name = r->seg[r->nseg - 1];
  size_t n = strlen(name);
  bool ok = n >= 3 && n <= 63 && name[0] != '-' && name[n - 1] != '-' && !strstr(name, "--");
  for (const char *c = name; ok && *c; c++) ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-';
  if (!ok) {
    az_resp_error(p, 400, "InvalidResourceName", "The specified resource name contains invalid characters.");
    return -1;
  }
  const char *expand = az_query(r, "$expand");
  if (expand && strstr(expand, "snapshots")) {
    char acct[64], share[64], ts[64];
    if (!existing || !share_names(id, acct, sizeof acct, share, sizeof share) ||
        az_files_snapshot(acct, share, r->now, ts, sizeof ts) != 0) {
      az_resp_error(p, 404, "ShareNotFound", "The specified share does not exist.");
      return -1;
    }
    cJSON *out = cJSON_Duplicate(cJSON_GetObjectItem(existing, "res"), 1);
    az_set_str(az_obj(out, "properties"), "snapshotTime", ts);
    az_resp_json(p, 201, out);
    return 1;
  }
  cJSON *props = az_obj(res, "properties");
  cJSON_DeleteItemFromObject(props, "provisioningState");
  if (!cJSON_GetObjectItem(props, "shareQuota")) az_set_num(props, "shareQuota", 5120);
  if (!cJSON_GetObjectItem(props, "accessTier")) az_set_str(props, "accessTier", "TransactionOptimized");
  if (!cJSON_GetObjectItem(props, "enabledProtocols")) az_set_str(props, "enabledProtocols", "SMB");
  char ts[64], etag[48];
  az_iso8601(r->now, ts, sizeof ts);
  az_set_str(props, "lastModifiedTime", ts);
  new_etag(etag, sizeof etag);
  az_set_str(res, "etag", etag);
  return 0;
}

/* Share soft delete (fileServices/default shareDeleteRetentionPolicy): a
 * deleted share, with its files and snapshots, waits in st.deleted_shares
 * ["account/share;version"] until restored or purged. */
static void share_deleted(cJSON *entry, const char *acct, const char *share, double now) {
  cJSON *res = cJSON_GetObjectItem(entry, "res");
  char *fs = az_strdupf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Storage/storageAccounts/%s/fileServices/default",
                        az_str(entry, "sub"), az_str(entry, "rg"), acct);
  cJSON *fse = az_res_get(fs);
  free(fs);
  cJSON *pol = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(fse, "res"), "properties"),
                                   "shareDeleteRetentionPolicy");
  char *key = az_strdupf("%s/%s", acct, share);
  char *lkey = az_lower(key);
  free(key);
  cJSON *store = cJSON_DetachItemFromObjectCaseSensitive(az_obj(az_g.st, "files"), lkey);
  if (store && az_bool(pol, "enabled", false)) {
    char ver[32];
    snprintf(ver, sizeof ver, "%.0f", now * 1000);
    az_set_str(store, "version", ver);
    az_set_num(store, "deleted_at", now);
    az_set_num(store, "purge_at", now + 86400.0 * az_num(pol, "days", 7));
    az_set(store, "_res", cJSON_Duplicate(res, 1));
    char *dkey = az_strdupf("%s;%s", lkey, ver);
    cJSON_AddItemToObject(az_obj(az_g.st, "deleted_shares"), dkey, store);
    free(dkey);
  } else {
    cJSON_Delete(store);
  }
  free(lkey);
}

void az_storage_tick(double now) {
  cJSON *d = az_obj(az_g.st, "deleted_shares");
  cJSON *it = d->child;
  while (it) {
    cJSON *next = it->next;
    if (az_num(it, "purge_at", 0) <= now) cJSON_Delete(cJSON_DetachItemViaPointer(d, it));
    it = next;
  }
}

void az_storage_list_extra(az_req *r, const char *ltype, const char *lparent, cJSON *items) {
  if (!az_ieq(ltype, T_SHARE)) return;
  const char *expand = az_query(r, "$expand");
  if (!expand) return;
  char acct[64];
  if (!container_names(lparent, acct, sizeof acct, NULL, 0)) return;
  if (strstr(expand, "snapshots")) {
    cJSON *base = cJSON_CreateArray();
    cJSON *it;
    cJSON_ArrayForEach(it, items) cJSON_AddItemToArray(base, cJSON_Duplicate(it, 1));
    cJSON_ArrayForEach(it, base) {
      cJSON *snaps = cJSON_GetObjectItem(az_files_share(acct, az_str(it, "name"), false), "snapshots");
      cJSON *sn;
      cJSON_ArrayForEach(sn, snaps) {
        cJSON *o = cJSON_Duplicate(it, 1);
        az_set_str(az_obj(o, "properties"), "snapshotTime", sn->string);
        cJSON_AddItemToArray(items, o);
      }
    }
    cJSON_Delete(base);
  }
  if (strstr(expand, "deleted")) {
    char *prefix = az_strdupf("%s/", acct);
    char *lp = az_lower(prefix);
    free(prefix);
    cJSON *d;
    cJSON_ArrayForEach(d, az_obj(az_g.st, "deleted_shares")) {
      if (strncmp(d->string, lp, strlen(lp)) != 0) continue;
      cJSON *o = cJSON_Duplicate(cJSON_GetObjectItem(d, "_res"), 1);
      cJSON *props = az_obj(o, "properties");
      char ts[64];
      az_iso8601(az_num(d, "deleted_at", 0), ts, sizeof ts);
      az_set_bool(props, "deleted", true);
      az_set_str(props, "deletedTime", ts);
      az_set_str(props, "version", az_str(d, "version"));
      double left = (az_num(d, "purge_at", 0) - r->now) / 86400.0;
      az_set_num(props, "remainingRetentionDays", left > 0 ? (double)(long)(left + 0.999) : 0);
      cJSON_AddItemToArray(items, o);
    }
    free(lp);
  }
}

/* POST .../shares/{share}/restore {deletedShareName, deletedShareVersion} */
bool az_storage_missing_action(az_req *r, az_resp *p, const char *id, const char *type, const char *action) {
  if (!az_ieq(type, T_SHARE) || !az_ieq(action, "restore")) return false;
  char acct[64], share[64];
  if (!share_names(id, acct, sizeof acct, share, sizeof share)) return false;
  cJSON *b = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
  const char *dn = az_str(b, "deletedShareName"), *dv = az_str(b, "deletedShareVersion");
  if (!dn || !dv) {
    cJSON_Delete(b);
    az_resp_error(p, 400, "InvalidRequestPropertyValue", "deletedShareName and deletedShareVersion are required.");
    return true;
  }
  char *key = az_strdupf("%s/%s;%s", acct, dn, dv);
  char *lkey = az_lower(key);
  free(key);
  cJSON_Delete(b);
  cJSON *store = cJSON_GetObjectItemCaseSensitive(az_obj(az_g.st, "deleted_shares"), lkey);
  char *fs = az_strdupf("%.*s", (int)(strcasestr(id, "/shares/") - id), id);
  if (!store) {
    az_resp_error(p, 404, "ShareNotFound", "The specified deleted share does not exist.");
  } else if (!az_res_get(fs)) {
    az_resp_error(p, 404, "ParentResourceNotFound", "The file service of the share does not exist.");
  } else if (az_lock_check(fs, "PUT", p)) {
  } else {
    store = cJSON_DetachItemFromObjectCaseSensitive(az_obj(az_g.st, "deleted_shares"), lkey);
    cJSON *res = cJSON_DetachItemFromObject(store, "_res");
    cJSON_DeleteItemFromObject(store, "version");
    cJSON_DeleteItemFromObject(store, "deleted_at");
    cJSON_DeleteItemFromObject(store, "purge_at");
    az_set_str(res, "id", id);
    az_set_str(res, "name", share);
    az_res_put(id, res);
    char *nk = az_strdupf("%s/%s", acct, share);
    char *lnk = az_lower(nk);
    az_set(az_obj(az_g.st, "files"), lnk, store);
    free(nk);
    free(lnk);
    az_resp_empty(p, 200);
  }
  free(fs);
  free(lkey);
  return true;
}

static cJSON *container_entry_of_policy(const char *policy_id) {
  char *s = strdup(policy_id);
  char *p = strcasestr(s, "/immutabilitypolicies");
  if (p) *p = 0;
  cJSON *e = az_res_get(s);
  free(s);
  return e;
}

static cJSON *policy_of_container(const char *container_id) {
  char *pid = az_strdupf("%s/immutabilityPolicies/default", container_id);
  cJSON *e = az_res_get(pid);
  free(pid);
  return e;
}

static void sync_container_policy(cJSON *container, cJSON *policy) {
  cJSON *props = az_obj(az_obj(container, "res"), "properties");
  if (!policy) {
    az_set_bool(props, "hasImmutabilityPolicy", false);
    cJSON_DeleteItemFromObject(props, "immutabilityPolicy");
    return;
  }
  cJSON *pres = cJSON_GetObjectItem(policy, "res");
  az_set_bool(props, "hasImmutabilityPolicy", true);
  cJSON *ip = cJSON_CreateObject();
  cJSON_AddStringToObject(ip, "etag", az_str(pres, "etag"));
  cJSON_AddItemToObject(ip, "properties", cJSON_Duplicate(cJSON_GetObjectItem(pres, "properties"), 1));
  az_set(props, "immutabilityPolicy", ip);
}

static int policy_put(az_req *r, az_resp *p, const char *id, cJSON *res, cJSON *existing) {
  if (!az_ieq(r->seg[r->nseg - 1], "default")) {
    az_resp_error(p, 400, "InvalidImmutabilityPolicyName", "ImmutabilityPolicy name must be 'default'.");
    return -1;
  }
  cJSON *props = az_obj(res, "properties");
  cJSON_DeleteItemFromObject(props, "provisioningState");
  const char *ifm = az_header(r, "If-Match");
  if (existing) {
    cJSON *old = cJSON_GetObjectItem(existing, "res");
    if (az_ieq(az_str(cJSON_GetObjectItem(old, "properties"), "state"), "Locked")) {
      az_resp_error(p, 409, "ImmutabilityPolicyOperationNotAllowed",
                    "Operation not allowed on immutability policy with current state. A locked "
                    "policy can only be extended.");
      return -1;
    }
    if (ifm && strcmp(ifm, "*") != 0 && !etag_eq(ifm, az_str(old, "etag"))) {
      az_resp_error(p, 412, "PreconditionFailed", "The condition specified using HTTP conditional header(s) is not met.");
      return -1;
    }
  }
  double days = az_num(props, "immutabilityPeriodSinceCreationInDays", -1);
  if (days < 1 || days > 146000) {
    az_resp_error(p, 400, "InvalidImmutabilityPeriod",
                  "immutabilityPeriodSinceCreationInDays must be between 1 and 146000.");
    return -1;
  }
  az_set_num(props, "immutabilityPeriodSinceCreationInDays", days);
  az_set_str(props, "state", "Unlocked");
  if (!cJSON_GetObjectItem(props, "allowProtectedAppendWrites")) az_set_bool(props, "allowProtectedAppendWrites", false);
  char etag[48];
  new_etag(etag, sizeof etag);
  az_set_str(res, "etag", etag);
  cJSON_DeleteItemFromObject(res, "location");
  az_set_str(res, "name", "default");
  return 0;
}

static int container_put(az_req *r, az_resp *p, cJSON *res, cJSON *existing) {
  cJSON *props = az_obj(res, "properties");
  cJSON_DeleteItemFromObject(props, "provisioningState");
  cJSON_DeleteItemFromObject(res, "location");
  const char *name = r->seg[r->nseg - 1];
  size_t n = strlen(name);
  bool ok = n >= 3 && n <= 63;
  for (size_t i = 0; ok && i < n; i++)
    ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
         (name[i] == '-' && i > 0 && i + 1 < n && name[i - 1] != '-');
  if (!ok) {
    az_resp_error(p, 400, "ContainerOperationFailure",
                  "The specified resource name contains invalid characters.");
    return -1;
  }
  if (!existing) {
    az_set_str(props, "publicAccess", az_str(props, "publicAccess") ? az_str(props, "publicAccess") : "None");
    az_set_bool(props, "hasImmutabilityPolicy", false);
    az_set_bool(props, "hasLegalHold", false);
    az_set_bool(props, "deleted", false);
    az_set_num(props, "remainingRetentionDays", 0);
    az_set_str(props, "leaseStatus", "Unlocked");
    az_set_str(props, "leaseState", "Available");
  } else {
    /* policy and legal hold are managed by their own operations */
    cJSON *oldp = cJSON_GetObjectItem(cJSON_GetObjectItem(existing, "res"), "properties");
    static const char *keep[] = {"hasImmutabilityPolicy", "hasLegalHold", "immutabilityPolicy", "legalHold"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
      cJSON *v = cJSON_GetObjectItem(oldp, keep[i]);
      if (v) az_set(props, keep[i], cJSON_Duplicate(v, 1));
      else cJSON_DeleteItemFromObject(props, keep[i]);
    }
  }
  char etag[48];
  new_etag(etag, sizeof etag);
  az_set_str(res, "etag", etag);
  char ts[64];
  az_rfc1123(r->now, ts, sizeof ts);
  az_set_str(props, "lastModifiedTime", ts);
  return 0;
}

/* ---- DELETE hooks ---- */
static bool if_match_ok(az_req *r, az_resp *p, cJSON *res) {
  const char *ifm = az_header(r, "If-Match");
  if (!ifm) {
    az_resp_error(p, 400, "MissingRequiredHeader", "The If-Match header is required for this operation.");
    return false;
  }
  if (strcmp(ifm, "*") != 0 && !etag_eq(ifm, az_str(res, "etag"))) {
    az_resp_error(p, 412, "PreconditionFailed", "The condition specified using HTTP conditional header(s) is not met.");
    return false;
  }
  return true;
}

static bool container_has_blobs(const char *container_id) {
  char acct[64], cont[64];
  if (!container_names(container_id, acct, sizeof acct, cont, sizeof cont)) return false;
  cJSON *store = az_blob_container(acct, cont, false);
  return cJSON_GetArraySize(cJSON_GetObjectItem(store, "blobs")) > 0;
}

static const char *container_guard(cJSON *ce, az_resp *p, bool for_account, const char *id) {
  cJSON *props = cJSON_GetObjectItem(cJSON_GetObjectItem(ce, "res"), "properties");
  const char *cid = az_str(cJSON_GetObjectItem(ce, "res"), "id");
  cJSON *pol = policy_of_container(cid);
  bool locked = pol && az_ieq(az_str(cJSON_GetObjectItem(cJSON_GetObjectItem(pol, "res"), "properties"), "state"), "Locked");
  bool hold = az_bool(props, "hasLegalHold", false);
  if (!hold && !(locked && container_has_blobs(cid))) return NULL;
  if (for_account) {
    az_resp_error(p, 409, "AccountProtectedFromDeletion",
                  "%s is protected from deletion. The container(s) %s have a %s.", id,
                  az_str(cJSON_GetObjectItem(ce, "res"), "name"),
                  hold ? "legal hold" : "locked immutability policy");
    return "AccountProtectedFromDeletion";
  }
  if (hold) {
    az_resp_error(p, 409, "ContainerHasLegalHold",
                  "The requested operation is not allowed as the container has one or more legal holds.");
    return "ContainerHasLegalHold";
  }
  az_resp_error(p, 409, "ContainerImmutabilityPolicyLocked",
                "The requested operation is not allowed as the container has a locked immutability policy.");
  return "ContainerImmutabilityPolicyLocked";
}

const char *az_type_delete_guard(const char *id, az_resp *p, double now) {
  char *l = az_lower(id);
  size_t n = strlen(l);
  cJSON *e;
  const char *code = NULL;
  cJSON_ArrayForEach(e, az_obj(az_g.st, "resources")) {
    if (strncmp(e->string, l, n) != 0 || e->string[n] != '/') continue;
    if (!az_ieq(az_str(e, "type"), T_CONTAINER)) continue;
    if ((code = container_guard(e, p, true, id)) != NULL) break;
  }
  free(l);
  return code;
}

/* ---- actions ---- */
static void policy_action(az_req *r, az_resp *p, const char *action, cJSON *entry) {
  cJSON *res = cJSON_GetObjectItem(entry, "res");
  cJSON *props = az_obj(res, "properties");
  if (!if_match_ok(r, p, res)) return;
  bool locked = az_ieq(az_str(props, "state"), "Locked");
  if (az_ieq(action, "lock")) {
    if (locked) {
      az_resp_error(p, 409, "ImmutabilityPolicyOperationNotAllowed",
                    "Operation not allowed on immutability policy with current state.");
      return;
    }
    az_set_str(props, "state", "Locked");
  } else {
    if (!locked) {
      az_resp_error(p, 409, "ImmutabilityPolicyOperationNotAllowed",
                    "Operation not allowed on immutability policy with current state. Only a "
                    "locked policy can be extended.");
      return;
    }
    cJSON *b = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
    double days = az_num(cJSON_GetObjectItem(b, "properties"), "immutabilityPeriodSinceCreationInDays", -1);
    cJSON_Delete(b);
    double cur = az_num(props, "immutabilityPeriodSinceCreationInDays", 0);
    if (days < 1 || days > 146000) {
      az_resp_error(p, 400, "InvalidImmutabilityPeriod", "immutabilityPeriodSinceCreationInDays must be between 1 and 146000.");
      return;
    }
    if (days < cur) {
      az_resp_error(p, 409, "ImmutabilityPolicyOperationNotAllowed",
                    "The retention interval of a locked immutability policy can only be extended, "
                    "not shortened (current %.0f days, requested %.0f).",
                    cur, days);
      return;
    }
    az_set_num(props, "immutabilityPeriodSinceCreationInDays", days);
  }
  char etag[48];
  new_etag(etag, sizeof etag);
  az_set_str(res, "etag", etag);
  cJSON *c = container_entry_of_policy(az_str(res, "id"));
  if (c) sync_container_policy(c, entry);
  az_resp_json(p, 200, cJSON_Duplicate(res, 1));
  az_resp_header(p, "ETag", "%s", etag);
}

static void legal_hold(az_req *r, az_resp *p, bool set, cJSON *entry) {
  cJSON *b = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
  cJSON *tags = cJSON_GetObjectItem(b, "tags");
  if (!cJSON_IsArray(tags) || cJSON_GetArraySize(tags) == 0) {
    cJSON_Delete(b);
    az_resp_error(p, 400, "InvalidLegalHoldTags", "The request must carry a non-empty 'tags' array.");
    return;
  }
  cJSON *props = az_obj(az_obj(entry, "res"), "properties");
  cJSON *lh = az_obj(props, "legalHold");
  cJSON *cur = cJSON_GetObjectItem(lh, "tags");
  if (!cJSON_IsArray(cur)) {
    cur = cJSON_CreateArray();
    az_set(lh, "tags", cur);
  }
  cJSON *t;
  cJSON_ArrayForEach(t, tags) {
    if (!cJSON_IsString(t)) continue;
    int idx = 0, found = -1;
    cJSON *c;
    cJSON_ArrayForEach(c, cur) {
      if (az_ieq(az_str(c, "tag"), t->valuestring)) found = idx;
      idx++;
    }
    if (set && found < 0) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "tag", t->valuestring);
      char ts[64];
      az_iso8601(r->now, ts, sizeof ts);
      cJSON_AddStringToObject(o, "timestamp", ts);
      cJSON_AddItemToArray(cur, o);
    } else if (!set && found >= 0) {
      cJSON_DeleteItemFromArray(cur, found);
    }
  }
  cJSON_Delete(b);
  bool has = cJSON_GetArraySize(cur) > 0;
  az_set_bool(lh, "hasLegalHold", has);
  az_set_bool(props, "hasLegalHold", has);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddBoolToObject(o, "hasLegalHold", has);
  cJSON *out = cJSON_AddArrayToObject(o, "tags");
  cJSON *c;
  cJSON_ArrayForEach(c, cur) cJSON_AddItemToArray(out, cJSON_CreateString(az_str(c, "tag")));
  az_resp_json(p, 200, o);
}


int az_storage_put(az_req *r, az_resp *p, const char *id, const char *type, cJSON *res,
                   cJSON *existing) {
  if (az_ieq(type, T_POLICY)) return policy_put(r, p, id, res, existing);
  if (az_ieq(type, T_CONTAINER)) return container_put(r, p, res, existing);
  if (az_ieq(type, T_SHARE)) return share_put(r, p, id, res, existing);
  if (az_ieq(type, T_FILESVC)) {
    if (!az_ieq(r->seg[r->nseg - 1], "default")) {
      az_resp_error(p, 400, "InvalidFileServiceName", "The file service name must be 'default'.");
      return -1;
    }
    cJSON_DeleteItemFromObject(az_obj(res, "properties"), "provisioningState");
    return 0;
  }
  if (az_ieq(type, T_BLOBSVC)) {
    if (!az_ieq(r->seg[r->nseg - 1], "default")) {
      az_resp_error(p, 400, "InvalidBlobServiceName", "The blob service name must be 'default'.");
      return -1;
    }
    cJSON_DeleteItemFromObject(az_obj(res, "properties"), "provisioningState");
    return 0;
  }
  if (az_ieq(type, T_ACCOUNT)) {
    cJSON *props = az_obj(res, "properties");
    char *ep = az_strdupf("%s/%s/", r->base, r->seg[r->nseg - 1]);
    az_set_str(az_obj(props, "primaryEndpoints"), "blob", ep);
    az_set_str(az_obj(props, "primaryEndpoints"), "file", ep);
    free(ep);
    if (!cJSON_GetObjectItem(res, "kind")) az_set_str(res, "kind", "StorageV2");
  }
  return 0;
}

void az_storage_after_put(const char *id, const char *type, cJSON *entry) {
  if (az_ieq(type, T_ACCOUNT)) {
    char *bs = az_strdupf("%s/blobServices/default", id);
    if (!az_res_get(bs)) {
      cJSON *res = cJSON_CreateObject();
      cJSON_AddStringToObject(res, "id", bs);
      cJSON_AddStringToObject(res, "name", "default");
      cJSON_AddStringToObject(res, "type", "Microsoft.Storage/storageAccounts/blobServices");
      cJSON *props = cJSON_AddObjectToObject(res, "properties");
      cJSON *d = cJSON_AddObjectToObject(props, "deleteRetentionPolicy");
      cJSON_AddBoolToObject(d, "enabled", false);
      cJSON *c = cJSON_AddObjectToObject(props, "containerDeleteRetentionPolicy");
      cJSON_AddBoolToObject(c, "enabled", false);
      az_res_put(bs, res);
    }
    free(bs);
    char *fs = az_strdupf("%s/fileServices/default", id);
    if (!az_res_get(fs)) {
      cJSON *res = cJSON_CreateObject();
      cJSON_AddStringToObject(res, "id", fs);
      cJSON_AddStringToObject(res, "name", "default");
      cJSON_AddStringToObject(res, "type", "Microsoft.Storage/storageAccounts/fileServices");
      cJSON *props = cJSON_AddObjectToObject(res, "properties");
      cJSON *d = cJSON_AddObjectToObject(props, "shareDeleteRetentionPolicy");
      cJSON_AddBoolToObject(d, "enabled", false);
      az_res_put(fs, res);
    }
    free(fs);
  } else if (az_ieq(type, T_SHARE)) {
    char acct[64], share[64];
    if (share_names(id, acct, sizeof acct, share, sizeof share)) az_files_share(acct, share, true);
  } else if (az_ieq(type, T_CONTAINER)) {
    char acct[64], cont[64];
    if (container_names(id, acct, sizeof acct, cont, sizeof cont)) az_blob_container(acct, cont, true);
  } else if (az_ieq(type, T_POLICY)) {
    cJSON *c = container_entry_of_policy(id);
    if (c) sync_container_policy(c, entry);
  }
}

int az_storage_delete(az_req *r, az_resp *p, const char *id, const char *type, cJSON *entry) {
  if (az_ieq(type, T_POLICY)) {
    cJSON *res = cJSON_GetObjectItem(entry, "res");
    if (!if_match_ok(r, p, res)) return -1;
    if (az_ieq(az_str(cJSON_GetObjectItem(res, "properties"), "state"), "Locked")) {
      az_resp_error(p, 409, "ImmutabilityPolicyOperationNotAllowed",
                    "Operation not allowed on immutability policy with current state. Deleting a "
                    "locked immutability policy is not allowed.");
      return -1;
    }
    cJSON *out = cJSON_Duplicate(res, 1);
    cJSON *props = az_obj(out, "properties");
    az_set_num(props, "immutabilityPeriodSinceCreationInDays", 0);
    az_set_str(props, "state", "Deleted");
    cJSON *c = container_entry_of_policy(id);
    char *l = az_lower(id);
    az_res_del(az_obj(az_g.st, "resources"), l);
    free(l);
    if (c) sync_container_policy(c, NULL);
    az_resp_json(p, 200, out);
    return 1;
  }
  if (az_ieq(type, T_CONTAINER) && container_guard(entry, p, false, id)) return -1;
  if (az_ieq(type, T_SHARE)) {
    char acct[64], share[64];
    if (!share_names(id, acct, sizeof acct, share, sizeof share)) return 0;
    const char *snap = az_header(r, "x-ms-snapshot");
    if (snap) {
      if (!az_files_snapshot_delete(acct, share, snap)) {
        az_resp_error(p, 404, "ShareSnapshotNotFound", "The specified share snapshot does not exist.");
        return -1;
      }
      az_resp_empty(p, 200);
      return 1;
    }
    const char *inc = az_query(r, "$include");
    if (inc && az_ieq(inc, "none") && az_files_snapshot_count(acct, share) > 0) {
      az_resp_error(p, 409, "ShareHasSnapshots", "The share has snapshots and the operation requires no snapshots.");
      return -1;
    }
  }
  return 0;
}

void az_storage_finish_delete(cJSON *entry, double now) {
  const char *type = az_str(entry, "type");
  cJSON *res = cJSON_GetObjectItem(entry, "res");
  if (az_ieq(type, T_CONTAINER)) {
    char acct[64], cont[64];
    if (container_names(az_str(res, "id"), acct, sizeof acct, cont, sizeof cont)) {
      /* soft delete when the account's blob service keeps deleted containers */
      char *bs = az_strdupf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Storage/storageAccounts/%s/blobServices/default",
                            az_str(entry, "sub"), az_str(entry, "rg"), acct);
      cJSON *bse = az_res_get(bs);
      free(bs);
      cJSON *pol = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(bse, "res"), "properties"),
                                       "containerDeleteRetentionPolicy");
      char *key = az_strdupf("%s/%s", acct, cont);
      char *lkey = az_lower(key);
      cJSON *stores = az_obj(az_g.st, "blob");
      cJSON *store = cJSON_DetachItemFromObjectCaseSensitive(stores, lkey);
      if (store && az_bool(pol, "enabled", false)) {
        char ver[32];
        snprintf(ver, sizeof ver, "%.0f", now * 1000);
        az_set_str(store, "version", ver);
        az_set_num(store, "deleted_at", now);
        az_set_num(store, "purge_at", now + 86400.0 * az_num(pol, "days", 7));
        az_set(store, "_res", cJSON_Duplicate(res, 1));
        cJSON *dc = az_obj(az_g.st, "deleted_containers");
        char *dkey = az_strdupf("%s;%s", lkey, ver);
        cJSON_AddItemToObject(dc, dkey, store);
        free(dkey);
      } else {
        cJSON_Delete(store);
      }
      free(key);
      free(lkey);
    }
  } else if (az_ieq(type, T_SHARE)) {
    char acct[64], share[64];
    if (share_names(az_str(res, "id"), acct, sizeof acct, share, sizeof share)) share_deleted(entry, acct, share, now);
  } else if (az_ieq(type, T_ACCOUNT)) {
    az_files_drop_account(az_str(res, "name"));
    char *prefix = az_lower(az_str(res, "name"));
    size_t n = strlen(prefix);
    static const char *maps[] = {"blob", "deleted_containers"};
    for (size_t k = 0; k < 2; k++) {
      cJSON *m = az_obj(az_g.st, maps[k]);
      cJSON *it = m->child;
      while (it) {
        cJSON *next = it->next;
        if (strncmp(it->string, prefix, n) == 0 && it->string[n] == '/') cJSON_Delete(cJSON_DetachItemViaPointer(m, it));
        it = next;
      }
    }
    free(prefix);
  } else if (az_ieq(type, T_ACCOUNT)) {
    char *prefix = az_lower(az_str(res, "name"));
    size_t n = strlen(prefix);
    static const char *maps[] = {"blob", "deleted_containers"};
    for (size_t k = 0; k < 2; k++) {
      cJSON *m = az_obj(az_g.st, maps[k]);
      cJSON *it = m->child;
      while (it) {
        cJSON *next = it->next;
        if (strncmp(it->string, prefix, n) == 0 && it->string[n] == '/') cJSON_Delete(cJSON_DetachItemViaPointer(m, it));
        it = next;
      }
    }
    free(prefix);
  }
}

bool az_storage_action(az_req *r, az_resp *p, const char *type, const char *action, cJSON *entry) {
  if (az_ieq(type, T_POLICY) && (az_ieq(action, "lock") || az_ieq(action, "extend"))) {
    policy_action(r, p, action, entry);
    return true;
  }
  if (az_ieq(type, T_CONTAINER) && (az_ieq(action, "setLegalHold") || az_ieq(action, "clearLegalHold"))) {
    legal_hold(r, p, az_ieq(action, "setLegalHold"), entry);
    return true;
  }
  if (az_ieq(type, T_ACCOUNT) && az_ieq(action, "listKeys")) {
    cJSON *o = cJSON_CreateObject();
    cJSON *keys = cJSON_AddArrayToObject(o, "keys");
    cJSON *k = cJSON_CreateObject();
    cJSON_AddStringToObject(k, "keyName", "key1");
    cJSON_AddStringToObject(k, "value", "YXpzaW0tbm90LWEtcmVhbC1rZXk=");
    cJSON_AddStringToObject(k, "permissions", "FULL");
    cJSON_AddItemToArray(keys, k);
    az_resp_json(p, 200, o);
    return true;
  }
  return false;
}
