/* Key Vault data plane (api-version 7.4/7.5), following
 * specification/keyvault/data-plane/Microsoft.KeyVault/stable/7.5
 * (secrets.json, keys.json, certificates.json): list (paged), get, set,
 * create/import, delete (soft delete), deleted* list/get/recover/purge,
 * backup and restore, with the challenge 401 and Azure's error codes.
 *
 * A vault is addressed by the Host header: NAME.<kv_suffix>[:port] (default
 * suffix vault.localhost), so ids parse as /collection/name[/version] like
 * https://NAME.vault.azure.net/. Store: st.kv[name] =
 *   {id (ARM id), sub, location, deleted,
 *    secrets|keys|certificates: {name: {versions: [...], deleted: {...}|absent}}}
 */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/rand.h>

typedef struct kv_kind {
  const char *coll;     /* "secrets" */
  const char *deleted;  /* "deletedsecrets" */
  const char *notfound; /* "SecretNotFound" */
  const char *noun;     /* "secret" */
  const char *Noun;     /* "Secret" */
} kv_kind;

static const kv_kind KINDS[] = {
    {"secrets", "deletedsecrets", "SecretNotFound", "secret", "Secret"},
    {"keys", "deletedkeys", "KeyNotFound", "key", "Key"},
    {"certificates", "deletedcertificates", "CertificateNotFound", "certificate", "Certificate"},
};

bool az_kv_host(const az_req *r, char *vault, size_t n) {
  const char *h = r->host;
  size_t hl = strcspn(h, ":");
  size_t sl = strlen(az_g.kv_suffix);
  if (hl <= sl + 1 || h[hl - sl - 1] != '.' || strncasecmp(h + hl - sl, az_g.kv_suffix, sl) != 0)
    return false;
  size_t vl = hl - sl - 1;
  if (vl >= n) return false;
  for (size_t i = 0; i < vl; i++) vault[i] = (char)((h[i] >= 'A' && h[i] <= 'Z') ? h[i] + 32 : h[i]);
  vault[vl] = 0;
  return true;
}

cJSON *az_kv_store(const char *vault, bool create) {
  cJSON *kv = az_obj(az_g.st, "kv");
  char *l = az_lower(vault);
  cJSON *s = cJSON_GetObjectItemCaseSensitive(kv, l);
  if (!s && create) {
    s = cJSON_CreateObject();
    cJSON_AddItemToObject(kv, l, s);
    for (size_t i = 0; i < 3; i++) cJSON_AddObjectToObject(s, KINDS[i].coll);
  }
  free(l);
  return s;
}

static cJSON *vault_props(cJSON *store) {
  cJSON *e = cJSON_GetObjectItemCaseSensitive(az_obj(az_g.st, "resources"), az_str(store, "id"));
  return cJSON_GetObjectItem(cJSON_GetObjectItem(e, "res"), "properties");
}

static bool soft_delete_on(cJSON *store) { return az_bool(vault_props(store), "enableSoftDelete", true); }
static bool purge_protected(cJSON *store) { return az_bool(vault_props(store), "enablePurgeProtection", false); }
static double retention_days(cJSON *store) { return az_num(vault_props(store), "softDeleteRetentionInDays", 90); }

static const char *recovery_level(cJSON *store) {
  if (!soft_delete_on(store)) return "Purgeable";
  return purge_protected(store) ? "Recoverable" : "Recoverable+Purgeable";
}

static void not_found(az_resp *p, const kv_kind *k, const char *name) {
  az_resp_error(p, 404, k->notfound,
                "A %s with (name/id) %s was not found in this key vault. If you recently deleted "
                "this %s you may be able to recover it using the correct recovery command. For "
                "help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
                k->noun, name, k->noun);
}

static cJSON *attributes(cJSON *store, const cJSON *ver) {
  cJSON *a = cJSON_CreateObject();
  cJSON_AddBoolToObject(a, "enabled", az_bool(ver, "enabled", true));
  cJSON_AddNumberToObject(a, "created", (double)(long)az_num(ver, "created", 0));
  cJSON_AddNumberToObject(a, "updated", (double)(long)az_num(ver, "updated", 0));
  cJSON_AddStringToObject(a, "recoveryLevel", recovery_level(store));
  if (soft_delete_on(store)) cJSON_AddNumberToObject(a, "recoverableDays", retention_days(store));
  return a;
}

static char *item_url(az_req *r, const char *coll, const char *name, const char *version) {
  return version ? az_strdupf("%s/%s/%s/%s", r->base, coll, name, version)
                 : az_strdupf("%s/%s/%s", r->base, coll, name);
}

/* Full bundle of one version (get, set, recover responses). */
static cJSON *bundle(az_req *r, cJSON *store, const kv_kind *k, const char *name, const cJSON *ver) {
  cJSON *o = cJSON_CreateObject();
  const char *v = az_str(ver, "version");
  char *id = item_url(r, k->coll, name, v);
  cJSON *payload = cJSON_GetObjectItem(ver, "payload");
  if (k == &KINDS[0]) {
    cJSON_AddStringToObject(o, "value", az_str(payload, "value") ? az_str(payload, "value") : "");
    cJSON_AddStringToObject(o, "id", id);
    if (az_str(payload, "contentType")) cJSON_AddStringToObject(o, "contentType", az_str(payload, "contentType"));
  } else if (k == &KINDS[1]) {
    cJSON *jwk = cJSON_Duplicate(cJSON_GetObjectItem(payload, "key"), 1);
    if (!jwk) jwk = cJSON_CreateObject();
    az_set_str(jwk, "kid", id);
    cJSON_AddItemToObject(o, "key", jwk);
  } else {
    cJSON_AddStringToObject(o, "id", id);
    char *kid = item_url(r, "keys", name, v), *sid = item_url(r, "secrets", name, v);
    cJSON_AddStringToObject(o, "kid", kid);
    cJSON_AddStringToObject(o, "sid", sid);
    free(kid);
    free(sid);
    cJSON_AddStringToObject(o, "x5t", az_str(payload, "x5t") ? az_str(payload, "x5t") : "");
    cJSON_AddStringToObject(o, "cer", az_str(payload, "cer") ? az_str(payload, "cer") : "");
  }
  free(id);
  cJSON_AddItemToObject(o, "attributes", attributes(store, ver));
  cJSON *tags = cJSON_GetObjectItem(ver, "tags");
  if (tags) cJSON_AddItemToObject(o, "tags", cJSON_Duplicate(tags, 1));
  return o;
}

/* List item (no value). */
static cJSON *list_item(az_req *r, cJSON *store, const kv_kind *k, const char *name, const cJSON *ver,
                        bool with_version) {
  cJSON *o = cJSON_CreateObject();
  char *id = item_url(r, k->coll, name, with_version ? az_str(ver, "version") : NULL);
  cJSON_AddStringToObject(o, k == &KINDS[1] ? "kid" : "id", id);
  free(id);
  cJSON *payload = cJSON_GetObjectItem(ver, "payload");
  if (k == &KINDS[0] && az_str(payload, "contentType")) cJSON_AddStringToObject(o, "contentType", az_str(payload, "contentType"));
  if (k == &KINDS[2]) cJSON_AddStringToObject(o, "x5t", az_str(payload, "x5t") ? az_str(payload, "x5t") : "");
  cJSON_AddItemToObject(o, "attributes", attributes(store, ver));
  cJSON *tags = cJSON_GetObjectItem(ver, "tags");
  if (tags) cJSON_AddItemToObject(o, "tags", cJSON_Duplicate(tags, 1));
  return o;
}

static void add_deleted_fields(az_req *r, cJSON *o, const kv_kind *k, const char *name, const cJSON *item) {
  cJSON *d = cJSON_GetObjectItem(item, "deleted");
  char *rid = az_strdupf("%s/%s/%s", r->base, k->deleted, name);
  cJSON_AddStringToObject(o, "recoveryId", rid);
  free(rid);
  cJSON_AddNumberToObject(o, "deletedDate", (double)(long)az_num(d, "at", 0));
  cJSON_AddNumberToObject(o, "scheduledPurgeDate", (double)(long)az_num(d, "purge_at", 0));
}

static cJSON *latest(cJSON *item) {
  cJSON *vs = cJSON_GetObjectItem(item, "versions");
  return cJSON_GetArrayItem(vs, cJSON_GetArraySize(vs) - 1);
}

static void kv_page(az_req *r, az_resp *p, cJSON *items, const char *path) {
  const char *tok = az_query(r, "$skiptoken");
  const char *mr = az_query(r, "maxresults");
  long skip = tok ? strtol(tok, NULL, 10) : 0;
  long top = mr ? strtol(mr, NULL, 10) : 25;
  if (top < 1 || top > 25) {
    cJSON_Delete(items);
    if (mr) {
      az_resp_error(p, 400, "BadParameter", "maxresults must be between 1 and 25.");
      return;
    }
    top = 25;
  }
  if (!mr && az_g.page_size < top) top = az_g.page_size;
  if (skip < 0 || skip > 1000000000L) skip = 0;
  cJSON *o = cJSON_CreateObject();
  cJSON *val = cJSON_AddArrayToObject(o, "value");
  long n = cJSON_GetArraySize(items), i = 0;
  cJSON *it;
  cJSON_ArrayForEach(it, items) {
    if (i >= skip && i < skip + top) cJSON_AddItemToArray(val, cJSON_Duplicate(it, 1));
    i++;
  }
  if (skip + top < n) {
    char *link = az_strdupf("%s%s?api-version=%s&%%24skiptoken=%ld&maxresults=%ld", r->base, path,
                            az_query(r, "api-version"), skip + top, top);
    cJSON_AddStringToObject(o, "nextLink", link);
    free(link);
  } else {
    cJSON_AddNullToObject(o, "nextLink");
  }
  cJSON_Delete(items);
  az_resp_json(p, 200, o);
}

/* ---- backup blobs: AES-256-GCM over the item's JSON with a per-estate key ---- */
static const unsigned char *backup_key(void) {
  static unsigned char key[32];
  const char *hex = az_str(az_g.st, "kv_backup_key");
  if (!hex || strlen(hex) != 64) {
    char h[65];
    az_rand_token(h, 32);
    az_set_str(az_g.st, "kv_backup_key", h);
    hex = az_str(az_g.st, "kv_backup_key");
  }
  for (int i = 0; i < 32; i++) {
    unsigned v = 0;
    sscanf(hex + 2 * i, "%2x", &v);
    key[i] = (unsigned char)v;
  }
  return key;
}

static char *seal(const char *plain) {
  const unsigned char *key = backup_key();
  size_t n = strlen(plain);
  unsigned char *buf = malloc(8 + 12 + 16 + n);
  memcpy(buf, "AZSIMKV1", 8);
  RAND_bytes(buf + 8, 12);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int len = 0, fin = 0;
  EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf + 8);
  EVP_EncryptUpdate(c, buf + 36, &len, (const unsigned char *)plain, (int)n);
  EVP_EncryptFinal_ex(c, buf + 36 + len, &fin);
  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, buf + 20);
  EVP_CIPHER_CTX_free(c);
  char *out = az_b64url_encode(buf, 36 + n);
  free(buf);
  return out;
}

static cJSON *unseal(const char *blob) {
  size_t n = 0;
  unsigned char *buf = az_b64url_decode(blob, &n);
  if (!buf || n < 36 || memcmp(buf, "AZSIMKV1", 8) != 0) {
    free(buf);
    return NULL;
  }
  const unsigned char *key = backup_key();
  unsigned char *plain = malloc(n - 36 + 1);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int len = 0, fin = 0, ok;
  EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf + 8);
  EVP_DecryptUpdate(c, plain, &len, buf + 36, (int)(n - 36));
  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, buf + 20);
  ok = EVP_DecryptFinal_ex(c, plain + len, &fin);
  EVP_CIPHER_CTX_free(c);
  cJSON *j = ok == 1 ? cJSON_ParseWithLength((char *)plain, (size_t)len) : NULL;
  free(plain);
  free(buf);
  return j;
}

/* ---- key material ---- */
static char *bn_param(EVP_PKEY *k, const char *name) {
  BIGNUM *bn = NULL;
  if (!EVP_PKEY_get_bn_param(k, name, &bn)) return NULL;
  int n = BN_num_bytes(bn);
  unsigned char *buf = malloc((size_t)n + 1);
  BN_bn2bin(bn, buf);
  char *s = az_b64url_encode(buf, (size_t)n);
  free(buf);
  BN_free(bn);
  return s;
}

static cJSON *make_jwk(const char *kty, double bits_d, const char *crv) {
  int bits = bits_d >= 2048 && bits_d <= 4096 ? (int)bits_d : 2048;
  cJSON *j = cJSON_CreateObject();
  bool ec = kty && (strncmp(kty, "EC", 2) == 0);
  EVP_PKEY *k = ec ? EVP_EC_gen(crv && strcmp(crv, "P-384") == 0 ? "P-384" : "P-256")
                   : EVP_RSA_gen((unsigned)bits);
  if (!k) {
    cJSON_Delete(j);
    return NULL;
  }
  cJSON_AddStringToObject(j, "kty", ec ? "EC" : "RSA");
  cJSON *ops = cJSON_AddArrayToObject(j, "key_ops");
  const char *names[] = {"sign", "verify", "encrypt", "decrypt", "wrapKey", "unwrapKey"};
  for (int i = 0; i < (ec ? 2 : 6); i++) cJSON_AddItemToArray(ops, cJSON_CreateString(names[i]));
  if (ec) {
    char *x = NULL, *y = NULL;
    /* EC public point as x/y via the generic parameter names */
    BIGNUM *bx = NULL, *by = NULL;
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &bx);
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &by);
    unsigned char bufx[66], bufy[66];
    int nx = bx ? BN_bn2binpad(bx, bufx, 32) : -1, ny = by ? BN_bn2binpad(by, bufy, 32) : -1;
    if (nx > 0) x = az_b64url_encode(bufx, (size_t)nx);
    if (ny > 0) y = az_b64url_encode(bufy, (size_t)ny);
    BN_free(bx);
    BN_free(by);
    cJSON_AddStringToObject(j, "crv", crv ? crv : "P-256");
    cJSON_AddStringToObject(j, "x", x ? x : "");
    cJSON_AddStringToObject(j, "y", y ? y : "");
    free(x);
    free(y);
  } else {
    char *n = bn_param(k, OSSL_PKEY_PARAM_RSA_N), *e = bn_param(k, OSSL_PKEY_PARAM_RSA_E);
    cJSON_AddStringToObject(j, "n", n ? n : "");
    cJSON_AddStringToObject(j, "e", e ? e : "");
    free(n);
    free(e);
  }
  EVP_PKEY_free(k);
  return j;
}

/* ---- mutation helpers, shared with the estate loader and the attacker ---- */
static cJSON *add_version(cJSON *store, const kv_kind *k, const char *name, cJSON *payload,
                          const cJSON *tags, double now) {
  cJSON *coll = az_obj(store, k->coll);
  cJSON *item = cJSON_GetObjectItemCaseSensitive(coll, name);
  if (!item) {
    item = cJSON_CreateObject();
    cJSON_AddArrayToObject(item, "versions");
    cJSON_AddItemToObject(coll, name, item);
  }
  cJSON *v = cJSON_CreateObject();
  char ver[33];
  az_rand_token(ver, 16);
  cJSON_AddStringToObject(v, "version", ver);
  cJSON_AddNumberToObject(v, "created", now);
  cJSON_AddNumberToObject(v, "updated", now);
  cJSON_AddBoolToObject(v, "enabled", true);
  cJSON_AddItemToObject(v, "payload", payload);
  if (tags) cJSON_AddItemToObject(v, "tags", cJSON_Duplicate(tags, 1));
  cJSON_AddItemToArray(cJSON_GetObjectItem(item, "versions"), v);
  return v;
}

void az_kv_seed(const char *vault, const cJSON *spec) {
  cJSON *store = az_kv_store(vault, true);
  double now = az_now();
  cJSON *s;
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(spec, "secrets")) {
    if (!az_str(s, "name")) continue;
    cJSON *vals = cJSON_GetObjectItem(s, "versions");
    cJSON *v;
    if (cJSON_IsArray(vals)) {
      cJSON_ArrayForEach(v, vals) {
        cJSON *pl = cJSON_CreateObject();
        cJSON_AddStringToObject(pl, "value", cJSON_IsString(v) ? v->valuestring : "");
        add_version(store, &KINDS[0], az_str(s, "name"), pl, cJSON_GetObjectItem(s, "tags"), now);
      }
    } else {
      cJSON *pl = cJSON_CreateObject();
      cJSON_AddStringToObject(pl, "value", az_str(s, "value") ? az_str(s, "value") : "");
      if (az_str(s, "contentType")) cJSON_AddStringToObject(pl, "contentType", az_str(s, "contentType"));
      add_version(store, &KINDS[0], az_str(s, "name"), pl, cJSON_GetObjectItem(s, "tags"), now);
    }
  }
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(spec, "keys")) {
    if (!az_str(s, "name")) continue;
    cJSON *pl = cJSON_CreateObject();
    cJSON *jwk = make_jwk(az_str(s, "kty") ? az_str(s, "kty") : "EC", az_num(s, "key_size", 2048), az_str(s, "crv"));
    if (jwk) cJSON_AddItemToObject(pl, "key", jwk);
    add_version(store, &KINDS[1], az_str(s, "name"), pl, cJSON_GetObjectItem(s, "tags"), now);
  }
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(spec, "certificates")) {
    if (!az_str(s, "name")) continue;
    cJSON *pl = cJSON_CreateObject();
    char *cer = NULL, *x5t = NULL;
    if (az_cert_selfsigned(az_str(s, "subject") ? az_str(s, "subject") : az_str(s, "name"), &cer, &x5t) == 0) {
      cJSON_AddStringToObject(pl, "cer", cer);
      cJSON_AddStringToObject(pl, "x5t", x5t);
    }
    free(cer);
    free(x5t);
    add_version(store, &KINDS[2], az_str(s, "name"), pl, cJSON_GetObjectItem(s, "tags"), now);
  }
}

static void soft_delete(cJSON *store, cJSON *coll, const char *name, cJSON *item, double now) {
  if (soft_delete_on(store)) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "at", now);
    cJSON_AddNumberToObject(d, "purge_at", now + 86400.0 * retention_days(store));
    az_set(item, "deleted", d);
  } else {
    cJSON_DeleteItemFromObjectCaseSensitive(coll, name);
  }
}

void az_kv_tick(double now) {
  cJSON *vault;
  cJSON_ArrayForEach(vault, az_obj(az_g.st, "kv")) {
    for (size_t i = 0; i < 3; i++) {
      cJSON *coll = cJSON_GetObjectItem(vault, KINDS[i].coll);
      cJSON *it = coll ? coll->child : NULL;
      while (it) {
        cJSON *next = it->next;
        cJSON *d = cJSON_GetObjectItem(it, "deleted");
        if (d && az_num(d, "purge_at", 0) <= now) cJSON_Delete(cJSON_DetachItemViaPointer(coll, it));
        it = next;
      }
    }
  }
}

/* ---- request handling ---- */
static void handle_collection(az_req *r, az_resp *p, cJSON *store, const kv_kind *k, bool deleted) {
  cJSON *items = cJSON_CreateArray();
  cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItem(store, k->coll)) {
    bool is_del = cJSON_GetObjectItem(it, "deleted") != NULL;
    if (is_del != deleted) continue;
    cJSON *o = list_item(r, store, k, it->string, latest(it), false);
    if (deleted) add_deleted_fields(r, o, k, it->string, it);
    cJSON_AddItemToArray(items, o);
  }
  char *path = az_strdupf("/%s", deleted ? k->deleted : k->coll);
  kv_page(r, p, items, path);
  free(path);
}

static cJSON *find_version(cJSON *item, const char *version) {
  if (!version || !*version) return latest(item);
  cJSON *v;
  cJSON_ArrayForEach(v, cJSON_GetObjectItem(item, "versions")) {
    if (strcmp(az_str(v, "version"), version) == 0) return v;
  }
  return NULL;
}

static cJSON *parse_obj(az_req *r, az_resp *p) {
  cJSON *b = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
  if (!cJSON_IsObject(b)) {
    cJSON_Delete(b);
    az_resp_error(p, 400, "BadParameter", "The request body is missing or is not a JSON object.");
    return NULL;
  }
  return b;
}

static void restore(az_req *r, az_resp *p, cJSON *store, const kv_kind *k) {
  cJSON *b = parse_obj(r, p);
  if (!b) return;
  const char *value = az_str(b, "value");
  cJSON *blob = value ? unseal(value) : NULL;
  cJSON_Delete(b);
  if (!blob || !az_ieq(az_str(blob, "kind"), k->coll) || !az_str(blob, "name")) {
    cJSON_Delete(blob);
    az_resp_error(p, 400, "BadParameter", "Backup blob contains invalid or corrupt version.");
    return;
  }
  const char *name = az_str(blob, "name");
  if (!az_ieq(az_str(blob, "sub"), az_str(store, "sub"))) {
    az_resp_error(p, 403, "Forbidden",
                  "Restore of a backup blob is only permitted into a vault in the same "
                  "subscription and geography as the source vault.");
  } else if (cJSON_GetObjectItemCaseSensitive(az_obj(store, k->coll), name)) {
    az_resp_error(p, 409, "Conflict", "%s %s already exists.", k->Noun, name);
  } else {
    cJSON *item = cJSON_CreateObject();
    cJSON_AddItemToObject(item, "versions", cJSON_Duplicate(cJSON_GetObjectItem(blob, "versions"), 1));
    cJSON_AddItemToObject(az_obj(store, k->coll), name, item);
    az_resp_json(p, 200, bundle(r, store, k, name, latest(item)));
  }
  cJSON_Delete(blob);
}

static void handle_item(az_req *r, az_resp *p, cJSON *store, const kv_kind *k) {
  const char *m = r->method;
  const char *name = r->seg[1];
  cJSON *coll = az_obj(store, k->coll);
  cJSON *item = cJSON_GetObjectItemCaseSensitive(coll, name);
  bool live = item && !cJSON_GetObjectItem(item, "deleted");
  const char *sub = r->nseg >= 3 ? r->seg[2] : NULL;

  if (r->nseg == 2 && strcmp(name, "restore") == 0 && strcmp(m, "POST") == 0) {
    restore(r, p, store, k);
    return;
  }
  /* create / set / import */
  bool set_secret = k == &KINDS[0] && r->nseg == 2 && strcmp(m, "PUT") == 0;
  bool create = k != &KINDS[0] && r->nseg == 3 && strcmp(sub, "create") == 0 && strcmp(m, "POST") == 0;
  bool import = k != &KINDS[0] && ((k == &KINDS[1] && r->nseg == 2 && strcmp(m, "PUT") == 0) ||
                                   (k == &KINDS[2] && r->nseg == 3 && strcmp(sub, "import") == 0 && strcmp(m, "POST") == 0));
  if (set_secret || create || import) {
    if (item && !live) {
      az_resp_error(p, 409, "Conflict",
                    "%s %s is currently in a deleted but recoverable state, and its name cannot "
                    "be reused; in this state, the %s can only be recovered or purged.",
                    k->Noun, name, k->noun);
      return;
    }
    cJSON *b = parse_obj(r, p);
    if (!b) return;
    cJSON *pl = cJSON_CreateObject();
    if (k == &KINDS[0]) {
      const char *v = az_str(b, "value");
      if (!v) {
        cJSON_Delete(b);
        cJSON_Delete(pl);
        az_resp_error(p, 400, "BadParameter", "The parameter 'value' is required.");
        return;
      }
      cJSON_AddStringToObject(pl, "value", v);
      if (az_str(b, "contentType")) cJSON_AddStringToObject(pl, "contentType", az_str(b, "contentType"));
    } else if (k == &KINDS[1]) {
      cJSON *jwk = create ? make_jwk(az_str(b, "kty"), az_num(b, "key_size", 2048), az_str(b, "crv"))
                          : cJSON_Duplicate(cJSON_GetObjectItem(b, "key"), 1);
      if (!cJSON_IsObject(jwk)) {
        cJSON_Delete(jwk);
        cJSON_Delete(b);
        cJSON_Delete(pl);
        az_resp_error(p, 400, "BadParameter", "The key material is missing or invalid.");
        return;
      }
      cJSON_DeleteItemFromObject(jwk, "d"); /* never keep private parts in the answer */
      cJSON_AddItemToObject(pl, "key", jwk);
    } else {
      char *cer = NULL, *x5t = NULL;
      if (import && az_str(b, "value")) {
        cer = strdup(az_str(b, "value"));
        char hex[65];
        az_sha256_hex(cer, strlen(cer), hex);
        x5t = az_b64url_encode((unsigned char *)hex, 20);
      } else if (az_cert_selfsigned(name, &cer, &x5t) != 0) {
        cer = strdup("");
        x5t = strdup("");
      }
      cJSON_AddStringToObject(pl, "cer", cer);
      cJSON_AddStringToObject(pl, "x5t", x5t);
      free(cer);
      free(x5t);
    }
    if (item && !live) {
      cJSON_Delete(b);
      cJSON_Delete(pl);
      return;
    }
    cJSON *v = add_version(store, k, name, pl, cJSON_GetObjectItem(b, "tags"), r->now);
    cJSON *attrs = cJSON_GetObjectItem(b, "attributes");
    if (cJSON_GetObjectItem(attrs, "enabled")) az_set_bool(v, "enabled", az_bool(attrs, "enabled", true));
    cJSON_Delete(b);
    if (create && k == &KINDS[2]) {
      /* certificate creation is an operation; azsim completes it at once */
      cJSON *o = cJSON_CreateObject();
      char *id = az_strdupf("%s/certificates/%s/pending", r->base, name);
      cJSON_AddStringToObject(o, "id", id);
      free(id);
      cJSON_AddStringToObject(o, "status", "completed");
      char *target = item_url(r, "certificates", name, NULL);
      cJSON_AddStringToObject(o, "target", target);
      free(target);
      az_resp_json(p, 202, o);
      return;
    }
    az_resp_json(p, 200, bundle(r, store, k, name, v));
    return;
  }
  if (!live) {
    not_found(p, k, name);
    return;
  }
  if (r->nseg == 3 && strcmp(sub, "backup") == 0 && strcmp(m, "POST") == 0) {
    cJSON *blob = cJSON_CreateObject();
    cJSON_AddStringToObject(blob, "kind", k->coll);
    cJSON_AddStringToObject(blob, "name", name);
    cJSON_AddStringToObject(blob, "sub", az_str(store, "sub") ? az_str(store, "sub") : "");
    cJSON_AddStringToObject(blob, "location", az_str(store, "location") ? az_str(store, "location") : "");
    cJSON_AddItemToObject(blob, "versions", cJSON_Duplicate(cJSON_GetObjectItem(item, "versions"), 1));
    char *plain = cJSON_PrintUnformatted(blob);
    cJSON_Delete(blob);
    char *sealed = seal(plain);
    free(plain);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "value", sealed);
    free(sealed);
    az_resp_json(p, 200, o);
  } else if (r->nseg == 3 && strcmp(sub, "versions") == 0 && strcmp(m, "GET") == 0) {
    cJSON *items = cJSON_CreateArray();
    cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(item, "versions")) cJSON_AddItemToArray(items, list_item(r, store, k, name, v, true));
    char *path = az_strdupf("/%s/%s/versions", k->coll, name);
    kv_page(r, p, items, path);
    free(path);
  } else if ((r->nseg == 2 || r->nseg == 3) && strcmp(m, "GET") == 0) {
    cJSON *v = find_version(item, sub);
    if (!v) not_found(p, k, name);
    else az_resp_json(p, 200, bundle(r, store, k, name, v));
  } else if (r->nseg == 3 && strcmp(m, "PATCH") == 0) {
    cJSON *v = find_version(item, sub);
    cJSON *b = v ? parse_obj(r, p) : NULL;
    if (!v) {
      not_found(p, k, name);
    } else if (b) {
      cJSON *attrs = cJSON_GetObjectItem(b, "attributes");
      if (cJSON_GetObjectItem(attrs, "enabled")) az_set_bool(v, "enabled", az_bool(attrs, "enabled", true));
      if (cJSON_GetObjectItem(b, "tags")) az_set(v, "tags", cJSON_Duplicate(cJSON_GetObjectItem(b, "tags"), 1));
      az_set_num(v, "updated", r->now);
      az_resp_json(p, 200, bundle(r, store, k, name, v));
      cJSON_Delete(b);
    }
  } else if (r->nseg == 2 && strcmp(m, "DELETE") == 0) {
    cJSON *o = bundle(r, store, k, name, latest(item));
    cJSON_DeleteItemFromObject(o, "value"); /* DeletedSecretBundle carries no value */
    bool soft = soft_delete_on(store);
    soft_delete(store, coll, name, item, r->now);
    if (soft) add_deleted_fields(r, o, k, name, item);
    az_resp_json(p, 200, o);
  } else {
    az_resp_error(p, 405, "MethodNotAllowed", "The requested method %s is not allowed on %s.", m, r->path);
  }
}

static void handle_deleted(az_req *r, az_resp *p, cJSON *store, const kv_kind *k) {
  if (r->nseg == 1) {
    if (strcmp(r->method, "GET") == 0) handle_collection(r, p, store, k, true);
    else az_resp_error(p, 405, "MethodNotAllowed", "The requested method %s is not allowed.", r->method);
    return;
  }
  const char *name = r->seg[1];
  cJSON *coll = az_obj(store, k->coll);
  cJSON *item = cJSON_GetObjectItemCaseSensitive(coll, name);
  if (!item || !cJSON_GetObjectItem(item, "deleted") || r->nseg > 3) {
    az_resp_error(p, 404, k->notfound, "Deleted %s %s not found.", k->Noun, name);
    return;
  }
  if (r->nseg == 2 && strcmp(r->method, "GET") == 0) {
    cJSON *o = bundle(r, store, k, name, latest(item));
    if (k == &KINDS[0]) cJSON_DeleteItemFromObject(o, "value");
    add_deleted_fields(r, o, k, name, item);
    az_resp_json(p, 200, o);
  } else if (r->nseg == 2 && strcmp(r->method, "DELETE") == 0) {
    if (purge_protected(store)) {
      az_resp_error(p, 403, "Forbidden",
                    "Operation \"purge\" is not allowed because purge protection is enabled for "
                    "this vault. Key Vault service will automatically purge it after the retention "
                    "period has passed.");
      return;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(coll, name);
    az_resp_empty(p, 204);
  } else if (r->nseg == 3 && strcmp(r->seg[2], "recover") == 0 && strcmp(r->method, "POST") == 0) {
    cJSON_DeleteItemFromObject(item, "deleted");
    az_resp_json(p, 200, bundle(r, store, k, name, latest(item)));
  } else {
    az_resp_error(p, 405, "MethodNotAllowed", "The requested method %s is not allowed.", r->method);
  }
}

void az_kv_route(az_req *r, az_resp *p, const char *vault) {
  cJSON *store = az_kv_store(vault, false);
  if (!store || az_bool(store, "deleted", false)) {
    az_resp_error(p, 404, "VaultNotFound", "The vault '%s' does not exist.", vault);
    return;
  }
  if (!az_auth_check(r, p, "vault")) return;
  const char *api = az_query(r, "api-version");
  if (!api) {
    az_resp_error(p, 400, "BadParameter", "The api-version query parameter is missing.");
    return;
  }
  if (strcmp(api, "7.4") != 0 && strcmp(api, "7.5") != 0 && strcmp(api, "7.3") != 0 && strcmp(api, "2025-07-01") != 0) {
    az_resp_error(p, 400, "BadParameter", "The specified version (%s) is not recognized. Consider using the latest supported version (7.5).", api);
    return;
  }
  if (r->nseg < 1) {
    az_resp_error(p, 404, "NotFound", "No route for '%s'.", r->path);
    return;
  }
  for (size_t i = 0; i < 3; i++) {
    if (strcmp(r->seg[0], KINDS[i].coll) == 0) {
      if (r->nseg == 1) {
        if (strcmp(r->method, "GET") == 0) handle_collection(r, p, store, &KINDS[i], false);
        else az_resp_error(p, 405, "MethodNotAllowed", "The requested method %s is not allowed.", r->method);
      } else if (r->nseg > 4) {
        az_resp_error(p, 404, "NotFound", "No route for '%s'.", r->path);
      } else {
        handle_item(r, p, store, &KINDS[i]);
      }
      return;
    }
    if (strcmp(r->seg[0], KINDS[i].deleted) == 0) {
      handle_deleted(r, p, store, &KINDS[i]);
      return;
    }
  }
  az_resp_error(p, 404, "NotFound", "No route for '%s'.", r->path);
}
