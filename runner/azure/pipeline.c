/* The request pipeline: auth, request ids, the one retry policy, Bearer
 * challenges and the mapping of Azure error responses. See pipeline.h. */
#include "pipeline.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "redact.h"

typedef enum { AUTH_BEARER, AUTH_SHARED_KEY } auth_kind;

struct rb_az_auth {
    auth_kind kind;
    rb_cred *cred;
    char *scope;
    int challenge;
    pthread_mutex_t lock;
    char *challenge_scope;  /* learned from a 401 challenge */
    char *challenge_tenant;
    char *account;
    char *key;
};

rb_status rb_az_auth_bearer(rb_az_auth **out, rb_cred *cred, const char *scope, int challenge,
                            rb_az_err *err)
{
    *out = NULL;
    rb_az_auth *a = calloc(1, sizeof *a);
    if (!a)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    a->kind = AUTH_BEARER;
    a->cred = cred;
    a->scope = strdup(scope ? scope : "");
    a->challenge = challenge;
    pthread_mutex_init(&a->lock, NULL);
    if (!a->scope) {
        rb_az_auth_free(a);
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
    *out = a;
    return RB_OK;
}

rb_status rb_az_auth_shared_key(rb_az_auth **out, const char *account, const char *key_b64,
                                rb_az_err *err)
{
    *out = NULL;
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    if (!account || !key_b64 || rb_b64_decode(key_b64, &raw, &rawlen) != RB_OK)
        return rb_az_fail(err, RB_EINVAL, "Shared Key needs an account name and a base64 key");
    free(raw);
    rb_redact_register(key_b64);
    rb_az_auth *a = calloc(1, sizeof *a);
    if (!a)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    a->kind = AUTH_SHARED_KEY;
    a->account = strdup(account);
    a->key = strdup(key_b64);
    pthread_mutex_init(&a->lock, NULL);
    if (!a->account || !a->key) {
        rb_az_auth_free(a);
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
    *out = a;
    return RB_OK;
}

void rb_az_auth_free(rb_az_auth *a)
{
    if (!a)
        return;
    free(a->scope);
    free(a->challenge_scope);
    free(a->challenge_tenant);
    free(a->account);
    if (a->key)
        memset(a->key, 0, strlen(a->key));
    free(a->key);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* Adds the Authorization header (and x-ms-date for Shared Key). */
static rb_status auth_apply(rb_az_auth *a, const rb_http_request *req, rb_strv *hdrs,
                            rb_az_err *err)
{
    if (!a)
        return RB_OK;
    if (a->kind == AUTH_BEARER) {
        pthread_mutex_lock(&a->lock);
        char *scope = strdup(a->challenge_scope ? a->challenge_scope : a->scope);
        char *tenant = a->challenge_tenant ? strdup(a->challenge_tenant) : NULL;
        pthread_mutex_unlock(&a->lock);
        if (!scope) {
            free(tenant);
            return rb_az_fail(err, RB_ENOMEM, "out of memory");
        }
        char *tok = NULL;
        rb_status st = rb_cred_get_token(a->cred, scope, tenant, &tok, NULL, err);
        free(scope);
        free(tenant);
        if (st != RB_OK)
            return st;
        st = rb_strv_addf(hdrs, "Authorization: Bearer %s", tok);
        free(tok);
        return st == RB_OK ? RB_OK : rb_az_fail(err, st, "out of memory");
    }
    char date[64];
    rb_http_date(date, sizeof date);
    int has_date = 0;
    for (size_t i = 0; i < hdrs->n; i++)
        if (rb_header_value(hdrs->v[i], "x-ms-date"))
            has_date = 1;
    if (!has_date && rb_strv_addf(hdrs, "x-ms-date: %s", date) != RB_OK)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    char *sts = NULL, *sig = NULL;
    rb_status st = rb_sharedkey_string_to_sign(a->account, req->method, req->url,
                                               (const char *const *)hdrs->v, req->body_len, &sts,
                                               err);
    if (st == RB_OK)
        st = rb_hmac_sha256_b64(a->key, sts, &sig, err);
    if (st == RB_OK)
        st = rb_strv_addf(hdrs, "Authorization: SharedKey %s:%s", a->account, sig) == RB_OK
                 ? RB_OK
                 : rb_az_fail(err, RB_ENOMEM, "out of memory");
    free(sts);
    free(sig);
    return st;
}

/* Parses `Bearer authorization="https://login/.../TENANT", resource="R"` or
 * `scope="S"`. Returns 1 when it yields a scope. */
static int parse_challenge(const char *hdr, char **scope, char **tenant)
{
    *scope = *tenant = NULL;
    if (strncasecmp(hdr, "Bearer", 6) != 0)
        return 0;
    char *authz = NULL, *resource = NULL, *scp = NULL;
    const char *p = hdr + 6;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *eq = strchr(p, '=');
        if (!eq)
            break;
        size_t nlen = (size_t)(eq - p);
        const char *v = eq + 1;
        const char *vend;
        int quoted = *v == '"';
        if (quoted) {
            v++;
            vend = strchr(v, '"');
            if (!vend)
                vend = v + strlen(v);
        } else {
            vend = v + strcspn(v, ", ");
        }
        char *val = strndup(v, (size_t)(vend - v));
        if (nlen == 13 && strncasecmp(p, "authorization", 13) == 0 && !authz)
            authz = val;
        else if (nlen == 8 && strncasecmp(p, "resource", 8) == 0 && !resource)
            resource = val;
        else if (nlen == 5 && strncasecmp(p, "scope", 5) == 0 && !scp)
            scp = val;
        else
            free(val);
        p = *vend ? vend + (quoted ? 1 : 0) : vend;
    }
    if (scp) {
        *scope = scp;
        scp = NULL;
    } else if (resource) {
        size_t n = strlen(resource);
        while (n && resource[n - 1] == '/')
            resource[--n] = '\0';
        rb_azbuf b = {0};
        rb_azbuf_printf(&b, "%s/.default", resource);
        *scope = rb_azbuf_take(&b);
    }
    if (authz) {
        /* The tenant is the path of the authorization URL. */
        CURLU *u = curl_url();
        char *path = NULL;
        if (u && curl_url_set(u, CURLUPART_URL, authz, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
            const char *t = path;
            while (*t == '/')
                t++;
            size_t n = strlen(t);
            while (n && t[n - 1] == '/')
                n--;
            if (n)
                *tenant = strndup(t, n);
        }
        curl_free(path);
        curl_url_cleanup(u);
    }
    free(authz);
    free(resource);
    free(scp);
    return *scope != NULL;
}

/* Longer asks are clamped: the call's deadline decides anyway. */
#define MAX_RETRY_AFTER_S (24L * 3600)

long rb_az_retry_after_ms(const rb_http_response *resp)
{
    const char *v;
    if ((v = rb_http_response_header(resp, "retry-after-ms")) ||
        (v = rb_http_response_header(resp, "x-ms-retry-after-ms"))) {
        char *end;
        long ms = strtol(v, &end, 10);
        if (end != v && ms >= 0)
            return ms < MAX_RETRY_AFTER_S * 1000 ? ms : MAX_RETRY_AFTER_S * 1000;
    }
    if ((v = rb_http_response_header(resp, "Retry-After"))) {
        char *end;
        long s = strtol(v, &end, 10);
        if (end != v && (*end == '\0' || *end == ' ') && s >= 0)
            return (s < MAX_RETRY_AFTER_S ? s : MAX_RETRY_AFTER_S) * 1000;
        time_t when = curl_getdate(v, NULL);
        if (when != (time_t)-1) {
            time_t now = time(NULL);
            if (when <= now)
                return 0;
            long d = when - now < MAX_RETRY_AFTER_S ? (long)(when - now) : MAX_RETRY_AFTER_S;
            return d * 1000;
        }
    }
    return -1;
}

static int retryable_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static void xml_init(void)
{
    xmlInitParser();
}

void rb_xml_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, xml_init);
}

static char *xml_child_text(xmlNode *n, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0) {
            xmlChar *t = xmlNodeGetContent(c);
            char *r = t ? strdup((const char *)t) : NULL;
            xmlFree(t);
            return r;
        }
    return NULL;
}

rb_status rb_az_http_error(const rb_http_response *resp, const char *method, const char *url,
                           int if_none_match, rb_az_err *err)
{
    long s = resp->status;
    char *code = NULL, *message = NULL;
    const char *ct = rb_http_response_header(resp, "Content-Type");
    if (resp->body_len && (!ct || strstr(ct, "json"))) {
        cJSON *j = cJSON_ParseWithLength(resp->body, resp->body_len);
        const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
        if (cJSON_IsObject(e)) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
            if (cJSON_IsString(c))
                code = strdup(c->valuestring);
            /* Verbatim: message plus details as the service sent them. */
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "details");
            rb_azbuf mb = {0};
            if (cJSON_IsString(m))
                rb_azbuf_puts(&mb, m->valuestring);
            if (cJSON_IsArray(d) && cJSON_GetArraySize(d) > 0) {
                char *dj = cJSON_PrintUnformatted(d);
                if (dj)
                    rb_azbuf_printf(&mb, " details: %s", dj);
                free(dj);
            }
            if (mb.len)
                message = rb_azbuf_take(&mb);
            rb_azbuf_free(&mb);
        } else if (cJSON_IsString(e)) {
            /* OAuth errors: {"error":"invalid_client","error_description":...} */
            code = strdup(e->valuestring);
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "error_description");
            if (cJSON_IsString(d))
                message = strdup(d->valuestring);
        }
        cJSON_Delete(j);
    } else if (resp->body_len && ct && strstr(ct, "xml")) {
        rb_xml_once();
        xmlDoc *doc = xmlReadMemory(resp->body, (int)resp->body_len, "error.xml", NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (root && strcmp((const char *)root->name, "Error") == 0) {
            code = xml_child_text(root, "Code");
            message = xml_child_text(root, "Message");
        }
        xmlFreeDoc(doc);
    }
    if (!code) {
        const char *h = rb_http_response_header(resp, "x-ms-error-code");
        if (h)
            code = strdup(h);
    }
    rb_status st;
    if (s == 401)
        st = RB_EAUTH;
    else if (s == 403)
        st = RB_EDENIED;
    else if (s == 404)
        st = RB_ENOTFOUND;
    else if (s == 409)
        st = code && (strcmp(code, "BlobAlreadyExists") == 0 ||
                      strcmp(code, "ContainerAlreadyExists") == 0)
                 ? RB_EEXISTS
                 : RB_ECONFLICT;
    else if (s == 412)
        st = if_none_match ? RB_EEXISTS : RB_ECONFLICT;
    else if (s == 400)
        st = RB_EINVAL;
    else if (retryable_status(s))
        st = RB_ERETRY;
    else
        st = RB_ERROR;
    char where[512];
    rb_http_where(method, url, where, sizeof where);
    if (err) {
        err->http_status = (int)s;
        snprintf(err->code, sizeof err->code, "%s", code ? code : "");
        rb_redact_inplace(err->code, sizeof err->code);
    }
    if (code || message)
        rb_az_fail(err, st, "%s: HTTP %ld %s: %s", where, s, code ? code : "",
                   message ? message : "");
    else if (resp->body_len && (!ct || (!strstr(ct, "json") && !strstr(ct, "xml"))))
        rb_az_fail(err, st, "%s: HTTP %ld (unexpected content type %s)", where, s,
                   ct ? ct : "(none)");
    else
        rb_az_fail(err, st, "%s: HTTP %ld", where, s);
    free(code);
    free(message);
    return st;
}

/* x-ms-client-request-id only has to be unique, not secret: 16 random bytes
 * drawn once, then a counter through splitmix64's finalizer (a bijection,
 * so ids cannot repeat within a process). Drawing from the CSPRNG for each
 * request cost 4% of rebound's CPU in bench/run.sh lro, most of it setting
 * up OpenSSL's per-thread generator in each worker thread. */
static uint64_t g_reqid_seed[2];

static void reqid_seed(void)
{
    if (rb_random_bytes(g_reqid_seed, sizeof g_reqid_seed) != RB_OK)
        g_reqid_seed[0] = (uint64_t)rb_now_ms() * 0x9e3779b97f4a7c15u; /* unique still */
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void request_id(char out[40])
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    static atomic_uint_fast64_t counter;
    pthread_once(&once, reqid_seed);
    uint64_t n = atomic_fetch_add(&counter, 1);
    uint64_t a = mix64(g_reqid_seed[0] + n), b = mix64(g_reqid_seed[1] ^ a);
    /* All 64 bits of a, around the version (4) and variant (RFC 4122) bits. */
    snprintf(out, 40, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffffu, 0x4000u | ((unsigned)(a >> 4) & 0x0fffu),
             0x8000u | ((unsigned)(a & 0xfu) << 10) | ((unsigned)(b >> 54) & 0x3ffu),
             (unsigned long long)(b & 0xffffffffffffull));
}

static long backoff_ms(const rb_retry_policy *p, int attempt)
{
    long cap = p->base_delay_ms;
    for (int i = 1; i < attempt && cap < p->max_delay_ms; i++)
        cap *= 2;
    if (cap > p->max_delay_ms)
        cap = p->max_delay_ms;
    uint32_t r = 0;
    rb_random_bytes(&r, sizeof r);
    return (long)((uint64_t)r % (uint64_t)(cap + 1)); /* full jitter */
}

rb_status rb_az_send(rb_http_engine *eng, rb_az_auth *auth, const rb_http_request *req,
                     const rb_az_call_opts *opts, rb_http_response **out, rb_az_err *err)
{
    *out = NULL;
    rb_az_call_opts o = {0};
    if (opts)
        o = *opts;
    rb_retry_policy pol = {0};
    if (o.retry)
        pol = *o.retry;
    if (pol.max_attempts <= 0)
        pol.max_attempts = 8;
    if (pol.base_delay_ms <= 0)
        pol.base_delay_ms = 800;
    if (pol.max_delay_ms <= 0)
        pol.max_delay_ms = 60000;
    long deadline_ms = o.deadline_ms > 0 ? o.deadline_ms : 120000;
    long try_ms = o.try_timeout_ms > 0 ? o.try_timeout_ms : 60000;
    int64_t deadline = rb_now_ms() + deadline_ms;
    int if_none_match = 0;
    for (const char *const *p = req->headers; p && *p; p++) {
        const char *v = rb_header_value(*p, "If-None-Match");
        if (v && strcmp(v, "*") == 0)
            if_none_match = 1;
    }
    char reqid[40];
    request_id(reqid);

    int challenged = 0;
    rb_az_err last;
    rb_az_err_clear(&last);
    for (int attempt = 1;; attempt++) {
        if (o.cancel && atomic_load(o.cancel))
            return rb_az_fail(err, RB_ECANCELED, "%s request cancelled", req->method);
        rb_strv hdrs = {0};
        rb_status st = RB_OK;
        for (const char *const *p = req->headers; p && *p && st == RB_OK; p++)
            st = rb_strv_add(&hdrs, *p);
        if (st == RB_OK)
            st = rb_strv_addf(&hdrs, "x-ms-client-request-id: %s", reqid);
        if (st != RB_OK) {
            rb_strv_free(&hdrs);
            return rb_az_fail(err, RB_ENOMEM, "out of memory");
        }
        st = auth_apply(auth, req, &hdrs, err);
        if (st != RB_OK) {
            rb_strv_free(&hdrs);
            return st;
        }
        int64_t left = deadline - rb_now_ms();
        if (left <= 0) {
            rb_strv_free(&hdrs);
            return rb_az_fail(err, RB_ETIMEDOUT, "%s: deadline of %ld ms passed after %d attempts%s%s",
                              req->method, deadline_ms, attempt - 1, last.msg[0] ? "; last: " : "",
                              last.msg);
        }
        rb_http_request r = *req;
        r.headers = (const char *const *)hdrs.v;
        r.timeout_ms = (long)(left < try_ms ? left : try_ms);
        r.cancel = o.cancel;
        r.max_body_bytes = o.max_body_bytes;
        rb_http_response *resp = NULL;
        rb_az_err e;
        rb_az_err_clear(&e);
        st = rb_http_send(eng, &r, &resp, &e);
        rb_strv_free(&hdrs);
        long wait = -1;
        if (st == RB_OK) {
            if (resp->status < 400) {
                *out = resp;
                if (err) {
                    rb_az_err_clear(err);
                    err->http_status = (int)resp->status;
                }
                return RB_OK;
            }
            if (resp->status == 401 && auth && auth->kind == AUTH_BEARER && auth->challenge &&
                !challenged) {
                const char *wa = rb_http_response_header(resp, "WWW-Authenticate");
                char *scope = NULL, *tenant = NULL;
                if (wa && parse_challenge(wa, &scope, &tenant)) {
                    pthread_mutex_lock(&auth->lock);
                    free(auth->challenge_scope);
                    free(auth->challenge_tenant);
                    auth->challenge_scope = scope;
                    auth->challenge_tenant = tenant;
                    pthread_mutex_unlock(&auth->lock);
                    challenged = 1;
                    rb_http_response_free(resp);
                    attempt--;
                    continue;
                }
                free(scope);
                free(tenant);
            }
            if (resp->status == 401 && auth && auth->kind == AUTH_BEARER && !challenged) {
                /* A token revoked or expired before its time: drop the
                 * cache and try once more with a fresh one. */
                rb_cred_invalidate(auth->cred);
                challenged = 1;
                rb_http_response_free(resp);
                attempt--;
                continue;
            }
            rb_status hs = rb_az_http_error(resp, req->method, req->url, if_none_match, &e);
            if (!retryable_status(resp->status) || attempt >= pol.max_attempts) {
                if (err)
                    *err = e;
                *out = resp;
                if (retryable_status(resp->status))
                    rb_az_fail(err, hs, "%s (gave up after %d attempts)", e.msg, attempt);
                return hs;
            }
            wait = rb_az_retry_after_ms(resp);
            rb_http_response_free(resp);
        } else if (!(st == RB_ERETRY ||
                     (st == RB_ETIMEDOUT && rb_now_ms() < deadline - 10)) ||
                   attempt >= pol.max_attempts) {
            /* Transport failures and an attempt's own timeout (the call's
             * deadline not reached) are retried; the rest is final. */
            if (err)
                *err = e;
            if (st == RB_ETIMEDOUT && rb_now_ms() >= deadline)
                return rb_az_fail(err, RB_ETIMEDOUT, "%s (deadline of %ld ms, attempt %d)", e.msg,
                                  deadline_ms, attempt);
            return st;
        }
        last = e;
        if (wait < 0)
            wait = backoff_ms(&pol, attempt);
        if (rb_now_ms() + wait >= deadline)
            return rb_az_fail(err, RB_ETIMEDOUT,
                              "%s: gave up after %d attempts: the next retry (in %ld ms) would pass "
                              "the %ld ms deadline; last: %s",
                              req->method, attempt, wait, deadline_ms, last.msg);
        if (rb_sleep_ms(wait, o.cancel) != RB_OK)
            return rb_az_fail(err, RB_ECANCELED, "%s request cancelled", req->method);
    }
}
