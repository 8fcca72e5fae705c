/* The origin of a URL, remembered per scheme and authority.
 *
 * Every request's URL is checked (http.c: https only, except to local
 * hosts) and every absolute ARM URL compared with the ARM endpoint (arm.c),
 * each by a full libcurl parse: with 1,000 operations polled at once that
 * was a fifth of the worker threads' CPU, for the same few origins each
 * time. The origin depends only on the scheme and authority, so it is kept
 * per "scheme://authority" exactly as written, and only for plain
 * authorities (no user info, escapes or odd characters) in otherwise
 * unremarkable URLs; anything else takes libcurl's parse every time. */
#include "internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 16
#define MAX_URL_LEN 8000000u /* libcurl's CURL_MAX_INPUT_LENGTH */

typedef struct {
    char *prefix; /* "scheme://authority" as written */
    size_t prefix_len;
    char *origin; /* "scheme://host:port", lower case */
} slot;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static slot g_slots[SLOTS];
static unsigned g_next;

/* libcurl's parse: "scheme://host:port" (lower case) or NULL. */
static char *parse_origin(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    char *r = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
        rb_azbuf b = {0};
        rb_azbuf_printf(&b, "%s://%s:%s", scheme, host, port ? port : "");
        for (char *c = b.data; c && *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        r = rb_azbuf_take(&b);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return r;
}

/* Length of "scheme://authority" when the URL may use a remembered origin,
 * else 0: an http(s) scheme, an authority of letters, digits, '.', '-',
 * ':' and IPv6 brackets only, and no spaces or control characters in the
 * rest (which libcurl's parse would refuse). */
static size_t cacheable_prefix(const char *url)
{
    size_t s;
    if (strncmp(url, "https://", 8) == 0)
        s = 8;
    else if (strncmp(url, "http://", 7) == 0)
        s = 7;
    else
        return 0;
    size_t n = s;
    for (; url[n] && url[n] != '/' && url[n] != '?' && url[n] != '#'; n++) {
        char c = url[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
            return 0;
    }
    if (n == s)
        return 0;
    const unsigned char *p = (const unsigned char *)url + n;
    for (; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return 0;
    /* libcurl refuses URLs longer than 8,000,000 bytes. */
    if ((size_t)((const char *)p - url) > MAX_URL_LEN)
        return 0;
    return n;
}

/* The slot remembering the n-byte prefix of url, or NULL (under g_lock). */
static slot *find_locked(const char *url, size_t n)
{
    for (int i = 0; i < SLOTS; i++)
        if (g_slots[i].prefix && g_slots[i].prefix_len == n &&
            memcmp(g_slots[i].prefix, url, n) == 0)
            return &g_slots[i];
    return NULL;
}

char *rb_url_origin(const char *url)
{
    if (!url)
        return NULL;
    size_t n = cacheable_prefix(url);
    if (n) {
        pthread_mutex_lock(&g_lock);
        slot *known = find_locked(url, n);
        char *hit = known ? strdup(known->origin) : NULL;
        pthread_mutex_unlock(&g_lock);
        if (hit)
            return hit;
    }
    char *origin = parse_origin(url);
    if (origin && n) {
        char *prefix = strndup(url, n);
        char *copy = strdup(origin);
        if (prefix && copy) {
            pthread_mutex_lock(&g_lock);
            if (!find_locked(url, n)) { /* another thread's miss may have added it */
                slot *s = &g_slots[g_next++ % SLOTS];
                free(s->prefix);
                free(s->origin);
                s->prefix = prefix;
                s->prefix_len = n;
                s->origin = copy;
                prefix = copy = NULL;
            }
            pthread_mutex_unlock(&g_lock);
        }
        free(prefix);
        free(copy);
    }
    return origin;
}
