/* Small helpers shared by runner/azure/: buffers, clocks, base64 and URL
 * escaping (both delegated to OpenSSL and libcurl). */
#define _GNU_SOURCE /* sem_clockwait */
#include "internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "redact.h"

static rb_status buf_reserve(rb_azbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return RB_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return RB_ENOMEM;
    b->data = p;
    b->cap = cap;
    return RB_OK;
}

rb_status rb_azbuf_append(rb_azbuf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len) != RB_OK)
        return RB_ENOMEM;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return RB_OK;
}

rb_status rb_azbuf_puts(rb_azbuf *b, const char *s)
{
    return rb_azbuf_append(b, s, strlen(s));
}

rb_status rb_azbuf_printf(rb_azbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return RB_EINVAL;
    if (buf_reserve(b, (size_t)n) != RB_OK)
        return RB_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return RB_OK;
}

void rb_azbuf_free(rb_azbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *rb_azbuf_take(rb_azbuf *b)
{
    char *d = b->data;
    if (!d)
        d = strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

rb_status rb_strv_add(rb_strv *s, const char *str)
{
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return RB_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    char *c = strdup(str);
    if (!c)
        return RB_ENOMEM;
    s->v[s->n++] = c;
    s->v[s->n] = NULL;
    return RB_OK;
}

rb_status rb_strv_addf(rb_strv *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *str = NULL;
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return RB_EINVAL;
    str = malloc((size_t)n + 1);
    if (!str)
        return RB_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(str, (size_t)n + 1, fmt, ap);
    va_end(ap);
    rb_status st = rb_strv_add(s, str);
    free(str);
    return st;
}

void rb_strv_free(rb_strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

int64_t rb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rb_wall_s(void)
{
    return (int64_t)time(NULL);
}

/* Cancellable sleeps. A sleeper blocks once on its own semaphore until its
 * end; one watcher thread looks at the cancel flags of all sleepers every
 * SLEEP_SCAN_MS and posts the cancelled ones' semaphores. With 1,000 steps
 * waiting out a Retry-After at once, that is 20 wake-ups a second instead
 * of 20,000 (each sleeper used to wake every 50 ms to look at its own
 * flag), with the same reaction time to a cancel. The sleepers are listed
 * in SLEEP_SHARDS lists, each with its own lock, held only to link and
 * unlink: with one list and a condition variable under its lock, the
 * 1,000 sleepers whose Retry-After ended together queued for that one
 * lock on waking (a quarter of the worker threads' CPU in bench lro). */
#define SLEEP_SCAN_MS 50
#define SLEEP_SHARDS 16

typedef struct sleeper {
    struct sleeper *prev, *next;
    const atomic_int *cancel;
    sem_t wake;
    int posted;
} sleeper;

typedef struct {
    pthread_mutex_t lock;
    sleeper *head;
} sleep_shard;

static sleep_shard g_shards[SLEEP_SHARDS];
static pthread_mutex_t g_watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_watch_cv;     /* CLOCK_MONOTONIC */
static atomic_int g_sleeping;         /* sleepers listed */
static int g_watcher;                  /* 1 running, -1 could not start */

static struct timespec mono_at(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    return ts;
}

static void *sleep_watcher(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_watch_lock);
    for (;;) {
        while (atomic_load(&g_sleeping) == 0)
            pthread_cond_wait(&g_watch_cv, &g_watch_lock);
        struct timespec ts = mono_at(rb_now_ms() + SLEEP_SCAN_MS);
        pthread_cond_timedwait(&g_watch_cv, &g_watch_lock, &ts);
        pthread_mutex_unlock(&g_watch_lock);
        for (int i = 0; i < SLEEP_SHARDS; i++) {
            sleep_shard *sh = &g_shards[i];
            pthread_mutex_lock(&sh->lock);
            for (sleeper *s = sh->head; s; s = s->next) {
                if (!s->posted && atomic_load(s->cancel)) {
                    s->posted = 1;
                    sem_post(&s->wake);
                }
            }
            pthread_mutex_unlock(&sh->lock);
        }
        pthread_mutex_lock(&g_watch_lock);
    }
    return NULL;
}

static void start_watcher(void)
{
    for (int i = 0; i < SLEEP_SHARDS; i++)
        pthread_mutex_init(&g_shards[i].lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g_watch_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    g_watcher = pthread_create(&t, &at, sleep_watcher, NULL) == 0 ? 1 : -1;
    pthread_attr_destroy(&at);
}

static void nap_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

rb_status rb_sleep_ms(int64_t ms, const atomic_int *cancel)
{
    int64_t end = rb_now_ms() + ms;
    if (cancel && atomic_load(cancel))
        return RB_ECANCELED;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (cancel && ms > SLEEP_SCAN_MS)
        pthread_once(&once, start_watcher);
    if (!cancel || ms <= SLEEP_SCAN_MS || g_watcher != 1) {
        /* Short or uncancellable: sleep here, looking at the flag every
         * SLEEP_SCAN_MS (also the fallback without a watcher thread). */
        for (;;) {
            int64_t left = end - rb_now_ms();
            if (left <= 0)
                return RB_OK;
            nap_ms(left > SLEEP_SCAN_MS && cancel ? SLEEP_SCAN_MS : left);
            if (cancel && atomic_load(cancel))
                return RB_ECANCELED;
        }
    }
    sleeper s = {.cancel = cancel};
    sem_init(&s.wake, 0, 0);
    /* Threads take shards in turn (their stacks, hence &s, share their
     * low bits, so an address would pick one shard for all). */
    static atomic_uint next_shard;
    static _Thread_local int shard = -1;
    if (shard < 0)
        shard = (int)(atomic_fetch_add(&next_shard, 1) % SLEEP_SHARDS);
    sleep_shard *sh = &g_shards[shard];
    pthread_mutex_lock(&sh->lock);
    s.next = sh->head;
    if (sh->head)
        sh->head->prev = &s;
    sh->head = &s;
    pthread_mutex_unlock(&sh->lock);
    if (atomic_fetch_add(&g_sleeping, 1) == 0) {
        /* The watcher idles while nobody sleeps. */
        pthread_mutex_lock(&g_watch_lock);
        pthread_cond_signal(&g_watch_cv);
        pthread_mutex_unlock(&g_watch_lock);
    }
    struct timespec until = mono_at(end);
    while (sem_clockwait(&s.wake, CLOCK_MONOTONIC, &until) != 0 && errno == EINTR) {
    }
    pthread_mutex_lock(&sh->lock);
    if (s.prev)
        s.prev->next = s.next;
    else
        sh->head = s.next;
    if (s.next)
        s.next->prev = s.prev;
    pthread_mutex_unlock(&sh->lock);
    atomic_fetch_sub(&g_sleeping, 1);
    sem_destroy(&s.wake);
    return atomic_load(cancel) ? RB_ECANCELED : RB_OK;
}

char *rb_b64_encode(const void *data, size_t len)
{
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

char *rb_b64url_encode(const void *data, size_t len)
{
    char *s = rb_b64_encode(data, len);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    while (n && s[n - 1] == '=')
        s[--n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+')
            s[i] = '-';
        else if (s[i] == '/')
            s[i] = '_';
    }
    return s;
}

rb_status rb_b64_decode(const char *s, unsigned char **out, size_t *out_len)
{
    size_t n = strlen(s);
    if (n % 4 != 0)
        return RB_EINVAL;
    unsigned char *buf = malloc(n / 4 * 3 + 1);
    if (!buf)
        return RB_ENOMEM;
    int got = n ? EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n) : 0;
    if (got < 0) {
        free(buf);
        return RB_EINVAL;
    }
    /* EVP_DecodeBlock counts padding as zero bytes: drop them. */
    size_t len = (size_t)got;
    if (n >= 1 && s[n - 1] == '=')
        len--;
    if (n >= 2 && s[n - 2] == '=')
        len--;
    *out = buf;
    *out_len = len;
    return RB_OK;
}

char *rb_url_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, (int)strlen(s));
    if (!e)
        return NULL;
    char *r = strdup(e);
    curl_free(e);
    return r;
}

char *rb_url_unescape(const char *s)
{
    int n = 0;
    char *e = curl_easy_unescape(NULL, s, (int)strlen(s), &n);
    if (!e)
        return NULL;
    char *r = malloc((size_t)n + 1);
    if (r) {
        memcpy(r, e, (size_t)n);
        r[n] = '\0';
    }
    curl_free(e);
    return r;
}

const char *rb_header_value(const char *line, const char *name)
{
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    const char *v = line + n + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    return v;
}

rb_status rb_read_file(const char *path, size_t max, char **out, size_t *out_len, rb_az_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rb_az_fail(err, RB_EIO, "cannot open %s: %s", path, strerror(errno));
    rb_azbuf b = {0};
    char tmp[4096];
    for (;;) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            rb_azbuf_free(&b);
            return rb_az_fail(err, RB_EIO, "cannot read %s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        if (b.len + (size_t)r > max) {
            close(fd);
            rb_azbuf_free(&b);
            return rb_az_fail(err, RB_EINVAL, "%s is larger than %zu bytes", path, max);
        }
        if (rb_azbuf_append(&b, tmp, (size_t)r) != RB_OK) {
            close(fd);
            rb_azbuf_free(&b);
            return rb_az_fail(err, RB_ENOMEM, "out of memory reading %s", path);
        }
    }
    close(fd);
    if (out_len)
        *out_len = b.len;
    *out = rb_azbuf_take(&b);
    return *out ? RB_OK : RB_ENOMEM;
}

rb_status rb_random_bytes(void *buf, size_t len)
{
    return RAND_bytes(buf, (int)len) == 1 ? RB_OK : RB_ERROR;
}

void rb_az_err_clear(rb_az_err *err)
{
    if (!err)
        return;
    err->http_status = 0;
    err->code[0] = '\0';
    err->msg[0] = '\0';
}

rb_status rb_az_fail(rb_az_err *err, rb_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    rb_redact_inplace(err->msg, sizeof err->msg);
    return status;
}
