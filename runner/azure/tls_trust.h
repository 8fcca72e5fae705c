/* The HTTP engine's certificate trust store, built once per engine.
 *
 * libcurl 7.88 builds a new SSL_CTX for every connection and, whenever a CA
 * directory is configured (Debian's libcurl has /etc/ssl/certs built in),
 * also parses its CA file into a new store each time: ~140 certificates for
 * the system bundle, and even azsim's one CA cost more than a millisecond
 * under OpenSSL 3 (its decoders), on the engine thread, for each of the
 * 32 connections a burst of requests opens. This store holds the same
 * trust (the configured CA file, or libcurl's built-in bundle, plus
 * libcurl's built-in CA directory, searched by subject hash on demand),
 * parsed once, and is handed to each connection's SSL_CTX from libcurl's
 * CURLOPT_SSL_CTX_FUNCTION. */
#ifndef REBOUND_AZURE_TLS_TRUST_H
#define REBOUND_AZURE_TLS_TRUST_H

#include <stddef.h>

typedef struct rb_tls_trust rb_tls_trust;

/* ca_file: the file of trusted CAs (PEM); ca_dir: a hashed CA directory
 * (c_rehash layout), searched only for issuers not in ca_file. Either may be
 * NULL. Nothing is read until the first rb_tls_trust_apply. NULL when out of
 * memory. */
rb_tls_trust *rb_tls_trust_new(const char *ca_file, const char *ca_dir);
void rb_tls_trust_free(rb_tls_trust *t);

/* Makes ssl_ctx (an SSL_CTX *) verify against the store, reading ca_file the
 * first time (a store once built is kept for the engine's life: a CA file
 * replaced later is not read again). Thread-safe. Returns 0, or -1 with the
 * reason in msg (the file that could not be read). After a failure the
 * file is read again by the first call a second or more later. */
int rb_tls_trust_apply(rb_tls_trust *t, void *ssl_ctx, char *msg, size_t msg_len);

#endif
