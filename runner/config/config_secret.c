/* Reading a secret named by an (*_env, *_file) pair. The secret itself never
 * reaches a message: errors name the variable or the file, never content. */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* A secret file larger than this is the wrong file (a key is a few KiB). */
#define RB_SECRET_MAX (1u << 20)

static void wipe(void *p, size_t n)
{
    if (p && n)
        explicit_bzero(p, n);
}

static char *trimmed_copy(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    return rb_xstrndup(s, n);
}

static char *read_secret_file(const char *file, const char *what, char *err, size_t errlen)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open %s: %s", what, file, strerror(errno));
        return NULL;
    }
    /* Read into a fixed-size buffer we can wipe: a growing buffer would leave
     * copies of the secret behind in freed memory. */
    size_t cap = RB_SECRET_MAX + 1;
    char *buf = rb_xmalloc(cap);
    size_t len = fread(buf, 1, cap, f);
    int failed = ferror(f);
    int e = errno;
    fclose(f);
    char *out = NULL;
    if (failed)
        snprintf(err, errlen, "%s: cannot read %s: %s", what, file, strerror(e));
    else if (len > RB_SECRET_MAX)
        snprintf(err, errlen, "%s: %s is larger than %u KiB; is it the right file?", what, file,
                 RB_SECRET_MAX >> 10);
    else if (memchr(buf, '\0', len))
        snprintf(err, errlen, "%s: %s contains a NUL byte; a secret file holds text", what, file);
    else if (!(out = trimmed_copy(buf, len)) || !*out) {
        snprintf(err, errlen, "%s: %s is empty", what, file);
        free(out);
        out = NULL;
    }
    wipe(buf, len < cap ? len : cap);
    free(buf);
    return out;
}

char *rb_config_read_secret(const char *env_name, const char *file, const char *what, char *err,
                            size_t errlen)
{
    char scratch[1];
    if (!err || !errlen) {
        err = scratch;
        errlen = sizeof scratch;
    }
    err[0] = '\0';
    if (!what)
        what = "secret";
    if (env_name && *env_name) {
        const char *v = getenv(env_name);
        if (v && *v) {
            char *out = trimmed_copy(v, strlen(v));
            if (*out)
                return out;
            free(out);
        }
        if (!file) {
            snprintf(err, errlen, "%s: environment variable %s is %s", what, env_name,
                     v ? "empty" : "not set");
            return NULL;
        }
    }
    if (file && *file)
        return read_secret_file(file, what, err, errlen);
    snprintf(err, errlen, "%s: no source configured (set an *_env or *_file key)", what);
    return NULL;
}
