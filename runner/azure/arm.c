/* The ARM client: requests, long-running operations and pagination. See
 * arm.h. */
#include "arm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "redact.h"

#define DEFAULT_POLL_MS 1000
#define MAX_ARM_BODY (32u * 1024u * 1024u)

struct rb_arm {
    rb_http_engine *eng;
    rb_az_auth *auth;
    char *endpoint; /* "https://management.azure.com" */
    char *endpoint_origin; /* "https://management.azure.com:443" (rb_url_origin) */
};

typedef enum { OP_DONE, OP_ASYNC, OP_LOCATION } op_kind;

struct rb_arm_op {
    op_kind kind;
    int done;
    char *method;
    char *path;      /* the request's path as the caller gave it (re-attach check) */
    char *poll_url;
    char *final_url; /* the resource to GET after an async PUT/PATCH; or a POST's Location */
    char *id;        /* JSON, journaled */
    cJSON *result;
    long first_delay_ms; /* Retry-After of the initial response, -1 if none */
};

struct rb_arm_pager {
    rb_arm *arm;
    rb_az_call_opts opts;
    char *next;      /* URL of the next page, NULL at the end */
    char *last;      /* previous URL, to stop a service that repeats itself */
    cJSON *page;
    int index;
    int pages;
};

rb_status rb_arm_new(rb_arm **out, rb_http_engine *eng, rb_cred *cred, const rb_cloud *cloud,
                     rb_az_err *err)
{
    *out = NULL;
    rb_arm *a = calloc(1, sizeof *a);
    if (!a)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    a->eng = eng;
    a->endpoint = strdup(cloud->arm_endpoint);
    a->endpoint_origin = a->endpoint ? rb_url_origin(a->endpoint) : NULL;
    char scope[300];
    rb_cloud_arm_scope(cloud, scope, sizeof scope);
    rb_status st = a->endpoint ? rb_az_auth_bearer(&a->auth, cred, scope, 0, err)
                               : rb_az_fail(err, RB_ENOMEM, "out of memory");
    if (st != RB_OK) {
        rb_arm_free(a);
        return st;
    }
    *out = a;
    return RB_OK;
}

void rb_arm_free(rb_arm *a)
{
    if (!a)
        return;
    rb_az_auth_free(a->auth);
    free(a->endpoint);
    free(a->endpoint_origin);
    free(a);
}

/* Absolute URL for path, with api-version when asked. Caller frees. */
static rb_status build_url(rb_arm *a, const char *path, const char *api_version, char **out,
                           rb_az_err *err)
{
    *out = NULL;
    rb_azbuf b = {0};
    if (strncasecmp(path, "https://", 8) == 0 || strncasecmp(path, "http://", 7) == 0) {
        char *o1 = rb_url_origin(path);
        int same = o1 && a->endpoint_origin && strcmp(o1, a->endpoint_origin) == 0;
        free(o1);
        if (!same)
            return rb_az_fail(err, RB_EPROTO,
                              "refusing to send an ARM token to %s: not the ARM endpoint %s", path,
                              a->endpoint);
        rb_azbuf_puts(&b, path);
    } else {
        rb_azbuf_printf(&b, "%s%s%s", a->endpoint, path[0] == '/' ? "" : "/", path);
    }
    if (api_version && !strstr(b.data, "api-version=")) {
        char *v = rb_url_escape(api_version);
        rb_azbuf_printf(&b, "%sapi-version=%s", strchr(b.data, '?') ? "&" : "?", v ? v : "");
        free(v);
    }
    if (!b.data)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    *out = rb_azbuf_take(&b);
    return RB_OK;
}

static rb_status parse_json_body(const rb_http_response *resp, const char *method,
                                 const char *url, cJSON **out, rb_az_err *err)
{
    *out = NULL;
    if (resp->body_len == 0)
        return RB_OK;
    char where[512];
    rb_http_where(method, url, where, sizeof where);
    const char *ct = rb_http_response_header(resp, "Content-Type");
    if (ct && !strstr(ct, "json"))
        return rb_az_fail(err, RB_EPROTO, "%s: HTTP %ld with content type %s, expected JSON", where,
                          resp->status, ct);
    *out = cJSON_ParseWithLength(resp->body, resp->body_len);
    if (!*out)
        return rb_az_fail(err, RB_EPROTO, "%s: HTTP %ld with a malformed JSON body (%zu bytes)",
                          where, resp->status, resp->body_len);
    return RB_OK;
}

/* Sends one request; returns the raw response for callers that read headers. */
static rb_status arm_send(rb_arm *a, const char *method, const char *url, const cJSON *body,
                          const rb_az_call_opts *opts, rb_http_response **resp, rb_az_err *err)
{
    char *json = body ? cJSON_PrintUnformatted(body) : NULL;
    if (body && !json)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    const char *hdrs[] = {"Accept: application/json",
                          json ? "Content-Type: application/json" : NULL, NULL};
    rb_http_request req = {.method = method,
                           .url = url,
                           .headers = hdrs,
                           .body = json,
                           .body_len = json ? strlen(json) : 0};
    rb_az_call_opts o = {0};
    if (opts)
        o = *opts;
    if (!o.max_body_bytes)
        o.max_body_bytes = MAX_ARM_BODY;
    rb_status st = rb_az_send(a->eng, a->auth, &req, &o, resp, err);
    free(json);
    return st;
}

rb_status rb_arm_request(rb_arm *a, const char *method, const char *path,
                         const char *api_version, const cJSON *body, const rb_az_call_opts *opts,
                         long *out_status, cJSON **out_json, rb_az_err *err)
{
    if (out_json)
        *out_json = NULL;
    char *url = NULL;
    rb_status st = build_url(a, path, api_version, &url, err);
    if (st != RB_OK)
        return st;
    rb_http_response *resp = NULL;
    st = arm_send(a, method, url, body, opts, &resp, err);
    if (out_status)
        *out_status = resp ? resp->status : 0;
    if (st == RB_OK) {
        cJSON *j = NULL;
        st = parse_json_body(resp, method, url, &j, err);
        if (st == RB_OK && out_json)
            *out_json = j;
        else
            cJSON_Delete(j);
    }
    rb_http_response_free(resp);
    free(url);
    return st;
}

/* ---- long-running operations -------------------------------------------- */

static const char *kind_name(op_kind k)
{
    return k == OP_ASYNC ? "Azure-AsyncOperation" : k == OP_LOCATION ? "Location" : "done";
}

static rb_status op_make_id(rb_arm_op *op)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return RB_ENOMEM;
    cJSON_AddNumberToObject(j, "v", 1);
    cJSON_AddStringToObject(j, "kind", kind_name(op->kind));
    cJSON_AddStringToObject(j, "method", op->method);
    if (op->path)
        cJSON_AddStringToObject(j, "path", op->path);
    cJSON_AddStringToObject(j, "url", op->poll_url);
    if (op->final_url)
        cJSON_AddStringToObject(j, "final", op->final_url);
    op->id = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return op->id ? RB_OK : RB_ENOMEM;
}

void rb_arm_op_free(rb_arm_op *op)
{
    if (!op)
        return;
    free(op->method);
    free(op->path);
    free(op->poll_url);
    free(op->final_url);
    free(op->id);
    cJSON_Delete(op->result);
    free(op);
}

const char *rb_arm_op_id(const rb_arm_op *op)
{
    return op->kind == OP_DONE ? NULL : op->id;
}

int rb_arm_op_done(const rb_arm_op *op)
{
    return op->done;
}

rb_status rb_arm_begin(rb_arm *a, const char *method, const char *path,
                       const char *api_version, const cJSON *body, const rb_az_call_opts *opts,
                       rb_arm_op **out, rb_az_err *err)
{
    *out = NULL;
    char *url = NULL;
    rb_status st = build_url(a, path, api_version, &url, err);
    if (st != RB_OK)
        return st;
    rb_http_response *resp = NULL;
    st = arm_send(a, method, url, body, opts, &resp, err);
    if (st != RB_OK) {
        rb_http_response_free(resp);
        free(url);
        return st;
    }
    rb_arm_op *op = calloc(1, sizeof *op);
    if (!op) {
        rb_http_response_free(resp);
        free(url);
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
    op->method = strdup(method);
    op->path = strdup(path);
    op->first_delay_ms = rb_az_retry_after_ms(resp);
    const char *ao = rb_http_response_header(resp, "Azure-AsyncOperation");
    const char *loc = rb_http_response_header(resp, "Location");
    if (ao && *ao) {
        op->kind = OP_ASYNC;
        op->poll_url = strdup(ao);
        if (strcasecmp(method, "PUT") == 0 || strcasecmp(method, "PATCH") == 0)
            op->final_url = strdup(url);
        else if (strcasecmp(method, "POST") == 0 && loc && *loc)
            op->final_url = strdup(loc);
    } else if (loc && *loc && (resp->status == 202 || resp->status == 201)) {
        op->kind = OP_LOCATION;
        op->poll_url = strdup(loc);
    } else {
        op->kind = OP_DONE;
        op->done = 1;
        st = parse_json_body(resp, method, url, &op->result, err);
    }
    if (st == RB_OK && op->kind != OP_DONE) {
        /* The poll URL will carry our token: it must be on the ARM endpoint. */
        char *abs = NULL;
        st = op->poll_url ? build_url(a, op->poll_url, NULL, &abs, err)
                          : rb_az_fail(err, RB_ENOMEM, "out of memory");
        if (st == RB_OK) {
            free(op->poll_url);
            op->poll_url = abs;
        }
        if (st == RB_OK && op_make_id(op) != RB_OK)
            st = rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
    rb_http_response_free(resp);
    free(url);
    if (st != RB_OK) {
        rb_arm_op_free(op);
        return st;
    }
    *out = op;
    return RB_OK;
}

int rb_arm_op_is_for(const char *op_id, const char *method, const char *path)
{
    cJSON *j = op_id ? cJSON_Parse(op_id) : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "method");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "path");
    int ok = cJSON_IsString(m) && strcasecmp(m->valuestring, method) == 0 &&
             (!cJSON_IsString(p) || strcmp(p->valuestring, path) == 0);
    cJSON_Delete(j);
    return ok;
}

rb_status rb_arm_op_attach(rb_arm *a, const char *op_id, rb_arm_op **out, rb_az_err *err)
{
    *out = NULL;
    cJSON *j = op_id ? cJSON_Parse(op_id) : NULL;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(j, "method");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(j, "url");
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(j, "final");
    if (!cJSON_IsString(kind) || !cJSON_IsString(method) || !cJSON_IsString(url) ||
        (strcmp(kind->valuestring, "Azure-AsyncOperation") != 0 &&
         strcmp(kind->valuestring, "Location") != 0)) {
        cJSON_Delete(j);
        return rb_az_fail(err, RB_EINVAL, "not an ARM operation id");
    }
    char *abs = NULL;
    rb_status st = build_url(a, url->valuestring, NULL, &abs, err);
    if (st != RB_OK) {
        cJSON_Delete(j);
        return st;
    }
    rb_arm_op *op = calloc(1, sizeof *op);
    if (op) {
        op->first_delay_ms = -1;
        op->kind = strcmp(kind->valuestring, "Location") == 0 ? OP_LOCATION : OP_ASYNC;
        op->method = strdup(method->valuestring);
        op->poll_url = abs;
        abs = NULL;
        op->final_url = cJSON_IsString(fin) ? strdup(fin->valuestring) : NULL;
        op->id = strdup(op_id);
    }
    cJSON_Delete(j);
    free(abs);
    if (!op || !op->method || !op->poll_url || !op->id) {
        rb_arm_op_free(op);
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
    *out = op;
    return RB_OK;
}

static rb_status op_fail_from_status(const cJSON *body, const char *status, rb_az_err *err)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "error");
    if (!e) {
        /* Some services nest it under properties. */
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(body, "properties");
        e = cJSON_GetObjectItemCaseSensitive(p, "error");
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "details");
    char *dj = cJSON_IsArray(d) && cJSON_GetArraySize(d) > 0 ? cJSON_PrintUnformatted(d) : NULL;
    rb_status st = strcasecmp(status, "Canceled") == 0 ? RB_ECANCELED : RB_ERROR;
    if (err) {
        snprintf(err->code, sizeof err->code, "%s", cJSON_IsString(c) ? c->valuestring : "");
        rb_redact_inplace(err->code, sizeof err->code);
    }
    rb_az_fail(err, st, "long-running operation %s: %s: %s%s%s", status,
               cJSON_IsString(c) ? c->valuestring : "(no code)",
               cJSON_IsString(m) ? m->valuestring : "(no message)", dj ? " details: " : "",
               dj ? dj : "");
    free(dj);
    return st;
}

static rb_status op_finish(rb_arm *a, rb_arm_op *op, const rb_az_call_opts *opts, cJSON *status_body,
                           rb_az_err *err)
{
    op->done = 1;
    if (strcasecmp(op->method, "DELETE") == 0) {
        cJSON_Delete(status_body);
        return RB_OK;
    }
    if (op->final_url) {
        cJSON_Delete(status_body);
        return rb_arm_request(a, "GET", op->final_url, NULL, NULL, opts, NULL, &op->result, err);
    }
    op->result = status_body;
    return RB_OK;
}

rb_status rb_arm_op_poll(rb_arm *a, rb_arm_op *op, const rb_az_call_opts *opts,
                         long *next_poll_ms, rb_az_err *err)
{
    if (next_poll_ms)
        *next_poll_ms = DEFAULT_POLL_MS;
    if (op->done)
        return RB_OK;
    rb_http_response *resp = NULL;
    rb_status st = arm_send(a, "GET", op->poll_url, NULL, opts, &resp, err);
    if (st != RB_OK) {
        rb_http_response_free(resp);
        return st;
    }
    long ra = rb_az_retry_after_ms(resp);
    if (next_poll_ms && ra >= 0)
        *next_poll_ms = ra;
    cJSON *body = NULL;
    st = parse_json_body(resp, "GET", op->poll_url, &body, err);
    long status = resp->status;
    rb_http_response_free(resp);
    if (st != RB_OK)
        return st;
    if (op->kind == OP_LOCATION) {
        if (status == 202) {
            cJSON_Delete(body);
            return RB_OK;
        }
        op->done = 1;
        op->result = body; /* 200/201 with the result, 204 without */
        return RB_OK;
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(body, "status");
    if (!cJSON_IsString(s)) {
        cJSON_Delete(body);
        return rb_az_fail(err, RB_EPROTO, "operation status response has no \"status\"");
    }
    if (strcasecmp(s->valuestring, "Succeeded") == 0)
        return op_finish(a, op, opts, body, err);
    if (strcasecmp(s->valuestring, "Failed") == 0 || strcasecmp(s->valuestring, "Canceled") == 0 ||
        strcasecmp(s->valuestring, "Cancelled") == 0) {
        op->done = 1;
        st = op_fail_from_status(body, s->valuestring, err);
        cJSON_Delete(body);
        return st;
    }
    cJSON_Delete(body); /* InProgress, Running, Accepted, ... */
    return RB_OK;
}

rb_status rb_arm_op_wait(rb_arm *a, rb_arm_op *op, const rb_az_call_opts *opts, cJSON **result,
                         rb_az_err *err)
{
    if (result)
        *result = NULL;
    rb_az_call_opts o = {0};
    if (opts)
        o = *opts;
    long total = o.deadline_ms > 0 ? o.deadline_ms : 3600L * 1000;
    int64_t deadline = rb_now_ms() + total;
    /* The initial response may already say when to look first. */
    if (!op->done && op->first_delay_ms > 0) {
        if (op->first_delay_ms > total)
            return rb_az_fail(err, RB_ETIMEDOUT,
                              "long-running operation: the first poll (in %ld ms) would pass the "
                              "%ld ms deadline",
                              op->first_delay_ms, total);
        if (rb_sleep_ms(op->first_delay_ms, o.cancel) != RB_OK)
            return rb_az_fail(err, RB_ECANCELED, "waiting for the operation was cancelled");
        op->first_delay_ms = -1;
    }
    while (!op->done) {
        int64_t left = deadline - rb_now_ms();
        if (left <= 0)
            return rb_az_fail(err, RB_ETIMEDOUT,
                              "long-running operation still running after %ld ms", total);
        rb_az_call_opts po = o;
        po.deadline_ms = (long)left;
        long next = DEFAULT_POLL_MS;
        rb_status st = rb_arm_op_poll(a, op, &po, &next, err);
        if (st != RB_OK)
            return st;
        if (op->done)
            break;
        left = deadline - rb_now_ms();
        if (next > left)
            return rb_az_fail(err, RB_ETIMEDOUT,
                              "long-running operation still running; the next poll (in %ld ms) "
                              "would pass the %ld ms deadline",
                              next, total);
        if (rb_sleep_ms(next, o.cancel) != RB_OK)
            return rb_az_fail(err, RB_ECANCELED, "waiting for the operation was cancelled");
    }
    if (result) {
        *result = op->result;
        op->result = NULL;
    }
    return RB_OK;
}

/* ---- pagination ------------------------------------------------------------ */

rb_status rb_arm_pager_new(rb_arm *a, const char *path, const char *api_version,
                           const rb_az_call_opts *opts, rb_arm_pager **out, rb_az_err *err)
{
    *out = NULL;
    rb_arm_pager *p = calloc(1, sizeof *p);
    if (!p)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    p->arm = a;
    if (opts)
        p->opts = *opts;
    rb_status st = build_url(a, path, api_version, &p->next, err);
    if (st != RB_OK) {
        free(p);
        return st;
    }
    *out = p;
    return RB_OK;
}

rb_status rb_arm_pager_next(rb_arm_pager *p, const cJSON **item, rb_az_err *err)
{
    *item = NULL;
    for (;;) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->page, "value");
        if (cJSON_IsArray(v) && p->index < cJSON_GetArraySize(v)) {
            *item = cJSON_GetArrayItem(v, p->index++);
            return RB_OK;
        }
        if (!p->next)
            return RB_OK;
        if (p->last && strcmp(p->last, p->next) == 0)
            return rb_az_fail(err, RB_EPROTO, "the service returned the same nextLink twice");
        cJSON *page = NULL;
        rb_status st = rb_arm_request(p->arm, "GET", p->next, NULL, NULL, &p->opts, NULL, &page, err);
        if (st != RB_OK)
            return st;
        if (page && !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(page, "value"))) {
            cJSON_Delete(page);
            return rb_az_fail(err, RB_EPROTO, "a list page has no \"value\" array");
        }
        cJSON_Delete(p->page);
        p->page = page;
        p->index = 0;
        p->pages++;
        free(p->last);
        p->last = p->next;
        p->next = NULL;
        const cJSON *nl = cJSON_GetObjectItemCaseSensitive(page, "nextLink");
        /* Checked (same host as ARM) when it is fetched, so the items of
         * this page are still delivered. */
        if (cJSON_IsString(nl) && nl->valuestring[0] && !(p->next = strdup(nl->valuestring)))
            return rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
}

int rb_arm_pager_pages(const rb_arm_pager *p)
{
    return p->pages;
}

void rb_arm_pager_free(rb_arm_pager *p)
{
    if (!p)
        return;
    cJSON_Delete(p->page);
    free(p->next);
    free(p->last);
    free(p);
}

long rb_arm_op_first_delay(rb_arm_op *op)
{
    long d = op->first_delay_ms > 0 ? op->first_delay_ms : 0;
    op->first_delay_ms = -1;
    return d;
}
