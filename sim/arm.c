/* The generic ARM engine: subscriptions, resource groups, any provider
 * resource (GET/PUT/PATCH/DELETE, nested types, list with nextLink paging),
 * POST actions, long-running operations and management locks.
 *
 * Shapes follow azure-rest-api-specs:
 *   Microsoft.Resources/stable/2021-04-01 (resourceGroups, resources)
 *   Microsoft.Resources/stable/2022-12-01 (subscriptions)
 *   Microsoft.Authorization/stable/2020-05-01 (locks.json, managementLocks)
 * and the ARM RPC contract for LROs (Azure-AsyncOperation, Location,
 * Retry-After) and errors ({error:{code,message}}).
 *
 * Every resource lives in st.resources keyed by its lower-cased id:
 *   {res: <public JSON>, type: <lower type>, parent: <lower parent id>,
 *    sub, rg, created}
 * and type-specific private data next to res.
 */
#include "azsim.h"
#include "arm_family.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static cJSON *resources(void) { return az_obj(az_g.st, "resources"); }
static cJSON *ops(void) { return az_obj(az_g.st, "operations"); }

/* st.lro_due: [[end, opid], ...], the operations still InProgress in the
 * order they end, so that az_tick (every request) looks only at those due
 * instead of walking every operation ever started. It lives in the state,
 * so snapshots and restores carry it; a state without it (an estate, an
 * older state PUT through the control API) gets it rebuilt from the
 * operations once. */
static double due_end(const cJSON *e) { /* anything malformed is due at once, and dropped */
  const cJSON *n = e ? e->child : NULL;
  return cJSON_IsNumber(n) ? n->valuedouble : -1;
}

static void due_insert(cJSON *q, double end, const char *opid) {
  cJSON *e = cJSON_CreateArray();
  cJSON_AddItemToArray(e, cJSON_CreateNumber(end));
  cJSON_AddItemToArray(e, cJSON_CreateString(opid));
  /* Operations mostly end in the order they start: an append, O(1). */
  cJSON *tail = q->child ? q->child->prev : NULL; /* cJSON keeps head->prev at the tail */
  if (!tail || due_end(tail) <= end) {
    cJSON_AddItemToArray(q, e);
    return;
  }
  int at = 0;
  for (cJSON *it = q->child; it && due_end(it) <= end; it = it->next) at++;
  cJSON_InsertItemInArray(q, at, e);
}

static cJSON *due_queue(void) {
  cJSON *q = cJSON_GetObjectItemCaseSensitive(az_g.st, "lro_due");
  if (cJSON_IsArray(q)) return q;
  cJSON_DeleteItemFromObjectCaseSensitive(az_g.st, "lro_due");
  q = cJSON_AddArrayToObject(az_g.st, "lro_due");
  cJSON *op;
  cJSON_ArrayForEach(op, ops()) {
    const char *st = az_str(op, "status");
    if (st && strcmp(st, "InProgress") == 0) due_insert(q, az_num(op, "end", 0), op->string);
  }
  return q;
}

cJSON *az_sub_get(const char *sub) {
  char *l = az_lower(sub);
  cJSON *s = cJSON_GetObjectItemCaseSensitive(az_obj(az_g.st, "subscriptions"), l);
  free(l);
  return s;
}

cJSON *az_res_get(const char *id) {
  char *l = az_lower(id);
  cJSON *e = az_res_index_get(resources(), l);
  free(l);
  return e;
}

char *az_build_id(az_req *r, int upto) {
  size_t n = 1;
  for (int i = 0; i < upto; i++) n += strlen(r->seg[i]) + 1;
  char *s = malloc(n + 1);
  if (!s) return NULL;
  s[0] = 0;
  for (int i = 0; i < upto; i++) {
    strcat(s, "/");
    strcat(s, r->seg[i]);
  }
  return s;
}

/* Parent id of a resource id: drop the last type/name pair, or the
 * "providers/NS/type/name" quadruple for a top-level resource. */
static char *parent_of(const char *lower_id) {
  char *s = strdup(lower_id);
  for (int k = 0; k < 2; k++) {
    char *sl = strrchr(s, '/');
    if (sl) *sl = 0;
  }
  /* a top-level resource's parent is its scope: drop "/providers/<ns>" */
  char *a = strrchr(s, '/');
  if (a) {
    *a = 0;
    char *b2 = strrchr(s, '/');
    if (b2 && strcmp(b2, "/providers") == 0) *b2 = 0;
    else *a = '/';
  }
  return s;
}

cJSON *az_res_put(const char *id, cJSON *res) {
  char *l = az_lower(id);
  cJSON *e = az_res_index_get(resources(), l);
  if (!e) {
    e = cJSON_CreateObject();
    cJSON_AddItemToObject(resources(), l, e);
    az_res_index_add(resources(), e);
    az_set_num(e, "created", az_now());
  }
  az_set(e, "res", res);
  const char *type = az_str(res, "type");
  char *lt = az_lower(type);
  az_set_str(e, "type", lt);
  free(lt);
  char *par = parent_of(l);
  az_set_str(e, "parent", par);
  free(par);
  /* /subscriptions/{s}/resourcegroups/{rg}/... */
  char sub[128] = "", rg[128] = "";
  sscanf(l, "/subscriptions/%127[^/]/resourcegroups/%127[^/]", sub, rg);
  az_set_str(e, "sub", sub);
  az_set_str(e, "rg", rg);
  free(l);
  return e;
}

static bool is_under(const char *id, const char *scope) {
  size_t n = strlen(scope);
  return strncmp(id, scope, n) == 0 && (id[n] == 0 || id[n] == '/');
}

const char *az_lock_check(const char *id, const char *method, az_resp *p) {
  if (!az_res_any_lock(resources())) return NULL;
  char *l = az_lower(id);
  if (strstr(l, "/providers/microsoft.authorization/locks")) {
    free(l);
    return NULL;
  }
  bool del = strcmp(method, "DELETE") == 0;
  bool write = del || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0 ||
               strcmp(method, "POST") == 0;
  const char *code = NULL;
  cJSON *e;
  cJSON_ArrayForEach(e, resources()) {
    if (!az_res_is_lock(e)) continue;
    const char *scope = az_str(e, "parent");
    const char *level = az_str(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "res"), "properties"), "level");
    bool ro = az_ieq(level, "ReadOnly");
    bool hit = false;
    if (del && (is_under(l, scope) || is_under(scope, l))) hit = true;
    if (write && ro && is_under(l, scope)) hit = true;
    if (hit) {
      code = "ScopeLocked";
      /* name the lock's scope in its original casing */
      const char *lid = az_str(cJSON_GetObjectItem(e, "res"), "id");
      const char *cut = lid ? strcasestr(lid, "/providers/Microsoft.Authorization/locks/") : NULL;
      int slen = cut ? (int)(cut - lid) : (int)strlen(scope);
      az_resp_error(p, 409, code,
                    "The scope '%s' cannot perform %s operation because following scope(s) are "
                    "locked: '%.*s'. Please remove the lock and try again.",
                    id, del ? "delete" : "write", slen, cut ? lid : scope);
      break;
    }
  }
  free(l);
  return code;
}

/* ---- paging ---- */
void az_page(az_req *r, az_resp *p, cJSON *items) {
  const char *tok = az_query(r, "$skiptoken");
  long skip = tok ? strtol(tok, NULL, 10) : 0;
  if (skip < 0 || skip > 1000000000L) skip = 0; /* a bad token restarts the list */
  long top = az_g.page_size;
  const char *t = az_query(r, "$top");
  if (t && strtol(t, NULL, 10) > 0 && strtol(t, NULL, 10) < top) top = strtol(t, NULL, 10);
  cJSON *o = cJSON_CreateObject();
  cJSON *val = cJSON_AddArrayToObject(o, "value");
  long n = cJSON_GetArraySize(items), i = 0;
  cJSON *it;
  cJSON_ArrayForEach(it, items) {
    if (i >= skip && i < skip + top) cJSON_AddItemToArray(val, cJSON_Duplicate(it, 1));
    i++;
  }
  if (skip + top < n) {
    char *link = az_strdupf("%s%s?api-version=%s&%%24skiptoken=%ld", r->base, r->path,
                            az_query(r, "api-version"), skip + top);
    cJSON_AddStringToObject(o, "nextLink", link);
    free(link);
  }
  cJSON_Delete(items);
  az_resp_json(p, 200, o);
}

/* ---- long-running operations ---- */
cJSON *az_lro_start(az_req *r, az_resp *p, const char *kind, const char *id, cJSON *result,
                    int style) {
  const char *final = "Succeeded";
  double secs = az_lro_seconds_for(r->method, r->path, &final);
  char opid[37];
  az_uuid(opid);
  cJSON *op = cJSON_CreateObject();
  cJSON_AddStringToObject(op, "kind", kind);
  char *l = az_lower(id);
  cJSON_AddStringToObject(op, "target", l);
  free(l);
  cJSON_AddStringToObject(op, "status", "InProgress");
  cJSON_AddStringToObject(op, "final", final);
  cJSON_AddNumberToObject(op, "start", r->now);
  cJSON_AddNumberToObject(op, "end", r->now + (secs > 0 ? secs : 0));
  if (result) cJSON_AddItemToObject(op, "result", result);
  cJSON *q = due_queue(); /* before the new operation joins, or it would be queued twice */
  cJSON_AddItemToObject(ops(), opid, op);
  az_op_index_add(ops(), op);
  due_insert(q, az_num(op, "end", 0), opid);
  const char *api = az_query(r, "api-version");
  const char *sub = r->nseg > 1 ? r->seg[1] : "none";
  if (style == 1 || style == 3)
    az_resp_header(p, "Azure-AsyncOperation",
                   "%s/subscriptions/%s/providers/Microsoft.Resources/asyncoperations/%s?api-version=%s",
                   r->base, sub, opid, api ? api : "2021-04-01");
  if (style == 2 || style == 3)
    az_resp_header(p, "Location", "%s/subscriptions/%s/operationresults/%s?api-version=%s",
                   r->base, sub, opid, api ? api : "2021-04-01");
  az_resp_header(p, "Retry-After", "%d", az_g.lro_retry_after);
  if (secs <= 0) az_tick(r->now); /* finishes at once, but the client still polls */
  return op;
}

void az_remove_tree(const char *lower_id, double now) {
  cJSON *res = resources();
  cJSON *victims = cJSON_CreateArray();
  cJSON *e;
  cJSON_ArrayForEach(e, res) {
    if (is_under(e->string, lower_id)) cJSON_AddItemToArray(victims, cJSON_CreateString(e->string));
  }
  /* children first (they were added after their parents), so that a
   * container's soft delete happens before its account drops the data */
  const char *outer = az_g.removing; /* a VM's removal may delete its disks */
  az_g.removing = lower_id;
  for (int i = cJSON_GetArraySize(victims) - 1; i >= 0; i--) {
    const char *k = cJSON_GetArrayItem(victims, i)->valuestring;
    cJSON *ent = cJSON_GetObjectItemCaseSensitive(res, k);
    if (ent) az_type_finish_delete(ent, now);
    az_res_del(res, k);
  }
  az_g.removing = outer;
  cJSON_Delete(victims);
}

static void op_finish(cJSON *op, double now) {
  const char *final = az_str(op, "final");
  const char *kind = az_str(op, "kind");
  const char *target = az_str(op, "target");
  bool ok = az_ieq(final, "Succeeded");
  cJSON *e = az_res_index_get(resources(), target);
  if (strcmp(kind, "delete") == 0) {
    if (ok) az_remove_tree(target, now);
    else if (e) az_set_str(az_obj(az_obj(e, "res"), "properties"), "provisioningState", "Succeeded");
  } else if (strcmp(kind, "put") == 0 && e) {
    az_set_str(az_obj(az_obj(e, "res"), "properties"), "provisioningState", ok ? "Succeeded" : "Failed");
    cJSON *result = cJSON_GetObjectItem(op, "result");
    if (result) az_set(op, "result", cJSON_Duplicate(cJSON_GetObjectItem(e, "res"), 1));
  }
  az_set_str(op, "status", ok ? "Succeeded" : final);
  az_set_num(op, "end", now);
}

void az_tick(double now) {
  cJSON *q = due_queue();
  while (q->child && due_end(q->child) <= now) {
    cJSON *e = cJSON_DetachItemViaPointer(q, q->child);
    const cJSON *id = cJSON_GetArrayItem(e, 1);
    cJSON *op = cJSON_IsString(id) ? az_op_index_get(ops(), id->valuestring) : NULL;
    const char *st = op ? az_str(op, "status") : NULL;
    if (st && strcmp(st, "InProgress") == 0) op_finish(op, now);
    cJSON_Delete(e);
  }
  az_type_tick(now);
  az_kv_tick(now);
  az_blob_tick(now);
  az_devops_tick(now);
  /* forget expired tokens */
  cJSON *t = az_g.tokens ? az_g.tokens->child : NULL;
  while (t) {
    cJSON *next = t->next;
    if (az_num(t, "exp", 0) + 86400 < now) cJSON_Delete(cJSON_DetachItemViaPointer(az_g.tokens, t));
    t = next;
  }
}

static void op_error(cJSON *o, cJSON *op) {
  cJSON *err = cJSON_AddObjectToObject(o, "error");
  cJSON_AddStringToObject(err, "code", az_str(op, "error_code") ? az_str(op, "error_code") : "InternalServerError");
  cJSON_AddStringToObject(err, "message", "The long-running operation failed (azsim injected failure).");
}

static void op_status(az_req *r, az_resp *p, const char *opid, bool location) {
  cJSON *op = az_op_index_get(ops(), opid);
  if (!op) {
    az_resp_error(p, 404, "OperationNotFound", "The operation '%s' could not be found.", opid);
    return;
  }
  const char *status = az_str(op, "status");
  bool done = strcmp(status, "InProgress") != 0;
  if (!done) az_resp_header(p, "Retry-After", "%d", az_g.lro_retry_after);
  if (location) {
    if (!done) {
      az_resp_header(p, "Location", "%s%s?api-version=%s", r->base, r->path, az_query(r, "api-version"));
      az_resp_empty(p, 202);
    } else if (strcmp(status, "Succeeded") != 0) {
      cJSON *o = cJSON_CreateObject();
      op_error(o, op);
      az_resp_json(p, 500, o);
    } else if (cJSON_GetObjectItem(op, "result")) {
      az_resp_json(p, 200, cJSON_Duplicate(cJSON_GetObjectItem(op, "result"), 1));
    } else {
      az_resp_empty(p, strcmp(az_str(op, "kind"), "delete") == 0 ? 200 : 204);
    }
    return;
  }
  cJSON *o = cJSON_CreateObject();
  char *id = az_strdupf("%s", r->path);
  cJSON_AddStringToObject(o, "id", id);
  free(id);
  cJSON_AddStringToObject(o, "name", opid);
  cJSON_AddStringToObject(o, "status", status);
  char ts[64];
  az_iso8601(az_num(op, "start", 0), ts, sizeof ts);
  cJSON_AddStringToObject(o, "startTime", ts);
  if (done) {
    az_iso8601(az_num(op, "end", 0), ts, sizeof ts);
    cJSON_AddStringToObject(o, "endTime", ts);
  }
  if (done && strcmp(status, "Succeeded") != 0) op_error(o, op);
  az_resp_json(p, 200, o);
}

/* ---- subscriptions and resource groups ---- */
static cJSON *sub_json(cJSON *s) {
  cJSON *o = cJSON_CreateObject();
  char *id = az_strdupf("/subscriptions/%s", az_str(s, "subscriptionId"));
  cJSON_AddStringToObject(o, "id", id);
  free(id);
  cJSON_AddStringToObject(o, "subscriptionId", az_str(s, "subscriptionId"));
  cJSON_AddStringToObject(o, "tenantId", az_str(s, "tenantId") ? az_str(s, "tenantId") : "");
  cJSON_AddStringToObject(o, "displayName", az_str(s, "displayName") ? az_str(s, "displayName") : "");
  cJSON_AddStringToObject(o, "state", "Enabled");
  cJSON *pol = cJSON_AddObjectToObject(o, "subscriptionPolicies");
  cJSON_AddStringToObject(pol, "locationPlacementId", "Public_2014-09-01");
  cJSON_AddStringToObject(pol, "quotaId", "PayAsYouGo_2014-09-01");
  cJSON_AddStringToObject(pol, "spendingLimit", "Off");
  cJSON_AddStringToObject(o, "authorizationSource", "RoleBased");
  return o;
}

static cJSON *list_where(const char *type, const char *parent, const char *sub, const char *rg) {
  cJSON *items = cJSON_CreateArray();
  cJSON *e;
  cJSON_ArrayForEach(e, resources()) {
    if (type && !az_ieq(az_str(e, "type"), type)) continue;
    if (parent && !az_ieq(az_str(e, "parent"), parent)) continue;
    if (sub && !az_ieq(az_str(e, "sub"), sub)) continue;
    if (rg && !az_ieq(az_str(e, "rg"), rg)) continue;
    if (!type && az_ieq(az_str(e, "type"), "microsoft.resources/resourcegroups")) continue;
    if (!type && az_res_is_lock(e)) continue;
    if (!type && strchr(strchr(az_str(e, "type"), '/') + 1, '/')) continue; /* top-level only */
    cJSON_AddItemToArray(items, cJSON_Duplicate(cJSON_GetObjectItem(e, "res"), 1));
  }
  return items;
}

static cJSON *parse_body(az_req *r, az_resp *p) {
  if (r->body_len == 0) return cJSON_CreateObject();
  cJSON *b = cJSON_ParseWithLength(r->body, r->body_len);
  if (!b || !cJSON_IsObject(b)) {
    cJSON_Delete(b);
    az_resp_error(p, 400, "InvalidRequestContent",
                  "The request content was invalid and cannot be deserialized.");
    return NULL;
  }
  return b;
}

static void resource_group(az_req *r, az_resp *p) {
  char *id = az_strdupf("/subscriptions/%s/resourceGroups/%s", r->seg[1], r->seg[3]);
  cJSON *e = az_res_get(id);
  const char *m = r->method;
  if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
    if (!e) az_resp_error(p, 404, "ResourceGroupNotFound", "Resource group '%s' could not be found.", r->seg[3]);
    else if (strcmp(m, "HEAD") == 0) az_resp_empty(p, 204);
    else az_resp_json(p, 200, cJSON_Duplicate(cJSON_GetObjectItem(e, "res"), 1));
  } else if (strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
    cJSON *b = parse_body(r, p);
    if (!b) goto out;
    const char *loc = az_str(b, "location");
    if (!e && !loc) {
      az_resp_error(p, 400, "LocationRequired", "The location property is required for this definition.");
    } else if (!e && strlen(r->seg[3]) > 90) {
      az_resp_error(p, 400, "InvalidResourceGroupName", "Resource group name '%s' is invalid.", r->seg[3]);
    } else if (e && az_lock_check(id, m, p)) {
      /* error filled */
    } else {
      cJSON *res = e ? cJSON_Duplicate(cJSON_GetObjectItem(e, "res"), 1) : cJSON_CreateObject();
      az_set_str(res, "id", id);
      az_set_str(res, "name", r->seg[3]);
      az_set_str(res, "type", "Microsoft.Resources/resourceGroups");
      if (loc) az_set_str(res, "location", loc);
      if (cJSON_GetObjectItem(b, "tags")) az_set(res, "tags", cJSON_Duplicate(cJSON_GetObjectItem(b, "tags"), 1));
      az_set_str(az_obj(res, "properties"), "provisioningState", "Succeeded");
      bool created = !e;
      az_res_put(id, res);
      az_resp_json(p, created ? 201 : 200, cJSON_Duplicate(res, 1));
    }
    cJSON_Delete(b);
  } else if (strcmp(m, "DELETE") == 0) {
    if (!e) az_resp_error(p, 404, "ResourceGroupNotFound", "Resource group '%s' could not be found.", r->seg[3]);
    else if (az_lock_check(id, m, p)) {
    } else if (az_type_delete_guard(id, p, r->now)) {
    } else {
      az_set_str(az_obj(az_obj(e, "res"), "properties"), "provisioningState", "Deleting");
      az_resp_empty(p, 202);
      az_lro_start(r, p, "delete", id, NULL, 2);
    }
  } else {
    az_resp_error(p, 405, "MethodNotAllowed", "The requested resource does not support http method '%s'.", m);
  }
out:
  free(id);
}

static void export_template(az_req *r, az_resp *p, const char *rg_id) {
  cJSON *o = cJSON_CreateObject();
  cJSON *t = cJSON_AddObjectToObject(o, "template");
  cJSON_AddStringToObject(t, "$schema", "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#");
  cJSON_AddStringToObject(t, "contentVersion", "1.0.0.0");
  cJSON_AddObjectToObject(t, "parameters");
  cJSON *arr = cJSON_AddArrayToObject(t, "resources");
  char *l = az_lower(rg_id);
  cJSON *e;
  cJSON_ArrayForEach(e, resources()) {
    if (!is_under(e->string, l) || strcmp(e->string, l) == 0) continue;
    cJSON *res = cJSON_Duplicate(cJSON_GetObjectItem(e, "res"), 1);
    cJSON_DeleteItemFromObject(res, "id");
    cJSON_AddStringToObject(res, "apiVersion", "2023-01-01");
    cJSON_AddItemToArray(arr, res);
  }
  free(l);
  az_resp_json(p, 200, o);
}

/* ---- locks (Microsoft.Authorization/stable/2020-05-01/locks.json) ---- */
static void locks(az_req *r, az_resp *p, int k) {
  char *scope = az_build_id(r, k);
  char *lscope = az_lower(scope);
  bool scope_ok = (k == 2) ? true : az_res_get(scope) != NULL;
  if (!scope_ok) {
    az_resp_error(p, 404, "ResourceNotFound", "The scope '%s' was not found.", scope);
  } else if (r->nseg == k + 3) {
    if (strcmp(r->method, "GET") != 0) {
      az_resp_error(p, 405, "MethodNotAllowed", "The requested resource does not support http method '%s'.", r->method);
    } else {
      cJSON *items = cJSON_CreateArray();
      cJSON *e;
      cJSON_ArrayForEach(e, resources()) {
        if (az_res_is_lock(e) && is_under(az_str(e, "parent"), lscope))
          cJSON_AddItemToArray(items, cJSON_Duplicate(cJSON_GetObjectItem(e, "res"), 1));
      }
      az_page(r, p, items);
    }
  } else if (r->nseg == k + 4) {
    char *id = az_strdupf("%s/providers/Microsoft.Authorization/locks/%s", scope, r->seg[k + 3]);
    cJSON *e = az_res_get(id);
    if (strcmp(r->method, "GET") == 0) {
      if (!e) az_resp_error(p, 404, "LockNotFound", "The lock '%s' could not be found.", r->seg[k + 3]);
      else az_resp_json(p, 200, cJSON_Duplicate(cJSON_GetObjectItem(e, "res"), 1));
    } else if (strcmp(r->method, "PUT") == 0) {
      cJSON *b = parse_body(r, p);
      const char *level = b ? az_str(cJSON_GetObjectItem(b, "properties"), "level") : NULL;
      if (!b) {
      } else if (!level || (strcmp(level, "CanNotDelete") != 0 && strcmp(level, "ReadOnly") != 0)) {
        az_resp_error(p, 400, "LockLevelRequired",
                      "The lock level must be one of 'CanNotDelete' or 'ReadOnly'.");
      } else {
        cJSON *res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "id", id);
        cJSON_AddStringToObject(res, "type", "Microsoft.Authorization/locks");
        cJSON_AddStringToObject(res, "name", r->seg[k + 3]);
        cJSON *pr = cJSON_AddObjectToObject(res, "properties");
        cJSON_AddStringToObject(pr, "level", level);
        const char *notes = az_str(cJSON_GetObjectItem(b, "properties"), "notes");
        if (notes) cJSON_AddStringToObject(pr, "notes", notes);
        bool created = !e;
        cJSON *ent = az_res_put(id, res);
        az_set_str(ent, "parent", lscope);
        az_resp_json(p, created ? 201 : 200, cJSON_Duplicate(res, 1));
      }
      cJSON_Delete(b);
    } else if (strcmp(r->method, "DELETE") == 0) {
      if (!e) {
        az_resp_empty(p, 204);
      } else {
        char *l = az_lower(id);
        az_res_del(resources(), l);
        free(l);
        az_resp_empty(p, 200);
      }
    } else {
      az_resp_error(p, 405, "MethodNotAllowed", "The requested resource does not support http method '%s'.", r->method);
    }
    free(id);
  } else {
    az_resp_error(p, 404, "NotFound", "No route for '%s'.", r->path);
  }
  free(scope);
  free(lscope);
}

/* ---- generic provider resources ---- */
static char *type_of(az_req *r, int ns_at, int n_pairs_segs) {
  /* ns at seg[ns_at]; types at ns_at+1, ns_at+3, ... */
  size_t len = strlen(r->seg[ns_at]) + 1;
  for (int i = ns_at + 1; i < ns_at + 1 + n_pairs_segs; i += 2) len += strlen(r->seg[i]) + 1;
  char *t = malloc(len + 1);
  strcpy(t, r->seg[ns_at]);
  for (int i = ns_at + 1; i < ns_at + 1 + n_pairs_segs; i += 2) {
    strcat(t, "/");
    strcat(t, r->seg[i]);
  }
  return t;
}

static void resource_not_found(az_resp *p, const char *type, const char *name, const char *rg) {
  az_resp_error(p, 404, "ResourceNotFound",
                "The Resource '%s/%s' under resource group '%s' was not found. For more details "
                "please go to https://aka.ms/ARMResourceNotFoundFix",
                type, name, rg);
}

static void resource_put(az_req *r, az_resp *p, const char *id, const char *type, cJSON *e) {
  cJSON *b = parse_body(r, p);
  if (!b) return;
  if (az_lock_check(id, r->method, p)) {
    cJSON_Delete(b);
    return;
  }
  bool patch = strcmp(r->method, "PATCH") == 0;
  if (patch && !e) {
    resource_not_found(p, type, r->seg[r->nseg - 1], r->seg[3]);
    cJSON_Delete(b);
    return;
  }
  /* parent must exist for nested types */
  char *lid = az_lower(id);
  char *par = parent_of(lid);
  if (!az_res_get(par)) {
    az_resp_error(p, 404, "ParentResourceNotFound",
                  "Can not perform requested operation on nested resource. Parent resource '%s' not found.",
                  par);
    free(lid);
    free(par);
    cJSON_Delete(b);
    return;
  }
  free(lid);
  free(par);
  cJSON *res = e ? cJSON_Duplicate(cJSON_GetObjectItem(e, "res"), 1) : cJSON_CreateObject();
  az_set_str(res, "id", id);
  az_set_str(res, "name", r->seg[r->nseg - 1]);
  az_set_str(res, "type", type);
  const char *loc = az_str(b, "location");
  if (loc) az_set_str(res, "location", loc);
  else if (!az_str(res, "location") && !strchr(strchr(type, '/') + 1, '/')) {
    char *rgid = az_strdupf("/subscriptions/%s/resourceGroups/%s", r->seg[1], r->seg[3]);
    cJSON *rge = az_res_get(rgid);
    free(rgid);
    const char *rl = az_str(cJSON_GetObjectItem(rge, "res"), "location");
    if (rl) az_set_str(res, "location", rl);
  }
  static const char *copy[] = {"tags", "sku", "kind", "identity", "zones", "plan", "extendedLocation"};
  for (size_t i = 0; i < sizeof copy / sizeof *copy; i++) {
    cJSON *v = cJSON_GetObjectItem(b, copy[i]);
    if (v) az_set(res, copy[i], cJSON_Duplicate(v, 1));
  }
  cJSON *props = az_obj(res, "properties");
  cJSON *bp = cJSON_GetObjectItem(b, "properties");
  cJSON *it;
  cJSON_ArrayForEach(it, bp) az_set(props, it->string, cJSON_Duplicate(it, 1));
  az_set_str(props, "provisioningState", "Succeeded");
  int hook = az_type_put(r, p, id, type, b, res, e);
  cJSON_Delete(b);
  if (hook != 0) {
    cJSON_Delete(res);
    return;
  }
  bool created = !e;
  const char *final;
  double secs = az_lro_seconds_for(r->method, r->path, &final);
  int style = az_type_lro_style(type, r->method);
  if (style == 0 && (secs > 0 || az_g.lro_rules->child)) {
    cJSON *rule;
    cJSON_ArrayForEach(rule, az_g.lro_rules) {
      const char *m = az_str(rule, "method");
      if ((!m || strcmp(m, "*") == 0 || az_ieq(m, r->method)) && az_glob(az_str(rule, "path"), r->path))
        style = 1;
    }
  }
  if (style) az_set_str(props, "provisioningState", created ? "Creating" : "Updating");
  cJSON *ent = az_res_put(id, res);
  az_type_after_put(r, id, type, ent);
  if (style == 2) {
    az_resp_empty(p, 202);
    az_lro_start(r, p, "put", id, cJSON_CreateObject(), 2);
  } else {
    if (style == 1) az_lro_start(r, p, "put", id, cJSON_CreateObject(), 3);
    cJSON *now = cJSON_GetObjectItem(az_res_get(id), "res");
    az_resp_json(p, created ? 201 : 200, cJSON_Duplicate(now, 1));
    const char *etag = az_str(now, "etag");
    if (etag) az_resp_header(p, "ETag", "%s", etag);
  }
}

static void resource_delete(az_req *r, az_resp *p, const char *id, const char *type, cJSON *e) {
  if (!e) {
    az_resp_empty(p, 204);
    return;
  }
  if (az_lock_check(id, "DELETE", p)) return;
  if (az_type_delete_guard(id, p, r->now)) return;
  int hook = az_type_delete(r, p, id, type, e);
  if (hook != 0) return;
  const char *final;
  double secs = az_lro_seconds_for(r->method, r->path, &final);
  int style = az_type_lro_style(type, "DELETE");
  if (style == 0 && secs > 0) style = 2;
  if (style) {
    az_set_str(az_obj(az_obj(e, "res"), "properties"), "provisioningState", "Deleting");
    az_resp_empty(p, 202);
    az_lro_start(r, p, "delete", id, NULL, style == 1 ? 3 : 2);
  } else {
    char *l = az_lower(id);
    az_remove_tree(l, r->now);
    free(l);
    az_resp_empty(p, 200);
  }
}

static void provider_route(az_req *r, az_resp *p) {
  /* seg: subscriptions s resourceGroups rg providers NS t1 n1 [t2 n2 ...] [action] */
  int n = r->nseg - 6;
  if (n < 1) {
    az_resp_error(p, 404, "NotFound", "No route for '%s'.", r->path);
    return;
  }
  bool even = n % 2 == 0;
  int pair_segs = even ? n : n - 1;
  if (!even && strcmp(r->method, "GET") == 0 && pair_segs) {
    /* GET {id}/{view} (a VM's instanceView) */
    char *vid = az_build_id(r, 6 + pair_segs);
    cJSON *ve = az_res_get(vid);
    bool done = ve && az_compute_get(r, p, az_str(ve, "type"), r->seg[r->nseg - 1], ve);
    free(vid);
    if (done) return;
  }
  if (!even && strcmp(r->method, "GET") == 0) {
    /* collection: children of a type under a parent */
    char *type = type_of(r, 5, n);
    char *parent = pair_segs ? az_build_id(r, 6 + pair_segs) : az_build_id(r, 4);
    char *lparent = az_lower(parent);
    if (pair_segs && !az_res_get(parent)) {
      resource_not_found(p, type, r->seg[6 + pair_segs - 1], r->seg[3]);
    } else {
      char *lt = az_lower(type);
      cJSON *items = list_where(lt, lparent, NULL, NULL);
      az_storage_list_extra(r, lt, lparent, items);
      free(lt);
      az_page(r, p, items);
    }
    free(type);
    free(parent);
    free(lparent);
    return;
  }
  char *type = type_of(r, 5, pair_segs);
  char *id = az_build_id(r, 6 + pair_segs);
  cJSON *e = az_res_get(id);
  const char *m = r->method;
  if (!even) {
    if (strcmp(m, "POST") != 0) {
      az_resp_error(p, 405, "MethodNotAllowed", "The requested resource does not support http method '%s'.", m);
    } else if (!e && az_storage_missing_action(r, p, id, type, r->seg[r->nseg - 1])) {
    } else if (!e) {
      resource_not_found(p, type, r->seg[6 + pair_segs - 1], r->seg[3]);
    } else if (az_lock_check(id, "POST", p)) {
    } else if (!az_type_action(r, p, id, type, r->seg[r->nseg - 1], e)) {
      az_resp_error(p, 400, "InvalidAction", "The action '%s' is not supported on '%s'.", r->seg[r->nseg - 1], type);
    }
  } else if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
    if (!e) resource_not_found(p, type, r->seg[r->nseg - 1], r->seg[3]);
    else {
      cJSON *res = cJSON_GetObjectItem(e, "res");
      az_resp_json(p, 200, cJSON_Duplicate(res, 1));
      if (az_str(res, "etag")) az_resp_header(p, "ETag", "%s", az_str(res, "etag"));
    }
  } else if (strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
    resource_put(r, p, id, type, e);
  } else if (strcmp(m, "DELETE") == 0) {
    resource_delete(r, p, id, type, e);
  } else {
    az_resp_error(p, 405, "MethodNotAllowed", "The requested resource does not support http method '%s'.", m);
  }
  free(type);
  free(id);
}

void az_arm_route(az_req *r, az_resp *p) {
  if (!az_auth_check(r, p, "arm")) return;
  if (!az_query(r, "api-version")) {
    az_resp_error(p, 400, "MissingApiVersionParameter",
                  "The api-version query parameter (?api-version=) is required for all requests.");
    return;
  }
  if (strcasecmp(r->seg[0], "tenants") == 0 && r->nseg == 1) {
    cJSON *items = cJSON_CreateArray();
    cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(az_obj(az_g.st, "identity"), "tenants")) {
      cJSON *o = cJSON_CreateObject();
      char *id = az_strdupf("/tenants/%s", t->valuestring);
      cJSON_AddStringToObject(o, "id", id);
      free(id);
      cJSON_AddStringToObject(o, "tenantId", t->valuestring);
      cJSON_AddItemToArray(items, o);
    }
    az_page(r, p, items);
    return;
  }
  if (strcasecmp(r->seg[0], "subscriptions") != 0) {
    az_resp_error(p, 404, "NoRegisteredProviderFound", "No registered resource provider found for '%s'.", r->path);
    return;
  }
  if (r->nseg == 1) {
    if (strcmp(r->method, "GET") != 0) {
      az_resp_error(p, 405, "MethodNotAllowed", "The requested resource does not support http method '%s'.", r->method);
      return;
    }
    cJSON *items = cJSON_CreateArray();
    cJSON *s;
    cJSON_ArrayForEach(s, az_obj(az_g.st, "subscriptions")) cJSON_AddItemToArray(items, sub_json(s));
    az_page(r, p, items);
    return;
  }
  cJSON *sub = az_sub_get(r->seg[1]);
  if (!sub) {
    az_resp_error(p, 404, "SubscriptionNotFound", "The subscription '%s' could not be found.", r->seg[1]);
    return;
  }
  if (r->nseg == 2) {
    if (strcmp(r->method, "GET") == 0) az_resp_json(p, 200, sub_json(sub));
    else az_resp_error(p, 405, "MethodNotAllowed", "The requested resource does not support http method '%s'.", r->method);
    return;
  }
  if (r->nseg == 4 && strcasecmp(r->seg[2], "operationresults") == 0) {
    op_status(r, p, r->seg[3], true);
    return;
  }
  if (r->nseg == 6 && strcasecmp(r->seg[2], "providers") == 0 &&
      strcasecmp(r->seg[3], "Microsoft.Resources") == 0 && strcasecmp(r->seg[4], "asyncoperations") == 0) {
    op_status(r, p, r->seg[5], false);
    return;
  }
  for (int k = 2; k + 2 < r->nseg; k++) {
    if (strcasecmp(r->seg[k], "providers") == 0 && strcasecmp(r->seg[k + 1], "Microsoft.Authorization") == 0 &&
        strcasecmp(r->seg[k + 2], "locks") == 0) {
      locks(r, p, k);
      return;
    }
  }
  if (az_type_sub_route(r, p)) return;
  if (r->nseg == 3 && strcasecmp(r->seg[2], "resources") == 0) {
    char *l = az_lower(r->seg[1]);
    az_page(r, p, list_where(NULL, NULL, l, NULL));
    free(l);
    return;
  }
  if (r->nseg == 5 && strcasecmp(r->seg[2], "providers") == 0 && strcmp(r->method, "GET") == 0) {
    char *t = az_strdupf("%s/%s", r->seg[3], r->seg[4]);
    char *lt = az_lower(t), *ls = az_lower(r->seg[1]);
    az_page(r, p, list_where(lt, NULL, ls, NULL));
    free(t);
    free(lt);
    free(ls);
    return;
  }
  if (strcasecmp(r->seg[2], "resourcegroups") != 0) {
    az_resp_error(p, 404, "NotFound", "No route for '%s'.", r->path);
    return;
  }
  if (r->nseg == 3) {
    if (strcmp(r->method, "GET") != 0) {
      az_resp_error(p, 405, "MethodNotAllowed", "The requested resource does not support http method '%s'.", r->method);
      return;
    }
    char *ls = az_lower(r->seg[1]);
    az_page(r, p, list_where("microsoft.resources/resourcegroups", NULL, ls, NULL));
    free(ls);
    return;
  }
  if (r->nseg == 4) {
    resource_group(r, p);
    return;
  }
  char *rgid = az_strdupf("/subscriptions/%s/resourceGroups/%s", r->seg[1], r->seg[3]);
  cJSON *rge = az_res_get(rgid);
  if (!rge) {
    az_resp_error(p, 404, "ResourceGroupNotFound", "Resource group '%s' could not be found.", r->seg[3]);
  } else if (r->nseg == 5 && strcasecmp(r->seg[4], "resources") == 0) {
    char *ls = az_lower(r->seg[1]), *lr = az_lower(r->seg[3]);
    az_page(r, p, list_where(NULL, NULL, ls, lr));
    free(ls);
    free(lr);
  } else if (r->nseg == 5 && strcasecmp(r->seg[4], "exportTemplate") == 0 && strcmp(r->method, "POST") == 0) {
    export_template(r, p, rgid);
  } else if (r->nseg >= 7 && strcasecmp(r->seg[4], "providers") == 0) {
    provider_route(r, p);
  } else {
    az_resp_error(p, 404, "NotFound", "No route for '%s'.", r->path);
  }
  free(rgid);
}
