#include "core/log.h"

#include "azure/redact.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static rb_log_level min_level = RB_LOG_INFO;
static int quiet;

void rb_log_set_level(rb_log_level min) { min_level = min; }
void rb_log_set_quiet(int q) { quiet = q; }

/* One redactor for the whole runner: runner/azure/redact.c (registered
 * secrets, query and header patterns, bearer tokens, JWTs). */
void rb_secret_register(const char *secret)
{
    if (secret && rb_redact_register(secret) != RB_OK)
        rb_die_oom();
}

char *rb_redact(const char *s)
{
    char *out = rb_redact_dup(s ? s : "", s ? strlen(s) : 0);
    if (!out)
        rb_die_oom();
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
