/* Credentials: each kind gets a token; the cache serves repeats; tokens are
 * refreshed before they expire; the default chain; Key Vault challenges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "azure/cred.h"
#include "azure/pipeline.h"
#include "azure/redact.h"
#include "fakeaz.h"
#include "testutil.h"

#define T "test_cred"
#define ARM_SCOPE "https://management.azure.com/.default"

static rb_http_engine *g_eng;
static rb_cloud g_cloud;
static char g_dir[1024];
static char g_cert[1200], g_fed[1200], g_tokfile[1200], g_az[1200], g_az_bad[1200];

static void write_file(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static int setup(void **state)
{
    static const char *vars[] = {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
                                 "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE",
                                 "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_AUTHORITY_HOST",
                                 "REBOUND_AZURE_TOKEN_FILE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    snprintf(g_dir, sizeof g_dir, "%s/cred", tu_artifacts());
    mkdir(g_dir, 0700);
    /* A throwaway certificate and key for the certificate credential. */
    snprintf(g_cert, sizeof g_cert, "%s/client.pem", g_dir);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s/cert.pem "
             "-subj /CN=rebound-test -days 1 >/dev/null 2>&1 && cat %s/cert.pem %s/key.pem > %s",
             g_dir, g_dir, g_dir, g_dir, g_cert);
    if (system(cmd) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "%s/cert.pem", g_dir);
    if (fakeaz_start(cmd) != 0)
        return -1;
    snprintf(g_fed, sizeof g_fed, "%s/federated", g_dir);
    write_file(g_fed, TU_FEDERATED "\n", 0600);
    snprintf(g_tokfile, sizeof g_tokfile, "%s/token", g_dir);
    write_file(g_tokfile, TU_FILE_TOKEN "\n", 0600);
    /* A fake `az` that checks its arguments like the real one would. */
    snprintf(g_az, sizeof g_az, "%s/az", g_dir);
    snprintf(cmd, sizeof cmd,
             "#!/bin/sh\n"
             "[ \"$1 $2\" = \"account get-access-token\" ] || { echo bad args >&2; exit 2; }\n"
             "[ \"$3\" = \"--resource\" ] || { echo no resource >&2; exit 2; }\n"
             "echo \"$4\" > %s/az.resource\n"
             "exp=$(( $(date +%%s) + 3600 ))\n"
             "printf '{\"accessToken\": \"%s\", \"expiresOn\": \"2099-01-01 00:00:00.000000\", "
             "\"expires_on\": %%s, \"subscription\": \"s\", \"tenant\": \"t\", \"tokenType\": "
             "\"Bearer\"}\\n' \"$exp\"\n",
             g_dir, TU_CLI_TOKEN);
    write_file(g_az, cmd, 0700);
    snprintf(g_az_bad, sizeof g_az_bad, "%s/az-bad", g_dir);
    write_file(g_az_bad, "#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n",
               0700);
    char imds[256];
    snprintf(imds, sizeof imds, "%s/metadata/identity/oauth2/token", fakeaz_base());
    if (rb_cloud_custom(&g_cloud, "public", fakeaz_base(), fakeaz_base(),
                        "https://management.azure.com", NULL, NULL, imds, NULL) != RB_OK)
        return -1;
    tu_trace(T);
    return rb_http_engine_new(&g_eng, NULL, NULL) == RB_OK ? 0 : -1;
}

static int teardown(void **state)
{
    rb_http_engine_free(g_eng);
    fakeaz_stop();
    rb_http_trace_close();
    return 0;
}

static rb_cred *make(rb_cred_options o)
{
    rb_cred *c = NULL;
    rb_az_err err;
    rb_status st = rb_cred_new(&c, g_eng, &g_cloud, &o, &err);
    if (st != RB_OK)
        fail_msg("rb_cred_new: %s", err.msg);
    return c;
}

static char *token(rb_cred *c, const char *scope, rb_status want)
{
    char *t = NULL;
    rb_az_err err;
    rb_az_err_clear(&err);
    rb_status st = rb_cred_get_token(c, scope, NULL, &t, NULL, &err);
    tu_log_err(T, "get_token", &err);
    if (st != want)
        fail_msg("want %s, got %s: %s", rb_status_name(want), rb_status_name(st), err.msg);
    return t;
}

static void test_client_secret_and_cache(void **state)
{
    rb_cred *c = make((rb_cred_options){.kind = RB_CRED_CLIENT_SECRET, .tenant_id = "tenant-a",
                                        .client_id = "app", .client_secret = TU_CLIENT_SECRET});
    char *t1 = token(c, ARM_SCOPE, RB_OK);
    assert_non_null(strstr(t1, TU_TOKEN_PREFIX "-secret-"));
    assert_string_equal(fakeaz_last_tenant(), "tenant-a");
    assert_string_equal(fakeaz_last_scope(), ARM_SCOPE);
    char *t2 = token(c, ARM_SCOPE, RB_OK);
    assert_string_equal(t1, t2);
    uint64_t fetched, cached;
    rb_cred_stats(c, &fetched, &cached);
    assert_int_equal(fetched, 1);
    assert_int_equal(cached, 1);
    /* Another scope is another cache entry. */
    char *t3 = token(c, "https://storage.azure.com/.default", RB_OK);
    assert_string_not_equal(t1, t3);
    assert_string_equal(rb_cred_kind_name(c), "client-secret");
    free(t1);
    free(t2);
    free(t3);
    rb_cred_free(c);
}

static void test_bad_secret(void **state)
{
    rb_cred *c = make((rb_cred_options){.kind = RB_CRED_CLIENT_SECRET, .tenant_id = "tenant-a",
                                        .client_id = "app", .client_secret = "wrong-secret-1234"});
    char *t = NULL;
    rb_az_err err;
    assert_int_equal(rb_cred_get_token(c, ARM_SCOPE, NULL, &t, NULL, &err), RB_EAUTH);
    tu_log_err(T, "bad secret", &err);
    assert_non_null(strstr(err.msg, "AADSTS7000215"));
    assert_null(strstr(err.msg, "wrong-secret-1234"));
    rb_cred_free(c);
    /* An explicit kind without its settings fails at creation. */
    rb_cred *c2 = NULL;
    rb_cred_options o = {.kind = RB_CRED_CLIENT_SECRET, .tenant_id = "t"};
    assert_int_equal(rb_cred_new(&c2, g_eng, &g_cloud, &o, &err), RB_EAUTH);
    assert_non_null(strstr(err.msg, "AZURE_CLIENT_SECRET"));
}

static void test_refresh_before_expiry(void **state)
{
    fakeaz_token_lifetime(4); /* refreshed at half-life: after 2 s */
    rb_cred *c = make((rb_cred_options){.kind = RB_CRED_CLIENT_SECRET, .tenant_id = "tenant-a",
                                        .client_id = "app", .client_secret = TU_CLIENT_SECRET});
    char *t1 = token(c, ARM_SCOPE, RB_OK);
    char *t2 = token(c, ARM_SCOPE, RB_OK);
    assert_string_equal(t1, t2);
    usleep(2300 * 1000);
    char *t3 = token(c, ARM_SCOPE, RB_OK);
    assert_string_not_equal(t1, t3);
    uint64_t fetched, cached;
    rb_cred_stats(c, &fetched, &cached);
    assert_int_equal(fetched, 2);
    fakeaz_token_lifetime(3600);
    free(t1);
    free(t2);
    free(t3);
    rb_cred_free(c);
}

static void test_certificate(void **state)
{
    rb_cred *c = make((rb_cred_options){.kind = RB_CRED_CLIENT_CERT, .tenant_id = "tenant-c",
                                        .client_id = "app-cert", .cert_path = g_cert});
    char *t = token(c, ARM_SCOPE, RB_OK);
    assert_non_null(strstr(t, TU_TOKEN_PREFIX "-cert-"));
    free(t);
    rb_cred_free(c);
    /* A file without a key is refused clearly. */
    char certonly[1300];
    snprintf(certonly, sizeof certonly, "%s/cert.pem", g_dir);
    c = make((rb_cred_options){.kind = RB_CRED_CLIENT_CERT, .tenant_id = "tenant-c",
                               .client_id = "app-cert", .cert_path = certonly});
    rb_az_err err;
    char *t2 = NULL;
    assert_int_equal(rb_cred_get_token(c, ARM_SCOPE, NULL, &t2, NULL, &err), RB_EAUTH);
    assert_non_null(strstr(err.msg, "private key"));
    rb_cred_free(c);
}

static void test_workload_identity(void **state)
{
    rb_cred *c = make((rb_cred_options){.kind = RB_CRED_WORKLOAD, .tenant_id = "tenant-w",
                                        .client_id = "app-w", .federated_token_file = g_fed});
    char *t = token(c, ARM_SCOPE, RB_OK);
    assert_non_null(strstr(t, TU_TOKEN_PREFIX "-workload-"));
    free(t);
    rb_cred_free(c);
}

static void test_managed_identity(void **state)
{
    rb_cred *c = make((rb_cred_options){.kind = RB_CRED_MANAGED_IDENTITY});
    char *t = token(c, ARM_SCOPE, RB_OK);
    assert_non_null(strstr(t, TU_TOKEN_PREFIX "-mi-"));
    assert_string_equal(fakeaz_last_scope(), "https://management.azure.com");
    free(t);
    rb_cred_free(c);
    /* App Service / Arc style endpoint with its header. */
    char ep[256];
    snprintf(ep, sizeof ep, "%s/msi/token", fakeaz_base());
    c = make((rb_cred_options){.kind = RB_CRED_MANAGED_IDENTITY, .identity_endpoint = ep,
                               .identity_header = TU_IDENTITY_HEADER});
    t = token(c, ARM_SCOPE, RB_OK);
    assert_non_null(strstr(t, TU_TOKEN_PREFIX "-appsvc-"));
    free(t);
    rb_cred_free(c);
}

static void test_azure_cli(void **state)
{
    rb_cred *c = make((rb_cred_options){.kind = RB_CRED_AZURE_CLI, .az_path = g_az});
    char *t = token(c, "https://vault.azure.net/.default", RB_OK);
    assert_string_equal(t, TU_CLI_TOKEN);
    free(t);
    rb_cred_free(c);
    char path[1300], *res = NULL;
    snprintf(path, sizeof path, "%s/az.resource", g_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256] = "";
    res = fgets(line, sizeof line, f);
    fclose(f);
    assert_non_null(res);
    assert_string_equal(line, "https://vault.azure.net\n");

    c = make((rb_cred_options){.kind = RB_CRED_AZURE_CLI, .az_path = g_az_bad});
    rb_az_err err;
    assert_int_equal(rb_cred_get_token(c, ARM_SCOPE, NULL, &t, NULL, &err), RB_EAUTH);
    assert_non_null(strstr(err.msg, "az login"));
    rb_cred_free(c);
}

static void test_token_file(void **state)
{
    rb_cred *c = make((rb_cred_options){.kind = RB_CRED_TOKEN_FILE, .token_file = g_tokfile});
    char *t = token(c, ARM_SCOPE, RB_OK);
    assert_string_equal(t, TU_FILE_TOKEN);
    free(t);
    rb_cred_free(c);
}

static void test_default_chain(void **state)
{
    /* Environment service principal first. */
    setenv("AZURE_TENANT_ID", "tenant-env", 1);
    setenv("AZURE_CLIENT_ID", "app-env", 1);
    setenv("AZURE_CLIENT_SECRET", TU_CLIENT_SECRET, 1);
    rb_cred *c = make((rb_cred_options){.kind = RB_CRED_DEFAULT});
    char *t = token(c, ARM_SCOPE, RB_OK);
    assert_string_equal(rb_cred_kind_name(c), "client-secret");
    assert_string_equal(fakeaz_last_tenant(), "tenant-env");
    free(t);
    rb_cred_free(c);
    unsetenv("AZURE_TENANT_ID");
    unsetenv("AZURE_CLIENT_ID");
    unsetenv("AZURE_CLIENT_SECRET");

    /* Nothing in the environment: managed identity answers. */
    c = make((rb_cred_options){.kind = RB_CRED_DEFAULT});
    t = token(c, ARM_SCOPE, RB_OK);
    assert_string_equal(rb_cred_kind_name(c), "managed-identity");
    free(t);
    rb_cred_free(c);

    /* No IMDS (closed port): the Azure CLI is next. */
    rb_cloud dead = g_cloud;
    snprintf(dead.imds_endpoint, sizeof dead.imds_endpoint,
             "http://127.0.0.1:9/metadata/identity/oauth2/token");
    rb_cred_options o = {.kind = RB_CRED_DEFAULT, .az_path = g_az, .probe_timeout_ms = 500};
    rb_cred *c2 = NULL;
    assert_int_equal(rb_cred_new(&c2, g_eng, &dead, &o, NULL), RB_OK);
    t = token(c2, ARM_SCOPE, RB_OK);
    assert_string_equal(t, TU_CLI_TOKEN);
    assert_string_equal(rb_cred_kind_name(c2), "azure-cli");
    free(t);
    rb_cred_free(c2);

    /* Nothing at all: one clear error naming what was tried. */
    o.az_path = "/nonexistent/az";
    assert_int_equal(rb_cred_new(&c2, g_eng, &dead, &o, NULL), RB_OK);
    rb_az_err err;
    assert_int_equal(rb_cred_get_token(c2, ARM_SCOPE, NULL, &t, NULL, &err), RB_EAUTH);
    tu_log_err(T, "empty chain", &err);
    assert_non_null(strstr(err.msg, "no credential in the default chain worked"));
    assert_non_null(strstr(err.msg, "managed-identity"));
    rb_cred_free(c2);
}

/* A 401 challenge names the tenant and resource; the pipeline answers once. */
static void test_keyvault_challenge(void **state)
{
    rb_cred *c = make((rb_cred_options){.kind = RB_CRED_CLIENT_SECRET, .tenant_id = "home",
                                        .client_id = "app", .client_secret = TU_CLIENT_SECRET});
    rb_az_auth *auth = NULL;
    assert_int_equal(rb_az_auth_bearer(&auth, c, "https://vault.azure.net/.default", 1, NULL),
                     RB_OK);
    char url[256];
    snprintf(url, sizeof url, "%s/kv/secrets/db?api-version=7.4", fakeaz_base());
    rb_http_request req = {.method = "GET", .url = url};
    rb_http_response *resp = NULL;
    rb_az_err err;
    rb_status st = rb_az_send(g_eng, auth, &req, NULL, &resp, &err);
    if (st != RB_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(resp->status, 200);
    assert_string_equal(fakeaz_last_tenant(), "kvtenant");
    assert_string_equal(fakeaz_last_scope(), "https://vault.azure.net/.default");
    rb_http_response_free(resp);
    /* The scope= form, another tenant, a trailing slash. */
    snprintf(url, sizeof url, "%s/kv2/secrets/db?api-version=7.4", fakeaz_base());
    rb_az_auth *auth2 = NULL;
    assert_int_equal(rb_az_auth_bearer(&auth2, c, "https://vault.azure.net/.default", 1, NULL),
                     RB_OK);
    st = rb_az_send(g_eng, auth2, &req, NULL, &resp, &err);
    if (st != RB_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(fakeaz_last_tenant(), "kvtenant2");
    rb_http_response_free(resp);
    rb_az_auth_free(auth2);
    snprintf(url, sizeof url, "%s/kv/secrets/db?api-version=7.4", fakeaz_base());
    /* Without challenge support the 401 is an auth error with the vault's words. */
    rb_az_auth *plain = NULL;
    assert_int_equal(rb_az_auth_bearer(&plain, c, "https://vault.azure.net/.default", 0, NULL),
                     RB_OK);
    st = rb_az_send(g_eng, plain, &req, NULL, &resp, &err);
    assert_int_equal(st, RB_EAUTH);
    assert_non_null(strstr(err.msg, "AKV10000"));
    rb_http_response_free(resp);
    rb_az_auth_free(plain);
    rb_az_auth_free(auth);
    rb_cred_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_secret_and_cache),
        cmocka_unit_test(test_bad_secret),
        cmocka_unit_test(test_refresh_before_expiry),
        cmocka_unit_test(test_certificate),
        cmocka_unit_test(test_workload_identity),
        cmocka_unit_test(test_managed_identity),
        cmocka_unit_test(test_azure_cli),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_default_chain),
        cmocka_unit_test(test_keyvault_challenge),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
