/* The HTTP engine's one trust store per engine (tls_trust.c, installed from
 * CURLOPT_SSL_CTX_FUNCTION) against azsim over TLS: a missing or junk CA
 * file named in the error, a CA that is not the server's refused, the
 * built-in bundle used when no CA file is given, and the right CA trusted
 * on every connection of a burst wider than the 16 per origin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "azure/http.h"
#include "azsim_proc.h"
#include "testutil.h"

#define T "test_http_tls"

static azsim_proc g_az;
static char g_dir[1024], g_base[128], g_local[128], g_control[128], g_ca[1200];
static char g_other[1100], g_junk[1100], g_missing[1100], g_bundle[1100];

static int start_azsim(void)
{
    char estate[1300];
    snprintf(estate, sizeof estate, "%s/estate.json", g_dir);
    FILE *f = fopen(estate, "w");
    if (!f)
        return -1;
    fputs("{\"tenant\": \"11111111-1111-1111-1111-111111111111\"}\n", f);
    fclose(f);
    if (azsim_proc_start(&g_az, AZSIM_BIN, g_dir, estate) != 0)
        return -1;
    snprintf(g_base, sizeof g_base, "%s", g_az.base);
    snprintf(g_control, sizeof g_control, "%s", g_az.control);
    snprintf(g_ca, sizeof g_ca, "%s", g_az.ca);
    snprintf(g_local, sizeof g_local, "https://localhost:%d", g_az.port);
    return 0;
}

static int setup(void **state)
{
    snprintf(g_dir, sizeof g_dir, "%s/http_tls", tu_artifacts());
    mkdir(g_dir, 0700);
    snprintf(g_other, sizeof g_other, "%s/other-ca.pem", g_dir);
    snprintf(g_junk, sizeof g_junk, "%s/junk-ca.pem", g_dir);
    snprintf(g_missing, sizeof g_missing, "%s/no-such-ca.pem", g_dir);
    snprintf(g_bundle, sizeof g_bundle, "%s/bundle.pem", g_dir);
    char cmd[4096];
    /* A valid CA that did not issue azsim's certificate. */
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/other-key.pem -out %s "
             "-subj /CN=rebound-not-azsim -days 1 >/dev/null 2>&1",
             g_dir, g_other);
    if (system(cmd) != 0 || start_azsim() != 0)
        return -1;
    /* The other CA first, then azsim's. */
    snprintf(cmd, sizeof cmd, "cat %s %s > %s", g_other, g_ca, g_bundle);
    FILE *f = fopen(g_junk, "w");
    if (system(cmd) != 0 || !f)
        return -1;
    fputs("this is not a certificate\n", f);
    fclose(f);
    tu_trace(T);
    return 0;
}

static int teardown(void **state)
{
    rb_http_trace_close();
    azsim_proc_stop(&g_az);
    return 0;
}

static rb_http_engine *engine(const char *ca_file)
{
    rb_http_options o = {.ca_file = ca_file};
    rb_http_engine *e = NULL;
    rb_az_err err;
    if (rb_http_engine_new(&e, &o, &err) != RB_OK)
        fail_msg("rb_http_engine_new: %s", err.msg);
    return e;
}

/* GET base + path; azsim answers 404 to an unknown path once TLS is up. */
static rb_status get(rb_http_engine *e, const char *base, const char *path, rb_az_err *err)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", base, path);
    rb_http_request req = {.method = "GET", .url = url, .timeout_ms = 10000};
    rb_http_response *resp = NULL;
    rb_status st = rb_http_send(e, &req, &resp, err);
    if (st == RB_OK && resp->status != 404)
        fail_msg("%s: HTTP %ld", url, resp->status);
    rb_http_response_free(resp);
    if (st != RB_OK)
        tu_log_err(T, url, err);
    return st;
}

static void assert_has(const char *msg, const char *part)
{
    if (!strstr(msg, part))
        fail_msg("\"%s\" not in \"%s\"", part, msg);
}

/* A CA file that cannot be read fails every https request with its path
 * and errno's reason; plain http to loopback does not need it. */
static void test_missing_ca_file(void **state)
{
    rb_http_engine *e = engine(g_missing);
    char want[1400];
    snprintf(want, sizeof want, "cannot read the CA file %s: %s", g_missing, strerror(ENOENT));
    for (int i = 0; i < 2; i++) {
        rb_az_err err;
        assert_int_equal(get(e, i ? g_local : g_base, "/x", &err), RB_EAUTH);
        assert_has(err.msg, want);
    }
    rb_az_err err;
    assert_int_equal(get(e, g_control, "/no-such-control-path", &err), RB_OK);
    rb_http_engine_free(e);
}

static void test_junk_ca_file(void **state)
{
    rb_http_engine *e = engine(g_junk);
    char want[1400];
    snprintf(want, sizeof want, "the CA file %s holds no usable PEM certificate", g_junk);
    rb_az_err err;
    assert_int_equal(get(e, g_base, "/x", &err), RB_EAUTH);
    assert_has(err.msg, want);
    rb_http_engine_free(e);
}

/* A good CA file that does not trust the server: a verification failure,
 * not a complaint about the file. */
static void test_other_ca(void **state)
{
    rb_http_engine *e = engine(g_other);
    rb_az_err err;
    assert_int_equal(get(e, g_base, "/x", &err), RB_EAUTH);
    assert_has(err.msg, "TLS peer not trusted");
    assert_has(err.msg, "certificate");
    assert_null(strstr(err.msg, "CA file"));
    rb_http_engine_free(e);
}

/* No CA file: libcurl's built-in bundle is read (no error about it), and
 * it does not trust azsim's test CA. */
static void test_default_trust(void **state)
{
    rb_http_engine *e = engine(NULL);
    rb_az_err err;
    assert_int_equal(get(e, g_base, "/x", &err), RB_EAUTH);
    assert_has(err.msg, "certificate");
    assert_null(strstr(err.msg, "CA file"));
    rb_http_engine_free(e);
}

struct burst {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int done, ok;
    char first_error[512];
};

static void on_done(void *user, rb_status st, rb_http_response *resp, const rb_az_err *err)
{
    struct burst *b = user;
    pthread_mutex_lock(&b->m);
    b->done++;
    if (st == RB_OK && resp->status == 404)
        b->ok++;
    else if (!b->first_error[0])
        snprintf(b->first_error, sizeof b->first_error, "%s", err ? err->msg : "?");
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->m);
    rb_http_response_free(resp);
}

static void control_post(rb_http_engine *e, const char *path, const char *body)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", g_control, path);
    const char *h[] = {"Content-Type: application/json", NULL};
    rb_http_request req = {.method = body ? "POST" : "DELETE", .url = url, .headers = h,
                           .body = body, .body_len = body ? strlen(body) : 0};
    rb_http_response *resp = NULL;
    rb_az_err err;
    if (rb_http_send(e, &req, &resp, &err) != RB_OK || resp->status >= 300)
        fail_msg("control %s: %s", path, resp ? resp->body : err.msg);
    rb_http_response_free(resp);
}

/* The right CA: sequential requests, then 80 at once over two origins
 * (azsim holds each for 300 ms, so each origin opens its 16 connections,
 * each with its own SSL_CTX and the one store). */
static void test_right_ca_many(void **state)
{
    rb_http_engine *e = engine(g_ca);
    for (int i = 0; i < 20; i++) {
        rb_az_err err;
        if (get(e, i % 2 ? g_local : g_base, "/seq", &err) != RB_OK)
            fail_msg("request %d: %s", i, err.msg);
    }
    control_post(e, "/faults", "{\"method\": \"GET\", \"path\": \"/slow*\", \"latency_ms\": 300}");
    struct burst b = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    char url[2][256];
    snprintf(url[0], sizeof url[0], "%s/slow", g_base);
    snprintf(url[1], sizeof url[1], "%s/slow", g_local);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 80; i++) {
        rb_http_request req = {.method = "GET", .url = url[i % 2], .timeout_ms = 30000};
        assert_int_equal(rb_http_submit(e, &req, on_done, &b, NULL, NULL), RB_OK);
    }
    pthread_mutex_lock(&b.m);
    while (b.done < 80)
        pthread_cond_wait(&b.cv, &b.m);
    pthread_mutex_unlock(&b.m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    control_post(e, "/faults", NULL);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("80 over TLS in %.2f s\n", s);
    if (b.ok != 80)
        fail_msg("%d of 80 succeeded; first error: %s", b.ok, b.first_error);
    assert_true(s < 12.0); /* one at a time: 24 s */
    rb_http_engine_free(e);
}

/* A bundle is read whole: azsim's CA after another one still counts. */
static void test_bundle(void **state)
{
    rb_http_engine *e = engine(g_bundle);
    rb_az_err err;
    assert_int_equal(get(e, g_base, "/x", &err), RB_OK);
    rb_http_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_ca_file), cmocka_unit_test(test_junk_ca_file),
        cmocka_unit_test(test_other_ca),        cmocka_unit_test(test_default_trust),
        cmocka_unit_test(test_right_ca_many),   cmocka_unit_test(test_bundle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
