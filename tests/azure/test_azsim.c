/* The access layer against azsim over TLS (its test CA trusted through the
 * CA-file option): every credential kind azsim serves, throttling and
 * faults injected through its control API, long-running operations,
 * re-attach from another process, pagination, bearer Blob access and the
 * Key Vault challenge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "azure/azure.h"
#include "azure/arm.h"
#include "azure/blob.h"
#include "azure/redact.h"
#include "azsim_proc.h"
#include "testutil.h"

#define T "test_azsim"
#define TENANT "11111111-1111-1111-1111-111111111111"
#define SUB "22222222-2222-2222-2222-222222222222"
#define ARM_SCOPE "https://management.azure.com/.default"


static azsim_proc g_az;
static char g_dir[1024], g_base[128], g_control[128], g_ca[1200];
static int g_port;
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

/* The control API: plain HTTP on loopback, through the same engine. */
static cJSON *control(const char *method, const char *path, const char *body)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", g_control, path);
    const char *h[] = {"Content-Type: application/json", NULL};
    rb_http_request req = {.method = method, .url = url, .headers = h, .body = body,
                           .body_len = body ? strlen(body) : 0};
    rb_http_response *resp = NULL;
    rb_az_err err;
    if (rb_http_send(g_eng, &req, &resp, &err) != RB_OK)
        fail_msg("control %s %s: %s", method, path, err.msg);
    if (resp->status >= 300)
        fail_msg("control %s %s: HTTP %ld %s", method, path, resp->status, resp->body);
    cJSON *j = cJSON_Parse(resp->body);
    rb_http_response_free(resp);
    return j;
}

static void control_ok(const char *method, const char *path, const char *body)
{
    cJSON_Delete(control(method, path, body));
}

static int write_estate(const char *path)
{
    char *cert = NULL;
    char certpath[1300];
    snprintf(certpath, sizeof certpath, "%s/cert.pem", g_dir);
    cert = tu_slurp(certpath);
    if (!cert)
        return -1;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "tenant", TENANT);
    cJSON *settings = cJSON_AddObjectToObject(e, "settings");
    cJSON_AddNumberToObject(settings, "page_size", 2);
    cJSON *id = cJSON_AddObjectToObject(e, "identity");
    cJSON *clients = cJSON_AddArrayToObject(id, "clients");
    cJSON *c1 = cJSON_CreateObject();
    cJSON_AddStringToObject(c1, "client_id", "app-secret");
    cJSON_AddStringToObject(c1, "secret", TU_CLIENT_SECRET);
    cJSON_AddItemToArray(clients, c1);
    cJSON *c2 = cJSON_CreateObject();
    cJSON_AddStringToObject(c2, "client_id", "app-cert");
    cJSON_AddStringToObject(c2, "certificate", cert);
    cJSON_AddItemToArray(clients, c2);
    cJSON *c3 = cJSON_CreateObject();
    cJSON_AddStringToObject(c3, "client_id", "app-fed");
    cJSON *fed = cJSON_AddArrayToObject(c3, "federated");
    cJSON *f1 = cJSON_CreateObject();
    cJSON_AddStringToObject(f1, "issuer", "https://azsim.federation.localhost");
    cJSON_AddStringToObject(f1, "subject", "system:serviceaccount:ns:rebound");
    cJSON_AddItemToArray(fed, f1);
    cJSON_AddItemToArray(clients, c3);
    cJSON *mis = cJSON_AddArrayToObject(id, "managed_identities");
    cJSON *mi = cJSON_CreateObject();
    cJSON_AddStringToObject(mi, "client_id", "mi-1");
    cJSON_AddItemToArray(mis, mi);
    cJSON_AddStringToObject(id, "identity_header", TU_IDENTITY_HEADER);
    cJSON *subs = cJSON_AddArrayToObject(e, "subscriptions");
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "id", SUB);
    cJSON_AddStringToObject(s, "name", "Production");
    cJSON *rgs = cJSON_AddArrayToObject(s, "resource_groups");
    for (int i = 1; i <= 5; i++) {
        cJSON *rg = cJSON_CreateObject();
        char name[16];
        snprintf(name, sizeof name, "rg-%d", i);
        cJSON_AddStringToObject(rg, "name", name);
        cJSON_AddStringToObject(rg, "location", "westeurope");
        if (i == 1) {
            cJSON *res = cJSON_AddArrayToObject(rg, "resources");
            cJSON *st = cJSON_CreateObject();
            cJSON_AddStringToObject(st, "type", "Microsoft.Storage/storageAccounts");
            cJSON_AddStringToObject(st, "name", "rbvault");
            cJSON *conts = cJSON_AddArrayToObject(st, "containers");
            cJSON *ct = cJSON_CreateObject();
            cJSON_AddStringToObject(ct, "name", "backups");
            cJSON_AddItemToArray(conts, ct);
            cJSON_AddItemToArray(res, st);
            cJSON *kv = cJSON_CreateObject();
            cJSON_AddStringToObject(kv, "type", "Microsoft.KeyVault/vaults");
            cJSON_AddStringToObject(kv, "name", "kvtest");
            cJSON *secrets = cJSON_AddArrayToObject(kv, "secrets");
            cJSON *sec = cJSON_CreateObject();
            cJSON_AddStringToObject(sec, "name", "db-password");
            cJSON_AddStringToObject(sec, "value", "kv-value-1");
            cJSON_AddItemToArray(secrets, sec);
            cJSON_AddItemToArray(res, kv);
        }
        cJSON_AddItemToArray(rgs, rg);
    }
    cJSON_AddItemToArray(subs, s);
    char *txt = cJSON_Print(e);
    cJSON_Delete(e);
    free(cert);
    FILE *f = fopen(path, "w");
    if (!f) {
        free(txt);
        return -1;
    }
    fputs(txt, f);
    fclose(f);
    free(txt);
    return 0;
}

static int start_azsim(void)
{
    char estate[1300];
    snprintf(estate, sizeof estate, "%s/estate.json", g_dir);
    if (write_estate(estate) != 0 || azsim_proc_start(&g_az, AZSIM_BIN, g_dir, estate) != 0)
        return -1;
    snprintf(g_base, sizeof g_base, "%s", g_az.base);
    snprintf(g_control, sizeof g_control, "%s", g_az.control);
    snprintf(g_ca, sizeof g_ca, "%s", g_az.ca);
    g_port = g_az.port;
    return 0;
}

static int setup(void **state)
{
    snprintf(g_dir, sizeof g_dir, "%s/azsim", tu_artifacts());
    mkdir(g_dir, 0700);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s/cert.pem "
             "-subj /CN=rebound-azsim-test -days 1 >/dev/null 2>&1 && cat %s/cert.pem %s/key.pem "
             "> %s/client.pem",
             g_dir, g_dir, g_dir, g_dir, g_dir);
    if (system(cmd) != 0 || start_azsim() != 0)
        return -1;
    tu_trace(T);
    char imds[256];
    snprintf(imds, sizeof imds, "%s/metadata/identity/oauth2/token", g_base);
    rb_http_options ho = {.ca_file = g_ca};
    rb_cred_options co = {.kind = RB_CRED_CLIENT_SECRET, .tenant_id = TENANT,
                          .client_id = "app-secret", .client_secret = TU_CLIENT_SECRET};
    if (rb_cloud_custom(&g_cloud, "public", g_base, g_base, "https://management.azure.com", NULL,
                        NULL, imds, NULL) != RB_OK ||
        rb_http_engine_new(&g_eng, &ho, NULL) != RB_OK ||
        rb_cred_new(&g_cred, g_eng, &g_cloud, &co, NULL) != RB_OK ||
        rb_arm_new(&g_arm, g_eng, g_cred, &g_cloud, NULL) != RB_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    rb_arm_free(g_arm);
    rb_cred_free(g_cred);
    rb_http_engine_free(g_eng);
    rb_http_trace_close();
    azsim_proc_stop(&g_az);
    return 0;
}

static rb_cred *cred(rb_cred_options o)
{
    rb_cred *c = NULL;
    rb_az_err err;
    if (rb_cred_new(&c, g_eng, &g_cloud, &o, &err) != RB_OK)
        fail_msg("rb_cred_new: %s", err.msg);
    return c;
}

/* A token that ARM accepts: list the subscriptions with it. */
static void token_works(rb_cred *c)
{
    rb_arm *arm = NULL;
    assert_int_equal(rb_arm_new(&arm, g_eng, c, &g_cloud, NULL), RB_OK);
    cJSON *j = NULL;
    rb_az_err err;
    rb_status st = rb_arm_request(arm, "GET", "/subscriptions", "2022-12-01", NULL, NULL, NULL, &j,
                                  &err);
    tu_log_err(T, rb_cred_kind_name(c), &err);
    if (st != RB_OK)
        fail_msg("%s: %s", rb_cred_kind_name(c), err.msg);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(j, "value")) >= 1);
    cJSON_Delete(j);
    rb_arm_free(arm);
}

static void test_tokens_each_kind(void **state)
{
    rb_cred *c = cred((rb_cred_options){.kind = RB_CRED_CLIENT_SECRET, .tenant_id = TENANT,
                                        .client_id = "app-secret", .client_secret = TU_CLIENT_SECRET});
    token_works(c);
    token_works(c);
    uint64_t fetched, cached;
    rb_cred_stats(c, &fetched, &cached);
    assert_int_equal(fetched, 1); /* the second call was a cache hit */
    assert_true(cached >= 1);
    /* Reuse this token as a static token file. */
    char *tok = NULL;
    assert_int_equal(rb_cred_get_token(c, ARM_SCOPE, NULL, &tok, NULL, NULL), RB_OK);
    char tokfile[1300];
    snprintf(tokfile, sizeof tokfile, "%s/token", g_dir);
    FILE *f = fopen(tokfile, "w");
    fputs(tok, f);
    fclose(f);
    free(tok);
    rb_cred_free(c);
    c = cred((rb_cred_options){.kind = RB_CRED_TOKEN_FILE, .token_file = tokfile});
    token_works(c);
    rb_cred_free(c);

    char pem[1300];
    snprintf(pem, sizeof pem, "%s/client.pem", g_dir);
    c = cred((rb_cred_options){.kind = RB_CRED_CLIENT_CERT, .tenant_id = TENANT,
                               .client_id = "app-cert", .cert_path = pem});
    token_works(c);
    rb_cred_free(c);

    cJSON *ft = control("POST", "/federated-token", "{\"subject\":\"system:serviceaccount:ns:rebound\"}");
    char fedfile[1300];
    snprintf(fedfile, sizeof fedfile, "%s/federated", g_dir);
    f = fopen(fedfile, "w");
    fputs(cJSON_GetObjectItem(ft, "token")->valuestring, f);
    fclose(f);
    cJSON_Delete(ft);
    c = cred((rb_cred_options){.kind = RB_CRED_WORKLOAD, .tenant_id = TENANT,
                               .client_id = "app-fed", .federated_token_file = fedfile});
    token_works(c);
    rb_cred_free(c);

    c = cred((rb_cred_options){.kind = RB_CRED_MANAGED_IDENTITY});
    token_works(c);
    rb_cred_free(c);
    c = cred((rb_cred_options){.kind = RB_CRED_MANAGED_IDENTITY, .client_id = "mi-1"});
    token_works(c);
    rb_cred_free(c);

    char ep[256];
    snprintf(ep, sizeof ep, "%s/msi/token", g_base);
    c = cred((rb_cred_options){.kind = RB_CRED_MANAGED_IDENTITY, .identity_endpoint = ep,
                               .identity_header = TU_IDENTITY_HEADER});
    token_works(c);
    rb_cred_free(c);

    /* Rejected credentials say why (azsim speaks Entra's AADSTS codes). */
    c = cred((rb_cred_options){.kind = RB_CRED_CLIENT_SECRET, .tenant_id = TENANT,
                               .client_id = "app-secret", .client_secret = "not-the-secret-42"});
    rb_az_err err;
    assert_int_equal(rb_cred_get_token(c, ARM_SCOPE, NULL, &tok, NULL, &err), RB_EAUTH);
    tu_log_err(T, "bad secret", &err);
    assert_non_null(strstr(err.msg, "AADSTS7000215"));
    rb_cred_free(c);
}

static void test_refresh_before_expiry(void **state)
{
    control_ok("PUT", "/settings", "{\"token_lifetime\": 4}");
    rb_cred *c = cred((rb_cred_options){.kind = RB_CRED_CLIENT_SECRET, .tenant_id = TENANT,
                                        .client_id = "app-secret", .client_secret = TU_CLIENT_SECRET});
    char *t1 = NULL, *t2 = NULL, *t3 = NULL;
    assert_int_equal(rb_cred_get_token(c, ARM_SCOPE, NULL, &t1, NULL, NULL), RB_OK);
    assert_int_equal(rb_cred_get_token(c, ARM_SCOPE, NULL, &t2, NULL, NULL), RB_OK);
    assert_string_equal(t1, t2);
    usleep(2300 * 1000);
    assert_int_equal(rb_cred_get_token(c, ARM_SCOPE, NULL, &t3, NULL, NULL), RB_OK);
    assert_string_not_equal(t1, t3);
    token_works(c);
    control_ok("PUT", "/settings", "{\"token_lifetime\": 3600}");
    /* Tokens revoked behind our back: the 401 drops the cache, one retry. */
    char *cached = NULL;
    assert_int_equal(rb_cred_get_token(g_cred, ARM_SCOPE, NULL, &cached, NULL, NULL), RB_OK);
    free(cached);
    control_ok("POST", "/tokens/expire", NULL);
    uint64_t before = 0, after = 0;
    rb_cred_stats(g_cred, &before, NULL);
    cJSON *j = NULL;
    rb_az_err err;
    assert_int_equal(rb_arm_request(g_arm, "GET", "/subscriptions/" SUB, "2022-12-01", NULL, NULL,
                                    NULL, &j, &err),
                     RB_OK);
    cJSON_Delete(j);
    rb_cred_stats(g_cred, &after, NULL);
    assert_int_equal(after, before + 1);
    free(t1);
    free(t2);
    free(t3);
    rb_cred_free(c);
}

static rb_status list_groups(const rb_az_call_opts *o, int *count, int *pages, rb_az_err *err)
{
    rb_arm_pager *p = NULL;
    rb_status st = rb_arm_pager_new(g_arm, "/subscriptions/" SUB "/resourcegroups", "2021-04-01", o,
                                    &p, err);
    *count = 0;
    while (st == RB_OK) {
        const cJSON *it = NULL;
        st = rb_arm_pager_next(p, &it, err);
        if (st != RB_OK || !it)
            break;
        (*count)++;
    }
    *pages = p ? rb_arm_pager_pages(p) : 0;
    rb_arm_pager_free(p);
    return st;
}

static void test_pagination(void **state)
{
    int count, pages;
    rb_az_err err;
    assert_int_equal(list_groups(NULL, &count, &pages, &err), RB_OK);
    assert_int_equal(count, 5);
    assert_int_equal(pages, 3);
}

static void test_throttling_and_faults(void **state)
{
    control_ok("POST", "/faults",
               "{\"method\":\"GET\",\"path\":\"/subscriptions/*/resourcegroups\",\"status\":429,"
               "\"retry_after\":2,\"count\":1}");
    int count, pages;
    rb_az_err err;
    char *warm = NULL; /* the token is not part of the measurement */
    assert_int_equal(rb_cred_get_token(g_cred, ARM_SCOPE, NULL, &warm, NULL, NULL), RB_OK);
    free(warm);
    long long t0 = now_ms();
    assert_int_equal(list_groups(NULL, &count, &pages, &err), RB_OK);
    long long took = now_ms() - t0;
    print_message("azsim 429 Retry-After: 2 honoured: %lld ms for 4 requests\n", took);
    assert_true(took >= 2000 && took <= 2200);
    assert_int_equal(count, 5);
    control_ok("DELETE", "/faults", NULL);

    rb_retry_policy fast = {.max_attempts = 6, .base_delay_ms = 50, .max_delay_ms = 200};
    rb_az_call_opts o = {.retry = &fast};
    control_ok("POST", "/faults",
               "[{\"method\":\"GET\",\"path\":\"/subscriptions/" SUB "\",\"status\":503,\"count\":2},"
               "{\"method\":\"GET\",\"path\":\"/subscriptions/" SUB "\",\"reset\":true,\"count\":2}]");
    control_ok("DELETE", "/counters", NULL);
    cJSON *j = NULL;
    assert_int_equal(rb_arm_request(g_arm, "GET", "/subscriptions/" SUB, "2022-12-01", NULL, &o,
                                    NULL, &j, &err),
                     RB_OK);
    cJSON_Delete(j);
    cJSON *cnt = control("GET", "/counters?method=GET&path=/subscriptions/" SUB, NULL);
    assert_int_equal(cJSON_GetObjectItem(cnt, "count")->valueint, 5);
    cJSON_Delete(cnt);
    control_ok("DELETE", "/faults", NULL);

    /* A deadline stops the retries with a clear error. */
    control_ok("POST", "/faults",
               "{\"method\":\"GET\",\"path\":\"/subscriptions/" SUB "\",\"status\":503,"
               "\"retry_after\":1}");
    rb_az_call_opts d = {.deadline_ms = 2500};
    t0 = now_ms();
    assert_int_equal(rb_arm_request(g_arm, "GET", "/subscriptions/" SUB, "2022-12-01", NULL, &d,
                                    NULL, &j, &err),
                     RB_ETIMEDOUT);
    took = now_ms() - t0;
    tu_log_err(T, "deadline", &err);
    assert_true(took < 2700);
    assert_non_null(strstr(err.msg, "deadline"));
    assert_non_null(strstr(err.msg, "ServiceUnavailable"));
    control_ok("DELETE", "/faults", NULL);
}

#define DISKS "/subscriptions/" SUB "/resourceGroups/rg-2/providers/Microsoft.Compute/disks/"
#define DISK_API "2023-04-02"

static cJSON *disk_body(void)
{
    return cJSON_Parse("{\"location\":\"westeurope\",\"properties\":{\"diskSizeGB\":1,"
                       "\"creationData\":{\"createOption\":\"Empty\"}}}");
}

static void test_lro_success_and_failure(void **state)
{
    control_ok("POST", "/lro", "{\"method\":\"PUT\",\"path\":\"*/disks/ok-*\",\"seconds\":2}");
    control_ok("POST", "/lro",
               "{\"method\":\"PUT\",\"path\":\"*/disks/bad-*\",\"seconds\":1,\"status\":\"Failed\"}");
    cJSON *b = disk_body();
    rb_arm_op *op = NULL;
    rb_az_err err;
    assert_int_equal(rb_arm_begin(g_arm, "PUT", DISKS "ok-1", DISK_API, b, NULL, &op, &err), RB_OK);
    assert_false(rb_arm_op_done(op));
    cJSON *res = NULL;
    long long t0 = now_ms();
    assert_int_equal(rb_arm_op_wait(g_arm, op, NULL, &res, &err), RB_OK);
    assert_true(now_ms() - t0 >= 1000);
    const cJSON *ps = cJSON_GetObjectItem(cJSON_GetObjectItem(res, "properties"), "provisioningState");
    assert_string_equal(ps->valuestring, "Succeeded");
    cJSON_Delete(res);
    rb_arm_op_free(op);

    assert_int_equal(rb_arm_begin(g_arm, "PUT", DISKS "bad-1", DISK_API, b, NULL, &op, &err), RB_OK);
    rb_status st = rb_arm_op_wait(g_arm, op, NULL, &res, &err);
    tu_log_err(T, "lro failed", &err);
    print_message("failed LRO: %s\n", err.msg);
    assert_int_equal(st, RB_ERROR);
    assert_true(err.code[0] != '\0');
    rb_arm_op_free(op);
    cJSON_Delete(b);

    /* Location style: deleting a resource group. */
    assert_int_equal(rb_arm_begin(g_arm, "DELETE", "/subscriptions/" SUB "/resourcegroups/rg-5",
                                  "2021-04-01", NULL, NULL, &op, &err),
                     RB_OK);
    assert_int_equal(rb_arm_op_wait(g_arm, op, NULL, &res, &err), RB_OK);
    cJSON_Delete(res);
    rb_arm_op_free(op);
    cJSON *j = NULL;
    assert_int_equal(rb_arm_request(g_arm, "GET", "/subscriptions/" SUB "/resourcegroups/rg-5",
                                    "2021-04-01", NULL, NULL, NULL, &j, &err),
                     RB_ENOTFOUND);
    assert_string_equal(err.code, "ResourceGroupNotFound");
}

static void test_lro_reattach_new_process(void **state)
{
    control_ok("POST", "/lro", "{\"method\":\"PUT\",\"path\":\"*/disks/re-*\",\"seconds\":2}");
    cJSON *b = disk_body();
    rb_arm_op *op = NULL;
    rb_az_err err;
    assert_int_equal(rb_arm_begin(g_arm, "PUT", DISKS "re-1", DISK_API, b, NULL, &op, &err), RB_OK);
    cJSON_Delete(b);
    char id[2048];
    snprintf(id, sizeof id, "%s", rb_arm_op_id(op));
    rb_arm_op_free(op);
    char out[1300];
    snprintf(out, sizeof out, "%s/reattach.out", g_dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(out, "w", stdout);
        (void)f;
        execl(ARM_ATTACH_HELPER, ARM_ATTACH_HELPER, g_base, id, g_ca, TENANT, "app-secret",
              (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char *txt = tu_slurp(out);
    assert_non_null(txt);
    assert_non_null(strstr(txt, "\"provisioningState\":\"Succeeded\""));
    free(txt);
}

struct many {
    pthread_mutex_t m;
    int ok, failed;
};

static void on_op_done(void *user, rb_arm_op *op, rb_status st, cJSON *result, const rb_az_err *err)
{
    struct many *m = user;
    const cJSON *ps = cJSON_GetObjectItem(cJSON_GetObjectItem(result, "properties"),
                                          "provisioningState");
    pthread_mutex_lock(&m->m);
    if (st == RB_OK && cJSON_IsString(ps) && strcmp(ps->valuestring, "Succeeded") == 0)
        m->ok++;
    else
        m->failed++;
    pthread_mutex_unlock(&m->m);
    cJSON_Delete(result);
}

/* 100 operations of 2 s each, waited for by 8 threads: about 2 s in all. */
static void test_many_lros_one_waiter(void **state)
{
    enum { N = 100 };
    control_ok("POST", "/lro", "{\"method\":\"PUT\",\"path\":\"*/disks/many-*\",\"seconds\":2}");
    rb_arm_op *ops[N];
    cJSON *b = disk_body();
    rb_az_err err;
    rb_arm_waiter *w = NULL;
    assert_int_equal(rb_arm_waiter_new(&w, g_arm, 8, &err), RB_OK);
    struct many m = {.m = PTHREAD_MUTEX_INITIALIZER};
    long long t0 = now_ms();
    for (int i = 0; i < N; i++) {
        char path[256];
        snprintf(path, sizeof path, DISKS "many-%d", i);
        if (rb_arm_begin(g_arm, "PUT", path, DISK_API, b, NULL, &ops[i], &err) != RB_OK)
            fail_msg("begin %d: %s", i, err.msg);
        assert_int_equal(rb_arm_waiter_add(w, ops[i], 30000, on_op_done, &m, &err), RB_OK);
    }
    long long started = now_ms() - t0;
    while (rb_arm_waiter_pending(w) > 0)
        usleep(20 * 1000);
    long long took = now_ms() - t0;
    print_message("%d LROs of 2 s: started in %lld ms, all done in %lld ms\n", N, started, took);
    assert_int_equal(m.ok, N);
    assert_int_equal(m.failed, 0);
    /* Overlap, not speed (speed is bench/run.sh lro's job): waited for one
     * after another, 100 operations of 2 s would take 200 s. */
    assert_true(took < started + 60000);
    rb_arm_waiter_free(w);
    for (int i = 0; i < N; i++)
        rb_arm_op_free(ops[i]);
    cJSON_Delete(b);
}

static void test_blob_bearer(void **state)
{
    char ep[256];
    snprintf(ep, sizeof ep, "%s/rbvault", g_base);
    rb_blob_options o = {.endpoint = ep, .account = "rbvault", .cred = g_cred};
    rb_blob_client *c = NULL;
    rb_az_err err;
    assert_int_equal(rb_blob_client_new(&c, g_eng, &o, &err), RB_OK);
    rb_status st = rb_blob_put(c, "backups", "manifest.json", "{\"v\":1}", 7, "application/json", 0,
                               NULL, NULL, &err);
    if (st != RB_OK)
        fail_msg("put: %s", err.msg);
    assert_int_equal(rb_blob_put(c, "backups", "manifest.json", "x", 1, NULL, 0, NULL, NULL, &err),
                     RB_EEXISTS);
    char *data = NULL;
    size_t n;
    assert_int_equal(rb_blob_get(c, "backups", "manifest.json", 1, 3, 0, NULL, &data, &n, &err),
                     RB_OK);
    assert_string_equal(data, "\"v\"");
    free(data);
    rb_blob_client_free(c);
}

static void test_keyvault_challenge(void **state)
{
    rb_az_auth *auth = NULL;
    assert_int_equal(rb_az_auth_bearer(&auth, g_cred, "https://vault.azure.net/.default", 1, NULL),
                     RB_OK);
    char url[256];
    snprintf(url, sizeof url, "https://kvtest.vault.localhost:%d/secrets/db-password?api-version=7.4",
             g_port);
    rb_http_request req = {.method = "GET", .url = url};
    rb_http_response *resp = NULL;
    rb_az_err err;
    rb_status st = rb_az_send(g_eng, auth, &req, NULL, &resp, &err);
    if (st != RB_OK)
        fail_msg("%s", err.msg);
    cJSON *j = cJSON_Parse(resp->body);
    assert_string_equal(cJSON_GetObjectItem(j, "value")->valuestring, "kv-value-1");
    cJSON_Delete(j);
    rb_http_response_free(resp);
    rb_az_auth_free(auth);
}

/* The run's context built from config-like settings does it all at once. */
static void test_azure_context(void **state)
{
    char kvsuffix[64], imds[256], trace[1300];
    snprintf(kvsuffix, sizeof kvsuffix, "vault.localhost:%d", g_port);
    snprintf(imds, sizeof imds, "%s/metadata/identity/oauth2/token", g_base);
    snprintf(trace, sizeof trace, "%s/test_azsim_ctx.trace", tu_artifacts());
    rb_azure_config cfg = {.cloud = "custom",
                           .authority_host = g_base,
                           .arm_endpoint = g_base,
                           .arm_audience = "https://management.azure.com",
                           .keyvault_suffix = kvsuffix,
                           .storage_suffix = "localhost",
                           .imds_endpoint = imds,
                           .ca_file = g_ca,
                           .auth = {.kind = RB_CRED_CLIENT_SECRET, .tenant_id = TENANT,
                                    .client_id = "app-secret", .client_secret = TU_CLIENT_SECRET},
                           .trace_file = trace};
    rb_azure *az = NULL;
    rb_az_err err;
    if (rb_azure_new(&az, &cfg, &err) != RB_OK)
        fail_msg("%s", err.msg);
    cJSON *j = NULL;
    assert_int_equal(rb_arm_request(rb_azure_arm(az), "GET", "/subscriptions/" SUB, "2022-12-01",
                                    NULL, NULL, NULL, &j, &err),
                     RB_OK);
    cJSON_Delete(j);
    char ep[256];
    snprintf(ep, sizeof ep, "%s/rbvault", g_base);
    rb_blob_client *bc = NULL;
    assert_int_equal(rb_azure_blob_client(az, "rbvault", ep, NULL, NULL, &bc, &err), RB_OK);
    assert_int_equal(rb_blob_put(bc, "backups", "ctx.txt", "ctx", 3, NULL, 0, NULL, NULL, &err),
                     RB_OK);
    rb_blob_client_free(bc);
    char vault[256], url[512];
    rb_azure_vault_url(az, "kvtest", vault, sizeof vault);
    snprintf(url, sizeof url, "%s/secrets/db-password?api-version=7.4", vault);
    rb_az_auth *auth = NULL;
    assert_int_equal(rb_azure_vault_auth(az, &auth, &err), RB_OK);
    rb_http_request req = {.method = "GET", .url = url};
    rb_http_response *resp = NULL;
    if (rb_az_send(rb_azure_engine(az), auth, &req, NULL, &resp, &err) != RB_OK)
        fail_msg("%s", err.msg);
    rb_http_response_free(resp);
    rb_az_auth_free(auth);
    rb_azure_free(az);
    char *t = tu_slurp(trace);
    assert_non_null(t);
    assert_non_null(strstr(t, "/secrets/db-password"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_each_kind),
        cmocka_unit_test(test_refresh_before_expiry),
        cmocka_unit_test(test_pagination),
        cmocka_unit_test(test_throttling_and_faults),
        cmocka_unit_test(test_lro_success_and_failure),
        cmocka_unit_test(test_lro_reattach_new_process),
        cmocka_unit_test(test_many_lros_one_waiter),
        cmocka_unit_test(test_blob_bearer),
        cmocka_unit_test(test_keyvault_challenge),
        cmocka_unit_test(test_azure_context),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
