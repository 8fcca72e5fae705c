/* Credentials and the token cache. See cred.h. The JWT client assertion
 * lives in jwt.c, the Azure CLI runner in cli.c. */
#include "cred.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cred_internal.h"
#include "internal.h"
#include "pipeline.h"
#include "redact.h"

#define REFRESH_MARGIN_S 300
#define MAX_TOKEN_RESPONSE (256u * 1024u)

typedef struct cache_entry {
    struct cache_entry *next;
    char *scope;
    char *tenant;   /* "" for the configured tenant */
    char *token;
    int64_t expires_on;
    int64_t refresh_at;
} cache_entry;

/* A token fetch in progress. Callers that need the same token meanwhile
 * wait for it instead of asking the authority too: a run that starts 1,000
 * Azure steps at once fetches one token, not hundreds. */
typedef struct flight {
    struct flight *next;
    const char *scope;  /* the fetcher's arguments, valid while linked */
    const char *tenant;
    int done;
    int waiters;
    rb_status st;
    rb_az_err err;
} flight;

struct rb_cred {
    rb_cred_kind kind;   /* as configured */
    rb_cred_kind chosen; /* the chain's pick, or kind */
    rb_http_engine *eng;
    const rb_cloud *cloud;
    char *tenant_id, *client_id, *client_secret, *cert_path, *federated_token_file;
    char *identity_endpoint, *identity_header, *token_file, *az_path, *authority;
    long probe_timeout_ms;
    pthread_mutex_t lock;
    cache_entry *cache;
    flight *flights;
    pthread_cond_t flight_cv;
    uint64_t fetched, cached;
};

static const char *kind_names[] = {"default",          "client-secret", "client-certificate",
                                   "workload-identity", "managed-identity", "azure-cli",
                                   "token-file"};

const char *rb_cred_kind_name(const rb_cred *c)
{
    return kind_names[c->chosen];
}

static char *opt_or_env(const char *v, const char *env)
{
    if (v && *v)
        return strdup(v);
    const char *e = env ? getenv(env) : NULL;
    return e && *e ? strdup(e) : NULL;
}

void rb_cred_free(rb_cred *c)
{
    if (!c)
        return;
    rb_cred_invalidate(c);
    free(c->tenant_id);
    free(c->client_id);
    if (c->client_secret)
        memset(c->client_secret, 0, strlen(c->client_secret));
    free(c->client_secret);
    free(c->cert_path);
    free(c->federated_token_file);
    free(c->identity_endpoint);
    free(c->identity_header);
    free(c->token_file);
    free(c->az_path);
    free(c->authority);
    pthread_cond_destroy(&c->flight_cv);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void rb_cred_invalidate(rb_cred *c)
{
    pthread_mutex_lock(&c->lock);
    cache_entry *e = c->cache;
    c->cache = NULL;
    pthread_mutex_unlock(&c->lock);
    while (e) {
        cache_entry *n = e->next;
        free(e->scope);
        free(e->tenant);
        free(e->token);
        free(e);
        e = n;
    }
}

void rb_cred_stats(const rb_cred *c, uint64_t *fetched, uint64_t *cached)
{
    pthread_mutex_lock((pthread_mutex_t *)&c->lock);
    if (fetched)
        *fetched = c->fetched;
    if (cached)
        *cached = c->cached;
    pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
}

static int has_env_secret(const rb_cred *c)
{
    return c->tenant_id && c->client_id && c->client_secret;
}
static int has_env_cert(const rb_cred *c)
{
    return c->tenant_id && c->client_id && c->cert_path;
}
static int has_workload(const rb_cred *c)
{
    return c->tenant_id && c->client_id && c->federated_token_file;
}

rb_status rb_cred_new(rb_cred **out, rb_http_engine *eng, const rb_cloud *cloud,
                      const rb_cred_options *opts, rb_az_err *err)
{
    *out = NULL;
    rb_cred_options o = {0};
    if (opts)
        o = *opts;
    rb_cred *c = calloc(1, sizeof *c);
    if (!c)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->flight_cv, NULL);
    c->kind = c->chosen = o.kind;
    c->eng = eng;
    c->cloud = cloud;
    c->tenant_id = opt_or_env(o.tenant_id, "AZURE_TENANT_ID");
    c->client_id = opt_or_env(o.client_id, "AZURE_CLIENT_ID");
    c->client_secret = opt_or_env(o.client_secret, "AZURE_CLIENT_SECRET");
    c->cert_path = opt_or_env(o.cert_path, "AZURE_CLIENT_CERTIFICATE_PATH");
    c->federated_token_file = opt_or_env(o.federated_token_file, "AZURE_FEDERATED_TOKEN_FILE");
    c->identity_endpoint = opt_or_env(o.identity_endpoint, "IDENTITY_ENDPOINT");
    c->identity_header = opt_or_env(o.identity_header, "IDENTITY_HEADER");
    c->token_file = opt_or_env(o.token_file, "REBOUND_AZURE_TOKEN_FILE");
    c->az_path = opt_or_env(o.az_path, NULL);
    /* AZURE_AUTHORITY_HOST wins over the cloud preset, as in the SDKs. */
    c->authority = opt_or_env(NULL, "AZURE_AUTHORITY_HOST");
    if (!c->authority)
        c->authority = strdup(cloud->authority_host);
    if (c->authority) {
        size_t n = strlen(c->authority);
        while (n && c->authority[n - 1] == '/')
            c->authority[--n] = '\0';
    }
    c->probe_timeout_ms = o.probe_timeout_ms > 0 ? o.probe_timeout_ms : 1000;
    rb_redact_register(c->client_secret);
    rb_redact_register(c->identity_header);

    const char *missing = NULL;
    switch (c->kind) {
    case RB_CRED_CLIENT_SECRET:
        if (!has_env_secret(c))
            missing = "tenant id, client id and client secret (AZURE_TENANT_ID, AZURE_CLIENT_ID, "
                      "AZURE_CLIENT_SECRET)";
        break;
    case RB_CRED_CLIENT_CERT:
        if (!has_env_cert(c))
            missing = "tenant id, client id and certificate path (AZURE_CLIENT_CERTIFICATE_PATH)";
        break;
    case RB_CRED_WORKLOAD:
        if (!has_workload(c))
            missing = "tenant id, client id and federated token file (AZURE_FEDERATED_TOKEN_FILE)";
        break;
    case RB_CRED_TOKEN_FILE:
        if (!c->token_file)
            missing = "a token file (REBOUND_AZURE_TOKEN_FILE)";
        break;
    default:
        break;
    }
    if (missing) {
        rb_status st = rb_az_fail(err, RB_EAUTH, "%s credential needs %s", kind_names[c->kind],
                                  missing);
        rb_cred_free(c);
        return st;
    }
    if (!c->authority) {
        rb_cred_free(c);
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
    *out = c;
    return RB_OK;
}

/* ---- token responses ---------------------------------------------------- */

static int64_t json_int(const cJSON *j)
{
    if (cJSON_IsNumber(j))
        return (int64_t)j->valuedouble;
    if (cJSON_IsString(j) && j->valuestring[0]) {
        char *end;
        long long v = strtoll(j->valuestring, &end, 10);
        if (*end == '\0')
            return v;
    }
    return -1;
}

/* Parses {access_token, expires_in | expires_on}. */
static rb_status parse_token_json(const rb_http_response *resp, const char *what, char **tok,
                                  int64_t *exp, rb_az_err *err)
{
    const char *ct = rb_http_response_header(resp, "Content-Type");
    if (ct && !strstr(ct, "json"))
        return rb_az_fail(err, RB_EPROTO, "%s: token response has content type %s, not JSON", what,
                          ct);
    cJSON *j = cJSON_ParseWithLength(resp->body, resp->body_len);
    if (!j)
        return rb_az_fail(err, RB_EPROTO, "%s: token response is not valid JSON", what);
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(j, "access_token");
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(j, "token_type");
    int64_t in = json_int(cJSON_GetObjectItemCaseSensitive(j, "expires_in"));
    int64_t on = json_int(cJSON_GetObjectItemCaseSensitive(j, "expires_on"));
    rb_status st = RB_OK;
    if (!cJSON_IsString(at) || !at->valuestring[0]) {
        st = rb_az_fail(err, RB_EPROTO, "%s: token response has no access_token", what);
    } else if (cJSON_IsString(tt) && strcasecmp(tt->valuestring, "Bearer") != 0) {
        rb_redact_register(at->valuestring);
        st = rb_az_fail(err, RB_EPROTO, "%s: token type %s is not Bearer", what, tt->valuestring);
    } else if (in < 0 && on < 0) {
        rb_redact_register(at->valuestring);
        st = rb_az_fail(err, RB_EPROTO, "%s: token response has no expiry", what);
    } else {
        rb_redact_register(at->valuestring);
        *tok = strdup(at->valuestring);
        *exp = on > 0 ? on : rb_wall_s() + in;
        if (!*tok)
            st = rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
    cJSON_Delete(j);
    return st;
}

static rb_status token_request(rb_cred *c, const char *method, const char *url,
                               const char *const *headers, const char *body, long deadline_ms,
                               int attempts, const char *what, char **tok, int64_t *exp,
                               rb_az_err *err)
{
    rb_http_request req = {.method = method,
                           .url = url,
                           .headers = headers,
                           .body = body,
                           .body_len = body ? strlen(body) : 0,
                           .max_body_bytes = MAX_TOKEN_RESPONSE};
    rb_retry_policy pol = {.max_attempts = attempts, .base_delay_ms = 500};
    rb_az_call_opts o = {.deadline_ms = deadline_ms, .retry = &pol};
    rb_http_response *resp = NULL;
    rb_status st = rb_az_send(c->eng, NULL, &req, &o, &resp, err);
    if (st == RB_OK) {
        st = parse_token_json(resp, what, tok, exp, err);
    } else if (resp && (resp->status == 400 || resp->status == 401 || resp->status == 403)) {
        /* Token services answer bad credentials with 400/401. */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        st = rb_az_fail(err, RB_EAUTH, "%s rejected: %s", what, msg);
    }
    rb_http_response_free(resp);
    return st;
}

/* Form field: name=escaped(value)&. */
static void form_add(rb_azbuf *b, const char *name, const char *value)
{
    char *e = rb_url_escape(value);
    rb_azbuf_printf(b, "%s%s=%s", b->len ? "&" : "", name, e ? e : "");
    free(e);
}

static rb_status fetch_entra(rb_cred *c, rb_cred_kind kind, const char *scope, const char *tenant,
                             char **tok, int64_t *exp, rb_az_err *err)
{
    const char *t = tenant && *tenant ? tenant : c->tenant_id;
    rb_azbuf url = {0};
    rb_azbuf_printf(&url, "%s/%s/oauth2/v2.0/token", c->authority, t);
    rb_azbuf body = {0};
    form_add(&body, "grant_type", "client_credentials");
    form_add(&body, "client_id", c->client_id);
    form_add(&body, "scope", scope);
    rb_status st = RB_OK;
    char *assertion = NULL;
    if (kind == RB_CRED_CLIENT_SECRET) {
        form_add(&body, "client_secret", c->client_secret);
    } else {
        if (kind == RB_CRED_CLIENT_CERT) {
            st = rb_jwt_client_assertion(c->cert_path, c->client_id, url.data, &assertion, err);
        } else {
            size_t n = 0;
            st = rb_read_file(c->federated_token_file, 64 * 1024, &assertion, &n, err);
            if (st == RB_OK) {
                while (n && (assertion[n - 1] == '\n' || assertion[n - 1] == '\r' ||
                             assertion[n - 1] == ' '))
                    assertion[--n] = '\0';
                if (!n)
                    st = rb_az_fail(err, RB_EAUTH, "the federated token file is empty");
            }
        }
        if (st == RB_OK) {
            rb_redact_register(assertion);
            form_add(&body, "client_assertion_type",
                     "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
            form_add(&body, "client_assertion", assertion);
        }
    }
    if (st == RB_OK) {
        const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
                              "Accept: application/json", NULL};
        st = token_request(c, "POST", url.data, hdrs, body.data, 30000, 3, kind_names[kind], tok,
                           exp, err);
    }
    free(assertion);
    if (body.data)
        memset(body.data, 0, body.len);
    rb_azbuf_free(&body);
    rb_azbuf_free(&url);
    return st;
}

/* "https://vault.azure.net/.default" -> "https://vault.azure.net" */
static char *scope_to_resource(const char *scope)
{
    char *r = strdup(scope);
    if (!r)
        return NULL;
    size_t n = strlen(r);
    if (n >= 9 && strcmp(r + n - 9, "/.default") == 0)
        r[n - 9] = '\0';
    return r;
}

static rb_status fetch_managed(rb_cred *c, const char *scope, int probing, char **tok,
                               int64_t *exp, rb_az_err *err)
{
    char *resource = scope_to_resource(scope);
    char *res_e = resource ? rb_url_escape(resource) : NULL;
    free(resource);
    if (!res_e)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    rb_azbuf url = {0};
    rb_strv hdrs = {0};
    if (c->identity_endpoint) {
        rb_azbuf_printf(&url, "%s%sapi-version=2019-08-01&resource=%s", c->identity_endpoint,
                      strchr(c->identity_endpoint, '?') ? "&" : "?", res_e);
        rb_strv_addf(&hdrs, "X-IDENTITY-HEADER: %s", c->identity_header ? c->identity_header : "");
    } else {
        rb_azbuf_printf(&url, "%s%sapi-version=2018-02-01&resource=%s", c->cloud->imds_endpoint,
                      strchr(c->cloud->imds_endpoint, '?') ? "&" : "?", res_e);
        rb_strv_add(&hdrs, "Metadata: true");
    }
    if (c->client_id) {
        char *cid = rb_url_escape(c->client_id);
        rb_azbuf_printf(&url, "&client_id=%s", cid ? cid : "");
        free(cid);
    }
    free(res_e);
    /* Inside the chain a missing IMDS must fail fast: one short attempt. */
    rb_status st = token_request(c, "GET", url.data, (const char *const *)hdrs.v, NULL,
                                 probing ? c->probe_timeout_ms : 30000, probing ? 1 : 5,
                                 "managed identity", tok, exp, err);
    rb_azbuf_free(&url);
    rb_strv_free(&hdrs);
    return st;
}

static rb_status fetch_token_file(rb_cred *c, char **tok, int64_t *exp, rb_az_err *err)
{
    char *data = NULL;
    size_t n = 0;
    rb_status st = rb_read_file(c->token_file, 64 * 1024, &data, &n, err);
    if (st != RB_OK)
        return rb_az_fail(err, RB_EAUTH, "token file: %s", err ? err->msg : "unreadable");
    while (n && (data[n - 1] == '\n' || data[n - 1] == '\r' || data[n - 1] == ' '))
        data[--n] = '\0';
    if (!n) {
        free(data);
        return rb_az_fail(err, RB_EAUTH, "token file %s is empty", c->token_file);
    }
    rb_redact_register(data);
    *tok = data;
    /* A JWT says when it expires; anything else is re-read every minute. */
    *exp = rb_jwt_expiry(data);
    if (*exp <= 0)
        *exp = rb_wall_s() + 3600;
    return RB_OK;
}

static rb_status fetch_kind(rb_cred *c, rb_cred_kind kind, const char *scope, const char *tenant,
                            int probing, char **tok, int64_t *exp, rb_az_err *err)
{
    switch (kind) {
    case RB_CRED_CLIENT_SECRET:
    case RB_CRED_CLIENT_CERT:
    case RB_CRED_WORKLOAD:
        return fetch_entra(c, kind, scope, tenant, tok, exp, err);
    case RB_CRED_MANAGED_IDENTITY:
        return fetch_managed(c, scope, probing, tok, exp, err);
    case RB_CRED_AZURE_CLI: {
        char *resource = scope_to_resource(scope);
        if (!resource)
            return rb_az_fail(err, RB_ENOMEM, "out of memory");
        rb_status st = rb_cli_get_token(c->az_path ? c->az_path : "az", resource,
                                        tenant && *tenant ? tenant : NULL, tok, exp, err);
        free(resource);
        return st;
    }
    case RB_CRED_TOKEN_FILE:
        return fetch_token_file(c, tok, exp, err);
    default:
        return rb_az_fail(err, RB_EINVAL, "unknown credential kind");
    }
}

static int az_on_path(const rb_cred *c)
{
    if (c->az_path)
        return access(c->az_path, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    char *p = strdup(path), *save = NULL;
    int found = 0;
    for (char *d = p ? strtok_r(p, ":", &save) : NULL; d && !found; d = strtok_r(NULL, ":", &save)) {
        rb_azbuf b = {0};
        rb_azbuf_printf(&b, "%s/az", d);
        found = b.data && access(b.data, X_OK) == 0;
        rb_azbuf_free(&b);
    }
    free(p);
    return found;
}

/* DefaultAzureCredential's order. A configured credential that is rejected
 * ends the chain (its error is the useful one); one that is merely
 * unavailable lets the next try. */
static rb_status fetch_chain(rb_cred *c, const char *scope, const char *tenant, char **tok,
                             int64_t *exp, rb_az_err *err)
{
    rb_cred_kind order[8];
    int n = 0;
    if (has_env_secret(c))
        order[n++] = RB_CRED_CLIENT_SECRET;
    else if (has_env_cert(c))
        order[n++] = RB_CRED_CLIENT_CERT;
    if (has_workload(c))
        order[n++] = RB_CRED_WORKLOAD;
    if (c->token_file)
        order[n++] = RB_CRED_TOKEN_FILE;
    order[n++] = RB_CRED_MANAGED_IDENTITY;
    if (az_on_path(c))
        order[n++] = RB_CRED_AZURE_CLI;
    rb_azbuf why = {0};
    for (int i = 0; i < n; i++) {
        rb_az_err e;
        rb_az_err_clear(&e);
        rb_status st = fetch_kind(c, order[i], scope, tenant, 1, tok, exp, &e);
        if (st == RB_OK) {
            pthread_mutex_lock(&c->lock);
            c->chosen = order[i];
            pthread_mutex_unlock(&c->lock);
            rb_azbuf_free(&why);
            return RB_OK;
        }
        int unavailable = order[i] == RB_CRED_MANAGED_IDENTITY || order[i] == RB_CRED_AZURE_CLI;
        if (!unavailable && st == RB_EAUTH) {
            if (err)
                *err = e;
            rb_azbuf_free(&why);
            return st;
        }
        rb_azbuf_printf(&why, "%s%s: %s", why.len ? "; " : "", kind_names[order[i]], e.msg);
    }
    rb_status st = rb_az_fail(err, RB_EAUTH, "no credential in the default chain worked: %s",
                              why.data ? why.data : "nothing configured");
    rb_azbuf_free(&why);
    return st;
}

static cache_entry *find_entry(rb_cred *c, const char *scope, const char *tkey)
{
    cache_entry *hit = NULL;
    for (cache_entry *e = c->cache; e; e = e->next)
        if (strcmp(e->scope, scope) == 0 && strcmp(e->tenant, tkey) == 0)
            hit = e;
    return hit;
}

/* With c->lock held; releases it. */
static rb_status cached_token(rb_cred *c, cache_entry *hit, char **token, int64_t *expires_on,
                              rb_az_err *err)
{
    *token = strdup(hit->token);
    if (expires_on)
        *expires_on = hit->expires_on;
    c->cached++;
    pthread_mutex_unlock(&c->lock);
    return *token ? RB_OK : rb_az_fail(err, RB_ENOMEM, "out of memory");
}

/* With c->lock held: the fetch of f ended with st; wake its waiters. The
 * cache is updated before the lock is released, so they find the token. */
static void flight_land(rb_cred *c, flight *f, rb_status st, const rb_az_err *err)
{
    if (!f)
        return;
    for (flight **pp = &c->flights; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    f->st = st;
    if (st != RB_OK && err)
        f->err = *err;
    else if (st != RB_OK)
        rb_az_fail(&f->err, st, "fetching a token failed");
    f->done = 1;
    if (f->waiters)
        pthread_cond_broadcast(&c->flight_cv);
    else
        free(f);
}

rb_status rb_cred_get_token(rb_cred *c, const char *scope, const char *tenant, char **token,
                            int64_t *expires_on, rb_az_err *err)
{
    *token = NULL;
    if (!scope || !*scope)
        return rb_az_fail(err, RB_EINVAL, "a token needs a scope");
    const char *tkey = tenant ? tenant : "";
    int64_t now = rb_wall_s();
    pthread_mutex_lock(&c->lock);
    cache_entry *hit = NULL;
    flight *f = NULL;
    for (;;) {
        hit = find_entry(c, scope, tkey);
        if (hit && now < hit->refresh_at)
            return cached_token(c, hit, token, expires_on, err);
        for (f = c->flights; f; f = f->next)
            if (strcmp(f->scope, scope) == 0 && strcmp(f->tenant, tkey) == 0)
                break;
        if (!f)
            break;
        /* Another caller is fetching this token: a cached one that is
         * still valid serves meanwhile; otherwise wait for the fetch. */
        if (hit && hit->expires_on > now + 30)
            return cached_token(c, hit, token, expires_on, err);
        f->waiters++;
        while (!f->done)
            pthread_cond_wait(&c->flight_cv, &c->lock);
        f->waiters--;
        rb_status fst = f->st;
        if (fst != RB_OK && err)
            *err = f->err;
        if (f->waiters == 0)
            free(f);
        if (fst != RB_OK) {
            pthread_mutex_unlock(&c->lock);
            return fst;
        }
        now = rb_wall_s();
        hit = find_entry(c, scope, tkey);
        if (hit && hit->token && hit->expires_on > now)
            return cached_token(c, hit, token, expires_on, err);
        /* gone again (invalidated meanwhile): fetch it ourselves */
    }
    f = calloc(1, sizeof *f);
    if (f) {
        f->scope = scope;
        f->tenant = tkey;
        f->next = c->flights;
        c->flights = f;
    }
    rb_cred_kind kind = c->chosen;
    pthread_mutex_unlock(&c->lock);

    char *tok = NULL;
    int64_t exp = 0;
    rb_status st = kind == RB_CRED_DEFAULT ? fetch_chain(c, scope, tenant, &tok, &exp, err)
                                           : fetch_kind(c, kind, scope, tenant, 0, &tok, &exp, err);
    pthread_mutex_lock(&c->lock);
    flight_land(c, f, st, err);
    if (st != RB_OK) {
        /* A refresh failed: a token that is still valid keeps serving. */
        if (hit) {
            for (cache_entry *e = c->cache; e; e = e->next)
                if (e == hit && hit->expires_on > now + 30) {
                    *token = strdup(hit->token);
                    if (expires_on)
                        *expires_on = hit->expires_on;
                    c->cached++;
                    pthread_mutex_unlock(&c->lock);
                    return *token ? RB_OK : st;
                }
        }
        pthread_mutex_unlock(&c->lock);
        return st;
    }
    c->fetched++;
    int64_t life = exp - now;
    int64_t margin = life / 2 < REFRESH_MARGIN_S ? life / 2 : REFRESH_MARGIN_S;
    if (margin < 0)
        margin = 0;
    int64_t refresh_at = exp - margin;
    if (c->chosen == RB_CRED_TOKEN_FILE && refresh_at > now + 60)
        refresh_at = now + 60;
    cache_entry *e = NULL;
    for (cache_entry *x = c->cache; x; x = x->next)
        if (strcmp(x->scope, scope) == 0 && strcmp(x->tenant, tkey) == 0)
            e = x;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (e) {
            e->scope = strdup(scope);
            e->tenant = strdup(tkey);
            if (!e->scope || !e->tenant) {
                free(e->scope);
                free(e->tenant);
                free(e);
                e = NULL;
            } else {
                e->next = c->cache;
                c->cache = e;
            }
        }
    }
    if (e) {
        char *copy = strdup(tok);
        if (copy) {
            free(e->token);
            e->token = copy;
            e->expires_on = exp;
            e->refresh_at = refresh_at;
        }
    }
    pthread_mutex_unlock(&c->lock);
    *token = tok;
    if (expires_on)
        *expires_on = exp;
    return RB_OK;
}
