/* rebound Azure access layer: helpers shared by the files of runner/azure/.
 * Not part of the API the rest of the runner sees. */
#ifndef REBOUND_AZURE_INTERNAL_H
#define REBOUND_AZURE_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <rebound/status.h>

#include "az_error.h"
#include "internal_sk.h" /* Storage Shared Key signing (sharedkey.c) */

/* A growable byte buffer, always NUL-terminated when data != NULL. */
typedef struct rb_azbuf {
    char *data;
    size_t len;
    size_t cap;
} rb_azbuf;

rb_status rb_azbuf_append(rb_azbuf *b, const void *data, size_t len);
rb_status rb_azbuf_puts(rb_azbuf *b, const char *s);
rb_status rb_azbuf_printf(rb_azbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rb_azbuf_free(rb_azbuf *b);
/* Hands the data over (caller frees) and resets the buffer. Never NULL
 * unless out of memory: an empty buffer yields "". */
char *rb_azbuf_take(rb_azbuf *b);

/* A NULL-terminated, growable array of owned strings (header lines). */
typedef struct rb_strv {
    char **v;
    size_t n;
    size_t cap;
} rb_strv;

rb_status rb_strv_add(rb_strv *s, const char *str);
rb_status rb_strv_addf(rb_strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rb_strv_free(rb_strv *s);

/* Monotonic and wall clocks in milliseconds / seconds. */
int64_t rb_now_ms(void);
int64_t rb_wall_s(void);
/* Sleeps ms milliseconds, waking early when *cancel becomes non-zero.
 * Returns RB_ECANCELED in that case. cancel may be NULL. */
rb_status rb_sleep_ms(int64_t ms, const atomic_int *cancel);

/* base64 through OpenSSL EVP. Results are allocated; caller frees. */
char *rb_b64_encode(const void *data, size_t len);
/* base64url without padding (JWT). */
char *rb_b64url_encode(const void *data, size_t len);
/* Returns RB_EINVAL when the input is not base64. */
rb_status rb_b64_decode(const char *s, unsigned char **out, size_t *out_len);

/* Percent-encodes through libcurl. Caller frees with free(). */
char *rb_url_escape(const char *s);
/* "scheme://host:port" of an absolute URL, lower case, default port
 * filled in (libcurl's parse, remembered per scheme and authority:
 * url_origin.c); NULL when url is not one. Caller frees. */
char *rb_url_origin(const char *url);
/* Percent-decodes through libcurl. Caller frees with free(). */
char *rb_url_unescape(const char *s);

/* Case-insensitive prefix test for header lines: "Name:" at the start of
 * line. Returns a pointer to the trimmed value or NULL. */
const char *rb_header_value(const char *line, const char *name);

/* Reads a whole (small) file; caller frees. Fails above max bytes. */
rb_status rb_read_file(const char *path, size_t max, char **out, size_t *out_len, rb_az_err *err);

/* Initialises libxml2 once per process (its first use must not race). */
void rb_xml_once(void);

/* Random bytes from OpenSSL. */
rb_status rb_random_bytes(void *buf, size_t len);

#endif
