/* Unit tests of runner/vault: the local store's put-once and resume, Ed25519
 * signatures, manifest parsing, and a whole put/verify/restore through a
 * reader callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "vault/vault.h"

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/rb-vault-unit-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return rb_xstrdup(d);
}

static void rm_rf(const char *dir)
{
    char *cmd = rb_xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static rb_vault_key *new_key(int is_public_of_private, rb_vault_key **pub)
{
    (void)is_public_of_private;
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(pk);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    rb_vault_key *k = NULL;
    rb_vault_err err;
    assert_int_equal(rb_vault_key_parse(data, (size_t)n, 0, "test", &k, &err), RB_OK);
    BIO_free(b);
    if (pub) {
        b = BIO_new(BIO_s_mem());
        assert_int_equal(PEM_write_bio_PUBKEY(b, pk), 1);
        n = BIO_get_mem_data(b, &data);
        assert_int_equal(rb_vault_key_parse(data, (size_t)n, 1, "test", pub, &err), RB_OK);
        BIO_free(b);
    }
    EVP_PKEY_free(pk);
    return k;
}

/* A signed vault on a new local directory (block size 64 KiB); *dir is
 * for done_vault. */
static rb_vault *local_vault(char **dir, rb_vault_store **store)
{
    *dir = make_tmpdir();
    rb_vault_store *s = NULL;
    rb_vault_err err;
    assert_int_equal(rb_vault_store_local_new(*dir, &s, &err), RB_OK);
    if (store)
        *store = s;
    return rb_vault_new(s, new_key(0, NULL), NULL, 65536, 7);
}

static void done_vault(rb_vault *v, char *dir)
{
    rb_vault_close(v);
    rm_rf(dir);
    free(dir);
}

static void test_put_once_refuses_existing(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    rb_vault_store *s = NULL;
    rb_vault_err err;
    assert_int_equal(rb_vault_store_local_new(dir, &s, &err), RB_OK);
    assert_int_equal(s->ops->put_once(s, "a/b.txt", "first", 5, &err), RB_OK);
    assert_int_equal(s->ops->put_once(s, "a/b.txt", "second", 6, &err), RB_EEXISTS);
    assert_non_null(strstr(err.msg, "never overwrites"));
    char buf[16];
    size_t got = 0;
    assert_int_equal(s->ops->get(s, "a/b.txt", 0, buf, sizeof buf, &got, &err), RB_OK);
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "first", 5);
    uint64_t size;
    assert_int_equal(s->ops->stat(s, "nope", &size, &err), RB_ENOTFOUND);
    assert_int_equal(s->ops->put_once(s, "../escape", "x", 1, &err), RB_EINVAL);
    assert_int_equal(s->ops->put_once(s, "a/../../escape", "x", 1, &err), RB_EINVAL);
    /* A large object over an existing name is refused too. */
    rb_vault_upload *u = NULL;
    assert_int_equal(s->ops->upload_begin(s, "a/b.txt", 10, 4, &u, &err), RB_EEXISTS);
    assert_null(u);
    struct stat sb;
    char *p = rb_xasprintf("%s/a/b.txt", dir);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0444);
    free(p);
    s->ops->free(s);
    rm_rf(dir);
    free(dir);
}

static void test_upload_resume_checks_hash(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    rb_vault_store *s = NULL;
    rb_vault_err err;
    assert_int_equal(rb_vault_store_local_new(dir, &s, &err), RB_OK);
    rb_vault_upload *u = NULL;
    char b0[8] = "AAAAAAAA", b1[8] = "BBBBBBBB", s0[65], s1[65];
    rb_sha256_hex(b0, 8, s0);
    rb_sha256_hex(b1, 8, s1);
    assert_int_equal(s->ops->upload_begin(s, "obj", 16, 8, &u, &err), RB_OK);
    assert_int_equal(s->ops->upload_has_block(u, 0, s0, 8), 0);
    assert_int_equal(s->ops->upload_put_block(u, 0, b0, 8, s0, &err), RB_OK);
    assert_int_equal(s->ops->upload_put_block(u, 1, b1, 8, s1, &err), RB_OK);
    s->ops->upload_free(u, 1); /* "crash" */
    assert_int_equal(s->ops->upload_begin(s, "obj", 16, 8, &u, &err), RB_OK);
    assert_int_equal(s->ops->upload_has_block(u, 0, s0, 8), 1);
    assert_int_equal(s->ops->upload_has_block(u, 1, s1, 8), 1);
    assert_int_equal(s->ops->upload_has_block(u, 1, s0, 8), 0); /* other content */
    s->ops->upload_free(u, 1);
    /* Damage block 1 of the partial file: it is no longer trusted. */
    char key[65];
    rb_sha256_hex("obj", 3, key);
    char *part = rb_xasprintf("%s/.staging/%s.part", dir, key);
    int fd = open(part, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 9), 1);
    close(fd);
    free(part);
    /* Another block size: the journal describes other blocks, start over. */
    assert_int_equal(s->ops->upload_begin(s, "obj", 16, 4, &u, &err), RB_OK);
    assert_int_equal(s->ops->upload_has_block(u, 0, s0, 8), 0);
    s->ops->upload_free(u, 0);
    assert_int_equal(s->ops->upload_begin(s, "obj", 16, 8, &u, &err), RB_OK);
    assert_int_equal(s->ops->upload_has_block(u, 1, s1, 8), 0);
    assert_int_equal(s->ops->upload_put_block(u, 0, b0, 8, s0, &err), RB_OK);
    assert_int_equal(s->ops->upload_put_block(u, 1, b1, 8, s1, &err), RB_OK);
    assert_int_equal(s->ops->upload_commit(u, 2, 16, &err), RB_OK);
    s->ops->upload_free(u, 0);
    char buf[16];
    size_t got;
    assert_int_equal(s->ops->get(s, "obj", 0, buf, 16, &got, &err), RB_OK);
    assert_int_equal(got, 16);
    assert_memory_equal(buf, "AAAAAAAABBBBBBBB", 16);
    s->ops->free(s);
    rm_rf(dir);
    free(dir);
}

static void test_signatures(void **state)
{
    (void)state;
    rb_vault_key *pub = NULL, *pub2 = NULL;
    rb_vault_key *k = new_key(1, &pub);
    rb_vault_key *k2 = new_key(1, &pub2);
    rb_vault_err err;
    char *sig = NULL;
    assert_int_equal(rb_vault_sign(k, "payload", 7, &sig, &err), RB_OK);
    assert_int_equal(strlen(sig), 88);
    assert_int_equal(rb_vault_check_signature(pub, "payload", 7, sig, &err), RB_OK);
    assert_int_equal(rb_vault_check_signature(pub, "payloaD", 7, sig, &err), RB_ECORRUPT);
    assert_int_equal(rb_vault_check_signature(pub2, "payload", 7, sig, &err), RB_ECORRUPT);
    assert_non_null(strstr(err.msg, "does not verify"));
    assert_int_equal(rb_vault_check_signature(pub, "payload", 7, "short", &err), RB_ECORRUPT);
    char *sig2 = NULL;
    assert_int_equal(rb_vault_sign(pub, "x", 1, &sig2, &err), RB_EINVAL);
    assert_null(sig2);
    char id1[65], id2[65];
    rb_vault_key_id(k, id1);
    rb_vault_key_id(pub, id2);
    assert_string_equal(id1, id2);
    rb_vault_key *bad = NULL;
    assert_int_equal(rb_vault_key_parse("junk", 4, 1, "junk.pem", &bad, &err), RB_EINVAL);
    free(sig);
    rb_vault_key_free(k);
    rb_vault_key_free(k2);
    rb_vault_key_free(pub);
    rb_vault_key_free(pub2);
}

static void test_manifest_roundtrip_and_truncation(void **state)
{
    (void)state;
    char blocks[2][65];
    rb_sha256_hex("a", 1, blocks[0]);
    rb_sha256_hex("b", 1, blocks[1]);
    rb_vault_object_meta o = {.name = "disk", .size = 6, .block_size = 4, .n_blocks = 2,
                              .blocks = blocks};
    rb_sha256_hex("whole", 5, o.sha256);
    rb_vault_manifest m = {.set_id = "s1", .source_id = "/sub/x", .kind = "disk",
                           .created = "2026-01-01T00:00:00Z", .plugin = "p",
                           .plugin_version = "1", .created_s = 1767225600,
                           .retention_days = 30, .objects = &o, .n_objects = 1};
    char *json = rb_vault_manifest_to_json(&m);
    rb_vault_manifest *p = NULL;
    rb_vault_err err;
    assert_int_equal(rb_vault_manifest_parse(json, strlen(json), &p, &err), RB_OK);
    assert_string_equal(p->objects[0].blocks[1], blocks[1]);
    assert_int_equal(p->objects[0].size, 6);
    assert_non_null(rb_vault_manifest_find(p, "disk"));
    rb_vault_manifest_free(p);
    assert_int_equal(rb_vault_manifest_parse(json, strlen(json) / 2, &p, &err), RB_ECORRUPT);
    assert_non_null(strstr(err.msg, "truncated"));
    assert_null(p);
    free(json);
    /* A block list that does not fit the size is corrupt. */
    o.size = 100;
    json = rb_vault_manifest_to_json(&m);
    assert_int_equal(rb_vault_manifest_parse(json, strlen(json), &p, &err), RB_ECORRUPT);
    free(json);
}

typedef struct gen {
    uint64_t left, pos;
    int fail_at_half;
} gen;

static rb_status gen_read(void *user, void *buf, size_t cap, size_t *got)
{
    gen *g = user;
    if (g->fail_at_half && g->pos >= 100000)
        return RB_EIO;
    size_t n = cap < g->left ? cap : (size_t)g->left;
    if (n > 777)
        n = 777; /* short reads on purpose */
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)buf)[i] = (unsigned char)((g->pos + i) * 31 % 251);
    g->pos += n;
    g->left -= n;
    *got = n;
    return RB_OK;
}

static void test_put_verify_restore_reader(void **state)
{
    (void)state;
    char *dir;
    rb_vault *v = local_vault(&dir, NULL);
    rb_vault_err err;
    gen g = {.left = 65536 * 3 + 1000};
    rb_vault_source src = {.name = "stream.bin", .read = gen_read, .user = &g};
    rb_vault_put_opts o = {.source_id = "/sub/x", .kind = "test", .parallel = 3};
    rb_vault_put_stats st;
    assert_int_equal(rb_vault_put(v, &src, 1, &o, &st, &err), RB_OK);
    assert_int_equal(st.bytes, 65536 * 3 + 1000);
    assert_int_equal(st.blocks, 4);
    rb_vault_verify_report r;
    assert_int_equal(rb_vault_verify(v, NULL, &r, &err), RB_OK);
    assert_int_equal(r.n_problems, 0);
    assert_int_equal(r.blocks_checked, 4);
    rb_vault_verify_report_free(&r);
    char *to = rb_xasprintf("%s/restored", dir);
    uint64_t bytes;
    assert_int_equal(rb_vault_restore(v, st.set_id, "stream.bin", to, NULL, NULL, &bytes, &err),
                     RB_OK);
    assert_int_equal(bytes, 65536 * 3 + 1000);
    free(to);
    /* A reader that fails: a clear error, no set catalogued. */
    gen bad = {.left = 1 << 20, .fail_at_half = 1};
    rb_vault_source bsrc = {.name = "bad.bin", .read = gen_read, .user = &bad};
    rb_vault_put_stats st2;
    assert_int_equal(rb_vault_put(v, &bsrc, 1, &o, &st2, &err), RB_EIO);
    assert_non_null(strstr(err.msg, "cannot read the source bad.bin"));
    char **ids;
    size_t n;
    assert_int_equal(rb_vault_list_sets(v, &ids, &n, &err), RB_OK);
    assert_int_equal(n, 1);
    rb_vault_ids_free(ids, n);
    done_vault(v, dir);
}

/* A streaming store over the local one, to drive verify's streaming path
 * (ring of block buffers, hasher thread) through retries, failures and
 * corruption without a network: bytes come in odd-sized pieces so blocks
 * straddle them. */
enum { SF_CLEAN, SF_RETRY, SF_FAIL, SF_FLIP, SF_EXTRA };
static const rb_vault_store_ops *g_real_ops;
static rb_vault_store_ops g_stream_ops;
static int g_stream_mode;

static int feed(int (*fn)(void *, const void *, size_t), void *user, const unsigned char *buf,
                size_t from, size_t to)
{
    for (size_t p = from; p < to; p += 10007) {
        size_t n = to - p < 10007 ? to - p : 10007;
        if (fn(user, buf + p, n))
            return 1;
    }
    return 0;
}

static rb_status fake_get_stream(rb_vault_store *s, const char *name, uint64_t off, uint64_t len,
                                 int (*fn)(void *user, const void *data, size_t len), void *user,
                                 rb_vault_err *err)
{
    unsigned char *buf = rb_xmalloc(len ? len : 1);
    size_t got = 0;
    rb_status st = g_real_ops->get(s, name, off, buf, (size_t)len, &got, err);
    if (st == RB_OK && g_stream_mode == SF_FLIP) {
        buf[2 * 65536 + 5] ^= 1; /* blocks 2 and 0: both counted, 0 named first */
        buf[100] ^= 1;
    }
    if (st == RB_OK) {
        fn(user, NULL, 0);
        if (g_stream_mode == SF_RETRY) { /* a reset half way: the read starts over */
            if (feed(fn, user, buf, 0, got / 2) == 0)
                fn(user, NULL, 0);
        }
        size_t end = g_stream_mode == SF_FAIL ? 65536 + 30000 : got;
        if (feed(fn, user, buf, 0, end))
            st = rb_vault_fail(err, RB_EIO, "the sink stopped the read");
        /* Bytes past the end: the sink refuses them, and the transport then
         * reports the transfer cancelled (as the HTTP engine does). */
        else if (g_stream_mode == SF_EXTRA && fn(user, "extra", 5))
            st = rb_vault_fail(err, RB_ECANCELED, "the transfer was cancelled");
        else if (g_stream_mode == SF_FAIL)
            st = rb_vault_fail(err, RB_EIO, "connection reset by peer");
    }
    free(buf);
    return st;
}

static void test_stream_verify_faults(void **state)
{
    (void)state;
    char *dir;
    rb_vault_store *s = NULL;
    rb_vault *v = local_vault(&dir, &s);
    rb_vault_err err;
    gen g = {.left = 65536 * 5 + 777};
    rb_vault_source src = {.name = "disk.img", .read = gen_read, .user = &g};
    rb_vault_put_opts o = {.source_id = "/sub/x", .kind = "test", .parallel = 2};
    rb_vault_put_stats st;
    assert_int_equal(rb_vault_put(v, &src, 1, &o, &st, &err), RB_OK);
    g_real_ops = s->ops;
    g_stream_ops = *s->ops;
    g_stream_ops.get_stream = fake_get_stream;
    s->ops = &g_stream_ops;
    rb_vault_verify_report r;
    rb_vault_verify_opts whole = {.whole_hash = 1};

    g_stream_mode = SF_CLEAN;
    assert_int_equal(rb_vault_verify(v, &whole, &r, &err), RB_OK);
    assert_int_equal(r.n_problems, 0);
    assert_int_equal(r.blocks_checked, 6);
    assert_int_equal(r.bytes_read, 65536 * 5 + 777);
    rb_vault_verify_report_free(&r);

    /* Bytes seen before a retry are not hashed twice. */
    g_stream_mode = SF_RETRY;
    assert_int_equal(rb_vault_verify(v, &whole, &r, &err), RB_OK);
    assert_int_equal(r.n_problems, 0);
    assert_int_equal(r.blocks_checked, 6);
    rb_vault_verify_report_free(&r);

    g_stream_mode = SF_FAIL;
    assert_int_equal(rb_vault_verify(v, NULL, &r, &err), RB_OK);
    assert_int_equal(r.n_problems, 1);
    assert_non_null(strstr(r.problems[0].what, "unreadable at block 1: connection reset by peer"));
    assert_int_equal(r.blocks_checked, 1); /* block 0 arrived whole and was checked */
    rb_vault_verify_report_free(&r);

    /* Found, not mistaken for a user's stop. */
    g_stream_mode = SF_EXTRA;
    assert_int_equal(rb_vault_verify(v, NULL, &r, &err), RB_OK);
    assert_int_equal(r.n_problems, 1);
    assert_non_null(strstr(r.problems[0].what, "more bytes than the manifest's"));
    rb_vault_verify_report_free(&r);

    g_stream_mode = SF_FLIP;
    assert_int_equal(rb_vault_verify(v, &whole, &r, &err), RB_OK);
    assert_int_equal(r.n_problems, 1);
    assert_non_null(strstr(r.problems[0].what, "2 block(s) do not match"));
    assert_non_null(strstr(r.problems[0].what, "first block 0 "));
    assert_int_equal(r.blocks_checked, 6);
    rb_vault_verify_report_free(&r);

    s->ops = g_real_ops;
    done_vault(v, dir);
}

/* Puts from several threads at once (plugin actions run in parallel): each
 * writes its own set; two with the same resume key take turns. */
typedef struct put_job {
    rb_vault *v;
    const char *name, *key;
    uint64_t size;
    rb_status st;
    char set_id[96];
} put_job;

static void *put_thread(void *arg)
{
    put_job *j = arg;
    gen g = {.left = j->size};
    rb_vault_source src = {.name = j->name, .read = gen_read, .user = &g};
    rb_vault_put_opts o = {.source_id = j->name, .kind = "test", .parallel = 2,
                           .resume_key = j->key};
    rb_vault_put_stats st;
    rb_vault_err err;
    j->st = rb_vault_put(j->v, &src, 1, &o, &st, &err);
    snprintf(j->set_id, sizeof j->set_id, "%s", st.set_id);
    return NULL;
}

static void test_concurrent_puts(void **state)
{
    (void)state;
    char *dir;
    rb_vault *v = local_vault(&dir, NULL);
    rb_vault_err err;
    put_job jobs[4] = {
        {.v = v, .name = "a.img", .key = "disk-a", .size = 65536 * 7 + 3},
        {.v = v, .name = "b.img", .key = "disk-b", .size = 65536 * 5 + 11},
        {.v = v, .name = "c.img", .key = "disk-c", .size = 65536 * 6},
        {.v = v, .name = "c.img", .key = "disk-c", .size = 65536 * 6},
    };
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, put_thread, &jobs[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        assert_int_equal(jobs[i].st, RB_OK);
    /* The two puts of c.img did not share a set. */
    assert_string_not_equal(jobs[2].set_id, jobs[3].set_id);
    char **ids;
    size_t n;
    assert_int_equal(rb_vault_list_sets(v, &ids, &n, &err), RB_OK);
    assert_int_equal(n, 4);
    rb_vault_ids_free(ids, n);
    rb_vault_verify_report r;
    assert_int_equal(rb_vault_verify(v, NULL, &r, &err), RB_OK);
    assert_int_equal(r.n_problems, 0);
    assert_int_equal(r.blocks_checked, 8 + 6 + 6 + 6);
    rb_vault_verify_report_free(&r);
    done_vault(v, dir);
}

static void test_clock(void **state)
{
    (void)state;
    setenv("REBOUND_VAULT_NOW", "1780000000", 1);
    assert_int_equal(rb_vault_now(), 1780000000);
    setenv("REBOUND_VAULT_NOW", "2026-01-01T00:00:00Z", 1);
    assert_int_equal(rb_vault_now(), 1767225600);
    unsetenv("REBOUND_VAULT_NOW");
    assert_true(rb_vault_now() > 1767225600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_once_refuses_existing),
        cmocka_unit_test(test_upload_resume_checks_hash),
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_manifest_roundtrip_and_truncation),
        cmocka_unit_test(test_put_verify_restore_reader),
        cmocka_unit_test(test_stream_verify_faults),
        cmocka_unit_test(test_concurrent_puts),
        cmocka_unit_test(test_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
