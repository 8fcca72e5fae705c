/* rebound Azure access layer: the Azure Resource Manager client.
 *
 * Paths are resource paths ("/subscriptions/.../resourceGroups/rg") joined
 * to the cloud's ARM endpoint, or absolute URLs on that same endpoint
 * (nextLink, operation URLs); a URL on another host is refused so that an
 * ARM token never leaves for somewhere else. Every call goes through the
 * pipeline (pipeline.h): one retry policy, deadline, cancellation. Bodies
 * are cJSON trees. Azure's error body {error:{code,message,details}} is
 * copied verbatim into rb_az_err. */
#ifndef REBOUND_AZURE_ARM_H
#define REBOUND_AZURE_ARM_H

#include <cjson/cJSON.h>

#include <rebound/status.h>

#include "az_error.h"
#include "cloud.h"
#include "cred.h"
#include "http.h"
#include "pipeline.h"

typedef struct rb_arm rb_arm;
typedef struct rb_arm_op rb_arm_op;
typedef struct rb_arm_pager rb_arm_pager;

/* eng, cred and cloud are borrowed and must outlive the client. The scope
 * is the cloud's arm_scope. Caller frees with rb_arm_free(). */
rb_status rb_arm_new(rb_arm **out, rb_http_engine *eng, rb_cred *cred, const rb_cloud *cloud,
                     rb_az_err *err);
/* NULL is fine. */
void rb_arm_free(rb_arm *arm);

/* One request. api_version is appended as ?api-version= unless the path
 * already carries one (NULL: leave the path as is). body may be NULL. On
 * RB_OK *out_json (may be NULL) receives the parsed body or NULL when the
 * body was empty; caller frees with cJSON_Delete. *out_status (may be NULL)
 * gets the HTTP status. A 2xx body that is not JSON is RB_EPROTO. */
rb_status rb_arm_request(rb_arm *arm, const char *method, const char *path,
                         const char *api_version, const cJSON *body, const rb_az_call_opts *opts,
                         long *out_status, cJSON **out_json, rb_az_err *err);

/* Starts a long-running operation (PUT, PATCH, POST, DELETE). On RB_OK *out
 * is an operation handle; when the service answered synchronously it is
 * already done. Journal rb_arm_op_id() before waiting. Caller frees with
 * rb_arm_op_free(). */
rb_status rb_arm_begin(rb_arm *arm, const char *method, const char *path,
                       const char *api_version, const cJSON *body, const rb_az_call_opts *opts,
                       rb_arm_op **out, rb_az_err *err);

/* A string (JSON) naming the operation: kind (Azure-AsyncOperation or
 * Location), polling URL, and the resource URL for the final GET. Borrowed
 * from op; NULL when the operation completed synchronously. */
const char *rb_arm_op_id(const rb_arm_op *op);

/* Non-zero once the operation reached a terminal state. */
int rb_arm_op_done(const rb_arm_op *op);

/* Rebuilds a handle from a journaled rb_arm_op_id() string, in this or a
 * later process. RB_EINVAL for a string that is not an operation id.
 * Caller frees with rb_arm_op_free(). */
rb_status rb_arm_op_attach(rb_arm *arm, const char *op_id, rb_arm_op **out, rb_az_err *err);
/* 1 when op_id was saved for this request (same method and path; ids saved
 * before the path was recorded match on the method alone), so that an action
 * making several long-running calls re-attaches each only to its own. */
int rb_arm_op_is_for(const char *op_id, const char *method, const char *path);

/* Polls once. *next_poll_ms (may be NULL) gets the delay the service asked
 * for (Retry-After) or the default of 1 s. Returns RB_OK while in progress
 * and on success (check rb_arm_op_done); a failed operation returns RB_ERROR
 * with the service's error code and message, a cancelled one RB_ECANCELED. */
rb_status rb_arm_op_poll(rb_arm *arm, rb_arm_op *op, const rb_az_call_opts *opts,
                         long *next_poll_ms, rb_az_err *err);

/* Polls at the interval the service asks for until the operation ends or
 * opts->deadline_ms (0 = 1 hour) passes (RB_ETIMEDOUT). On success
 * *result (may be NULL) receives the final resource or result body (NULL
 * when there is none); caller frees with cJSON_Delete. */
rb_status rb_arm_op_wait(rb_arm *arm, rb_arm_op *op, const rb_az_call_opts *opts,
                         cJSON **result, rb_az_err *err);

/* NULL is fine. */
void rb_arm_op_free(rb_arm_op *op);

/* The delay the initial response asked for before the first poll (0 if
 * none), consumed: later calls return 0. For pollers of their own. */
long rb_arm_op_first_delay(rb_arm_op *op);

/* Waiting for many operations at once without a thread each: a waiter owns
 * a small pool of threads and a queue ordered by the next poll time; each
 * poll goes through the shared engine. */
typedef struct rb_arm_waiter rb_arm_waiter;

/* Called once per operation, on a waiter thread, when it ends (st RB_OK:
 * result is the final body or NULL, and the callback takes ownership:
 * cJSON_Delete it), fails, passes its deadline (RB_ETIMEDOUT) or the waiter
 * is freed first (RB_ECANCELED). op stays owned by the caller. err is valid
 * only during the call. */
typedef void (*rb_arm_op_done_fn)(void *user, rb_arm_op *op, rb_status st, cJSON *result,
                                  const rb_az_err *err);

/* threads: concurrent polls (0 = 16). arm is borrowed. Caller frees with
 * rb_arm_waiter_free(). */
rb_status rb_arm_waiter_new(rb_arm_waiter **out, rb_arm *arm, int threads, rb_az_err *err);

/* Adds op (borrowed until its callback ran) with a deadline (0 = 1 hour). */
rb_status rb_arm_waiter_add(rb_arm_waiter *w, rb_arm_op *op, long deadline_ms,
                            rb_arm_op_done_fn done, void *user, rb_az_err *err);

/* Operations still waiting. */
int rb_arm_waiter_pending(rb_arm_waiter *w);

/* Stops the threads; operations still waiting get RB_ECANCELED. NULL is
 * fine. */
void rb_arm_waiter_free(rb_arm_waiter *w);

/* Iterates the items of a list call across nextLink pages. Caller frees
 * with rb_arm_pager_free(). */
rb_status rb_arm_pager_new(rb_arm *arm, const char *path, const char *api_version,
                           const rb_az_call_opts *opts, rb_arm_pager **out, rb_az_err *err);

/* Next item of the "value" arrays: *item is borrowed until the next call,
 * NULL at the end (with RB_OK). */
rb_status rb_arm_pager_next(rb_arm_pager *p, const cJSON **item, rb_az_err *err);

/* Pages fetched so far. */
int rb_arm_pager_pages(const rb_arm_pager *p);

/* NULL is fine. */
void rb_arm_pager_free(rb_arm_pager *p);

#endif
