/* Compute resource provider behaviour.
 *
 * Disks and snapshots follow DiskRP stable/2023-04-02 (disk.json,
 * snapshot.json, diskRPCommon.json): contents kept by disk_store.c,
 * creationData Copy (sourceResourceId), Import (sourceUri of an azsim blob)
 * and Upload (uploadSizeBytes); diskState ReadyToUpload / ActiveUpload /
 * ActiveSAS / Attached / Unattached; beginGetAccess (Read or Write) hands out
 * a SAS URL that azsim serves: Get Blob with ranges, and Put Page (Blob
 * service REST 2021-08-06) on a Write SAS; endGetAccess revokes it and
 * freezes an upload.
 *
 * Virtual machines follow ComputeRP stable/2024-03-01 (virtualMachine.json,
 * runCommand.json): PUT checks the managed disks and network interfaces it
 * references and attaches the disks (managedBy, diskState Attached); DELETE
 * detaches them, or deletes those whose reference has deleteOption Delete;
 * start / powerOff / deallocate / restart, GET instanceView, and runCommand
 * with a simulated Linux guest (see guest_check).
 */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arm_family.h"

#define PAGE 512u
#define MAX_PUT_PAGE (4u * 1024u * 1024u)
#define MAX_UPLOAD_BYTES (1024.0 * 1024 * 1024) /* azsim's bound; Azure allows 32 TiB */

static cJSON *sas_grants(void) { return az_obj(az_g.st, "disk_sas"); }
static cJSON *props_of(cJSON *entry) { return az_obj(az_obj(entry, "res"), "properties"); }
static const char *res_id(cJSON *entry) { return az_str(cJSON_GetObjectItem(entry, "res"), "id"); }
static const char *res_name(cJSON *entry) { return az_str(cJSON_GetObjectItem(entry, "res"), "name"); }

/* ---- contents at creation ---- */
static void set_disk_content(cJSON *entry, bool created) {
  cJSON *props = props_of(entry);
  cJSON *cd = cJSON_GetObjectItem(props, "creationData");
  const char *src = az_str(cd, "sourceResourceId");
  const char *uri = az_str(cd, "sourceUri");
  const char *mode = az_str(cd, "createOption");
  cJSON *content = NULL;
  if (src) {
    cJSON *se = az_res_get(src);
    if (se && cJSON_GetObjectItem(se, "content"))
      content = cJSON_Duplicate(cJSON_GetObjectItem(se, "content"), 1); /* immutable: share it */
  } else if (uri && az_ieq(mode, "Import")) {
    /* https://host/<account>/<container>/<blob> */
    const char *p = strstr(uri, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    char acct[64] = "", cont[64] = "", blob[512] = "";
    if (p && sscanf(p, "/%63[^/]/%63[^/]/%511[^?]", acct, cont, blob) == 3) {
      cJSON *store = az_blob_container(acct, cont, false);
      cJSON *b = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(store, "blobs"), blob);
      if (b) {
        size_t n = 0;
        const char *d = az_str(b, "data");
        unsigned char *raw = d && *d ? az_b64_decode(d, &n) : NULL;
        content = az_disk_content_blob(n, raw, n, false);
        free(raw);
      }
    }
  } else if (created && az_ieq(mode, "Upload")) {
    content = az_disk_content_blob((size_t)az_num(cd, "uploadSizeBytes", 0), NULL, 0, true);
  }
  if (!content) {
    if (cJSON_GetObjectItem(entry, "content")) return;
    content = az_disk_content_seeded(res_id(entry), 65536);
  }
  az_set(entry, "content", content);
}

/* azsim reports the bytes a disk holds as diskSizeBytes, so a reader knows
 * how far to read (Azure reports the provisioned size there). */
static void sync_size(cJSON *entry) {
  cJSON *c = cJSON_GetObjectItem(entry, "content");
  if (c) az_set_num(props_of(entry), "diskSizeBytes", (double)az_disk_size(c));
}

/* ---- virtual machines: disk references and power ---- */
/* [{id, lun ("os" or number), deleteOption}] for every managed disk of vmres. */
static cJSON *vm_disk_refs(const cJSON *vmres) {
  cJSON *out = cJSON_CreateArray();
  cJSON *sp = cJSON_GetObjectItem(cJSON_GetObjectItem(vmres, "properties"), "storageProfile");
  cJSON *os = cJSON_GetObjectItem(sp, "osDisk");
  const char *id = az_str(cJSON_GetObjectItem(os, "managedDisk"), "id");
  if (id) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "lun", "os");
    cJSON_AddStringToObject(o, "deleteOption", az_str(os, "deleteOption") ? az_str(os, "deleteOption") : "Detach");
    cJSON_AddItemToArray(out, o);
  }
  /* data disks in lun order */
  cJSON *dd = cJSON_GetObjectItem(sp, "dataDisks");
  int n = cJSON_GetArraySize(dd);
  bool *done = calloc((size_t)n + 1, sizeof *done);
  for (int k = 0; k < n; k++) {
    int best = -1;
    for (int i = 0; i < n; i++) {
      if (done[i]) continue;
      if (best < 0 || az_num(cJSON_GetArrayItem(dd, i), "lun", 0) < az_num(cJSON_GetArrayItem(dd, best), "lun", 0)) best = i;
    }
    done[best] = true;
    cJSON *d = cJSON_GetArrayItem(dd, best);
    id = az_str(cJSON_GetObjectItem(d, "managedDisk"), "id");
    if (!id) continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    char lun[32];
    snprintf(lun, sizeof lun, "%.0f", az_num(d, "lun", 0));
    cJSON_AddStringToObject(o, "lun", lun);
    cJSON_AddStringToObject(o, "deleteOption", az_str(d, "deleteOption") ? az_str(d, "deleteOption") : "Detach");
    cJSON_AddItemToArray(out, o);
  }
  free(done);
  return out;
}

static const char *vm_power(cJSON *vm) {
  const char *s = az_str(vm, "power");
  return s ? s : "running";
}

static void release_disk(cJSON *disk) {
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(disk, "res"), "managedBy");
  cJSON *props = props_of(disk);
  if (az_ieq(az_str(props, "diskState"), "Attached")) az_set_str(props, "diskState", "Unattached");
}

static int vm_put(az_req *r, az_resp *p, cJSON *res, cJSON *existing) {
  const char *vmid = az_str(res, "id");
  cJSON *refs = vm_disk_refs(res);
  int rc = 0;
  cJSON *ref;
  cJSON_ArrayForEach(ref, refs) {
    const char *did = az_str(ref, "id");
    cJSON *d = az_res_get(did);
    if (!d || !az_ieq(az_str(d, "type"), T_DISK)) {
      az_resp_error(p, 404, "NotFound", "Resource %s not found.", did);
      rc = -1;
      break;
    }
    const char *by = az_str(cJSON_GetObjectItem(d, "res"), "managedBy");
    if (by && !az_ieq(by, vmid)) {
      az_resp_error(p, 409, "OperationNotAllowed", "Disk %s is already attached to VM %s.", res_name(d), by);
      rc = -1;
      break;
    }
    const char *state = az_str(props_of(d), "diskState");
    if (az_ieq(state, "ReadyToUpload") || az_ieq(state, "ActiveUpload") || az_ieq(state, "ActiveSAS")) {
      az_resp_error(p, 409, "OperationNotAllowed",
                    "Disk %s cannot be attached to VM %s because the disk is in %s state.", res_name(d), vmid, state);
      rc = -1;
      break;
    }
  }
  cJSON_Delete(refs);
  if (rc) return rc;
  cJSON *nic;
  cJSON_ArrayForEach(nic, cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(res, "properties"), "networkProfile"),
                                              "networkInterfaces")) {
    const char *nid = az_str(nic, "id");
    cJSON *ne = nid ? az_res_get(nid) : NULL;
    if (!ne || !az_ieq(az_str(ne, "type"), "microsoft.network/networkinterfaces")) {
      az_resp_error(p, 400, "InvalidResourceReference",
                    "Resource %s referenced by resource %s was not found. Please make sure that the "
                    "referenced resource exists, and that both resources are in the same region.",
                    nid ? nid : "(no id)", vmid);
      return -1;
    }
  }
  cJSON *props = az_obj(res, "properties");
  if (!existing) {
    char uid[37], ts[64];
    az_uuid(uid);
    az_set_str(props, "vmId", uid);
    az_iso8601(r->now, ts, sizeof ts);
    az_set_str(props, "timeCreated", ts);
  }
  return 0;
}

static void vm_after_put(cJSON *entry) {
  const char *vmid = res_id(entry);
  cJSON *refs = vm_disk_refs(cJSON_GetObjectItem(entry, "res"));
  /* detach what the new model no longer references */
  cJSON *e;
  cJSON_ArrayForEach(e, az_obj(az_g.st, "resources")) {
    if (!az_ieq(az_str(e, "type"), T_DISK)) continue;
    if (!az_ieq(az_str(cJSON_GetObjectItem(e, "res"), "managedBy"), vmid)) continue;
    bool kept = false;
    cJSON *ref;
    cJSON_ArrayForEach(ref, refs) kept = kept || az_ieq(az_str(ref, "id"), res_id(e));
    if (!kept) release_disk(e);
  }
  cJSON *ref;
  cJSON_ArrayForEach(ref, refs) {
    cJSON *d = az_res_get(az_str(ref, "id"));
    if (!d) continue;
    az_set_str(cJSON_GetObjectItem(d, "res"), "managedBy", vmid);
    az_set_str(props_of(d), "diskState", "Attached");
  }
  cJSON_Delete(refs);
  if (!az_str(entry, "power")) az_set_str(entry, "power", "running");
}

static void vm_finish_delete(cJSON *entry) {
  const char *vmid = res_id(entry);
  cJSON *refs = vm_disk_refs(cJSON_GetObjectItem(entry, "res"));
  cJSON *doomed = cJSON_CreateArray();
  cJSON *ref;
  cJSON_ArrayForEach(ref, refs) {
    cJSON *d = az_res_get(az_str(ref, "id"));
    if (!d || !az_ieq(az_str(cJSON_GetObjectItem(d, "res"), "managedBy"), vmid)) continue;
    release_disk(d);
    if (az_ieq(az_str(ref, "deleteOption"), "Delete")) cJSON_AddItemToArray(doomed, cJSON_CreateString(d->string));
  }
  cJSON_Delete(refs);
  cJSON_ArrayForEach(ref, doomed) az_remove_tree(ref->valuestring, az_now());
  cJSON_Delete(doomed);
}

/* ---- beginGetAccess / endGetAccess ---- */
static void begin_get_access(az_req *r, az_resp *p, const char *id, cJSON *entry) {
  cJSON *b = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
  const char *access = az_str(b, "access");
  double dur = az_num(b, "durationInSeconds", 3600);
  bool write = access && az_ieq(access, "Write");
  bool ok = access && (az_ieq(access, "Read") || write);
  cJSON_Delete(b);
  if (!ok) {
    az_resp_error(p, 400, "InvalidParameter", "The value of parameter access is invalid.");
    return;
  }
  bool disk = az_ieq(az_str(entry, "type"), T_DISK);
  cJSON *props = props_of(entry);
  const char *state = az_str(props, "diskState");
  bool uploading = disk && (az_ieq(state, "ReadyToUpload") || az_ieq(state, "ActiveUpload"));
  if (write && !uploading) {
    az_resp_error(p, 409, "OperationNotAllowed",
                  "Write access can only be granted to a disk in the ReadyToUpload or ActiveUpload "
                  "state (created with createOption Upload); '%s' is %s.",
                  res_name(entry), disk ? (state ? state : "Unattached") : "a snapshot");
    return;
  }
  if (!write && uploading) {
    az_resp_error(p, 409, "OperationNotAllowed",
                  "Read access cannot be granted to disk '%s' while it is in the %s state; "
                  "finish the upload with endGetAccess first.", res_name(entry), state);
    return;
  }
  const char *by = az_str(cJSON_GetObjectItem(entry, "res"), "managedBy");
  cJSON *vm = by ? az_res_get(by) : NULL;
  if (!write && vm && strcmp(vm_power(vm), "running") == 0) {
    az_resp_error(p, 409, "Conflict",
                  "Access not permitted because disk %s is currently attached to running VM %s.",
                  res_name(entry), by);
    return;
  }
  char grant[33];
  az_rand_token(grant, 16);
  cJSON *g = cJSON_CreateObject();
  char *l = az_lower(id);
  cJSON_AddStringToObject(g, "target", l);
  free(l);
  cJSON_AddNumberToObject(g, "exp", r->now + dur);
  cJSON_AddStringToObject(g, "access", write ? "write" : "read");
  cJSON_AddItemToObject(sas_grants(), grant, g);
  if (disk) az_set_str(props, "diskState", write ? "ActiveUpload" : by ? "Attached" : "ActiveSAS");
  cJSON *result = cJSON_CreateObject();
  char *url = az_strdupf("%s/md-%s/abcd?sv=2018-03-28&sr=b&si=%s&sig=%s", r->base, grant, grant, grant);
  cJSON_AddStringToObject(result, "accessSAS", url);
  free(url);
  az_resp_empty(p, 202);
  az_lro_start(r, p, "action", id, result, 2);
}

static void revoke_grants(const char *id) {
  char *l = az_lower(id);
  cJSON *g = sas_grants();
  cJSON *it = g->child;
  while (it) {
    cJSON *next = it->next;
    if (az_ieq(az_str(it, "target"), l)) cJSON_Delete(cJSON_DetachItemViaPointer(g, it));
    it = next;
  }
  free(l);
}

static void end_get_access(az_req *r, az_resp *p, const char *id, cJSON *entry) {
  revoke_grants(id);
  cJSON *props = props_of(entry);
  if (az_ieq(az_str(entry, "type"), T_DISK)) {
    const char *state = az_str(props, "diskState");
    if (az_ieq(state, "ActiveUpload")) {
      /* the upload is final: its bytes never change again */
      az_dstore_freeze(az_str(cJSON_GetObjectItem(entry, "content"), "blob"));
    }
    if (!az_ieq(state, "ReadyToUpload"))
      az_set_str(props, "diskState", az_str(cJSON_GetObjectItem(entry, "res"), "managedBy") ? "Attached" : "Unattached");
  }
  az_resp_empty(p, 202);
  az_lro_start(r, p, "action", id, NULL, 2);
}

/* ---- the SAS URL that beginGetAccess hands out ---- */
cJSON *az_disk_sas_content(const char *grant, const char *sig) {
  cJSON *g = cJSON_GetObjectItemCaseSensitive(sas_grants(), grant);
  if (!g || !sig || strcmp(sig, grant) != 0) return NULL;
  cJSON *e = cJSON_GetObjectItemCaseSensitive(az_obj(az_g.st, "resources"), az_str(g, "target"));
  return cJSON_GetObjectItem(e, "content");
}

static void blob_headers(az_resp *p) {
  char ts[64];
  az_rfc1123(az_realtime(), ts, sizeof ts);
  az_resp_header(p, "Last-Modified", "%s", ts);
  az_resp_header(p, "x-ms-version", "2021-08-06");
}

/* Put Page (Blob service REST 2021-08-06): x-ms-page-write update|clear,
 * x-ms-range or Range bytes=a-b with a and b+1 multiples of 512, an update
 * of at most 4 MiB whose body is exactly the range. */
static void put_page(az_req *r, az_resp *p, cJSON *content) {
  const char *pw = az_header(r, "x-ms-page-write");
  const char *range = az_header(r, "x-ms-range");
  if (!range) range = az_header(r, "Range");
  if (!pw || !range) {
    az_blob_error(p, 400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.");
    az_resp_header(p, "x-ms-header-name", "%s", pw ? "x-ms-range" : "x-ms-page-write");
    return;
  }
  bool clear = az_ieq(pw, "clear");
  unsigned long long a = 0, b = 0;
  char tail = 0;
  if ((!clear && !az_ieq(pw, "update")) || sscanf(range, "bytes=%llu-%llu%c", &a, &b, &tail) != 2 || b < a) {
    az_blob_error(p, 400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.");
    return;
  }
  size_t size = az_disk_size(content);
  if (a % PAGE != 0 || (b + 1) % PAGE != 0 || b >= size) {
    az_blob_error(p, 416, "InvalidPageRange", "The page range specified is invalid.");
    return;
  }
  size_t len = (size_t)(b - a + 1);
  if (!clear && len > MAX_PUT_PAGE) {
    az_blob_error(p, 413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit.");
    return;
  }
  if (clear ? r->body_len != 0 : r->body_len != len) {
    az_blob_error(p, 400, "InvalidHeaderValue",
                  "The value for one of the HTTP headers is not in the correct format (Content-Length must equal the range).");
    return;
  }
  if (az_dstore_write(az_str(content, "blob"), (size_t)a, clear ? NULL : r->body, len) != 0) {
    az_blob_error(p, 403, "AuthorizationPermissionMismatch",
                  "This request is not authorized to perform this operation using this permission.");
    return;
  }
  az_resp_empty(p, 201);
  char etag[17];
  az_rand_token(etag, 8);
  az_resp_header(p, "ETag", "\"0x%.15s\"", etag);
  blob_headers(p);
  az_resp_header(p, "x-ms-blob-sequence-number", "0");
  az_resp_header(p, "x-ms-request-server-encrypted", "true");
}

bool az_disk_sas_route(az_req *r, az_resp *p) {
  if (r->nseg < 1 || strncmp(r->seg[0], "md-", 3) != 0) return false;
  const char *grant = r->seg[0] + 3;
  const char *sig = az_query(r, "sig");
  cJSON *g = cJSON_GetObjectItemCaseSensitive(sas_grants(), grant);
  cJSON *e = g ? cJSON_GetObjectItemCaseSensitive(az_obj(az_g.st, "resources"), az_str(g, "target")) : NULL;
  if (!g || !sig || strcmp(sig, grant) != 0 || !e) {
    az_blob_error(p, 403, "AuthenticationFailed",
                  "Server failed to authenticate the request. Make sure the value of Authorization "
                  "header is formed correctly including the signature.");
    return true;
  }
  bool writer = az_ieq(az_str(g, "access"), "write");
  cJSON *content = cJSON_GetObjectItem(e, "content");
  bool get = strcmp(r->method, "GET") == 0, head = strcmp(r->method, "HEAD") == 0;
  if (!get && !head) {
    if (writer && strcmp(r->method, "PUT") == 0 && az_ieq(az_query(r, "comp"), "page")) {
      put_page(r, p, content);
    } else if (writer && strcmp(r->method, "PUT") == 0) {
      az_blob_error(p, 400, "InvalidQueryParameterValue",
                    "An upload SAS of a managed disk accepts Put Page (comp=page) only.");
    } else {
      az_blob_error(p, 403, "AuthorizationPermissionMismatch",
                    "This request is not authorized to perform this operation using this permission.");
    }
    return true;
  }
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
      az_blob_error(p, 416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
      return true;
    }
  }
  size_t len = size ? to - from + 1 : 0;
  /* HEAD: the server sends only the headers, so the bytes are not computed */
  unsigned char *buf = head ? calloc(1, len + 1) : malloc(len + 1);
  if (!buf) {
    az_blob_error(p, 500, "InternalError", "Out of memory.");
    return true;
  }
  if (!head) az_disk_bytes(content, from, len, buf);
  free(p->body);
  p->body = (char *)buf;
  p->len = len;
  p->status = partial ? 206 : 200;
  snprintf(p->ctype, sizeof p->ctype, "application/octet-stream");
  if (partial) az_resp_header(p, "Content-Range", "bytes %zu-%zu/%zu", from, to, size);
  az_resp_header(p, "x-ms-blob-type", "PageBlob");
  az_resp_header(p, "x-ms-blob-content-length", "%zu", size);
  az_resp_header(p, "Accept-Ranges", "bytes");
  blob_headers(p);
  return true;
}

/* ---- VM actions, instance view, run command ---- */
static cJSON *status_item(const char *code, const char *display, const char *message) {
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "code", code);
  cJSON_AddStringToObject(s, "level", "Info");
  cJSON_AddStringToObject(s, "displayStatus", display);
  if (message) cJSON_AddStringToObject(s, "message", message);
  return s;
}

static void instance_view(az_req *r, az_resp *p, cJSON *entry) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "computerName", res_name(entry));
  cJSON_AddStringToObject(o, "osName", "azsim-linux");
  cJSON *disks = cJSON_AddArrayToObject(o, "disks");
  cJSON *refs = vm_disk_refs(cJSON_GetObjectItem(entry, "res"));
  cJSON *ref;
  char ts[64];
  az_iso8601(r->now, ts, sizeof ts);
  cJSON_ArrayForEach(ref, refs) {
    cJSON *d = az_res_get(az_str(ref, "id"));
    cJSON *di = cJSON_CreateObject();
    cJSON_AddStringToObject(di, "name", d ? res_name(d) : az_str(ref, "id"));
    cJSON *st = cJSON_AddArrayToObject(di, "statuses");
    cJSON *s = status_item("ProvisioningState/succeeded", "Provisioning succeeded", NULL);
    cJSON_AddStringToObject(s, "time", ts);
    cJSON_AddItemToArray(st, s);
    cJSON_AddItemToArray(disks, di);
  }
  cJSON_Delete(refs);
  cJSON *st = cJSON_AddArrayToObject(o, "statuses");
  cJSON *s = status_item("ProvisioningState/succeeded", "Provisioning succeeded", NULL);
  cJSON_AddStringToObject(s, "time", ts);
  cJSON_AddItemToArray(st, s);
  const char *pw = vm_power(entry);
  char *code = az_strdupf("PowerState/%s", pw);
  const char *disp = strcmp(pw, "running") == 0 ? "VM running" : strcmp(pw, "stopped") == 0 ? "VM stopped" : "VM deallocated";
  cJSON_AddItemToArray(st, status_item(code, disp, NULL));
  free(code);
  az_resp_json(p, 200, o);
}

/* The simulated Linux guest. A script line "rebound-guest-check" prints
 * "boot ok vm=<name>" and one "disk lun=<os|n> sha256=<hex>" line per
 * attached managed disk (OS disk first, data disks in lun order); anything
 * else prints nothing and exits 0. */
static char *guest_check(cJSON *entry, const cJSON *script) {
  bool check = false;
  const cJSON *line;
  cJSON_ArrayForEach(line, script) {
    if (!cJSON_IsString(line)) continue;
    const char *s = line->valuestring + strspn(line->valuestring, " \t");
    if (strncmp(s, "rebound-guest-check", 19) == 0 && (s[19] == 0 || strchr(" \t\r\n;", s[19]))) check = true;
  }
  if (!check) return strdup("");
  char *out = az_strdupf("boot ok vm=%s\n", res_name(entry));
  cJSON *refs = vm_disk_refs(cJSON_GetObjectItem(entry, "res"));
  cJSON *ref;
  cJSON_ArrayForEach(ref, refs) {
    cJSON *d = az_res_get(az_str(ref, "id"));
    cJSON *c = cJSON_GetObjectItem(d, "content");
    char *sum = c ? az_disk_checksum(c) : NULL;
    char *next = sum ? az_strdupf("%sdisk lun=%s sha256=%s\n", out, az_str(ref, "lun"), sum)
                     : az_strdupf("%sdisk lun=%s missing\n", out, az_str(ref, "lun"));
    free(sum);
    free(out);
    out = next;
  }
  cJSON_Delete(refs);
  return out;
}

static void run_command(az_req *r, az_resp *p, const char *id, cJSON *entry) {
  cJSON *b = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
  const char *cmd = az_str(b, "commandId");
  if (!cmd) {
    az_resp_error(p, 400, "InvalidParameter", "Required parameter 'commandId' is missing (null).");
  } else if (strcmp(vm_power(entry), "running") != 0) {
    az_resp_error(p, 409, "OperationNotAllowed", "Cannot modify extensions in the VM when the VM is not running.");
  } else {
    char *out = guest_check(entry, cJSON_GetObjectItem(b, "script"));
    char *msg = az_strdupf("Enable succeeded: \n[stdout]\n%s\n[stderr]\n", out);
    cJSON *result = cJSON_CreateObject();
    cJSON *val = cJSON_AddArrayToObject(result, "value");
    cJSON_AddItemToArray(val, status_item("ProvisioningState/succeeded", "Provisioning succeeded", msg));
    free(msg);
    free(out);
    az_resp_empty(p, 202);
    az_lro_start(r, p, "action", id, result, 2);
  }
  cJSON_Delete(b);
}

static bool vm_action(az_req *r, az_resp *p, const char *id, const char *action, cJSON *entry) {
  static const char *power[][2] = {{"start", "running"}, {"restart", "running"}, {"powerOff", "stopped"},
                                   {"deallocate", "deallocated"}};
  for (size_t i = 0; i < sizeof power / sizeof *power; i++) {
    if (!az_ieq(action, power[i][0])) continue;
    az_set_str(entry, "power", power[i][1]);
    az_resp_empty(p, 202);
    az_lro_start(r, p, "action", id, NULL, 2);
    return true;
  }
  if (az_ieq(action, "runCommand")) {
    run_command(r, p, id, entry);
    return true;
  }
  return false;
}

bool az_compute_get(az_req *r, az_resp *p, const char *type, const char *sub, cJSON *entry) {
  if (az_ieq(type, T_VM) && az_ieq(sub, "instanceView")) {
    instance_view(r, p, entry);
    return true;
  }
  return false;
}

/* ---- hooks ---- */
int az_compute_put(az_req *r, az_resp *p, const char *type, cJSON *res, cJSON *existing) {
  if (az_ieq(type, T_VM)) return vm_put(r, p, res, existing);
  if (!az_ieq(type, T_DISK) && !az_ieq(type, T_SNAPSHOT)) return 0;
  cJSON *props = az_obj(res, "properties");
  cJSON *cd = cJSON_GetObjectItem(props, "creationData");
  const char *src = az_str(cd, "sourceResourceId");
  if (src && !az_res_get(src)) {
    az_resp_error(p, 404, "NotFound", "Source resource '%s' was not found.", src);
    return -1;
  }
  bool upload = az_ieq(az_str(cd, "createOption"), "Upload");
  if (upload && !existing) {
    double n = az_num(cd, "uploadSizeBytes", -1);
    if (!az_ieq(type, T_DISK) || n < PAGE || n > MAX_UPLOAD_BYTES || n != (double)(long long)n ||
        (long long)n % PAGE != 0) {
      az_resp_error(p, 400, "InvalidParameter",
                    "The value of parameter creationData.uploadSizeBytes is invalid: it must be a "
                    "multiple of 512 between 512 and %.0f bytes (azsim's limit).", MAX_UPLOAD_BYTES);
      return -1;
    }
    if (!cJSON_GetObjectItem(props, "diskSizeGB"))
      az_set_num(props, "diskSizeGB", (double)(((long long)n + (1LL << 30) - 1) >> 30));
  }
  if (az_ieq(type, T_DISK) && !existing) az_set_str(props, "diskState", upload ? "ReadyToUpload" : "Unattached");
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
  (void)r;
  if (az_ieq(type, T_VM)) {
    vm_after_put(entry);
  } else if (az_ieq(type, T_DISK) || az_ieq(type, T_SNAPSHOT)) {
    /* created: the entry was made by this PUT (no content yet) */
    set_disk_content(entry, !cJSON_GetObjectItem(entry, "content"));
    sync_size(entry);
  }
}

int az_compute_delete(az_req *r, az_resp *p, const char *type, cJSON *entry) {
  (void)r;
  if (!az_ieq(type, T_DISK)) return 0;
  const char *by = az_str(cJSON_GetObjectItem(entry, "res"), "managedBy");
  if (by && az_res_get(by)) {
    az_resp_error(p, 409, "OperationNotAllowed", "Disk %s is attached to VM %s.", res_name(entry), by);
    return -1;
  }
  return 0;
}

void az_compute_finish_delete(cJSON *entry) {
  const char *type = az_str(entry, "type");
  if (az_ieq(type, T_VM)) {
    vm_finish_delete(entry);
    return;
  }
  if (!az_ieq(type, T_DISK) && !az_ieq(type, T_SNAPSHOT)) return;
  revoke_grants(res_id(entry));
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
  if (az_ieq(type, T_VM)) return vm_action(r, p, id, action, entry);
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
