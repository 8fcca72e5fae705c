/* The host side of the plugin ABI: the one rb_host_api table every plugin
 * receives, and the rb_ctx routines behind it.
 *
 * The table is static and append-only (SQLite's sqlite3_api_routines is the
 * model): a field is never removed or reordered, new routines go at the end
 * and raise RB_ABI_MINOR. Values delegate to core/values.c so plugins and the
 * runner share one allocator and one layout. */
#include "plugin/context.h"
#include "core/log.h"

#include <pthread.h>
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/values.h"

/* --- the shared empty map -------------------------------------------------- */

static rb_value *empty_map;
static pthread_once_t empty_map_once = PTHREAD_ONCE_INIT;

static void empty_map_make(void) { empty_map = rbv_map(); }

/* Never freed: it is borrowed by every ctx and plugin for the whole process. */
const rb_value *rb_host_empty_map(void)
{
    pthread_once(&empty_map_once, empty_map_make);
    return empty_map;
}

/* --- memory and strings ---------------------------------------------------- */

/* Plugins may ask for large buffers and handle failure themselves, so these
 * return NULL instead of aborting like rb_xmalloc. */
static void *host_mem_alloc(size_t size) { return malloc(size ? size : 1); }
static void host_mem_free(void *ptr) { free(ptr); }
static char *host_str_dup(const char *s) { return s ? strdup(s) : NULL; }

static char *vformat(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        return NULL;
    char *p = malloc((size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

static char *host_str_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = fmt ? vformat(fmt, ap) : NULL;
    va_end(ap);
    return p;
}

/* --- values ------------------------------------------------------------------ */

static rb_value *host_value_null(void) { return rbv_null(); }
static rb_value *host_value_bool(int b) { return rbv_bool(b); }
static rb_value *host_value_int(int64_t i) { return rbv_int(i); }
static rb_value *host_value_double(double d) { return rbv_double(d); }
static rb_value *host_value_string(const char *s) { return rbv_string(s); }
static rb_value *host_value_bytes(const void *d, size_t n) { return rbv_bytes(d, n); }
static rb_value *host_value_list(void) { return rbv_list(); }
static rb_value *host_value_map(void) { return rbv_map(); }

/* --- the call in progress ---------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static rb_host_log_fn log_sink;

void rb_host_set_log_sink(rb_host_log_fn fn)
{
    pthread_mutex_lock(&log_lock);
    log_sink = fn;
    pthread_mutex_unlock(&log_lock);
}

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

static void host_log(rb_ctx *ctx, rb_log_level level, const char *fmt, ...)
{
    if (!fmt)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    if (!msg)
        return;
    /* One lock around the whole line so lines from parallel steps never
     * interleave. */
    pthread_mutex_lock(&log_lock);
    if (log_sink) {
        log_sink(ctx, level, msg);
    } else {
        /* Through the runner's log, so plugin lines are redacted too. */
        rb_log(level, "[%s] %s.%s: %s", or_dash(ctx ? ctx->step : NULL),
               or_dash(ctx ? ctx->plugin : NULL), or_dash(ctx ? ctx->action : NULL), msg);
    }
    pthread_mutex_unlock(&log_lock);
    free(msg);
}

static void host_set_error(rb_ctx *ctx, const char *fmt, ...)
{
    if (!ctx || !fmt)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    if (!msg)
        return;
    /* An action may call from several threads (host.h promises it is safe):
     * the swap is serialised. Rare, so one lock for every ctx. */
    static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&error_lock);
    char *old = ctx->error;
    ctx->error = msg;
    pthread_mutex_unlock(&error_lock);
    free(old);
}

int rb_ctx_cancelled(const rb_ctx *ctx)
{
    if (!ctx)
        return 0;
    if (atomic_load(&ctx->cancel))
        return 1;
    return ctx->interrupted && atomic_load(ctx->interrupted) != 0;
}

static int host_progress(rb_ctx *ctx, uint64_t done, uint64_t total)
{
    if (!ctx)
        return 0;
    atomic_store(&ctx->progress_total, total);
    atomic_store(&ctx->progress_done, done);
    return rb_ctx_cancelled(ctx);
}

static int host_cancelled(rb_ctx *ctx) { return rb_ctx_cancelled(ctx); }

static const char *host_idempotency_key(rb_ctx *ctx)
{
    return ctx && ctx->idempotency_key ? ctx->idempotency_key : "";
}

static const char *host_operation_id(rb_ctx *ctx)
{
    return ctx && ctx->operation_id && *ctx->operation_id ? ctx->operation_id : NULL;
}

static rb_status host_save_operation(rb_ctx *ctx, const char *op_id)
{
    if (!ctx || !op_id || !*op_id)
        return RB_EINVAL;
    if (!ctx->save_op)
        return RB_EUNSUPPORTED;
    return ctx->save_op(ctx->save_op_data, op_id);
}

static char *host_json_encode(const rb_value *v)
{
    return rbv_to_json_text(v);
}

static rb_status host_json_decode(const char *text, size_t len, rb_value **out)
{
    if (!out)
        return RB_EINVAL;
    *out = NULL;
    if (!text)
        return RB_EINVAL;
    /* One JSON value and nothing after it but white space: "{}x" is not
     * JSON, and a cut or glued record must not pass for its first part. */
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j)
        return RB_EINVAL;
    for (const char *p = end; p && p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(j);
            return RB_EINVAL;
        }
    }
    *out = rbv_from_json(j);
    cJSON_Delete(j);
    return RB_OK;
}

static const char *host_mode(rb_ctx *ctx) { return ctx && ctx->mode ? ctx->mode : "run"; }

static const rb_value *host_settings(rb_ctx *ctx)
{
    return ctx && ctx->settings ? ctx->settings : rb_host_empty_map();
}

static const char *host_run_dir(rb_ctx *ctx) { return ctx && ctx->run_dir ? ctx->run_dir : "."; }

/* --- the table ----------------------------------------------------------------- */

static const rb_host_api host_api = {
    .abi_major = RB_ABI_MAJOR,
    .abi_minor = RB_ABI_MINOR,
    .struct_size = sizeof(rb_host_api),

    .mem_alloc = host_mem_alloc,
    .mem_free = host_mem_free,
    .str_dup = host_str_dup,
    .str_format = host_str_format,

    .value_null = host_value_null,
    .value_bool = host_value_bool,
    .value_int = host_value_int,
    .value_double = host_value_double,
    .value_string = host_value_string,
    .value_bytes = host_value_bytes,
    .value_list = host_value_list,
    .value_map = host_value_map,
    .list_append = rbv_list_append,
    .map_set = rbv_map_set,
    .value_copy = rbv_copy,
    .value_free = rbv_free,

    .value_type = rbv_type,
    .value_as_bool = rbv_as_bool,
    .value_as_int = rbv_as_int,
    .value_as_double = rbv_as_double,
    .value_as_string = rbv_as_string,
    .value_as_bytes = rbv_as_bytes,
    .value_len = rbv_len,
    .list_get = rbv_list_get,
    .map_get = rbv_map_get,
    .map_key_at = rbv_map_key_at,
    .map_value_at = rbv_map_value_at,
    .map_get_string = rbv_map_get_string,
    .map_get_int = rbv_map_get_int,
    .map_get_bool = rbv_map_get_bool,

    .log = host_log,
    .set_error = host_set_error,
    .progress = host_progress,
    .cancelled = host_cancelled,
    .idempotency_key = host_idempotency_key,
    .operation_id = host_operation_id,
    .save_operation = host_save_operation,
    .mode = host_mode,
    .settings = host_settings,
    .run_dir = host_run_dir,
    .arm_call = rb_host_arm_call,
    .arm_list = rb_host_arm_list,
    .vault_call = rb_host_vault_call,
    .backup_put = rb_host_backup_put,
    .backup_list = rb_host_backup_list,
    .backup_get = rb_host_backup_get,
    .backup_put_stream = rb_host_backup_put_stream,
    .backup_manifest = rb_host_backup_manifest,
    .backup_to_url = rb_host_backup_to_url,
    .url_digest = rb_host_url_digest,
    .json_encode = host_json_encode,
    .json_decode = host_json_decode,
};

const rb_host_api *rb_host_api_get(void) { return &host_api; }

/* --- rb_ctx ---------------------------------------------------------------------- */

void rb_ctx_init(rb_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    atomic_init(&ctx->cancel, 0);
    atomic_init(&ctx->progress_done, 0);
    atomic_init(&ctx->progress_total, 0);
    ctx->settings = rb_host_empty_map();
}

void rb_ctx_clear(rb_ctx *ctx)
{
    if (!ctx)
        return;
    free(ctx->error);
    ctx->error = NULL;
}
