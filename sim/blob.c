/* Blob data plane subset for WORM, path-style (https://127.0.0.1:PORT/<account>/...),
 * following specification/storage/data-plane/Microsoft.BlobStorage (2021-12-02)
 * and the Blob service REST docs: Create/Delete/Get Properties/Restore
 * (undelete) Container, List Containers, List Blobs, Put Blob, Put Block,
 * Put Block List, Get Blob (Range / x-ms-range), Get Blob Properties, Delete
 * Blob, Undelete Blob. Immutability comes from the container's ARM
 * immutabilityPolicies/default and legal hold (arm_types.c). Auth: a bearer
 * token for https://storage.azure.com (Shared Key is Azurite's job).
 *
 * Store: st.blob["account/container"] = {blobs: {name: blob}, blocks: {name:
 * {blockid: base64}}, deleted_blobs: {name: [blob+{deleted_at,purge_at}]}}
 * where blob = {data (base64), etag, created, modified, content_type, md5,
 * committed: [{id, len}]}.
 */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <openssl/evp.h>

#define T_ACCOUNT "microsoft.storage/storageaccounts"

static cJSON *stores(void) { return az_obj(az_g.st, "blob"); }

static cJSON *account_entry(const char *account) {
  cJSON *e;
  cJSON_ArrayForEach(e, az_obj(az_g.st, "resources")) {
    if (az_ieq(az_str(e, "type"), T_ACCOUNT) && az_ieq(az_str(cJSON_GetObjectItem(e, "res"), "name"), account))
      return e;
  }
  return NULL;
}

static cJSON *container_entry(const char *account, const char *container) {
  cJSON *a = account_entry(account);
  if (!a) return NULL;
  char *id = az_strdupf("%s/blobServices/default/containers/%s", az_str(cJSON_GetObjectItem(a, "res"), "id"), container);
  cJSON *e = az_res_get(id);
  free(id);
  return e;
}

static cJSON *blob_service_props(const char *account) {
  cJSON *a = account_entry(account);
  if (!a) return NULL;
  char *id = az_strdupf("%s/blobServices/default", az_str(cJSON_GetObjectItem(a, "res"), "id"));
  cJSON *e = az_res_get(id);
  free(id);
  return cJSON_GetObjectItem(cJSON_GetObjectItem(e, "res"), "properties");
}

cJSON *az_blob_container(const char *account, const char *container, bool create) {
  char *key = az_strdupf("%s/%s", account, container);
  char *l = az_lower(key);
  free(key);
  cJSON *s = cJSON_GetObjectItemCaseSensitive(stores(), l);
  if (!s && create) {
    s = cJSON_CreateObject();
    cJSON_AddObjectToObject(s, "blobs");
    cJSON_AddObjectToObject(s, "blocks");
    cJSON_AddObjectToObject(s, "deleted_blobs");
    cJSON_AddItemToObject(stores(), l, s);
  }
  free(l);
  return s;
}

const char *az_blob_immutable(const char *account, const char *container, const cJSON *blob, double now) {
  cJSON *ce = container_entry(account, container);
  cJSON *props = cJSON_GetObjectItem(cJSON_GetObjectItem(ce, "res"), "properties");
  if (az_bool(props, "hasLegalHold", false)) return "BlobImmutableDueToLegalHold";
  cJSON *ip = cJSON_GetObjectItem(props, "immutabilityPolicy");
  if (az_bool(props, "hasImmutabilityPolicy", false) && ip) {
    double days = az_num(cJSON_GetObjectItem(ip, "properties"), "immutabilityPeriodSinceCreationInDays", 0);
    if (now < az_num(blob, "created", 0) + days * 86400.0) return "BlobImmutableDueToPolicy";
  }
  return NULL;
}

/* ---- responses ---- */
static char *xml_finish(xmlTextWriterPtr w, xmlBufferPtr buf, size_t *len) {
  xmlTextWriterEndDocument(w);
  xmlFreeTextWriter(w);
  *len = (size_t)xmlBufferLength(buf);
  char *s = malloc(*len + 1);
  memcpy(s, xmlBufferContent(buf), *len);
  s[*len] = 0;
  xmlBufferFree(buf);
  return s;
}

void az_blob_error(az_resp *p, int status, const char *code, const char *msg) {
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
  size_t len;
  char *s = xml_finish(w, buf, &len);
  az_resp_text(p, status, "application/xml", s, len);
  free(s);
  az_resp_header(p, "x-ms-error-code", "%s", code);
}

static void std_headers(az_resp *p) { az_resp_header(p, "x-ms-version", "2021-12-02"); }

static void blob_headers(az_resp *p, const cJSON *b) {
  char ts[64];
  az_rfc1123(az_num(b, "modified", 0), ts, sizeof ts);
  az_resp_header(p, "Last-Modified", "%s", ts);
  az_rfc1123(az_num(b, "created", 0), ts, sizeof ts);
  az_resp_header(p, "x-ms-creation-time", "%s", ts);
  az_resp_header(p, "ETag", "%s", az_str(b, "etag"));
  az_resp_header(p, "x-ms-blob-type", "BlockBlob");
  az_resp_header(p, "Accept-Ranges", "bytes");
  az_resp_header(p, "x-ms-server-encrypted", "true");
  std_headers(p);
}

static const char *immut_msg(const char *code) {
  return strcmp(code, "BlobImmutableDueToLegalHold") == 0
             ? "This operation is not permitted as the blob is immutable due to one or more legal holds."
             : "This operation is not permitted as the blob is immutable due to a policy.";
}

/* ---- blob helpers ---- */
static void new_etag(char *out, size_t n) {
  char t[17];
  az_rand_token(t, 8);
  snprintf(out, n, "\"0x8D%s\"", t);
  for (char *c = out; *c; c++)
    if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 32);
}

static cJSON *make_blob(const unsigned char *data, size_t len, const char *ctype, double now, const cJSON *old) {
  cJSON *b = cJSON_CreateObject();
  char *d64 = az_b64_encode(data, len);
  cJSON_AddStringToObject(b, "data", d64);
  free(d64);
  cJSON_AddNumberToObject(b, "size", (double)len);
  char etag[48];
  new_etag(etag, sizeof etag);
  cJSON_AddStringToObject(b, "etag", etag);
  cJSON_AddNumberToObject(b, "created", old ? az_num(old, "created", now) : now);
  cJSON_AddNumberToObject(b, "modified", now);
  cJSON_AddStringToObject(b, "content_type", ctype ? ctype : "application/octet-stream");
  unsigned char md[16];
  unsigned int mdlen = 0;
  EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL);
  char *m64 = az_b64_encode(md, mdlen);
  cJSON_AddStringToObject(b, "md5", m64);
  free(m64);
  return b;
}

void az_blob_seed(const char *account, const char *container, const cJSON *spec) {
  cJSON *store = az_blob_container(account, container, true);
  cJSON *it;
  double now = az_now();
  cJSON_ArrayForEach(it, spec) {
    const char *name = az_str(it, "name");
    if (!name) continue;
    const char *content = az_str(it, "content");
    size_t len = 0;
    unsigned char *raw = NULL;
    if (az_str(it, "content_base64")) raw = az_b64_decode(az_str(it, "content_base64"), &len);
    if (!raw) {
      raw = (unsigned char *)strdup(content ? content : "");
      len = strlen((char *)raw);
    }
    cJSON *b = make_blob(raw, len, az_str(it, "content_type"), now - 86400.0 * az_num(it, "age_days", 0), NULL);
    free(raw);
    az_set(cJSON_GetObjectItem(store, "blobs"), name, b);
  }
}

void az_blob_tick(double now) {
  cJSON *s;
  cJSON_ArrayForEach(s, stores()) {
    cJSON *del = cJSON_GetObjectItem(s, "deleted_blobs");
    cJSON *name;
    cJSON_ArrayForEach(name, del) {
      cJSON *v = name->child;
      while (v) {
        cJSON *next = v->next;
        if (az_num(v, "purge_at", 0) <= now) cJSON_Delete(cJSON_DetachItemViaPointer(name, v));
        v = next;
      }
    }
  }
  cJSON *dc = az_obj(az_g.st, "deleted_containers");
  cJSON *it = dc->child;
  while (it) {
    cJSON *next = it->next;
    if (az_num(it, "purge_at", 0) <= now) cJSON_Delete(cJSON_DetachItemViaPointer(dc, it));
    it = next;
  }
}

/* Deletes one blob as Azure would (immutability, then soft delete). Returns
 * NULL on success, else the error code. Shared with the attacker. */
const char *az_blob_delete(const char *account, const char *container, const char *name, double now);
const char *az_blob_delete(const char *account, const char *container, const char *name, double now) {
  cJSON *store = az_blob_container(account, container, false);
  cJSON *blobs = cJSON_GetObjectItem(store, "blobs");
  cJSON *b = cJSON_GetObjectItemCaseSensitive(blobs, name);
  if (!b) return "BlobNotFound";
  const char *imm = az_blob_immutable(account, container, b, now);
  if (imm) return imm;
  cJSON *pol = cJSON_GetObjectItem(blob_service_props(account), "deleteRetentionPolicy");
  cJSON *detached = cJSON_DetachItemViaPointer(blobs, b);
  if (az_bool(pol, "enabled", false)) {
    az_set_num(detached, "deleted_at", now);
    az_set_num(detached, "purge_at", now + 86400.0 * az_num(pol, "days", 7));
    cJSON *del = az_obj(store, "deleted_blobs");
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(del, name);
    if (!cJSON_IsArray(arr)) {
      arr = cJSON_CreateArray();
      az_set(del, name, arr);
    }
    cJSON_AddItemToArray(arr, detached);
  } else {
    cJSON_Delete(detached);
  }
  return NULL;
}

/* Overwrites a blob (Put Blob semantics). NULL on success or an error code. */
const char *az_blob_write(const char *account, const char *container, const char *name,
                          const unsigned char *data, size_t len, const char *ctype, bool if_none_match,
                          double now, cJSON **out);
const char *az_blob_write(const char *account, const char *container, const char *name,
                          const unsigned char *data, size_t len, const char *ctype, bool if_none_match,
                          double now, cJSON **out) {
  cJSON *store = az_blob_container(account, container, false);
  if (!store) return "ContainerNotFound";
  cJSON *blobs = cJSON_GetObjectItem(store, "blobs");
  cJSON *old = cJSON_GetObjectItemCaseSensitive(blobs, name);
  if (old && if_none_match) return "BlobAlreadyExists";
  if (old) {
    const char *imm = az_blob_immutable(account, container, old, now);
    if (imm) return imm;
  }
  cJSON *b = make_blob(data, len, ctype, now, NULL);
  az_set(blobs, name, b);
  cJSON_DeleteItemFromObjectCaseSensitive(az_obj(store, "blocks"), name);
  if (out) *out = b;
  return NULL;
}

static int status_for(const char *code) {
  if (strcmp(code, "BlobNotFound") == 0 || strcmp(code, "ContainerNotFound") == 0) return 404;
  return 409;
}

static void write_error(az_resp *p, const char *code) {
  if (strncmp(code, "BlobImmutable", 13) == 0) az_blob_error(p, 409, code, immut_msg(code));
  else if (strcmp(code, "BlobAlreadyExists") == 0) az_blob_error(p, 409, code, "The specified blob already exists.");
  else if (strcmp(code, "ContainerNotFound") == 0) az_blob_error(p, 404, code, "The specified container does not exist.");
  else if (strcmp(code, "BlobNotFound") == 0) az_blob_error(p, 404, code, "The specified blob does not exist.");
  else az_blob_error(p, status_for(code), code, code);
}

static bool wants_if_none_match(az_req *r) {
  const char *inm = az_header(r, "If-None-Match");
  return inm && strcmp(inm, "*") == 0;
}

/* ---- block list XML (libxml2) ---- */
static cJSON *parse_block_list(const char *body, size_t len) {
  xmlDocPtr doc = xmlReadMemory(body, (int)len, "blocklist.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc) return NULL;
  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (!root || xmlStrcmp(root->name, BAD_CAST "BlockList") != 0) {
    xmlFreeDoc(doc);
    return NULL;
  }
  cJSON *list = cJSON_CreateArray();
  for (xmlNodePtr n = root->children; n; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    xmlChar *txt = xmlNodeGetContent(n);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", (const char *)n->name);
    cJSON_AddStringToObject(o, "id", txt ? (const char *)txt : "");
    xmlFree(txt);
    cJSON_AddItemToArray(list, o);
  }
  xmlFreeDoc(doc);
  return list;
}

static void put_block_list(az_req *r, az_resp *p, const char *acct, const char *cont, const char *name, cJSON *store) {
  cJSON *list = parse_block_list(r->body, r->body_len);
  if (!list) {
    az_blob_error(p, 400, "InvalidXmlDocument", "XML specified is not syntactically valid.");
    return;
  }
  cJSON *staged = cJSON_GetObjectItemCaseSensitive(az_obj(store, "blocks"), name);
  cJSON *old = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(store, "blobs"), name);
  size_t oldlen = 0;
  unsigned char *oldraw = old && az_str(old, "data") && *az_str(old, "data") ? az_b64_decode(az_str(old, "data"), &oldlen) : NULL;
  size_t cap = 1024, len = 0;
  unsigned char *data = malloc(cap);
  cJSON *committed = cJSON_CreateArray();
  cJSON *it;
  bool bad = false;
  cJSON_ArrayForEach(it, list) {
    const char *kind = az_str(it, "kind"), *id = az_str(it, "id");
    unsigned char *piece = NULL;
    size_t plen = 0;
    bool from_staged = strcmp(kind, "Latest") == 0 || strcmp(kind, "Uncommitted") == 0;
    bool from_committed = strcmp(kind, "Committed") == 0 || (strcmp(kind, "Latest") == 0);
    cJSON *s = from_staged ? cJSON_GetObjectItemCaseSensitive(staged, id) : NULL;
    if (s) {
      piece = az_b64_decode(s->valuestring, &plen);
      if (!piece && !*s->valuestring) piece = malloc(1);
    } else if (from_committed && old) {
      size_t off = 0;
      cJSON *c;
      cJSON_ArrayForEach(c, cJSON_GetObjectItem(old, "committed")) {
        size_t cl = (size_t)az_num(c, "len", 0);
        if (strcmp(az_str(c, "id"), id) == 0 && oldraw && off + cl <= oldlen) {
          piece = malloc(cl + 1);
          memcpy(piece, oldraw + off, cl);
          plen = cl;
          break;
        }
        off += cl;
      }
    }
    if (!piece) {
      bad = true;
      break;
    }
    while (len + plen > cap) cap *= 2;
    data = realloc(data, cap);
    memcpy(data + len, piece, plen);
    len += plen;
    free(piece);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "id", id);
    cJSON_AddNumberToObject(c, "len", (double)plen);
    cJSON_AddItemToArray(committed, c);
  }
  free(oldraw);
  cJSON_Delete(list);
  if (bad) {
    free(data);
    cJSON_Delete(committed);
    az_blob_error(p, 400, "InvalidBlockList", "The specified block list is invalid.");
    return;
  }
  cJSON *b = NULL;
  const char *code = az_blob_write(acct, cont, name, data, len, az_header(r, "x-ms-blob-content-type"),
                                   wants_if_none_match(r), r->now, &b);
  free(data);
  if (code) {
    cJSON_Delete(committed);
    write_error(p, code);
    return;
  }
  az_set(b, "committed", committed);
  az_resp_empty(p, 201);
  blob_headers(p, b);
  az_resp_header(p, "x-ms-request-server-encrypted", "true");
}

/* ---- listing ---- */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void write_props(xmlTextWriterPtr w, const cJSON *b) {
  char ts[64], n[32];
  xmlTextWriterStartElement(w, BAD_CAST "Properties");
  az_rfc1123(az_num(b, "created", 0), ts, sizeof ts);
  xmlTextWriterWriteElement(w, BAD_CAST "Creation-Time", BAD_CAST ts);
  az_rfc1123(az_num(b, "modified", 0), ts, sizeof ts);
  xmlTextWriterWriteElement(w, BAD_CAST "Last-Modified", BAD_CAST ts);
  xmlTextWriterWriteElement(w, BAD_CAST "Etag", BAD_CAST az_str(b, "etag"));
  snprintf(n, sizeof n, "%.0f", az_num(b, "size", 0));
  xmlTextWriterWriteElement(w, BAD_CAST "Content-Length", BAD_CAST n);
  xmlTextWriterWriteElement(w, BAD_CAST "Content-Type", BAD_CAST(az_str(b, "content_type") ? az_str(b, "content_type") : ""));
  xmlTextWriterWriteElement(w, BAD_CAST "Content-MD5", BAD_CAST(az_str(b, "md5") ? az_str(b, "md5") : ""));
  xmlTextWriterWriteElement(w, BAD_CAST "BlobType", BAD_CAST "BlockBlob");
  xmlTextWriterWriteElement(w, BAD_CAST "AccessTier", BAD_CAST "Hot");
  xmlTextWriterWriteElement(w, BAD_CAST "LeaseStatus", BAD_CAST "unlocked");
  xmlTextWriterWriteElement(w, BAD_CAST "LeaseState", BAD_CAST "available");
  xmlTextWriterWriteElement(w, BAD_CAST "ServerEncrypted", BAD_CAST "true");
  if (az_num(b, "deleted_at", 0) > 0) {
    az_rfc1123(az_num(b, "deleted_at", 0), ts, sizeof ts);
    xmlTextWriterWriteElement(w, BAD_CAST "DeletedTime", BAD_CAST ts);
    snprintf(n, sizeof n, "%.0f", (az_num(b, "purge_at", 0) - az_num(b, "deleted_at", 0)) / 86400.0);
    xmlTextWriterWriteElement(w, BAD_CAST "RemainingRetentionDays", BAD_CAST n);
  }
  xmlTextWriterEndElement(w);
}

static void list_blobs(az_req *r, az_resp *p, const char *acct, const char *cont, cJSON *store) {
  const char *prefix = az_query(r, "prefix");
  const char *marker = az_query(r, "marker");
  const char *mr = az_query(r, "maxresults");
  const char *include = az_query(r, "include");
  bool with_deleted = include && strstr(include, "deleted");
  long max = mr ? strtol(mr, NULL, 10) : 5000;
  if (max < 1 || max > 5000) {
    az_blob_error(p, 400, "OutOfRangeQueryParameterValue", "One of the query parameters specified in the request URI is outside the permissible range.");
    return;
  }
  cJSON *blobs = cJSON_GetObjectItem(store, "blobs");
  cJSON *del = cJSON_GetObjectItem(store, "deleted_blobs");
  int cap = cJSON_GetArraySize(blobs) + cJSON_GetArraySize(del) + 1;
  char **names = calloc((size_t)cap, sizeof *names);
  int n = 0;
  cJSON *it;
  cJSON_ArrayForEach(it, blobs) names[n++] = it->string;
  if (with_deleted) {
    cJSON_ArrayForEach(it, del) {
      if (!cJSON_GetObjectItemCaseSensitive(blobs, it->string) && cJSON_GetArraySize(it) > 0) names[n++] = it->string;
    }
  }
  qsort(names, (size_t)n, sizeof *names, cmp_str);
  xmlBufferPtr buf = xmlBufferCreate();
  xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
  xmlTextWriterStartDocument(w, NULL, "utf-8", NULL);
  xmlTextWriterStartElement(w, BAD_CAST "EnumerationResults");
  char *ep = az_strdupf("%s/%s/", r->base, acct);
  xmlTextWriterWriteAttribute(w, BAD_CAST "ServiceEndpoint", BAD_CAST ep);
  free(ep);
  xmlTextWriterWriteAttribute(w, BAD_CAST "ContainerName", BAD_CAST cont);
  if (prefix) xmlTextWriterWriteElement(w, BAD_CAST "Prefix", BAD_CAST prefix);
  if (marker) xmlTextWriterWriteElement(w, BAD_CAST "Marker", BAD_CAST marker);
  if (mr) xmlTextWriterWriteElement(w, BAD_CAST "MaxResults", BAD_CAST mr);
  xmlTextWriterStartElement(w, BAD_CAST "Blobs");
  long emitted = 0;
  const char *next = NULL;
  for (int i = 0; i < n; i++) {
    if (prefix && strncmp(names[i], prefix, strlen(prefix)) != 0) continue;
    if (marker && *marker && strcmp(names[i], marker) < 0) continue;
    if (emitted == max) {
      next = names[i];
      break;
    }
    cJSON *b = cJSON_GetObjectItemCaseSensitive(blobs, names[i]);
    bool deleted = false;
    if (!b) {
      cJSON *arr = cJSON_GetObjectItemCaseSensitive(del, names[i]);
      b = cJSON_GetArrayItem(arr, cJSON_GetArraySize(arr) - 1);
      deleted = true;
    }
    xmlTextWriterStartElement(w, BAD_CAST "Blob");
    xmlTextWriterWriteElement(w, BAD_CAST "Name", BAD_CAST names[i]);
    if (deleted) xmlTextWriterWriteElement(w, BAD_CAST "Deleted", BAD_CAST "true");
    write_props(w, b);
    xmlTextWriterEndElement(w);
    emitted++;
  }
  xmlTextWriterEndElement(w);
  xmlTextWriterWriteElement(w, BAD_CAST "NextMarker", BAD_CAST(next ? next : ""));
  xmlTextWriterEndElement(w);
  free(names);
  size_t len;
  char *s = xml_finish(w, buf, &len);
  az_resp_text(p, 200, "application/xml", s, len);
  free(s);
  std_headers(p);
}

static void list_containers(az_req *r, az_resp *p, const char *acct) {
  xmlBufferPtr buf = xmlBufferCreate();
  xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
  xmlTextWriterStartDocument(w, NULL, "utf-8", NULL);
  xmlTextWriterStartElement(w, BAD_CAST "EnumerationResults");
  char *ep = az_strdupf("%s/%s/", r->base, acct);
  xmlTextWriterWriteAttribute(w, BAD_CAST "ServiceEndpoint", BAD_CAST ep);
  free(ep);
  xmlTextWriterStartElement(w, BAD_CAST "Containers");
  char *prefix = az_strdupf("%s/", acct);
  char *lp = az_lower(prefix);
  free(prefix);
  size_t pl = strlen(lp);
  const char *include = az_query(r, "include");
  cJSON *it;
  cJSON_ArrayForEach(it, stores()) {
    if (strncmp(it->string, lp, pl) != 0) continue;
    cJSON *ce = container_entry(acct, it->string + pl);
    cJSON *props = cJSON_GetObjectItem(cJSON_GetObjectItem(ce, "res"), "properties");
    xmlTextWriterStartElement(w, BAD_CAST "Container");
    xmlTextWriterWriteElement(w, BAD_CAST "Name", BAD_CAST(it->string + pl));
    xmlTextWriterStartElement(w, BAD_CAST "Properties");
    xmlTextWriterWriteElement(w, BAD_CAST "HasImmutabilityPolicy", BAD_CAST(az_bool(props, "hasImmutabilityPolicy", false) ? "true" : "false"));
    xmlTextWriterWriteElement(w, BAD_CAST "HasLegalHold", BAD_CAST(az_bool(props, "hasLegalHold", false) ? "true" : "false"));
    xmlTextWriterEndElement(w);
    xmlTextWriterEndElement(w);
  }
  if (include && strstr(include, "deleted")) {
    cJSON_ArrayForEach(it, az_obj(az_g.st, "deleted_containers")) {
      if (strncmp(it->string, lp, pl) != 0) continue;
      char name[128];
      snprintf(name, sizeof name, "%.*s", (int)strcspn(it->string + pl, ";"), it->string + pl);
      xmlTextWriterStartElement(w, BAD_CAST "Container");
      xmlTextWriterWriteElement(w, BAD_CAST "Name", BAD_CAST name);
      xmlTextWriterWriteElement(w, BAD_CAST "Deleted", BAD_CAST "true");
      xmlTextWriterWriteElement(w, BAD_CAST "Version", BAD_CAST az_str(it, "version"));
      xmlTextWriterEndElement(w);
    }
  }
  free(lp);
  xmlTextWriterEndElement(w);
  xmlTextWriterWriteElement(w, BAD_CAST "NextMarker", BAD_CAST "");
  xmlTextWriterEndElement(w);
  size_t len;
  char *s = xml_finish(w, buf, &len);
  az_resp_text(p, 200, "application/xml", s, len);
  free(s);
  std_headers(p);
}

/* ---- containers ---- */
static void create_container_resource(const char *acct, const char *cont, double now) {
  cJSON *a = account_entry(acct);
  char *id = az_strdupf("%s/blobServices/default/containers/%s", az_str(cJSON_GetObjectItem(a, "res"), "id"), cont);
  cJSON *res = cJSON_CreateObject();
  cJSON_AddStringToObject(res, "id", id);
  cJSON_AddStringToObject(res, "name", cont);
  cJSON_AddStringToObject(res, "type", "Microsoft.Storage/storageAccounts/blobServices/containers");
  char etag[48];
  new_etag(etag, sizeof etag);
  cJSON_AddStringToObject(res, "etag", etag);
  cJSON *props = cJSON_AddObjectToObject(res, "properties");
  cJSON_AddStringToObject(props, "publicAccess", "None");
  cJSON_AddBoolToObject(props, "hasImmutabilityPolicy", false);
  cJSON_AddBoolToObject(props, "hasLegalHold", false);
  cJSON_AddBoolToObject(props, "deleted", false);
  az_res_put(id, res);
  free(id);
  (void)now;
}

static void container_route(az_req *r, az_resp *p, const char *acct, const char *cont) {
  const char *restype = az_query(r, "restype");
  const char *comp = az_query(r, "comp");
  if (!restype || strcmp(restype, "container") != 0) {
    az_blob_error(p, 400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.");
    return;
  }
  cJSON *store = az_blob_container(acct, cont, false);
  cJSON *ce = container_entry(acct, cont);
  const char *m = r->method;
  if (strcmp(m, "PUT") == 0 && comp && strcmp(comp, "undelete") == 0) {
    const char *dn = az_header(r, "x-ms-deleted-container-name");
    const char *dv = az_header(r, "x-ms-deleted-container-version");
    char *key = az_strdupf("%s/%s;%s", acct, dn ? dn : cont, dv ? dv : "");
    char *lk = az_lower(key);
    free(key);
    cJSON *dc = az_obj(az_g.st, "deleted_containers");
    cJSON *d = cJSON_GetObjectItemCaseSensitive(dc, lk);
    if (!d) {
      az_blob_error(p, 404, "ContainerNotFound", "The specified container does not exist.");
    } else if (store || ce) {
      az_blob_error(p, 409, "ContainerAlreadyExists", "The specified container already exists.");
    } else {
      cJSON *s = cJSON_DetachItemViaPointer(dc, d);
      cJSON *res = cJSON_DetachItemFromObject(s, "_res");
      cJSON_DeleteItemFromObject(s, "version");
      cJSON_DeleteItemFromObject(s, "deleted_at");
      cJSON_DeleteItemFromObject(s, "purge_at");
      char *sk = az_strdupf("%s/%s", acct, cont);
      char *lsk = az_lower(sk);
      cJSON_AddItemToObject(stores(), lsk, s);
      free(sk);
      free(lsk);
      if (res) az_res_put(az_str(res, "id"), res);
      else create_container_resource(acct, cont, r->now);
      az_resp_empty(p, 201);
      std_headers(p);
    }
    free(lk);
    return;
  }
  if (strcmp(m, "PUT") == 0 && !comp) {
    if (store || ce) {
      az_blob_error(p, 409, "ContainerAlreadyExists", "The specified container already exists.");
      return;
    }
    size_t n = strlen(cont);
    if (n < 3 || n > 63 || strspn(cont, "abcdefghijklmnopqrstuvwxyz0123456789-") != n) {
      az_blob_error(p, 400, "InvalidResourceName", "The specified resource name contains invalid characters.");
      return;
    }
    create_container_resource(acct, cont, r->now);
    az_blob_container(acct, cont, true);
    az_resp_empty(p, 201);
    az_resp_header(p, "ETag", "%s", az_str(cJSON_GetObjectItem(container_entry(acct, cont), "res"), "etag"));
    std_headers(p);
    return;
  }
  if (!store) {
    az_blob_error(p, 404, "ContainerNotFound", "The specified container does not exist.");
    return;
  }
  if (strcmp(m, "GET") == 0 && comp && strcmp(comp, "list") == 0) {
    list_blobs(r, p, acct, cont, store);
  } else if ((strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) && !comp) {
    cJSON *props = cJSON_GetObjectItem(cJSON_GetObjectItem(ce, "res"), "properties");
    az_resp_empty(p, 200);
    az_resp_header(p, "ETag", "%s", az_str(cJSON_GetObjectItem(ce, "res"), "etag") ? az_str(cJSON_GetObjectItem(ce, "res"), "etag") : "\"0x0\"");
    az_resp_header(p, "x-ms-has-immutability-policy", "%s", az_bool(props, "hasImmutabilityPolicy", false) ? "true" : "false");
    az_resp_header(p, "x-ms-has-legal-hold", "%s", az_bool(props, "hasLegalHold", false) ? "true" : "false");
    std_headers(p);
  } else if (strcmp(m, "DELETE") == 0 && !comp) {
    cJSON *props = cJSON_GetObjectItem(cJSON_GetObjectItem(ce, "res"), "properties");
    cJSON *ip = cJSON_GetObjectItem(props, "immutabilityPolicy");
    if (az_bool(props, "hasLegalHold", false)) {
      az_blob_error(p, 409, "ContainerHasLegalHold", "The requested operation is not allowed as the container has one or more legal holds.");
    } else if (ip && az_ieq(az_str(cJSON_GetObjectItem(ip, "properties"), "state"), "Locked")) {
      az_blob_error(p, 409, "ContainerImmutabilityPolicyLocked", "The requested operation is not allowed as the container has a locked immutability policy.");
    } else {
      if (ce) {
        char *l = az_lower(az_str(cJSON_GetObjectItem(ce, "res"), "id"));
        az_remove_tree(l, r->now);
        free(l);
      } else {
        char *k = az_strdupf("%s/%s", acct, cont);
        char *lk = az_lower(k);
        cJSON_DeleteItemFromObjectCaseSensitive(stores(), lk);
        free(k);
        free(lk);
      }
      az_resp_empty(p, 202);
      std_headers(p);
    }
  } else {
    az_blob_error(p, 400, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.");
  }
}

/* ---- copy sources (Put Block From URL, Put Blob From URL) ----
 * The source must be served by this azsim: a disk/snapshot SAS from
 * beginGetAccess (checked) or a path-style blob. x-ms-source-range selects
 * bytes. Returns malloc'ed bytes, or NULL with p filled. */
static unsigned char *copy_source(az_req *r, az_resp *p, size_t *len) {
  const char *src = az_header(r, "x-ms-copy-source");
  CURLU *u = curl_url();
  char *path = NULL, *query = NULL;
  unsigned char *out = NULL;
  if (!src || curl_url_set(u, CURLUPART_URL, src, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK) {
    az_blob_error(p, 400, "InvalidHeaderValue", "The value for x-ms-copy-source is not a valid URL.");
    goto done;
  }
  curl_url_get(u, CURLUPART_QUERY, &query, 0);
  char *sig = NULL;
  if (query) {
    char *save = NULL;
    for (char *kv = strtok_r(query, "&", &save); kv; kv = strtok_r(NULL, "&", &save))
      if (strncmp(kv, "sig=", 4) == 0) sig = kv + 4;
  }
  char *seg0 = path + strspn(path, "/");
  char *rest = strchr(seg0, '/');
  if (rest) *rest++ = 0;
  size_t total = 0;
  unsigned char *all = NULL;
  if (strncmp(seg0, "md-", 3) == 0) {
    cJSON *content = az_disk_sas_content(seg0 + 3, sig);
    if (!content) {
      az_blob_error(p, 403, "CannotVerifyCopySource", "Server failed to authenticate the request to the copy source.");
      goto done;
    }
    total = az_disk_size(content);
    all = malloc(total ? total : 1);
    az_disk_bytes(content, 0, total, all);
  } else {
    char *cont = rest, *name = rest ? strchr(rest, '/') : NULL;
    if (name) *name++ = 0;
    cJSON *store = cont ? az_blob_container(seg0, cont, false) : NULL;
    cJSON *b = name ? cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(store, "blobs"), name) : NULL;
    if (!b) {
      az_blob_error(p, 404, "CannotVerifyCopySource", "The specified copy source does not exist.");
      goto done;
    }
    const char *d = az_str(b, "data");
    all = d && *d ? az_b64_decode(d, &total) : malloc(1);
  }
  size_t from = 0, to = total ? total - 1 : 0;
  const char *range = az_header(r, "x-ms-source-range");
  if (range) {
    unsigned long long a = 0, e = 0;
    int n = sscanf(range, "bytes=%llu-%llu", &a, &e);
    if (n != 2 || e < a || a >= total) {
      free(all);
      az_blob_error(p, 416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
      goto done;
    }
    from = (size_t)a;
    to = e < total ? (size_t)e : total - 1;
  }
  *len = total ? to - from + 1 : 0;
  out = malloc(*len + 1);
  if (*len) memcpy(out, all + from, *len);
  free(all);
done:
  curl_free(path);
  curl_free(query);
  curl_url_cleanup(u);
  return out;
}

/* ---- blobs ---- */
static void blob_route(az_req *r, az_resp *p, const char *acct, const char *cont, const char *name) {
  cJSON *store = az_blob_container(acct, cont, false);
  if (!store) {
    az_blob_error(p, 404, "ContainerNotFound", "The specified container does not exist.");
    return;
  }
  const char *comp = az_query(r, "comp");
  const char *m = r->method;
  cJSON *blobs = cJSON_GetObjectItem(store, "blobs");
  cJSON *b = cJSON_GetObjectItemCaseSensitive(blobs, name);
  if (strcmp(m, "PUT") == 0 && comp && strcmp(comp, "block") == 0) {
    const char *bid = az_query(r, "blockid");
    if (!bid || !*bid || strlen(bid) > 256) {
      az_blob_error(p, 400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.");
      return;
    }
    const unsigned char *data = (const unsigned char *)r->body;
    size_t dlen = r->body_len;
    unsigned char *copied = NULL;
    if (az_header(r, "x-ms-copy-source")) {
      copied = copy_source(r, p, &dlen);
      if (!copied) return;
      data = copied;
    }
    cJSON *staged = az_obj(az_obj(store, "blocks"), name);
    char *d64 = az_b64_encode(data, dlen);
    free(copied);
    az_set_str(staged, bid, d64);
    free(d64);
    az_resp_empty(p, 201);
    az_resp_header(p, "x-ms-request-server-encrypted", "true");
    std_headers(p);
  } else if (strcmp(m, "PUT") == 0 && comp && strcmp(comp, "blocklist") == 0) {
    put_block_list(r, p, acct, cont, name, store);
  } else if (strcmp(m, "PUT") == 0 && comp && strcmp(comp, "undelete") == 0) {
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(az_obj(store, "deleted_blobs"), name);
    if (!b && cJSON_GetArraySize(arr) == 0) {
      az_blob_error(p, 404, "BlobNotFound", "The specified blob does not exist.");
      return;
    }
    if (!b) {
      cJSON *v = cJSON_DetachItemFromArray(arr, cJSON_GetArraySize(arr) - 1);
      cJSON_DeleteItemFromObject(v, "deleted_at");
      cJSON_DeleteItemFromObject(v, "purge_at");
      az_set(blobs, name, v);
    }
    az_resp_empty(p, 200);
    std_headers(p);
  } else if (strcmp(m, "PUT") == 0 && !comp) {
    const char *bt = az_header(r, "x-ms-blob-type");
    if (!bt) {
      az_blob_error(p, 400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.");
      return;
    }
    if (strcmp(bt, "BlockBlob") != 0) {
      az_blob_error(p, 400, "InvalidHeaderValue", "azsim serves block blobs only.");
      return;
    }
    const char *ct = az_header(r, "x-ms-blob-content-type");
    if (!ct) ct = az_header(r, "Content-Type");
    cJSON *nb = NULL;
    const unsigned char *data = (const unsigned char *)r->body;
    size_t dlen = r->body_len;
    unsigned char *copied = NULL;
    if (az_header(r, "x-ms-copy-source")) { /* Put Blob From URL */
      copied = copy_source(r, p, &dlen);
      if (!copied) return;
      data = copied;
    }
    const char *code = az_blob_write(acct, cont, name, data, dlen, ct, wants_if_none_match(r), r->now, &nb);
    free(copied);
    if (code) {
      write_error(p, code);
      return;
    }
    az_resp_empty(p, 201);
    blob_headers(p, nb);
    az_resp_header(p, "Content-MD5", "%s", az_str(nb, "md5"));
    az_resp_header(p, "x-ms-request-server-encrypted", "true");
  } else if ((strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) && !comp) {
    if (!b) {
      az_blob_error(p, 404, "BlobNotFound", "The specified blob does not exist.");
      if (strcmp(m, "HEAD") == 0) az_resp_empty(p, 404);
      return;
    }
    size_t size = 0;
    const char *d = az_str(b, "data");
    unsigned char *raw = d && *d ? az_b64_decode(d, &size) : NULL;
    size_t from = 0, to = size ? size - 1 : 0;
    bool partial = false;
    const char *range = az_header(r, "x-ms-range");
    if (!range) range = az_header(r, "Range");
    if (range && strcmp(m, "GET") == 0) {
      unsigned long long a = 0, e = 0;
      int n = sscanf(range, "bytes=%llu-%llu", &a, &e);
      if (n < 1 || a >= size || (n == 2 && e < a)) {
        free(raw);
        az_blob_error(p, 416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
        az_resp_header(p, "Content-Range", "bytes */%zu", size);
        return;
      }
      from = (size_t)a;
      if (n == 2) to = e < size ? (size_t)e : size - 1;
      partial = true;
    }
    size_t len = size ? to - from + 1 : 0;
    az_resp_text(p, partial ? 206 : 200, az_str(b, "content_type"), raw ? (char *)raw + from : "", len);
    free(raw);
    blob_headers(p, b);
    if (partial) az_resp_header(p, "Content-Range", "bytes %zu-%zu/%zu", from, to, size);
    else az_resp_header(p, "Content-MD5", "%s", az_str(b, "md5"));
    cJSON *ce = container_entry(acct, cont);
    cJSON *props = cJSON_GetObjectItem(cJSON_GetObjectItem(ce, "res"), "properties");
    if (az_bool(props, "hasLegalHold", false)) az_resp_header(p, "x-ms-legal-hold", "true");
  } else if (strcmp(m, "DELETE") == 0 && !comp) {
    const char *code = az_blob_delete(acct, cont, name, r->now);
    if (code) {
      write_error(p, code);
      return;
    }
    az_resp_empty(p, 202);
    az_resp_header(p, "x-ms-delete-type-permanent", "%s", az_bool(cJSON_GetObjectItem(blob_service_props(acct), "deleteRetentionPolicy"), "enabled", false) ? "false" : "true");
    std_headers(p);
  } else {
    az_blob_error(p, 400, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.");
  }
}

bool az_blob_route(az_req *r, az_resp *p) {
  if (r->nseg < 1 || !account_entry(r->seg[0])) return false;
  if (!az_auth_check(r, p, "storage")) {
    /* az_auth_check set WWW-Authenticate; storage errors are XML */
    az_blob_error(p, 401, az_header(r, "Authorization") ? "InvalidAuthenticationInfo" : "NoAuthenticationInformation",
               "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.");
    return true;
  }
  const char *acct = r->seg[0];
  if (r->nseg == 1) {
    const char *comp = az_query(r, "comp");
    if (strcmp(r->method, "GET") == 0 && comp && strcmp(comp, "list") == 0) list_containers(r, p, acct);
    else az_blob_error(p, 400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.");
    return true;
  }
  if (r->nseg == 2) {
    container_route(r, p, acct, r->seg[1]);
    return true;
  }
  size_t n = 0;
  for (int i = 2; i < r->nseg; i++) n += strlen(r->seg[i]) + 1;
  char *name = malloc(n + 1);
  name[0] = 0;
  for (int i = 2; i < r->nseg; i++) {
    if (i > 2) strcat(name, "/");
    strcat(name, r->seg[i]);
  }
  if (n > 1025) az_blob_error(p, 400, "InvalidResourceName", "The specified resource name length is not within the permissible limits.");
  else blob_route(r, p, acct, r->seg[1], name);
  free(name);
  return true;
}
