/* Storage Shared Key signing, shared by the pipeline and the blob client. */
#ifndef REBOUND_AZURE_INTERNAL_SK_H
#define REBOUND_AZURE_INTERNAL_SK_H

#include <stddef.h>

#include <rebound/status.h>

#include "az_error.h"

/* Builds the Shared Key string-to-sign for a request (headers are "Name:
 * value" lines, NULL-terminated). Caller frees *out. */
rb_status rb_sharedkey_string_to_sign(const char *account, const char *method, const char *url,
                                      const char *const *headers, size_t body_len, char **out,
                                      rb_az_err *err);

/* HMAC-SHA256 of msg under the base64 key, base64-encoded. Caller frees. */
rb_status rb_hmac_sha256_b64(const char *key_b64, const char *msg, char **out, rb_az_err *err);

/* The RFC 1123 date for x-ms-date ("Wed, 25 Nov 2026 11:00:00 GMT"). */
void rb_http_date(char *buf, size_t len);

#endif
