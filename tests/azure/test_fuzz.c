/* Hostile responses: a server answering random bytes, random statuses,
 * headers and bodies (JSON-ish, XML-ish, binary) to every kind of call. The
 * only requirement is a clean error or success: no crash, no leak, no
 * undefined behaviour (run under ASan/UBSan). Deterministic seed. */
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

#include "azure/arm.h"
#include "azure/blob.h"
#include "testutil.h"
#include "tsrv.h"

#define T "test_fuzz"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    /* xorshift64*: reproducible, no libc state shared with the code under test */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (uint32_t)((g_rng * 0x2545f4914f6cdd1dull) >> 32);
}

static const char *const k_fragments[] = {
    "{", "}", "[", "]", "\"", ":", ",", "\"error\"", "\"code\"", "\"message\"", "\"status\"",
    "\"Succeeded\"", "\"Failed\"", "\"InProgress\"", "\"value\"", "\"nextLink\"", "null", "1e999",
    "-0", "\"\\u0000\"", "\"\\ud800\"", "<", ">", "</", "<?xml version=\"1.0\"?>", "<Error>",
    "<Code>", "<EnumerationResults>", "<Blobs>", "<Blob>", "<Name>", "<NextMarker>",
    "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>", "&a;", "&#0;", "]]>", "\xff\xfe", "\x00", "%s%n",
    "http://127.0.0.1:1/x", "https://evil.example/", "      ", "\r\n"};

static void random_body(char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int parts = (int)(rnd() % 40);
    for (int i = 0; i < parts; i++) {
        const char *f = k_fragments[rnd() % (sizeof k_fragments / sizeof k_fragments[0])];
        size_t fl = strlen(f);
        if (fl == 0)
            fl = 1; /* the NUL fragment */
        if (n + fl >= cap)
            break;
        memcpy(buf + n, f, fl);
        n += fl;
    }
    *len = n;
}

static int handler(void *user, const tsrv_req *r, int fd)
{
    pthread_mutex_lock(&g_lock);
    uint32_t kind = rnd() % 7;
    static const int statuses[] = {200, 201, 202, 204, 206, 301, 400, 401, 404, 409, 412,
                                   429, 500, 503, 999, 100};
    int status = statuses[rnd() % (sizeof statuses / sizeof statuses[0])];
    char body[2048];
    size_t blen = 0;
    random_body(body, sizeof body, &blen);
    static const char *const ctypes[] = {"application/json", "application/xml", "text/html",
                                         "application/json; charset=utf-8", "", "x/\x01"};
    const char *ct = ctypes[rnd() % (sizeof ctypes / sizeof ctypes[0])];
    uint32_t hdr = rnd() % 6;
    uint32_t clen_lie = rnd() % 4;
    pthread_mutex_unlock(&g_lock);

    char head[4096];
    int n = 0;
    switch (kind) {
    case 0: /* raw garbage */
        tsrv_write(fd, body, blen);
        return TSRV_CLOSE;
    case 1: /* nothing */
        return TSRV_RESET;
    default:
        n = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: %s\r\n", status, ct);
        if (hdr == 1)
            n += snprintf(head + n, sizeof head - (size_t)n,
                          "Azure-AsyncOperation: http://127.0.0.1:1/op\r\nLocation: /relative\r\n");
        else if (hdr == 2)
            n += snprintf(head + n, sizeof head - (size_t)n,
                          "Retry-After: 99999999999999999999\r\nretry-after-ms: -5\r\n");
        else if (hdr == 3)
            n += snprintf(head + n, sizeof head - (size_t)n, "Retry-After: Thu, 01 Jan 1970 00:00:00 GMT\r\n");
        else if (hdr == 4)
            n += snprintf(head + n, sizeof head - (size_t)n,
                          "WWW-Authenticate: Bearer authorization=\"\", resource=\r\n"
                          "Content-Range: bytes 0-1/\r\n");
        if (clen_lie == 0 && blen > 2)
            n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n\r\n", blen + 7);
        else
            n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n\r\n", blen);
        tsrv_write(fd, head, (size_t)n);
        tsrv_write(fd, body, blen);
        return clen_lie == 0 ? TSRV_CLOSE : TSRV_KEEP;
    }
}

static void test_hostile_responses(void **state)
{
    tsrv *srv = tsrv_start(handler, NULL);
    assert_non_null(srv);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", tsrv_port(srv));
    tu_trace(T);
    char tokfile[1024];
    snprintf(tokfile, sizeof tokfile, "%s/fuzz.token", tu_artifacts());
    FILE *f = fopen(tokfile, "w");
    fputs("static-token-for-fuzzing", f);
    fclose(f);
    rb_cloud cloud;
    assert_int_equal(rb_cloud_custom(&cloud, "public", base, base, NULL, NULL, NULL, NULL, NULL),
                     RB_OK);
    rb_http_engine *eng = NULL;
    rb_cred *cred = NULL;
    rb_arm *arm = NULL;
    rb_blob_client *blob = NULL;
    assert_int_equal(rb_http_engine_new(&eng, NULL, NULL), RB_OK);
    rb_cred_options co = {.kind = RB_CRED_TOKEN_FILE, .token_file = tokfile};
    assert_int_equal(rb_cred_new(&cred, eng, &cloud, &co, NULL), RB_OK);
    assert_int_equal(rb_arm_new(&arm, eng, cred, &cloud, NULL), RB_OK);
    char ep[128];
    snprintf(ep, sizeof ep, "%s/acct", base);
    rb_blob_options bo = {.endpoint = ep, .account = "acct", .account_key = "a2V5a2V5a2V5"};
    assert_int_equal(rb_blob_client_new(&blob, eng, &bo, NULL), RB_OK);
    rb_retry_policy pol = {.max_attempts = 2, .base_delay_ms = 1, .max_delay_ms = 5};
    rb_az_call_opts o = {.retry = &pol, .deadline_ms = 3000, .try_timeout_ms = 1000};
    const char *seed = getenv("RB_FUZZ_SEED");
    const char *iters = getenv("RB_FUZZ_N");
    if (seed && *seed)
        g_rng = strtoull(seed, NULL, 0) | 1;
    int n_iter = iters && *iters ? atoi(iters) : 300;
    int outcomes[32] = {0};
    for (int i = 0; i < n_iter; i++) {
        rb_az_err err;
        rb_az_err_clear(&err);
        rb_status st = RB_OK;
        switch (i % 5) {
        case 0: {
            cJSON *j = NULL;
            st = rb_arm_request(arm, "GET", "/subscriptions/s", "2022-01-01", NULL, &o, NULL, &j,
                                &err);
            cJSON_Delete(j);
            break;
        }
        case 1: {
            rb_arm_op *op = NULL;
            st = rb_arm_begin(arm, "PUT", "/subscriptions/s/x", "1", NULL, &o, &op, &err);
            if (st == RB_OK && !rb_arm_op_done(op)) {
                long next = 0;
                st = rb_arm_op_poll(arm, op, &o, &next, &err);
            }
            rb_arm_op_free(op);
            break;
        }
        case 2: {
            rb_arm_pager *p = NULL;
            st = rb_arm_pager_new(arm, "/subscriptions/s/list", "1", &o, &p, &err);
            const cJSON *it = NULL;
            for (int k = 0; st == RB_OK && k < 5; k++) {
                st = rb_arm_pager_next(p, &it, &err);
                if (!it)
                    break;
            }
            rb_arm_pager_free(p);
            break;
        }
        case 3: {
            rb_blob_lister *l = NULL;
            st = rb_blob_lister_new(blob, "cont", NULL, 2, &o, &l, &err);
            rb_blob_item it;
            int has = 1;
            for (int k = 0; st == RB_OK && has && k < 5; k++)
                st = rb_blob_lister_next(l, &it, &has, &err);
            rb_blob_lister_free(l);
            break;
        }
        default: {
            rb_blob_props props;
            st = rb_blob_get_properties(blob, "cont", "b", &o, &props, &err);
            char *data = NULL;
            size_t n = 0;
            if (st == RB_OK)
                st = rb_blob_get(blob, "cont", "b", 3, 10, 4096, &o, &data, &n, &err);
            free(data);
            break;
        }
        }
        assert_true(st <= 0 && st >= -17);
        assert_true(strlen(err.msg) < sizeof err.msg);
        outcomes[-st]++;
        if (st != RB_OK)
            tu_log_err(T, rb_status_name(st), &err);
    }
    print_message("outcomes:");
    for (int k = 0; k < 18; k++)
        if (outcomes[k])
            print_message(" %s=%d", rb_status_name(-k), outcomes[k]);
    print_message("\n");
    rb_blob_client_free(blob);
    rb_arm_free(arm);
    rb_cred_free(cred);
    rb_http_engine_free(eng);
    rb_http_trace_close();
    tsrv_stop(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
