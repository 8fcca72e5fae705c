/* Unit tests for runner/config: rebound.yaml loading, errors, ${ENV},
 * secrets, presets and the dump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/values.h"

static char tmpdir[256];
static char olddir[4096];
static char err[1024];

/* Writes `text` to tmpdir/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads YAML text from a fresh file; returns the config or NULL (err set). */
static rb_config *load_text(const char *text)
{
    const char *path = write_file("rebound.yaml", text);
    err[0] = '\0';
    return rb_config_load(path, err, sizeof err);
}

/* Asserts that loading `text` fails with "PATH:LINE:COL: " followed by a
 * message containing `needle`. */
static void expect_error(const char *text, int line, int col, const char *needle)
{
    rb_config *cfg = load_text(text);
    if (cfg) {
        rb_config_free(cfg);
        fail_msg("expected an error containing \"%s\"", needle);
    }
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s/rebound.yaml:%d:%d: ", tmpdir, line, col);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", err, prefix);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not contain \"%s\"", err, needle);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rb_test_config_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    /* realpath: the loader resolves paths against the real directory. */
    char *real = realpath(tmpdir, NULL);
    if (!real)
        return -1;
    snprintf(tmpdir, sizeof tmpdir, "%s", real);
    free(real);
    if (!getcwd(olddir, sizeof olddir))
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- defaults ---------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    rb_config *cfg = rb_config_defaults();
    assert_null(cfg->path);
    assert_string_equal(cfg->cloud.name, "public");
    assert_string_equal(cfg->cloud.authority_host, "https://login.microsoftonline.com");
    assert_string_equal(cfg->cloud.arm_endpoint, "https://management.azure.com");
    assert_string_equal(cfg->cloud.arm_audience, "https://management.azure.com");
    assert_string_equal(cfg->cloud.keyvault_suffix, "vault.azure.net");
    assert_string_equal(cfg->cloud.storage_suffix, "core.windows.net");
    assert_null(cfg->cloud.imds_endpoint);
    assert_null(cfg->cloud.ca_file);
    assert_string_equal(cfg->auth.method, "default");
    assert_null(cfg->auth.tenant_id);
    assert_string_equal(cfg->vault.kind, "local");
    assert_string_equal(cfg->vault.path, ".rebound/vault");
    assert_int_equal(cfg->vault.min_retention_days, 30);
    assert_int_equal(cfg->vault.block_size, 8L * 1024 * 1024);
    assert_int_equal(cfg->vault.allow_unlocked, 0);
    assert_string_equal(cfg->run.runs_dir, ".rebound/runs");
    assert_int_equal(cfg->run.parallel, 8);
    assert_string_equal(cfg->run.failure_policy, "stop");
    assert_int_equal(cfg->n_plugin_paths, 0);
    assert_non_null(cfg->plugin_paths);
    assert_null(cfg->plugin_paths[0]);
    assert_int_equal(rbv_type(cfg->estate), RB_VMAP);
    assert_int_equal(rbv_len(cfg->estate), 0);
    assert_int_equal(rbv_type(cfg->targets), RB_VMAP);
    assert_int_equal(rbv_type(cfg->plugin_settings), RB_VMAP);
    rb_config_free(cfg);
}

/* With no path, rebound.yaml in the current directory is used if present,
 * and the defaults otherwise. */
static void test_load_null_path(void **state)
{
    (void)state;
    char empty[300];
    snprintf(empty, sizeof empty, "%s/emptydir", tmpdir);
    mkdir(empty, 0755);
    assert_int_equal(chdir(empty), 0);
    rb_config *cfg = rb_config_load(NULL, err, sizeof err);
    assert_non_null(cfg);
    assert_null(cfg->path);
    assert_int_equal(cfg->run.parallel, 8);
    rb_config_free(cfg);

    FILE *f = fopen("rebound.yaml", "w");
    assert_non_null(f);
    fputs("run:\n  parallel: 3\n", f);
    fclose(f);
    cfg = rb_config_load(NULL, err, sizeof err);
    assert_non_null(cfg);
    assert_string_equal(cfg->path, "rebound.yaml");
    assert_int_equal(cfg->run.parallel, 3);
    rb_config_free(cfg);
    unlink("rebound.yaml");
    assert_int_equal(chdir(olddir), 0);
}

static void test_explicit_missing_file(void **state)
{
    (void)state;
    rb_config *cfg = rb_config_load("/nonexistent/rebound.yaml", err, sizeof err);
    assert_null(cfg);
    assert_non_null(strstr(err, "/nonexistent/rebound.yaml"));
    assert_non_null(strstr(err, "No such file"));
}

static void test_empty_file_gives_defaults(void **state)
{
    (void)state;
    rb_config *cfg = load_text("# nothing but a comment\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->run.parallel, 8);
    assert_string_equal(cfg->auth.method, "default");
    rb_config_free(cfg);
}

/* ---- a full file ------------------------------------------------------- */

static void test_full_file(void **state)
{
    (void)state;
    rb_config *cfg = load_text(
        "plugins:\n"
        "  paths: [/opt/rebound/plugins, ./plugins]\n"
        "  settings:\n"
        "    keyvault:\n"
        "      timeout_s: 30\n"
        "cloud:\n"
        "  name: public\n"
        "  imds_endpoint: http://127.0.0.1:40342/metadata/identity/oauth2/token\n"
        "  ca_file: certs/azsim-ca.pem\n"
        "auth:\n"
        "  method: client_secret\n"
        "  tenant_id: 00000000-0000-0000-0000-000000000001\n"
        "  client_id: \"11111111-1111-1111-1111-111111111111\"\n"
        "  client_secret_env: AZURE_CLIENT_SECRET\n"
        "estate:\n"
        "  owner: platform-team\n"
        "targets:\n"
        "  dr:\n"
        "    subscription: 22222222-2222-2222-2222-222222222222\n"
        "    resource_group: rg-drill\n"
        "    location: westeurope\n"
        "vault:\n"
        "  kind: azure-blob\n"
        "  account: rbvault\n"
        "  container: backups\n"
        "  endpoint: https://rbvault.blob.core.windows.net/\n"
        "  sas_file: /run/secrets/sas\n"
        "  min_retention_days: 90\n"
        "  allow_unlocked: true\n"
        "  signing_key_file: keys/catalog.pem\n"
        "  public_key_file: /etc/rebound/catalog.pub.pem\n"
        "  block_size: 4 MiB\n"
        "run:\n"
        "  runs_dir: /var/lib/rebound/runs\n"
        "  parallel: 16\n"
        "  failure_policy: continue\n");
    if (!cfg)
        fail_msg("load failed: %s", err);
    assert_int_equal(cfg->n_plugin_paths, 2);
    assert_string_equal(cfg->plugin_paths[0], "/opt/rebound/plugins");
    char want[600];
    snprintf(want, sizeof want, "%s/plugins", tmpdir);
    assert_string_equal(cfg->plugin_paths[1], want);
    assert_null(cfg->plugin_paths[2]);
    assert_int_equal(rbv_map_get_int(rbv_map_get(cfg->plugin_settings, "keyvault"), "timeout_s", 0), 30);
    assert_string_equal(cfg->cloud.imds_endpoint, "http://127.0.0.1:40342/metadata/identity/oauth2/token");
    snprintf(want, sizeof want, "%s/certs/azsim-ca.pem", tmpdir);
    assert_string_equal(cfg->cloud.ca_file, want);
    assert_string_equal(cfg->auth.method, "client_secret");
    assert_string_equal(cfg->auth.tenant_id, "00000000-0000-0000-0000-000000000001");
    assert_string_equal(cfg->auth.client_id, "11111111-1111-1111-1111-111111111111");
    assert_string_equal(cfg->auth.client_secret_env, "AZURE_CLIENT_SECRET");
    assert_null(cfg->auth.client_secret_file);
    assert_string_equal(rbv_map_get_string(cfg->estate, "owner", ""), "platform-team");
    const rb_value *dr = rbv_map_get(cfg->targets, "dr");
    assert_non_null(dr);
    assert_string_equal(rbv_map_get_string(dr, "resource_group", ""), "rg-drill");
    assert_string_equal(rbv_map_get_string(dr, "location", ""), "westeurope");
    assert_string_equal(cfg->vault.kind, "azure-blob");
    assert_string_equal(cfg->vault.account, "rbvault");
    assert_string_equal(cfg->vault.container, "backups");
    assert_string_equal(cfg->vault.endpoint, "https://rbvault.blob.core.windows.net");
    assert_null(cfg->vault.path); /* only the local kind has a path */
    assert_string_equal(cfg->vault.sas_file, "/run/secrets/sas");
    assert_int_equal(cfg->vault.min_retention_days, 90);
    assert_int_equal(cfg->vault.allow_unlocked, 1);
    snprintf(want, sizeof want, "%s/keys/catalog.pem", tmpdir);
    assert_string_equal(cfg->vault.signing_key_file, want);
    assert_int_equal(cfg->vault.block_size, 4L * 1024 * 1024);
    assert_string_equal(cfg->run.runs_dir, "/var/lib/rebound/runs");
    assert_int_equal(cfg->run.parallel, 16);
    assert_string_equal(cfg->run.failure_policy, "continue");
    rb_config_free(cfg);
}

/* ---- malformed YAML ---------------------------------------------------- */

static void test_malformed_yaml(void **state)
{
    (void)state;
    /* libyaml: "mapping values are not allowed in this context" at the 2nd ':' */
    expect_error("run:\n  parallel: 4: 5\n", 2, 14, "mapping values are not allowed");
    /* An unclosed flow sequence: the problem is reported where libyaml finds it. */
    expect_error("plugins:\n  paths: [a, b\nrun:\n  parallel: 2\n", 3, 4, "did not find expected");
    /* A tab used for indentation. */
    expect_error("run:\n\tparallel: 2\n", 2, 1, "found character that cannot start any token");
    /* More than one document. */
    expect_error("run: {}\n---\nrun: {}\n", 2, 1, "one YAML document");
    /* Nesting is bounded (the loader recurses). */
    char deep[300];
    snprintf(deep, sizeof deep, "estate:\n  x: %.*s%.*s\n", 70,
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 70,
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    expect_error(deep, 2, 68, "nesting deeper than 64 levels");
    /* Invalid UTF-8: a reader error, located by byte offset. */
    expect_error("estate:\n  name: \"a\xff\"\n", 2, 11, "invalid");
}

static void test_alias_errors(void **state)
{
    (void)state;
    expect_error("estate:\n  a: *nowhere\n", 2, 6, "names no anchor");
    expect_error("estate: &e\n  a: *e\n", 2, 6, "contains it");
    /* A legal alias is copied. */
    rb_config *cfg = load_text("estate:\n  base: &b {size: 3}\n  copy: *b\n");
    if (!cfg)
        fail_msg("%s", err);
    assert_int_equal(rbv_map_get_int(rbv_map_get(cfg->estate, "copy"), "size", 0), 3);
    rb_config_free(cfg);
    /* Exponential alias expansion is cut off (the position is that of the
     * node being copied when the budget ran out, inside an anchor). */
    cfg = load_text("estate:\n"
                 "  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                 "  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                 "  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                 "  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                 "  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                    "  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n");
    assert_null(cfg);
    assert_non_null(strstr(err, "too many values under \"estate."));
}

/* ---- unknown keys, wrong types, duplicates ----------------------------- */

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_error("vault:\n  kind: local\n\nrun:\n  paralel: 4\n", 5, 3,
                 "unknown key \"paralel\" in \"run\" (expected one of: runs_dir, parallel, failure_policy)");
    expect_error("cloud: {}\nvaults:\n  kind: local\n", 2, 1, "unknown top-level key \"vaults\"");
    expect_error("auth:\n  method: default\n  tennant_id: x\n", 3, 3, "unknown key \"tennant_id\" in \"auth\"");
    expect_error("plugins:\n  path: [x]\n", 2, 3,
                 "unknown key \"path\" in \"plugins\" (expected one of: paths, settings)");
    expect_error("cloud:\n  arm: https://x\n", 2, 3, "unknown key \"arm\" in \"cloud\"");
    expect_error("vault:\n  retention: 3\n", 2, 3, "min_retention_days");
    /* Free-form sections take any key. */
    rb_config *cfg = load_text("estate:\n  anything_goes: 1\ntargets:\n  t1:\n    whatever: x\n"
                               "plugins:\n  settings:\n    vm:\n      custom_knob: true\n");
    if (!cfg)
        fail_msg("%s", err);
    rb_config_free(cfg);
}

static void test_wrong_types(void **state)
{
    (void)state;
    expect_error("run:\n  parallel: many\n", 2, 13, "\"run.parallel\" must be an integer, got \"many\"");
    expect_error("run:\n  parallel: \"4\"\n", 2, 13, "\"run.parallel\" must be an integer");
    expect_error("run:\n  parallel: 0\n", 2, 13, "\"run.parallel\" must be between 1 and");
    expect_error("run:\n  parallel: [1]\n", 2, 13, "\"run.parallel\" must be an integer, not a list");
    expect_error("vault:\n  allow_unlocked: yes\n", 2, 19, "\"vault.allow_unlocked\" must be true or false");
    expect_error("vault:\n  block_size: 8 MB\n", 2, 15, "\"vault.block_size\" must be a size");
    expect_error("vault:\n  min_retention_days: 2.5\n", 2, 23, "must be an integer");
    expect_error("run: 5\n", 1, 6, "\"run\" must be a mapping, not a scalar");
    expect_error("- a\n- b\n", 1, 1, "the top level must be a mapping");
    expect_error("estate: [1, 2]\n", 1, 9, "\"estate\" must be a mapping");
    expect_error("targets:\n  dr: westeurope\n", 2, 7, "\"targets.dr\" must be a mapping");
    expect_error("plugins:\n  paths: /opt/plugins\n", 2, 10, "\"plugins.paths\" must be a list");
    expect_error("cloud:\n  arm_endpoint: http://management.example\n", 2, 17,
                 "\"cloud.arm_endpoint\" must be an https:// URL");
    expect_error("run:\n  parallel: 2\n  parallel: 3\n", 3, 3, "duplicate key \"parallel\" in \"run\"");
    expect_error("estate:\n  a: 1\n  a: 2\n", 3, 3, "duplicate key \"a\" in \"estate\"");
    expect_error("estate:\n  a: !!binary aGVsbG8=\n", 2, 6, "unsupported tag");
    expect_error("estate:\n  a: 99999999999999999999\n", 2, 6, "does not fit in 64 bits");
}

static void test_invalid_enums(void **state)
{
    (void)state;
    expect_error("run:\n  failure_policy: halt\n", 2, 19,
                 "\"run.failure_policy\" must be one of: stop, continue; got \"halt\"");
    expect_error("vault:\n  kind: s3\n", 2, 9, "\"vault.kind\" must be one of: local, azure-blob");
    expect_error("auth:\n  method: password\n", 2, 11, "\"auth.method\" must be one of: default, client_secret");
    expect_error("cloud:\n  name: germany\n", 2, 9, "\"cloud.name\" must be one of: public, usgov, china, custom");
}

/* Checks that span keys: a method or kind that cannot work as written. */
static void test_cross_checks(void **state)
{
    (void)state;
    expect_error("auth:\n  tenant_id: t\n  method: client_secret\n  client_id: c\n", 3, 3,
                 "needs \"auth.client_secret_env\" or \"auth.client_secret_file\"");
    expect_error("auth:\n  method: client_certificate\n  tenant_id: t\n  client_id: c\n", 2, 3,
                 "needs \"auth.certificate_file\"");
    expect_error("auth:\n  method: token_file\n", 2, 3, "needs \"auth.token_file\"");
    expect_error("vault:\n  kind: azure-blob\n  account: a\n", 2, 3, "needs \"vault.container\"");
    expect_error("cloud:\n  name: custom\n  authority_host: https://login.example\n", 2, 3,
                 "needs \"cloud.arm_endpoint\"");
}

/* ---- secrets ----------------------------------------------------------- */

static void test_literal_secret_refused(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"auth:\n  method: client_secret\n  client_secret: Sup3r-S3cret-Value\n", "client_secret_env or client_secret_file"},
        {"vault:\n  kind: azure-blob\n  account_key: Sup3r-S3cret-Value\n", "account_key_env or account_key_file"},
        {"vault:\n  sas: \"Sup3r-S3cret-Value\"\n  kind: local\n", "sas_env or sas_file"},
        {"vault:\n  kind: local\n  signing_key: |\n    Sup3r-S3cret-Value\n", "signing_key_env or signing_key_file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rb_config *cfg = load_text(cases[i][0]);
        assert_null(cfg);
        assert_non_null(strstr(err, "secrets are not accepted in the config file; use "));
        assert_non_null(strstr(err, cases[i][1]));
        assert_null(strstr(err, "Sup3r"));
        assert_null(strstr(err, "S3cret"));
    }
    expect_error("auth:\n  client_secret: x\n", 2, 3, "\"auth.client_secret\": secrets are not accepted");
}

/* *_env keys take a variable's name; ${...} there would put the secret in. */
static void test_env_name_keys(void **state)
{
    (void)state;
    setenv("RB_TEST_SECRETVAL", "Sup3r-S3cret-Value", 1);
    rb_config *cfg = load_text("auth:\n  client_secret_env: ${RB_TEST_SECRETVAL}\n");
    assert_null(cfg);
    assert_non_null(strstr(err, "takes the name of an environment variable"));
    assert_null(strstr(err, "Sup3r"));
    cfg = load_text("vault:\n  sas_env: \"sv=2024&sig=Sup3rS3cret%2F\"\n");
    assert_null(cfg);
    assert_non_null(strstr(err, "\"vault.sas_env\" must be the name of an environment variable"));
    assert_null(strstr(err, "Sup3r"));
    unsetenv("RB_TEST_SECRETVAL");
}

static void test_read_secret_env_and_file(void **state)
{
    (void)state;
    const char *file = write_file("secret.txt", "from-file-S3cret\n");
    char path[512];
    snprintf(path, sizeof path, "%s", file);

    setenv("RB_TEST_SECRET", "from-env-S3cret", 1);
    char *s = rb_config_read_secret("RB_TEST_SECRET", path, "client secret", err, sizeof err);
    assert_non_null(s);
    assert_string_equal(s, "from-env-S3cret"); /* the env var wins */
    free(s);

    unsetenv("RB_TEST_SECRET");
    s = rb_config_read_secret("RB_TEST_SECRET", path, "client secret", err, sizeof err);
    assert_non_null(s);
    assert_string_equal(s, "from-file-S3cret"); /* trailing newline trimmed */
    free(s);

    s = rb_config_read_secret(NULL, path, "client secret", err, sizeof err);
    assert_non_null(s);
    assert_string_equal(s, "from-file-S3cret");
    free(s);

    s = rb_config_read_secret("RB_TEST_SECRET", NULL, "client secret", err, sizeof err);
    assert_null(s);
    assert_non_null(strstr(err, "client secret"));
    assert_non_null(strstr(err, "RB_TEST_SECRET is not set"));

    s = rb_config_read_secret(NULL, "/nonexistent/secret", "SAS token", err, sizeof err);
    assert_null(s);
    assert_non_null(strstr(err, "SAS token"));
    assert_non_null(strstr(err, "/nonexistent/secret"));

    const char *empty = write_file("empty-secret.txt", "\n");
    snprintf(path, sizeof path, "%s", empty);
    s = rb_config_read_secret(NULL, path, "account key", err, sizeof err);
    assert_null(s);
    assert_non_null(strstr(err, "is empty"));

    s = rb_config_read_secret(NULL, NULL, "signing key", err, sizeof err);
    assert_null(s);
    assert_non_null(strstr(err, "no source"));
}

/* The loader resolves a relative *_file against the config's directory, so
 * the pair read from the loaded config finds the file. */
static void test_secret_file_via_config(void **state)
{
    (void)state;
    write_file("sp.secret", "S3cret-From-Config-Dir\r\n");
    rb_config *cfg = load_text("auth:\n  method: client_secret\n  tenant_id: t\n  client_id: c\n"
                               "  client_secret_file: sp.secret\n");
    if (!cfg)
        fail_msg("%s", err);
    char want[600];
    snprintf(want, sizeof want, "%s/sp.secret", tmpdir);
    assert_string_equal(cfg->auth.client_secret_file, want);
    char *s = rb_config_read_secret(cfg->auth.client_secret_env, cfg->auth.client_secret_file,
                                    "client secret", err, sizeof err);
    assert_non_null(s);
    assert_string_equal(s, "S3cret-From-Config-Dir");
    free(s);
    rb_config_free(cfg);
}

/* ---- ${ENV} ------------------------------------------------------------ */

static void test_env_expansion(void **state)
{
    (void)state;
    setenv("RB_TEST_TENANT", "tenant-from-env", 1);
    setenv("RB_TEST_PAR", "12", 1);
    setenv("RB_TEST_EMPTY", "", 1);
    unsetenv("RB_TEST_UNSET");
    rb_config *cfg = load_text("auth:\n"
                               "  tenant_id: ${RB_TEST_TENANT}\n"
                               "  client_id: id-${RB_TEST_UNSET:-fallback}-end\n"
                               "run:\n"
                               "  parallel: ${RB_TEST_PAR}\n"
                               "  failure_policy: ${RB_TEST_EMPTY:-continue}\n"
                               "estate:\n"
                               "  price: \"$$5 and $$$${RB_TEST_PAR}\"\n"
                               "  lone: a$b\n"
                               "  nested: ${RB_TEST_UNSET:-${RB_TEST_TENANT}}\n"
                               "  count: ${RB_TEST_PAR}\n"
                               "  quoted: \"${RB_TEST_PAR}\"\n"
                               "  blank: ${RB_TEST_EMPTY}\n");
    if (!cfg)
        fail_msg("%s", err);
    assert_string_equal(cfg->auth.tenant_id, "tenant-from-env");
    assert_string_equal(cfg->auth.client_id, "id-fallback-end");
    assert_int_equal(cfg->run.parallel, 12);
    assert_string_equal(cfg->run.failure_policy, "continue");
    assert_string_equal(rbv_map_get_string(cfg->estate, "price", ""), "$5 and $${RB_TEST_PAR}");
    assert_string_equal(rbv_map_get_string(cfg->estate, "lone", ""), "a$b");
    assert_string_equal(rbv_map_get_string(cfg->estate, "nested", ""), "tenant-from-env");
    /* A plain scalar is typed after expansion; a quoted one stays a string. */
    assert_int_equal(rbv_type(rbv_map_get(cfg->estate, "count")), RB_VINT);
    assert_int_equal(rbv_map_get_int(cfg->estate, "count", 0), 12);
    assert_int_equal(rbv_type(rbv_map_get(cfg->estate, "quoted")), RB_VSTRING);
    assert_int_equal(rbv_type(rbv_map_get(cfg->estate, "blank")), RB_VNULL);
    rb_config_free(cfg);

    expect_error("auth:\n  tenant_id: ${RB_TEST_UNSET}\n", 2, 14,
                 "environment variable \"RB_TEST_UNSET\" is not set (used by \"auth.tenant_id\"");
    expect_error("estate:\n  x:\n    y: pre-${RB_TEST_UNSET}\n", 3, 8,
                 "\"RB_TEST_UNSET\" is not set (used by \"estate.x.y\"");
    expect_error("estate:\n  x: ${RB_TEST_TENANT\n", 2, 6, "unterminated \"${\"");
    expect_error("estate:\n  x: ${1BAD}\n", 2, 6, "invalid variable name \"1BAD\"");
    expect_error("run:\n  parallel: ${RB_TEST_TENANT}\n", 2, 13, "must be an integer, got \"tenant-from-env\"");
    unsetenv("RB_TEST_TENANT");
    unsetenv("RB_TEST_PAR");
    unsetenv("RB_TEST_EMPTY");
}

/* ---- paths ------------------------------------------------------------- */

static void test_relative_paths(void **state)
{
    (void)state;
    char sub[400];
    snprintf(sub, sizeof sub, "%s/proj", tmpdir);
    mkdir(sub, 0755);
    rb_config *cfg;
    char path[500];
    snprintf(path, sizeof path, "%s/proj/rb.yaml", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("plugins:\n  paths: [plugins, ../shared/plugins, /abs/plugins]\n"
          "cloud:\n  ca_file: ./ca.pem\n"
          "auth:\n  method: workload_identity\n  federated_token_file: token\n"
          "vault:\n  path: data/vault\n  public_key_file: keys/pub.pem\n",
          f);
    fclose(f);
    /* Load through a relative path from another directory. */
    assert_int_equal(chdir(tmpdir), 0);
    cfg = rb_config_load("proj/rb.yaml", err, sizeof err);
    assert_int_equal(chdir(olddir), 0);
    if (!cfg)
        fail_msg("%s", err);
    char want[600];
    snprintf(want, sizeof want, "%s/proj/plugins", tmpdir);
    assert_string_equal(cfg->plugin_paths[0], want);
    snprintf(want, sizeof want, "%s/proj/../shared/plugins", tmpdir);
    assert_string_equal(cfg->plugin_paths[1], want);
    assert_string_equal(cfg->plugin_paths[2], "/abs/plugins");
    snprintf(want, sizeof want, "%s/proj/ca.pem", tmpdir);
    assert_string_equal(cfg->cloud.ca_file, want);
    snprintf(want, sizeof want, "%s/proj/token", tmpdir);
    assert_string_equal(cfg->auth.federated_token_file, want);
    snprintf(want, sizeof want, "%s/proj/data/vault", tmpdir);
    assert_string_equal(cfg->vault.path, want);
    snprintf(want, sizeof want, "%s/proj/keys/pub.pem", tmpdir);
    assert_string_equal(cfg->vault.public_key_file, want);
    /* Defaults not written in the file live next to it too. */
    snprintf(want, sizeof want, "%s/proj/.rebound/runs", tmpdir);
    assert_string_equal(cfg->run.runs_dir, want);
    assert_string_equal(cfg->path, "proj/rb.yaml");
    rb_config_free(cfg);
}

/* ---- free-form sections ------------------------------------------------ */

static void test_free_form_types(void **state)
{
    (void)state;
    rb_config *cfg = load_text("estate:\n"
                               "  int: 42\n"
                               "  neg: -7\n"
                               "  hex: 0x1f\n"
                               "  float: 2.5\n"
                               "  exp: 1e3\n"
                               "  yes_is_string: yes\n"
                               "  t: true\n"
                               "  f: false\n"
                               "  n: null\n"
                               "  tilde: ~\n"
                               "  empty:\n"
                               "  quoted_int: \"42\"\n"
                               "  single_true: 'true'\n"
                               "  tagged: !!str 17\n"
                               "  version: 1.10.0\n"
                               "  list: [a, 1, {k: v}]\n"
                               "  nested:\n"
                               "    deeper:\n"
                               "      - name: vm1\n"
                               "        disks: 2\n"
                               "targets:\n"
                               "  dr:\n"
                               "    subscription: 00000000-0000-0000-0000-000000000000\n"
                               "    location: westeurope\n"
                               "    capacity: 3\n"
                               "  practice:\n"
                               "plugins:\n"
                               "  settings:\n"
                               "    keyvault:\n"
                               "      soft_delete_days: 90\n"
                               "      regions: [westeurope, northeurope]\n"
                               "    vm: {}\n");
    if (!cfg)
        fail_msg("%s", err);
    const rb_value *e = cfg->estate;
    assert_int_equal(rbv_type(rbv_map_get(e, "int")), RB_VINT);
    assert_int_equal(rbv_as_int(rbv_map_get(e, "int")), 42);
    assert_int_equal(rbv_as_int(rbv_map_get(e, "neg")), -7);
    assert_int_equal(rbv_as_int(rbv_map_get(e, "hex")), 31);
    assert_int_equal(rbv_type(rbv_map_get(e, "float")), RB_VDOUBLE);
    assert_true(rbv_as_double(rbv_map_get(e, "float")) == 2.5);
    assert_true(rbv_as_double(rbv_map_get(e, "exp")) == 1000.0);
    assert_int_equal(rbv_type(rbv_map_get(e, "yes_is_string")), RB_VSTRING);
    assert_int_equal(rbv_type(rbv_map_get(e, "t")), RB_VBOOL);
    assert_true(rbv_as_bool(rbv_map_get(e, "t")));
    assert_false(rbv_as_bool(rbv_map_get(e, "f")));
    assert_int_equal(rbv_type(rbv_map_get(e, "n")), RB_VNULL);
    assert_int_equal(rbv_type(rbv_map_get(e, "tilde")), RB_VNULL);
    assert_int_equal(rbv_type(rbv_map_get(e, "empty")), RB_VNULL);
    assert_int_equal(rbv_type(rbv_map_get(e, "quoted_int")), RB_VSTRING);
    assert_string_equal(rbv_as_string(rbv_map_get(e, "quoted_int")), "42");
    assert_int_equal(rbv_type(rbv_map_get(e, "single_true")), RB_VSTRING);
    assert_int_equal(rbv_type(rbv_map_get(e, "tagged")), RB_VSTRING);
    assert_string_equal(rbv_as_string(rbv_map_get(e, "version")), "1.10.0");
    const rb_value *list = rbv_map_get(e, "list");
    assert_int_equal(rbv_type(list), RB_VLIST);
    assert_int_equal(rbv_len(list), 3);
    assert_string_equal(rbv_as_string(rbv_list_get(list, 0)), "a");
    assert_int_equal(rbv_as_int(rbv_list_get(list, 1)), 1);
    assert_string_equal(rbv_map_get_string(rbv_list_get(list, 2), "k", ""), "v");
    const rb_value *deeper = rbv_map_get(rbv_map_get(e, "nested"), "deeper");
    assert_int_equal(rbv_map_get_int(rbv_list_get(deeper, 0), "disks", 0), 2);
    /* Key order is kept. */
    assert_string_equal(rbv_map_key_at(e, 0), "int");
    assert_string_equal(rbv_map_key_at(e, 1), "neg");

    const rb_value *dr = rbv_map_get(cfg->targets, "dr");
    assert_string_equal(rbv_map_get_string(dr, "subscription", ""), "00000000-0000-0000-0000-000000000000");
    assert_int_equal(rbv_map_get_int(dr, "capacity", 0), 3);
    const rb_value *practice = rbv_map_get(cfg->targets, "practice");
    assert_int_equal(rbv_type(practice), RB_VMAP);
    assert_int_equal(rbv_len(practice), 0);

    const rb_value *kv = rbv_map_get(cfg->plugin_settings, "keyvault");
    assert_int_equal(rbv_map_get_int(kv, "soft_delete_days", 0), 90);
    assert_int_equal(rbv_len(rbv_map_get(kv, "regions")), 2);
    assert_int_equal(rbv_type(rbv_map_get(cfg->plugin_settings, "vm")), RB_VMAP);
    rb_config_free(cfg);
}

/* ---- cloud presets ----------------------------------------------------- */

static void test_cloud_presets(void **state)
{
    (void)state;
    rb_config *cfg = load_text("cloud:\n  name: usgov\n");
    if (!cfg)
        fail_msg("%s", err);
    assert_string_equal(cfg->cloud.name, "usgov");
    assert_string_equal(cfg->cloud.authority_host, "https://login.microsoftonline.us");
    assert_string_equal(cfg->cloud.arm_endpoint, "https://management.usgovcloudapi.net");
    assert_string_equal(cfg->cloud.arm_audience, "https://management.usgovcloudapi.net");
    assert_string_equal(cfg->cloud.keyvault_suffix, "vault.usgovcloudapi.net");
    assert_string_equal(cfg->cloud.storage_suffix, "core.usgovcloudapi.net");
    rb_config_free(cfg);

    cfg = load_text("cloud:\n  name: china\n");
    assert_non_null(cfg);
    assert_string_equal(cfg->cloud.arm_endpoint, "https://management.chinacloudapi.cn");
    assert_string_equal(cfg->cloud.keyvault_suffix, "vault.azure.cn");
    rb_config_free(cfg);

    /* Explicit keys win over the preset, whatever their order. */
    cfg = load_text("cloud:\n  arm_endpoint: https://127.0.0.1:8443/\n  name: usgov\n");
    assert_non_null(cfg);
    assert_string_equal(cfg->cloud.arm_endpoint, "https://127.0.0.1:8443");
    assert_string_equal(cfg->cloud.authority_host, "https://login.microsoftonline.us");
    rb_config_free(cfg);

    /* custom: everything explicit; the audience defaults to the endpoint. */
    cfg = load_text("cloud:\n  name: custom\n  authority_host: https://127.0.0.1:8443\n"
                    "  arm_endpoint: https://127.0.0.1:8444\n  keyvault_suffix: vault.azsim.test\n"
                    "  storage_suffix: blob.azsim.test\n  ca_file: /etc/azsim/ca.pem\n");
    if (!cfg)
        fail_msg("%s", err);
    assert_string_equal(cfg->cloud.arm_audience, "https://127.0.0.1:8444");
    assert_string_equal(cfg->cloud.ca_file, "/etc/azsim/ca.pem");
    rb_config_free(cfg);
}

/* ---- dump -------------------------------------------------------------- */

static char *dump_to_string(const rb_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    rb_config_dump(cfg, f);
    fclose(f);
    return buf;
}

static void test_dump(void **state)
{
    (void)state;
    setenv("RB_TEST_SECRET", "Dump-S3cret-Value", 1);
    rb_config *cfg = load_text("auth:\n  method: client_secret\n  tenant_id: t\n  client_id: c\n"
                               "  client_secret_env: RB_TEST_SECRET\n"
                               "vault:\n  sas_file: /run/sas\n  signing_key_env: SIGN\n  signing_key_file: /k.pem\n"
                               "estate:\n  count: \"42\"\n  password: hunter2\n  n: 7\n");
    if (!cfg)
        fail_msg("%s", err);
    char *text = dump_to_string(cfg);
    assert_non_null(strstr(text, "client_secret: from env RB_TEST_SECRET\n"));
    assert_non_null(strstr(text, "sas: from file /run/sas\n"));
    assert_non_null(strstr(text, "signing_key: from env SIGN, else file /k.pem\n"));
    assert_non_null(strstr(text, "account_key: not set\n"));
    assert_non_null(strstr(text, "parallel: 8\n"));
    assert_non_null(strstr(text, "count: \"42\"\n")); /* a string stays a string */
    assert_non_null(strstr(text, "n: 7\n"));
    assert_null(strstr(text, "Dump-S3cret-Value"));
    assert_null(strstr(text, "hunter2"));
    free(text);
    rb_config_free(cfg);
    unsetenv("RB_TEST_SECRET");

    /* The dump of the defaults is itself valid YAML that loads, once the
     * secret lines (which the loader refuses on purpose) are gone. */
    cfg = rb_config_defaults();
    text = dump_to_string(cfg);
    rb_config_free(cfg);
    char *filtered = calloc(1, strlen(text) + 1);
    assert_non_null(filtered);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (!strstr(line, ": not set") && !strstr(line, "imds_endpoint") && !strstr(line, "ca_file") &&
            !strstr(line, ": null")) {
            strcat(filtered, line);
            strcat(filtered, "\n");
        }
    free(text);
    cfg = load_text(filtered);
    free(filtered);
    if (!cfg)
        fail_msg("the dump does not load back: %s", err);
    assert_int_equal(cfg->run.parallel, 8);
    rb_config_free(cfg);
}

/* ---- the shipped example ----------------------------------------------- */

/* The repository root, from this file's own path (absolute under CMake,
 * relative when compiled by hand from the root). */
static void source_path(const char *rel, char *out, size_t outlen)
{
    const char *me = __FILE__;
    const char *tail = strstr(me, "tests/unit/test_config.c");
    int root_len = tail ? (int)(tail - me) : 0;
    snprintf(out, outlen, "%.*s%s", root_len, me, rel);
}

static void test_example_file_loads(void **state)
{
    (void)state;
    char path[4096];
    source_path("rebound.example.yaml", path, sizeof path);
    unsetenv("REBOUND_CLOUD");
    rb_config *cfg = rb_config_load(path, err, sizeof err);
    if (!cfg)
        fail_msg("%s", err);
    assert_string_equal(cfg->cloud.name, "public");
    assert_true(rbv_len(cfg->targets) >= 1);
    assert_true(rbv_len(cfg->estate) >= 1);
    rb_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_load_null_path),
        cmocka_unit_test(test_explicit_missing_file),
        cmocka_unit_test(test_empty_file_gives_defaults),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_malformed_yaml),
        cmocka_unit_test(test_alias_errors),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_invalid_enums),
        cmocka_unit_test(test_cross_checks),
        cmocka_unit_test(test_literal_secret_refused),
        cmocka_unit_test(test_env_name_keys),
        cmocka_unit_test(test_read_secret_env_and_file),
        cmocka_unit_test(test_secret_file_via_config),
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_free_form_types),
        cmocka_unit_test(test_cloud_presets),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_example_file_loads),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
