/* rebound Azure access layer: the request pipeline every Azure call takes.
 *
 * rb_az_send adds authentication, a client request id and the one retry
 * policy of the runner: 408/429/500/502/503/504, connection failures and an
 * attempt's own timeout (before the call's deadline) are retried with exponential backoff and full jitter, or after exactly the
 * delay the service asks for (retry-after-ms, x-ms-retry-after-ms,
 * Retry-After in seconds or as an HTTP date), as long as the next attempt
 * can start before the call's deadline. A 401 carrying a Bearer challenge
 * (Key Vault) is answered once with a token for the tenant and resource it
 * names; any other 401 to a bearer call drops the cached tokens and is
 * retried once with a fresh token (revoked or early-expired tokens). */
#ifndef REBOUND_AZURE_PIPELINE_H
#define REBOUND_AZURE_PIPELINE_H

#include <stdint.h>

#include <rebound/status.h>

#include "az_error.h"
#include "cred.h"
#include "http.h"

typedef struct rb_az_auth rb_az_auth;

typedef struct rb_retry_policy {
    int max_attempts;       /* including the first; 0 = 8 */
    long base_delay_ms;     /* 0 = 800 */
    long max_delay_ms;      /* cap of one backoff delay; 0 = 60000 */
} rb_retry_policy;

typedef struct rb_az_call_opts {
    long deadline_ms;                /* whole call including retries; 0 = 120000 */
    long try_timeout_ms;             /* one attempt; 0 = 60000 (never past the deadline) */
    const atomic_int *cancel;        /* non-zero cancels (also during backoff) */
    const rb_retry_policy *retry;    /* NULL = defaults */
    size_t max_body_bytes;           /* in-memory body limit; 0 = engine default */
} rb_az_call_opts;

/* Bearer tokens from cred for scope. With challenge != 0 a 401 Bearer
 * challenge may redirect the auth to another tenant and resource (and the
 * first request is sent with the configured scope). cred is borrowed.
 * Caller frees with rb_az_auth_free(). */
rb_status rb_az_auth_bearer(rb_az_auth **out, rb_cred *cred, const char *scope, int challenge,
                            rb_az_err *err);

/* Storage Shared Key: account name and base64 account key (registered with
 * the redactor). Caller frees with rb_az_auth_free(). */
rb_status rb_az_auth_shared_key(rb_az_auth **out, const char *account, const char *key_b64,
                                rb_az_err *err);

/* NULL is fine. */
void rb_az_auth_free(rb_az_auth *auth);

/* Sends req through the pipeline (auth may be NULL: anonymous or SAS in the
 * URL; opts may be NULL). Returns RB_OK for a 1xx-3xx response. For an
 * HTTP error it returns the mapped status (401 RB_EAUTH, 403 RB_EDENIED,
 * 404 RB_ENOTFOUND, 409 RB_ECONFLICT or RB_EEXISTS, 412 RB_EEXISTS under
 * If-None-Match: * else RB_ECONFLICT, 400 RB_EINVAL, retryable codes after
 * the last attempt RB_ERETRY, others RB_ERROR) with err holding the
 * service's error code and message verbatim. When the deadline stops the
 * retries the status is RB_ETIMEDOUT. In every case where a response
 * arrived, *out receives it (caller frees with rb_http_response_free). */
rb_status rb_az_send(rb_http_engine *eng, rb_az_auth *auth, const rb_http_request *req,
                     const rb_az_call_opts *opts, rb_http_response **out, rb_az_err *err);

/* The delay a response asks for before the next attempt or poll, in ms, or
 * -1 when it names none. */
long rb_az_retry_after_ms(const rb_http_response *resp);

/* Fills err (code, message, http_status) from an Azure error response:
 * JSON {error:{code,message,details}}, Storage XML <Error><Code>, or the
 * x-ms-error-code header. Returns the mapped status (see rb_az_send). */
rb_status rb_az_http_error(const rb_http_response *resp, const char *method, const char *url,
                           int if_none_match, rb_az_err *err);

#endif
