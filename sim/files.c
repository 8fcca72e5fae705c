/* Azure Files data plane subset, path-style (https://127.0.0.1:PORT/<account>/<share>/...),
 * following specification/storage/data-plane/Microsoft.FileStorage (2021-12-02) and
 * the File service REST docs: Create Share, Snapshot Share (comp=snapshot ->
 * x-ms-snapshot), Get Share Properties, Delete Share (x-ms-delete-snapshots,
 * sharesnapshot=), Create Directory, List Directories and Files, Create File
 * (x-ms-type: file, x-ms-content-length), Put Range (x-ms-range, x-ms-write:
 * update|clear), Get File (Range / x-ms-range, sharesnapshot=), Get File
 * Properties, Delete File. Auth: a bearer token for https://storage.azure.com
 * plus x-ms-file-request-intent: backup, as Azure Files requires for OAuth
 * over REST.
 *
 * The blob data plane shares the /<account>/ prefix: a request goes to Files
 * when restype is share or directory, when it carries x-ms-type: file, or
 * when its second segment names a share of the account that is not also a
 * blob container.
 *
 * Store: st.files["account/share"] = {files: {path: file}, dirs: {path:
 * {created}}, snapshots: {time: {files, dirs}}} where file = {data (base64),
 * etag, created, modified}. The ARM side (fileServices/default/shares) lives
 * in arm_storage.c.
 */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/xmlwriter.h>

#define T_ACCOUNT "microsoft.storage/storageaccounts"
#define MAX_FILE (64.0 * 1024 * 1024)

static cJSON *account_entry(const char *account) {
  cJSON *e;
  cJSON_ArrayForEach(e, az_obj(az_g.st, "resources")) {
    if (az_ieq(az_str(e, "type"), T_ACCOUNT) && az_ieq(az_str(cJSON_GetObjectItem(e, "res"), "name"), account))
      return e;
  }
  return NULL;
}

cJSON *az_files_share(const char *account, const char *share, bool create) {
  char *key = az_strdupf("%s/%s", account, share);
  char *l = az_lower(key);
  free(key);
  cJSON *stores = az_obj(az_g.st, "files");
  cJSON *s = cJSON_GetObjectItemCaseSensitive(stores, l);
  if (!s && create) {
    s = cJSON_CreateObject();
    cJSON_AddObjectToObject(s, "files");
    cJSON_AddObjectToObject(s, "dirs");
    cJSON_AddObjectToObject(s, "snapshots");
    cJSON_AddItemToObject(stores, l, s);
  }
  free(l);
  return s;
}

void az_files_drop(const char *account, const char *share) {
  char *key = az_strdupf("%s/%s", account, share);
  char *l = az_lower(key);
  cJSON_DeleteItemFromObjectCaseSensitive(az_obj(az_g.st, "files"), l);
  free(l);
  free(key);
}

void az_files_drop_account(const char *account) {
  char *prefix = az_lower(account);
  size_t n = strlen(prefix);
  cJSON *m = az_obj(az_g.st, "files");
  cJSON *it = m->child;
  while (it) {
    cJSON *next = it->next;
    if (strncmp(it->string, prefix, n) == 0 && it->string[n] == '/') cJSON_Delete(cJSON_DetachItemViaPointer(m, it));
    it = next;
  }
  free(prefix);
}

/* A share snapshot: a frozen copy of files and directories. */
int az_files_snapshot(const char *account, const char *share, double now, char *ts, size_t n) {
  cJSON *s = az_files_share(account, share, false);
  if (!s) return -1;
  cJSON *snaps = az_obj(s, "snapshots");
  az_iso8601(now, ts, n);
  for (int i = 1; cJSON_GetObjectItemCaseSensitive(snaps, ts) && i < 1000; i++) az_iso8601(now + i * 1e-6, ts, n);
  cJSON *snap = cJSON_CreateObject();
  cJSON_AddItemToObject(snap, "files", cJSON_Duplicate(az_obj(s, "files"), 1));
  cJSON_AddItemToObject(snap, "dirs", cJSON_Duplicate(az_obj(s, "dirs"), 1));
  cJSON_AddItemToObject(snaps, ts, snap);
  return 0;
}

int az_files_snapshot_count(const char *account, const char *share) {
  return cJSON_GetArraySize(cJSON_GetObjectItem(az_files_share(account, share, false), "snapshots"));
}

bool az_files_snapshot_delete(const char *account, const char *share, const char *ts) {
  cJSON *snaps = cJSON_GetObjectItem(az_files_share(account, share, false), "snapshots");
  if (!ts || !cJSON_GetObjectItemCaseSensitive(snaps, ts)) return false;
  cJSON_DeleteItemFromObjectCaseSensitive(snaps, ts);
  return true;
}

static cJSON *new_file(size_t size, double now) {
  cJSON *f = cJSON_CreateObject();
  unsigned char *zero = calloc(1, size ? size : 1);
  char *d = az_b64_encode(zero, size);
  free(zero);
  cJSON_AddStringToObject(f, "data", d ? d : "");
  free(d);
  cJSON_AddNumberToObject(f, "created", now);
  cJSON_AddNumberToObject(f, "modified", now);
  char etag[40];
  snprintf(etag, sizeof etag, "\"0x8D%013llX\"", (unsigned long long)(now * 1e4) & 0xFFFFFFFFFFFFFull);
  cJSON_AddStringToObject(f, "etag", etag);
  return f;
}

void az_files_seed(const char *account, const char *share, const cJSON *files) {
  cJSON *s = az_files_share(account, share, true);
  const cJSON *f;
  cJSON_ArrayForEach(f, files) {
    const char *name = az_str(f, "name"), *content = az_str(f, "content");
    if (!name || !*name) continue;
    size_t len = content ? strlen(content) : 0;
    cJSON *nf = new_file(0, az_now());
    char *d = az_b64_encode((const unsigned char *)(content ? content : ""), len);
    az_set_str(nf, "data", d ? d : "");
    free(d);
    /* parent directories */
    char *copy = strdup(name);
    for (char *sl = strchr(copy, '/'); sl; sl = strchr(sl + 1, '/')) {
      *sl = 0;
      if (!cJSON_GetObjectItemCaseSensitive(az_obj(s, "dirs"), copy)) {
        cJSON *dir = cJSON_CreateObject();
        cJSON_AddNumberToObject(dir, "created", az_now());
        cJSON_AddItemToObject(az_obj(s, "dirs"), copy, dir);
      }
      *sl = '/';
    }
    free(copy);
    az_set(az_obj(s, "files"), name, nf);
  }
}

/* ---- responses ---- */
static void files_error(az_resp *p, int status, const char *code, const char *msg) {
  xmlBufferPtr buf = xmlBufferCreate();
  xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
  xmlTextWriterStartDocument(w, NULL, "utf-8", NULL);
  xmlTextWriterStartElement(w, BAD_CAST "Error");
  xmlTextWriterWriteElement(w, BAD_CAST "Code", BAD_CAST code);
  char rid[37], ts[64];
  az_uuid(rid);
  az_iso8601(az_realtime(), ts, sizeof ts);
  char *m = az_strdupf("%s\nRequestId:%s\nTime:%s", msg, rid, ts);
  xmlTextWriterWriteElement(w, BAD_CAST "Message", BAD_CAST m);
  free(m);
  xmlTextWriterEndElement(w);
  xmlTextWriterEndDocument(w);
  xmlFreeTextWriter(w);
  az_resp_text(p, status, "application/xml", (const char *)xmlBufferContent(buf), (size_t)xmlBufferLength(buf));
  xmlBufferFree(buf);
  az_resp_header(p, "x-ms-error-code", "%s", code);
  az_resp_header(p, "x-ms-version", "2021-12-02");
}

static void std_headers(az_resp *p) { az_resp_header(p, "x-ms-version", "2021-12-02"); }

static void file_headers(az_resp *p, const cJSON *f, size_t size) {
  char ts[64];
  az_rfc1123(az_num(f, "modified", 0), ts, sizeof ts);
  az_resp_header(p, "Last-Modified", "%s", ts);
  az_resp_header(p, "ETag", "%s", az_str(f, "etag"));
  az_resp_header(p, "x-ms-type", "File");
  az_resp_header(p, "x-ms-content-length", "%zu", size);
  az_resp_header(p, "Accept-Ranges", "bytes");
  az_resp_header(p, "x-ms-server-encrypted", "true");
  std_headers(p);
}

/* "bytes=a-b" (b optional when open_ok) */
static bool parse_range(const char *h, size_t size, bool open_ok, size_t *a, size_t *b) {
  unsigned long long x, y;
  int n = 0;
  if (!h || strncmp(h, "bytes=", 6) != 0) return false;
  if (sscanf(h + 6, "%llu-%llu%n", &x, &y, &n) == 2 && h[6 + n] == 0) {
    if (y < x) return false;
  } else if (open_ok && sscanf(h + 6, "%llu-%n", &x, &n) == 1 && h[6 + n] == 0) {
    y = size ? size - 1 : 0;
  } else {
    return false;
  }
  *a = (size_t)x;
  *b = (size_t)y;
  return true;
}

static unsigned char *file_bytes(const cJSON *f, size_t *len) {
  const char *d = az_str(f, "data");
  *len = 0;
  if (!d || !*d) return calloc(1, 1);
  unsigned char *raw = az_b64_decode(d, len);
  return raw ? raw : calloc(1, 1);
}

static void list_dir(az_req *r, az_resp *p, const char *acct, const char *share, cJSON *view, const char *dir) {
  const char *prefix = az_query(r, "prefix");
  xmlBufferPtr buf = xmlBufferCreate();
  xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
  xmlTextWriterStartDocument(w, NULL, "utf-8", NULL);
  xmlTextWriterStartElement(w, BAD_CAST "EnumerationResults");
  char *svc = az_strdupf("%s/%s/", r->base, acct);
  xmlTextWriterWriteAttribute(w, BAD_CAST "ServiceEndpoint", BAD_CAST svc);
  free(svc);
  xmlTextWriterWriteAttribute(w, BAD_CAST "ShareName", BAD_CAST share);
  if (az_query(r, "sharesnapshot")) xmlTextWriterWriteAttribute(w, BAD_CAST "ShareSnapshot", BAD_CAST az_query(r, "sharesnapshot"));
  xmlTextWriterWriteAttribute(w, BAD_CAST "DirectoryPath", BAD_CAST dir);
  if (prefix) xmlTextWriterWriteElement(w, BAD_CAST "Prefix", BAD_CAST prefix);
  xmlTextWriterStartElement(w, BAD_CAST "Entries");
  size_t dl = strlen(dir);
  static const char *kinds[] = {"dirs", "files"};
  for (int k = 0; k < 2; k++) {
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(view, kinds[k])) {
      const char *path = it->string;
      if (dl && (strncmp(path, dir, dl) != 0 || path[dl] != '/')) continue;
      const char *rest = dl ? path + dl + 1 : path;
      if (strchr(rest, '/')) continue; /* not a direct child */
      if (prefix && strncmp(rest, prefix, strlen(prefix)) != 0) continue;
      xmlTextWriterStartElement(w, BAD_CAST (k == 0 ? "Directory" : "File"));
      xmlTextWriterWriteElement(w, BAD_CAST "Name", BAD_CAST rest);
      xmlTextWriterStartElement(w, BAD_CAST "Properties");
      if (k == 1) {
        size_t len;
        unsigned char *raw = file_bytes(it, &len);
        free(raw);
        xmlTextWriterWriteFormatElement(w, BAD_CAST "Content-Length", "%zu", len);
      }
      xmlTextWriterEndElement(w);
      xmlTextWriterEndElement(w);
    }
  }
  xmlTextWriterEndElement(w);
  xmlTextWriterWriteElement(w, BAD_CAST "NextMarker", BAD_CAST "");
  xmlTextWriterEndElement(w);
  xmlTextWriterEndDocument(w);
  xmlFreeTextWriter(w);
  az_resp_text(p, 200, "application/xml", (const char *)xmlBufferContent(buf), (size_t)xmlBufferLength(buf));
  xmlBufferFree(buf);
  std_headers(p);
}

static void create_share_resource(const char *acct, const char *share) {
  cJSON *a = account_entry(acct);
  char *id = az_strdupf("%s/fileServices/default/shares/%s", az_str(cJSON_GetObjectItem(a, "res"), "id"), share);
  char *url = az_strdupf("%s?api-version=2023-05-01", id);
  az_call("PUT", NULL, url, NULL, "{\"properties\":{}}", 17, NULL);
  free(url);
  free(id);
}

static bool valid_share_name(const char *s) {
  size_t n = strlen(s);
  if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--")) return false;
  for (const char *c = s; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-')) return false;
  return true;
}

static void share_route(az_req *r, az_resp *p, const char *acct, const char *share) {
  const char *restype = az_query(r, "restype"), *comp = az_query(r, "comp");
  const char *m = r->method;
  cJSON *s = az_files_share(acct, share, false);
  const char *snap = az_query(r, "sharesnapshot");
  if (restype && strcmp(restype, "directory") == 0) {
    if (!s) {
      files_error(p, 404, "ShareNotFound", "The specified share does not exist.");
    } else if (strcmp(m, "GET") == 0 && comp && strcmp(comp, "list") == 0) {
      cJSON *view = snap ? cJSON_GetObjectItemCaseSensitive(az_obj(s, "snapshots"), snap) : s;
      if (!view) files_error(p, 404, "ShareSnapshotNotFound", "The specified share snapshot does not exist.");
      else list_dir(r, p, acct, share, view, "");
    } else {
      files_error(p, 400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.");
    }
    return;
  }
  if (!restype || strcmp(restype, "share") != 0) {
    files_error(p, 400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.");
    return;
  }
  if (strcmp(m, "PUT") == 0 && comp && strcmp(comp, "snapshot") == 0) {
    char ts[64];
    if (az_files_snapshot(acct, share, r->now, ts, sizeof ts) != 0) {
      files_error(p, 404, "ShareNotFound", "The specified share does not exist.");
      return;
    }
    az_resp_empty(p, 201);
    az_resp_header(p, "x-ms-snapshot", "%s", ts);
    std_headers(p);
  } else if (strcmp(m, "PUT") == 0 && !comp) {
    if (!valid_share_name(share)) {
      files_error(p, 400, "InvalidResourceName", "The specifed resource name contains invalid characters.");
    } else if (s) {
      files_error(p, 409, "ShareAlreadyExists", "The specified share already exists.");
    } else {
      create_share_resource(acct, share);
      if (!az_files_share(acct, share, false)) {
        files_error(p, 409, "OperationNotAllowed", "The share could not be created (see its storage account and locks).");
        return;
      }
      az_resp_empty(p, 201);
      std_headers(p);
    }
  } else if ((strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) && !comp) {
    if (!s || (snap && !cJSON_GetObjectItemCaseSensitive(az_obj(s, "snapshots"), snap))) {
      files_error(p, 404, s ? "ShareSnapshotNotFound" : "ShareNotFound", "The specified share does not exist.");
      return;
    }
    az_resp_empty(p, 200);
    az_resp_header(p, "x-ms-share-quota", "5120");
    if (snap) az_resp_header(p, "x-ms-snapshot", "%s", snap);
    std_headers(p);
  } else if (strcmp(m, "DELETE") == 0) {
    if (!s) {
      files_error(p, 404, "ShareNotFound", "The specified share does not exist.");
    } else if (snap) {
      if (!az_files_snapshot_delete(acct, share, snap)) files_error(p, 404, "ShareSnapshotNotFound", "The specified share snapshot does not exist.");
      else {
        az_resp_empty(p, 202);
        std_headers(p);
      }
    } else {
      const char *ds = az_header(r, "x-ms-delete-snapshots");
      if (az_files_snapshot_count(acct, share) > 0 && !(ds && az_ieq(ds, "include"))) {
        files_error(p, 409, "ShareHasSnapshots", "The share has snapshots and the operation requires no snapshots.");
        return;
      }
      /* through ARM, so locks on the account and the share's own rules apply */
      cJSON *a = account_entry(acct);
      char *url = az_strdupf("%s/fileServices/default/shares/%s?api-version=2023-05-01&$include=snapshots",
                             az_str(cJSON_GetObjectItem(a, "res"), "id"), share);
      cJSON *out = NULL;
      int st = az_call("DELETE", NULL, url, NULL, NULL, 0, &out);
      free(url);
      if (st >= 300) {
        const char *code = az_str(cJSON_GetObjectItem(out, "error"), "code");
        files_error(p, st, code ? code : "OperationNotAllowed", "The share cannot be deleted.");
      } else {
        az_resp_empty(p, 202);
        std_headers(p);
      }
      cJSON_Delete(out);
    }
  } else {
    files_error(p, 400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.");
  }
}

static void path_route(az_req *r, az_resp *p, const char *acct, const char *share, const char *path) {
  cJSON *s = az_files_share(acct, share, false);
  if (!s) {
    files_error(p, 404, "ShareNotFound", "The specified share does not exist.");
    return;
  }
  const char *m = r->method, *restype = az_query(r, "restype"), *comp = az_query(r, "comp");
  const char *snap = az_query(r, "sharesnapshot");
  cJSON *view = snap ? cJSON_GetObjectItemCaseSensitive(az_obj(s, "snapshots"), snap) : s;
  if (!view) {
    files_error(p, 404, "ShareSnapshotNotFound", "The specified share snapshot does not exist.");
    return;
  }
  if (snap && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
    files_error(p, 400, "InvalidQueryParameterValue", "A share snapshot is read-only.");
    return;
  }
  cJSON *dirs = az_obj(view, "dirs"), *files = az_obj(view, "files");
  /* parent directory */
  const char *sl = strrchr(path, '/');
  char *parent = sl ? strndup(path, (size_t)(sl - path)) : NULL;
  bool parent_ok = !parent || cJSON_GetObjectItemCaseSensitive(dirs, parent);
  free(parent);
  if (restype && strcmp(restype, "directory") == 0) {
    cJSON *d = cJSON_GetObjectItemCaseSensitive(dirs, path);
    if (strcmp(m, "PUT") == 0 && !comp) {
      if (!parent_ok) files_error(p, 404, "ParentNotFound", "The specified parent path does not exist.");
      else if (d || cJSON_GetObjectItemCaseSensitive(files, path)) files_error(p, 409, "ResourceAlreadyExists", "The specified resource already exists.");
      else {
        cJSON *nd = cJSON_CreateObject();
        cJSON_AddNumberToObject(nd, "created", r->now);
        cJSON_AddItemToObject(dirs, path, nd);
        az_resp_empty(p, 201);
        std_headers(p);
      }
    } else if (strcmp(m, "GET") == 0 && comp && strcmp(comp, "list") == 0) {
      if (!d) files_error(p, 404, "ResourceNotFound", "The specified resource does not exist.");
      else list_dir(r, p, acct, share, view, path);
    } else if (strcmp(m, "DELETE") == 0 && !comp) {
      size_t n = strlen(path);
      bool empty = true;
      cJSON *it;
      for (int k = 0; k < 2; k++) {
        cJSON *coll = k ? files : dirs;
        cJSON_ArrayForEach(it, coll) {
          if (strncmp(it->string, path, n) == 0 && it->string[n] == '/') empty = false;
        }
      }
      if (!d) files_error(p, 404, "ResourceNotFound", "The specified resource does not exist.");
      else if (!empty) files_error(p, 409, "DirectoryNotEmpty", "The specified directory is not empty.");
      else {
        cJSON_DeleteItemFromObjectCaseSensitive(dirs, path);
        az_resp_empty(p, 202);
        std_headers(p);
      }
    } else if ((strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) && !comp) {
      if (!d) files_error(p, 404, "ResourceNotFound", "The specified resource does not exist.");
      else {
        az_resp_empty(p, 200);
        std_headers(p);
      }
    } else {
      files_error(p, 400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.");
    }
    return;
  }
  cJSON *f = cJSON_GetObjectItemCaseSensitive(files, path);
  if (strcmp(m, "PUT") == 0 && comp && strcmp(comp, "range") == 0) {
    if (!f) {
      files_error(p, 404, "ResourceNotFound", "The specified resource does not exist.");
      return;
    }
    const char *wr = az_header(r, "x-ms-write");
    const char *rh = az_header(r, "x-ms-range");
    if (!rh) rh = az_header(r, "Range");
    size_t len;
    unsigned char *raw = file_bytes(f, &len);
    size_t a, b;
    if (!wr || !rh) {
      files_error(p, 400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.");
    } else if (!parse_range(rh, len, false, &a, &b) || (!az_ieq(wr, "update") && !az_ieq(wr, "clear"))) {
      files_error(p, 400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.");
    } else if (b >= len) {
      files_error(p, 416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
    } else if (b - a + 1 > 4u * 1024u * 1024u) {
      files_error(p, 413, "RequestBodyTooLarge", "A range may hold at most 4 MiB.");
    } else if (az_ieq(wr, "update") && r->body_len != b - a + 1) {
      files_error(p, 400, "InvalidHeaderValue", "The body length does not match x-ms-range.");
    } else {
      if (az_ieq(wr, "update")) memcpy(raw + a, r->body, b - a + 1);
      else memset(raw + a, 0, b - a + 1);
      char *d = az_b64_encode(raw, len);
      az_set_str(f, "data", d ? d : "");
      free(d);
      az_set_num(f, "modified", r->now);
      char etag[40];
      snprintf(etag, sizeof etag, "\"0x8D%013llX\"", (unsigned long long)(r->now * 1e4 + 1) & 0xFFFFFFFFFFFFFull);
      az_set_str(f, "etag", etag);
      az_resp_empty(p, 201);
      az_resp_header(p, "ETag", "%s", etag);
      az_resp_header(p, "x-ms-request-server-encrypted", "true");
      std_headers(p);
    }
    free(raw);
  } else if (strcmp(m, "PUT") == 0 && !comp) {
    const char *t = az_header(r, "x-ms-type");
    const char *cl = az_header(r, "x-ms-content-length");
    char *end = NULL;
    double size = cl ? strtod(cl, &end) : -1;
    if (!t || !cl) {
      files_error(p, 400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.");
    } else if (!az_ieq(t, "file") || !*cl || *end || size < 0 || size > MAX_FILE) {
      files_error(p, 400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.");
    } else if (!parent_ok) {
      files_error(p, 404, "ParentNotFound", "The specified parent path does not exist.");
    } else if (cJSON_GetObjectItemCaseSensitive(dirs, path)) {
      files_error(p, 409, "ResourceAlreadyExists", "The specified resource already exists.");
    } else {
      cJSON *nf = new_file((size_t)size, r->now);
      if (f) az_set_num(nf, "created", az_num(f, "created", r->now));
      az_set(files, path, nf);
      az_resp_empty(p, 201);
      az_resp_header(p, "ETag", "%s", az_str(nf, "etag"));
      std_headers(p);
    }
  } else if ((strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) && !comp) {
    if (!f) {
      files_error(p, 404, "ResourceNotFound", "The specified resource does not exist.");
      return;
    }
    size_t len;
    unsigned char *raw = file_bytes(f, &len);
    const char *rh = az_header(r, "x-ms-range");
    if (!rh) rh = az_header(r, "Range");
    size_t a = 0, b = len ? len - 1 : 0;
    if (rh && !parse_range(rh, len, true, &a, &b)) {
      files_error(p, 400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.");
    } else if (rh && a >= len) {
      files_error(p, 416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
    } else {
      if (b >= len) b = len - 1;
      size_t n = len ? b - a + 1 : 0;
      if (strcmp(m, "HEAD") == 0) az_resp_empty(p, 200);
      else az_resp_text(p, rh ? 206 : 200, "application/octet-stream", (const char *)raw + a, n);
      if (rh) az_resp_header(p, "Content-Range", "bytes %zu-%zu/%zu", a, b, len);
      file_headers(p, f, len);
    }
    free(raw);
  } else if (strcmp(m, "DELETE") == 0 && !comp) {
    if (!f) files_error(p, 404, "ResourceNotFound", "The specified resource does not exist.");
    else {
      cJSON_DeleteItemFromObjectCaseSensitive(files, path);
      az_resp_empty(p, 202);
      std_headers(p);
    }
  } else {
    files_error(p, 400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.");
  }
}

bool az_files_route(az_req *r, az_resp *p) {
  if (r->nseg < 2 || !account_entry(r->seg[0])) return false;
  const char *restype = az_query(r, "restype");
  const char *xt = az_header(r, "x-ms-type");
  bool files = (restype && (strcmp(restype, "share") == 0 || strcmp(restype, "directory") == 0)) ||
               (xt && az_ieq(xt, "file"));
  if (!files && az_files_share(r->seg[0], r->seg[1], false) && !az_blob_container(r->seg[0], r->seg[1], false))
    files = true;
  if (!files) return false;
  if (!az_auth_check(r, p, "storage")) {
    files_error(p, 401, az_header(r, "Authorization") ? "InvalidAuthenticationInfo" : "NoAuthenticationInformation",
                "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.");
    return true;
  }
  /* OAuth over the Files REST API needs the backup intent */
  if (!r->internal && !az_header(r, "x-ms-file-request-intent")) {
    files_error(p, 400, "MissingRequiredHeader", "x-ms-file-request-intent is required with a bearer token.");
    return true;
  }
  if (r->nseg == 2) {
    share_route(r, p, r->seg[0], r->seg[1]);
    return true;
  }
  size_t n = 0;
  for (int i = 2; i < r->nseg; i++) n += strlen(r->seg[i]) + 1;
  char *path = malloc(n + 1);
  path[0] = 0;
  for (int i = 2; i < r->nseg; i++) {
    if (i > 2) strcat(path, "/");
    strcat(path, r->seg[i]);
  }
  if (n > 2048) files_error(p, 400, "InvalidResourceName", "The specified resource name length is not within the permissible limits.");
  else path_route(r, p, r->seg[0], r->seg[1], path);
  free(path);
  return true;
}

static void share_items(cJSON *items, const char *skey, cJSON *s, bool deleted) {
  cJSON *f;
  char sum[65];
  cJSON_ArrayForEach(f, cJSON_GetObjectItem(s, "files")) {
    size_t len;
    unsigned char *raw = file_bytes(f, &len);
    az_sha256_hex(raw, len, sum);
    free(raw);
    char *key = az_strdupf("file:%s/%s", skey, f->string);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "size", (double)len);
    cJSON_AddStringToObject(o, "key", key);
    cJSON_AddStringToObject(o, "kind", "file");
    cJSON_AddStringToObject(o, "state", deleted ? "soft-deleted" : "live");
    cJSON_AddStringToObject(o, "sha256", sum);
    cJSON_AddItemToArray(items, o);
    free(key);
  }
  cJSON *snap;
  cJSON_ArrayForEach(snap, cJSON_GetObjectItem(s, "snapshots")) {
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(snap, "files")) {
      size_t len;
      unsigned char *raw = file_bytes(f, &len);
      az_sha256_hex(raw, len, sum);
      free(raw);
      char *key = az_strdupf("file:%s@%s/%s", skey, snap->string, f->string);
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "size", (double)len);
      cJSON_AddStringToObject(o, "key", key);
      cJSON_AddStringToObject(o, "kind", "share-snapshot-file");
      cJSON_AddStringToObject(o, "state", deleted ? "soft-deleted" : "live");
      cJSON_AddStringToObject(o, "sha256", sum);
      cJSON_AddItemToArray(items, o);
      free(key);
    }
  }
}

void az_files_inventory(cJSON *items) {
  cJSON *s;
  cJSON_ArrayForEach(s, az_obj(az_g.st, "files")) share_items(items, s->string, s, false);
  cJSON_ArrayForEach(s, az_obj(az_g.st, "deleted_shares")) {
    char k[256];
    snprintf(k, sizeof k, "%.*s", (int)strcspn(s->string, ";"), s->string);
    share_items(items, k, s, true);
  }
}
