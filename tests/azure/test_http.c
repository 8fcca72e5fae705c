/* The HTTP engine: concurrency on one event loop, connection reuse,
 * timeouts, cancellation, size limits, malformed responses, the trace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "azure/http.h"
#include "azure/redact.h"
#include "testutil.h"
#include "tsrv.h"

typedef struct {
    char data[256];
    size_t len;
} sinkbuf;

static tsrv *g_srv;
static rb_http_engine *g_eng;
static char g_base[64];

static int handler(void *user, const tsrv_req *r, int fd)
{
    if (strcmp(r->method, "HEAD") == 0) { /* the headers of /ok, no body */
        const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        "Content-Length: 11\r\n\r\n";
        tsrv_write(fd, h, strlen(h));
    } else if (strncmp(r->target, "/ok", 3) == 0) {
        tsrv_reply(fd, 200, NULL, "application/json", "{\"ok\":true}");
    } else if (strcmp(r->target, "/echo") == 0) {
        char body[256];
        snprintf(body, sizeof body, "%s %zu %s", r->method, r->body_len, r->body);
        tsrv_reply(fd, 200, NULL, "text/plain", body);
    } else if (strncmp(r->target, "/slow", 5) == 0) {
        usleep(300 * 1000);
        tsrv_reply(fd, 200, NULL, "text/plain", "slow");
    } else if (strcmp(r->target, "/hang") == 0) {
        sleep(3);
        return TSRV_CLOSE;
    } else if (strcmp(r->target, "/big") == 0) {
        size_t n = 2 * 1024 * 1024;
        char *b = malloc(n + 1);
        memset(b, 'a', n);
        b[n] = '\0';
        tsrv_reply(fd, 200, NULL, "application/octet-stream", b);
        free(b);
    } else if (strcmp(r->target, "/hugeheader") == 0) {
        size_t n = 90 * 1024;
        char *h = malloc(n + 32);
        strcpy(h, "X-Huge: ");
        memset(h + 8, 'h', n);
        strcpy(h + 8 + n, "\r\n");
        tsrv_reply(fd, 200, h, "text/plain", "x");
        free(h);
    } else if (strcmp(r->target, "/truncated") == 0) {
        const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: "
                           "application/json\r\n\r\n{\"partial\":";
        tsrv_write(fd, resp, strlen(resp));
        return TSRV_CLOSE;
    } else if (strcmp(r->target, "/reset") == 0) {
        return TSRV_RESET;
    } else if (strcmp(r->target, "/garbage") == 0) {
        const char *g = "THIS IS NOT HTTP\r\n\r\n";
        tsrv_write(fd, g, strlen(g));
        return TSRV_CLOSE;
    } else if (strcmp(r->target, "/token") == 0) {
        tsrv_reply(fd, 200, NULL, "application/json",
                   "{\"access_token\":\"" TU_TOKEN_PREFIX "-trace-1\",\"expires_in\":3600}");
    } else {
        tsrv_reply(fd, 404, NULL, "text/plain", "nope");
    }
    return TSRV_KEEP;
}

static int setup(void **state)
{
    g_srv = tsrv_start(handler, NULL);
    assert_non_null(g_srv);
    snprintf(g_base, sizeof g_base, "http://127.0.0.1:%d", tsrv_port(g_srv));
    rb_http_options o = {.max_body_bytes = 1024 * 1024};
    return rb_http_engine_new(&g_eng, &o, NULL) == RB_OK ? 0 : -1;
}

static int teardown(void **state)
{
    rb_http_engine_free(g_eng);
    tsrv_stop(g_srv);
    rb_http_trace_close();
    return 0;
}

static rb_status get(const char *path, rb_http_response **resp, rb_az_err *err)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", g_base, path);
    rb_http_request req = {.method = "GET", .url = url, .timeout_ms = 5000};
    return rb_http_send(g_eng, &req, resp, err);
}

static void test_get_and_put(void **state)
{
    rb_http_response *resp = NULL;
    rb_az_err err;
    assert_int_equal(get("/ok", &resp, &err), RB_OK);
    assert_int_equal(resp->status, 200);
    assert_string_equal(resp->body, "{\"ok\":true}");
    assert_string_equal(rb_http_response_header(resp, "content-type"), "application/json");
    rb_http_response_free(resp);

    char url[256];
    snprintf(url, sizeof url, "%s/echo", g_base);
    rb_http_request req = {.method = "PUT", .url = url, .body = "hello", .body_len = 5};
    assert_int_equal(rb_http_send(g_eng, &req, &resp, &err), RB_OK);
    assert_string_equal(resp->body, "PUT 5 hello");
    rb_http_response_free(resp);
    /* PUT without a body still sends Content-Length: 0 */
    rb_http_request req2 = {.method = "PUT", .url = url};
    assert_int_equal(rb_http_send(g_eng, &req2, &resp, &err), RB_OK);
    assert_string_equal(resp->body, "PUT 0 ");
    rb_http_response_free(resp);
}

struct async_state {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int done, ok;
};

static void on_done(void *user, rb_status st, rb_http_response *resp, const rb_az_err *err)
{
    struct async_state *a = user;
    pthread_mutex_lock(&a->m);
    a->done++;
    if (st == RB_OK && resp->status == 200)
        a->ok++;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->m);
    rb_http_response_free(resp);
}

/* 100 requests that each take 300 ms run at once (16 per origin) on one
 * engine thread. */
static void test_concurrency_and_reuse(void **state)
{
    struct async_state a = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    char url[256];
    snprintf(url, sizeof url, "%s/slow", g_base);
    rb_http_request req = {.method = "GET", .url = url, .timeout_ms = 10000};
    int before = tsrv_accepted(g_srv);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(rb_http_submit(g_eng, &req, on_done, &a, NULL, NULL), RB_OK);
    pthread_mutex_lock(&a.m);
    while (a.done < 100)
        pthread_cond_wait(&a.cv, &a.m);
    pthread_mutex_unlock(&a.m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_int_equal(a.ok, 100);
    /* Sequentially 30 s; 16 connections at a time (the engine's limit per
     * origin) 7 rounds, 2.1 s. */
    assert_true(s < 5.0);
    int opened = tsrv_accepted(g_srv) - before;
    /* A second wave reuses the connections of the first. */
    a.done = a.ok = 0;
    for (int i = 0; i < 50; i++)
        assert_int_equal(rb_http_submit(g_eng, &req, on_done, &a, NULL, NULL), RB_OK);
    pthread_mutex_lock(&a.m);
    while (a.done < 50)
        pthread_cond_wait(&a.cv, &a.m);
    pthread_mutex_unlock(&a.m);
    assert_int_equal(a.ok, 50);
    assert_true(tsrv_accepted(g_srv) - before <= opened + 2);
    print_message("100 concurrent in %.2f s over %d connections\n", s, opened);
}

static void test_timeout_and_cancel(void **state)
{
    char url[256];
    snprintf(url, sizeof url, "%s/hang", g_base);
    rb_http_request req = {.method = "GET", .url = url, .timeout_ms = 300};
    rb_http_response *resp = NULL;
    rb_az_err err;
    assert_int_equal(rb_http_send(g_eng, &req, &resp, &err), RB_ETIMEDOUT);
    assert_null(resp);
    assert_non_null(strstr(err.msg, "timed out"));

    /* Cancel through the handle. */
    struct async_state a = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    rb_http_call *call = NULL;
    req.timeout_ms = 10000;
    assert_int_equal(rb_http_submit(g_eng, &req, on_done, &a, &call, NULL), RB_OK);
    usleep(100 * 1000);
    rb_http_call_cancel(call);
    pthread_mutex_lock(&a.m);
    while (a.done < 1)
        pthread_cond_wait(&a.cv, &a.m);
    pthread_mutex_unlock(&a.m);
    rb_http_call_release(call);
    assert_int_equal(a.ok, 0);

    /* Cancel through a flag a synchronous caller shares. */
    atomic_int flag = 0;
    req.cancel = &flag;
    flag = 1;
    assert_int_equal(rb_http_send(g_eng, &req, &resp, &err), RB_ECANCELED);
}

static void test_limits_and_malformed(void **state)
{
    rb_http_response *resp = NULL;
    rb_az_err err;
    assert_int_equal(get("/big", &resp, &err), RB_EPROTO);
    assert_non_null(strstr(err.msg, "body exceeds"));
    rb_status hs = get("/hugeheader", &resp, &err);
    tu_log_err("test_http", "hugeheader", &err);
    print_message("hugeheader: %s\n", err.msg);
    assert_int_equal(hs, RB_EPROTO);
    assert_non_null(strstr(err.msg, "headers exceed"));
    assert_int_equal(get("/truncated", &resp, &err), RB_ERETRY);
    assert_null(resp);
    tu_log_err("test_http", "truncated", &err);
    assert_int_equal(get("/reset", &resp, &err), RB_ERETRY);
    tu_log_err("test_http", "reset", &err);
    rb_status st = get("/garbage", &resp, &err);
    assert_true(st == RB_EPROTO || st == RB_ERETRY);
    tu_log_err("test_http", "garbage", &err);
    /* The engine still works afterwards. */
    assert_int_equal(get("/ok", &resp, &err), RB_OK);
    rb_http_response_free(resp);
}

static void test_url_policy(void **state)
{
    rb_http_request req = {.method = "GET", .url = "http://example.com/x"};
    rb_http_response *resp = NULL;
    rb_az_err err;
    assert_int_equal(rb_http_send(g_eng, &req, &resp, &err), RB_EINVAL);
    assert_non_null(strstr(err.msg, "only https"));
    /* A refused SAS URL is named by its origin only: its path may carry the
     * grant, its query the signature. */
    req.url = "http://md-host.example/md-GRANT/abcd?sv=1&sr=b&sig=S1GNATURE";
    assert_int_equal(rb_http_send(g_eng, &req, &resp, &err), RB_EINVAL);
    assert_non_null(strstr(err.msg, "only https"));
    assert_non_null(strstr(err.msg, "http://md-host.example/..."));
    assert_null(strstr(err.msg, "GRANT"));
    assert_null(strstr(err.msg, "S1GNATURE"));
    assert_null(strstr(err.msg, "sv=1"));
    req.url = "ftp://127.0.0.1/x";
    assert_int_equal(rb_http_send(g_eng, &req, &resp, &err), RB_EINVAL);
    /* IMDS is plain http on a link-local address: allowed (nothing answers
     * here, so it times out or fails to connect, but is not refused). */
    req.url = "http://169.254.169.254/metadata/identity/oauth2/token";
    req.timeout_ms = 200;
    rb_status st = rb_http_send(g_eng, &req, &resp, &err);
    assert_int_not_equal(st, RB_EINVAL);
    rb_http_response_free(resp);
}

static rb_status send_url(const char *fmt, rb_http_response **resp, rb_az_err *err)
{
    char url[256];
    snprintf(url, sizeof url, fmt, tsrv_port(g_srv));
    rb_http_request req = {.method = "GET", .url = url, .timeout_ms = 3000};
    rb_http_response_free(*resp);
    *resp = NULL;
    return rb_http_send(g_eng, &req, resp, err);
}

/* Which host a URL names is libcurl's answer, however it is written and
 * whatever was asked before (origins are remembered per authority). */
static void test_url_policy_hosts(void **state)
{
    rb_http_response *resp = NULL;
    rb_az_err err;
    /* Local hosts in any case: plain http allowed, and it reaches tsrv. */
    const char *local[] = {"http://LOCALHOST:%d/ok", "http://LocalHost:%d/ok",
                           "HTTP://127.0.0.1:%d/ok", "http://127.0.0.1:%d/ok", NULL};
    for (int i = 0; local[i]; i++) {
        if (send_url(local[i], &resp, &err) != RB_OK)
            fail_msg("%s: %s", local[i], err.msg);
        assert_int_equal(resp->status, 200);
    }
    /* User info is not the host: these name evil.example. */
    const char *remote[] = {"http://127.0.0.1:%d@evil.example/ok",
                            "http://localhost@evil.example:%d/ok",
                            "http://LOCALHOST:%d@Evil.Example/ok", "http://EXAMPLE.com:%d/ok",
                            /* names that start like a local address */
                            "http://127.0.0.1.example.com:%d/ok", "http://169.254.1.2.nip.example:%d/ok",
                            NULL};
    for (int i = 0; remote[i]; i++) {
        assert_int_equal(send_url(remote[i], &resp, &err), RB_EINVAL);
        assert_non_null(strstr(err.msg, "only https"));
    }
    assert_int_equal(send_url("http://127.0.0.1:%d/a b", &resp, &err), RB_EINVAL);
    assert_non_null(strstr(err.msg, "not an absolute URL"));
    assert_int_equal(send_url("127.0.0.1:%d/ok", &resp, &err), RB_EINVAL);
    assert_non_null(strstr(err.msg, "not an absolute URL"));
    /* IPv6 loopback is local too (nothing listens there: not refused, but
     * not answered either). */
    rb_status st = send_url("http://[::1]:%d/ok", &resp, &err);
    assert_int_not_equal(st, RB_EINVAL);
    rb_http_response_free(resp);
}

static int sink_collect(void *user, const void *data, size_t len)
{
    sinkbuf *b = user;
    if (!data) {
        b->len = 0;
        return 0;
    }
    if (b->len + len >= sizeof b->data)
        return 1;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

static void call(const char *method, const char *path, const char *body, const char *want)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", g_base, path);
    rb_http_request req = {.method = method, .url = url, .body = body,
                           .body_len = body ? strlen(body) : 0, .timeout_ms = 5000};
    rb_http_response *resp = NULL;
    rb_az_err err;
    if (rb_http_send(g_eng, &req, &resp, &err) != RB_OK)
        fail_msg("%s %s: %s", method, path, err.msg);
    assert_int_equal(resp->status, 200);
    if (strcmp(resp->body, want) != 0)
        fail_msg("%s %s: got \"%s\", want \"%s\"", method, path, resp->body, want);
    rb_http_response_free(resp);
}

/* Handles are pooled and reset between calls: nothing of a HEAD, a body or
 * a streamed read carries over to the next call on the same handle. */
static void test_pooled_handles_reset(void **state)
{
    for (int round = 0; round < 2; round++) {
        call("HEAD", "/ok", NULL, "");
        call("GET", "/ok", NULL, "{\"ok\":true}");
        call("PUT", "/echo", "hello", "PUT 5 hello");
        call("GET", "/echo", NULL, "GET 0 ");
        call("DELETE", "/echo", "xy", "DELETE 2 xy");
        call("DELETE", "/echo", NULL, "DELETE 0 ");
        call("POST", "/echo", "abc", "POST 3 abc");
        call("HEAD", "/ok", NULL, "");
    }
    /* A streamed read (its handle is not pooled), then collected ones. */
    sinkbuf got = {.len = 0};
    char url[256];
    snprintf(url, sizeof url, "%s/ok", g_base);
    rb_http_request req = {.method = "GET", .url = url, .sink = sink_collect, .sink_user = &got,
                           .timeout_ms = 5000};
    rb_http_response *resp = NULL;
    assert_int_equal(rb_http_send(g_eng, &req, &resp, NULL), RB_OK);
    assert_string_equal(got.data, "{\"ok\":true}");
    assert_string_equal(resp->body, "");
    rb_http_response_free(resp);
    call("GET", "/ok", NULL, "{\"ok\":true}");
    call("PUT", "/echo", "z", "PUT 1 z");
    call("GET", "/echo", NULL, "GET 0 ");
}

static int proxy_handler(void *user, const tsrv_req *r, int fd)
{
    char body[8300];
    snprintf(body, sizeof body, "proxied %s", r->target);
    tsrv_reply(fd, 200, NULL, "text/plain", body);
    return TSRV_KEEP;
}

/* The standard proxy variables are honoured (libcurl reads them). */
static void test_proxy_variables(void **state)
{
    tsrv *proxy = tsrv_start(proxy_handler, NULL);
    assert_non_null(proxy);
    char purl[64];
    snprintf(purl, sizeof purl, "http://127.0.0.1:%d", tsrv_port(proxy));
    setenv("http_proxy", purl, 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    rb_http_engine *eng = NULL;
    assert_int_equal(rb_http_engine_new(&eng, NULL, NULL), RB_OK);
    rb_http_request req = {.method = "GET", .url = "http://127.0.0.1:9/through-proxy",
                           .timeout_ms = 5000};
    rb_http_response *resp = NULL;
    rb_az_err err;
    assert_int_equal(rb_http_send(eng, &req, &resp, &err), RB_OK);
    assert_string_equal(resp->body, "proxied http://127.0.0.1:9/through-proxy");
    rb_http_response_free(resp);
    rb_http_engine_free(eng);
    unsetenv("http_proxy");
    tsrv_stop(proxy);
}

/* The trace has requests and responses, never the secrets in them. */
static void test_trace_is_redacted(void **state)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/test_http.trace", tu_artifacts());
    tu_trace("test_http");
    char url[512];
    snprintf(url, sizeof url, "%s/echo?sv=2021&sig=SIGNATURE-do-not-leak%%3D&sp=r", g_base);
    const char *hdrs[] = {"Authorization: Bearer " TU_TOKEN_PREFIX "-in-header", NULL};
    const char *body = "client_secret=" TU_CLIENT_SECRET "&scope=x";
    rb_http_request req = {.method = "POST", .url = url, .headers = hdrs, .body = body,
                           .body_len = strlen(body)};
    rb_http_response *resp = NULL;
    assert_int_equal(rb_http_send(g_eng, &req, &resp, NULL), RB_OK);
    rb_http_response_free(resp);
    assert_int_equal(get("/token", &resp, NULL), RB_OK);
    rb_http_response_free(resp);
    rb_http_trace_close();
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_non_null(strstr(buf, ">>> POST"));
    assert_non_null(strstr(buf, "<<< 200"));
    assert_null(strstr(buf, "SIGNATURE-do-not-leak"));
    assert_null(strstr(buf, TU_TOKEN_PREFIX));
    assert_null(strstr(buf, TU_CLIENT_SECRET));
    assert_non_null(strstr(buf, "sig=***"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_and_put),
        cmocka_unit_test(test_concurrency_and_reuse),
        cmocka_unit_test(test_timeout_and_cancel),
        cmocka_unit_test(test_limits_and_malformed),
        cmocka_unit_test(test_url_policy),
        cmocka_unit_test(test_url_policy_hosts),
        cmocka_unit_test(test_pooled_handles_reset),
        cmocka_unit_test(test_proxy_variables),
        cmocka_unit_test(test_trace_is_redacted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
