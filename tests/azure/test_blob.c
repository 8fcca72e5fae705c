/* The Blob Storage client against Azurite: Shared Key and SAS requests,
 * uploads, block lists, overwrite refusal, listing, ranges, Put Block From
 * URL, and parallel transfers with bounded buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "azure/blob.h"
#include "azure/redact.h"
#include "azurite.h"
#include "testutil.h"

#define T "test_blob"
#define ACCOUNT "devstoreaccount1"

static azurite g_az;
static rb_http_engine *g_eng;
static rb_blob_client *g_sk;

static int setup(void **state)
{
    int rc = azurite_start(&g_az);
    if (rc != 0)
        exit(rc == 77 ? 77 : 1);
    tu_trace(T);
    rb_blob_options o = {.endpoint = g_az.endpoint, .account = ACCOUNT,
                         .account_key = TU_AZURITE_KEY};
    if (rb_http_engine_new(&g_eng, NULL, NULL) != RB_OK ||
        rb_blob_client_new(&g_sk, g_eng, &o, NULL) != RB_OK)
        return -1;
    rb_az_err err;
    if (rb_blob_container_create(g_sk, "cont1", NULL, &err) != RB_OK) {
        fprintf(stderr, "create container: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    rb_blob_client_free(g_sk);
    rb_http_engine_free(g_eng);
    azurite_stop(&g_az);
    rb_http_trace_close();
    return 0;
}

#define OK(call)                                                                        \
    do {                                                                                \
        rb_az_err e_;                                                                   \
        rb_az_err_clear(&e_);                                                           \
        rb_az_err *err_ = &e_;                                                          \
        rb_status s_ = (call);                                                          \
        if (s_ != RB_OK)                                                                \
            fail_msg("%s: %s: %s", #call, rb_status_name(s_), e_.msg);                  \
    } while (0)

static void test_shared_key_basics(void **state)
{
    rb_az_err err;
    assert_int_equal(rb_blob_container_create(g_sk, "cont1", NULL, &err), RB_EEXISTS);
    OK(rb_blob_put(g_sk, "cont1", "dir/a b.txt", "hello world", 11, "text/plain", 0, NULL, NULL, err_));
    /* The vault's rule: never overwrite. */
    assert_int_equal(rb_blob_put(g_sk, "cont1", "dir/a b.txt", "other", 5, NULL, 0, NULL, NULL, &err),
                     RB_EEXISTS);
    tu_log_err(T, "overwrite", &err);
    rb_blob_props p;
    OK(rb_blob_get_properties(g_sk, "cont1", "dir/a b.txt", NULL, &p, err_));
    assert_int_equal(p.size, 11);
    assert_string_equal(p.content_type, "text/plain");
    char *data = NULL;
    size_t n = 0;
    OK(rb_blob_get(g_sk, "cont1", "dir/a b.txt", 6, 5, 0, NULL, &data, &n, err_));
    assert_int_equal(n, 5);
    assert_memory_equal(data, "world", 5);
    free(data);
    OK(rb_blob_get(g_sk, "cont1", "dir/a b.txt", 0, 0, 0, NULL, &data, &n, err_));
    assert_string_equal(data, "hello world");
    free(data);
    char small[8];
    size_t got = 0;
    OK(rb_blob_get_into(g_sk, "cont1", "dir/a b.txt", 0, 5, small, sizeof small, NULL, &got, err_));
    assert_int_equal(got, 5);
    assert_memory_equal(small, "hello", 5);
    OK(rb_blob_put(g_sk, "cont1", "dir/a b.txt", "replaced", 8, NULL, 1, NULL, NULL, err_));
    OK(rb_blob_delete(g_sk, "cont1", "dir/a b.txt", NULL, err_));
    assert_int_equal(rb_blob_get_properties(g_sk, "cont1", "dir/a b.txt", NULL, &p, &err),
                     RB_ENOTFOUND);
    assert_int_equal(rb_blob_delete(g_sk, "cont1", "dir/a b.txt", NULL, &err), RB_ENOTFOUND);
    assert_string_equal(err.code, "BlobNotFound");
}

static void test_block_list(void **state)
{
    OK(rb_blob_put_block(g_sk, "cont1", "blocks", "blk-1", "aaa", 3, NULL, err_));
    OK(rb_blob_put_block(g_sk, "cont1", "blocks", "blk-2", "bbbb", 4, NULL, err_));
    OK(rb_blob_put_block(g_sk, "cont1", "blocks", "blk-3", "c", 1, NULL, err_));
    const char *ids[] = {"blk-1", "blk-2", "blk-3"};
    OK(rb_blob_put_block_list(g_sk, "cont1", "blocks", ids, 3, NULL, 0, NULL, err_));
    char *data = NULL;
    size_t n;
    OK(rb_blob_get(g_sk, "cont1", "blocks", 0, 0, 0, NULL, &data, &n, err_));
    assert_string_equal(data, "aaabbbbc");
    free(data);
    OK(rb_blob_put_block(g_sk, "cont1", "blocks", "blk-4", "zzz", 3, NULL, err_));
    const char *ids2[] = {"blk-4"};
    rb_az_err err;
    assert_int_equal(rb_blob_put_block_list(g_sk, "cont1", "blocks", ids2, 1, NULL, 0, NULL, &err),
                     RB_EEXISTS);
}

static void test_list_paged(void **state)
{
    OK(rb_blob_container_create(g_sk, "listing", NULL, err_));
    for (int i = 0; i < 7; i++) {
        char name[32];
        snprintf(name, sizeof name, "p/%02d", i);
        OK(rb_blob_put(g_sk, "listing", name, name, strlen(name), NULL, 0, NULL, NULL, err_));
    }
    OK(rb_blob_put(g_sk, "listing", "other", "x", 1, NULL, 0, NULL, NULL, err_));
    rb_blob_lister *l = NULL;
    OK(rb_blob_lister_new(g_sk, "listing", "p/", 3, NULL, &l, err_));
    int count = 0;
    for (;;) {
        rb_blob_item it;
        int has = 0;
        OK(rb_blob_lister_next(l, &it, &has, err_));
        if (!has)
            break;
        char want[32];
        snprintf(want, sizeof want, "p/%02d", count);
        assert_string_equal(it.name, want);
        assert_int_equal(it.size, 4);
        count++;
    }
    assert_int_equal(count, 7);
    assert_int_equal(rb_blob_lister_pages(l), 3);
    rb_blob_lister_free(l);
}

static void test_sas(void **state)
{
    char *sas = NULL;
    OK(rb_blob_sas_service(ACCOUNT, TU_AZURITE_KEY, "cont1", NULL, "racwdl", 0, time(NULL) + 3600,
                           1, &sas, err_));
    rb_blob_options o = {.endpoint = g_az.endpoint, .account = ACCOUNT, .sas = sas};
    rb_blob_client *c = NULL;
    OK(rb_blob_client_new(&c, g_eng, &o, err_));
    OK(rb_blob_put(c, "cont1", "via-sas", "sas data", 8, NULL, 0, NULL, NULL, err_));
    rb_az_err err;
    assert_int_equal(rb_blob_put(c, "cont1", "via-sas", "x", 1, NULL, 0, NULL, NULL, &err), RB_EEXISTS);
    char *data = NULL;
    size_t n;
    OK(rb_blob_get(c, "cont1", "via-sas", 4, 4, 0, NULL, &data, &n, err_));
    assert_string_equal(data, "data");
    free(data);
    rb_blob_lister *l = NULL;
    OK(rb_blob_lister_new(c, "cont1", "via", 0, NULL, &l, err_));
    rb_blob_item it;
    int has = 0;
    OK(rb_blob_lister_next(l, &it, &has, err_));
    assert_true(has);
    rb_blob_lister_free(l);
    rb_blob_client_free(c);

    /* A read-only blob SAS cannot write; a tampered one is refused. */
    char *ro = NULL;
    OK(rb_blob_sas_service(ACCOUNT, TU_AZURITE_KEY, "cont1", "via-sas", "r", 0, time(NULL) + 3600,
                           1, &ro, err_));
    o.sas = ro;
    OK(rb_blob_client_new(&c, g_eng, &o, err_));
    OK(rb_blob_get(c, "cont1", "via-sas", 0, 0, 0, NULL, &data, &n, err_));
    free(data);
    assert_int_equal(rb_blob_delete(c, "cont1", "via-sas", NULL, &err), RB_EDENIED);
    tu_log_err(T, "read-only sas delete", &err);
    rb_blob_client_free(c);
    char *bad = strdup(ro);
    char *sig = strstr(bad, "sig=");
    sig[4] = sig[4] == 'A' ? 'B' : 'A';
    o.sas = bad;
    OK(rb_blob_client_new(&c, g_eng, &o, err_));
    assert_int_equal(rb_blob_get(c, "cont1", "via-sas", 0, 0, 0, NULL, &data, &n, &err), RB_EDENIED);
    tu_log_err(T, "tampered sas", &err);
    rb_blob_client_free(c);
    free(bad);
    free(ro);
    free(sas);
}

/* A blob named by a full SAS URL (as a managed disk's access SAS is), and
 * Put Page into it. */
static void test_url_client_and_pages(void **state)
{
    const char *name = "dir one/disk 1.vhd";
    OK(rb_blob_create_page_blob(g_sk, "cont1", name, 8192, 0, NULL, err_));
    rb_az_err err;
    assert_int_equal(rb_blob_create_page_blob(g_sk, "cont1", name, 8192, 0, NULL, &err),
                     RB_EEXISTS);
    char *sas = NULL;
    OK(rb_blob_sas_service(ACCOUNT, TU_AZURITE_KEY, "cont1", name, "rw", 0, time(NULL) + 3600, 1,
                           &sas, err_));
    rb_blob_options o = {.endpoint = g_az.endpoint, .account = ACCOUNT, .sas = sas};
    rb_blob_client *named = NULL;
    OK(rb_blob_client_new(&named, g_eng, &o, err_));
    char *url = rb_blob_url(named, "cont1", name);
    rb_blob_client_free(named);

    /* Azurite is path-style (/devstoreaccount1/cont1/...): the "container"
     * of such a URL is the account, and the blob the rest: still the same
     * request URL. */
    rb_blob_client *c = NULL;
    char *container = NULL, *blob = NULL;
    OK(rb_blob_client_from_url(g_eng, url, &c, &container, &blob, err_));
    assert_string_equal(container, ACCOUNT);
    assert_string_equal(blob, "cont1/dir one/disk 1.vhd");
    char page[1024];
    for (size_t i = 0; i < sizeof page; i++)
        page[i] = (char)('a' + i % 26);
    OK(rb_blob_put_page(c, container, blob, 512, page, sizeof page, NULL, err_));
    assert_int_equal(rb_blob_put_page(c, container, blob, 100, page, 512, NULL, &err), RB_EINVAL);
    assert_int_equal(rb_blob_put_page(c, container, blob, 0, page, 100, NULL, &err), RB_EINVAL);
    char *data = NULL;
    size_t n = 0;
    OK(rb_blob_get(c, container, blob, 0, 0, 0, NULL, &data, &n, err_));
    assert_int_equal(n, 8192);
    assert_memory_equal(data + 512, page, sizeof page);
    assert_int_equal(data[0], 0);
    assert_int_equal(data[1536], 0);
    free(data);
    rb_blob_client_free(c);
    free(container);
    free(blob);

    /* Not a blob URL: refused without echoing the URL (it carries a SAS). */
    assert_int_equal(rb_blob_client_from_url(g_eng, "https://host.example/only?sig=SECRETSIG", &c,
                                             &container, &blob, &err),
                     RB_EINVAL);
    assert_null(strstr(err.msg, "SECRETSIG"));
    free(url);
    free(sas);
}

static void test_put_block_from_url(void **state)
{
    OK(rb_blob_put(g_sk, "cont1", "src", "0123456789", 10, NULL, 0, NULL, NULL, err_));
    char *sas = NULL;
    OK(rb_blob_sas_service(ACCOUNT, TU_AZURITE_KEY, "cont1", "src", "r", 0, time(NULL) + 600, 1,
                           &sas, err_));
    char url[1024];
    snprintf(url, sizeof url, "%s/cont1/src?%s", g_az.endpoint, sas);
    OK(rb_blob_put_block_from_url(g_sk, "cont1", "copy", "b-1", url, 5, 5, NULL, err_));
    OK(rb_blob_put_block_from_url(g_sk, "cont1", "copy", "b-2", url, 0, 5, NULL, err_));
    const char *ids[] = {"b-1", "b-2"};
    OK(rb_blob_put_block_list(g_sk, "cont1", "copy", ids, 2, NULL, 0, NULL, err_));
    char *data = NULL;
    size_t n;
    OK(rb_blob_get(g_sk, "cont1", "copy", 0, 0, 0, NULL, &data, &n, err_));
    assert_string_equal(data, "5678901234");
    free(data);
    free(sas);
}

struct mem {
    unsigned char *data;
    size_t len;
};

static rb_status mem_read(void *user, uint64_t off, void *buf, size_t len)
{
    struct mem *m = user;
    if (off + len > m->len)
        return RB_EIO;
    memcpy(buf, m->data + off, len);
    return RB_OK;
}

static rb_status mem_write(void *user, uint64_t off, const void *buf, size_t len)
{
    struct mem *m = user;
    if (off + len > m->len)
        return RB_EIO;
    memcpy(m->data + off, buf, len);
    return RB_OK;
}

static void test_parallel_transfer(void **state)
{
    struct mem src = {.len = 5 * 1024 * 1024 + 123};
    src.data = malloc(src.len);
    RAND_bytes(src.data, (int)src.len);
    rb_blob_transfer_opts up = {.block_size = 512 * 1024, .parallel = 4};
    OK(rb_blob_upload(g_sk, "cont1", "big.bin", src.len, mem_read, &src, &up, err_));
    rb_az_err err;
    assert_int_equal(rb_blob_upload(g_sk, "cont1", "big.bin", src.len, mem_read, &src, &up, &err),
                     RB_EEXISTS);
    struct mem dst = {.len = src.len};
    dst.data = calloc(1, dst.len);
    rb_blob_transfer_opts down = {.block_size = 384 * 1024, .parallel = 3};
    uint64_t size = 0;
    OK(rb_blob_download(g_sk, "cont1", "big.bin", mem_write, &dst, &down, &size, err_));
    assert_int_equal(size, src.len);
    assert_memory_equal(src.data, dst.data, src.len);
    free(src.data);
    free(dst.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_key_basics),
        cmocka_unit_test(test_block_list),
        cmocka_unit_test(test_list_paged),
        cmocka_unit_test(test_sas),
        cmocka_unit_test(test_url_client_and_pages),
        cmocka_unit_test(test_put_block_from_url),
        cmocka_unit_test(test_parallel_transfer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
