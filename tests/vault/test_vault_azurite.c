/* The vault's Azure Blob backend against Azurite (the protocol; Azurite
 * enforces no immutability, azsim does): never-overwrite, put/verify/
 * restore, tampering found, an interrupted put resumed, an unlocked
 * container refused without vault.allow_unlocked and recorded with it. ARM
 * is pointed at a closed loopback port: the policy cannot be confirmed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "azure/azure.h"
#include "azurite.h"
#include "config/config.h"
#include "core/util.h"
#include "testutil.h"
#include "vault/vault.h"

static azurite g_az;
static char g_dir[64];

static int setup(void **state)
{
    (void)state;
    int rc = azurite_start(&g_az);
    if (rc == 77)
        exit(77);
    if (rc != 0)
        return -1;
    snprintf(g_dir, sizeof g_dir, "/tmp/rb-vault-az-XXXXXX");
    if (!mkdtemp(g_dir) || chdir(g_dir) != 0)
        return -1;
    FILE *f = fopen("token", "w");
    fputs("dummy-token-for-tests\n", f);
    fclose(f);
    setenv("RB_TEST_VAULT_KEY", TU_AZURITE_KEY, 1);
    /* The container, created outside the vault (the vault never creates it). */
    rb_http_engine *eng = NULL;
    rb_az_err e = {0};
    if (rb_http_engine_new(&eng, NULL, &e) != RB_OK)
        return -1;
    rb_blob_options o = {.endpoint = g_az.endpoint, .account = "devstoreaccount1",
                         .account_key = TU_AZURITE_KEY};
    rb_blob_client *c = NULL;
    if (rb_blob_client_new(&c, eng, &o, &e) != RB_OK ||
        rb_blob_container_create(c, "vault", NULL, &e) != RB_OK)
        return -1;
    rb_blob_client_free(c);
    rb_http_engine_free(eng);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    azurite_stop(&g_az);
    char *cmd = rb_xasprintf("rm -rf '%s'", g_dir);
    if (system(cmd) != 0) {
    }
    free(cmd);
    return 0;
}

static rb_config *make_config(int allow_unlocked)
{
    rb_config *c = rb_config_defaults();
    free(c->vault.kind);
    c->vault.kind = rb_xstrdup("azure-blob");
    c->vault.account = rb_xstrdup("devstoreaccount1");
    c->vault.container = rb_xstrdup("vault");
    c->vault.endpoint = rb_xstrdup(g_az.endpoint);
    c->vault.account_key_env = rb_xstrdup("RB_TEST_VAULT_KEY");
    c->vault.allow_unlocked = allow_unlocked;
    c->vault.block_size = 1 << 20;
    free(c->cloud.arm_endpoint);
    c->cloud.arm_endpoint = rb_xstrdup("https://127.0.0.1:1");
    free(c->auth.method);
    c->auth.method = rb_xstrdup("token_file");
    c->auth.token_file = rb_xstrdup("token");
    return c;
}

static rb_vault *open_vault(rb_config *c)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(pk);
    FILE *f = fopen("sign.pem", "w");
    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    EVP_PKEY_free(pk);
    c->vault.signing_key_file = rb_xstrdup("sign.pem");
    rb_vault *v = NULL;
    rb_vault_err err;
    rb_status st = rb_vault_open(c, 1, &v, &err);
    if (st != RB_OK)
        fprintf(stderr, "open: %s\n", err.msg);
    assert_int_equal(st, RB_OK);
    return v;
}

typedef struct gen {
    uint64_t left, pos, fail_at;
} gen;

static rb_status gen_read(void *user, void *buf, size_t cap, size_t *got)
{
    gen *g = user;
    if (g->fail_at && g->pos >= g->fail_at)
        return RB_EIO;
    size_t n = cap < g->left ? cap : (size_t)g->left;
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)buf)[i] = (unsigned char)(((g->pos + i) * 2654435761u) >> 13);
    g->pos += n;
    g->left -= n;
    *got = n;
    return RB_OK;
}

static void test_unlocked_refused_without_override(void **state)
{
    (void)state;
    rb_config *c = make_config(0);
    rb_vault *v = NULL;
    rb_vault_err err;
    c->vault.signing_key_file = rb_xstrdup("/nonexistent-but-not-needed");
    free(c->vault.signing_key_file);
    c->vault.signing_key_file = NULL;
    /* Reading needs no policy check. */
    assert_int_equal(rb_vault_open(c, 0, &v, &err), RB_OK);
    rb_vault_close(v);
    /* Writing does: ARM cannot confirm a locked policy, so it is refused. */
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    FILE *f = fopen("k.pem", "w");
    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    EVP_PKEY_free(pk);
    c->vault.signing_key_file = rb_xstrdup("k.pem");
    /* An ARM that answers, and not with a policy (Azurite's own endpoint
     * refuses the request): the answer is final, so the refusal is quick
     * (a closed port would be retried for the check's minute). */
    free(c->cloud.arm_endpoint);
    c->cloud.arm_endpoint = rb_xstrdup(g_az.endpoint);
    assert_int_equal(rb_vault_open(c, 1, &v, &err), RB_EDENIED);
    assert_null(v);
    assert_non_null(strstr(err.msg, "refusing to write to the vault"));
    assert_non_null(strstr(err.msg, "allow_unlocked"));
    rb_config_free(c);
}

static void test_put_verify_restore_overwrite(void **state)
{
    (void)state;
    rb_config *c = make_config(1);
    rb_vault *v = open_vault(c);
    assert_non_null(rb_vault_unlocked_note(v));
    gen g = {.left = (3 << 20) + 12345};
    rb_vault_source src = {.name = "disk.img", .read = gen_read, .user = &g};
    rb_vault_put_opts o = {.source_id = "/sub/s/disk", .kind = "disk", .parallel = 4};
    rb_vault_put_stats st;
    rb_vault_err err;
    rb_status rc = rb_vault_put(v, &src, 1, &o, &st, &err);
    if (rc != RB_OK)
        fprintf(stderr, "put: %s\n", err.msg);
    assert_int_equal(rc, RB_OK);
    assert_int_equal(st.blocks, 4);
    rb_vault_entry *e = NULL;
    assert_int_equal(rb_vault_entry_read(v, st.set_id, &e, &err), RB_OK);
    assert_int_equal(e->unlocked, 1); /* the override is recorded, signed */
    rb_vault_entry_free(e);
    rb_vault_verify_report r;
    assert_int_equal(rb_vault_verify(v, NULL, &r, &err), RB_OK);
    assert_int_equal(r.n_problems, 0);
    rb_vault_verify_report_free(&r);
    assert_int_equal(rb_vault_restore(v, st.set_id, "disk.img", "restored.img", NULL, NULL, NULL,
                                      &err), RB_OK);
    /* Never overwrite. */
    rb_vault_store *s = rb_vault_store_of(v);
    char *name = rb_vault_object_path(st.set_id, "disk.img");
    assert_int_equal(s->ops->put_once(s, name, "x", 1, &err), RB_EEXISTS);
    rb_vault_upload *u = NULL;
    assert_int_equal(s->ops->upload_begin(s, name, 1, 1 << 20, &u, &err), RB_EEXISTS);
    char *man = rb_xasprintf("sets/%s/manifest.json", st.set_id);
    assert_int_equal(s->ops->put_once(s, man, "{}", 2, &err), RB_EEXISTS);
    free(man);
    /* Tampering behind the vault's back (Azurite has no WORM): found. */
    rb_http_engine *eng = NULL;
    rb_az_err ae = {0};
    assert_int_equal(rb_http_engine_new(&eng, NULL, &ae), RB_OK);
    rb_blob_options bo = {.endpoint = g_az.endpoint, .account = "devstoreaccount1",
                          .account_key = TU_AZURITE_KEY};
    rb_blob_client *bc = NULL;
    assert_int_equal(rb_blob_client_new(&bc, eng, &bo, &ae), RB_OK);
    size_t len = (3 << 20) + 12345;
    unsigned char *buf = rb_xmalloc(len);
    gen g2 = {.left = len};
    size_t got;
    gen_read(&g2, buf, len, &got);
    /* Blocks are hashed on other threads, in any order: the report still
     * counts every bad block and names the first. */
    buf[(3 << 20) + 100] ^= 1;
    buf[(2 << 20) + 5] ^= 1;
    buf[(1 << 20) + 7] ^= 1;
    assert_int_equal(rb_blob_put(bc, "vault", name, buf, len, NULL, 1, NULL, NULL, &ae), RB_OK);
    assert_int_equal(rb_vault_verify(v, NULL, &r, &err), RB_OK);
    assert_int_equal(r.n_problems, 1);
    assert_string_equal(r.problems[0].object, "disk.img");
    assert_non_null(strstr(r.problems[0].what, "3 block(s) do not match"));
    assert_non_null(strstr(r.problems[0].what, "first block 1 "));
    assert_int_equal(r.blocks_checked, 4);
    rb_vault_verify_report_free(&r);
    assert_int_equal(rb_blob_delete(bc, "vault", name, NULL, &ae), RB_OK);
    assert_int_equal(rb_vault_verify(v, NULL, &r, &err), RB_OK);
    assert_int_equal(r.n_problems, 1);
    assert_non_null(strstr(r.problems[0].what, "missing"));
    rb_vault_verify_report_free(&r);
    free(buf);
    free(name);
    rb_blob_client_free(bc);
    rb_http_engine_free(eng);
    rb_vault_close(v);
    rb_config_free(c);
}

static void test_resume_after_failure(void **state)
{
    (void)state;
    rb_config *c = make_config(1);
    rb_vault *v = open_vault(c);
    uint64_t size = 8 << 20;
    gen g = {.left = size, .fail_at = 5 << 20};
    rb_vault_source src = {.name = "big.img", .read = gen_read, .user = &g};
    rb_vault_put_opts o = {.source_id = "/sub/s/big", .kind = "disk", .parallel = 2,
                           .resume_key = "test-resume"};
    rb_vault_put_stats st;
    rb_vault_err err;
    assert_int_equal(rb_vault_put(v, &src, 1, &o, &st, &err), RB_EIO);
    char first[96];
    snprintf(first, sizeof first, "%s", st.set_id);
    gen g2 = {.left = size};
    src.user = &g2;
    rb_status rc = rb_vault_put(v, &src, 1, &o, &st, &err);
    if (rc != RB_OK)
        fprintf(stderr, "resume: %s\n", err.msg);
    assert_int_equal(rc, RB_OK);
    assert_int_equal(st.resumed, 1);
    assert_string_equal(st.set_id, first);
    assert_true(st.bytes_reused >= (uint64_t)(4 << 20));
    assert_int_equal(st.bytes_sent + st.bytes_reused, size);
    rb_vault_verify_report r;
    assert_int_equal(rb_vault_verify(v, &(rb_vault_verify_opts){.set_id = first}, &r, &err),
                     RB_OK);
    assert_int_equal(r.n_problems, 0);
    rb_vault_verify_report_free(&r);
    /* No WORM here: prune past retention deletes a set, a held set stays
     * (and the set of the test before, signed with another key, is kept:
     * its retention cannot be trusted). */
    gen g3 = {.left = 1000};
    rb_vault_source small = {.name = "small", .read = gen_read, .user = &g3};
    rb_vault_put_opts o3 = {.source_id = "/sub/s/small", .kind = "disk"};
    rb_vault_put_stats st3;
    assert_int_equal(rb_vault_put(v, &small, 1, &o3, &st3, &err), RB_OK);
    assert_int_equal(rb_vault_hold(v, first, 0, &err), RB_OK);
    setenv("REBOUND_VAULT_NOW", "4102444800", 1); /* 2100 */
    rb_vault_prune_report pr;
    assert_int_equal(rb_vault_prune(v, 1, &pr, &err), RB_OK);
    int held_kept = 0, small_deleted = 0, other_kept = 0;
    for (size_t i = 0; i < pr.n; i++) {
        if (strcmp(pr.items[i].set_id, first) == 0)
            held_kept = pr.items[i].held && !pr.items[i].deleted;
        else if (strcmp(pr.items[i].set_id, st3.set_id) == 0)
            small_deleted = pr.items[i].deleted;
        else
            other_kept = !pr.items[i].deleted && pr.items[i].error &&
                         strstr(pr.items[i].error, "does not verify");
    }
    assert_true(held_kept);
    assert_true(small_deleted);
    assert_true(other_kept);
    uint64_t sz;
    char *gone = rb_xasprintf("sets/%s/manifest.json", st3.set_id);
    assert_int_equal(rb_vault_store_of(v)->ops->stat(rb_vault_store_of(v), gone, &sz, &err),
                     RB_ENOTFOUND);
    free(gone);
    rb_vault_prune_report_free(&pr);
    unsetenv("REBOUND_VAULT_NOW");
    rb_vault_close(v);
    rb_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unlocked_refused_without_override),
        cmocka_unit_test(test_put_verify_restore_overwrite),
        cmocka_unit_test(test_resume_after_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
