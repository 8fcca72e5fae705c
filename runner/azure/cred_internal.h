/* Pieces of the credentials that live in their own files. */
#ifndef REBOUND_AZURE_CRED_INTERNAL_H
#define REBOUND_AZURE_CRED_INTERNAL_H

#include <stdint.h>

#include <rebound/status.h>

#include "az_error.h"

/* A JWT client assertion (RFC 7523) for client_id, audience = the token
 * endpoint, signed PS256 with the key in the PEM at cert_path (which holds
 * the certificate too: its SHA-256 thumbprint is the x5t#S256 header).
 * Caller frees *out. */
rb_status rb_jwt_client_assertion(const char *cert_path, const char *client_id,
                                  const char *audience, char **out, rb_az_err *err);

/* The exp claim of a JWT, or -1 when s is not a JWT with one. */
int64_t rb_jwt_expiry(const char *s);

/* Runs `az account get-access-token --resource R [--tenant T] -o json`
 * without a shell. Caller frees *tok. */
rb_status rb_cli_get_token(const char *az, const char *resource, const char *tenant, char **tok,
                           int64_t *exp, rb_az_err *err);

#endif
