/* Requests azsim makes to its own handlers. The estate loader and the
 * attacker go through exactly the code paths clients reach over HTTP, so the
 * protections they meet are the ones clients meet. */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int az_call(const char *method, const char *host, const char *url, cJSON *hdrs, const char *body,
            size_t body_len, cJSON **json) {
  char *copy = strdup(url);
  char *q = strchr(copy, '?');
  cJSON *iq = cJSON_CreateObject();
  if (q) {
    *q++ = 0;
    char *save = NULL;
    for (char *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
      char *eq = strchr(kv, '=');
      if (eq) *eq++ = 0;
      az_set_str(iq, kv, eq ? eq : "");
    }
  }
  char hostbuf[256], base[300];
  snprintf(hostbuf, sizeof hostbuf, "%s:%d", host ? host : "127.0.0.1", az_g.port);
  snprintf(base, sizeof base, "%s://%s", az_g.tls ? "https" : "http", hostbuf);
  char *path = strdup(copy);
  az_req r = {.conn = NULL, .method = method, .path = path, .host = hostbuf,
              .body = body ? body : "", .body_len = body ? body_len : 0, .base = base,
              .now = az_now(), .internal = true, .iq = iq, .ih = hdrs};
  char *save = NULL;
  for (char *t = strtok_r(copy, "/", &save); t && r.nseg < AZ_MAX_SEG; t = strtok_r(NULL, "/", &save))
    r.seg[r.nseg++] = t;
  az_resp p = {.status = 500};
  az_dispatch(&r, &p);
  if (json) {
    *json = p.body && p.len ? cJSON_ParseWithLength(p.body, p.len) : NULL;
    /* data-plane errors are XML: surface x-ms-error-code as {error:{code}} */
    for (int i = 0; !*json && i < p.nhdr; i++) {
      if (strcasecmp(p.hdr[i].name, "x-ms-error-code") == 0) {
        *json = cJSON_CreateObject();
        cJSON_AddStringToObject(cJSON_AddObjectToObject(*json, "error"), "code", p.hdr[i].value);
      }
    }
  }
  free(p.body);
  for (int i = 0; i < p.nhdr; i++) {
    free(p.hdr[i].name);
    free(p.hdr[i].value);
  }
  cJSON_Delete(iq);
  free(copy);
  free(path);
  return p.status;
}
