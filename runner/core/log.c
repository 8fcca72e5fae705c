#define _GNU_SOURCE /* strcasestr */
#include "core/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static rb_log_level min_level = RB_LOG_INFO;
static int quiet;

static pthread_mutex_t secret_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t n_secrets;

void rb_log_set_level(rb_log_level min) { min_level = min; }
void rb_log_set_quiet(int q) { quiet = q; }

void rb_secret_register(const char *secret)
{
    if (!secret || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&secret_lock);
    for (size_t i = 0; i < n_secrets; i++)
        if (strcmp(secrets[i], secret) == 0) {
            pthread_mutex_unlock(&secret_lock);
            return;
        }
    secrets = rb_xrealloc(secrets, (n_secrets + 1) * sizeof *secrets);
    secrets[n_secrets++] = rb_xstrdup(secret);
    pthread_mutex_unlock(&secret_lock);
}

/* Masks the value after a key like "sig=" or "Authorization: " up to the
 * next delimiter. */
static void mask_after(char *s, const char *key, const char *stop)
{
    size_t klen = strlen(key);
    for (char *p = s; (p = strcasestr(p, key)) != NULL;) {
        p += klen;
        size_t n = strcspn(p, stop);
        if (n == 0)
            continue;
        size_t keep = n < 3 ? n : 3;
        memset(p, '*', keep);
        memmove(p + keep, p + n, strlen(p + n) + 1);
        p += keep;
    }
}

char *rb_redact(const char *in)
{
    rb_buf b = {0};
    rb_buf_puts(&b, in ? in : "");
    pthread_mutex_lock(&secret_lock);
    for (size_t i = 0; i < n_secrets; i++) {
        size_t sl = strlen(secrets[i]);
        for (char *p = b.p; (p = strstr(p, secrets[i])) != NULL;) {
            memcpy(p, "***", 3);
            memmove(p + 3, p + sl, strlen(p + sl) + 1);
            p += 3;
        }
    }
    pthread_mutex_unlock(&secret_lock);
    static const char *const keys[] = {"sig=", "client_secret=", "client_assertion=",
                                       "access_token=", "AccountKey=", "SharedAccessSignature=",
                                       NULL};
    for (const char *const *k = keys; *k; k++)
        mask_after(b.p, *k, "&;\" \r\n,");
    mask_after(b.p, "Authorization: ", "\r\n");
    mask_after(b.p, "\"access_token\":\"", "\"");
    mask_after(b.p, "\"access_token\": \"", "\"");
    char *out = rb_xstrdup(b.p);
    rb_buf_free(&b);
    return out;
}

void rb_vlog(rb_log_level level, const char *fmt, va_list ap)
{
    if (level < min_level || (quiet && level < RB_LOG_ERROR))
        return;
    char *msg = rb_xvasprintf(fmt, ap);
    char *safe = rb_redact(msg);
    free(msg);
    static const char *const names[] = {"debug", "info", "warning", "error"};
    pthread_mutex_lock(&log_lock);
    if (level == RB_LOG_INFO)
        fprintf(stderr, "%s\n", safe);
    else
        fprintf(stderr, "%s: %s\n", names[level], safe);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
    free(safe);
}

void rb_log(rb_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rb_vlog(level, fmt, ap);
    va_end(ap);
}
