/* Ed25519 through OpenSSL EVP: EVP_DigestSign with a NULL digest (Ed25519
 * hashes internally), base64 through EVP_EncodeBlock/EVP_DecodeBlock. */
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "vault/sign.h"

struct rb_vault_key {
    EVP_PKEY *pkey;
    int is_private;
};

rb_status rb_vault_key_parse(const char *pem, size_t len, int is_public, const char *what,
                             rb_vault_key **out, rb_vault_err *err)
{
    *out = NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        rb_die_oom();
    EVP_PKEY *pkey = is_public ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)
                               : PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!pkey)
        return rb_vault_fail(err, RB_EINVAL, "%s is not a PEM %s key", what,
                             is_public ? "public" : "private");
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pkey);
        return rb_vault_fail(err, RB_EINVAL, "%s is not an Ed25519 key (the vault signs with "
                             "Ed25519: openssl genpkey -algorithm ed25519)", what);
    }
    rb_vault_key *k = rb_xcalloc(1, sizeof *k);
    k->pkey = pkey;
    k->is_private = !is_public;
    *out = k;
    return RB_OK;
}

rb_status rb_vault_key_load(const char *path, int is_public, rb_vault_key **out,
                            rb_vault_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rb_vault_fail(err, RB_EINVAL, "cannot read the %s key %s: %s",
                             is_public ? "public" : "signing", path, strerror(errno));
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    rb_status st = rb_vault_key_parse(buf, n, is_public, path, out, err);
    OPENSSL_cleanse(buf, sizeof buf);
    return st;
}

void rb_vault_key_free(rb_vault_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

int rb_vault_key_is_private(const rb_vault_key *k)
{
    return k && k->is_private;
}

void rb_vault_key_id(const rb_vault_key *k, char out[65])
{
    unsigned char raw[64];
    size_t n = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &n) != 1)
        n = 0;
    rb_sha256_hex(raw, n, out);
}

rb_status rb_vault_sign(const rb_vault_key *k, const void *msg, size_t len, char **sig_b64,
                        rb_vault_err *err)
{
    *sig_b64 = NULL;
    if (!k->is_private)
        return rb_vault_fail(err, RB_EINVAL, "signing needs the private key");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[64];
    size_t siglen = sizeof sig;
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return rb_vault_fail(err, RB_ERROR, "Ed25519 signing failed");
    char *out = rb_xmalloc(4 * ((siglen + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, sig, (int)siglen);
    *sig_b64 = out;
    return RB_OK;
}

rb_status rb_vault_check_signature(const rb_vault_key *k, const void *msg, size_t len,
                                   const char *sig_b64, rb_vault_err *err)
{
    size_t b64len = strlen(sig_b64);
    /* 64 bytes are 88 base64 characters with "==" padding. */
    if (b64len != 88)
        return rb_vault_fail(err, RB_ECORRUPT, "the signature is not a base64 Ed25519 signature");
    unsigned char sig[66];
    if (EVP_DecodeBlock(sig, (const unsigned char *)sig_b64, (int)b64len) != 66)
        return rb_vault_fail(err, RB_ECORRUPT, "the signature is not valid base64");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestVerify(ctx, sig, 64, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        char id[65];
        rb_vault_key_id(k, id);
        return rb_vault_fail(err, RB_ECORRUPT,
                             "the signature does not verify with the public key %.16s", id);
    }
    return RB_OK;
}
