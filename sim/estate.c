/* Seeds the state from an estate file (format: docs/azsim.md) through the
 * same handlers clients use, and exports the inventory with checksums. */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API "api-version=2023-01-01"


static int put(const char *url, cJSON *body, char *err, size_t errlen) {
  char *s = body ? cJSON_PrintUnformatted(body) : strdup("{}");
  cJSON *out = NULL;
  int st = az_call("PUT", NULL, url, NULL, s, strlen(s), &out);
  free(s);
  if (st >= 300) {
    const char *msg = az_str(cJSON_GetObjectItem(out, "error"), "message");
    snprintf(err, errlen, "PUT %s: %d %s", url, st, msg ? msg : "");
  }
  cJSON_Delete(out);
  return st >= 300 ? -1 : 0;
}

static int post(const char *url, cJSON *hdrs, cJSON *body, char *err, size_t errlen) {
  char *s = body ? cJSON_PrintUnformatted(body) : strdup("");
  int st = az_call("POST", NULL, url, hdrs, s, strlen(s), NULL);
  free(s);
  if (st >= 300) snprintf(err, errlen, "POST %s: %d", url, st);
  return st >= 300 ? -1 : 0;
}

static cJSON *resource_body(const cJSON *spec) {
  cJSON *b = cJSON_CreateObject();
  static const char *keys[] = {"location", "tags", "sku", "kind", "identity", "zones", "properties"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    cJSON *v = cJSON_GetObjectItem(spec, keys[i]);
    if (v) cJSON_AddItemToObject(b, keys[i], cJSON_Duplicate(v, 1));
  }
  return b;
}

static int seed_containers(const char *acct_id, const char *acct, const cJSON *spec, char *err, size_t errlen) {
  cJSON *bs = cJSON_GetObjectItem(spec, "blob_service");
  if (bs) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddItemToObject(b, "properties", cJSON_Duplicate(bs, 1));
    char *url = az_strdupf("%s/blobServices/default?%s", acct_id, API);
    int rc = put(url, b, err, errlen);
    free(url);
    cJSON_Delete(b);
    if (rc) return rc;
  }
  cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(spec, "containers")) {
    const char *name = az_str(c, "name");
    if (!name) continue;
    char *cid = az_strdupf("%s/blobServices/default/containers/%s", acct_id, name);
    char *url = az_strdupf("%s?%s", cid, API);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddObjectToObject(b, "properties");
    int rc = put(url, b, err, errlen);
    cJSON_Delete(b);
    free(url);
    az_blob_seed(acct, name, cJSON_GetObjectItem(c, "blobs"));
    cJSON *im = cJSON_GetObjectItem(c, "immutability");
    if (!rc && im) {
      cJSON *pb = cJSON_CreateObject();
      cJSON *pp = cJSON_AddObjectToObject(pb, "properties");
      cJSON_AddNumberToObject(pp, "immutabilityPeriodSinceCreationInDays", az_num(im, "days", 1));
      cJSON_AddBoolToObject(pp, "allowProtectedAppendWrites", az_bool(im, "allowProtectedAppendWrites", false));
      url = az_strdupf("%s/immutabilityPolicies/default?%s", cid, API);
      rc = put(url, pb, err, errlen);
      cJSON_Delete(pb);
      free(url);
      if (!rc && az_ieq(az_str(im, "state"), "Locked")) {
        char *pid = az_strdupf("%s/immutabilityPolicies/default", cid);
        cJSON *pe = az_res_get(pid);
        cJSON *h = cJSON_CreateObject();
        cJSON_AddStringToObject(h, "If-Match", az_str(cJSON_GetObjectItem(pe, "res"), "etag"));
        url = az_strdupf("%s/lock?%s", pid, API);
        rc = post(url, h, NULL, err, errlen);
        cJSON_Delete(h);
        free(url);
        free(pid);
      }
    }
    cJSON *lh = cJSON_GetObjectItem(c, "legal_hold");
    if (!rc && cJSON_GetArraySize(lh) > 0) {
      cJSON *b2 = cJSON_CreateObject();
      cJSON_AddItemToObject(b2, "tags", cJSON_Duplicate(lh, 1));
      url = az_strdupf("%s/setLegalHold?%s", cid, API);
      rc = post(url, NULL, b2, err, errlen);
      cJSON_Delete(b2);
      free(url);
    }
    free(cid);
    if (rc) return rc;
  }
  return 0;
}

/* file shares of a storage account: file_service (fileServices/default
 * properties) and shares: [{name, files: [{name, content}], snapshots: N}] */
static int seed_shares(const char *acct_id, const char *acct, const cJSON *spec, char *err, size_t errlen) {
  cJSON *fs = cJSON_GetObjectItem(spec, "file_service");
  if (fs) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddItemToObject(b, "properties", cJSON_Duplicate(fs, 1));
    char *url = az_strdupf("%s/fileServices/default?%s", acct_id, API);
    int rc = put(url, b, err, errlen);
    free(url);
    cJSON_Delete(b);
    if (rc) return rc;
  }
  cJSON *sh;
  cJSON_ArrayForEach(sh, cJSON_GetObjectItem(spec, "shares")) {
    const char *name = az_str(sh, "name");
    if (!name) continue;
    char *url = az_strdupf("%s/fileServices/default/shares/%s?%s", acct_id, name, API);
    cJSON *b = cJSON_CreateObject();
    cJSON *props = cJSON_AddObjectToObject(b, "properties");
    if (cJSON_GetObjectItem(sh, "quota")) cJSON_AddNumberToObject(props, "shareQuota", az_num(sh, "quota", 5120));
    int rc = put(url, b, err, errlen);
    cJSON_Delete(b);
    free(url);
    if (rc) return rc;
    az_files_seed(acct, name, cJSON_GetObjectItem(sh, "files"));
    double n = az_num(sh, "snapshots", 0);
    for (int i = 0; i < n && i < 200; i++) {
      char ts[64];
      az_files_snapshot(acct, name, az_now(), ts, sizeof ts);
    }
  }
  return 0;
}

static int seed_locks(const char *scope, const cJSON *locks, char *err, size_t errlen) {
  cJSON *l;
  cJSON_ArrayForEach(l, locks) {
    cJSON *b = cJSON_CreateObject();
    cJSON *pp = cJSON_AddObjectToObject(b, "properties");
    cJSON_AddStringToObject(pp, "level", az_str(l, "level") ? az_str(l, "level") : "CanNotDelete");
    if (az_str(l, "notes")) cJSON_AddStringToObject(pp, "notes", az_str(l, "notes"));
    char *url = az_strdupf("%s/providers/Microsoft.Authorization/locks/%s?api-version=2020-05-01", scope,
                           az_str(l, "name") ? az_str(l, "name") : "lock");
    int rc = put(url, b, err, errlen);
    free(url);
    cJSON_Delete(b);
    if (rc) return rc;
  }
  return 0;
}

#define MAX_DISK_BYTES (256.0 * 1024 * 1024)

/* size_bytes / content_seed of a disk or snapshot: deterministic contents */
static int seed_content(cJSON *e, const cJSON *spec, char *err, size_t errlen) {
  cJSON *content = cJSON_GetObjectItem(e, "content");
  double n = cJSON_GetObjectItem(spec, "size_bytes") ? az_num(spec, "size_bytes", -1) : (double)az_disk_size(content);
  if (n < 512 || n > MAX_DISK_BYTES || n != (double)(long long)n || (long long)n % 512 != 0) {
    snprintf(err, errlen, "%s: size_bytes must be a multiple of 512, from 512 to %.0f", e->string, MAX_DISK_BYTES);
    return -1;
  }
  const char *seed = az_str(spec, "content_seed");
  if (!seed) seed = az_str(content, "seed");
  if (!seed) seed = az_str(cJSON_GetObjectItem(e, "res"), "id");
  az_set(e, "content", az_disk_content_seeded(seed, (size_t)n));
  az_set_num(az_obj(az_obj(e, "res"), "properties"), "diskSizeBytes", n);
  return 0;
}

/* encryption: {key_vault, key} (Azure Disk Encryption settings with a key
 * encryption key, DiskRP encryptionSettingsCollection) or
 * {disk_encryption_set} (server-side encryption with a customer key). */
static int disk_encryption(const char *scope_id, const cJSON *enc, cJSON *props, char *err, size_t errlen) {
  const char *kv = az_str(enc, "key_vault"), *key = az_str(enc, "key"), *des = az_str(enc, "disk_encryption_set");
  if (des) {
    cJSON *e = cJSON_AddObjectToObject(props, "encryption");
    cJSON_AddStringToObject(e, "type", "EncryptionAtRestWithCustomerKey");
    char *id = des[0] == '/' ? strdup(des) : az_strdupf("%s/providers/Microsoft.Compute/diskEncryptionSets/%s", scope_id, des);
    cJSON_AddStringToObject(e, "diskEncryptionSetId", id);
    free(id);
  }
  if (!kv) return 0;
  char *vid = kv[0] == '/' ? strdup(kv) : az_strdupf("%s/providers/Microsoft.KeyVault/vaults/%s", scope_id, kv);
  cJSON *ve = az_res_get(vid);
  if (!ve || !key) {
    snprintf(err, errlen, "encryption: key vault '%s' (listed before the VM) and 'key' are required", kv);
    free(vid);
    return -1;
  }
  cJSON *vres = cJSON_GetObjectItem(ve, "res");
  char *lname = az_lower(az_str(vres, "name"));
  cJSON *item = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(az_kv_store(lname, false), "keys"), key);
  free(lname);
  cJSON *vs = cJSON_GetObjectItem(item, "versions");
  const char *ver = az_str(cJSON_GetArrayItem(vs, cJSON_GetArraySize(vs) - 1), "version");
  if (!ver) {
    snprintf(err, errlen, "encryption: key '%s' not found in vault '%s'", key, kv);
    free(vid);
    return -1;
  }
  const char *uri = az_str(cJSON_GetObjectItem(vres, "properties"), "vaultUri");
  cJSON *coll = cJSON_AddObjectToObject(props, "encryptionSettingsCollection");
  cJSON_AddBoolToObject(coll, "enabled", true);
  cJSON_AddStringToObject(coll, "encryptionSettingsVersion", "1.1");
  cJSON *el = cJSON_CreateObject();
  cJSON *kek = cJSON_AddObjectToObject(el, "keyEncryptionKey");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(kek, "sourceVault"), "id", az_str(vres, "id"));
  char *url = az_strdupf("%skeys/%s/%s", uri ? uri : "", key, ver);
  cJSON_AddStringToObject(kek, "keyUrl", url);
  free(url);
  cJSON_AddItemToArray(cJSON_AddArrayToObject(coll, "encryptionSettings"), el);
  free(vid);
  return 0;
}

/* One managed disk of a seeded VM; *id gets its id (malloc). */
static int seed_vm_disk(const char *scope_id, const cJSON *vm, const cJSON *d, const char *dflt_name, bool os,
                        char **id, char *err, size_t errlen) {
  const char *name = az_str(d, "name") ? az_str(d, "name") : dflt_name;
  *id = az_strdupf("%s/providers/Microsoft.Compute/disks/%s", scope_id, name);
  double n = az_num(d, "size_bytes", 65536);
  cJSON *b = cJSON_CreateObject();
  if (az_str(vm, "location")) cJSON_AddStringToObject(b, "location", az_str(vm, "location"));
  cJSON_AddStringToObject(cJSON_AddObjectToObject(b, "sku"), "name", "Premium_LRS");
  cJSON *props = cJSON_AddObjectToObject(b, "properties");
  cJSON_AddNumberToObject(props, "diskSizeGB", n > 0 ? (double)(((long long)n + (1LL << 30) - 1) >> 30) : 1);
  cJSON_AddStringToObject(cJSON_AddObjectToObject(props, "creationData"), "createOption", "Empty");
  if (os) cJSON_AddStringToObject(props, "osType", "Linux");
  int rc = disk_encryption(scope_id, cJSON_GetObjectItem(vm, "encryption"), props, err, errlen);
  char *url = az_strdupf("%s?api-version=2023-04-02", *id);
  if (!rc) rc = put(url, b, err, errlen);
  free(url);
  cJSON_Delete(b);
  cJSON *e = rc ? NULL : az_res_get(*id);
  if (e) {
    cJSON *spec = cJSON_CreateObject();
    cJSON_AddNumberToObject(spec, "size_bytes", n);
    if (az_str(d, "content_seed")) cJSON_AddStringToObject(spec, "content_seed", az_str(d, "content_seed"));
    rc = seed_content(e, spec, err, errlen);
    cJSON_Delete(spec);
  }
  return rc;
}

/* type Microsoft.Compute/virtualMachines with os_disk / data_disks /
 * network / encryption (docs/azsim.md): the disks, the virtual network,
 * subnet and NIC, then the VM referencing them, running. */
static int seed_vm(const char *scope_id, const cJSON *spec, char *err, size_t errlen) {
  const char *name = az_str(spec, "name");
  char *osid = NULL, *dflt = az_strdupf("%s-osdisk", name);
  int rc = seed_vm_disk(scope_id, spec, cJSON_GetObjectItem(spec, "os_disk"), dflt, true, &osid, err, errlen);
  free(dflt);
  cJSON *b = resource_body(spec);
  cJSON *props = az_obj(b, "properties");
  if (!cJSON_GetObjectItem(props, "hardwareProfile"))
    cJSON_AddStringToObject(cJSON_AddObjectToObject(props, "hardwareProfile"), "vmSize",
                            az_str(spec, "vm_size") ? az_str(spec, "vm_size") : "Standard_B2s");
  cJSON *sp = cJSON_CreateObject();
  cJSON *osd = cJSON_AddObjectToObject(sp, "osDisk");
  cJSON_AddStringToObject(osd, "osType", "Linux");
  cJSON_AddStringToObject(osd, "name", strrchr(osid, '/') + 1);
  cJSON_AddStringToObject(osd, "createOption", "Attach");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(osd, "managedDisk"), "id", osid);
  cJSON_AddStringToObject(osd, "deleteOption", "Detach");
  free(osid);
  cJSON *dds = cJSON_AddArrayToObject(sp, "dataDisks");
  cJSON *d;
  int i = 0;
  cJSON_ArrayForEach(d, cJSON_GetObjectItem(spec, "data_disks")) {
    if (rc) break;
    double l = az_num(d, "lun", i);
    int lun = l >= 0 && l < 64 ? (int)l : i; /* Azure: luns 0..63 */
    char *did = NULL, *dn = az_strdupf("%s-data%d", name, lun);
    rc = seed_vm_disk(scope_id, spec, d, dn, false, &did, err, errlen);
    free(dn);
    cJSON *dd = cJSON_CreateObject();
    cJSON_AddNumberToObject(dd, "lun", lun);
    cJSON_AddStringToObject(dd, "name", strrchr(did, '/') + 1);
    cJSON_AddStringToObject(dd, "createOption", "Attach");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(dd, "managedDisk"), "id", did);
    cJSON_AddStringToObject(dd, "deleteOption", "Detach");
    cJSON_AddItemToArray(dds, dd);
    free(did);
    i++;
  }
  az_set(props, "storageProfile", sp);
  cJSON *net = cJSON_GetObjectItem(spec, "network");
  if (!rc && net) {
    const char *vnet = az_str(net, "vnet"), *subnet = az_str(net, "subnet"), *nic = az_str(net, "nic");
    char *vn = az_strdupf("%s-vnet", name), *nn = az_strdupf("%s-nic", name);
    char *vnid = az_strdupf("%s/providers/Microsoft.Network/virtualNetworks/%s", scope_id, vnet ? vnet : vn);
    char *snid = az_strdupf("%s/subnets/%s", vnid, subnet ? subnet : "default");
    char *nicid = az_strdupf("%s/providers/Microsoft.Network/networkInterfaces/%s", scope_id, nic ? nic : nn);
    char *url;
    if (!az_res_get(vnid)) {
      cJSON *vb = cJSON_Parse("{\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.0.0.0/16\"]}}}");
      url = az_strdupf("%s?api-version=2023-09-01", vnid);
      rc = put(url, vb, err, errlen);
      free(url);
      cJSON_Delete(vb);
    }
    if (!rc && !az_res_get(snid)) {
      cJSON *sb = cJSON_Parse("{\"properties\":{\"addressPrefix\":\"10.0.0.0/24\"}}");
      url = az_strdupf("%s?api-version=2023-09-01", snid);
      rc = put(url, sb, err, errlen);
      free(url);
      cJSON_Delete(sb);
    }
    if (!rc && !az_res_get(nicid)) {
      cJSON *nb = cJSON_CreateObject();
      cJSON *ipc = cJSON_CreateObject();
      cJSON_AddStringToObject(ipc, "name", "ipconfig1");
      cJSON *ipp = cJSON_AddObjectToObject(ipc, "properties");
      cJSON_AddStringToObject(ipp, "privateIPAllocationMethod", "Dynamic");
      cJSON_AddStringToObject(cJSON_AddObjectToObject(ipp, "subnet"), "id", snid);
      cJSON_AddItemToArray(cJSON_AddArrayToObject(cJSON_AddObjectToObject(nb, "properties"), "ipConfigurations"), ipc);
      url = az_strdupf("%s?api-version=2023-09-01", nicid);
      rc = put(url, nb, err, errlen);
      free(url);
      cJSON_Delete(nb);
    }
    cJSON *np = cJSON_CreateObject();
    cJSON *ni = cJSON_CreateObject();
    cJSON_AddStringToObject(ni, "id", nicid);
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(ni, "properties"), "primary", true);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(np, "networkInterfaces"), ni);
    az_set(props, "networkProfile", np);
    free(vn);
    free(nn);
    free(vnid);
    free(snid);
    free(nicid);
  }
  char *vmid = az_strdupf("%s/providers/Microsoft.Compute/virtualMachines/%s", scope_id, name);
  char *url = az_strdupf("%s?api-version=2024-03-01", vmid);
  if (!rc) rc = put(url, b, err, errlen);
  free(url);
  cJSON_Delete(b);
  const char *power = az_str(spec, "power");
  cJSON *e = az_res_get(vmid);
  if (!rc && e && power) {
    if (!az_ieq(power, "running") && !az_ieq(power, "stopped") && !az_ieq(power, "deallocated")) {
      snprintf(err, errlen, "%s: power must be running, stopped or deallocated", name);
      rc = -1;
    } else {
      char *l = az_lower(power);
      az_set_str(e, "power", l);
      free(l);
    }
  }
  free(vmid);
  return rc;
}

static int seed_resource(const char *scope_id, const cJSON *spec, cJSON *pending_locks, char *err, size_t errlen) {
  const char *type = az_str(spec, "type"), *name = az_str(spec, "name");
  if (!type || !name) {
    snprintf(err, errlen, "resources need 'type' and 'name'");
    return -1;
  }
  if (az_ieq(type, "Microsoft.Compute/virtualMachines") &&
      (cJSON_GetObjectItem(spec, "os_disk") || cJSON_GetObjectItem(spec, "data_disks") || cJSON_GetObjectItem(spec, "network"))) {
    if (strchr(scope_id, '/') && strstr(scope_id, "/providers/")) {
      snprintf(err, errlen, "%s: a seeded VM must be a top-level resource", name);
      return -1;
    }
    int rc = seed_vm(scope_id, spec, err, errlen);
    cJSON *l = cJSON_GetObjectItem(spec, "locks");
    if (!rc && l) {
      cJSON *pl = cJSON_CreateObject();
      char *id = az_strdupf("%s/providers/Microsoft.Compute/virtualMachines/%s", scope_id, name);
      cJSON_AddStringToObject(pl, "scope", id);
      free(id);
      cJSON_AddItemToObject(pl, "locks", cJSON_Duplicate(l, 1));
      cJSON_AddItemToArray(pending_locks, pl);
    }
    return rc;
  }
  /* top-level: "NS/type" under "<rg>/providers"; children: relative type */
  char *id = strchr(type, '.') ? az_strdupf("%s/providers/%s/%s", scope_id, type, name)
                               : az_strdupf("%s/%s/%s", scope_id, type, name);
  char *url = az_strdupf("%s?%s", id, API);
  cJSON *b = resource_body(spec);
  int rc = put(url, b, err, errlen);
  cJSON_Delete(b);
  free(url);
  if (!rc) {
    cJSON *e = az_res_get(id);
    if (az_ieq(type, "Microsoft.KeyVault/vaults")) az_kv_seed(name, spec);
    if (az_ieq(type, "Microsoft.Storage/storageAccounts")) rc = seed_containers(id, name, spec, err, errlen);
    if (!rc && az_ieq(type, "Microsoft.Storage/storageAccounts")) rc = seed_shares(id, name, spec, err, errlen);
    if (!rc && e && cJSON_GetObjectItem(e, "content") &&
        (cJSON_GetObjectItem(spec, "size_bytes") || az_str(spec, "content_seed")))
      rc = seed_content(e, spec, err, errlen);
    if (e && cJSON_GetObjectItem(spec, "tables")) az_sql_seed(e, cJSON_GetObjectItem(spec, "tables"), az_now());
    cJSON *l = cJSON_GetObjectItem(spec, "locks");
    if (l) {
      cJSON *pl = cJSON_CreateObject();
      cJSON_AddStringToObject(pl, "scope", id);
      cJSON_AddItemToObject(pl, "locks", cJSON_Duplicate(l, 1));
      cJSON_AddItemToArray(pending_locks, pl);
    }
    cJSON *ch;
    cJSON_ArrayForEach(ch, cJSON_GetObjectItem(spec, "children")) {
      if (rc) break;
      rc = seed_resource(id, ch, pending_locks, err, errlen);
    }
  }
  free(id);
  return rc;
}

int az_estate_load(const cJSON *estate, char *err, size_t errlen) {
  cJSON *identity = az_obj(az_g.st, "identity");
  cJSON *tenants = cJSON_CreateArray();
  const cJSON *t;
  if (az_str(estate, "tenant")) cJSON_AddItemToArray(tenants, cJSON_CreateString(az_str(estate, "tenant")));
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(estate, "tenants")) {
    if (cJSON_IsString(t)) cJSON_AddItemToArray(tenants, cJSON_CreateString(t->valuestring));
  }
  if (cJSON_GetArraySize(tenants) == 0)
    cJSON_AddItemToArray(tenants, cJSON_CreateString("00000000-0000-0000-0000-000000000001"));
  az_set(identity, "tenants", tenants);
  const char *tenant = cJSON_GetArrayItem(tenants, 0)->valuestring;
  cJSON *id_spec = cJSON_GetObjectItem(estate, "identity");
  cJSON *clients = cJSON_CreateObject();
  cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(id_spec, "clients")) {
    if (az_str(c, "client_id")) cJSON_AddItemToObject(clients, az_str(c, "client_id"), cJSON_Duplicate(c, 1));
  }
  az_set(identity, "clients", clients);
  cJSON *mis = cJSON_GetObjectItem(id_spec, "managed_identities");
  az_set(identity, "managed_identities", mis ? cJSON_Duplicate(mis, 1) : cJSON_CreateArray());
  az_set_str(identity, "identity_header",
             az_str(id_spec, "identity_header") ? az_str(id_spec, "identity_header") : "azsim-identity-header");

  cJSON *settings = cJSON_GetObjectItem(estate, "settings");
  double ps = az_num(settings, "page_size", az_g.page_size);
  double tl = az_num(settings, "token_lifetime", az_g.token_lifetime);
  double ls = az_num(settings, "lro_seconds", az_g.lro_seconds);
  double ra = az_num(settings, "lro_retry_after", az_g.lro_retry_after);
  if (ps < 1 || ps > 1000 || tl < 1 || tl > 1e8 || ls < 0 || ls > 1e8 || ra < 0 || ra > 3600) {
    snprintf(err, errlen, "settings: page_size 1..1000, token_lifetime 1..1e8, lro_seconds 0..1e8, lro_retry_after 0..3600");
    return -1;
  }
  az_g.page_size = (int)ps;
  az_g.token_lifetime = (int)tl;
  az_g.lro_seconds = ls;
  az_g.lro_retry_after = (int)ra;

  cJSON *subs = az_obj(az_g.st, "subscriptions");
  cJSON *pending_locks = cJSON_CreateArray();
  int rc = 0;
  cJSON *s;
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(estate, "subscriptions")) {
    const char *sid = az_str(s, "id");
    if (!sid) {
      snprintf(err, errlen, "subscriptions need an 'id'");
      rc = -1;
      break;
    }
    cJSON *so = cJSON_CreateObject();
    cJSON_AddStringToObject(so, "subscriptionId", sid);
    cJSON_AddStringToObject(so, "displayName", az_str(s, "name") ? az_str(s, "name") : sid);
    cJSON_AddStringToObject(so, "tenantId", az_str(s, "tenant") ? az_str(s, "tenant") : tenant);
    char *l = az_lower(sid);
    az_set(subs, l, so);
    free(l);
    cJSON *rg;
    cJSON_ArrayForEach(rg, cJSON_GetObjectItem(s, "resource_groups")) {
      const char *rgn = az_str(rg, "name");
      if (!rgn) continue;
      char *rgid = az_strdupf("/subscriptions/%s/resourceGroups/%s", sid, rgn);
      char *url = az_strdupf("%s?api-version=2021-04-01", rgid);
      cJSON *b = cJSON_CreateObject();
      cJSON_AddStringToObject(b, "location", az_str(rg, "location") ? az_str(rg, "location") : "westeurope");
      if (cJSON_GetObjectItem(rg, "tags")) cJSON_AddItemToObject(b, "tags", cJSON_Duplicate(cJSON_GetObjectItem(rg, "tags"), 1));
      rc = put(url, b, err, errlen);
      cJSON_Delete(b);
      free(url);
      cJSON *res;
      cJSON_ArrayForEach(res, cJSON_GetObjectItem(rg, "resources")) {
        if (rc) break;
        rc = seed_resource(rgid, res, pending_locks, err, errlen);
      }
      if (!rc && cJSON_GetObjectItem(rg, "locks")) {
        cJSON *pl = cJSON_CreateObject();
        cJSON_AddStringToObject(pl, "scope", rgid);
        cJSON_AddItemToObject(pl, "locks", cJSON_Duplicate(cJSON_GetObjectItem(rg, "locks"), 1));
        cJSON_AddItemToArray(pending_locks, pl);
      }
      free(rgid);
      if (rc) break;
    }
    if (rc) break;
  }
  if (!rc) rc = az_devops_seed(cJSON_GetObjectItem(estate, "devops"), err, errlen);
  /* locks last, so that ReadOnly locks do not stop the seeding itself */
  cJSON *pl;
  cJSON_ArrayForEach(pl, pending_locks) {
    if (rc) break;
    rc = seed_locks(az_str(pl, "scope"), cJSON_GetObjectItem(pl, "locks"), err, errlen);
  }
  cJSON_Delete(pending_locks);
  return rc;
}

/* ---- inventory ---- */
static void add_item(cJSON *items, const char *key, const char *kind, const char *state, const char *sum, cJSON *extra) {
  cJSON *o = extra ? extra : cJSON_CreateObject();
  cJSON_AddStringToObject(o, "key", key);
  cJSON_AddStringToObject(o, "kind", kind);
  cJSON_AddStringToObject(o, "state", state);
  cJSON_AddStringToObject(o, "sha256", sum);
  cJSON_AddItemToArray(items, o);
}

static void json_sum(const cJSON *j, char out[65]) {
  char *s = cJSON_PrintUnformatted(j);
  az_sha256_hex(s ? s : "", s ? strlen(s) : 0, out);
  free(s);
}

static void blob_items(cJSON *items, const char *storekey, cJSON *store, bool container_deleted) {
  cJSON *b;
  char sum[65];
  cJSON_ArrayForEach(b, cJSON_GetObjectItem(store, "blobs")) {
    size_t n = 0;
    const char *d = az_str(b, "data");
    unsigned char *raw = d && *d ? az_b64_decode(d, &n) : NULL;
    az_sha256_hex(raw ? (const char *)raw : "", n, sum);
    free(raw);
    char *key = az_strdupf("blob:%s/%s", storekey, b->string);
    cJSON *x = cJSON_CreateObject();
    cJSON_AddNumberToObject(x, "size", (double)n);
    add_item(items, key, "blob", container_deleted ? "soft-deleted" : "live", sum, x);
    free(key);
  }
  cJSON_ArrayForEach(b, cJSON_GetObjectItem(store, "deleted_blobs")) {
    if (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(store, "blobs"), b->string)) continue;
    cJSON *last = cJSON_GetArrayItem(b, cJSON_GetArraySize(b) - 1);
    if (!last) continue;
    size_t n = 0;
    const char *d = az_str(last, "data");
    unsigned char *raw = d && *d ? az_b64_decode(d, &n) : NULL;
    az_sha256_hex(raw ? (const char *)raw : "", n, sum);
    free(raw);
    char *key = az_strdupf("blob:%s/%s", storekey, b->string);
    cJSON *x = cJSON_CreateObject();
    cJSON_AddNumberToObject(x, "size", (double)n);
    add_item(items, key, "blob", "soft-deleted", sum, x);
    free(key);
  }
}

cJSON *az_inventory(void) {
  cJSON *o = cJSON_CreateObject();
  char now[64];
  az_iso8601(az_now(), now, sizeof now);
  cJSON_AddStringToObject(o, "time", now);
  cJSON *items = cJSON_AddArrayToObject(o, "items");
  char sum[65];
  cJSON *e;
  cJSON_ArrayForEach(e, az_obj(az_g.st, "resources")) {
    cJSON *res = az_strip_private(cJSON_GetObjectItem(e, "res"));
    json_sum(res, sum);
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "id", az_str(res, "id"));
    cJSON_AddStringToObject(x, "type", az_str(res, "type"));
    cJSON_Delete(res);
    char *key = az_strdupf("arm:%s", e->string);
    add_item(items, key, "arm", "live", sum, x);
    free(key);
    cJSON *content = cJSON_GetObjectItem(e, "content");
    if (content) {
      char *cs = az_disk_checksum(content);
      key = az_strdupf("disk:%s", e->string);
      cJSON *y = cJSON_CreateObject();
      cJSON_AddNumberToObject(y, "size", (double)az_disk_size(content));
      add_item(items, key, "disk-content", "live", cs, y);
      free(key);
      free(cs);
    }
  }
  /* SQL tables: one item per table; a dropped database's tables keep the
   * live database's key, marked soft-deleted (restorable) */
  cJSON_ArrayForEach(e, az_obj(az_g.st, "resources")) {
    bool dropped = az_ieq(az_str(e, "type"), "microsoft.sql/servers/restorabledroppeddatabases");
    if (!dropped && !az_ieq(az_str(e, "type"), "microsoft.sql/servers/databases")) continue;
    char *dbid = NULL;
    if (dropped) {
      const char *cut = strstr(e->string, "/restorabledroppeddatabases/");
      const char *dbn = az_str(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "res"), "properties"), "databaseName");
      char *l = az_lower(dbn ? dbn : "");
      dbid = cut ? az_strdupf("%.*s/databases/%s", (int)(cut - e->string), e->string, l) : NULL;
      free(l);
    } else {
      dbid = strdup(e->string);
    }
    cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(cJSON_GetObjectItem(e, "sql"), "tables")) {
      if (!dbid) break;
      char *cs = az_sql_table_sum(t);
      char *key = az_strdupf("sql:%s/%s", dbid, t->string);
      cJSON *x = cJSON_CreateObject();
      cJSON_AddNumberToObject(x, "rows", az_num(t, "rows", 0));
      add_item(items, key, "sql-table", dropped ? "soft-deleted" : "live", cs, x);
      free(key);
      free(cs);
    }
    free(dbid);
  }
  cJSON_ArrayForEach(e, az_obj(az_g.st, "deleted_vaults")) {
    cJSON *x = cJSON_CreateObject();
    char *key = az_strdupf("deleted-vault:%s", e->string);
    json_sum(cJSON_GetObjectItem(e, "_res"), sum);
    add_item(items, key, "deleted-vault", "soft-deleted", sum, x);
    free(key);
  }
  cJSON *vault;
  cJSON_ArrayForEach(vault, az_obj(az_g.st, "kv")) {
    bool vdel = az_bool(vault, "deleted", false);
    static const char *colls[] = {"secrets", "keys", "certificates"};
    for (int i = 0; i < 3; i++) {
      cJSON *it;
      cJSON_ArrayForEach(it, cJSON_GetObjectItem(vault, colls[i])) {
        json_sum(cJSON_GetObjectItem(it, "versions"), sum);
        char *key = az_strdupf("kv:%s/%s/%s", vault->string, colls[i], it->string);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "versions", cJSON_GetArraySize(cJSON_GetObjectItem(it, "versions")));
        add_item(items, key, "kv", (vdel || cJSON_GetObjectItem(it, "deleted")) ? "soft-deleted" : "live", sum, x);
        free(key);
      }
    }
  }
  cJSON *s;
  cJSON_ArrayForEach(s, az_obj(az_g.st, "blob")) blob_items(items, s->string, s, false);
  cJSON_ArrayForEach(s, az_obj(az_g.st, "deleted_containers")) {
    char k[256];
    snprintf(k, sizeof k, "%.*s", (int)strcspn(s->string, ";"), s->string);
    blob_items(items, k, s, true);
  }
  az_devops_inventory(items);
  az_files_inventory(items);
  /* whole-inventory checksum over "key state sha256" lines */
  size_t cap = 64, len = 0;
  char *all = malloc(cap);
  all[0] = 0;
  cJSON *it;
  cJSON_ArrayForEach(it, items) {
    char *line = az_strdupf("%s %s %s\n", az_str(it, "key"), az_str(it, "state"), az_str(it, "sha256"));
    size_t ln = strlen(line);
    while (len + ln + 1 > cap) cap *= 2;
    all = realloc(all, cap);
    memcpy(all + len, line, ln + 1);
    len += ln;
    free(line);
  }
  az_sha256_hex(all, len, sum);
  free(all);
  cJSON_AddStringToObject(o, "sha256", sum);
  cJSON_AddNumberToObject(o, "count", cJSON_GetArraySize(items));
  return o;
}
