/* rebound Azure access layer: the one HTTP engine.
 *
 * One thread drives libcurl's multi interface (curl_multi_poll) for every
 * request of the process, so connections are reused across callers and many
 * requests run concurrently without one thread each. Callers on any thread
 * either wait for a response (rb_http_send) or get a callback on the engine
 * thread (rb_http_submit).
 *
 * TLS verification is always on: there is no option to turn it off. A test
 * CA (azsim) is trusted through rb_http_options.ca_file. Proxies come from
 * the standard variables (https_proxy, no_proxy, ...), which libcurl reads.
 * Plain http:// is accepted only for loopback hosts (Azurite, test
 * servers) and IPv4 link-local ones (IMDS at 169.254.169.254). */
#ifndef REBOUND_AZURE_HTTP_H
#define REBOUND_AZURE_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <rebound/status.h>

#include "az_error.h"

typedef struct rb_http_engine rb_http_engine;
typedef struct rb_http_call rb_http_call;

typedef struct rb_http_options {
    const char *ca_file;        /* extra CA bundle (PEM) or NULL for the system store */
    size_t max_header_bytes;    /* total response header bytes; 0 = 64 KiB */
    size_t max_body_bytes;      /* default in-memory body limit; 0 = 64 MiB */
    long connect_timeout_ms;    /* 0 = 10 s */
    const char *user_agent;     /* NULL = "rebound/<version>" */
} rb_http_options;

/* Sink for the body of a 2xx response instead of memory (bodies of other
 * statuses are still collected in memory, for error messages). Before the
 * first byte of each response the sink is called with data == NULL and
 * len == 0: discard what an earlier attempt delivered (retries). Return 0
 * to continue, non-zero to abort the transfer (the call then fails with
 * RB_ECANCELED). */
typedef int (*rb_http_sink_fn)(void *user, const void *data, size_t len);

typedef struct rb_http_request {
    const char *method;              /* "GET", "PUT", ... */
    const char *url;                 /* absolute URL */
    const char *const *headers;      /* NULL-terminated "Name: value" lines, or NULL */
    const void *body;                /* borrowed until completion; NULL = no body */
    size_t body_len;
    long timeout_ms;                 /* whole request; 0 = 60 s */
    size_t max_body_bytes;           /* 0 = the engine default */
    rb_http_sink_fn sink;            /* NULL = collect the body in memory */
    void *sink_user;
    const atomic_int *cancel;        /* becomes non-zero to cancel; may be NULL */
} rb_http_request;

typedef struct rb_http_response {
    long status;                     /* HTTP status of the final response */
    char **headers;                  /* "Name: value" lines of the final response */
    size_t nheaders;
    char *body;                      /* NUL-terminated; "" when sunk or empty */
    size_t body_len;
} rb_http_response;

/* Creates the engine and starts its thread. opts may be NULL. Caller frees
 * with rb_http_engine_free(). */
rb_status rb_http_engine_new(rb_http_engine **out, const rb_http_options *opts, rb_az_err *err);

/* Cancels whatever is in flight, stops the thread and frees the engine.
 * NULL is fine. Callbacks of cancelled calls run before it returns. */
void rb_http_engine_free(rb_http_engine *eng);

/* Sends req and waits for the response. On RB_OK *out holds a response of
 * any HTTP status (the caller judges it); the caller frees it with
 * rb_http_response_free(). Transport failures map to RB_ERETRY (connection
 * refused/reset, empty reply, truncated body), RB_ETIMEDOUT, RB_ECANCELED,
 * RB_EPROTO (oversized or malformed response) or RB_EAUTH (TLS peer not
 * trusted). */
rb_status rb_http_send(rb_http_engine *eng, const rb_http_request *req,
                       rb_http_response **out, rb_az_err *err);

/* Completion callback of rb_http_submit, run on the engine thread: keep it
 * short, never call rb_http_send from it. It takes ownership of resp (free
 * with rb_http_response_free; NULL when status != RB_OK). err is valid only
 * during the call. */
typedef void (*rb_http_done_fn)(void *user, rb_status status, rb_http_response *resp,
                                const rb_az_err *err);

/* Starts req without waiting. Everything in req except body is copied; body
 * must stay valid until the callback. The callback runs exactly once. If
 * out_call is not NULL it receives a handle for rb_http_call_cancel(),
 * valid until the callback has returned (and released with
 * rb_http_call_release). */
rb_status rb_http_submit(rb_http_engine *eng, const rb_http_request *req,
                         rb_http_done_fn done, void *user, rb_http_call **out_call,
                         rb_az_err *err);

/* Cancels a submitted call; its callback gets RB_ECANCELED (unless it had
 * already completed). */
void rb_http_call_cancel(rb_http_call *call);
/* Releases the handle from rb_http_submit (required when out_call was
 * given; after the callback ran or together with cancel). */
void rb_http_call_release(rb_http_call *call);

/* Case-insensitive lookup of a response header; returns the trimmed value
 * (borrowed from resp) or NULL. */
const char *rb_http_response_header(const rb_http_response *resp, const char *name);

/* "METHOD URL" for messages, safe to show: without the query (SAS tokens,
 * secrets), and for a SAS URL (a `sig` in the query) only its origin, since
 * a service's SAS may carry its grant in the path too. Into buf (truncated
 * to len); returns buf. */
char *rb_http_where(const char *method, const char *url, char *buf, size_t len);

/* Frees a response. NULL is fine. */
void rb_http_response_free(rb_http_response *resp);

/* Opens (truncates) a trace file recording every request and response of
 * every engine in the process, with secrets masked by the redactor. Bodies
 * are recorded up to 4 KiB each. Returns RB_EIO if the file cannot be
 * opened. */
rb_status rb_http_trace_open(const char *path, rb_az_err *err);
/* Closes the trace file (harmless when none is open). */
void rb_http_trace_close(void);

#endif
