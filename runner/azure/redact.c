#define _GNU_SOURCE /* memmem */
/* The one redactor: registered secrets plus the patterns Azure secrets
 * travel in. See redact.h. */
#include "redact.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define MASK "***"
#define MIN_SECRET 4

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char **g_secrets;
static size_t g_nsecrets, g_capsecrets;

static rb_status add_secret_locked(const char *s)
{
    for (size_t i = 0; i < g_nsecrets; i++)
        if (strcmp(g_secrets[i], s) == 0)
            return RB_OK;
    if (g_nsecrets == g_capsecrets) {
        size_t cap = g_capsecrets ? g_capsecrets * 2 : 16;
        char **v = realloc(g_secrets, cap * sizeof *v);
        if (!v)
            return RB_ENOMEM;
        g_secrets = v;
        g_capsecrets = cap;
    }
    char *c = strdup(s);
    if (!c)
        return RB_ENOMEM;
    g_secrets[g_nsecrets++] = c;
    return RB_OK;
}

rb_status rb_redact_register(const char *secret)
{
    if (!secret || strlen(secret) < MIN_SECRET)
        return RB_OK;
    /* The URL-encoded form travels in query strings and form bodies. */
    char *esc = rb_url_escape(secret);
    pthread_mutex_lock(&g_lock);
    rb_status st = add_secret_locked(secret);
    if (st == RB_OK && esc && strcmp(esc, secret) != 0)
        st = add_secret_locked(esc);
    pthread_mutex_unlock(&g_lock);
    free(esc);
    return st;
}

void rb_redact_reset(void)
{
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_nsecrets; i++)
        free(g_secrets[i]);
    free(g_secrets);
    g_secrets = NULL;
    g_nsecrets = g_capsecrets = 0;
    pthread_mutex_unlock(&g_lock);
}

/* Whether any registered secret occurs in s. Called with g_lock held. */
static int has_registered_locked(const char *s, size_t len)
{
    for (size_t k = 0; k < g_nsecrets; k++)
        if (memmem(s, len, g_secrets[k], strlen(g_secrets[k])))
            return 1;
    return 0;
}

/* Whether a pattern could match: every one needs a '=', ':' or ' ' after
 * its key, or is a JWT ("eyJ"). */
static int may_have_pattern(const char *s, size_t len)
{
    return memchr(s, '=', len) || memchr(s, ':', len) || memchr(s, ' ', len) ||
           memmem(s, len, "eyJ", 3);
}

int rb_redact_needed(const char *s, size_t len)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&g_lock);
    int hit = has_registered_locked(s, len);
    pthread_mutex_unlock(&g_lock);
    return hit || may_have_pattern(s, len);
}

/* Pass 1: every registered secret becomes MASK. */
static char *mask_registered(const char *s, size_t len)
{
    rb_azbuf out = {0};
    pthread_mutex_lock(&g_lock);
    if (!has_registered_locked(s, len)) {
        pthread_mutex_unlock(&g_lock);
        rb_azbuf_append(&out, s, len);
        return rb_azbuf_take(&out);
    }
    size_t i = 0;
    while (i < len) {
        size_t hit = 0;
        for (size_t k = 0; k < g_nsecrets; k++) {
            size_t n = strlen(g_secrets[k]);
            if (n <= len - i && memcmp(s + i, g_secrets[k], n) == 0 && n > hit)
                hit = n;
        }
        if (hit) {
            rb_azbuf_puts(&out, MASK);
            i += hit;
        } else {
            rb_azbuf_append(&out, s + i, 1);
            i++;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return rb_azbuf_take(&out);
}

typedef enum { END_QUERY, END_LINE, END_CONNSTR, END_TOKEN } value_end;

struct pattern {
    const char *key;   /* matched case-insensitively */
    value_end end;
    int json_ok;       /* the key may be followed by `": "` (JSON) */
};

static const struct pattern k_patterns[] = {
    {"authorization:", END_LINE, 0},
    {"sig=", END_QUERY, 0},
    {"client_secret=", END_QUERY, 0},
    {"client_assertion=", END_QUERY, 0},
    {"password=", END_QUERY, 0},
    {"accountkey=", END_CONNSTR, 0},
    {"sharedaccesssignature=", END_CONNSTR, 0},
    {"access_token", END_TOKEN, 1},
    {"refresh_token", END_TOKEN, 1},
    {"id_token", END_TOKEN, 1},
    {"accesstoken", END_TOKEN, 1},
    {"client_secret", END_TOKEN, 1},
    {"clientsecret", END_TOKEN, 1},
    {"\"password\"", END_TOKEN, 1},
    {"bearer ", END_TOKEN, 0},
};

static int is_stop(char c, value_end end)
{
    switch (end) {
    case END_LINE:
        return c == '\r' || c == '\n';
    case END_QUERY:
        return c == '&' || c == ';' || c == '"' || c == '\'' || c == '<' || c == '>' ||
               isspace((unsigned char)c);
    case END_CONNSTR:
        return c == ';' || c == '"' || c == '\'' || isspace((unsigned char)c);
    case END_TOKEN:
        return !(isalnum((unsigned char)c) || strchr("-._~+/=%", c));
    }
    return 1;
}

/* A JWT anywhere ("eyJ" + base64url, two dots) is a credential: an access
 * token, a client assertion, a federated token. Returns its length or 0. */
static size_t jwt_len(const char *s, size_t len, size_t i)
{
    if (len - i < 3 || memcmp(s + i, "eyJ", 3) != 0 || (i > 0 && isalnum((unsigned char)s[i - 1])))
        return 0;
    size_t j = i, dots = 0;
    while (j < len && (isalnum((unsigned char)s[j]) || s[j] == '-' || s[j] == '_' || s[j] == '.')) {
        if (s[j] == '.')
            dots++;
        j++;
    }
    return dots >= 2 && j - i >= 16 ? j - i : 0;
}

/* Characters that can start a pattern or a JWT: every journal record and
 * log line goes through here, so runs of other characters are copied in
 * one go instead of trying every pattern at every position. */
#define N_PATTERNS (sizeof k_patterns / sizeof k_patterns[0])
static unsigned char g_first[256];
static size_t g_keylen[N_PATTERNS];
/* The patterns starting with each (lower-case) character, in table order,
 * so a position is compared only with the keys that can start there. */
static unsigned char g_by_first[256][N_PATTERNS];
static unsigned char g_n_by_first[256];
static pthread_once_t g_first_once = PTHREAD_ONCE_INIT;

static void init_first(void)
{
    for (size_t p = 0; p < N_PATTERNS; p++) {
        unsigned char c = (unsigned char)k_patterns[p].key[0];
        g_first[tolower(c)] = g_first[toupper(c)] = 1;
        g_keylen[p] = strlen(k_patterns[p].key);
        unsigned char lc = (unsigned char)tolower(c);
        g_by_first[lc][g_n_by_first[lc]++] = (unsigned char)p;
    }
    g_first['e'] = 1; /* "eyJ": a JWT */
}

/* Pass 2: known patterns. Returns a new string. */
static char *mask_patterns(const char *s, size_t len)
{
    pthread_once(&g_first_once, init_first);
    rb_azbuf out = {0};
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && !g_first[(unsigned char)s[run]])
            run++;
        if (run > i) {
            rb_azbuf_append(&out, s + i, run - i);
            i = run;
            continue;
        }
        const struct pattern *hit = NULL;
        size_t klen = 0;
        unsigned char lc = (unsigned char)tolower((unsigned char)s[i]);
        for (size_t q = 0; q < g_n_by_first[lc]; q++) {
            size_t p = g_by_first[lc][q];
            size_t n = g_keylen[p];
            if (n <= len - i && strncasecmp(s + i, k_patterns[p].key, n) == 0) {
                /* sig= must start a query parameter, not end a longer word */
                if (k_patterns[p].end == END_QUERY && i > 0 && isalnum((unsigned char)s[i - 1]))
                    continue;
                hit = &k_patterns[p];
                klen = n;
                break;
            }
        }
        if (!hit) {
            size_t jwt = jwt_len(s, len, i);
            if (jwt) {
                rb_azbuf_puts(&out, MASK);
                i += jwt;
                continue;
            }
            rb_azbuf_append(&out, s + i, 1);
            i++;
            continue;
        }
        size_t j = i + klen;
        if (hit->json_ok || hit->end == END_TOKEN) {
            /* key["]  [:=]  ["]value["] */
            size_t k = j;
            if (hit->json_ok) {
                if (k < len && s[k] == '"')
                    k++;
                while (k < len && s[k] == ' ')
                    k++;
                if (k < len && (s[k] == ':' || s[k] == '=')) {
                    k++;
                    while (k < len && s[k] == ' ')
                        k++;
                } else {
                    /* just the word, no value follows */
                    rb_azbuf_append(&out, s + i, klen);
                    i = j;
                    continue;
                }
            }
            int quoted = k < len && s[k] == '"';
            if (quoted)
                k++;
            size_t v = k;
            if (quoted) {
                while (v < len && s[v] != '"')
                    v++;
            } else {
                while (v < len && !is_stop(s[v], END_TOKEN))
                    v++;
                /* `Bearer authorization="..."` is a challenge, not a token */
                if (!hit->json_ok && v < len && s[v] == '"' && v > k && s[v - 1] == '=') {
                    rb_azbuf_append(&out, s + i, klen);
                    i = j;
                    continue;
                }
            }
            rb_azbuf_append(&out, s + i, k - i);
            if (v > k)
                rb_azbuf_puts(&out, MASK);
            i = v;
            continue;
        }
        size_t v = j;
        if (hit->end == END_LINE)
            while (v < len && s[v] == ' ')
                v++;
        rb_azbuf_append(&out, s + i, v - i);
        size_t e = v;
        while (e < len && !is_stop(s[e], hit->end))
            e++;
        if (e > v)
            rb_azbuf_puts(&out, MASK);
        i = e;
    }
    return rb_azbuf_take(&out);
}

char *rb_redact_dup(const char *s, size_t len)
{
    if (!s)
        return strdup("");
    char *a = mask_registered(s, len);
    if (!a)
        return NULL;
    /* Every pattern needs a '=', ':' or ' ' after its key, or is a JWT
     * ("eyJ"); most strings (names, ids, states) have none of these and
     * need no second pass. */
    if (!may_have_pattern(a, strlen(a)))
        return a;
    char *b = mask_patterns(a, strlen(a));
    free(a);
    return b;
}

void rb_redact_inplace(char *buf, size_t bufsize)
{
    if (!buf || bufsize == 0)
        return;
    char *r = rb_redact_dup(buf, strlen(buf));
    if (!r) {
        /* Out of memory: fail closed rather than leak. */
        snprintf(buf, bufsize, "%s", "(message withheld: out of memory while redacting)");
        return;
    }
    snprintf(buf, bufsize, "%s", r);
    free(r);
}
