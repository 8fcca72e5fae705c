/* Ed25519 keys and signatures for the vault catalog (OpenSSL EVP). */
#ifndef REBOUND_VAULT_SIGN_H
#define REBOUND_VAULT_SIGN_H

#include <stddef.h>

#include "vault/store.h"

typedef struct rb_vault_key rb_vault_key;

/* Parses a PEM private key (PKCS#8, as `openssl genpkey -algorithm ed25519`
 * writes) or, with is_public, a PEM public key. Anything but Ed25519 is
 * refused (RB_EINVAL). what names the source in messages. Caller frees with
 * rb_vault_key_free(). */
rb_status rb_vault_key_parse(const char *pem, size_t len, int is_public, const char *what,
                             rb_vault_key **out, rb_vault_err *err);
/* Reads and parses a PEM file. */
rb_status rb_vault_key_load(const char *path, int is_public, rb_vault_key **out,
                            rb_vault_err *err);
void rb_vault_key_free(rb_vault_key *k);
/* 1 when the key can sign. */
int rb_vault_key_is_private(const rb_vault_key *k);
/* SHA-256 (hex) of the raw 32-byte public key: names the key in entries. */
void rb_vault_key_id(const rb_vault_key *k, char out[65]);

/* Signs msg; *sig_b64 (base64 of the 64-byte signature) is malloc'd. */
rb_status rb_vault_sign(const rb_vault_key *k, const void *msg, size_t len, char **sig_b64,
                        rb_vault_err *err);
/* RB_OK when sig_b64 is a valid signature of msg by k, RB_ECORRUPT when not. */
rb_status rb_vault_check_signature(const rb_vault_key *k, const void *msg, size_t len,
                                   const char *sig_b64, rb_vault_err *err);

#endif
