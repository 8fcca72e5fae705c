/* rebound plugin SDK: the table of host routines a plugin calls.
 *
 * As in SQLite's loadable extensions, a plugin reaches the host only through
 * the rb_host_api pointer it receives in rb_plugin_init(); it never links
 * against the runner. The table begins with {abi_major, abi_minor,
 * struct_size} and only ever grows at the end. Before using a routine added
 * in a later minor, check RB_HOST_HAS(host, field).
 *
 * Thread safety: actions may run concurrently on worker threads. Every
 * routine here is safe to call from any thread with the rb_ctx of the call in
 * progress. */
#ifndef REBOUND_HOST_H
#define REBOUND_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "plugin.h"
#include "status.h"
#include "value.h"

#if defined(__GNUC__)
#define RB_PRINTF(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define RB_PRINTF(fmt, first)
#endif

typedef enum rb_log_level {
    RB_LOG_DEBUG = 0,
    RB_LOG_INFO = 1,
    RB_LOG_WARN = 2,
    RB_LOG_ERROR = 3
} rb_log_level;

/* Called with bytes done and total (0 if unknown). Return non-zero to cancel. */
typedef int (*rb_progress_fn)(rb_ctx *ctx, uint64_t done, uint64_t total);

struct rb_host_api {
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t struct_size;

    /* --- memory and strings (ABI 1.0) ----------------------------------- */
    /* Allocations the host may free (error messages); free with host->mem_free. */
    void *(*mem_alloc)(size_t size);
    void (*mem_free)(void *ptr);
    char *(*str_dup)(const char *s);
    char *(*str_format)(const char *fmt, ...) RB_PRINTF(1, 2);

    /* --- values (ABI 1.0) ------------------------------------------------ */
    /* Constructors return a new value (NULL only when out of memory). */
    rb_value *(*value_null)(void);
    rb_value *(*value_bool)(int b);
    rb_value *(*value_int)(int64_t i);
    rb_value *(*value_double)(double d);
    rb_value *(*value_string)(const char *s);            /* copies s (UTF-8) */
    rb_value *(*value_bytes)(const void *data, size_t len); /* copies data */
    rb_value *(*value_list)(void);
    rb_value *(*value_map)(void);
    /* Take ownership of item, also on failure. Setting an existing key
     * replaces its value. */
    rb_status (*list_append)(rb_value *list, rb_value *item);
    rb_status (*map_set)(rb_value *map, const char *key, rb_value *item);
    rb_value *(*value_copy)(const rb_value *v);
    void (*value_free)(rb_value *v);  /* NULL is fine */

    /* Readers. A NULL value reads as RB_VNULL. Mismatched accessors return
     * 0 / NULL rather than failing; check value_type first where it matters. */
    rb_value_type (*value_type)(const rb_value *v);
    int (*value_as_bool)(const rb_value *v);
    int64_t (*value_as_int)(const rb_value *v);        /* doubles truncate */
    double (*value_as_double)(const rb_value *v);      /* ints convert */
    const char *(*value_as_string)(const rb_value *v); /* borrowed */
    const void *(*value_as_bytes)(const rb_value *v, size_t *len); /* strings too */
    size_t (*value_len)(const rb_value *v);            /* list or map entries */
    const rb_value *(*list_get)(const rb_value *list, size_t i);
    const rb_value *(*map_get)(const rb_value *map, const char *key);
    const char *(*map_key_at)(const rb_value *map, size_t i);
    const rb_value *(*map_value_at)(const rb_value *map, size_t i);
    /* Convenience: map_get + value_as_* with a default when absent/mistyped. */
    const char *(*map_get_string)(const rb_value *map, const char *key, const char *dflt);
    int64_t (*map_get_int)(const rb_value *map, const char *key, int64_t dflt);
    int (*map_get_bool)(const rb_value *map, const char *key, int dflt);

    /* --- the call in progress (ABI 1.0) ---------------------------------- */
    void (*log)(rb_ctx *ctx, rb_log_level level, const char *fmt, ...) RB_PRINTF(3, 4);
    /* The message shown for the step when the action fails. Never put
     * secrets in it: it goes to the journal and the reports. */
    void (*set_error)(rb_ctx *ctx, const char *fmt, ...) RB_PRINTF(2, 3);
    /* Reports progress; returns non-zero when the action must stop (the run
     * was interrupted or the step timed out): return RB_ECANCELED then. */
    int (*progress)(rb_ctx *ctx, uint64_t done, uint64_t total);
    /* Non-zero once the action should stop, without reporting progress. */
    int (*cancelled)(rb_ctx *ctx);
    /* A key that is the same for this call on every attempt and after a
     * resume; use it to make write actions idempotent. Never NULL. */
    const char *(*idempotency_key)(rb_ctx *ctx);
    /* The operation id saved by an earlier, interrupted attempt of this call
     * (see save_operation), or NULL. Re-attach to it instead of starting the
     * operation again. */
    const char *(*operation_id)(rb_ctx *ctx);
    /* Durably journals an operation id (an LRO URL, a job id) before the
     * action waits on it, so a resumed run can re-attach. */
    rb_status (*save_operation)(rb_ctx *ctx, const char *operation_id);
    /* "plan", "run" or "drill". */
    const char *(*mode)(rb_ctx *ctx);
    /* The plugin's settings from the config file (plugins.settings.<name>),
     * or an empty map. Borrowed for the lifetime of the plugin. */
    const rb_value *(*settings)(rb_ctx *ctx);
    /* The directory of this run, for scratch files. */
    const char *(*run_dir)(rb_ctx *ctx);

    /* --- Azure (ABI 1.1) ------------------------------------------------- */
    /* The host does authentication, retries with backoff (429/5xx and
     * resets, honouring Retry-After), throttling, long-running operations,
     * redaction and tracing. On failure these set the step error to Azure's
     * own {code, message} and return the mapped status (RB_ENOTFOUND for
     * 404, RB_EDENIED for 403 and locks, RB_ECONFLICT for 409, RB_ERETRY when
     * retries ran out, RB_EAUTH, RB_ECANCELED...). Check RB_HOST_HAS first.
     *
     * A request to Azure Resource Manager. path is a resource path
     * ("/subscriptions/<id>/resourceGroups/<rg>/providers/...") or an
     * absolute URL on the ARM endpoint; api_version is added as a query
     * parameter (NULL: the path carries its own). body may be NULL. For
     * PUT/PATCH/POST/DELETE a long-running operation (201/202 with
     * Azure-AsyncOperation or Location) is saved with save_operation() and
     * waited for; when operation_id() returns an operation saved by an
     * interrupted attempt, the host re-attaches to it instead of sending the
     * request again. On RB_OK *response (may be NULL) is a new value: the
     * JSON body or final resource (NULL when empty), and *http_status (may
     * be NULL) the HTTP status (200 for a completed operation). */
    rb_status (*arm_call)(rb_ctx *ctx, const char *method, const char *path,
                          const char *api_version, const rb_value *body, rb_value **response,
                          int *http_status);
    /* GETs a collection across nextLink pages: *items is a new list of the
     * elements of every page's "value" (at most max_items; 0 = no limit). */
    rb_status (*arm_list)(rb_ctx *ctx, const char *path, const char *api_version,
                          size_t max_items, rb_value **items);
    /* A request to a Key Vault's data plane, https://<vault>.<keyvault
     * suffix><path>, answering the vault's 401 challenge for a token. */
    rb_status (*vault_call)(rb_ctx *ctx, const char *vault, const char *method, const char *path,
                            const char *api_version, const rb_value *body, rb_value **response,
                            int *http_status);

    /* --- the backup vault (ABI 1.2) ---------------------------------------- */
    /* The run's backup vault is the config's `vault` (a local directory by
     * default; a WORM Blob container in production). Sets are signed and
     * never overwritten.
     *
     * Writes one backup set: objects is a map of object name -> bytes or
     * string (the whole set in memory: for small objects such as Key Vault
     * backups). The call's idempotency key resumes a set an interrupted
     * attempt left unfinished. On RB_OK *set is a new map
     * {set_id, bytes, objects}. */
    rb_status (*backup_put)(rb_ctx *ctx, const char *source_id, const char *kind,
                            const rb_value *objects, rb_value **set);
    /* The sets of a source (source_id NULL: any; kind NULL: any kind), newest
     * first: a new list of {set_id, created, created_s, kind, source_id,
     * objects, bytes, names}. Sets whose signature does not verify are left
     * out. */
    rb_status (*backup_list)(rb_ctx *ctx, const char *source_id, const char *kind,
                             rb_value **sets);
    /* Reads one object back, checking its block and whole hashes and the
     * set's signature: *data is new bytes (objects up to 64 MiB). */
    rb_status (*backup_get)(rb_ctx *ctx, const char *set_id, const char *object,
                            rb_value **data);

    /* --- large objects: disks and SAS URLs (ABI 1.3) ---------------------- */
    /* Like backup_put, but an object's value may also be a map
     * {url = "<read SAS URL>", size = <bytes, optional>}: the host reads it
     * with ranged GETs (retried like every Azure call; the SAS never appears
     * in logs, errors or reports) and streams it into the set, hashing on the
     * way, in memory that does not grow with the object. Bytes or string
     * values are stored as backup_put stores them. With server_copy = true
     * in the map, an Azure Blob vault has the storage service copy the
     * object itself (Put Block From URL: the SAS must be readable by the
     * service) and then reads it back to hash it; other vaults stream it as
     * usual. An interrupted attempt is
     * resumed through the call's idempotency key: blocks the vault already
     * holds are checked by hash and not sent again. Progress is reported
     * through the call (bytes done of total). On RB_OK *set is a new map
     * {set_id, bytes, bytes_sent, objects, resumed, sha256 = {name = hex}}. */
    rb_status (*backup_put_stream)(rb_ctx *ctx, const char *source_id, const char *kind,
                                   const rb_value *objects, rb_value **set);
    /* The signed manifest of one set, its signature checked: *manifest is a
     * new map {set_id, source_id, kind, created, created_s, bytes,
     * objects = [{name, bytes, sha256}]}. */
    rb_status (*backup_manifest)(rb_ctx *ctx, const char *set_id, rb_value **manifest);
    /* Streams one object of a set to a URL (a write SAS), checking every
     * block against the signed manifest before it is sent. target "page"
     * writes a page blob in place with Put Page (a managed disk's upload SAS;
     * the object's size must be a multiple of 512); "block" creates a block
     * blob (Put Block + Put Block List), refused when the blob exists.
     * *bytes (may be NULL) receives the bytes written. */
    rb_status (*backup_to_url)(rb_ctx *ctx, const char *set_id, const char *object,
                               const char *url, const char *target, uint64_t *bytes);
    /* Reads a URL (a read SAS) with ranged GETs and hashes it in memory:
     * *digest is a new map {bytes, sha256}. */
    rb_status (*url_digest)(rb_ctx *ctx, const char *url, rb_value **digest);
    /* JSON text of a value, compact (bytes as {"$bytes": "<base64>"}, so
     * values round-trip): free with mem_free; NULL when out of memory. For
     * the small records plugins keep in backup sets (a VM's configuration, a
     * vault's index), so plugins need no JSON library of their own. */
    char *(*json_encode)(const rb_value *v);
    /* Parses len bytes of JSON text into a new value: RB_EINVAL when it is
     * not JSON. */
    rb_status (*json_decode)(const char *text, size_t len, rb_value **out);
};

/* Non-zero when the host table is large enough to contain `field`. */
#define RB_HOST_HAS(host, field) \
    ((host)->struct_size >= offsetof(rb_host_api, field) + sizeof((host)->field))

#endif
