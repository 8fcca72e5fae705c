/* The Azure routines of the host table (ABI 1.1): plugins reach ARM and Key
 * Vault only through these, so authentication, retries, throttling,
 * long-running operations, redaction and tracing live in one place
 * (runner/azure/). Values cross as rb_value; the layer below speaks cJSON. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/azure.h"
#include "core/util.h"
#include "core/values.h"
#include "plugin/azure_session.h"
#include "plugin/context.h"

static rb_status session_or_fail(rb_ctx *ctx, rb_azure **az)
{
    char msg[2300];
    rb_status st = rb_azure_session_get(ctx->azure, az, msg, sizeof msg);
    if (st != RB_OK)
        rb_host_api_get()->set_error(ctx, "%s", msg);
    return st;
}

rb_http_engine *rb_host_engine(rb_ctx *ctx)
{
    rb_azure *az = NULL;
    return session_or_fail(ctx, &az) == RB_OK ? rb_azure_engine(az) : NULL;
}

static rb_status fail(rb_ctx *ctx, rb_status st, const rb_az_err *err)
{
    rb_host_api_get()->set_error(ctx, "%s", err->msg[0] ? err->msg : rb_status_name(st));
    return st;
}

static int is_read(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* The journaled operation of an interrupted attempt that this request
 * started, claimed so that no other request uses it, or NULL. */
static const char *claim_operation(rb_ctx *ctx, const char *method, const char *path)
{
    for (size_t i = 0; ctx->operation_ids && ctx->operation_ids[i]; i++)
        if (!atomic_load(&ctx->operations_used[i]) &&
            rb_arm_op_is_for(ctx->operation_ids[i], method, path) &&
            !atomic_exchange(&ctx->operations_used[i], 1))
            return ctx->operation_ids[i];
    return NULL;
}

/* A write: started (or re-attached from the operation an interrupted
 * attempt saved) and waited for when long-running. */
static rb_status arm_write(rb_ctx *ctx, rb_arm *arm, const char *method, const char *path,
                           const char *api_version, const cJSON *body,
                           const rb_az_call_opts *opts, cJSON **out, rb_az_err *err)
{
    rb_arm_op *op = NULL;
    rb_status st = RB_EINVAL;
    int reattached = 0;
    /* An operation an interrupted attempt saved for this same request
     * (method and path), each claimed once: a later request of the action is
     * its own, and of two requests made at once from two threads only one
     * re-attaches to an operation (one exchange claims it). */
    const char *saved_op = claim_operation(ctx, method, path);
    if (saved_op) {
        st = rb_arm_op_attach(arm, saved_op, &op, err);
        reattached = st == RB_OK;
        if (!reattached)
            rb_az_err_clear(err); /* not ours (another kind of id): start afresh */
    }
    if (!reattached) {
        st = rb_arm_begin(arm, method, path, api_version, body, opts, &op, err);
        if (st != RB_OK)
            return st;
        const char *id = rb_arm_op_id(op);
        /* Journal the operation before waiting on it, so a resumed run
         * re-attaches instead of sending the request again. */
        if (id && !rb_arm_op_done(op) && ctx->save_op) {
            rb_status saved = ctx->save_op(ctx->save_op_data, id);
            if (saved != RB_OK) {
                rb_arm_op_free(op);
                return rb_az_fail(err, saved, "could not journal the operation id");
            }
        }
    }
    st = rb_arm_op_wait(arm, op, opts, out, err);
    rb_arm_op_free(op);
    return st;
}

rb_status rb_host_arm_call(rb_ctx *ctx, const char *method, const char *path,
                           const char *api_version, const rb_value *body, rb_value **response,
                           int *http_status)
{
    if (response)
        *response = NULL;
    if (http_status)
        *http_status = 0;
    if (!ctx || !method || !path)
        return RB_EINVAL;
    rb_azure *az;
    rb_status st = session_or_fail(ctx, &az);
    if (st != RB_OK)
        return st;
    rb_az_call_opts opts = {.cancel = &ctx->cancel};
    rb_az_err err;
    rb_az_err_clear(&err);
    cJSON *jbody = body ? rbv_to_json(body) : NULL;
    cJSON *out = NULL;
    long status = 0;
    if (is_read(method)) {
        st = rb_arm_request(rb_azure_arm(az), method, path, api_version, jbody, &opts, &status,
                            &out, &err);
    } else {
        st = arm_write(ctx, rb_azure_arm(az), method, path, api_version, jbody, &opts, &out, &err);
        status = st == RB_OK ? 200 : err.http_status;
    }
    cJSON_Delete(jbody);
    if (http_status)
        *http_status = (int)(status ? status : err.http_status);
    if (st != RB_OK) {
        cJSON_Delete(out);
        return fail(ctx, st, &err);
    }
    if (response && out)
        *response = rbv_from_json(out);
    cJSON_Delete(out);
    return RB_OK;
}

rb_status rb_host_arm_list(rb_ctx *ctx, const char *path, const char *api_version,
                           size_t max_items, rb_value **items)
{
    if (!items)
        return RB_EINVAL;
    *items = NULL;
    if (!ctx || !path)
        return RB_EINVAL;
    rb_azure *az;
    rb_status st = session_or_fail(ctx, &az);
    if (st != RB_OK)
        return st;
    rb_az_call_opts opts = {.cancel = &ctx->cancel};
    rb_az_err err;
    rb_az_err_clear(&err);
    rb_arm_pager *pager = NULL;
    st = rb_arm_pager_new(rb_azure_arm(az), path, api_version, &opts, &pager, &err);
    if (st != RB_OK)
        return fail(ctx, st, &err);
    rb_value *list = rbv_list();
    for (;;) {
        const cJSON *item = NULL;
        st = rb_arm_pager_next(pager, &item, &err);
        if (st != RB_OK || !item)
            break;
        rbv_list_append(list, rbv_from_json(item));
        if (max_items && rbv_len(list) >= max_items)
            break;
        if (rb_ctx_cancelled(ctx)) {
            st = RB_ECANCELED;
            rb_az_fail(&err, st, "cancelled while listing %s", path);
            break;
        }
    }
    rb_arm_pager_free(pager);
    if (st != RB_OK) {
        rbv_free(list);
        return fail(ctx, st, &err);
    }
    *items = list;
    return RB_OK;
}

rb_status rb_host_vault_call(rb_ctx *ctx, const char *vault, const char *method, const char *path,
                             const char *api_version, const rb_value *body, rb_value **response,
                             int *http_status)
{
    if (response)
        *response = NULL;
    if (http_status)
        *http_status = 0;
    if (!ctx || !vault || !method || !path || path[0] != '/')
        return RB_EINVAL;
    rb_azure *az;
    rb_status st = session_or_fail(ctx, &az);
    if (st != RB_OK)
        return st;
    rb_az_err err;
    rb_az_err_clear(&err);
    rb_az_auth *auth = NULL;
    st = rb_azure_vault_auth(az, &auth, &err);
    if (st != RB_OK)
        return fail(ctx, st, &err);

    char base[512];
    rb_azure_vault_url(az, vault, base, sizeof base);
    char *url = api_version ? rb_xasprintf("%s%s%capi-version=%s", base, path,
                                           strchr(path, '?') ? '&' : '?', api_version)
                            : rb_xasprintf("%s%s", base, path);
    char *text = body ? rbv_to_json_text(body) : NULL;
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json", NULL};
    rb_http_request req = {.method = method,
                           .url = url,
                           .headers = headers,
                           .body = text,
                           .body_len = text ? strlen(text) : 0,
                           .cancel = &ctx->cancel};
    rb_az_call_opts opts = {.cancel = &ctx->cancel};
    rb_http_response *resp = NULL;
    st = rb_az_send(rb_azure_engine(az), auth, &req, &opts, &resp, &err);
    if (http_status && resp)
        *http_status = (int)resp->status;
    if (st == RB_OK && response && resp && resp->body_len) {
        cJSON *j = cJSON_ParseWithLength(resp->body, resp->body_len);
        if (!j) {
            st = rb_az_fail(&err, RB_EPROTO, "%s %s: the vault answered with a body that is not "
                                             "JSON", method, path);
        } else {
            *response = rbv_from_json(j);
            cJSON_Delete(j);
        }
    }
    rb_http_response_free(resp);
    rb_az_auth_free(auth);
    free(text);
    free(url);
    if (st != RB_OK)
        return fail(ctx, st, &err);
    return RB_OK;
}
