/* Small helpers: clock, ids, encodings (OpenSSL), JSON and response helpers. */
#include "azsim.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

double az_realtime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double az_now(void) { return az_realtime() + az_g.clock_offset; }

void az_iso8601(double t, char *out, size_t n) {
  time_t s = (time_t)t;
  struct tm tm;
  gmtime_r(&s, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, n, "%s.%07dZ", buf, (int)((t - (double)s) * 1e7) % 10000000);
}

void az_rfc1123(double t, char *out, size_t n) {
  time_t s = (time_t)t;
  struct tm tm;
  gmtime_r(&s, &tm);
  strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Ids need to be unique, not secret: a per-thread splitmix64 seeded once
 * from OpenSSL (RAND_bytes per id was 6% of azsim's CPU under load). */
static uint64_t next_id_bits(void) {
  static _Thread_local uint64_t state;
  static _Thread_local int seeded;
  if (!seeded) {
    if (RAND_bytes((unsigned char *)&state, sizeof state) != 1) state = (uint64_t)time(NULL);
    state ^= (uint64_t)(uintptr_t)&state; /* distinct per thread */
    seeded = 1;
  }
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void az_uuid(char *out) {
  unsigned char b[16];
  uint64_t hi = next_id_bits(), lo = next_id_bits();
  memcpy(b, &hi, 8);
  memcpy(b + 8, &lo, 8);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
           b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}

void az_rand_token(char *out, size_t nbytes) {
  unsigned char b[64];
  if (nbytes > sizeof b) nbytes = sizeof b;
  RAND_bytes(b, (int)nbytes);
  for (size_t i = 0; i < nbytes; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
  out[2 * nbytes] = 0;
}

char *az_b64_encode(const unsigned char *data, size_t len) {
  char *out = malloc(4 * ((len + 2) / 3) + 1);
  if (!out) return NULL;
  EVP_EncodeBlock((unsigned char *)out, data, (int)len);
  return out;
}

unsigned char *az_b64_decode(const char *s, size_t *outlen) {
  size_t n = strlen(s);
  if (n % 4 != 0) return NULL;
  unsigned char *out = malloc(n / 4 * 3 + 1);
  if (!out) return NULL;
  int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
  if (r < 0) {
    free(out);
    return NULL;
  }
  size_t len = (size_t)r;
  /* EVP_DecodeBlock counts the padding as zero bytes. */
  if (n >= 1 && s[n - 1] == '=') len--;
  if (n >= 2 && s[n - 2] == '=') len--;
  *outlen = len;
  return out;
}

/* base64url is base64 with two letters swapped and no padding (RFC 4648 s5);
 * OpenSSL only offers the standard alphabet, so translate around it. */
char *az_b64url_encode(const unsigned char *data, size_t len) {
  char *s = az_b64_encode(data, len);
  if (!s) return NULL;
  for (char *c = s; *c; c++) {
    if (*c == '+') *c = '-';
    else if (*c == '/') *c = '_';
    else if (*c == '=') {
      *c = 0;
      break;
    }
  }
  return s;
}

unsigned char *az_b64url_decode(const char *s, size_t *outlen) {
  size_t n = strlen(s);
  char *t = malloc(n + 4);
  if (!t) return NULL;
  size_t i = 0;
  for (; i < n; i++) {
    char c = s[i];
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (!isalnum((unsigned char)c) && c != '+' && c != '/') {
      free(t);
      return NULL;
    }
    t[i] = c;
  }
  while (i % 4) t[i++] = '=';
  t[i] = 0;
  unsigned char *out = az_b64_decode(t, outlen);
  free(t);
  return out;
}

void az_sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[32];
  unsigned int mdlen = 0;
  EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
  for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

bool az_glob(const char *pattern, const char *s) {
  if (!pattern || !*pattern || strcmp(pattern, "*") == 0) return true;
  return fnmatch(pattern, s, FNM_CASEFOLD) == 0;
}

bool az_ieq(const char *a, const char *b) { return a && b && strcasecmp(a, b) == 0; }

char *az_lower(const char *s) {
  char *o = strdup(s ? s : "");
  for (char *c = o; c && *c; c++) *c = (char)tolower((unsigned char)*c);
  return o;
}

char *az_strdupf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  return s;
}

const char *az_query(const az_req *r, const char *key) {
  if (!r->conn) return az_str(r->iq, key);
  return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *az_header(const az_req *r, const char *name) {
  if (!r->conn) {
    cJSON *h = cJSON_GetObjectItem(r->ih, name); /* case-insensitive */
    return cJSON_IsString(h) ? h->valuestring : NULL;
  }
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void az_resp_header(az_resp *p, const char *name, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *v = NULL;
  if (vasprintf(&v, fmt, ap) < 0) v = NULL;
  va_end(ap);
  if (!v) return;
  for (int i = 0; i < p->nhdr; i++) {
    if (strcasecmp(p->hdr[i].name, name) == 0) {
      free(p->hdr[i].value);
      p->hdr[i].value = v;
      return;
    }
  }
  if (p->nhdr >= AZ_MAX_HDR) {
    free(v);
    return;
  }
  p->hdr[p->nhdr].name = strdup(name);
  p->hdr[p->nhdr].value = v;
  p->nhdr++;
}

void az_resp_text(az_resp *p, int status, const char *ctype, const char *body, size_t len) {
  free(p->body);
  p->status = status;
  p->body = malloc(len + 1);
  if (p->body) {
    if (len) memcpy(p->body, body, len);
    p->body[len] = 0;
  }
  p->len = len;
  snprintf(p->ctype, sizeof p->ctype, "%s", ctype ? ctype : "");
}

void az_resp_json(az_resp *p, int status, cJSON *json) {
  char *s = cJSON_PrintUnformatted(json);
  cJSON_Delete(json);
  free(p->body);
  p->status = status;
  p->body = s;
  p->len = s ? strlen(s) : 0;
  snprintf(p->ctype, sizeof p->ctype, "application/json; charset=utf-8");
}

void az_resp_error(az_resp *p, int status, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  cJSON *o = cJSON_CreateObject();
  cJSON *e = cJSON_AddObjectToObject(o, "error");
  cJSON_AddStringToObject(e, "code", code);
  cJSON_AddStringToObject(e, "message", msg ? msg : code);
  free(msg);
  az_resp_json(p, status, o);
}

void az_resp_empty(az_resp *p, int status) {
  free(p->body);
  p->body = NULL;
  p->len = 0;
  p->status = status;
  p->ctype[0] = 0;
}

cJSON *az_obj(cJSON *parent, const char *key) {
  cJSON *o = cJSON_GetObjectItemCaseSensitive(parent, key);
  if (cJSON_IsObject(o)) return o;
  if (o) cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
  return cJSON_AddObjectToObject(parent, key);
}

const char *az_str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

double az_num(const cJSON *o, const char *key, double dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (cJSON_IsNumber(v)) return v->valuedouble;
  if (cJSON_IsString(v) && v->valuestring[0]) {
    char *end;
    double d = strtod(v->valuestring, &end);
    if (*end == 0) return d;
  }
  return dflt;
}

bool az_bool(const cJSON *o, const char *key, bool dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
  if (cJSON_IsString(v)) return strcasecmp(v->valuestring, "true") == 0;
  return dflt;
}

void az_set(cJSON *o, const char *key, cJSON *v) {
  if (!v) return;
  if (cJSON_GetObjectItemCaseSensitive(o, key))
    cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
  else
    cJSON_AddItemToObject(o, key, v);
}

void az_set_str(cJSON *o, const char *key, const char *v) {
  az_set(o, key, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}
void az_set_num(cJSON *o, const char *key, double v) { az_set(o, key, cJSON_CreateNumber(v)); }
void az_set_bool(cJSON *o, const char *key, bool v) { az_set(o, key, cJSON_CreateBool(v)); }

cJSON *az_strip_private(const cJSON *o) {
  cJSON *c = cJSON_Duplicate(o, 1);
  cJSON *it = c ? c->child : NULL;
  while (it && cJSON_IsObject(c)) {
    cJSON *next = it->next;
    if (it->string && it->string[0] == '_') cJSON_Delete(cJSON_DetachItemViaPointer(c, it));
    it = next;
  }
  return c;
}
