/* rb_ctx: everything the host knows about one action call in progress.
 *
 * The scheduler fills one per action call and hands it to the plugin; the
 * host routines in host.c read and update it. Fields are written by the
 * scheduler before the call and read-only during it, except `error`
 * (set_error, owned by the ctx) and the progress counters (atomics, read by
 * the progress display from the main thread). */
#ifndef REBOUND_RUNNER_CONTEXT_H
#define REBOUND_RUNNER_CONTEXT_H

#include <stdatomic.h>
#include <stdint.h>

#include "rebound/host.h"

/* Durably journals an operation id for the call; returns RB_OK or RB_EIO. */
typedef rb_status (*rb_save_op_fn)(void *data, const char *op_id);

struct rb_ctx {
    const char *mode;            /* "plan", "run", "drill" */
    const char *step;            /* step name, for logs */
    const char *plugin;          /* plugin name, for logs */
    const char *action;          /* action name, for logs */
    const char *idempotency_key; /* never NULL */
    const char *operation_id;    /* the latest one an interrupted attempt saved, or NULL */
    /* Every operation the interrupted attempt journaled (an action may make
     * several long-running calls, at once too), latest first, NULL-ended,
     * each claimed once (operations_used[i]) by the request it was saved
     * for; NULL when there are none. */
    const char *const *operation_ids;
    atomic_int *operations_used;
    const rb_value *settings;    /* plugin settings map; never NULL */
    const char *run_dir;
    const atomic_int *interrupted; /* process-wide SIGINT/SIGTERM flag, may be NULL */
    atomic_int cancel;           /* set by the scheduler on timeout */
    atomic_uint_fast64_t progress_done;
    atomic_uint_fast64_t progress_total;
    char *error;                 /* set_error; malloc'd, freed by rb_ctx_clear */
    rb_save_op_fn save_op;
    void *save_op_data;
    struct rb_azure_session *azure; /* the run's Azure access, or NULL */
    struct rb_vault_session *vault; /* the run's backup vault, or NULL */
};

/* Initialises a ctx (all fields zero/NULL, settings an empty map). */
void rb_ctx_init(rb_ctx *ctx);
/* Frees what the ctx owns (error). */
void rb_ctx_clear(rb_ctx *ctx);
/* Non-zero when the call should stop. */
int rb_ctx_cancelled(const rb_ctx *ctx);

/* The Azure routines of the host table (host_azure.c). */
rb_status rb_host_arm_call(rb_ctx *ctx, const char *method, const char *path,
                           const char *api_version, const rb_value *body, rb_value **response,
                           int *http_status);
rb_status rb_host_arm_list(rb_ctx *ctx, const char *path, const char *api_version,
                           size_t max_items, rb_value **items);
rb_status rb_host_vault_call(rb_ctx *ctx, const char *vault, const char *method, const char *path,
                             const char *api_version, const rb_value *body, rb_value **response,
                             int *http_status);
/* The run's HTTP engine (its Azure session, created on first use), or NULL
 * after setting the step error. */
struct rb_http_engine *rb_host_engine(rb_ctx *ctx);

/* The backup-vault routines of the host table (host_vault.c). */
rb_status rb_host_backup_put(rb_ctx *ctx, const char *source_id, const char *kind,
                             const rb_value *objects, rb_value **set);
rb_status rb_host_backup_list(rb_ctx *ctx, const char *source_id, const char *kind,
                              rb_value **sets);
rb_status rb_host_backup_get(rb_ctx *ctx, const char *set_id, const char *object,
                             rb_value **data);
/* The run's vault, locked for one operation, exclusively for a write (write
 * != 0), shared for a read (release with rb_vault_session_release(ctx->vault));
 * NULL after setting the step error. */
struct rb_vault *rb_host_vault_acquire(rb_ctx *ctx, int write);

/* Large objects: SAS URLs in and out of the vault (host_stream.c, ABI 1.3). */
rb_status rb_host_backup_put_stream(rb_ctx *ctx, const char *source_id, const char *kind,
                                    const rb_value *objects, rb_value **set);
rb_status rb_host_backup_manifest(rb_ctx *ctx, const char *set_id, rb_value **manifest);
rb_status rb_host_backup_to_url(rb_ctx *ctx, const char *set_id, const char *object,
                                const char *url, const char *target, uint64_t *bytes);
rb_status rb_host_url_digest(rb_ctx *ctx, const char *url, rb_value **digest);

/* The host table handed to every plugin. Static; never NULL. */
const rb_host_api *rb_host_api_get(void);

/* A shared, never-freed empty map (the default for ctx->settings and for a
 * plugin without settings). */
const rb_value *rb_host_empty_map(void);

/* Where host->log() lines go. The default writes `[step] plugin.action:
 * message` to stderr. The sink is called with a lock held, one call per line,
 * so it must not call host->log() itself. msg is borrowed. */
typedef void (*rb_host_log_fn)(const rb_ctx *ctx, rb_log_level level, const char *msg);
void rb_host_set_log_sink(rb_host_log_fn fn); /* NULL restores the default */

#endif
