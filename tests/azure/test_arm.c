/* The pipeline and the ARM client against scripted responses: retries and
 * Retry-After, deadlines, errors verbatim, long-running operations
 * (including re-attaching from another process), pagination, bad
 * responses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "azure/arm.h"
#include "azure/redact.h"
#include "fakeaz.h"
#include "testutil.h"

#define T "test_arm"
#define API "2023-01-01"

static rb_http_engine *g_eng;
static rb_cloud g_cloud;
static rb_cred *g_cred;
static rb_arm *g_arm;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
    if (fakeaz_start(NULL) != 0)
        return -1;
    if (rb_cloud_custom(&g_cloud, "public", fakeaz_base(), fakeaz_base(),
                        "https://management.azure.com", NULL, NULL, NULL, NULL) != RB_OK)
        return -1;
    tu_trace(T);
    rb_cred_options o = {.kind = RB_CRED_CLIENT_SECRET, .tenant_id = "t", .client_id = "app",
                         .client_secret = TU_CLIENT_SECRET};
    if (rb_http_engine_new(&g_eng, NULL, NULL) != RB_OK ||
        rb_cred_new(&g_cred, g_eng, &g_cloud, &o, NULL) != RB_OK ||
        rb_arm_new(&g_arm, g_eng, g_cred, &g_cloud, NULL) != RB_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    rb_arm_free(g_arm);
    rb_cred_free(g_cred);
    rb_http_engine_free(g_eng);
    fakeaz_stop();
    rb_http_trace_close();
    return 0;
}

#define JSON "application/json"
static const rb_retry_policy fast = {.max_attempts = 5, .base_delay_ms = 50, .max_delay_ms = 200};

static rb_status get(const char *path, const rb_az_call_opts *o, cJSON **out, rb_az_err *err)
{
    rb_az_err_clear(err);
    rb_status st = rb_arm_request(g_arm, "GET", path, API, NULL, o, NULL, out, err);
    tu_log_err(T, path, err);
    return st;
}

static void test_429_retry_after_honoured(void **state)
{
    const fakeaz_step steps[] = {
        {429, "Retry-After: 2\r\n", JSON,
         "{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"throttled\"}}"},
        {200, NULL, JSON, "{\"name\":\"x\"}"}};
    fakeaz_script("GET", "/subscriptions/s/throttled", steps, 2);
    cJSON *j = NULL;
    rb_az_err err;
    long long t0 = now_ms();
    assert_int_equal(get("/subscriptions/s/throttled", NULL, &j, &err), RB_OK);
    long long took = now_ms() - t0;
    /* The delay the service saw between the 429 and the retry. */
    long long gap = fakeaz_last_ms("GET", "/subscriptions/s/throttled") -
                    fakeaz_first_ms("GET", "/subscriptions/s/throttled");
    print_message("429 Retry-After: 2 -> retried after %lld ms (call %lld ms)\n", gap, took);
    assert_true(gap >= 1800 && gap <= 2200); /* within 10% */
    assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring, "x");
    assert_int_equal(fakeaz_count("GET", "/subscriptions/s/throttled"), 2);
    cJSON_Delete(j);

    /* retry-after-ms and an HTTP date work too. */
    const fakeaz_step ms[] = {{503, "retry-after-ms: 300\r\n", JSON, "{}"},
                              {200, NULL, JSON, "{}"}};
    fakeaz_script("GET", "/subscriptions/s/ms", ms, 2);
    assert_int_equal(get("/subscriptions/s/ms", NULL, &j, &err), RB_OK);
    gap = fakeaz_last_ms("GET", "/subscriptions/s/ms") - fakeaz_first_ms("GET", "/subscriptions/s/ms");
    assert_true(gap >= 270 && gap <= 330);
    cJSON_Delete(j);

    char date_hdr[128];
    time_t when = time(NULL) + 2;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(date_hdr, sizeof date_hdr, "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    const fakeaz_step dt[] = {{503, date_hdr, JSON, "{}"}, {200, NULL, JSON, "{}"}};
    fakeaz_script("GET", "/subscriptions/s/date", dt, 2);
    assert_int_equal(get("/subscriptions/s/date", NULL, &j, &err), RB_OK);
    gap = fakeaz_last_ms("GET", "/subscriptions/s/date") -
          fakeaz_first_ms("GET", "/subscriptions/s/date");
    print_message("HTTP-date Retry-After (+2 s): retried after %lld ms\n", gap);
    assert_true(gap >= 900 && gap <= 3100); /* an HTTP date has 1 s granularity */
    cJSON_Delete(j);
}

static void test_503_and_resets_retried(void **state)
{
    const fakeaz_step steps[] = {{503, NULL, JSON, "{}"},
                                 {0, NULL, NULL, NULL},
                                 {502, NULL, "text/html", "<html>bad gateway</html>"},
                                 {200, NULL, JSON, "{\"ok\":1}"}};
    fakeaz_script("GET", "/subscriptions/s/flaky", steps, 4);
    rb_az_call_opts o = {.retry = &fast};
    cJSON *j = NULL;
    rb_az_err err;
    assert_int_equal(get("/subscriptions/s/flaky", &o, &j, &err), RB_OK);
    assert_int_equal(fakeaz_count("GET", "/subscriptions/s/flaky"), 4);
    cJSON_Delete(j);
}

/* An attempt that hangs times out on its own and is retried. */
static void test_attempt_timeout_retried(void **state)
{
    const fakeaz_step steps[] = {{-2, NULL, NULL, NULL}, {200, NULL, JSON, "{\"ok\":2}"}};
    fakeaz_script("GET", "/subscriptions/s/hang", steps, 2);
    rb_az_call_opts o = {.retry = &fast, .try_timeout_ms = 500, .deadline_ms = 10000};
    cJSON *j = NULL;
    rb_az_err err;
    long long t0 = now_ms();
    assert_int_equal(get("/subscriptions/s/hang", &o, &j, &err), RB_OK);
    assert_true(now_ms() - t0 < 1500);
    assert_int_equal(cJSON_GetObjectItem(j, "ok")->valueint, 2);
    cJSON_Delete(j);
}

static void test_deadline_stops_retrying(void **state)
{
    const fakeaz_step steps[] = {{503, "Retry-After: 1\r\n", JSON,
                                  "{\"error\":{\"code\":\"ServiceUnavailable\",\"message\":\"busy\"}}"}};
    fakeaz_script("GET", "/subscriptions/s/down", steps, 1);
    rb_az_call_opts o = {.deadline_ms = 2500};
    cJSON *j = NULL;
    rb_az_err err;
    long long t0 = now_ms();
    assert_int_equal(get("/subscriptions/s/down", &o, &j, &err), RB_ETIMEDOUT);
    long long took = now_ms() - t0;
    print_message("deadline: %s (after %lld ms)\n", err.msg, took);
    assert_true(took < 2600);
    assert_non_null(strstr(err.msg, "deadline"));
    assert_non_null(strstr(err.msg, "ServiceUnavailable"));
    assert_int_equal(fakeaz_count("GET", "/subscriptions/s/down"), 3);
}

struct canceller {
    atomic_int *flag;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    usleep(300 * 1000);
    atomic_store(c->flag, 1);
    return NULL;
}

/* Cancellation reaches a call that is waiting out a Retry-After. */
static void test_cancel_during_backoff(void **state)
{
    const fakeaz_step steps[] = {{503, "Retry-After: 10\r\n", JSON, "{}"}};
    fakeaz_script("GET", "/subscriptions/s/slowretry", steps, 1);
    atomic_int flag = 0;
    struct canceller c = {.flag = &flag};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &c);
    rb_az_call_opts o = {.cancel = &flag};
    cJSON *j = NULL;
    rb_az_err err;
    long long t0 = now_ms();
    assert_int_equal(get("/subscriptions/s/slowretry", &o, &j, &err), RB_ECANCELED);
    assert_true(now_ms() - t0 < 1500);
    pthread_join(th, NULL);
}

static void test_error_body_verbatim(void **state)
{
    const fakeaz_step steps[] = {
        {404, NULL, JSON,
         "{\"error\":{\"code\":\"ResourceNotFound\",\"message\":\"The Resource "
         "'Microsoft.KeyVault/vaults/kv1' under resource group 'rg' was not found.\","
         "\"details\":[{\"code\":\"Inner\",\"message\":\"more\"}]}}"}};
    fakeaz_script("GET", "/subscriptions/s/missing", steps, 1);
    cJSON *j = NULL;
    rb_az_err err;
    assert_int_equal(get("/subscriptions/s/missing", NULL, &j, &err), RB_ENOTFOUND);
    assert_string_equal(err.code, "ResourceNotFound");
    assert_int_equal(err.http_status, 404);
    assert_non_null(strstr(err.msg, "The Resource 'Microsoft.KeyVault/vaults/kv1' under resource "
                                    "group 'rg' was not found."));
    assert_non_null(strstr(err.msg, "\"code\":\"Inner\""));
    const fakeaz_step c409[] = {{409, NULL, JSON,
                                 "{\"error\":{\"code\":\"ScopeLocked\",\"message\":\"locked\"}}"}};
    fakeaz_script("GET", "/subscriptions/s/locked", c409, 1);
    assert_int_equal(get("/subscriptions/s/locked", NULL, &j, &err), RB_ECONFLICT);
    const fakeaz_step c403[] = {{403, NULL, JSON,
                                 "{\"error\":{\"code\":\"AuthorizationFailed\",\"message\":\"no\"}}"}};
    fakeaz_script("GET", "/subscriptions/s/denied", c403, 1);
    assert_int_equal(get("/subscriptions/s/denied", NULL, &j, &err), RB_EDENIED);
}

static void script_async_put(const char *res, const char *op, const char *final_status)
{
    char hdr[256];
    snprintf(hdr, sizeof hdr, "Azure-AsyncOperation: %%BASE%%%s?api-version=" API "\r\nRetry-After: 1\r\n", op);
    char *h = strdup(hdr); /* steps keep pointers */
    fakeaz_step put[] = {{201, h, JSON, "{\"name\":\"a\",\"properties\":{\"provisioningState\":\"Creating\"}}"}};
    fakeaz_script("PUT", res, put, 1);
    static char failed[] = "{\"status\":\"Failed\",\"error\":{\"code\":\"QuotaExceeded\","
                           "\"message\":\"Operation could not be completed as it results in "
                           "exceeding approved quota.\"}}";
    fakeaz_step poll[] = {{200, "Retry-After: 1\r\n", JSON, "{\"status\":\"InProgress\"}"},
                          {200, NULL, JSON, "{\"status\":\"InProgress\"}"},
                          {200, NULL, JSON,
                           strcmp(final_status, "Failed") == 0 ? failed
                                                               : "{\"status\":\"Succeeded\"}"}};
    fakeaz_script("GET", op, poll, 3);
    fakeaz_step get_res[] = {{200, NULL, JSON,
                              "{\"name\":\"a\",\"properties\":{\"provisioningState\":\"Succeeded\"}}"}};
    fakeaz_script("GET", res, get_res, 1);
}

static void test_lro_async_success(void **state)
{
    script_async_put("/subscriptions/s/things/a", "/ops/1", "Succeeded");
    cJSON *body = cJSON_Parse("{\"location\":\"westeurope\"}");
    rb_arm_op *op = NULL;
    rb_az_err err;
    assert_int_equal(rb_arm_begin(g_arm, "PUT", "/subscriptions/s/things/a", API, body, NULL, &op,
                                  &err),
                     RB_OK);
    cJSON_Delete(body);
    assert_false(rb_arm_op_done(op));
    assert_non_null(rb_arm_op_id(op));
    assert_non_null(strstr(rb_arm_op_id(op), "/ops/1"));
    long long t0 = now_ms();
    cJSON *res = NULL;
    assert_int_equal(rb_arm_op_wait(g_arm, op, NULL, &res, &err), RB_OK);
    long long took = now_ms() - t0;
    assert_int_equal(fakeaz_count("GET", "/ops/1"), 3);
    assert_true(took >= 1800); /* Retry-After: 1 between polls */
    const cJSON *ps = cJSON_GetObjectItem(cJSON_GetObjectItem(res, "properties"), "provisioningState");
    assert_string_equal(ps->valuestring, "Succeeded");
    cJSON_Delete(res);
    rb_arm_op_free(op);
}

static void test_lro_failure_surfaces_error(void **state)
{
    script_async_put("/subscriptions/s/things/b", "/ops/2", "Failed");
    rb_arm_op *op = NULL;
    rb_az_err err;
    assert_int_equal(rb_arm_begin(g_arm, "PUT", "/subscriptions/s/things/b", API, NULL, NULL, &op,
                                  &err),
                     RB_OK);
    cJSON *res = NULL;
    assert_int_equal(rb_arm_op_wait(g_arm, op, NULL, &res, &err), RB_ERROR);
    tu_log_err(T, "lro failed", &err);
    assert_string_equal(err.code, "QuotaExceeded");
    assert_non_null(strstr(err.msg, "exceeding approved quota"));
    assert_null(res);
    rb_arm_op_free(op);
}

static void test_lro_location(void **state)
{
    fakeaz_step del[] = {{202, "Location: %BASE%/locs/1?api-version=" API "\r\nRetry-After: 0\r\n",
                          NULL, NULL}};
    fakeaz_script("DELETE", "/subscriptions/s/things/c", del, 1);
    fakeaz_step poll[] = {{202, "Retry-After: 0\r\n", NULL, NULL}, {202, NULL, NULL, NULL},
                          {204, NULL, NULL, NULL}};
    fakeaz_script("GET", "/locs/1", poll, 3);
    rb_arm_op *op = NULL;
    rb_az_err err;
    assert_int_equal(rb_arm_begin(g_arm, "DELETE", "/subscriptions/s/things/c", API, NULL, NULL,
                                  &op, &err),
                     RB_OK);
    assert_non_null(strstr(rb_arm_op_id(op), "Location"));
    cJSON *res = NULL;
    assert_int_equal(rb_arm_op_wait(g_arm, op, NULL, &res, &err), RB_OK);
    assert_null(res);
    assert_int_equal(fakeaz_count("GET", "/locs/1"), 3);
    rb_arm_op_free(op);
}

/* The operation id is journaled; another process re-attaches and finishes. */
static void test_lro_reattach_new_process(void **state)
{
    script_async_put("/subscriptions/s/things/d", "/ops/3", "Succeeded");
    rb_arm_op *op = NULL;
    rb_az_err err;
    assert_int_equal(rb_arm_begin(g_arm, "PUT", "/subscriptions/s/things/d", API, NULL, NULL, &op,
                                  &err),
                     RB_OK);
    char id[2048];
    snprintf(id, sizeof id, "%s", rb_arm_op_id(op));
    rb_arm_op_free(op); /* this "process" dies here */
    /* The id names its request: another call of the same action (another
     * path or method) must not be re-attached to it. */
    assert_true(rb_arm_op_is_for(id, "PUT", "/subscriptions/s/things/d"));
    assert_true(rb_arm_op_is_for(id, "put", "/subscriptions/s/things/d"));
    assert_false(rb_arm_op_is_for(id, "PUT", "/subscriptions/s/things/e"));
    assert_false(rb_arm_op_is_for(id, "POST", "/subscriptions/s/things/d"));
    assert_false(rb_arm_op_is_for("not json", "PUT", "/subscriptions/s/things/d"));
    /* Journals written before the path was recorded match on the method. */
    assert_true(rb_arm_op_is_for("{\"v\":1,\"kind\":\"Location\",\"method\":\"PUT\","
                                 "\"url\":\"/ops/9\"}",
                                 "PUT", "/anything"));

    char outpath[1024];
    snprintf(outpath, sizeof outpath, "%s/reattach.out", tu_artifacts());
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(outpath, "w", stdout);
        (void)f;
        execl(ARM_ATTACH_HELPER, ARM_ATTACH_HELPER, fakeaz_base(), id, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    FILE *f = fopen(outpath, "r");
    assert_non_null(f);
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    assert_non_null(strstr(out, "\"provisioningState\":\"Succeeded\""));
    assert_int_equal(fakeaz_count("GET", "/ops/3"), 3);

    /* Garbage is not an operation id. */
    assert_int_equal(rb_arm_op_attach(g_arm, "{\"kind\":\"nope\"}", &op, &err), RB_EINVAL);
    /* Nor is an operation on another host (the token would leave). */
    assert_int_equal(rb_arm_op_attach(g_arm,
                                      "{\"v\":1,\"kind\":\"Location\",\"method\":\"DELETE\","
                                      "\"url\":\"https://evil.example/op\"}",
                                      &op, &err),
                     RB_EPROTO);
}

static void test_pagination(void **state)
{
    fakeaz_step p1[] = {{200, NULL, JSON,
                         "{\"value\":[{\"id\":1},{\"id\":2}],\"nextLink\":\"%BASE%/subscriptions/s/"
                         "items2?api-version=" API "&%24skiptoken=abc\"}"}};
    fakeaz_step p2[] = {{200, NULL, JSON,
                         "{\"value\":[{\"id\":3}],\"nextLink\":\"%BASE%/subscriptions/s/items3?"
                         "api-version=" API "&%24skiptoken=def\"}"}};
    fakeaz_step p3[] = {{200, NULL, JSON, "{\"value\":[{\"id\":4},{\"id\":5}]}"}};
    fakeaz_script("GET", "/subscriptions/s/items", p1, 1);
    fakeaz_script("GET", "/subscriptions/s/items2", p2, 1);
    fakeaz_script("GET", "/subscriptions/s/items3", p3, 1);
    rb_arm_pager *p = NULL;
    rb_az_err err;
    assert_int_equal(rb_arm_pager_new(g_arm, "/subscriptions/s/items", API, NULL, &p, &err), RB_OK);
    int want = 1;
    const cJSON *it;
    for (;;) {
        rb_status pst = rb_arm_pager_next(p, &it, &err);
        if (pst != RB_OK)
            fail_msg("pager: %s", err.msg);
        if (!it)
            break;
        assert_int_equal(cJSON_GetObjectItem(it, "id")->valueint, want);
        want++;
    }
    assert_int_equal(want, 6);
    assert_int_equal(rb_arm_pager_pages(p), 3);
    rb_arm_pager_free(p);

    /* A nextLink to another host is refused. */
    fakeaz_step evil[] = {{200, NULL, JSON,
                           "{\"value\":[{\"id\":1}],\"nextLink\":\"https://evil.example/steal\"}"}};
    fakeaz_script("GET", "/subscriptions/s/evil", evil, 1);
    assert_int_equal(rb_arm_pager_new(g_arm, "/subscriptions/s/evil", API, NULL, &p, &err), RB_OK);
    assert_int_equal(rb_arm_pager_next(p, &it, &err), RB_OK);
    assert_int_equal(rb_arm_pager_next(p, &it, &err), RB_EPROTO);
    assert_non_null(strstr(err.msg, "refusing"));
    rb_arm_pager_free(p);
}

static void test_bad_responses(void **state)
{
    rb_az_call_opts o = {.retry = &fast, .deadline_ms = 5000};
    cJSON *j = NULL;
    rb_az_err err;
    fakeaz_step malformed[] = {{200, NULL, JSON, "{\"value\": [1, 2,"}};
    fakeaz_script("GET", "/subscriptions/s/malformed", malformed, 1);
    assert_int_equal(get("/subscriptions/s/malformed", &o, &j, &err), RB_EPROTO);
    assert_non_null(strstr(err.msg, "malformed JSON"));

    fakeaz_step html[] = {{200, NULL, "text/html", "<html>login page</html>"}};
    fakeaz_script("GET", "/subscriptions/s/html", html, 1);
    assert_int_equal(get("/subscriptions/s/html", &o, &j, &err), RB_EPROTO);
    assert_non_null(strstr(err.msg, "content type text/html"));

    fakeaz_step trunc[] = {{-1, NULL, NULL,
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                            "500\r\n\r\n{\"value\":["}};
    fakeaz_script("GET", "/subscriptions/s/trunc", trunc, 1);
    assert_int_equal(get("/subscriptions/s/trunc", &o, &j, &err), RB_ERETRY);
    assert_non_null(strstr(err.msg, "transfer closed"));
    assert_int_equal(fakeaz_count("GET", "/subscriptions/s/trunc"), 5);

    static char huge[100 * 1024];
    memcpy(huge, "X-Big: ", 7);
    memset(huge + 7, 'b', sizeof huge - 10);
    memcpy(huge + sizeof huge - 3, "\r\n", 3);
    fakeaz_step big[] = {{200, huge, JSON, "{}"}};
    fakeaz_script("GET", "/subscriptions/s/hugeheaders", big, 1);
    assert_int_equal(get("/subscriptions/s/hugeheaders", &o, &j, &err), RB_EPROTO);
    assert_non_null(strstr(err.msg, "headers exceed"));

    fakeaz_step nostatus[] = {{200, NULL, JSON, "{\"nostatus\":true}"}};
    fakeaz_script("GET", "/ops/bad", nostatus, 1);
    rb_arm_op *op = NULL;
    assert_int_equal(rb_arm_op_attach(g_arm,
                                      "{\"v\":1,\"kind\":\"Azure-AsyncOperation\",\"method\":"
                                      "\"POST\",\"url\":\"/ops/bad\"}",
                                      &op, &err),
                     RB_OK);
    assert_int_equal(rb_arm_op_wait(g_arm, op, &o, &j, &err), RB_EPROTO);
    rb_arm_op_free(op);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_429_retry_after_honoured),
        cmocka_unit_test(test_503_and_resets_retried),
        cmocka_unit_test(test_attempt_timeout_retried),
        cmocka_unit_test(test_deadline_stops_retrying),
        cmocka_unit_test(test_cancel_during_backoff),
        cmocka_unit_test(test_error_body_verbatim),
        cmocka_unit_test(test_lro_async_success),
        cmocka_unit_test(test_lro_failure_surfaces_error),
        cmocka_unit_test(test_lro_location),
        cmocka_unit_test(test_lro_reattach_new_process),
        cmocka_unit_test(test_pagination),
        cmocka_unit_test(test_bad_responses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
