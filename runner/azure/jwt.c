/* JWT client assertions (certificate credential) and reading a JWT's expiry,
 * with cJSON for the JSON and OpenSSL for the hashing, signing and base64. */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cred_internal.h"
#include "internal.h"

static rb_status load_pem(const char *path, X509 **cert, EVP_PKEY **key, rb_az_err *err)
{
    *cert = NULL;
    *key = NULL;
    BIO *b = BIO_new_file(path, "r");
    if (!b)
        return rb_az_fail(err, RB_EAUTH, "cannot open client certificate %s", path);
    *cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_file(path, "r");
    if (b)
        *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!*cert || !*key) {
        X509_free(*cert);
        EVP_PKEY_free(*key);
        *cert = NULL;
        *key = NULL;
        return rb_az_fail(err, RB_EAUTH,
                          "client certificate %s must hold a PEM certificate and its unencrypted "
                          "private key",
                          path);
    }
    if (EVP_PKEY_base_id(*key) != EVP_PKEY_RSA) {
        X509_free(*cert);
        EVP_PKEY_free(*key);
        return rb_az_fail(err, RB_EAUTH, "client certificate %s: only RSA keys are supported",
                          path);
    }
    return RB_OK;
}

static char *b64url_json(cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    if (!s)
        return NULL;
    char *r = rb_b64url_encode(s, strlen(s));
    free(s);
    return r;
}

rb_status rb_jwt_client_assertion(const char *cert_path, const char *client_id,
                                  const char *audience, char **out, rb_az_err *err)
{
    *out = NULL;
    X509 *cert;
    EVP_PKEY *key;
    rb_status st = load_pem(cert_path, &cert, &key, err);
    if (st != RB_OK)
        return st;
    unsigned char *der = NULL;
    int dlen = i2d_X509(cert, &der);
    unsigned char thumb[32];
    unsigned int tlen = 0;
    char *x5t = NULL, *hdr = NULL, *pay = NULL, *sig64 = NULL;
    unsigned char *sig = NULL;
    rb_azbuf signing = {0};
    EVP_MD_CTX *md = NULL;
    if (dlen <= 0 || !EVP_Digest(der, (size_t)dlen, thumb, &tlen, EVP_sha256(), NULL)) {
        st = rb_az_fail(err, RB_EAUTH, "cannot hash client certificate %s", cert_path);
        goto done;
    }
    x5t = rb_b64url_encode(thumb, tlen);

    unsigned char jti_raw[16];
    rb_random_bytes(jti_raw, sizeof jti_raw);
    char jti[33];
    for (int i = 0; i < 16; i++)
        snprintf(jti + 2 * i, 3, "%02x", jti_raw[i]);
    int64_t now = rb_wall_s();

    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "alg", "PS256");
    cJSON_AddStringToObject(h, "typ", "JWT");
    cJSON_AddStringToObject(h, "x5t#S256", x5t ? x5t : "");
    hdr = b64url_json(h);
    cJSON_Delete(h);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "aud", audience);
    cJSON_AddStringToObject(p, "iss", client_id);
    cJSON_AddStringToObject(p, "sub", client_id);
    cJSON_AddStringToObject(p, "jti", jti);
    cJSON_AddNumberToObject(p, "iat", (double)now);
    cJSON_AddNumberToObject(p, "nbf", (double)now);
    cJSON_AddNumberToObject(p, "exp", (double)(now + 600));
    pay = b64url_json(p);
    cJSON_Delete(p);
    if (!x5t || !hdr || !pay) {
        st = rb_az_fail(err, RB_ENOMEM, "out of memory");
        goto done;
    }
    rb_azbuf_printf(&signing, "%s.%s", hdr, pay);

    md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    size_t slen = 0;
    if (!md || EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
        EVP_DigestSign(md, NULL, &slen, (const unsigned char *)signing.data, signing.len) != 1 ||
        !(sig = malloc(slen)) ||
        EVP_DigestSign(md, sig, &slen, (const unsigned char *)signing.data, signing.len) != 1) {
        st = rb_az_fail(err, RB_EAUTH, "cannot sign the client assertion with %s", cert_path);
        goto done;
    }
    sig64 = rb_b64url_encode(sig, slen);
    if (!sig64 || rb_azbuf_printf(&signing, ".%s", sig64) != RB_OK) {
        st = rb_az_fail(err, RB_ENOMEM, "out of memory");
        goto done;
    }
    *out = rb_azbuf_take(&signing);
    st = RB_OK;
done:
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    X509_free(cert);
    EVP_PKEY_free(key);
    free(x5t);
    free(hdr);
    free(pay);
    free(sig);
    free(sig64);
    rb_azbuf_free(&signing);
    return st;
}

int64_t rb_jwt_expiry(const char *s)
{
    const char *a = strchr(s, '.');
    const char *b = a ? strchr(a + 1, '.') : NULL;
    if (!a || !b || b - a - 1 <= 0 || b - a - 1 > 16384)
        return -1;
    rb_azbuf t = {0};
    rb_azbuf_append(&t, a + 1, (size_t)(b - a - 1));
    if (!t.data)
        return -1;
    for (size_t i = 0; i < t.len; i++) {
        if (t.data[i] == '-')
            t.data[i] = '+';
        else if (t.data[i] == '_')
            t.data[i] = '/';
    }
    while (t.len % 4)
        rb_azbuf_puts(&t, "=");
    unsigned char *raw = NULL;
    size_t rlen = 0;
    int64_t exp = -1;
    if (rb_b64_decode(t.data, &raw, &rlen) == RB_OK) {
        cJSON *j = cJSON_ParseWithLength((const char *)raw, rlen);
        const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "exp") : NULL;
        if (cJSON_IsNumber(e))
            exp = (int64_t)e->valuedouble;
        cJSON_Delete(j);
        free(raw);
    }
    rb_azbuf_free(&t);
    return exp;
}
