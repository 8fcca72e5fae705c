/* Unit tests for azsim's helpers: encodings, globbing, the YAML estate
 * loader, the spec fixtures' shapes, and running child processes. Runs in tests/azsim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "azsim.h"

static void test_b64url_roundtrip(void **state) {
  const unsigned char data[] = {0xfb, 0xff, 0x00, 0x3e, 0x3f, 0x41};
  for (size_t n = 0; n <= sizeof data; n++) {
    char *e = az_b64url_encode(data, n);
    assert_non_null(e);
    assert_null(strpbrk(e, "+/="));
    size_t len = 99;
    unsigned char *d = az_b64url_decode(e, &len);
    assert_non_null(d);
    assert_int_equal(len, n);
    assert_memory_equal(d, data, n);
    free(d);
    free(e);
  }
  size_t len;
  assert_null(az_b64url_decode("a$b", &len));
}

static void test_b64_padding(void **state) {
  size_t len = 0;
  unsigned char *d = az_b64_decode("aGk=", &len);
  assert_non_null(d);
  assert_int_equal(len, 2);
  assert_memory_equal(d, "hi", 2);
  free(d);
  assert_null(az_b64_decode("abc", &len));
}

static void test_glob(void **state) {
  assert_true(az_glob("/subscriptions/*/resourcegroups", "/subscriptions/x/resourceGroups"));
  assert_true(az_glob("*", "/anything/at/all"));
  assert_true(az_glob(NULL, "/x"));
  assert_false(az_glob("/subscriptions", "/subscriptions/x"));
  assert_true(az_glob("*/disks/slow*", "/s/rg/providers/Microsoft.Compute/disks/slow1"));
}

static void test_yaml_types(void **state) {
  char err[256] = "";
  cJSON *e = az_load_file("estate.yaml", err, sizeof err);
  assert_non_null(e);
  assert_string_equal(az_str(e, "tenant"), "11111111-1111-1111-1111-111111111111");
  cJSON *settings = cJSON_GetObjectItem(e, "settings");
  assert_true(cJSON_IsNumber(cJSON_GetObjectItem(settings, "page_size")));
  assert_int_equal((int)az_num(settings, "page_size", 0), 2);
  cJSON *sub = cJSON_GetArrayItem(cJSON_GetObjectItem(e, "subscriptions"), 0);
  cJSON *rg = cJSON_GetArrayItem(cJSON_GetObjectItem(sub, "resource_groups"), 0);
  cJSON *kv = cJSON_GetArrayItem(cJSON_GetObjectItem(rg, "resources"), 0);
  cJSON *props = cJSON_GetObjectItem(kv, "properties");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(props, "enablePurgeProtection")));
  cJSON_Delete(e);
}

static void test_yaml_errors(void **state) {
  char path[] = "/tmp/azsim-unit-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *bad = "a: [1, 2\nb: {";
  assert_int_equal(write(fd, bad, strlen(bad)), (int)strlen(bad));
  close(fd);
  char err[256] = "";
  assert_null(az_load_file(path, err, sizeof err));
  assert_non_null(strstr(err, "line"));
  FILE *f = fopen(path, "w");
  fputs("- just\n- a list\n", f);
  fclose(f);
  assert_null(az_load_file(path, err, sizeof err));
  assert_non_null(strstr(err, "mapping"));
  f = fopen(path, "w");
  fputs("a: &x 1\nb: *x\n", f);
  fclose(f);
  assert_null(az_load_file(path, err, sizeof err));
  unlink(path);
  assert_null(az_load_file("/nonexistent/estate.yaml", err, sizeof err));
}

static void test_strip_private(void **state) {
  cJSON *o = cJSON_Parse("{\"a\":1,\"_b\":2,\"c\":{\"_d\":3}}");
  cJSON *s = az_strip_private(o);
  assert_null(cJSON_GetObjectItem(s, "_b"));
  assert_non_null(cJSON_GetObjectItem(s, "a"));
  assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "c"), "_d")); /* top level only */
  cJSON_Delete(o);
  cJSON_Delete(s);
}

/* The fixtures copied from azure-rest-api-specs' x-ms-examples parse and carry
 * the fields azsim's responses mirror. */
static void test_fixtures(void **state) {
  static const char *files[] = {
      "../../sim/fixtures/storage/BlobContainersLockImmutabilityPolicy.json",
      "../../sim/fixtures/storage/BlobContainersSetLegalHold.json",
      "../../sim/fixtures/keyvault/deleteVault-purge-get.json",
      "../../sim/fixtures/keyvault-data/BackupSecret-example.json",
      "../../sim/fixtures/locks/ManagementLocks_CreateOrUpdateAtResourceGroupLevel.json",
  };
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char err[256] = "";
    cJSON *j = az_load_file(files[i], err, sizeof err);
    if (!j) fail_msg("%s: %s", files[i], err);
    assert_non_null(cJSON_GetObjectItem(j, "responses"));
    cJSON_Delete(j);
  }
}

/* az_run: argv without a shell, stdin in, stdout out, exit status, and a
 * bounded wait that kills a child running too long. */
static void test_run(void **state) {
  char *const env[] = {"PATH=/usr/bin:/bin", NULL};
  char *const cat[] = {"cat", NULL};
  char *out = NULL;
  size_t len = 0;
  size_t n = 300000;
  char *in = malloc(n);
  for (size_t i = 0; i < n; i++) in[i] = (char)('a' + i % 26);
  assert_int_equal(az_run(cat, env, in, n, &out, &len, 1u << 20, 10000), 0);
  assert_int_equal(len, n);
  assert_memory_equal(out, in, n);
  free(out);
  free(in);
  char *const fail[] = {"false", NULL};
  assert_int_equal(az_run(fail, env, NULL, 0, NULL, NULL, 1024, 10000), 1);
  char *const echo[] = {"echo", "$HOME;", "`x`", NULL}; /* no shell: printed as is */
  assert_int_equal(az_run(echo, env, NULL, 0, &out, &len, 1024, 10000), 0);
  assert_string_equal(out, "$HOME; `x`\n");
  free(out);
  char *const slow[] = {"sleep", "30", NULL};
  assert_int_equal(az_run(slow, env, NULL, 0, NULL, NULL, 1024, 200), -1);
  char *const none[] = {"azsim-no-such-program", NULL};
  assert_int_equal(az_run(none, env, NULL, 0, NULL, NULL, 1024, 1000), -1);
  char *const big[] = {"head", "-c", "5000", "/dev/zero", NULL};
  assert_int_equal(az_run(big, env, NULL, 0, NULL, NULL, 1000, 10000), -1); /* over outmax */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_b64url_roundtrip), cmocka_unit_test(test_b64_padding),
      cmocka_unit_test(test_glob),             cmocka_unit_test(test_yaml_types),
      cmocka_unit_test(test_yaml_errors),      cmocka_unit_test(test_strip_private),
      cmocka_unit_test(test_fixtures),         cmocka_unit_test(test_run),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
