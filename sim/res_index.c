/* Hash indexes over the estate's two big keyed objects: st.resources
 * (lower-case id -> entry) and st.operations (operation id -> operation).
 * Looking them up by key is what azsim does most, and walks of 1,000
 * entries whose keys share 100-byte prefixes took a third of its CPU under
 * 1,000 concurrent operations (bench/run.sh lro). Entries are added only by
 * az_res_put / az_lro_start and removed only through az_res_del (operations
 * are never removed); a state the control API replaces is noticed by
 * az_g.state_gen (and the object's address) and the index is rebuilt. */
#include "azsim.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct az_index {
  cJSON **slot;
  size_t cap, used; /* used counts tombstones too */
  const cJSON *obj;
  unsigned long gen;
} az_index;

static az_index g_res, g_ops;
/* Lock entries in g_res.obj, by key: a write checks locks only when there
 * are some (a walk of every resource per write took 14% of azsim's CPU
 * under bench/run.sh lro, which creates no lock). */
static size_t g_n_locks;
static cJSON g_tombstone;
#define TOMBSTONE (&g_tombstone)

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static void put_slot(az_index *ix, cJSON *e) {
  size_t j = hash(e->string) & (ix->cap - 1);
  while (ix->slot[j] && ix->slot[j] != TOMBSTONE) j = (j + 1) & (ix->cap - 1);
  if (!ix->slot[j]) ix->used++;
  ix->slot[j] = e;
}

static int is_lock_key(const char *id) {
  return id && strcasestr(id, "/providers/microsoft.authorization/locks/") != NULL;
}

/* A state the control API loaded may hold a lock under an odd key: then
 * every write walks (az_res_any_lock answers 1 until the next rebuild). */
static int g_odd_locks;

int az_res_is_lock(const cJSON *entry) {
  return az_ieq(az_str(entry, "type"), "microsoft.authorization/locks");
}

static size_t count(const cJSON *obj) {
  size_t n = 0;
  for (const cJSON *e = obj ? obj->child : NULL; e; e = e->next) n++;
  return n;
}

static void rebuild(az_index *ix, cJSON *obj) {
  size_t cap = 1024, want = count(obj);
  while (cap < want * 2 + 2) cap *= 2;
  free(ix->slot);
  ix->slot = calloc(cap, sizeof *ix->slot);
  ix->cap = ix->slot ? cap : 0;
  ix->used = 0;
  ix->obj = obj;
  ix->gen = az_g.state_gen;
  cJSON *e;
  if (ix == &g_res) g_n_locks = 0, g_odd_locks = 0;
  if (ix->slot)
    cJSON_ArrayForEach(e, obj) if (e->string) {
      put_slot(ix, e);
      if (ix != &g_res) continue;
      if (is_lock_key(e->string)) g_n_locks++;
      else if (az_res_is_lock(e)) g_odd_locks = 1;
    }
}

/* The index of obj, current (rebuilt when the state was replaced). */
static int ready(az_index *ix, cJSON *obj) {
  if (ix->obj != obj || ix->gen != az_g.state_gen || !ix->slot) rebuild(ix, obj);
  return ix->slot != NULL;
}

static size_t find(const az_index *ix, const char *key) {
  size_t j = hash(key) & (ix->cap - 1);
  while (ix->slot[j]) {
    if (ix->slot[j] != TOMBSTONE && strcmp(ix->slot[j]->string, key) == 0) return j;
    j = (j + 1) & (ix->cap - 1);
  }
  return SIZE_MAX;
}

static cJSON *index_get(az_index *ix, cJSON *obj, const char *key) {
  if (!key) return NULL;
  if (!ready(ix, obj)) return cJSON_GetObjectItemCaseSensitive(obj, key);
  size_t j = find(ix, key);
  return j == SIZE_MAX ? NULL : ix->slot[j];
}

/* entry has just been added to obj. */
static void index_add(az_index *ix, cJSON *obj, cJSON *entry) {
  if (!ready(ix, obj)) return;
  if ((ix->used + 1) * 2 > ix->cap) {
    rebuild(ix, obj); /* entry is in obj already: indexed and counted here */
    return;
  }
  put_slot(ix, entry);
  if (ix == &g_res && is_lock_key(entry->string)) g_n_locks++;
}

cJSON *az_res_index_get(cJSON *obj, const char *lower_id) { return index_get(&g_res, obj, lower_id); }
void az_res_index_add(cJSON *obj, cJSON *entry) { index_add(&g_res, obj, entry); }
cJSON *az_op_index_get(cJSON *obj, const char *opid) { return index_get(&g_ops, obj, opid); }
void az_op_index_add(cJSON *obj, cJSON *op) { index_add(&g_ops, obj, op); }

void az_res_del(cJSON *obj, const char *lower_id) {
  if (ready(&g_res, obj)) {
    size_t j = find(&g_res, lower_id);
    if (j != SIZE_MAX) {
      g_res.slot[j] = TOMBSTONE;
      if (is_lock_key(lower_id) && g_n_locks) g_n_locks--;
    }
  }
  cJSON_DeleteItemFromObjectCaseSensitive(obj, lower_id);
}

int az_res_any_lock(cJSON *obj) { return !ready(&g_res, obj) || g_n_locks > 0 || g_odd_locks; }

void az_res_index_free(void) {
  free(g_res.slot);
  free(g_ops.slot);
  memset(&g_res, 0, sizeof g_res);
  memset(&g_ops, 0, sizeof g_ops);
  g_n_locks = 0;
  g_odd_locks = 0;
}
