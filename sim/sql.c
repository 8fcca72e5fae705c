/* Azure SQL databases as far as backup and restore drills need them
 * (Microsoft.Sql/stable/2021-11-01 databases.json, restorableDroppedDatabases):
 *
 *  - a database's data is a set of tables with deterministic rows
 *    (entry.sql.tables: {name: {rows, seed}}); every change appends a copy
 *    to entry.sql.history with its time, which is what point-in-time restore
 *    reads;
 *  - createMode PointInTimeRestore (sourceDatabaseId + restorePointInTime
 *    within the retention window), Copy, and Restore of a dropped database
 *    (sourceDatabaseId = .../restorableDroppedDatabases/{name},{ticks});
 *  - deleting a database leaves a restorableDroppedDatabases child of the
 *    server until the server goes;
 *  - the inventory exports one checksum per table (row count + SHA-256).
 */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T_DB "microsoft.sql/servers/databases"
#define T_DROPPED "microsoft.sql/servers/restorabledroppeddatabases"
#define RETENTION_DAYS 7

static double parse_iso(const char *s) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  if (!end) return -1;
  return (double)timegm(&tm);
}

/* Tables as of time t (the last history entry at or before t). */
static cJSON *tables_at(cJSON *sql, double t) {
  cJSON *best = NULL, *h;
  cJSON_ArrayForEach(h, cJSON_GetObjectItem(sql, "history")) {
    if (az_num(h, "t", 0) <= t) best = cJSON_GetObjectItem(h, "tables");
  }
  return best;
}

static void record(cJSON *sql, double now) {
  cJSON *hist = cJSON_GetObjectItem(sql, "history");
  if (!cJSON_IsArray(hist)) {
    hist = cJSON_CreateArray();
    az_set(sql, "history", hist);
  }
  cJSON *h = cJSON_CreateObject();
  cJSON_AddNumberToObject(h, "t", now);
  cJSON_AddItemToObject(h, "tables", cJSON_Duplicate(cJSON_GetObjectItem(sql, "tables"), 1));
  cJSON_AddItemToArray(hist, h);
}

void az_sql_seed(cJSON *entry, const cJSON *tables, double now) {
  cJSON *sql = az_obj(entry, "sql");
  cJSON *t = cJSON_CreateObject();
  const cJSON *it;
  cJSON_ArrayForEach(it, tables) {
    const char *name = az_str(it, "name");
    if (!name) continue;
    cJSON *o = cJSON_CreateObject();
    double rows = az_num(it, "rows", 100);
    cJSON_AddNumberToObject(o, "rows", rows >= 0 && rows <= 1e6 ? rows : 100);
    char *seed = az_strdupf("%s/%s", az_str(cJSON_GetObjectItem(entry, "res"), "id"), name);
    cJSON_AddStringToObject(o, "seed", az_str(it, "seed") ? az_str(it, "seed") : seed);
    free(seed);
    cJSON_AddItemToObject(t, name, o);
  }
  az_set(sql, "tables", t);
  cJSON_DeleteItemFromObject(sql, "history");
  record(sql, now - 1); /* the seeded state predates anything a client does */
}

/* Checks and resolves a createMode before the database is stored. Returns
 * 0 when fine (and *tables gets a copy to use, or NULL for an empty
 * database), -1 with p filled otherwise. */
int az_sql_prepare(az_req *r, az_resp *p, const cJSON *props, cJSON **tables) {
  *tables = NULL;
  const char *mode = az_str(props, "createMode");
  if (!mode || az_ieq(mode, "Default")) return 0;
  const char *src = az_str(props, "sourceDatabaseId");
  if (!src) src = az_str(props, "restorableDroppedDatabaseId");
  if (!src) {
    az_resp_error(p, 400, "InvalidParameterValue", "createMode %s needs sourceDatabaseId.", mode);
    return -1;
  }
  cJSON *se = az_res_get(src);
  if (!se || !cJSON_GetObjectItem(se, "sql")) {
    az_resp_error(p, 404, "SourceDatabaseNotFound", "The source database '%s' does not exist.", src);
    return -1;
  }
  cJSON *sql = cJSON_GetObjectItem(se, "sql");
  bool dropped = az_ieq(az_str(se, "type"), T_DROPPED);
  if (az_ieq(mode, "PointInTimeRestore") || az_ieq(mode, "Restore")) {
    if (az_ieq(mode, "PointInTimeRestore") && dropped) {
      az_resp_error(p, 400, "InvalidParameterValue", "PointInTimeRestore needs a live source database; use Restore for a dropped one.");
      return -1;
    }
    if (az_ieq(mode, "Restore") && !dropped) {
      az_resp_error(p, 400, "InvalidParameterValue", "createMode Restore needs a restorableDroppedDatabases id.");
      return -1;
    }
    const char *pit = az_str(props, "restorePointInTime");
    double t = pit ? parse_iso(pit) : (dropped ? az_num(se, "dropped_at", r->now) : -1);
    double earliest = az_num(se, "created", 0);
    double window = r->now - RETENTION_DAYS * 86400.0;
    double latest = dropped ? az_num(se, "dropped_at", r->now) : r->now;
    if (t < 0 || t > latest + 1 || t < window || t < earliest - 1) {
      az_resp_error(p, 400, "InvalidParameterValue",
                    "restorePointInTime must lie between the earliest restore point and %s, within %d days.",
                    dropped ? "the deletion time" : "now", RETENTION_DAYS);
      return -1;
    }
    cJSON *tb = tables_at(sql, t);
    *tables = tb ? cJSON_Duplicate(tb, 1) : cJSON_CreateObject();
    return 0;
  }
  if (az_ieq(mode, "Copy") && !dropped) {
    *tables = cJSON_Duplicate(cJSON_GetObjectItem(sql, "tables"), 1);
    return 0;
  }
  az_resp_error(p, 400, "InvalidParameterValue", "createMode '%s' is not supported by azsim.", mode);
  return -1;
}

void az_sql_after_put(cJSON *entry, cJSON *tables, double now) {
  cJSON *sql = az_obj(entry, "sql");
  if (tables) {
    az_set(sql, "tables", tables);
    cJSON_DeleteItemFromObject(sql, "history");
    record(sql, now);
  } else if (!cJSON_GetObjectItem(sql, "tables")) {
    az_set(sql, "tables", cJSON_CreateObject());
    record(sql, now);
  }
}

/* A dropped database becomes a restorableDroppedDatabases child of its server. */
void az_sql_dropped(cJSON *entry, double now) {
  cJSON *res = cJSON_GetObjectItem(entry, "res");
  const char *id = az_str(res, "id");
  const char *cut = id ? strstr(id, "/databases/") : NULL;
  if (!cut) cut = id ? strstr(id, "/Databases/") : NULL;
  if (!cut) return;
  char *server = strndup(id, (size_t)(cut - id));
  char *lserver = az_lower(server);
  bool going = az_g.removing && strncmp(lserver, az_g.removing, strlen(az_g.removing)) == 0;
  free(lserver);
  if (going) { /* the whole server goes: its dropped databases go with it */
    free(server);
    return;
  }
  /* .NET ticks of the deletion time, as Azure names them */
  long long ticks = (long long)(now * 1e7) + 621355968000000000LL;
  char *did = az_strdupf("%s/restorableDroppedDatabases/%s,%lld", server, az_str(res, "name"), ticks);
  free(server);
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "id", did);
  char *name = az_strdupf("%s,%lld", az_str(res, "name"), ticks);
  cJSON_AddStringToObject(d, "name", name);
  free(name);
  cJSON_AddStringToObject(d, "type", "Microsoft.Sql/servers/restorableDroppedDatabases");
  if (az_str(res, "location")) cJSON_AddStringToObject(d, "location", az_str(res, "location"));
  cJSON *pp = cJSON_AddObjectToObject(d, "properties");
  cJSON_AddStringToObject(pp, "databaseName", az_str(res, "name"));
  char ts[64];
  az_iso8601(az_num(entry, "created", now), ts, sizeof ts);
  cJSON_AddStringToObject(pp, "creationDate", ts);
  cJSON_AddStringToObject(pp, "earliestRestoreDate", ts);
  az_iso8601(now, ts, sizeof ts);
  cJSON_AddStringToObject(pp, "deletionDate", ts);
  cJSON *de = az_res_put(did, d);
  az_set_num(de, "created", az_num(entry, "created", now));
  az_set_num(de, "dropped_at", now);
  az_set(de, "sql", cJSON_Duplicate(cJSON_GetObjectItem(entry, "sql"), 1));
  free(did);
}

/* The attacker's ransomware: rewrite every row of every table. */
int az_sql_encrypt(double now) {
  int n = 0;
  cJSON *e;
  cJSON_ArrayForEach(e, az_obj(az_g.st, "resources")) {
    if (!az_ieq(az_str(e, "type"), T_DB)) continue;
    cJSON *sql = cJSON_GetObjectItem(e, "sql");
    cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(sql, "tables")) {
      char *s = az_strdupf("encrypted:%s", az_str(t, "seed") ? az_str(t, "seed") : "");
      az_set_str(t, "seed", s);
      free(s);
      n++;
    }
    if (sql) record(sql, now);
  }
  return n;
}

/* Row checksum of a table: SHA-256 over its rows "seed:i\n". */
char *az_sql_table_sum(const cJSON *table) {
  long rows = (long)az_num(table, "rows", 0);
  const char *seed = az_str(table, "seed");
  size_t cap = 64, len = 0;
  char *buf = malloc(cap);
  for (long i = 0; i < rows; i++) {
    char line[600];
    int n = snprintf(line, sizeof line, "%s:%ld\n", seed ? seed : "", i);
    if (n < 0) continue;
    while (len + (size_t)n + 1 > cap) cap *= 2;
    buf = realloc(buf, cap);
    memcpy(buf + len, line, (size_t)n);
    len += (size_t)n;
  }
  char hex[65];
  az_sha256_hex(buf, len, hex);
  free(buf);
  return strdup(hex);
}
