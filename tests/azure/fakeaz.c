/* See fakeaz.h. */
#include "fakeaz.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "tsrv.h"

#define MAX_SCRIPTS 64
#define MAX_TOKENS 1024

struct script {
    char key[8300];
    fakeaz_step steps[16];
    int n;
    int next;
    int count;
    long long last_ms;
    long long first_ms;
};

static struct {
    pthread_mutex_t lock;
    tsrv *srv;
    char base[64];
    int lifetime;
    int issued;
    char last_tenant[256];
    char last_scope[512];
    char *tokens[MAX_TOKENS];
    char *tok_scope[MAX_TOKENS];
    char *tok_tenant[MAX_TOKENS];
    int ntokens;
    struct script scripts[MAX_SCRIPTS];
    int nscripts;
    X509 *cert;
} F = {.lock = PTHREAD_MUTEX_INITIALIZER};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Value of name in a form or query string; caller frees. */
static char *form_get(const char *form, const char *name)
{
    size_t n = strlen(name);
    const char *p = form;
    while (p && *p) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            const char *v = p + n + 1;
            size_t len = strcspn(v, "&");
            int outlen = 0;
            char *d = curl_easy_unescape(NULL, v, (int)len, &outlen);
            char *r = strndup(d, (size_t)outlen);
            curl_free(d);
            return r;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return NULL;
}

static char *issue(const char *kind, const char *tenant, const char *scope)
{
    pthread_mutex_lock(&F.lock);
    char *t = malloc(128);
    snprintf(t, 128, TU_TOKEN_PREFIX "-%s-%d", kind, ++F.issued);
    if (F.ntokens < MAX_TOKENS) {
        F.tokens[F.ntokens] = strdup(t);
        F.tok_scope[F.ntokens] = strdup(scope ? scope : "");
        F.tok_tenant[F.ntokens] = strdup(tenant ? tenant : "");
        F.ntokens++;
    }
    snprintf(F.last_tenant, sizeof F.last_tenant, "%s", tenant ? tenant : "");
    snprintf(F.last_scope, sizeof F.last_scope, "%s", scope ? scope : "");
    pthread_mutex_unlock(&F.lock);
    return t;
}

/* Index of a known bearer token in the request, or -1. */
static int bearer(const tsrv_req *r)
{
    const char *a = tsrv_header(r, "Authorization");
    if (!a || strncmp(a, "Bearer ", 7) != 0)
        return -1;
    int found = -1;
    pthread_mutex_lock(&F.lock);
    for (int i = 0; i < F.ntokens; i++)
        if (strcmp(F.tokens[i], a + 7) == 0)
            found = i;
    pthread_mutex_unlock(&F.lock);
    return found;
}

static void token_reply(int fd, const char *tok, int with_expires_on)
{
    char body[512];
    if (with_expires_on)
        snprintf(body, sizeof body,
                 "{\"access_token\":\"%s\",\"expires_on\":\"%lld\",\"token_type\":\"Bearer\"}", tok,
                 (long long)time(NULL) + F.lifetime);
    else
        snprintf(body, sizeof body,
                 "{\"token_type\":\"Bearer\",\"access_token\":\"%s\",\"expires_in\":%d}", tok,
                 F.lifetime);
    tsrv_reply(fd, 200, NULL, "application/json; charset=utf-8", body);
}

static unsigned char *b64url_dec(const char *s, size_t n, size_t *out_len)
{
    char *t = malloc(n + 4);
    size_t i;
    for (i = 0; i < n; i++)
        t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    while (i % 4)
        t[i++] = '=';
    t[i] = '\0';
    /* +1: callers read the result as a C string (JSON header/payload) */
    unsigned char *o = malloc(i + 1);
    int len = EVP_DecodeBlock(o, (unsigned char *)t, (int)i);
    size_t pad = 0;
    while (i > 0 && t[i - 1] == '=' && pad < 2) {
        pad++;
        i--;
    }
    free(t);
    *out_len = len > 0 ? (size_t)len - pad : 0;
    o[*out_len] = '\0';
    return o;
}

/* Verifies a PS256 client assertion against the configured certificate and
 * its x5t#S256 thumbprint. */
static int assertion_ok(const char *jwt, const char *client_id)
{
    if (!F.cert)
        return 0;
    const char *d1 = strchr(jwt, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2)
        return 0;
    size_t hl, pl, sl;
    unsigned char *h = b64url_dec(jwt, (size_t)(d1 - jwt), &hl);
    unsigned char *p = b64url_dec(d1 + 1, (size_t)(d2 - d1 - 1), &pl);
    unsigned char *sig = b64url_dec(d2 + 1, strlen(d2 + 1), &sl);
    int ok = 0;
    /* thumbprint */
    unsigned char *der = NULL;
    int dl = i2d_X509(F.cert, &der);
    unsigned char md[32];
    unsigned int ml;
    EVP_Digest(der, (size_t)dl, md, &ml, EVP_sha256(), NULL);
    OPENSSL_free(der);
    char b64[64];
    EVP_EncodeBlock((unsigned char *)b64, md, 32);
    for (char *c = b64; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    char *eq = strchr(b64, '=');
    if (eq)
        *eq = '\0';
    char want[128];
    snprintf(want, sizeof want, "\"x5t#S256\":\"%s\"", b64);
    char iss[256];
    snprintf(iss, sizeof iss, "\"iss\":\"%s\"", client_id ? client_id : "");
    if (strstr((char *)h, "\"alg\":\"PS256\"") && strstr((char *)h, want) &&
        strstr((char *)p, iss)) {
        EVP_PKEY *pub = X509_get_pubkey(F.cert);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        if (EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pub) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
            EVP_DigestVerify(ctx, sig, sl, (const unsigned char *)jwt, (size_t)(d2 - jwt)) == 1)
            ok = 1;
        EVP_MD_CTX_free(ctx);
        EVP_PKEY_free(pub);
    }
    free(h);
    free(p);
    free(sig);
    return ok;
}

static char *subst(const char *s)
{
    if (!s)
        return NULL;
    size_t cap = strlen(s) * 2 + 256;
    char *o = malloc(cap);
    size_t n = 0;
    while (*s) {
        if (strncmp(s, "%BASE%", 6) == 0) {
            n += (size_t)snprintf(o + n, cap - n, "%s", F.base);
            s += 6;
        } else {
            o[n++] = *s++;
        }
    }
    o[n] = '\0';
    return o;
}

static int handle_token(const tsrv_req *r, int fd)
{
    /* /{tenant}/oauth2/v2.0/token */
    char tenant[256] = "";
    sscanf(r->target, "/%255[^/]", tenant);
    char *grant = form_get(r->body, "grant_type");
    char *cid = form_get(r->body, "client_id");
    char *scope = form_get(r->body, "scope");
    char *secret = form_get(r->body, "client_secret");
    char *assertion = form_get(r->body, "client_assertion");
    const char *kind = NULL;
    if (grant && strcmp(grant, "client_credentials") == 0 && scope) {
        if (secret && strcmp(secret, TU_CLIENT_SECRET) == 0)
            kind = "secret";
        else if (assertion && strcmp(assertion, TU_FEDERATED) == 0)
            kind = "workload";
        else if (assertion && assertion_ok(assertion, cid))
            kind = "cert";
    }
    if (kind) {
        char *t = issue(kind, tenant, scope);
        token_reply(fd, t, 0);
        free(t);
    } else {
        tsrv_reply(fd, 401, NULL, "application/json",
                   "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid "
                   "client secret provided.\"}");
    }
    free(grant);
    free(cid);
    free(scope);
    free(secret);
    free(assertion);
    return TSRV_KEEP;
}

static int handler(void *user, const tsrv_req *r, int fd)
{
    char path[8192];
    snprintf(path, sizeof path, "%s", r->target);
    char *q = strchr(path, '?');
    const char *query = "";
    if (q) {
        *q = '\0';
        query = r->target + (q - path) + 1;
    }
    if (strcmp(r->method, "POST") == 0 && strstr(path, "/oauth2/v2.0/token"))
        return handle_token(r, fd);
    if (strcmp(path, "/metadata/identity/oauth2/token") == 0) {
        const char *m = tsrv_header(r, "Metadata");
        char *res = form_get(query, "resource");
        if (!m || strcmp(m, "true") != 0 || !res) {
            tsrv_reply(fd, 400, NULL, "application/json",
                       "{\"error\":\"invalid_request\",\"error_description\":\"Required metadata "
                       "header not specified\"}");
        } else {
            char *t = issue("mi", "", res);
            token_reply(fd, t, 1);
            free(t);
        }
        free(res);
        return TSRV_KEEP;
    }
    if (strcmp(path, "/msi/token") == 0) {
        const char *h = tsrv_header(r, "X-IDENTITY-HEADER");
        char *res = form_get(query, "resource");
        if (!h || strcmp(h, TU_IDENTITY_HEADER) != 0 || !res) {
            tsrv_reply(fd, 401, NULL, "application/json", "{\"error\":\"unauthorized\"}");
        } else {
            char *t = issue("appsvc", "", res);
            token_reply(fd, t, 1);
            free(t);
        }
        free(res);
        return TSRV_KEEP;
    }
    if (strncmp(path, "/kv2/", 5) == 0) {
        /* The scope= form of the challenge, another tenant. */
        int i = bearer(r);
        int ok = 0;
        if (i >= 0) {
            pthread_mutex_lock(&F.lock);
            ok = strcmp(F.tok_scope[i], "https://vault.azure.net/.default") == 0 &&
                 strcmp(F.tok_tenant[i], "kvtenant2") == 0;
            pthread_mutex_unlock(&F.lock);
        }
        if (!ok) {
            char hdr[512];
            snprintf(hdr, sizeof hdr,
                     "WWW-Authenticate: Bearer authorization_uri=\"x\", authorization=\"%s/kvtenant2/\", "
                     "scope=\"https://vault.azure.net/.default\"\r\n",
                     F.base);
            tsrv_reply(fd, 401, hdr, "application/json", "{\"error\":{\"code\":\"Unauthorized\"}}");
        } else {
            tsrv_reply(fd, 200, NULL, "application/json", "{\"value\":\"v2\"}");
        }
        return TSRV_KEEP;
    }
    if (strncmp(path, "/kv/", 4) == 0) {
        /* Key Vault: a token for the vault resource from tenant kvtenant. */
        int i = bearer(r);
        int ok = 0;
        if (i >= 0) {
            pthread_mutex_lock(&F.lock);
            ok = strcmp(F.tok_scope[i], "https://vault.azure.net/.default") == 0 &&
                 strcmp(F.tok_tenant[i], "kvtenant") == 0;
            pthread_mutex_unlock(&F.lock);
        }
        if (!ok) {
            char hdr[512];
            snprintf(hdr, sizeof hdr,
                     "WWW-Authenticate: Bearer authorization=\"%s/kvtenant\", "
                     "resource=\"https://vault.azure.net\"\r\n",
                     F.base);
            tsrv_reply(fd, 401, hdr, "application/json",
                       "{\"error\":{\"code\":\"Unauthorized\",\"message\":\"AKV10000: Request is "
                       "missing a Bearer or PoP token.\"}}");
        } else {
            tsrv_reply(fd, 200, NULL, "application/json", "{\"value\":\"s3cret-value\"}");
        }
        return TSRV_KEEP;
    }
    /* scripted routes */
    char key[8300];
    snprintf(key, sizeof key, "%s %s", r->method, path);
    pthread_mutex_lock(&F.lock);
    struct script *s = NULL;
    for (int i = 0; i < F.nscripts; i++)
        if (strcmp(F.scripts[i].key, key) == 0)
            s = &F.scripts[i];
    fakeaz_step step = {0};
    if (s) {
        s->count++;
        s->last_ms = now_ms();
        if (s->count == 1)
            s->first_ms = s->last_ms;
        step = s->steps[s->next];
        if (s->next < s->n - 1)
            s->next++;
    }
    pthread_mutex_unlock(&F.lock);
    if (!s) {
        tsrv_reply(fd, 404, NULL, "application/json",
                   "{\"error\":{\"code\":\"NotScripted\",\"message\":\"no script\"}}");
        return TSRV_KEEP;
    }
    if (bearer(r) < 0) {
        tsrv_reply(fd, 401, NULL, "application/json",
                   "{\"error\":{\"code\":\"AuthenticationFailed\",\"message\":\"no token\"}}");
        return TSRV_KEEP;
    }
    if (step.status == 0)
        return TSRV_RESET;
    if (step.status == -2) {
        sleep(2);
        return TSRV_CLOSE;
    }
    char *h = subst(step.headers);
    char *b = subst(step.body);
    if (step.status == -1) {
        tsrv_write(fd, b, strlen(b));
        free(h);
        free(b);
        return TSRV_CLOSE;
    }
    tsrv_reply(fd, step.status, h, step.ctype, b);
    free(h);
    free(b);
    return TSRV_KEEP;
}

int fakeaz_start(const char *cert_path)
{
    F.lifetime = 3600;
    if (cert_path) {
        FILE *f = fopen(cert_path, "r");
        if (f) {
            F.cert = PEM_read_X509(f, NULL, NULL, NULL);
            fclose(f);
        }
    }
    F.srv = tsrv_start(handler, NULL);
    if (!F.srv)
        return -1;
    snprintf(F.base, sizeof F.base, "http://127.0.0.1:%d", tsrv_port(F.srv));
    return 0;
}

void fakeaz_stop(void)
{
    tsrv_stop(F.srv);
    F.srv = NULL;
    for (int i = 0; i < F.ntokens; i++) {
        free(F.tokens[i]);
        free(F.tok_scope[i]);
        free(F.tok_tenant[i]);
    }
    F.ntokens = 0;
    X509_free(F.cert);
    F.cert = NULL;
}

const char *fakeaz_base(void)
{
    return F.base;
}

void fakeaz_token_lifetime(int seconds)
{
    pthread_mutex_lock(&F.lock);
    F.lifetime = seconds;
    pthread_mutex_unlock(&F.lock);
}

int fakeaz_tokens_issued(void)
{
    pthread_mutex_lock(&F.lock);
    int n = F.issued;
    pthread_mutex_unlock(&F.lock);
    return n;
}

const char *fakeaz_last_tenant(void)
{
    return F.last_tenant;
}

const char *fakeaz_last_scope(void)
{
    return F.last_scope;
}

void fakeaz_script(const char *method, const char *path, const fakeaz_step *steps, int n)
{
    char key[8300];
    snprintf(key, sizeof key, "%s %s", method, path);
    pthread_mutex_lock(&F.lock);
    struct script *s = NULL;
    for (int i = 0; i < F.nscripts; i++)
        if (strcmp(F.scripts[i].key, key) == 0)
            s = &F.scripts[i];
    if (!s && F.nscripts < MAX_SCRIPTS)
        s = &F.scripts[F.nscripts++];
    if (s) {
        memset(s, 0, sizeof *s);
        snprintf(s->key, sizeof s->key, "%s", key);
        s->n = n > 16 ? 16 : n;
        memcpy(s->steps, steps, sizeof *steps * (size_t)s->n);
    }
    pthread_mutex_unlock(&F.lock);
}

int fakeaz_count(const char *method, const char *path)
{
    char key[8300];
    snprintf(key, sizeof key, "%s %s", method, path);
    int n = 0;
    pthread_mutex_lock(&F.lock);
    for (int i = 0; i < F.nscripts; i++)
        if (strcmp(F.scripts[i].key, key) == 0)
            n = F.scripts[i].count;
    pthread_mutex_unlock(&F.lock);
    return n;
}

long long fakeaz_last_ms(const char *method, const char *path)
{
    char key[8300];
    snprintf(key, sizeof key, "%s %s", method, path);
    long long n = 0;
    pthread_mutex_lock(&F.lock);
    for (int i = 0; i < F.nscripts; i++)
        if (strcmp(F.scripts[i].key, key) == 0)
            n = F.scripts[i].last_ms;
    pthread_mutex_unlock(&F.lock);
    return n;
}

long long fakeaz_first_ms(const char *method, const char *path)
{
    char key[8300];
    snprintf(key, sizeof key, "%s %s", method, path);
    long long n = 0;
    pthread_mutex_lock(&F.lock);
    for (int i = 0; i < F.nscripts; i++)
        if (strcmp(F.scripts[i].key, key) == 0)
            n = F.scripts[i].first_ms;
    pthread_mutex_unlock(&F.lock);
    return n;
}
