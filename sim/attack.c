/* The attacker: a principal with Owner (or Contributor) rights on every
 * subscription who tries to destroy the estate and its backups. Every step is
 * a request through azsim's own handlers (az_call), so it meets exactly the
 * protections clients meet. The playbook, in order:
 *
 *  1. Owner only: delete every management lock (Azure lets an Owner do this;
 *     a Contributor lacks Microsoft.Authorization/locks/delete).
 *  2. Weaken retention: delete unlocked immutability policies; try to shorten
 *     and delete locked ones; clear legal holds (Owner and Contributor hold
 *     clearLegalHold/action); disable blob and container soft delete; try to
 *     turn off Key Vault soft delete and purge protection.
 *  3. Data: overwrite ("encrypt") then delete every blob; overwrite the
 *     contents of every managed disk; delete and purge every Key Vault secret,
 *     key and certificate.
 *     Overwrite every Azure Files file in place.
 *     Delete every Azure DevOps repository; as an Owner also purge it from
 *     the recycle bin.
 *  4. Resources: delete snapshots, VMs, disks, vaults, containers, storage
 *     accounts, everything else, then resource groups; purge deleted vaults.
 *
 * The report compares inventories before and after: an item "survived" when
 * it is live with the same checksum, is "recoverable" when only soft-deleted,
 * "altered" when its content changed and "lost" when gone.
 */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void log_action(cJSON *log, const char *action, const char *target, int status, cJSON *body) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "action", action);
  cJSON_AddStringToObject(o, "target", target);
  cJSON_AddNumberToObject(o, "status", status);
  const char *code = az_str(cJSON_GetObjectItem(body, "error"), "code");
  if (code) cJSON_AddStringToObject(o, "code", code);
  cJSON_AddBoolToObject(o, "allowed", status < 300);
  cJSON_AddItemToArray(log, o);
}

static int call(cJSON *log, const char *action, const char *method, const char *host, const char *url,
                cJSON *hdrs, const char *body, const char *target) {
  cJSON *out = NULL;
  int st = az_call(method, host, url, hdrs, body, body ? strlen(body) : 0, &out);
  log_action(log, action, target ? target : url, st, out);
  cJSON_Delete(out);
  return st;
}

/* ids of resources whose type matches, collected before mutating */
static cJSON *ids_of(const char *type) {
  cJSON *ids = cJSON_CreateArray();
  cJSON *e;
  cJSON_ArrayForEach(e, az_obj(az_g.st, "resources")) {
    if (!type || az_ieq(az_str(e, "type"), type))
      cJSON_AddItemToArray(ids, cJSON_CreateString(az_str(cJSON_GetObjectItem(e, "res"), "id")));
  }
  return ids;
}

static void delete_all(cJSON *log, const char *type, const char *api) {
  cJSON *ids = ids_of(type);
  cJSON *id;
  cJSON_ArrayForEach(id, ids) {
    if (!az_res_get(id->valuestring)) continue; /* gone with its parent */
    char *url = az_strdupf("%s?api-version=%s", id->valuestring, api);
    call(log, "delete", "DELETE", NULL, url, NULL, NULL, id->valuestring);
    free(url);
  }
  cJSON_Delete(ids);
}

static void attack_blobs(cJSON *log) {
  cJSON *names = cJSON_CreateArray();
  cJSON *s;
  cJSON_ArrayForEach(s, az_obj(az_g.st, "blob")) {
    cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItem(s, "blobs")) {
      char *n = az_strdupf("/%s/%s", s->string, b->string);
      cJSON_AddItemToArray(names, cJSON_CreateString(n));
      free(n);
    }
  }
  cJSON *n;
  cJSON *h = cJSON_CreateObject();
  cJSON_AddStringToObject(h, "x-ms-blob-type", "BlockBlob");
  cJSON_ArrayForEach(n, names) {
    char *url = az_strdupf("%s", n->valuestring);
    call(log, "encrypt-blob", "PUT", NULL, url, h, "ENCRYPTED BY AZSIM ATTACKER; PAY UP", n->valuestring);
    call(log, "delete-blob", "DELETE", NULL, url, NULL, NULL, n->valuestring);
    free(url);
  }
  cJSON_Delete(h);
  cJSON_Delete(names);
}

/* Azure Files: overwrite every file in place (Put Range), as ransomware on
 * a mounted share would. Shares are deleted with the other resources. */
static void attack_files(cJSON *log) {
  cJSON *work = cJSON_CreateArray();
  cJSON *s, *f;
  cJSON_ArrayForEach(s, az_obj(az_g.st, "files")) {
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(s, "files")) {
      size_t n = 0;
      const char *d = az_str(f, "data");
      unsigned char *raw = d && *d ? az_b64_decode(d, &n) : NULL;
      free(raw);
      if (n == 0) continue;
      cJSON *w = cJSON_CreateObject();
      char *path = az_strdupf("/%s/%s", s->string, f->string);
      cJSON_AddStringToObject(w, "path", path);
      cJSON_AddNumberToObject(w, "size", (double)n);
      cJSON_AddItemToArray(work, w);
      free(path);
    }
  }
  cJSON *w;
  cJSON_ArrayForEach(w, work) {
    size_t n = (size_t)az_num(w, "size", 0);
    if (n > 4u * 1024u * 1024u) n = 4u * 1024u * 1024u;
    char *junk = malloc(n + 1);
    for (size_t i = 0; i < n; i++) junk[i] = "RANSOM!"[i % 7];
    junk[n] = 0;
    cJSON *h = cJSON_CreateObject();
    char *range = az_strdupf("bytes=0-%zu", n - 1);
    cJSON_AddStringToObject(h, "x-ms-range", range);
    cJSON_AddStringToObject(h, "x-ms-write", "update");
    char *url = az_strdupf("%s?comp=range", az_str(w, "path"));
    cJSON *out = NULL;
    int st = az_call("PUT", NULL, url, h, junk, n, &out);
    log_action(log, "encrypt-file", az_str(w, "path"), st, out);
    cJSON_Delete(out);
    free(url);
    free(range);
    free(junk);
    cJSON_Delete(h);
  }
  cJSON_Delete(work);
}

static void attack_kv(cJSON *log) {
  static const char *colls[][2] = {{"secrets", "deletedsecrets"}, {"keys", "deletedkeys"}, {"certificates", "deletedcertificates"}};
  cJSON *work = cJSON_CreateArray();
  cJSON *v;
  cJSON_ArrayForEach(v, az_obj(az_g.st, "kv")) {
    if (az_bool(v, "deleted", false)) continue;
    for (int i = 0; i < 3; i++) {
      cJSON *it;
      cJSON_ArrayForEach(it, cJSON_GetObjectItem(v, colls[i][0])) {
        cJSON *w = cJSON_CreateObject();
        cJSON_AddStringToObject(w, "vault", v->string);
        cJSON_AddNumberToObject(w, "kind", i);
        cJSON_AddStringToObject(w, "name", it->string);
        cJSON_AddItemToArray(work, w);
      }
    }
  }
  cJSON *w;
  cJSON_ArrayForEach(w, work) {
    int i = (int)az_num(w, "kind", 0);
    char host[200];
    snprintf(host, sizeof host, "%s.%s", az_str(w, "vault"), az_g.kv_suffix);
    char *target = az_strdupf("https://%s/%s/%s", host, colls[i][0], az_str(w, "name"));
    char *url = az_strdupf("/%s/%s?api-version=7.5", colls[i][0], az_str(w, "name"));
    call(log, "delete-kv-item", "DELETE", host, url, NULL, NULL, target);
    free(url);
    url = az_strdupf("/%s/%s?api-version=7.5", colls[i][1], az_str(w, "name"));
    call(log, "purge-kv-item", "DELETE", host, url, NULL, NULL, target);
    free(url);
    free(target);
  }
  cJSON_Delete(work);
}

/* Azure DevOps: delete every repository (to the recycle bin), then, as an
 * Owner (Project Collection Administrator), purge it from the recycle bin. */
static void attack_repos(cJSON *log, bool owner) {
  cJSON *work = cJSON_CreateArray();
  cJSON *org, *proj, *repo;
  cJSON_ArrayForEach(org, cJSON_GetObjectItem(cJSON_GetObjectItem(az_g.st, "devops"), "orgs")) {
    cJSON_ArrayForEach(proj, cJSON_GetObjectItem(org, "projects")) {
      cJSON_ArrayForEach(repo, cJSON_GetObjectItem(proj, "repos")) {
        char *base = az_strdupf("/%s/%s/_apis/git", az_str(org, "name"), az_str(proj, "name"));
        cJSON *w = cJSON_CreateObject();
        cJSON_AddStringToObject(w, "base", base);
        cJSON_AddStringToObject(w, "id", az_str(repo, "id"));
        cJSON_AddBoolToObject(w, "deleted", az_bool(repo, "deleted", false));
        char *target = az_strdupf("%s/%s/%s", az_str(org, "name"), az_str(proj, "name"), az_str(repo, "name"));
        cJSON_AddStringToObject(w, "target", target);
        cJSON_AddItemToArray(work, w);
        free(base);
        free(target);
      }
    }
  }
  cJSON *w;
  cJSON_ArrayForEach(w, work) {
    char *url;
    if (!az_bool(w, "deleted", false)) {
      url = az_strdupf("%s/repositories/%s?api-version=7.1", az_str(w, "base"), az_str(w, "id"));
      call(log, "delete-repo", "DELETE", NULL, url, NULL, NULL, az_str(w, "target"));
      free(url);
    }
    if (!owner) continue;
    url = az_strdupf("%s/recycleBin/repositories/%s?api-version=7.1", az_str(w, "base"), az_str(w, "id"));
    call(log, "purge-repo", "DELETE", NULL, url, NULL, NULL, az_str(w, "target"));
    free(url);
  }
  cJSON_Delete(work);
}

static void weaken_retention(cJSON *log) {
  cJSON *ids = ids_of("microsoft.storage/storageaccounts/blobservices/containers/immutabilitypolicies");
  cJSON *id;
  cJSON_ArrayForEach(id, ids) {
    cJSON *e = az_res_get(id->valuestring);
    if (!e) continue;
    cJSON *res = cJSON_GetObjectItem(e, "res");
    bool locked = az_ieq(az_str(cJSON_GetObjectItem(res, "properties"), "state"), "Locked");
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "If-Match", az_str(res, "etag") ? az_str(res, "etag") : "*");
    if (locked) {
      char *url = az_strdupf("%s/extend?api-version=2023-05-01", id->valuestring);
      call(log, "shorten-retention", "POST", NULL, url, h,
           "{\"properties\":{\"immutabilityPeriodSinceCreationInDays\":1}}", id->valuestring);
      free(url);
    }
    char *url = az_strdupf("%s?api-version=2023-05-01", id->valuestring);
    call(log, "delete-immutability-policy", "DELETE", NULL, url, h, NULL, id->valuestring);
    free(url);
    cJSON_Delete(h);
  }
  cJSON_Delete(ids);
  ids = ids_of("microsoft.storage/storageaccounts/blobservices/containers");
  cJSON_ArrayForEach(id, ids) {
    cJSON *e = az_res_get(id->valuestring);
    cJSON *lh = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "res"), "properties"), "legalHold");
    cJSON *tags = cJSON_CreateArray();
    cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(lh, "tags")) cJSON_AddItemToArray(tags, cJSON_CreateString(az_str(t, "tag")));
    if (cJSON_GetArraySize(tags) > 0) {
      cJSON *b = cJSON_CreateObject();
      cJSON_AddItemToObject(b, "tags", tags);
      char *body = cJSON_PrintUnformatted(b);
      cJSON_Delete(b);
      char *url = az_strdupf("%s/clearLegalHold?api-version=2023-05-01", id->valuestring);
      call(log, "clear-legal-hold", "POST", NULL, url, NULL, body, id->valuestring);
      free(url);
      free(body);
    } else {
      cJSON_Delete(tags);
    }
  }
  cJSON_Delete(ids);
  ids = ids_of("microsoft.storage/storageaccounts/blobservices");
  cJSON_ArrayForEach(id, ids) {
    char *url = az_strdupf("%s?api-version=2023-05-01", id->valuestring);
    call(log, "disable-soft-delete", "PUT", NULL, url, NULL,
         "{\"properties\":{\"deleteRetentionPolicy\":{\"enabled\":false},"
         "\"containerDeleteRetentionPolicy\":{\"enabled\":false}}}",
         id->valuestring);
    free(url);
  }
  cJSON_Delete(ids);
  ids = ids_of("microsoft.storage/storageaccounts/fileservices");
  cJSON_ArrayForEach(id, ids) {
    char *url = az_strdupf("%s?api-version=2023-05-01", id->valuestring);
    call(log, "disable-share-soft-delete", "PUT", NULL, url, NULL,
         "{\"properties\":{\"shareDeleteRetentionPolicy\":{\"enabled\":false}}}", id->valuestring);
    free(url);
  }
  cJSON_Delete(ids);
  ids = ids_of("microsoft.keyvault/vaults");
  cJSON_ArrayForEach(id, ids) {
    cJSON *e = az_res_get(id->valuestring);
    cJSON *res = cJSON_Duplicate(cJSON_GetObjectItem(e, "res"), 1);
    cJSON *props = cJSON_GetObjectItem(res, "properties");
    az_set_bool(props, "enablePurgeProtection", false);
    az_set_bool(props, "enableSoftDelete", false);
    char *body = cJSON_PrintUnformatted(res);
    cJSON_Delete(res);
    char *url = az_strdupf("%s?api-version=2023-07-01", id->valuestring);
    call(log, "disable-vault-protection", "PUT", NULL, url, NULL, body, id->valuestring);
    free(url);
    free(body);
  }
  cJSON_Delete(ids);
}

static void encrypt_disks(cJSON *log) {
  cJSON *e;
  cJSON_ArrayForEach(e, az_obj(az_g.st, "resources")) {
    if (!az_ieq(az_str(e, "type"), "microsoft.compute/disks")) continue;
    cJSON *content = cJSON_GetObjectItem(e, "content");
    if (!content) continue;
    /* a disk is written from inside its VM; no ARM protection applies */
    const char *seed = az_str(content, "seed");
    if (!seed) seed = az_str(content, "blob");
    char *ns = az_strdupf("encrypted:%s", seed ? seed : "");
    size_t size = az_disk_size(content);
    az_set(e, "content", az_disk_content_seeded(ns, size ? size : 65536));
    free(ns);
    log_action(log, "encrypt-disk", az_str(cJSON_GetObjectItem(e, "res"), "id"), 200, NULL);
  }
}

static void purge_deleted_vaults(cJSON *log) {
  cJSON *work = cJSON_CreateArray();
  cJSON *d;
  cJSON_ArrayForEach(d, az_obj(az_g.st, "deleted_vaults")) cJSON_AddItemToArray(work, cJSON_CreateString(az_str(d, "id")));
  cJSON_ArrayForEach(d, work) {
    char *url = az_strdupf("%s/purge?api-version=2023-07-01", d->valuestring);
    call(log, "purge-vault", "POST", NULL, url, NULL, NULL, d->valuestring);
    free(url);
  }
  cJSON_Delete(work);
}

/* Ransomware without the Owner: encrypt what lives inside VMs and databases. */
cJSON *az_ransomware(void) {
  cJSON *log = cJSON_CreateArray();
  encrypt_disks(log);
  int tables = az_sql_encrypt(az_now());
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "disks", cJSON_GetArraySize(log));
  cJSON_AddNumberToObject(o, "sql_tables", tables);
  cJSON_Delete(log);
  return o;
}

static cJSON *by_key(cJSON *inv) {
  cJSON *m = cJSON_CreateObject();
  cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItem(inv, "items")) {
    cJSON_AddItemReferenceToObject(m, az_str(it, "key"), it);
  }
  return m;
}

cJSON *az_attack(const char *role) {
  bool owner = !role || az_ieq(role, "Owner");
  cJSON *before = az_inventory();
  cJSON *log = cJSON_CreateArray();
  if (owner) delete_all(log, "microsoft.authorization/locks", "2020-05-01");
  weaken_retention(log);
  attack_blobs(log);
  attack_files(log);
  encrypt_disks(log);
  if (az_sql_encrypt(az_now()) > 0) log_action(log, "encrypt-sql-tables", "all databases", 200, NULL);
  attack_kv(log);
  attack_repos(log, owner);
  static const char *order[] = {"microsoft.compute/snapshots", "microsoft.compute/virtualmachines",
                                "microsoft.compute/disks", "microsoft.keyvault/vaults",
                                "microsoft.storage/storageaccounts/blobservices/containers",
                                "microsoft.storage/storageaccounts/fileservices/shares",
                                "microsoft.storage/storageaccounts"};
  for (size_t i = 0; i < sizeof order / sizeof *order; i++) delete_all(log, order[i], "2023-05-01");
  /* everything else that is top-level, then resource groups */
  cJSON *ids = ids_of(NULL);
  cJSON *id;
  cJSON_ArrayForEach(id, ids) {
    cJSON *e = az_res_get(id->valuestring);
    if (!e) continue;
    const char *t = az_str(e, "type");
    if (az_ieq(t, "microsoft.resources/resourcegroups") || az_res_is_lock(e)) continue;
    if (strchr(strchr(t, '/') + 1, '/')) continue;
    char *url = az_strdupf("%s?api-version=2023-05-01", id->valuestring);
    call(log, "delete", "DELETE", NULL, url, NULL, NULL, id->valuestring);
    free(url);
  }
  cJSON_Delete(ids);
  delete_all(log, "microsoft.resources/resourcegroups", "2021-04-01");
  az_tick(az_now()); /* let zero-length LROs finish */
  purge_deleted_vaults(log);
  cJSON *after = az_inventory();

  cJSON *report = cJSON_CreateObject();
  cJSON_AddStringToObject(report, "role", owner ? "Owner" : "Contributor");
  cJSON *survived = cJSON_AddArrayToObject(report, "survived");
  cJSON *recoverable = cJSON_AddArrayToObject(report, "recoverable");
  cJSON *altered = cJSON_AddArrayToObject(report, "altered");
  cJSON *lost = cJSON_AddArrayToObject(report, "lost");
  cJSON *am = by_key(after);
  cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItem(before, "items")) {
    const char *key = az_str(it, "key");
    if (strncmp(key, "arm:", 4) == 0) continue; /* report data, not control-plane objects */
    cJSON *a = cJSON_GetObjectItemCaseSensitive(am, key);
    cJSON *k = cJSON_CreateString(key);
    if (!a) cJSON_AddItemToArray(lost, k);
    else if (strcmp(az_str(a, "sha256"), az_str(it, "sha256")) != 0) cJSON_AddItemToArray(altered, k);
    else if (strcmp(az_str(a, "state"), "live") == 0 && strcmp(az_str(it, "state"), "live") == 0) cJSON_AddItemToArray(survived, k);
    else cJSON_AddItemToArray(recoverable, k);
  }
  cJSON *rlost = cJSON_AddArrayToObject(report, "resources_deleted");
  cJSON *rkept = cJSON_AddArrayToObject(report, "resources_kept");
  cJSON_ArrayForEach(it, cJSON_GetObjectItem(before, "items")) {
    const char *key = az_str(it, "key");
    if (strncmp(key, "arm:", 4) != 0) continue;
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(am, key) ? rkept : rlost, cJSON_CreateString(az_str(it, "id")));
  }
  cJSON *sum = cJSON_AddObjectToObject(report, "summary");
  cJSON_AddNumberToObject(sum, "survived", cJSON_GetArraySize(survived));
  cJSON_AddNumberToObject(sum, "recoverable", cJSON_GetArraySize(recoverable));
  cJSON_AddNumberToObject(sum, "altered", cJSON_GetArraySize(altered));
  cJSON_AddNumberToObject(sum, "lost", cJSON_GetArraySize(lost));
  cJSON_AddNumberToObject(sum, "resources_deleted", cJSON_GetArraySize(rlost));
  cJSON_AddNumberToObject(sum, "resources_kept", cJSON_GetArraySize(rkept));
  int refused = 0;
  cJSON_ArrayForEach(it, log) refused += !az_bool(it, "allowed", true);
  cJSON_AddNumberToObject(sum, "actions", cJSON_GetArraySize(log));
  cJSON_AddNumberToObject(sum, "refused", refused);
  cJSON_AddItemToObject(report, "actions", log);
  cJSON_Delete(am);
  cJSON_Delete(before);
  cJSON_Delete(after);
  return report;
}
