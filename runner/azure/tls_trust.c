/* The HTTP engine's trust store: see tls_trust.h for why it exists. */
#include "tls_trust.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct rb_tls_trust {
    pthread_mutex_t lock;
    char *ca_file;
    char *ca_dir;
    X509_STORE *store;  /* NULL until built */
    time_t failed_at;   /* when building last failed, 0 if never */
    char error[512];
};

static char *dup_or_null(const char *s, int *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = 1;
    return d;
}

rb_tls_trust *rb_tls_trust_new(const char *ca_file, const char *ca_dir)
{
    rb_tls_trust *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    int failed = 0;
    t->ca_file = dup_or_null(ca_file, &failed);
    t->ca_dir = dup_or_null(ca_dir, &failed);
    pthread_mutex_init(&t->lock, NULL);
    if (failed) {
        rb_tls_trust_free(t);
        return NULL;
    }
    return t;
}

void rb_tls_trust_free(rb_tls_trust *t)
{
    if (!t)
        return;
    X509_STORE_free(t->store);
    pthread_mutex_destroy(&t->lock);
    free(t->ca_file);
    free(t->ca_dir);
    free(t);
}

/* OpenSSL's reason for the last failure, or "unreadable". */
static const char *ssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "unreadable";
}

/* Why ca_file could not be loaded: it cannot be opened, it is a
 * directory, or it holds no PEM certificate (OpenSSL's reason). */
static void describe_file_failure(rb_tls_trust *t)
{
    const char *reason = ssl_reason();
    FILE *f = fopen(t->ca_file, "r");
    struct stat st;
    if (!f || (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)))
        snprintf(t->error, sizeof t->error, "cannot read the CA file %s: %s", t->ca_file,
                 f ? "it is a directory" : strerror(errno));
    else
        snprintf(t->error, sizeof t->error, "the CA file %s holds no usable PEM certificate: %s",
                 t->ca_file, reason);
    if (f)
        fclose(f);
}

static void build(rb_tls_trust *t)
{
    X509_STORE *s = X509_STORE_new();
    if (!s) {
        snprintf(t->error, sizeof t->error, "out of memory building the TLS trust store");
        return;
    }
    ERR_clear_error();
    if (t->ca_file && X509_STORE_load_file(s, t->ca_file) != 1) {
        describe_file_failure(t);
        X509_STORE_free(s);
        ERR_clear_error();
        return;
    }
    /* A missing directory is not an error: libcurl does not treat it as one
     * either (the lookup then finds nothing). */
    if (t->ca_dir && X509_STORE_load_path(s, t->ca_dir) != 1) {
        snprintf(t->error, sizeof t->error, "cannot use the CA directory %s: %s", t->ca_dir,
                 ssl_reason());
        X509_STORE_free(s);
        ERR_clear_error();
        return;
    }
    /* What libcurl sets on the stores it builds: prefer issuers from the
     * trusted store to ones the server sends (legacy cross-signed
     * intermediates), and accept a chain that ends at a trusted
     * intermediate. */
    X509_STORE_set_flags(s, X509_V_FLAG_TRUSTED_FIRST | X509_V_FLAG_PARTIAL_CHAIN);
    t->store = s;
}

int rb_tls_trust_apply(rb_tls_trust *t, void *ssl_ctx, char *msg, size_t msg_len)
{
    pthread_mutex_lock(&t->lock);
    /* A failed build is tried again, at most once a second: a CA file that
     * was missing when the first connection opened may be there now. */
    time_t now = time(NULL);
    if (!t->store && (t->failed_at == 0 || now - t->failed_at >= 1)) {
        t->error[0] = '\0';
        build(t);
        t->failed_at = t->store ? 0 : now;
    }
    int ok = t->store != NULL;
    if (ok)
        SSL_CTX_set1_cert_store(ssl_ctx, t->store); /* takes a reference */
    if (!ok && msg && msg_len)
        snprintf(msg, msg_len, "%s", t->error[0] ? t->error : "cannot build the TLS trust store");
    pthread_mutex_unlock(&t->lock);
    return ok ? 0 : -1;
}
