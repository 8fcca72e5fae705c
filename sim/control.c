/* The control API (plain HTTP on loopback, see docs/azsim.md): faults, LRO
 * durations, the virtual clock, settings, request counters, state snapshots,
 * inventory, the attacker and federated test tokens. Also the fault and
 * counter hooks the Azure-facing server calls on every request. */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool rule_matches(const cJSON *rule, const char *method, const char *path) {
  const char *m = az_str(rule, "method");
  if (m && *m && strcmp(m, "*") != 0 && strcasecmp(m, method) != 0) return false;
  return az_glob(az_str(rule, "path"), path);
}

int az_fault_apply(const char *method, const char *path, az_resp *p, int *latency_ms) {
  cJSON *rule;
  cJSON_ArrayForEach(rule, az_g.faults) {
    if (!rule_matches(rule, method, path)) continue;
    double seen = az_num(rule, "seen", 0) + 1;
    az_set_num(rule, "seen", seen);
    double ev = az_num(rule, "every", 1);
    long every = ev >= 1 && ev <= 1e6 ? (long)ev : 1;
    if (every > 1 && ((long)seen % every) != 0) continue;
    double count = az_num(rule, "count", -1);
    if (count == 0) continue;
    if (count > 0) az_set_num(rule, "count", count - 1);
    az_set_num(rule, "fired", az_num(rule, "fired", 0) + 1);
    double lat = az_num(rule, "latency_ms", 0);
    if (lat > 0 && lat <= 60000 && *latency_ms < 60000) *latency_ms += (int)lat;
    if (az_bool(rule, "reset", false)) {
      p->reset = true;
      return 1;
    }
    double st = az_num(rule, "status", 0);
    int status = st >= 400 && st <= 599 ? (int)st : 0;
    if (status >= 400 && status <= 599) {
      const char *code = az_str(rule, "code");
      if (!code)
        code = status == 429 ? "TooManyRequests"
               : status == 503 ? "ServiceUnavailable"
               : status == 500 ? "InternalServerError"
                               : "InjectedFault";
      const char *msg = az_str(rule, "message");
      az_resp_error(p, status, code, "%s", msg ? msg : "azsim injected this fault.");
      double ra = az_num(rule, "retry_after", -1);
      if (ra >= 0) az_resp_header(p, "Retry-After", "%.0f", ra);
      return 1;
    }
  }
  return 0;
}

void az_count(const char *method, const char *path) {
  char *key = az_strdupf("%s %s", method, path);
  if (!key) return;
  cJSON *c = cJSON_GetObjectItemCaseSensitive(az_g.counters, key);
  if (c) cJSON_SetNumberValue(c, c->valuedouble + 1);
  else cJSON_AddNumberToObject(az_g.counters, key, 1);
  free(key);
}

double az_lro_seconds_for(const char *method, const char *path, const char **final_status) {
  cJSON *rule;
  *final_status = "Succeeded";
  double secs = az_g.lro_seconds;
  cJSON_ArrayForEach(rule, az_g.lro_rules) {
    if (!rule_matches(rule, method, path)) continue;
    secs = az_num(rule, "seconds", secs);
    if (az_str(rule, "status")) *final_status = az_str(rule, "status");
  }
  return secs;
}

static cJSON *body_json(az_req *r, az_resp *p) {
  cJSON *j = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : cJSON_CreateObject();
  if (!j) az_resp_error(p, 400, "InvalidJson", "The request body is not valid JSON.");
  return j;
}

static void clock_json(az_resp *p, double now) {
  cJSON *o = cJSON_CreateObject();
  char iso[64];
  az_iso8601(now, iso, sizeof iso);
  cJSON_AddNumberToObject(o, "now", now);
  cJSON_AddStringToObject(o, "iso", iso);
  cJSON_AddNumberToObject(o, "offset", az_g.clock_offset);
  az_resp_json(p, 200, o);
}

static void add_rules(cJSON *list, cJSON *body, az_resp *p) {
  cJSON *ids = cJSON_CreateArray();
  cJSON *items = cJSON_IsArray(body) ? body : NULL;
  cJSON *one = items ? NULL : body;
  cJSON *it = items ? items->child : one;
  for (; it; it = items ? it->next : NULL) {
    if (!cJSON_IsObject(it)) continue;
    cJSON *rule = cJSON_Duplicate(it, 1);
    char id[32];
    snprintf(id, sizeof id, "r%lu", ++az_g.fault_seq);
    az_set_str(rule, "id", id);
    az_set_num(rule, "seen", 0);
    az_set_num(rule, "fired", 0);
    cJSON_AddItemToArray(list, rule);
    cJSON_AddItemToArray(ids, cJSON_CreateString(id));
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "ids", ids);
  if (cJSON_GetArraySize(ids) == 1)
    cJSON_AddStringToObject(o, "id", cJSON_GetArrayItem(ids, 0)->valuestring);
  az_resp_json(p, 201, o);
}

static void rules_route(az_req *r, az_resp *p, cJSON **list) {
  if (r->nseg == 1 && strcmp(r->method, "GET") == 0) {
    az_resp_json(p, 200, cJSON_Duplicate(*list, 1));
  } else if (r->nseg == 1 && strcmp(r->method, "POST") == 0) {
    cJSON *b = body_json(r, p);
    if (!b) return;
    add_rules(*list, b, p);
    cJSON_Delete(b);
  } else if (r->nseg == 1 && strcmp(r->method, "DELETE") == 0) {
    cJSON_Delete(*list);
    *list = cJSON_CreateArray();
    az_resp_empty(p, 204);
  } else if (r->nseg == 2 && strcmp(r->method, "DELETE") == 0) {
    cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, *list) {
      if (az_ieq(az_str(it, "id"), r->seg[1])) {
        cJSON_DeleteItemFromArray(*list, i);
        az_resp_empty(p, 204);
        return;
      }
      i++;
    }
    az_resp_error(p, 404, "NotFound", "no rule '%s'", r->seg[1]);
  } else if (r->nseg == 2 && strcmp(r->method, "GET") == 0) {
    cJSON *it;
    cJSON_ArrayForEach(it, *list) {
      if (az_ieq(az_str(it, "id"), r->seg[1])) {
        az_resp_json(p, 200, cJSON_Duplicate(it, 1));
        return;
      }
    }
    az_resp_error(p, 404, "NotFound", "no rule '%s'", r->seg[1]);
  } else {
    az_resp_error(p, 405, "MethodNotAllowed", "unsupported");
  }
}

static void counters(az_req *r, az_resp *p) {
  if (strcmp(r->method, "DELETE") == 0) {
    cJSON_Delete(az_g.counters);
    az_g.counters = cJSON_CreateObject();
    az_resp_empty(p, 204);
    return;
  }
  const char *m = az_query(r, "method");
  const char *path = az_query(r, "path");
  double total = 0;
  cJSON *routes = cJSON_CreateObject();
  cJSON *it;
  cJSON_ArrayForEach(it, az_g.counters) {
    const char *sp = strchr(it->string, ' ');
    if (!sp) continue;
    if (m && *m && strcmp(m, "*") != 0 &&
        (strncasecmp(it->string, m, (size_t)(sp - it->string)) != 0 ||
         strlen(m) != (size_t)(sp - it->string)))
      continue;
    if (!az_glob(path, sp + 1)) continue;
    total += it->valuedouble;
    cJSON_AddNumberToObject(routes, it->string, it->valuedouble);
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "count", total);
  cJSON_AddItemToObject(o, "routes", routes);
  az_resp_json(p, 200, o);
}

static void settings(az_req *r, az_resp *p) {
  if (strcmp(r->method, "GET") != 0) {
    cJSON *b = body_json(r, p);
    if (!b) return;
    double ps = az_num(b, "page_size", az_g.page_size);
    double tl = az_num(b, "token_lifetime", az_g.token_lifetime);
    double ra = az_num(b, "lro_retry_after", az_g.lro_retry_after);
    double ls = az_num(b, "lro_seconds", az_g.lro_seconds);
    if (ps < 1 || ps > 1000 || tl < 1 || tl > 1e8 || ra < 0 || ra > 3600 || ls < 0 || ls > 1e8) {
      cJSON_Delete(b);
      az_resp_error(p, 400, "InvalidSetting",
                    "page_size 1..1000, token_lifetime 1..1e8, lro_retry_after 0..3600, lro_seconds 0..1e8");
      return;
    }
    az_g.page_size = (int)ps;
    az_g.token_lifetime = (int)tl;
    az_g.lro_seconds = ls;
    az_g.lro_retry_after = (int)ra;
    cJSON_Delete(b);
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "page_size", az_g.page_size);
  cJSON_AddNumberToObject(o, "token_lifetime", az_g.token_lifetime);
  cJSON_AddNumberToObject(o, "lro_seconds", az_g.lro_seconds);
  cJSON_AddNumberToObject(o, "lro_retry_after", az_g.lro_retry_after);
  az_resp_json(p, 200, o);
}

void az_control(az_req *r, az_resp *p) {
  const char *m = r->method;
  const char *s0 = r->nseg > 0 ? r->seg[0] : "";
  if (strcmp(s0, "health") == 0) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", true);
    cJSON_AddNumberToObject(o, "port", az_g.port);
    az_resp_json(p, 200, o);
  } else if (strcmp(s0, "clock") == 0) {
    if (r->nseg == 2 && strcmp(r->seg[1], "advance") == 0 && strcmp(m, "POST") == 0) {
      cJSON *b = body_json(r, p);
      if (!b) return;
      double secs = az_num(b, "seconds", -1);
      cJSON_Delete(b);
      if (!(secs >= 0 && secs <= 1e10)) {
        az_resp_error(p, 400, "InvalidClock", "'seconds' must be a number >= 0");
        return;
      }
      az_g.clock_offset += secs;
      double now = az_now();
      az_tick(now);
      clock_json(p, now);
    } else if (r->nseg == 1 && strcmp(m, "GET") == 0) {
      clock_json(p, r->now);
    } else {
      az_resp_error(p, 405, "MethodNotAllowed", "GET /clock or POST /clock/advance");
    }
  } else if (strcmp(s0, "faults") == 0) {
    rules_route(r, p, &az_g.faults);
  } else if (strcmp(s0, "lro") == 0) {
    rules_route(r, p, &az_g.lro_rules);
  } else if (strcmp(s0, "settings") == 0) {
    settings(r, p);
  } else if (strcmp(s0, "counters") == 0) {
    counters(r, p);
  } else if (strcmp(s0, "state") == 0) {
    if (strcmp(m, "GET") == 0) {
      az_resp_json(p, 200, cJSON_Duplicate(az_g.st, 1));
    } else if (strcmp(m, "PUT") == 0 || strcmp(m, "POST") == 0) {
      cJSON *b = body_json(r, p);
      if (!b) return;
      if (!cJSON_IsObject(b)) {
        cJSON_Delete(b);
        az_resp_error(p, 400, "InvalidState", "the state must be a JSON object");
        return;
      }
      cJSON_Delete(az_g.st);
      az_g.st = b;
      az_g.state_gen++;
      az_devops_state_restored();
      az_resp_empty(p, 204);
    } else {
      az_resp_error(p, 405, "MethodNotAllowed", "GET or PUT /state");
    }
  } else if (strcmp(s0, "snapshots") == 0) {
    if (r->nseg == 1 && strcmp(m, "GET") == 0) {
      cJSON *names = cJSON_CreateArray();
      cJSON *it;
      cJSON_ArrayForEach(it, az_g.snapshots) cJSON_AddItemToArray(names, cJSON_CreateString(it->string));
      az_resp_json(p, 200, names);
    } else if (r->nseg == 2 && strcmp(m, "POST") == 0) {
      az_set(az_g.snapshots, r->seg[1], cJSON_Duplicate(az_g.st, 1));
      az_resp_empty(p, 201);
    } else if (r->nseg == 3 && strcmp(m, "POST") == 0 && strcmp(r->seg[2], "restore") == 0) {
      cJSON *snap = cJSON_GetObjectItemCaseSensitive(az_g.snapshots, r->seg[1]);
      if (!snap) {
        az_resp_error(p, 404, "NotFound", "no snapshot '%s'", r->seg[1]);
        return;
      }
      cJSON_Delete(az_g.st);
      az_g.st = cJSON_Duplicate(snap, 1);
      az_g.state_gen++;
      az_devops_state_restored();
      az_resp_empty(p, 204);
    } else {
      az_resp_error(p, 405, "MethodNotAllowed", "see docs/azsim.md");
    }
  } else if (strcmp(s0, "inventory") == 0) {
    az_resp_json(p, 200, az_inventory());
  } else if (strcmp(s0, "attack") == 0 && strcmp(m, "POST") == 0) {
    cJSON *b = body_json(r, p);
    if (!b) return;
    const char *role = az_str(b, "role");
    if (role && !az_ieq(role, "Owner") && !az_ieq(role, "Contributor")) {
      cJSON_Delete(b);
      az_resp_error(p, 400, "InvalidRole", "role must be Owner or Contributor");
      return;
    }
    az_resp_json(p, 200, az_attack(role));
    cJSON_Delete(b);
  } else if (strcmp(s0, "encrypt") == 0 && strcmp(m, "POST") == 0) {
    az_resp_json(p, 200, az_ransomware());
  } else if (strcmp(s0, "federated-token") == 0 && strcmp(m, "POST") == 0) {
    cJSON *b = body_json(r, p);
    if (!b) return;
    const char *sub = az_str(b, "subject");
    if (!sub) {
      cJSON_Delete(b);
      az_resp_error(p, 400, "MissingSubject", "'subject' is required");
      return;
    }
    double life = az_num(b, "lifetime", 3600);
    char *t = az_mint_federated(az_str(b, "issuer"), sub, az_str(b, "audience"),
                                life >= 1 && life <= 1e7 ? (int)life : 3600);
    cJSON_Delete(b);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "token", t ? t : "");
    cJSON_AddStringToObject(o, "issuer", az_g.issuer);
    free(t);
    az_resp_json(p, 200, o);
  } else if (strcmp(s0, "tokens") == 0 && r->nseg == 2 && strcmp(r->seg[1], "expire") == 0 &&
             strcmp(m, "POST") == 0) {
    cJSON *it;
    int n = 0;
    cJSON_ArrayForEach(it, az_g.tokens) {
      az_set_num(it, "exp", r->now - 1);
      n++;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "expired", n);
    az_resp_json(p, 200, o);
  } else if (strcmp(s0, "shutdown") == 0 && strcmp(m, "POST") == 0) {
    az_g.stop = 1;
    az_resp_empty(p, 204);
  } else {
    az_resp_error(p, 404, "NotFound", "no control route '%s %s' (see docs/azsim.md)", m, r->path);
  }
}
