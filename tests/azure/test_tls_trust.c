/* The HTTP engine's trust store (tls_trust.c): read once, shared by every
 * SSL_CTX it is applied to, and a readable reason when the CA file is
 * missing or holds no certificate. No network: certificates are made here
 * and checked with X509_verify_cert against the SSL_CTX's store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "azure/tls_trust.h"
#include "testutil.h"

static char g_dir[1024], g_ca1[1100], g_ca2[1100], g_both[1100], g_hashdir[1100];
static X509 *g_cert1, *g_cert2, *g_stranger;
/* root -> intermediate -> g_sub (a CA too, for brevity) */
static X509 *g_root, *g_inter, *g_sub;
static char g_inter_pem[1100];

/* A CA certificate named cn, issued by issuer (self-signed when NULL);
 * *key_out gets its key when not NULL. */
static X509 *make_ca(const char *cn, X509 *issuer, EVP_PKEY *issuer_key, EVP_PKEY **key_out)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *c = X509_new();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 86400);
    X509_set_pubkey(c, k);
    X509_NAME *n = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
    X509V3_CTX v;
    X509V3_set_ctx_nodb(&v);
    X509V3_set_ctx(&v, issuer ? issuer : c, c, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &v, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(c, ex, -1);
    X509_EXTENSION_free(ex);
    X509_sign(c, issuer ? issuer_key : k, EVP_sha256());
    if (key_out)
        *key_out = k;
    else
        EVP_PKEY_free(k);
    return c;
}

static void write_pem(const char *path, X509 *a, X509 *b)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    PEM_write_X509(f, a);
    if (b)
        PEM_write_X509(f, b);
    fclose(f);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    snprintf(g_dir, sizeof g_dir, "%s/tls_trust", tu_artifacts());
    mkdir(g_dir, 0700);
    g_cert1 = make_ca("rebound-trust-test-1", NULL, NULL, NULL);
    g_cert2 = make_ca("rebound-trust-test-2", NULL, NULL, NULL);
    g_stranger = make_ca("rebound-trust-stranger", NULL, NULL, NULL);
    EVP_PKEY *root_key = NULL, *inter_key = NULL;
    g_root = make_ca("rebound-trust-root", NULL, NULL, &root_key);
    g_inter = make_ca("rebound-trust-intermediate", g_root, root_key, &inter_key);
    g_sub = make_ca("rebound-trust-sub", g_inter, inter_key, NULL);
    EVP_PKEY_free(root_key);
    EVP_PKEY_free(inter_key);
    snprintf(g_inter_pem, sizeof g_inter_pem, "%s/intermediate.pem", g_dir);
    write_pem(g_inter_pem, g_inter, NULL);
    snprintf(g_ca1, sizeof g_ca1, "%s/ca1.pem", g_dir);
    snprintf(g_ca2, sizeof g_ca2, "%s/ca2.pem", g_dir);
    snprintf(g_both, sizeof g_both, "%s/both.pem", g_dir);
    write_pem(g_ca1, g_cert1, NULL);
    write_pem(g_ca2, g_cert2, NULL);
    write_pem(g_both, g_cert2, g_cert1);
    /* A c_rehash directory holding the second CA only. */
    snprintf(g_hashdir, sizeof g_hashdir, "%s/hashed", g_dir);
    mkdir(g_hashdir, 0700);
    char p[1300];
    snprintf(p, sizeof p, "%s/%08lx.0", g_hashdir, X509_subject_name_hash(g_cert2));
    write_pem(p, g_cert2, NULL);
    return 0;
}

static int teardown(void **state)
{
    X509_free(g_cert1);
    X509_free(g_cert2);
    X509_free(g_stranger);
    X509_free(g_root);
    X509_free(g_inter);
    X509_free(g_sub);
    return 0;
}

/* Whether cert verifies against the store ctx now has. */
static int trusted(SSL_CTX *ctx, X509 *cert)
{
    X509_STORE_CTX *v = X509_STORE_CTX_new();
    assert_int_equal(X509_STORE_CTX_init(v, SSL_CTX_get_cert_store(ctx), cert, NULL), 1);
    int ok = X509_verify_cert(v) == 1;
    X509_STORE_CTX_free(v);
    return ok;
}

static void test_missing_file(void **state)
{
    char path[1200], want[1400], msg[512];
    snprintf(path, sizeof path, "%s/no-such-ca.pem", g_dir);
    snprintf(want, sizeof want, "cannot read the CA file %s: %s", path, strerror(ENOENT));
    rb_tls_trust *t = rb_tls_trust_new(path, NULL);
    assert_non_null(t);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    X509_STORE *before = SSL_CTX_get_cert_store(ctx);
    for (int i = 0; i < 2; i++) { /* the same reason on a later call */
        strcpy(msg, "unset");
        assert_int_equal(rb_tls_trust_apply(t, ctx, msg, sizeof msg), -1);
        assert_string_equal(msg, want);
    }
    assert_ptr_equal(SSL_CTX_get_cert_store(ctx), before);
    /* Created later, the file is read by a call a second or more after the
     * failure (not before: a missing file is not looked for per
     * connection). */
    write_pem(path, g_cert1, NULL);
    assert_int_equal(rb_tls_trust_apply(t, ctx, NULL, 0), -1);
    struct timespec pause = {1, 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    assert_int_equal(rb_tls_trust_apply(t, ctx, msg, sizeof msg), 0);
    assert_ptr_not_equal(SSL_CTX_get_cert_store(ctx), before);
    remove(path);
    SSL_CTX_free(ctx);
    rb_tls_trust_free(t);
    /* A directory is no CA file. */
    t = rb_tls_trust_new(g_dir, NULL);
    ctx = SSL_CTX_new(TLS_client_method());
    snprintf(want, sizeof want, "cannot read the CA file %s: it is a directory", g_dir);
    assert_int_equal(rb_tls_trust_apply(t, ctx, msg, sizeof msg), -1);
    assert_string_equal(msg, want);
    SSL_CTX_free(ctx);
    rb_tls_trust_free(t);
}

/* Files that open but hold no PEM certificate. */
static void test_no_certificate(void **state)
{
    const char *texts[] = {"", "not a certificate\n",
                           "-----BEGIN CERTIFICATE-----\nbm90IGRlcg==\n-----END CERTIFICATE-----\n",
                           NULL};
    for (int i = 0; texts[i]; i++) {
        char path[1200], want[1400], msg[512];
        snprintf(path, sizeof path, "%s/junk%d.pem", g_dir, i);
        write_text(path, texts[i]);
        snprintf(want, sizeof want, "the CA file %s holds no usable PEM certificate: ", path);
        rb_tls_trust *t = rb_tls_trust_new(path, NULL);
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        assert_int_equal(rb_tls_trust_apply(t, ctx, msg, sizeof msg), -1);
        print_message("junk%d: %s\n", i, msg);
        assert_memory_equal(msg, want, strlen(want));
        assert_true(strlen(msg) > strlen(want)); /* OpenSSL's reason follows */
        SSL_CTX_free(ctx);
        rb_tls_trust_free(t);
    }
}

/* One store for every SSL_CTX, trusting exactly the file's CAs; it outlives
 * the trust object in the contexts that hold it. */
static void test_shared_store(void **state)
{
    rb_tls_trust *t = rb_tls_trust_new(g_ca1, NULL);
    SSL_CTX *a = SSL_CTX_new(TLS_client_method());
    SSL_CTX *b = SSL_CTX_new(TLS_client_method());
    assert_false(trusted(a, g_cert1));
    assert_int_equal(rb_tls_trust_apply(t, a, NULL, 0), 0);
    assert_int_equal(rb_tls_trust_apply(t, b, NULL, 0), 0);
    assert_ptr_equal(SSL_CTX_get_cert_store(a), SSL_CTX_get_cert_store(b));
    assert_true(trusted(a, g_cert1));
    assert_false(trusted(a, g_cert2));
    assert_false(trusted(a, g_stranger));
    rb_tls_trust_free(t);
    assert_true(trusted(b, g_cert1));
    SSL_CTX_free(a);
    assert_true(trusted(b, g_cert1));
    SSL_CTX_free(b);

    /* Every certificate of a bundle, not just the first. */
    t = rb_tls_trust_new(g_both, NULL);
    a = SSL_CTX_new(TLS_client_method());
    assert_int_equal(rb_tls_trust_apply(t, a, NULL, 0), 0);
    assert_true(trusted(a, g_cert1));
    assert_true(trusted(a, g_cert2));
    assert_false(trusted(a, g_stranger));
    SSL_CTX_free(a);
    rb_tls_trust_free(t);
}

/* The CA directory is searched for issuers besides the file; a missing one
 * is no error (libcurl does not make it one either). */
static void test_ca_dir(void **state)
{
    struct {
        const char *file, *dir;
        int one, two;
    } cases[] = {
        {g_ca1, g_hashdir, 1, 1},
        {NULL, g_hashdir, 0, 1},
        {g_ca1, "/nonexistent/rebound-ca-dir", 1, 0},
        {NULL, NULL, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rb_tls_trust *t = rb_tls_trust_new(cases[i].file, cases[i].dir);
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        char msg[512] = "";
        if (rb_tls_trust_apply(t, ctx, msg, sizeof msg) != 0)
            fail_msg("case %zu: %s", i, msg);
        assert_int_equal(trusted(ctx, g_cert1), cases[i].one);
        assert_int_equal(trusted(ctx, g_cert2), cases[i].two);
        assert_false(trusted(ctx, g_stranger));
        SSL_CTX_free(ctx);
        rb_tls_trust_free(t);
    }
}

/* As libcurl's own stores: a chain may end at a trusted intermediate. */
static void test_partial_chain(void **state)
{
    rb_tls_trust *t = rb_tls_trust_new(g_inter_pem, NULL);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_int_equal(rb_tls_trust_apply(t, ctx, NULL, 0), 0);
    assert_true(trusted(ctx, g_sub));
    assert_true(trusted(ctx, g_inter));
    assert_false(trusted(ctx, g_root));
    assert_false(trusted(ctx, g_stranger));
    SSL_CTX_free(ctx);
    rb_tls_trust_free(t);
}

struct apply_arg {
    rb_tls_trust *t;
    X509_STORE *store; /* the store the last context got */
    int bad;
};

static void *apply_many(void *p)
{
    struct apply_arg *a = p;
    for (int i = 0; i < 50; i++) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        if (rb_tls_trust_apply(a->t, ctx, NULL, 0) != 0 || !trusted(ctx, g_cert1) ||
            trusted(ctx, g_stranger))
            a->bad++;
        a->store = SSL_CTX_get_cert_store(ctx);
        SSL_CTX_free(ctx);
    }
    return NULL;
}

/* Threads applying at once, the first of them building the store: each
 * context gets the one store, with the CA in it. */
static void test_threads(void **state)
{
    rb_tls_trust *t = rb_tls_trust_new(g_ca1, g_hashdir);
    SSL_CTX *keep = SSL_CTX_new(TLS_client_method());
    pthread_t th[8];
    struct apply_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (struct apply_arg){.t = t};
        assert_int_equal(pthread_create(&th[i], NULL, apply_many, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(rb_tls_trust_apply(t, keep, NULL, 0), 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(args[i].bad, 0);
        assert_ptr_equal(args[i].store, SSL_CTX_get_cert_store(keep));
    }
    SSL_CTX_free(keep);
    rb_tls_trust_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_file), cmocka_unit_test(test_no_certificate),
        cmocka_unit_test(test_shared_store), cmocka_unit_test(test_ca_dir),
        cmocka_unit_test(test_partial_chain),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
