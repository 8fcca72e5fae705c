/* The one HTTP engine: a thread driving libcurl's multi interface. See
 * http.h for the contract.
 *
 * The thread uses the multi_socket API (curl_multi_socket_action with
 * libcurl's socket and timer callbacks, its own poll() set): each event
 * touches only the transfer on that socket. curl_multi_perform would visit
 * every transfer in flight, and libcurl 7.x polls each one's socket there,
 * which made the cost of one response grow with the number of requests in
 * flight (bench/run.sh lro: ~90 poll() calls per request at 1,000).
 *
 * Requests wait in the engine's own first-in first-out queue per origin
 * (scheme, host, port) and go to libcurl only while fewer than
 * MAX_PER_ORIGIN of that origin's are in flight, so each finds an idle
 * connection. Left to libcurl, the rest wait in its "pending" list, and
 * libcurl 7.x pays per request for that list (a walk of it in
 * curl_multi_remove_handle, a failed connection search and a connection
 * struct allocated and freed per try) and serves it out of order (a
 * transfer that finds no connection again goes to the back), which made
 * the slowest of 1,000 concurrent requests much slower than the median. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/opensslv.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "redact.h"
#include "tls_trust.h"

#define DEFAULT_MAX_HEADER (64u * 1024u)
#define DEFAULT_MAX_BODY (64u * 1024u * 1024u)
#define TRACE_BODY_MAX 4096
/* Requests in flight per origin, each on its own connection (HTTP/1.1).
 * bench/run.sh lro, 1,000 operations at once: 16 connections ended the
 * run 0.07-0.10 s sooner than 32 in 10 of 10 alternating runs (fewer
 * handshakes, fewer server threads), 8 the same as 16. More than 16
 * concurrent calls to one origin (`vault put -j 32`) queue in the engine,
 * their queue time counting against their timeout. */
#define MAX_PER_ORIGIN 16

typedef struct origin_queue origin_queue;

struct rb_http_call {
    rb_http_engine *eng;
    struct rb_http_call *next;  /* pending, queued or active list */
    char *origin;               /* "scheme://host:port", lower case */
    origin_queue *oq;           /* engine thread: the origin's queue */
    CURL *easy;
    struct curl_slist *slist;
    rb_strv req_headers;        /* copies, for the trace */
    char *method;
    char *url;
    const void *body;
    size_t body_len;
    long timeout_ms;
    size_t max_body;
    rb_http_sink_fn sink;
    void *sink_user;
    const atomic_int *ext_cancel;
    atomic_int cancel_flag;
    rb_http_done_fn done;
    void *user;
    int refs;                   /* engine + optional caller handle */

    rb_azbuf resp_body;
    rb_strv resp_headers;
    size_t header_bytes;
    const char *limit_error;    /* set when a size limit aborted the transfer */
    int sink_aborted;
    int sink_started;
    int64_t started_ms;         /* taken by the engine thread */
    char errbuf[CURL_ERROR_SIZE];
    char errbuf_trust[512];     /* why the trust store could not be used */
};

/* Engine thread only: the calls of one origin not yet handed to libcurl. */
struct origin_queue {
    origin_queue *next;
    char *origin;
    rb_http_call *head, *tail;
    int in_flight;              /* handed to libcurl, not yet completed */
};

#define EASY_POOL 64

struct rb_http_engine {
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t lock;
    rb_http_call *pending, *pending_tail; /* submitted, not yet taken by the thread */
    rb_http_call *active;
    int stop;
    int wake_fd[2];             /* self-pipe: submit, cancel and stop wake the thread */
    atomic_int scan_cancel;     /* rb_http_call_cancel asked: look at the active list now */
    /* Engine thread only: the sockets libcurl asks to watch, its timer and
     * the per-origin queues. */
    origin_queue *origins;
    size_t queued;              /* calls in all origin queues */
    struct pollfd *fds;
    size_t nfds, capfds;
    int64_t timer_due;          /* monotonic ms, -1 when none */
    size_t max_header;
    size_t max_body;
    long connect_timeout_ms;
    char *ca_file;
    /* The trust store every connection's SSL_CTX gets (tls_trust.h); NULL
     * when libcurl's TLS backend takes no SSL_CTX callback, and libcurl
     * then loads ca_file itself per connection. */
    rb_tls_trust *trust;
    char *user_agent;
    /* Finished easy handles kept for the next calls (under lock): creating
     * and destroying one per request was a measurable share of the engine's
     * work with 1,000 operations polled at once. */
    CURL *easy_pool[EASY_POOL];
    int n_easy_pool;
};

/* ---- trace ------------------------------------------------------------ */

static pthread_mutex_t g_trace_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *g_trace;

rb_status rb_http_trace_open(const char *path, rb_az_err *err)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return rb_az_fail(err, RB_EIO, "cannot open trace file %s", path);
    pthread_mutex_lock(&g_trace_lock);
    if (g_trace)
        fclose(g_trace);
    g_trace = f;
    pthread_mutex_unlock(&g_trace_lock);
    return RB_OK;
}

void rb_http_trace_close(void)
{
    pthread_mutex_lock(&g_trace_lock);
    if (g_trace)
        fclose(g_trace);
    g_trace = NULL;
    pthread_mutex_unlock(&g_trace_lock);
}

/* What went wrong with a call's transfer, most specific first. */
static const char *call_error_text(const rb_http_call *c, CURLcode rc)
{
    return c->limit_error ? c->limit_error
           : c->errbuf_trust[0] ? c->errbuf_trust
           : c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
}

static void trace_text(rb_azbuf *t, const char *prefix, const char *data, size_t len)
{
    size_t n = len > TRACE_BODY_MAX ? TRACE_BODY_MAX : len;
    char *r = rb_redact_dup(data, n);
    if (!r)
        return;
    rb_azbuf_printf(t, "%s%s%s\n", prefix, r, len > n ? " [...truncated]" : "");
    free(r);
}

static void trace_call(rb_http_call *c, rb_status st, long status)
{
    pthread_mutex_lock(&g_trace_lock);
    if (!g_trace) {
        pthread_mutex_unlock(&g_trace_lock);
        return;
    }
    rb_azbuf t = {0};
    rb_azbuf_printf(&t, ">>> %s %s\n", c->method, c->url);
    for (size_t i = 0; i < c->req_headers.n; i++)
        rb_azbuf_printf(&t, "> %s\n", c->req_headers.v[i]);
    if (c->body && c->body_len)
        trace_text(&t, "> body: ", c->body, c->body_len);
    int64_t ms = rb_now_ms() - c->started_ms;
    if (st != RB_OK) {
        rb_azbuf_printf(&t, "<<< transport error %s after %lld ms: %s\n", rb_status_name(st),
                      (long long)ms, call_error_text(c, CURLE_OK));
    } else {
        rb_azbuf_printf(&t, "<<< %ld after %lld ms\n", status, (long long)ms);
        for (size_t i = 0; i < c->resp_headers.n; i++)
            rb_azbuf_printf(&t, "< %s\n", c->resp_headers.v[i]);
        if (c->resp_body.len)
            trace_text(&t, "< body: ", c->resp_body.data, c->resp_body.len);
    }
    rb_azbuf_puts(&t, "\n");
    /* Headers went through the builder unredacted: redact the whole record. */
    char *r = t.data ? rb_redact_dup(t.data, t.len) : NULL;
    if (r) {
        fputs(r, g_trace);
        fflush(g_trace);
    }
    free(r);
    rb_azbuf_free(&t);
    pthread_mutex_unlock(&g_trace_lock);
}

/* ---- curl callbacks --------------------------------------------------- */

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    rb_http_call *c = user;
    size_t len = size * n;
    c->header_bytes += len;
    if (c->header_bytes > c->eng->max_header) {
        c->limit_error = "response headers exceed the size limit";
        return 0;
    }
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new status line (after 100 Continue or similar): start over. */
        rb_strv_free(&c->resp_headers);
        return len;
    }
    size_t l = len;
    while (l && (data[l - 1] == '\r' || data[l - 1] == '\n'))
        l--;
    if (l == 0)
        return len;
    char *line = malloc(l + 1);
    if (!line)
        return 0;
    memcpy(line, data, l);
    line[l] = '\0';
    rb_status st = rb_strv_add(&c->resp_headers, line);
    free(line);
    return st == RB_OK ? len : 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    rb_http_call *c = user;
    size_t len = size * n;
    long status = 0;
    if (c->sink)
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    if (c->sink && status >= 200 && status < 300) {
        if (!c->sink_started) {
            c->sink_started = 1;
            if (c->sink(c->sink_user, NULL, 0) != 0) {
                c->sink_aborted = 1;
                return 0;
            }
        }
        if (c->sink(c->sink_user, data, len) != 0) {
            c->sink_aborted = 1;
            return 0;
        }
        return len;
    }
    if (c->resp_body.len + len > c->max_body) {
        c->limit_error = "response body exceeds the size limit";
        return 0;
    }
    return rb_azbuf_append(&c->resp_body, data, len) == RB_OK ? len : 0;
}

static int on_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    rb_http_call *c = user;
    return c->cancel_flag || (c->ext_cancel && *c->ext_cancel);
}

/* ---- calls ------------------------------------------------------------ */

/* libcurl's CURLOPT_SSL_CTX_FUNCTION: every new connection verifies against
 * the engine's one trust store. */
static CURLcode on_ssl_ctx(CURL *h, void *ssl_ctx, void *user)
{
    rb_http_engine *e = user;
    rb_http_call *c = NULL;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&c);
    char msg[512];
    if (rb_tls_trust_apply(e->trust, ssl_ctx, msg, sizeof msg) == 0)
        return CURLE_OK;
    if (c)
        snprintf(c->errbuf_trust, sizeof c->errbuf_trust, "%s", msg);
    return CURLE_SSL_CACERT_BADFILE;
}

/* Easy handles are bound to calls only when the engine hands them to
 * libcurl (call_start), so at most the calls in flight hold one (not the
 * hundreds that may wait in the origin queues) and the pool serves nearly
 * every call: a handle created per request (and reset on the engine
 * thread) was ~8% of the threads' CPU with 1,000 operations polled at
 * once. Handles come back reset by whoever frees the call. */
static CURL *easy_take(rb_http_engine *e)
{
    CURL *h = NULL;
    pthread_mutex_lock(&e->lock);
    if (e->n_easy_pool > 0)
        h = e->easy_pool[--e->n_easy_pool];
    pthread_mutex_unlock(&e->lock);
    return h ? h : curl_easy_init();
}

static void easy_give(rb_http_engine *e, CURL *h)
{
    curl_easy_reset(h);
    pthread_mutex_lock(&e->lock);
    int kept = !e->stop && e->n_easy_pool < EASY_POOL;
    if (kept)
        e->easy_pool[e->n_easy_pool++] = h;
    pthread_mutex_unlock(&e->lock);
    if (!kept)
        curl_easy_cleanup(h);
}

static void call_free(rb_http_call *c)
{
    if (!c)
        return;
    if (c->easy)
        easy_give(c->eng, c->easy);
    curl_slist_free_all(c->slist);
    rb_strv_free(&c->req_headers);
    rb_strv_free(&c->resp_headers);
    rb_azbuf_free(&c->resp_body);
    free(c->method);
    free(c->url);
    free(c->origin);
    free(c);
}

static void call_unref(rb_http_call *c)
{
    rb_http_engine *e = c->eng;
    pthread_mutex_lock(&e->lock);
    int left = --c->refs;
    pthread_mutex_unlock(&e->lock);
    if (left == 0)
        call_free(c);
}

/* Hosts that may be reached over plain http: loopback (Azurite, test
 * servers, Azure Arc's identity endpoint) and IPv4 link-local, where IMDS
 * (169.254.169.254) and Linux App Service's identity endpoint live: they
 * never leave the machine. */
static int is_local_host(const char *host)
{
    if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0)
        return 1;
    /* An IPv4 address, not a name that starts like one
     * ("127.0.0.1.example.com" is anywhere DNS says). */
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1)
        return 0;
    uint32_t ip = ntohl(a.s_addr);
    return (ip >> 24) == 127 || (ip >> 16) == 0xA9FE; /* 127/8, 169.254/16 */
}

/* Only https, except plain http to local hosts. Sets *origin to
 * "scheme://host:port" (lower case), which the caller frees. */
static rb_status check_url(const char *url, char **origin, rb_az_err *err)
{
    *origin = NULL;
    /* Named as every message names a request: a SAS URL by its origin. */
    char where[512];
    char *o = rb_url_origin(url);
    if (!o)
        return rb_az_fail(err, RB_EINVAL, "not an absolute URL: %s",
                          rb_http_where("", url, where, sizeof where) + 1);
    /* o is "scheme://host:port"; the host ends at the last ':'. */
    char *sep = strstr(o, "://");
    char *host = sep ? sep + 3 : NULL;
    char *colon = host ? strrchr(host, ':') : NULL;
    int https = sep && (size_t)(sep - o) == 5 && strncmp(o, "https", 5) == 0;
    int http = sep && (size_t)(sep - o) == 4 && strncmp(o, "http", 4) == 0;
    int local = 0;
    if (http && colon) {
        *colon = '\0';
        local = is_local_host(host);
        *colon = ':';
    }
    if (!https && !(http && local)) {
        free(o);
        return rb_az_fail(err, RB_EINVAL,
                          "refusing %s: only https (or http to loopback and link-local) is allowed",
                          rb_http_where("", url, where, sizeof where) + 1);
    }
    *origin = o;
    return RB_OK;
}

/* The request headers of a call (by the submitting thread). */
static rb_status call_setup(rb_http_call *c, const rb_http_request *req, rb_az_err *err)
{
    int has_ct = 0;
    for (const char *const *p = req->headers; p && *p; p++) {
        if (rb_strv_add(&c->req_headers, *p) != RB_OK)
            return rb_az_fail(err, RB_ENOMEM, "out of memory");
        struct curl_slist *s = curl_slist_append(c->slist, *p);
        if (!s)
            return rb_az_fail(err, RB_ENOMEM, "out of memory");
        c->slist = s;
        if (rb_header_value(*p, "Content-Type"))
            has_ct = 1;
    }
    /* No Expect: 100-continue round trips; no curl default content type. */
    const char *extra[] = {"Expect:", has_ct ? NULL : "Content-Type:", NULL};
    for (int i = 0; extra[i]; i++) {
        struct curl_slist *s = curl_slist_append(c->slist, extra[i]);
        if (!s)
            return rb_az_fail(err, RB_ENOMEM, "out of memory");
        c->slist = s;
    }
    return RB_OK;
}

/* The call's options on h: 0, or -1 when libcurl refused one. */
static int easy_setup(rb_http_engine *e, rb_http_call *c, CURL *h)
{
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (e->trust) {
        /* The engine's store replaces what libcurl would load per connection. */
        curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
        /* An HTTPS proxy's connection gets the same store from the callback;
         * left to its defaults, libcurl 7.88 would also load the system
         * bundle into that shared store once the callback has run. */
        curl_easy_setopt(h, CURLOPT_PROXY_CAINFO, NULL);
        curl_easy_setopt(h, CURLOPT_PROXY_CAPATH, NULL);
        curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
        curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, e);
    } else if (e->ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, e->ca_file);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->slist);
    curl_easy_setopt(h, CURLOPT_USERAGENT, e->user_agent);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, e->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    /* Streamed bodies (blob reads) in 512 KiB reads instead of libcurl's
     * 16 KiB: a 32nd of the recv calls and sink calls per GiB. */
    if (c->sink && curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024) != CURLE_OK)
        return -1;
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(h, CURLOPT_PRIVATE, c);
    /* No Accept-Encoding: bodies arrive as stored. A blob uploaded with
     * Content-Encoding: gzip must download byte for byte, not inflated. */

    const char *m = c->method;
    if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "GET") == 0 || (strcmp(m, "DELETE") == 0 && !c->body)) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    } else {
        /* PUT/POST/PATCH always carry Content-Length, even when 0. */
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body ? c->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    }
    return 0;
}

/* Engine thread, when the call goes to libcurl: a handle with the call's
 * options. 0, or -1 when no handle could be created. */
static int easy_bind(rb_http_engine *e, rb_http_call *c)
{
    CURL *h = easy_take(e);
    if (h && easy_setup(e, c, h) != 0) {
        /* libcurl refuses a new receive buffer size while the handle still
         * holds its buffer (kept past the transfer when the connection was
         * shared, as with HTTP/2): a fresh handle then. */
        curl_easy_cleanup(h);
        h = curl_easy_init();
        if (h && easy_setup(e, c, h) != 0) {
            curl_easy_cleanup(h);
            h = NULL;
        }
    }
    c->easy = h;
    return h ? 0 : -1;
}

char *rb_http_where(const char *method, const char *url, char *buf, size_t len)
{
    snprintf(buf, len, "%s %s", method ? method : "", url ? url : "");
    char *q = strchr(buf, '?');
    if (q)
        *q = '\0';
    const char *query = url ? strchr(url, '?') : NULL;
    if (query && (strstr(query, "?sig=") || strstr(query, "&sig="))) {
        char *scheme = strstr(buf, "://");
        char *path = scheme ? strchr(scheme + 3, '/') : NULL;
        if (path)
            snprintf(path, len - (size_t)(path - buf), "/...");
    }
    return buf;
}

static rb_status map_result(rb_http_call *c, CURLcode rc, rb_az_err *err)
{
    const char *what = call_error_text(c, rc);
    char where[512];
    rb_http_where(c->method, c->url, where, sizeof where);
    if (c->limit_error)
        return rb_az_fail(err, RB_EPROTO, "%s: %s", where, what);
    if (c->errbuf_trust[0]) /* our side: the configured CAs could not be read */
        return rb_az_fail(err, RB_EAUTH, "%s: cannot verify TLS peers: %s", where, what);
    if (c->sink_aborted)
        return rb_az_fail(err, RB_ECANCELED, "%s: the response consumer stopped the transfer", where);
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return rb_az_fail(err, RB_ETIMEDOUT, "%s: timed out: %s", where, what);
    case CURLE_ABORTED_BY_CALLBACK:
        return rb_az_fail(err, RB_ECANCELED, "%s: cancelled", where);
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return rb_az_fail(err, RB_ERETRY, "%s: connection failed: %s", where, what);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return rb_az_fail(err, RB_EAUTH, "%s: TLS peer not trusted: %s", where, what);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL: /* "HTTP/0.9": not HTTP at all */
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR:
        return rb_az_fail(err, RB_EPROTO, "%s: malformed or oversized response: %s", where, what);
    default:
        return rb_az_fail(err, RB_ERROR, "%s: %s", where, what);
    }
}

/* Runs on the engine thread once the transfer ended (rc) or was cancelled. */
static void call_complete(rb_http_call *c, CURLcode rc, int cancelled)
{
    rb_az_err err;
    rb_az_err_clear(&err);
    rb_status st;
    rb_http_response *resp = NULL;
    long status = 0;
    if (cancelled) {
        st = rb_az_fail(&err, RB_ECANCELED, "%s request cancelled", c->method);
    } else if (rc != CURLE_OK) {
        st = map_result(c, rc, &err);
    } else {
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
        resp = calloc(1, sizeof *resp);
        if (!resp) {
            st = rb_az_fail(&err, RB_ENOMEM, "out of memory");
        } else {
            st = RB_OK;
            resp->status = status;
            resp->headers = c->resp_headers.v;
            resp->nheaders = c->resp_headers.n;
            c->resp_headers.v = NULL;
            c->resp_headers.n = c->resp_headers.cap = 0;
            resp->body_len = c->resp_body.len;
            resp->body = rb_azbuf_take(&c->resp_body);
            err.http_status = (int)status;
        }
    }
    if (resp) {
        /* trace reads headers from the call: give them a temporary view */
        c->resp_headers.v = resp->headers;
        c->resp_headers.n = resp->nheaders;
        c->resp_body.data = resp->body;
        c->resp_body.len = resp->body_len;
        trace_call(c, st, status);
        c->resp_headers.v = NULL;
        c->resp_headers.n = 0;
        c->resp_body.data = NULL;
        c->resp_body.len = 0;
    } else {
        trace_call(c, st, status);
    }
    c->done(c->user, st, resp, &err);
    call_unref(c);
}

/* ---- engine thread ------------------------------------------------------ */

static void wake(rb_http_engine *e)
{
    char b = 1;
    /* A full pipe already means "wake up": EAGAIN is fine. */
    ssize_t n = write(e->wake_fd[1], &b, 1);
    (void)n;
}

/* CURLMOPT_SOCKETFUNCTION: keep the poll set in step with libcurl. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *user, void *socketp)
{
    (void)easy;
    (void)socketp;
    rb_http_engine *e = user;
    size_t i = 0;
    while (i < e->nfds && e->fds[i].fd != s)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < e->nfds)
            e->fds[i] = e->fds[--e->nfds];
        return 0;
    }
    if (i == e->nfds) {
        if (e->nfds == e->capfds) {
            size_t cap = e->capfds ? e->capfds * 2 : 64;
            struct pollfd *n = realloc(e->fds, cap * sizeof *n);
            if (!n)
                return -1;
            e->fds = n;
            e->capfds = cap;
        }
        e->nfds++;
    }
    e->fds[i].fd = s;
    e->fds[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
                               ((what & CURL_POLL_OUT) ? POLLOUT : 0));
    e->fds[i].revents = 0;
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: when libcurl wants CURL_SOCKET_TIMEOUT. */
static int on_timer(CURLM *multi, long timeout_ms, void *user)
{
    (void)multi;
    rb_http_engine *e = user;
    e->timer_due = timeout_ms < 0 ? -1 : rb_now_ms() + timeout_ms;
    return 0;
}

/* ---- per-origin queues (engine thread) ---------------------------------- */

static origin_queue *origin_get(rb_http_engine *e, const char *origin)
{
    for (origin_queue *q = e->origins; q; q = q->next)
        if (strcmp(q->origin, origin) == 0)
            return q;
    origin_queue *q = calloc(1, sizeof *q);
    if (!q || !(q->origin = strdup(origin))) {
        free(q);
        return NULL;
    }
    q->next = e->origins;
    e->origins = q;
    return q;
}

/* A queued call whose whole timeout went by waiting for a connection. */
static void call_queue_timeout(rb_http_call *c)
{
    snprintf(c->errbuf, sizeof c->errbuf, "no connection to %s became free within %ld ms",
             c->oq->origin, c->timeout_ms);
    call_complete(c, CURLE_OPERATION_TIMEDOUT, 0);
}

/* Hands a call to libcurl; its time in the queue counts against its timeout. */
static void call_start(rb_http_engine *e, rb_http_call *c)
{
    int64_t waited = rb_now_ms() - c->started_ms;
    if (waited >= c->timeout_ms) {
        call_queue_timeout(c);
        return;
    }
    if (easy_bind(e, c) != 0) {
        snprintf(c->errbuf, sizeof c->errbuf, "out of memory (curl_easy_init)");
        call_complete(c, CURLE_OUT_OF_MEMORY, 0);
        return;
    }
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms - (long)waited);
    if (curl_multi_add_handle(e->multi, c->easy) != CURLM_OK) {
        snprintf(c->errbuf, sizeof c->errbuf, "curl_multi_add_handle failed");
        call_complete(c, CURLE_FAILED_INIT, 0);
        return;
    }
    c->oq->in_flight++;
    c->next = e->active;
    e->active = c;
}

/* Starts queued calls of q while it has room, in order. */
static void origin_pump(rb_http_engine *e, origin_queue *q)
{
    while (q->head && q->in_flight < MAX_PER_ORIGIN) {
        rb_http_call *c = q->head;
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
        e->queued--;
        call_start(e, c);
    }
}

static void origin_enqueue(rb_http_engine *e, rb_http_call *c)
{
    origin_queue *q = origin_get(e, c->origin);
    if (!q) {
        snprintf(c->errbuf, sizeof c->errbuf, "out of memory");
        call_complete(c, CURLE_FAILED_INIT, 0);
        return;
    }
    c->oq = q;
    c->next = NULL;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    e->queued++;
    origin_pump(e, q);
}

static int call_cancelled(const rb_http_call *c)
{
    return c->cancel_flag || (c->ext_cancel && *c->ext_cancel);
}

/* Completes the queued calls that were cancelled (all of them when stop) or
 * whose timeout passed; returns whether a queued call watches an external
 * cancel flag. */
static int queues_scan(rb_http_engine *e, int stop, int64_t now)
{
    int watch = 0;
    for (origin_queue *q = e->origins; q; q = q->next) {
        rb_http_call **pp = &q->head;
        q->tail = NULL;
        while (*pp) {
            rb_http_call *c = *pp;
            int cancelled = stop || call_cancelled(c);
            if (cancelled || now - c->started_ms >= c->timeout_ms) {
                *pp = c->next;
                e->queued--;
                if (cancelled)
                    call_complete(c, CURLE_OK, 1);
                else
                    call_queue_timeout(c);
                continue;
            }
            if (c->ext_cancel)
                watch = 1;
            q->tail = c;
            pp = &c->next;
        }
    }
    return watch;
}

static void read_done(rb_http_engine *e)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(e->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        rb_http_call *c = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&c);
        curl_multi_remove_handle(e->multi, easy);
        for (rb_http_call **q = &e->active; *q; q = &(*q)->next) {
            if (*q == c) {
                *q = c->next;
                break;
            }
        }
        origin_queue *oq = c->oq;
        oq->in_flight--;
        call_complete(c, rc, 0);
        origin_pump(e, oq);
    }
}

#define CANCEL_SCAN_MS 50

static void *engine_main(void *arg)
{
    rb_http_engine *e = arg;
    pthread_setname_np(pthread_self(), "rb-http"); /* for top -H and perf */
    struct pollfd *snap = NULL;
    size_t snapcap = 0;
    int64_t next_scan = 0;
    int watch_cancel = 0;
    int running = 0;
    for (;;) {
        pthread_mutex_lock(&e->lock);
        int stop = e->stop;
        rb_http_call *pend = e->pending;
        e->pending = e->pending_tail = NULL;
        pthread_mutex_unlock(&e->lock);

        while (pend) {
            rb_http_call *c = pend;
            pend = c->next;
            if (stop || call_cancelled(c)) {
                call_complete(c, CURLE_OK, 1);
                continue;
            }
            c->started_ms = rb_now_ms();
            if (c->ext_cancel)
                watch_cancel = 1;
            origin_enqueue(e, c);
        }

        /* Cancellation and shutdown of queued calls and transfers in flight,
         * and timeouts of queued calls (libcurl times those in flight): on
         * request, and every CANCEL_SCAN_MS while some call watches an
         * external flag (the progress callback also notices it, but only
         * while data moves) or waits in a queue. */
        int64_t now = rb_now_ms();
        if (stop || atomic_exchange(&e->scan_cancel, 0) ||
            ((watch_cancel || e->queued) && now >= next_scan)) {
            watch_cancel = queues_scan(e, stop, now);
            rb_http_call **pp = &e->active;
            while (*pp) {
                rb_http_call *c = *pp;
                if (stop || call_cancelled(c)) {
                    *pp = c->next;
                    curl_multi_remove_handle(e->multi, c->easy);
                    c->oq->in_flight--;
                    call_complete(c, CURLE_OK, 1);
                    continue;
                }
                if (c->ext_cancel)
                    watch_cancel = 1;
                pp = &c->next;
            }
            for (origin_queue *q = e->origins; q && !stop; q = q->next)
                origin_pump(e, q);
            next_scan = now + CANCEL_SCAN_MS;
        }
        if (stop)
            break;

        /* Wait for a socket, the timer, a wake-up or the next cancel scan. */
        long wait_ms = 1000;
        if (e->timer_due >= 0)
            wait_ms = e->timer_due > now ? (long)(e->timer_due - now) : 0;
        if ((watch_cancel || e->queued) && next_scan - now < wait_ms)
            wait_ms = next_scan > now ? (long)(next_scan - now) : 0;
        size_t n = e->nfds + 1;
        if (n > snapcap) {
            struct pollfd *p = realloc(snap, n * 2 * sizeof *p);
            if (p) {
                snap = p;
                snapcap = n * 2;
            }
        }
        struct pollfd pipe_only;
        struct pollfd *set = n <= snapcap ? snap : &pipe_only;
        size_t ncurl = n <= snapcap ? e->nfds : 0; /* out of memory: only the pipe, briefly */
        set[0].fd = e->wake_fd[0];
        set[0].events = POLLIN;
        set[0].revents = 0;
        if (ncurl)
            memcpy(set + 1, e->fds, ncurl * sizeof *set);
        int nready = poll(set, (nfds_t)(ncurl + 1), ncurl < e->nfds ? 10 : (int)wait_ms);
        if (nready > 0 && (set[0].revents & POLLIN)) {
            char buf[256];
            while (read(e->wake_fd[0], buf, sizeof buf) > 0) {
            }
        }
        /* curl's callbacks may change e->fds: act on the snapshot. */
        for (size_t i = 1; nready > 0 && i <= ncurl; i++) {
            short r = set[i].revents;
            if (!r)
                continue;
            int ev = ((r & POLLIN) ? CURL_CSELECT_IN : 0) | ((r & POLLOUT) ? CURL_CSELECT_OUT : 0) |
                     ((r & (POLLERR | POLLHUP | POLLNVAL)) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(e->multi, set[i].fd, ev, &running);
        }
        if (e->timer_due >= 0 && rb_now_ms() >= e->timer_due) {
            e->timer_due = -1;
            curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        read_done(e);
    }
    free(snap);
    while (e->origins) {
        origin_queue *q = e->origins;
        e->origins = q->next;
        free(q->origin);
        free(q);
    }
    return NULL;
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The engine's trust store: ca_file (or libcurl's built-in CA bundle) and
 * libcurl's built-in CA directory, the trust libcurl itself would use;
 * NULL when libcurl cannot hand us its SSL_CTX (a TLS backend other than
 * OpenSSL). */
static rb_tls_trust *trust_new(const char *ca_file)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    /* libcurl's OpenSSL must be the one rebound links: an SSL_CTX of
     * another major version would be a foreign structure. */
    char want[32];
    snprintf(want, sizeof want, "OpenSSL/%d.", OPENSSL_VERSION_MAJOR);
    if (!v || !v->ssl_version || strncmp(v->ssl_version, want, strlen(want)) != 0)
        return NULL;
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    rb_tls_trust *t = NULL;
    char *def_file = NULL, *def_dir = NULL;
    /* The built-in defaults (libcurl >= 7.84). */
    curl_easy_getinfo(h, CURLINFO_CAINFO, &def_file);
    curl_easy_getinfo(h, CURLINFO_CAPATH, &def_dir);
    /* Nothing to trust at all: leave it to libcurl (and its error). */
    int any = ca_file || def_file || def_dir;
    if (any && curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) == CURLE_OK)
        t = rb_tls_trust_new(ca_file ? ca_file : def_file, def_dir);
    curl_easy_cleanup(h);
    return t;
}

rb_status rb_http_engine_new(rb_http_engine **out, const rb_http_options *opts, rb_az_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    *out = NULL;
    rb_http_engine *e = calloc(1, sizeof *e);
    if (!e)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    rb_http_options o = {0};
    if (opts)
        o = *opts;
    e->max_header = o.max_header_bytes ? o.max_header_bytes : DEFAULT_MAX_HEADER;
    e->max_body = o.max_body_bytes ? o.max_body_bytes : DEFAULT_MAX_BODY;
    e->connect_timeout_ms = o.connect_timeout_ms ? o.connect_timeout_ms : 10000;
    e->ca_file = o.ca_file ? strdup(o.ca_file) : NULL;
    e->trust = trust_new(o.ca_file);
    e->user_agent = strdup(o.user_agent ? o.user_agent : "rebound/0.1");
    e->multi = curl_multi_init();
    e->timer_due = -1;
    e->wake_fd[0] = e->wake_fd[1] = -1;
    pthread_mutex_init(&e->lock, NULL);
    int piped = pipe(e->wake_fd) == 0;
    if (piped) {
        for (int i = 0; i < 2; i++) {
            fcntl(e->wake_fd[i], F_SETFL, fcntl(e->wake_fd[i], F_GETFL) | O_NONBLOCK);
            fcntl(e->wake_fd[i], F_SETFD, FD_CLOEXEC);
        }
    }
    if (!e->multi || !piped || !e->user_agent || (o.ca_file && !e->ca_file)) {
        if (e->multi)
            curl_multi_cleanup(e->multi);
        e->multi = NULL;
        rb_http_engine_free(e);
        return rb_az_fail(err, RB_ENOMEM, "cannot create the HTTP engine");
    }
    curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)MAX_PER_ORIGIN);
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, 256L);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
        curl_multi_cleanup(e->multi);
        e->multi = NULL;
        rb_http_engine_free(e);
        return rb_az_fail(err, RB_ERROR, "cannot start the HTTP engine thread");
    }
    *out = e;
    return RB_OK;
}

void rb_http_engine_free(rb_http_engine *e)
{
    if (!e)
        return;
    if (e->multi) {
        pthread_mutex_lock(&e->lock);
        e->stop = 1;
        pthread_mutex_unlock(&e->lock);
        wake(e);
        pthread_join(e->thread, NULL);
        /* Anything submitted while stopping. */
        while (e->pending) {
            rb_http_call *c = e->pending;
            e->pending = c->next;
            call_complete(c, CURLE_OK, 1);
        }
        e->pending_tail = NULL;
        curl_multi_cleanup(e->multi);
    }
    for (int i = 0; i < e->n_easy_pool; i++)
        curl_easy_cleanup(e->easy_pool[i]);
    for (int i = 0; i < 2; i++)
        if (e->wake_fd[i] >= 0)
            close(e->wake_fd[i]);
    free(e->fds);
    pthread_mutex_destroy(&e->lock);
    free(e->ca_file);
    rb_tls_trust_free(e->trust);
    free(e->user_agent);
    free(e);
}

rb_status rb_http_submit(rb_http_engine *e, const rb_http_request *req, rb_http_done_fn done,
                         void *user, rb_http_call **out_call, rb_az_err *err)
{
    if (out_call)
        *out_call = NULL;
    if (!e || !req || !req->method || !req->url || !done)
        return rb_az_fail(err, RB_EINVAL, "rb_http_submit: missing argument");
    char *origin = NULL;
    rb_status st = check_url(req->url, &origin, err);
    if (st != RB_OK)
        return st;
    rb_http_call *c = calloc(1, sizeof *c);
    if (!c) {
        free(origin);
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
    c->eng = e;
    c->origin = origin;
    c->method = strdup(req->method);
    c->url = strdup(req->url);
    c->body = req->body;
    c->body_len = req->body ? req->body_len : 0;
    c->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 60000;
    c->max_body = req->max_body_bytes ? req->max_body_bytes : e->max_body;
    c->sink = req->sink;
    c->sink_user = req->sink_user;
    c->ext_cancel = req->cancel;
    c->done = done;
    c->user = user;
    c->refs = out_call ? 2 : 1;
    if (!c->method || !c->url) {
        call_free(c);
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
    st = call_setup(c, req, err);
    if (st != RB_OK) {
        call_free(c);
        return st;
    }
    pthread_mutex_lock(&e->lock);
    if (e->stop) {
        pthread_mutex_unlock(&e->lock);
        call_free(c);
        return rb_az_fail(err, RB_ECANCELED, "the HTTP engine is stopping");
    }
    /* Append to keep submission order. Only the call that finds the list
     * empty wakes the thread: until it takes the list, the thread is
     * either about to read that wake-up or between reading it and taking
     * the list. */
    int was_empty = e->pending == NULL;
    if (e->pending_tail)
        e->pending_tail->next = c;
    else
        e->pending = c;
    e->pending_tail = c;
    pthread_mutex_unlock(&e->lock);
    if (was_empty)
        wake(e);
    if (out_call)
        *out_call = c;
    return RB_OK;
}

void rb_http_call_cancel(rb_http_call *c)
{
    if (!c)
        return;
    c->cancel_flag = 1;
    atomic_store(&c->eng->scan_cancel, 1);
    wake(c->eng);
}

void rb_http_call_release(rb_http_call *c)
{
    if (c)
        call_unref(c);
}

/* ---- synchronous send --------------------------------------------------- */

/* A blocking send waits on a semaphore the engine posts once: one atomic
 * and at most one wake-up. A mutex and condition variable signalled under
 * the mutex woke the caller only to block it again on that mutex (two
 * wake-ups per request, 10% of the worker threads' CPU at 1,000 LROs).
 * Destroying the semaphore as soon as sem_wait returns is allowed (POSIX;
 * glibc since 2.21). */
struct waiter {
    sem_t done;
    rb_status st;
    rb_http_response *resp;
    rb_az_err err;
};

static void on_done_sync(void *user, rb_status st, rb_http_response *resp, const rb_az_err *err)
{
    struct waiter *w = user;
    w->st = st;
    w->resp = resp;
    if (err)
        w->err = *err;
    sem_post(&w->done);
}

rb_status rb_http_send(rb_http_engine *e, const rb_http_request *req, rb_http_response **out,
                       rb_az_err *err)
{
    *out = NULL;
    struct waiter w;
    memset(&w, 0, sizeof w);
    if (sem_init(&w.done, 0, 0) != 0)
        return rb_az_fail(err, RB_ENOMEM, "cannot create a semaphore");
    rb_status st = rb_http_submit(e, req, on_done_sync, &w, NULL, err);
    if (st == RB_OK) {
        while (sem_wait(&w.done) != 0 && errno == EINTR) {
        }
        st = w.st;
        *out = w.resp;
        if (err)
            *err = w.err;
    }
    sem_destroy(&w.done);
    return st;
}

const char *rb_http_response_header(const rb_http_response *r, const char *name)
{
    if (!r)
        return NULL;
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *v = rb_header_value(r->headers[i], name);
        if (v)
            return v;
    }
    return NULL;
}

void rb_http_response_free(rb_http_response *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nheaders; i++)
        free(r->headers[i]);
    free(r->headers);
    free(r->body);
    free(r);
}
