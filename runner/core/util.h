/* Small helpers every part of the runner uses: allocation that aborts on
 * out-of-memory (a runner that cannot allocate cannot keep its journal
 * honest either), clocks, hex, and a growable string buffer. */
#ifndef REBOUND_RUNNER_UTIL_H
#define REBOUND_RUNNER_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define RB_FMT(a, b) __attribute__((format(printf, a, b)))
#define RB_NORETURN __attribute__((noreturn))
#else
#define RB_FMT(a, b)
#define RB_NORETURN
#endif

RB_NORETURN void rb_die_oom(void);
void *rb_xmalloc(size_t n);
void *rb_xcalloc(size_t n, size_t size);
void *rb_xrealloc(void *p, size_t n);
char *rb_xstrdup(const char *s);
char *rb_xstrndup(const char *s, size_t n);
/* Returns a malloc'd formatted string; caller frees. */
char *rb_xasprintf(const char *fmt, ...) RB_FMT(1, 2);
char *rb_xvasprintf(const char *fmt, va_list ap) RB_FMT(1, 0);

/* Monotonic milliseconds/seconds (for durations) and wall-clock ms (for records). */
int64_t rb_mono_ms(void);
double rb_mono_s(void);
int64_t rb_wall_ms(void);
/* ISO 8601 UTC ("2026-11-25T11:19:26.123Z") of a wall-clock ms into out[32]. */
void rb_iso8601(int64_t wall_ms, char out[32]);

/* SHA-256 as an EVP_MD fetched once (OpenSSL 3 fetches on every
 * EVP_sha256() use otherwise, which shows up at 10,000 steps). */
typedef struct evp_md_st EVP_MD;
const EVP_MD *rb_sha256(void);
/* SHA-256 of data as 64 hex chars into out[65]. */
void rb_sha256_hex(const void *data, size_t len, char out[65]);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void rb_hex(const unsigned char *in, size_t n, char *out);

/* Creates a directory and its parents (mode 0755). 0 or -1 with errno. */
int rb_mkdir_p(const char *path);

/* A growable NUL-terminated string. Zero-initialise; free with rb_buf_free. */
typedef struct rb_buf {
    char *p;
    size_t len, cap;
} rb_buf;

void rb_buf_add(rb_buf *b, const char *s, size_t n);
void rb_buf_puts(rb_buf *b, const char *s);
void rb_buf_printf(rb_buf *b, const char *fmt, ...) RB_FMT(2, 3);
void rb_buf_reset(rb_buf *b);
void rb_buf_free(rb_buf *b);

#endif
