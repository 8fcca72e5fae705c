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

/* Keys whose values are masked wherever they appear as key=value (query
 * strings, connection strings, form bodies). */
static const char *const eq_keys[] = {"sig", "client_secret", "client_assertion",
                                      "access_token", "refresh_token", "AccountKey",
                                      "SharedAccessSignature", "password", NULL};

static int is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

/* Masks the value starting at v up to a delimiter; returns where to go on. */
static char *mask_value(char *v, const char *stop)
{
    size_t n = strcspn(v, stop);
    if (n == 0)
        return v;
    size_t keep = n < 3 ? n : 3;
    memset(v, '*', keep);
    memmove(v + keep, v + n, strlen(v + n) + 1);
    return v + keep;
}

/* One pass over the text: at each '=' or ':' look back at the key before
 * it. Cheaper than searching for every pattern separately, which matters
 * because every journal record goes through here. */
static void mask_patterns(char *s)
{
    for (char *p = s; *p; p++) {
        if (*p != '=' && *p != ':')
            continue;
        char *k = p;
        while (k > s && is_key_char(k[-1]))
            k--;
        size_t klen = (size_t)(p - k);
        if (!klen)
            continue;
        if (*p == '=') {
            for (const char *const *key = eq_keys; *key; key++)
                if (strlen(*key) == klen && strncasecmp(k, *key, klen) == 0) {
                    p = mask_value(p + 1, "&;\" \r\n,") - 1;
                    break;
                }
        } else if (klen == 13 && strncasecmp(k, "Authorization", 13) == 0 && p[1] == ' ') {
            p = mask_value(p + 2, "\r\n\"") - 1;
        }
    }
    /* JSON token fields: "access_token":"...", also with a space. */
    static const char *const json_keys[] = {"\"access_token\":", "\"refresh_token\":",
                                            "\"client_secret\":", NULL};
    for (const char *const *jk = json_keys; *jk; jk++)
        for (char *p = s; (p = strstr(p, *jk)) != NULL;) {
            p += strlen(*jk);
            while (*p == ' ')
                p++;
            if (*p == '"')
                p = mask_value(p + 1, "\"");
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
    mask_patterns(b.p);
    return b.p;
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
