/* azsim: a simulated Azure estate on loopback.
 *
 * One process serves the Azure endpoints (TLS) and a control API (plain HTTP
 * on loopback). All mutable estate state lives in one cJSON tree (az_g.st) so
 * that snapshot/restore and inventory are whole-tree operations; every request
 * handler runs with az_g.mu held, so handlers never race each other.
 */
#ifndef AZSIM_H
#define AZSIM_H

#include <stddef.h>
#include <stdbool.h>
#include <pthread.h>
#include <cjson/cJSON.h>

struct MHD_Connection;

#define AZ_MAX_HDR 24
#define AZ_MAX_SEG 32

typedef struct az_hdr {
  char *name;
  char *value;
} az_hdr;

/* A request as handlers see it. Everything is borrowed from the server for
 * the duration of the call. */
typedef struct az_req {
  struct MHD_Connection *conn;
  const char *method;
  const char *path;      /* decoded path, no query */
  const char *host;      /* Host header ("" when absent) */
  const char *body;      /* NUL-terminated copy of the body */
  size_t body_len;
  char *seg[AZ_MAX_SEG]; /* path segments (owned by the server) */
  int nseg;
  const char *base;      /* "https://host:port" as the client addressed us */
  double now;            /* virtual clock, seconds since the epoch */
  bool internal;         /* made by azsim itself (estate seeding, attacker): no auth */
  cJSON *iq, *ih;        /* query and headers of an internal request */
} az_req;

/* A response under construction. body is malloc'ed and owned by the
 * response; headers are strdup'ed. */
typedef struct az_resp {
  int status;
  char *body;
  size_t len;
  char ctype[64];
  az_hdr hdr[AZ_MAX_HDR];
  int nhdr;
  bool reset; /* close the connection without any response */
} az_resp;

/* Process-wide state. */
typedef struct az_global {
  pthread_mutex_t mu;
  cJSON *st;          /* the estate (snapshotted) */
  cJSON *tokens;      /* issued tokens: token -> {aud, exp, sub} (not snapshotted) */
  cJSON *faults;      /* array of fault rules */
  cJSON *lro_rules;   /* array of LRO overrides */
  cJSON *counters;    /* "METHOD path" -> count */
  cJSON *snapshots;   /* name -> state copy */
  double clock_offset;
  int page_size;
  int token_lifetime;
  double lro_seconds;
  int lro_retry_after;
  unsigned long fault_seq;
  unsigned long req_seq;
  bool tls;
  int port;
  int control_port;
  char kv_suffix[64]; /* "vault.localhost": vault NAME answers on NAME.<suffix> */
  char tls_dir[512];
  char data_dir[512];  /* on-disk state (git repositories); a temp dir unless --data-dir */
  bool data_dir_tmp;   /* created by azsim: removed at shutdown */
  void *signing_key;  /* EVP_PKEY*: signs federated test tokens */
  char issuer[128];   /* issuer of azsim-minted federated tokens */
  const char *removing; /* lower-case id whose subtree az_remove_tree is deleting */
  unsigned long state_gen; /* bumped whenever st is replaced (indexes rebuild) */
  volatile int stop;
} az_global;

extern az_global az_g;

/* ---- util.c ---- */
double az_realtime(void);
double az_now(void);
void az_iso8601(double t, char *out, size_t n);
void az_rfc1123(double t, char *out, size_t n);
void az_uuid(char *out); /* 37 bytes */
void az_rand_token(char *out, size_t nbytes); /* out gets 2*nbytes+1 hex chars */
char *az_b64url_encode(const unsigned char *data, size_t len);       /* malloc */
unsigned char *az_b64url_decode(const char *s, size_t *outlen);      /* malloc, NULL on error */
char *az_b64_encode(const unsigned char *data, size_t len);          /* malloc */
unsigned char *az_b64_decode(const char *s, size_t *outlen);         /* malloc */
void az_sha256_hex(const void *data, size_t len, char out[65]);
bool az_glob(const char *pattern, const char *s);
bool az_ieq(const char *a, const char *b);
char *az_lower(const char *s); /* malloc */
char *az_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

const char *az_query(const az_req *r, const char *key);
const char *az_header(const az_req *r, const char *name);

void az_resp_header(az_resp *p, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void az_resp_json(az_resp *p, int status, cJSON *json); /* takes json */
void az_resp_text(az_resp *p, int status, const char *ctype, const char *body, size_t len);
void az_resp_error(az_resp *p, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void az_resp_empty(az_resp *p, int status);

cJSON *az_obj(cJSON *parent, const char *key); /* get or create child object */
const char *az_str(const cJSON *o, const char *key); /* NULL when absent */
double az_num(const cJSON *o, const char *key, double dflt);
bool az_bool(const cJSON *o, const char *key, bool dflt);
void az_set_str(cJSON *o, const char *key, const char *v);
void az_set_num(cJSON *o, const char *key, double v);
void az_set_bool(cJSON *o, const char *key, bool v);
void az_set(cJSON *o, const char *key, cJSON *v); /* replace or add, takes v */
cJSON *az_strip_private(const cJSON *o); /* deep copy without "_"-prefixed keys */

/* ---- yaml.c ---- */
cJSON *az_load_file(const char *path, char *err, size_t errlen); /* YAML or JSON */

/* ---- tls.c ---- */
int az_tls_setup(const char *dir, char **cert_pem, char **key_pem, char *err, size_t errlen);
/* A self-signed certificate for Key Vault: base64 DER and base64url SHA-1 thumbprint (malloc). */
int az_cert_selfsigned(const char *cn, char **cer_b64, char **x5t_b64url);

/* ---- auth.c ---- */
int az_auth_init(char *err, size_t errlen);
bool az_auth_route(az_req *r, az_resp *p);
/* Checks the bearer token for an audience class ("arm", "vault", "storage").
 * Returns true when valid; otherwise fills p with a 401 (vault: challenge). */
bool az_auth_check(az_req *r, az_resp *p, const char *aud_class);
char *az_mint_federated(const char *issuer, const char *subject, const char *audience,
                        int lifetime); /* malloc */

/* ---- faults.c / control.c ---- */
/* Returns 0 to proceed, 1 when p is filled (fault response or reset). Sleeps
 * (without the lock) for latency faults. */
int az_fault_apply(const char *method, const char *path, az_resp *p, int *latency_ms);
void az_count(const char *method, const char *path);
double az_lro_seconds_for(const char *method, const char *path, const char **final_status);
void az_control(az_req *r, az_resp *p);

/* ---- arm.c ---- */
void az_arm_route(az_req *r, az_resp *p);
void az_tick(double now); /* finish due LROs, purge expired soft-deleted items */
cJSON *az_res_get(const char *id);  /* entry {res, type, parent, rg, sub, ...} or NULL */
cJSON *az_res_put(const char *id, cJSON *res); /* takes res; returns entry */
/* res_index.c: lookups in st.resources by lower-case id. Every removal of a
 * resource entry goes through az_res_del. */
cJSON *az_res_index_get(cJSON *resources, const char *lower_id);
void az_res_index_add(cJSON *resources, cJSON *entry);
void az_res_del(cJSON *resources, const char *lower_id);
/* 0 only when resources holds no management lock (known from the index). */
int az_res_any_lock(cJSON *resources);
/* 1 when a resource entry is a management lock (by its type). */
int az_res_is_lock(const cJSON *entry);
cJSON *az_op_index_get(cJSON *operations, const char *opid); /* st.operations */
void az_op_index_add(cJSON *operations, cJSON *op);
void az_res_index_free(void);
/* Enforcement shared by the ARM handlers and the attacker. Returns NULL when
 * allowed, else fills p and returns the error code. */
const char *az_lock_check(const char *id, const char *method, az_resp *p);
cJSON *az_sub_get(const char *sub);

/* ---- arm_types.c ---- */
/* Per-type PUT hook, called with the generic resource res already built from
 * body. Returns 0 to store res, 1 when the hook answered fully, -1 when it
 * filled p with an error. */
int az_type_put(az_req *r, az_resp *p, const char *id, const char *type, const cJSON *body,
                cJSON *res, cJSON *existing);
void az_type_after_put(az_req *r, const char *id, const char *type, cJSON *entry);
/* DELETE hook: 0 to continue with the generic delete, 1 answered, -1 error. */
int az_type_delete(az_req *r, az_resp *p, const char *id, const char *type, cJSON *entry);
/* POST {id}/{action}: true when handled (answer or error in p). */
bool az_type_action(az_req *r, az_resp *p, const char *id, const char *type, const char *action,
                    cJSON *entry);
bool az_type_sub_route(az_req *r, az_resp *p); /* /subscriptions/{s}/providers/... specials */
void az_type_finish_delete(cJSON *entry, double now); /* side effects of removal */
void az_type_tick(double now);
/* Default LRO style for a method on a type: 0 synchronous, 1 Azure-AsyncOperation
 * (PUT 200/201 with body), 2 Location (202 without body). */
int az_type_lro_style(const char *type, const char *method);
/* Protection that stops deleting a whole storage account or resource group
 * (locked immutability with unexpired blobs). NULL or error code; fills p. */
const char *az_type_delete_guard(const char *id, az_resp *p, double now);

/* ---- arm.c LRO and paging helpers ---- */
/* Starts an operation on target id; kind is "put", "delete" or "action";
 * result (taken) is what a Location poll returns on success. Adds the
 * Azure-AsyncOperation and/or Location headers; style as az_type_lro_style. */
cJSON *az_lro_start(az_req *r, az_resp *p, const char *kind, const char *id, cJSON *result,
                    int style);
void az_page(az_req *r, az_resp *p, cJSON *items);
void az_remove_tree(const char *lower_id, double now);
char *az_build_id(az_req *r, int upto); /* "/" + seg[0..upto-1] joined; malloc */

/* ---- kv.c ---- */
bool az_kv_host(const az_req *r, char *vault, size_t n);
void az_kv_route(az_req *r, az_resp *p, const char *vault);
cJSON *az_kv_store(const char *vault, bool create);
void az_kv_tick(double now);
void az_kv_seed(const char *vault, const cJSON *spec);

/* ---- blob.c ---- */
bool az_blob_route(az_req *r, az_resp *p);
/* Storage data-plane error: XML <Error><Code/><Message/> plus x-ms-error-code. */
void az_blob_error(az_resp *p, int status, const char *code, const char *msg);
cJSON *az_blob_container(const char *account, const char *container, bool create);
const char *az_blob_immutable(const char *account, const char *container, const cJSON *blob,
                              double now); /* NULL or error code */
void az_blob_seed(const char *account, const char *container, const cJSON *spec);
void az_blob_tick(double now);

/* ---- files.c: Azure Files data plane ---- */
bool az_files_route(az_req *r, az_resp *p);
cJSON *az_files_share(const char *account, const char *share, bool create);
void az_files_drop(const char *account, const char *share);
void az_files_drop_account(const char *account);
int az_files_snapshot(const char *account, const char *share, double now, char *ts, size_t n);
int az_files_snapshot_count(const char *account, const char *share);
bool az_files_snapshot_delete(const char *account, const char *share, const char *ts);
void az_files_seed(const char *account, const char *share, const cJSON *files);
void az_files_inventory(cJSON *items);

/* ---- disks (arm_compute.c) ---- */
bool az_disk_sas_route(az_req *r, az_resp *p);
/* Content descriptor behind a beginGetAccess grant, NULL when the grant or
 * signature is not valid. */
cJSON *az_disk_sas_content(const char *grant, const char *sig);

/* ---- disk_store.c: disk contents outside the state ---- */
/* Bytes [off, off+len) of a content descriptor into out (zeros past the end). */
void az_disk_bytes(const cJSON *content, size_t off, size_t len, unsigned char *out);
size_t az_disk_size(const cJSON *content);
char *az_disk_checksum(const cJSON *content); /* malloc'ed hex SHA-256, cached */
cJSON *az_disk_content_seeded(const char *seed, size_t size); /* caller owns */
/* A new store blob of size bytes (zeros, then data); writable until frozen.
 * Caller owns the descriptor; NULL when the store cannot create it. */
cJSON *az_disk_content_blob(size_t size, const unsigned char *data, size_t len, bool writable);
const char *az_dstore_create(size_t size); /* id owned by the store */
bool az_dstore_exists(const char *id);
bool az_dstore_frozen(const char *id);
void az_dstore_freeze(const char *id);
/* Writes len bytes (zeros when data is NULL); -1 when frozen, unknown or out of range. */
int az_dstore_write(const char *id, size_t off, const void *data, size_t len);
void az_dstore_cleanup(void); /* at exit */

/* ---- sql.c ---- */
void az_sql_seed(cJSON *entry, const cJSON *tables, double now);
/* Resolves createMode (PointInTimeRestore, Restore, Copy): 0 and *tables
 * (a copy, or NULL) when fine, -1 with p filled. */
int az_sql_prepare(az_req *r, az_resp *p, const cJSON *props, cJSON **tables);
void az_sql_after_put(cJSON *entry, cJSON *tables, double now); /* takes tables */
void az_sql_dropped(cJSON *entry, double now);
int az_sql_encrypt(double now);
char *az_sql_table_sum(const cJSON *table); /* malloc'ed hex */

/* ---- estate.c ---- */
int az_estate_load(const cJSON *estate, char *err, size_t errlen);
cJSON *az_inventory(void); /* caller frees */

/* ---- attack.c ---- */
cJSON *az_ransomware(void); /* encrypt disk contents and SQL tables only; {disks, sql_tables} */
cJSON *az_attack(const char *role); /* "Owner" (default) or "Contributor"; report; caller frees; call with az_g.mu held */

/* ---- internal.c: requests azsim makes to its own handlers ---- */
/* Runs method on url ("/path?query", no decoding) as if a client with Owner
 * rights had sent it, under the lock the caller holds. host selects Key Vault
 * hosts (NULL for 127.0.0.1). Returns the status; *json (may be NULL) gets
 * the parsed body, caller frees. hdrs: object of extra headers (borrowed). */
int az_call(const char *method, const char *host, const char *url, cJSON *hdrs, const char *body,
            size_t body_len, cJSON **json);

/* ---- devops.c: Azure DevOps projects and git repositories ---- */
/* Runs argv (no shell) with envp, stdin from in, stdout into *out (malloc).
 * Exit status, or -1 (spawn failure, more than outmax bytes, timeout). */
int az_run(char *const argv[], char *const envp[], const char *in, size_t inlen, char **out,
           size_t *outlen, size_t outmax, int timeout_ms);
const char *az_data_dir(void); /* creates a temp dir on first use; NULL on failure */
void az_data_dir_cleanup(void);
int az_devops_seed(const cJSON *spec, char *err, size_t errlen);
bool az_devops_route(az_req *r, az_resp *p);
void az_devops_tick(double now);
void az_devops_inventory(cJSON *items);
void az_devops_state_restored(void); /* refs on disk := refs in the state */
/* A git smart-HTTP request, prepared under the lock and run without it. */
typedef struct az_git_cgi {
  char repo_id[48];
  char user[128];
  char path_info[256];
  char query[64];
  bool push;
  char *refs;     /* after a push: the new refs (malloc) */
  long long size;
} az_git_cgi;
/* 0: not a git request; 1: answered in p (error); 2: run az_devops_git_run. */
int az_devops_git_prepare(az_req *r, az_resp *p, az_git_cgi *g);
void az_devops_git_run(az_req *r, az_resp *p, az_git_cgi *g); /* without the lock */
void az_devops_git_done(az_git_cgi *g);                        /* with the lock */

/* ---- server.c ---- */
void az_dispatch(az_req *r, az_resp *p);
int az_serve(const char *estate_path, int port, int control_port, const char *ready_file,
             const char *tls_dir, bool tls, const char *data_dir);

#endif
