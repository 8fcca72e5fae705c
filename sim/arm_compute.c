/* Compute resource provider behaviour (Microsoft.Compute DiskRP and
 * ComputeRP stable/2023-04-02): disks and (incremental) snapshots with
 * deterministic contents, beginGetAccess/endGetAccess handing out a SAS URL
 * that azsim serves (ranged reads), disks imported from azsim blobs, and
 * virtualMachines as LROs. */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "arm_family.h"

static cJSON *sas_grants(void) { return az_obj(az_g.st, "disk_sas"); }

/* Deterministic disk contents: {seed, size} or {data (base64)}. */
static void set_disk_content(az_req *r, cJSON *entry) {
  cJSON *res = cJSON_GetObjectItem(entry, "res");
  cJSON *props = cJSON_GetObjectItem(res, "properties");
  cJSON *cd = cJSON_GetObjectItem(props, "creationData");
  const char *src = az_str(cd, "sourceResourceId");
  const char *uri = az_str(cd, "sourceUri");
  const char *mode = az_str(cd, "createOption");
  cJSON *content = NULL;
  if (src) {
    cJSON *se = az_res_get(src);
    if (se && cJSON_GetObjectItem(se, "content"))
      content = cJSON_Duplicate(cJSON_GetObjectItem(se, "content"), 1);
  } else if (uri && az_ieq(mode, "Import")) {
    /* https://host/<account>/<container>/<blob> */
    const char *p = strstr(uri, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    char acct[64] = "", cont[64] = "", blob[512] = "";
    if (p && sscanf(p, "/%63[^/]/%63[^/]/%511[^?]", acct, cont, blob) == 3) {
      cJSON *store = az_blob_container(acct, cont, false);
      cJSON *b = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(store, "blobs"), blob);
      if (b) {
        content = cJSON_CreateObject();
        cJSON_AddStringToObject(content, "data", az_str(b, "data") ? az_str(b, "data") : "");
      }
    }
  }
  if (!content) {
    if (cJSON_GetObjectItem(entry, "content")) return;
    content = cJSON_CreateObject();
    cJSON_AddStringToObject(content, "seed", cJSON_GetObjectItem(entry, "res") ? az_str(res, "id") : "");
    double gb = az_num(props, "diskSizeGB", 0);
    (void)gb;
    cJSON_AddNumberToObject(content, "size", 65536);
  }
  az_set(entry, "content", content);
  (void)r;
}

static void begin_get_access(az_req *r, az_resp *p, const char *id, cJSON *entry) {
  cJSON *b = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
  const char *access = az_str(b, "access");
  double dur = az_num(b, "durationInSeconds", 3600);
  bool ok = access && (az_ieq(access, "Read") || az_ieq(access, "Write"));
  cJSON_Delete(b);
  if (!ok) {
    az_resp_error(p, 400, "InvalidParameter", "The value of parameter access is invalid.");
    return;
  }
  char grant[33];
  az_rand_token(grant, 16);
  cJSON *g = cJSON_CreateObject();
  char *l = az_lower(id);
  cJSON_AddStringToObject(g, "target", l);
  free(l);
  cJSON_AddNumberToObject(g, "exp", r->now + dur);
  cJSON_AddItemToObject(sas_grants(), grant, g);
  cJSON *props = az_obj(az_obj(entry, "res"), "properties");
  if (az_ieq(az_str(entry, "type"), T_DISK)) az_set_str(props, "diskState", "ActiveSAS");
  cJSON *result = cJSON_CreateObject();
  char *url = az_strdupf("%s/md-%s/abcd?sv=2018-03-28&sr=b&si=%s&sig=%s", r->base, grant, grant, grant);
  cJSON_AddStringToObject(result, "accessSAS", url);
  free(url);
  az_resp_empty(p, 202);
  az_lro_start(r, p, "action", id, result, 2);
}

static void end_get_access(az_req *r, az_resp *p, const char *id, cJSON *entry) {
  char *l = az_lower(id);
  cJSON *g = sas_grants();
  cJSON *it = g->child;
  while (it) {
    cJSON *next = it->next;
    if (az_ieq(az_str(it, "target"), l)) cJSON_Delete(cJSON_DetachItemViaPointer(g, it));
    it = next;
  }
  free(l);
  cJSON *props = az_obj(az_obj(entry, "res"), "properties");
  if (az_ieq(az_str(entry, "type"), T_DISK)) az_set_str(props, "diskState", "Unattached");
  az_resp_empty(p, 202);
  az_lro_start(r, p, "action", id, NULL, 2);
}

/* ---- the SAS URL that beginGetAccess hands out ---- */
void az_disk_bytes(const cJSON *content, size_t off, size_t len, unsigned char *out) {
  const char *data = az_str(content, "data");
  if (data) {
    size_t n = 0;
    unsigned char *raw = *data ? az_b64_decode(data, &n) : NULL;
    for (size_t i = 0; i < len; i++) out[i] = (raw && off + i < n) ? raw[off + i] : 0;
    free(raw);
    return;
  }
  const char *seed = az_str(content, "seed");
  size_t i = 0;
  while (i < len) {
    size_t block = (off + i) / 32, within = (off + i) % 32;
    char *in = az_strdupf("%s:%zu", seed ? seed : "", block);
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha256(), NULL);
    free(in);
    while (within < 32 && i < len) out[i++] = md[within++];
  }
}

size_t az_disk_size(const cJSON *content) {
  const char *data = az_str(content, "data");
  if (data) return strlen(data) / 4 * 3 - (strstr(data, "==") ? 2 : strchr(data, '=') ? 1 : 0);
  return (size_t)az_num(content, "size", 0);
}

char *az_disk_checksum(const cJSON *content) {
  size_t n = az_disk_size(content);
  unsigned char *buf = malloc(n ? n : 1);
  az_disk_bytes(content, 0, n, buf);
  char hex[65];
  az_sha256_hex(buf, n, hex);
  free(buf);
  return strdup(hex);
}

cJSON *az_disk_sas_content(const char *grant, const char *sig) {
  cJSON *g = cJSON_GetObjectItemCaseSensitive(sas_grants(), grant);
  if (!g || !sig || strcmp(sig, grant) != 0) return NULL;
  cJSON *e = cJSON_GetObjectItemCaseSensitive(az_obj(az_g.st, "resources"), az_str(g, "target"));
  return cJSON_GetObjectItem(e, "content");
}

bool az_disk_sas_route(az_req *r, az_resp *p) {
  if (r->nseg < 1 || strncmp(r->seg[0], "md-", 3) != 0) return false;
  if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
    az_resp_error(p, 403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.");
    return true;
  }
  const char *grant = r->seg[0] + 3;
  const char *sig = az_query(r, "sig");
  cJSON *g = cJSON_GetObjectItemCaseSensitive(sas_grants(), grant);
  cJSON *e = g ? cJSON_GetObjectItemCaseSensitive(az_obj(az_g.st, "resources"), az_str(g, "target")) : NULL;
  if (!g || !sig || strcmp(sig, grant) != 0 || !e) {
    az_resp_error(p, 403, "AuthenticationFailed",
                  "Server failed to authenticate the request. Make sure the value of Authorization "
                  "header is formed correctly including the signature.");
    az_resp_header(p, "x-ms-error-code", "AuthenticationFailed");
    return true;
  }
  cJSON *content = cJSON_GetObjectItem(e, "content");
  size_t size = az_disk_size(content);
  size_t from = 0, to = size ? size - 1 : 0;
  const char *range = az_header(r, "x-ms-range");
  if (!range) range = az_header(r, "Range");
  bool partial = false;
  if (range && size) {
    unsigned long long a = 0, b = 0;
    int n = sscanf(range, "bytes=%llu-%llu", &a, &b);
    if (n >= 1 && a < size) {
      from = (size_t)a;
      if (n == 2 && b >= a) to = b < size ? (size_t)b : size - 1;
      partial = true;
    } else {
      az_resp_error(p, 416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
      return true;
    }
  }
  size_t len = size ? to - from + 1 : 0;
  unsigned char *buf = malloc(len ? len : 1);
  az_disk_bytes(content, from, len, buf);
  az_resp_text(p, partial ? 206 : 200, "application/octet-stream", (char *)buf, len);
  free(buf);
  if (partial) az_resp_header(p, "Content-Range", "bytes %zu-%zu/%zu", from, to, size);
  az_resp_header(p, "x-ms-blob-type", "PageBlob");
  az_resp_header(p, "Accept-Ranges", "bytes");
  az_resp_header(p, "x-ms-version", "2021-08-06");
  return true;
}


int az_compute_put(az_req *r, az_resp *p, const char *type, cJSON *res, cJSON *existing) {
  if (!az_ieq(type, T_DISK) && !az_ieq(type, T_SNAPSHOT)) return 0;
  cJSON *props = az_obj(res, "properties");
  cJSON *cd = cJSON_GetObjectItem(props, "creationData");
  const char *src = az_str(cd, "sourceResourceId");
  if (src && !az_res_get(src)) {
    az_resp_error(p, 404, "NotFound", "Source resource '%s' was not found.", src);
    return -1;
  }
  if (az_ieq(type, T_DISK) && !existing) az_set_str(props, "diskState", "Unattached");
  if (!existing) {
    char ts[64], uid[37];
    az_iso8601(r->now, ts, sizeof ts);
    az_set_str(props, "timeCreated", ts);
    az_uuid(uid);
    az_set_str(props, "uniqueId", uid);
  }
  return 0;
}

void az_compute_after_put(az_req *r, const char *type, cJSON *entry) {
  if (az_ieq(type, T_DISK) || az_ieq(type, T_SNAPSHOT)) set_disk_content(r, entry);
}

void az_compute_finish_delete(cJSON *entry) {
  const char *type = az_str(entry, "type");
  if (!az_ieq(type, T_DISK) && !az_ieq(type, T_SNAPSHOT)) return;
  char *l = az_lower(az_str(cJSON_GetObjectItem(entry, "res"), "id"));
  cJSON *g = sas_grants();
  cJSON *it = g->child;
  while (it) {
    cJSON *next = it->next;
    if (az_ieq(az_str(it, "target"), l)) cJSON_Delete(cJSON_DetachItemViaPointer(g, it));
    it = next;
  }
  free(l);
}

void az_compute_tick(double now) {
  cJSON *g = sas_grants();
  cJSON *it = g->child;
  while (it) {
    cJSON *next = it->next;
    if (az_num(it, "exp", 0) <= now) cJSON_Delete(cJSON_DetachItemViaPointer(g, it));
    it = next;
  }
}

bool az_compute_action(az_req *r, az_resp *p, const char *id, const char *type, const char *action,
                       cJSON *entry) {
  if (!az_ieq(type, T_DISK) && !az_ieq(type, T_SNAPSHOT)) return false;
  if (az_ieq(action, "beginGetAccess")) {
    begin_get_access(r, p, id, entry);
    return true;
  }
  if (az_ieq(action, "endGetAccess")) {
    end_get_access(r, p, id, entry);
    return true;
  }
  return false;
}
