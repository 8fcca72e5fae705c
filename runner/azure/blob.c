/* The Blob Storage client. See blob.h. Transfers are in transfer.c. */
#include "blob.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"
#include "redact.h"

#define LIST_MAX_BODY (16u * 1024u * 1024u)

struct rb_blob_client {
    rb_http_engine *eng;
    rb_az_auth *auth;
    char *endpoint;
    char *account;
    char *sas;
    char *version;
};

struct rb_blob_lister {
    rb_blob_client *c;
    rb_az_call_opts opts;
    char *container;
    char *prefix;
    int page_size;
    char *marker;      /* NULL before the first page */
    int started;
    int finished;
    xmlDoc *doc;
    xmlNode *cursor;   /* next <Blob> */
    char *name, *etag; /* the current item */
    int pages;
};

rb_status rb_blob_client_new(rb_blob_client **out, rb_http_engine *eng,
                             const rb_blob_options *o, rb_az_err *err)
{
    *out = NULL;
    if (!o || !o->endpoint)
        return rb_az_fail(err, RB_EINVAL, "a blob client needs an endpoint");
    rb_xml_once();
    rb_blob_client *c = calloc(1, sizeof *c);
    if (!c)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    c->eng = eng;
    c->endpoint = strdup(o->endpoint);
    size_t n = c->endpoint ? strlen(c->endpoint) : 0;
    while (n && c->endpoint[n - 1] == '/')
        c->endpoint[--n] = '\0';
    c->account = o->account ? strdup(o->account) : NULL;
    c->version = strdup(o->version ? o->version : RB_BLOB_VERSION);
    rb_status st = RB_OK;
    if (o->account_key) {
        st = rb_az_auth_shared_key(&c->auth, o->account, o->account_key, err);
    } else if (o->cred) {
        st = rb_az_auth_bearer(&c->auth, o->cred, "https://storage.azure.com/.default", 1, err);
    } else if (o->sas) {
        const char *s = o->sas[0] == '?' ? o->sas + 1 : o->sas;
        c->sas = strdup(s);
        rb_redact_register(s);
    }
    if (st == RB_OK && (!c->endpoint || !c->version || (o->sas && !c->sas) ||
                        (o->account && !c->account)))
        st = rb_az_fail(err, RB_ENOMEM, "out of memory");
    if (st != RB_OK) {
        rb_blob_client_free(c);
        return st;
    }
    *out = c;
    return RB_OK;
}

void rb_blob_client_free(rb_blob_client *c)
{
    if (!c)
        return;
    rb_az_auth_free(c->auth);
    free(c->endpoint);
    free(c->account);
    free(c->sas);
    free(c->version);
    free(c);
}

/* endpoint/container[/blob]?query[&sas]. Blob path segments are escaped. */
static char *make_url(const rb_blob_client *c, const char *container, const char *blob,
                      const char *query)
{
    rb_azbuf b = {0};
    char *ce = rb_url_escape(container);
    rb_azbuf_printf(&b, "%s/%s", c->endpoint, ce ? ce : "");
    free(ce);
    if (blob) {
        char *copy = strdup(blob);
        char *save = NULL;
        rb_azbuf_puts(&b, "/");
        int first = 1;
        /* keep empty segments: split by hand rather than strtok */
        for (char *seg = copy, *next; seg; seg = next) {
            next = strchr(seg, '/');
            if (next)
                *next++ = '\0';
            char *e = rb_url_escape(seg);
            rb_azbuf_printf(&b, "%s%s", first ? "" : "/", e ? e : "");
            free(e);
            first = 0;
        }
        (void)save;
        free(copy);
    }
    int q = 0;
    if (query && *query) {
        rb_azbuf_printf(&b, "?%s", query);
        q = 1;
    }
    if (c->sas)
        rb_azbuf_printf(&b, "%s%s", q ? "&" : "?", c->sas);
    return rb_azbuf_take(&b);
}

char *rb_blob_url(const rb_blob_client *c, const char *container, const char *blob)
{
    return make_url(c, container, blob, NULL);
}

/* Sends req (method, URL, body or sink) with x-ms-version and the extra
 * header lines; max_body 0 = the engine's limit. */
static rb_status blob_send(rb_blob_client *c, rb_http_request req, const char *const *extra,
                           const rb_az_call_opts *opts, size_t max_body, rb_http_response **resp,
                           rb_az_err *err)
{
    rb_strv h = {0};
    rb_strv_addf(&h, "x-ms-version: %s", c->version);
    for (const char *const *p = extra; p && *p; p++)
        rb_strv_add(&h, *p);
    if (!h.v) {
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
    req.headers = (const char *const *)h.v;
    rb_az_call_opts o = {0};
    if (opts)
        o = *opts;
    if (max_body)
        o.max_body_bytes = max_body;
    rb_status st = rb_az_send(c->eng, c->auth, &req, &o, resp, err);
    rb_strv_free(&h);
    return st;
}

static rb_status simple(rb_blob_client *c, const char *method, const char *container,
                        const char *blob, const char *query, const char *const *extra,
                        const void *body, size_t body_len, const rb_az_call_opts *opts,
                        rb_http_response **keep, rb_az_err *err)
{
    char *url = make_url(c, container, blob, query);
    if (!url)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    rb_http_response *resp = NULL;
    rb_http_request req = {.method = method, .url = url, .body = body, .body_len = body_len};
    rb_status st = blob_send(c, req, extra, opts, 0, &resp, err);
    free(url);
    if (keep && st == RB_OK)
        *keep = resp;
    else
        rb_http_response_free(resp);
    return st;
}

rb_status rb_blob_container_create(rb_blob_client *c, const char *container,
                                   const rb_az_call_opts *opts, rb_az_err *err)
{
    return simple(c, "PUT", container, NULL, "restype=container", NULL, NULL, 0, opts, NULL, err);
}

static void fill_props(const rb_http_response *r, rb_blob_props *p)
{
    memset(p, 0, sizeof *p);
    const char *v;
    if ((v = rb_http_response_header(r, "Content-Length")))
        p->size = strtoull(v, NULL, 10);
    if ((v = rb_http_response_header(r, "ETag")))
        snprintf(p->etag, sizeof p->etag, "%s", v);
    if ((v = rb_http_response_header(r, "Content-Type")))
        snprintf(p->content_type, sizeof p->content_type, "%s", v);
    if ((v = rb_http_response_header(r, "Last-Modified")))
        snprintf(p->last_modified, sizeof p->last_modified, "%s", v);
    if ((v = rb_http_response_header(r, "x-ms-blob-type")))
        snprintf(p->blob_type, sizeof p->blob_type, "%s", v);
}

rb_status rb_blob_put(rb_blob_client *c, const char *container, const char *blob,
                      const void *data, size_t len, const char *content_type, int overwrite,
                      const rb_az_call_opts *opts, rb_blob_props *props, rb_az_err *err)
{
    rb_strv h = {0};
    rb_strv_add(&h, "x-ms-blob-type: BlockBlob");
    rb_strv_addf(&h, "Content-Type: %s", content_type ? content_type : "application/octet-stream");
    if (!overwrite)
        rb_strv_add(&h, "If-None-Match: *");
    rb_http_response *resp = NULL;
    rb_status st = simple(c, "PUT", container, blob, NULL, (const char *const *)h.v, data, len,
                          opts, &resp, err);
    if (st == RB_OK && props) {
        fill_props(resp, props);
        props->size = len;
    }
    rb_http_response_free(resp);
    rb_strv_free(&h);
    return st;
}

static rb_status block_query(const char *block_id, char **out, rb_az_err *err)
{
    size_t n = strlen(block_id);
    if (n == 0 || n > 64)
        return rb_az_fail(err, RB_EINVAL, "a block id must have 1 to 64 bytes");
    char *b64 = rb_b64_encode(block_id, n);
    char *e = b64 ? rb_url_escape(b64) : NULL;
    free(b64);
    rb_azbuf q = {0};
    rb_azbuf_printf(&q, "comp=block&blockid=%s", e ? e : "");
    free(e);
    *out = rb_azbuf_take(&q);
    return *out ? RB_OK : rb_az_fail(err, RB_ENOMEM, "out of memory");
}

rb_status rb_blob_put_block(rb_blob_client *c, const char *container, const char *blob,
                            const char *block_id, const void *data, size_t len,
                            const rb_az_call_opts *opts, rb_az_err *err)
{
    char *q = NULL;
    rb_status st = block_query(block_id, &q, err);
    if (st != RB_OK)
        return st;
    st = simple(c, "PUT", container, blob, q, NULL, data, len, opts, NULL, err);
    free(q);
    return st;
}

rb_status rb_blob_put_block_md5(rb_blob_client *c, const char *container, const char *blob,
                                const char *block_id, const void *data, size_t len,
                                const unsigned char content_md5[16], const rb_az_call_opts *opts,
                                rb_az_err *err)
{
    if (!content_md5)
        return rb_blob_put_block(c, container, blob, block_id, data, len, opts, err);
    char *q = NULL;
    rb_status st = block_query(block_id, &q, err);
    if (st != RB_OK)
        return st;
    char *b64 = rb_b64_encode(content_md5, 16);
    rb_strv h = {0};
    if (b64)
        rb_strv_addf(&h, "Content-MD5: %s", b64);
    free(b64);
    st = h.v ? simple(c, "PUT", container, blob, q, (const char *const *)h.v, data, len, opts,
                      NULL, err)
             : rb_az_fail(err, RB_ENOMEM, "out of memory");
    rb_strv_free(&h);
    free(q);
    return st;
}

rb_status rb_blob_put_block_from_url(rb_blob_client *c, const char *container, const char *blob,
                                     const char *block_id, const char *source_url,
                                     uint64_t offset, uint64_t len, const rb_az_call_opts *opts,
                                     rb_az_err *err)
{
    char *q = NULL;
    rb_status st = block_query(block_id, &q, err);
    if (st != RB_OK)
        return st;
    rb_strv h = {0};
    rb_strv_addf(&h, "x-ms-copy-source: %s", source_url);
    if (len)
        rb_strv_addf(&h, "x-ms-source-range: bytes=%llu-%llu", (unsigned long long)offset,
                     (unsigned long long)(offset + len - 1));
    st = simple(c, "PUT", container, blob, q, (const char *const *)h.v, NULL, 0, opts, NULL, err);
    rb_strv_free(&h);
    free(q);
    return st;
}

rb_status rb_blob_put_block_list(rb_blob_client *c, const char *container, const char *blob,
                                 const char *const *block_ids, size_t n, const char *content_type,
                                 int overwrite, const rb_az_call_opts *opts, rb_az_err *err)
{
    /* The body is XML: built with libxml2, not by hand. */
    xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNode *root = xmlNewNode(NULL, BAD_CAST "BlockList");
    xmlDocSetRootElement(doc, root);
    for (size_t i = 0; i < n; i++) {
        char *b64 = rb_b64_encode(block_ids[i], strlen(block_ids[i]));
        if (!b64) {
            xmlFreeDoc(doc);
            return rb_az_fail(err, RB_ENOMEM, "out of memory");
        }
        xmlNewTextChild(root, NULL, BAD_CAST "Uncommitted", BAD_CAST b64);
        free(b64);
    }
    xmlChar *xml = NULL;
    int xlen = 0;
    xmlDocDumpMemoryEnc(doc, &xml, &xlen, "UTF-8");
    xmlFreeDoc(doc);
    if (!xml)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    rb_strv h = {0};
    rb_strv_add(&h, "Content-Type: application/xml");
    rb_strv_addf(&h, "x-ms-blob-content-type: %s",
                 content_type ? content_type : "application/octet-stream");
    if (!overwrite)
        rb_strv_add(&h, "If-None-Match: *");
    rb_status st = simple(c, "PUT", container, blob, "comp=blocklist", (const char *const *)h.v,
                          xml, (size_t)xlen, opts, NULL, err);
    rb_strv_free(&h);
    xmlFree(xml);
    return st;
}

/* Get Blob of [offset, offset + len) (len 0: to the end; no range header
 * for the whole blob), the body to sink or, with sink NULL, into the
 * response (at most max bytes; 0 = the engine's limit). */
static rb_status get_range(rb_blob_client *c, const char *container, const char *blob,
                           uint64_t offset, uint64_t len, rb_http_sink_fn sink, void *user,
                           size_t max, const rb_az_call_opts *opts, rb_http_response **resp,
                           rb_az_err *err)
{
    char range[80] = "";
    if (len)
        snprintf(range, sizeof range, "x-ms-range: bytes=%llu-%llu", (unsigned long long)offset,
                 (unsigned long long)(offset + len - 1));
    else if (offset)
        snprintf(range, sizeof range, "x-ms-range: bytes=%llu-", (unsigned long long)offset);
    const char *extra[] = {range[0] ? range : NULL, NULL};
    char *url = make_url(c, container, blob, NULL);
    if (!url)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    rb_http_request req = {.method = "GET", .url = url, .sink = sink, .sink_user = user};
    rb_status st = blob_send(c, req, extra, opts, max, resp, err);
    free(url);
    return st;
}

/* A 200 for a range is fine only when it holds no more than was asked from
 * the start (the whole blob fits). */
static int range_ignored(long status, uint64_t offset, uint64_t len, uint64_t got)
{
    return (offset || len) && status != 206 && !(offset == 0 && (len == 0 || got <= len));
}

rb_status rb_blob_get(rb_blob_client *c, const char *container, const char *blob,
                      uint64_t offset, uint64_t len, size_t max, const rb_az_call_opts *opts,
                      char **data, size_t *data_len, rb_az_err *err)
{
    *data = NULL;
    if (data_len)
        *data_len = 0;
    rb_http_response *resp = NULL;
    rb_status st = get_range(c, container, blob, offset, len, NULL, NULL, max, opts, &resp, err);
    if (st == RB_OK && range_ignored(resp->status, offset, len, resp->body_len))
        st = rb_az_fail(err, RB_EPROTO, "GET %s/%s: the service ignored the range (HTTP %ld)",
                        container, blob, resp->status);
    if (st == RB_OK) {
        if (len && resp->body_len != len && resp->status == 206) {
            /* A short range is fine only at the end of the blob. */
            const char *cr = rb_http_response_header(resp, "Content-Range");
            const char *slash = cr ? strrchr(cr, '/') : NULL;
            uint64_t total = slash ? strtoull(slash + 1, NULL, 10) : 0;
            if (!slash || offset + resp->body_len != total)
                st = rb_az_fail(err, RB_EPROTO, "GET %s/%s: asked for %llu bytes, got %zu",
                                container, blob, (unsigned long long)len, resp->body_len);
        }
        if (st == RB_OK) {
            *data = resp->body;
            if (data_len)
                *data_len = resp->body_len;
            resp->body = NULL;
        }
    }
    rb_http_response_free(resp);
    return st;
}

struct fixed_sink {
    char *buf;
    size_t cap;
    size_t used;
    int overflow;
};

static int fixed_sink_write(void *user, const void *data, size_t len)
{
    struct fixed_sink *f = user;
    if (!data) { /* a new response (retry): start over */
        f->used = 0;
        return 0;
    }
    if (len > f->cap - f->used) {
        f->overflow = 1;
        return 1;
    }
    memcpy(f->buf + f->used, data, len);
    f->used += len;
    return 0;
}

rb_status rb_blob_get_into(rb_blob_client *c, const char *container, const char *blob,
                           uint64_t offset, uint64_t len, void *buf, size_t cap,
                           const rb_az_call_opts *opts, size_t *got, rb_az_err *err)
{
    *got = 0;
    struct fixed_sink f = {.buf = buf, .cap = cap};
    rb_http_response *resp = NULL;
    rb_status st =
        get_range(c, container, blob, offset, len, fixed_sink_write, &f, 0, opts, &resp, err);
    if (f.overflow)
        st = rb_az_fail(err, RB_EPROTO, "GET %s/%s: the range is larger than the %zu-byte buffer",
                        container, blob, cap);
    else if (st == RB_OK && range_ignored(resp->status, offset, len, f.used))
        st = rb_az_fail(err, RB_EPROTO, "GET %s/%s: the service ignored the range (HTTP %ld)",
                        container, blob, resp->status);
    else if (st == RB_OK)
        *got = f.used;
    rb_http_response_free(resp);
    return st;
}

rb_status rb_blob_get_stream(rb_blob_client *c, const char *container, const char *blob,
                             uint64_t offset, uint64_t len, rb_http_sink_fn sink, void *user,
                             const rb_az_call_opts *opts, rb_az_err *err)
{
    rb_http_response *resp = NULL;
    rb_status st = get_range(c, container, blob, offset, len, sink, user, 0, opts, &resp, err);
    if (st == RB_OK && (offset || len) && resp->status != 206)
        st = rb_az_fail(err, RB_EPROTO, "GET %s/%s: the service ignored the range (HTTP %ld)",
                        container, blob, resp->status);
    rb_http_response_free(resp);
    return st;
}

rb_status rb_blob_get_properties(rb_blob_client *c, const char *container, const char *blob,
                                 const rb_az_call_opts *opts, rb_blob_props *props,
                                 rb_az_err *err)
{
    rb_http_response *resp = NULL;
    rb_status st = simple(c, "HEAD", container, blob, NULL, NULL, NULL, 0, opts, &resp, err);
    if (st == RB_OK)
        fill_props(resp, props);
    else if (err && err->http_status == 404)
        rb_az_fail(err, RB_ENOTFOUND, "blob %s/%s does not exist", container, blob);
    rb_http_response_free(resp);
    return st;
}

rb_status rb_blob_delete(rb_blob_client *c, const char *container, const char *blob,
                         const rb_az_call_opts *opts, rb_az_err *err)
{
    const char *h[] = {"x-ms-delete-snapshots: include", NULL};
    return simple(c, "DELETE", container, blob, NULL, h, NULL, 0, opts, NULL, err);
}

/* ---- listing ------------------------------------------------------------ */

rb_status rb_blob_lister_new(rb_blob_client *c, const char *container, const char *prefix,
                             int page_size, const rb_az_call_opts *opts, rb_blob_lister **out,
                             rb_az_err *err)
{
    *out = NULL;
    rb_blob_lister *l = calloc(1, sizeof *l);
    if (!l)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    l->c = c;
    if (opts)
        l->opts = *opts;
    l->container = strdup(container);
    l->prefix = prefix ? strdup(prefix) : NULL;
    l->page_size = page_size;
    if (!l->container || (prefix && !l->prefix)) {
        rb_blob_lister_free(l);
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
    *out = l;
    return RB_OK;
}

static xmlNode *child(xmlNode *n, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
            return c;
    return NULL;
}

static char *text_of(xmlNode *n)
{
    if (!n)
        return NULL;
    xmlChar *t = xmlNodeGetContent(n);
    char *r = t ? strdup((const char *)t) : NULL;
    xmlFree(t);
    return r;
}

static rb_status fetch_page(rb_blob_lister *l, rb_az_err *err)
{
    rb_azbuf q = {0};
    rb_azbuf_puts(&q, "restype=container&comp=list");
    if (l->prefix) {
        char *e = rb_url_escape(l->prefix);
        rb_azbuf_printf(&q, "&prefix=%s", e ? e : "");
        free(e);
    }
    if (l->marker) {
        char *e = rb_url_escape(l->marker);
        rb_azbuf_printf(&q, "&marker=%s", e ? e : "");
        free(e);
    }
    if (l->page_size > 0)
        rb_azbuf_printf(&q, "&maxresults=%d", l->page_size);
    char *url = make_url(l->c, l->container, NULL, q.data);
    rb_azbuf_free(&q);
    if (!url)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    rb_http_response *resp = NULL;
    rb_http_request req = {.method = "GET", .url = url};
    rb_status st = blob_send(l->c, req, NULL, &l->opts, LIST_MAX_BODY, &resp, err);
    free(url);
    if (st != RB_OK) {
        rb_http_response_free(resp);
        return st;
    }
    xmlFreeDoc(l->doc);
    l->doc = xmlReadMemory(resp->body, (int)resp->body_len, "list.xml", NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    rb_http_response_free(resp);
    xmlNode *root = l->doc ? xmlDocGetRootElement(l->doc) : NULL;
    if (!root || strcmp((const char *)root->name, "EnumerationResults") != 0)
        return rb_az_fail(err, RB_EPROTO, "List Blobs of %s: the response is not an "
                                          "EnumerationResults XML document",
                          l->container);
    xmlNode *blobs = child(root, "Blobs");
    l->cursor = blobs ? blobs->children : NULL;
    free(l->marker);
    l->marker = text_of(child(root, "NextMarker"));
    if (l->marker && !*l->marker) {
        free(l->marker);
        l->marker = NULL;
    }
    l->finished = l->marker == NULL;
    l->pages++;
    return RB_OK;
}

rb_status rb_blob_lister_next(rb_blob_lister *l, rb_blob_item *item, int *has_item,
                              rb_az_err *err)
{
    *has_item = 0;
    for (;;) {
        while (l->cursor && (l->cursor->type != XML_ELEMENT_NODE ||
                             strcmp((const char *)l->cursor->name, "Blob") != 0))
            l->cursor = l->cursor->next;
        if (l->cursor) {
            xmlNode *b = l->cursor;
            l->cursor = b->next;
            free(l->name);
            free(l->etag);
            l->name = text_of(child(b, "Name"));
            xmlNode *props = child(b, "Properties");
            l->etag = text_of(child(props, "Etag"));
            char *size = text_of(child(props, "Content-Length"));
            if (!l->name) {
                free(size);
                return rb_az_fail(err, RB_EPROTO, "List Blobs: a <Blob> without <Name>");
            }
            item->name = l->name;
            item->etag = l->etag ? l->etag : "";
            item->size = size ? strtoull(size, NULL, 10) : 0;
            free(size);
            *has_item = 1;
            return RB_OK;
        }
        if (l->started && l->finished)
            return RB_OK;
        l->started = 1;
        rb_status st = fetch_page(l, err);
        if (st != RB_OK)
            return st;
    }
}

int rb_blob_lister_pages(const rb_blob_lister *l)
{
    return l->pages;
}

void rb_blob_lister_free(rb_blob_lister *l)
{
    if (!l)
        return;
    xmlFreeDoc(l->doc);
    free(l->container);
    free(l->prefix);
    free(l->marker);
    free(l->name);
    free(l->etag);
    free(l);
}

/* ---- SAS ------------------------------------------------------------------ */

static void iso8601(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

rb_status rb_blob_sas_service(const char *account, const char *account_key,
                              const char *container, const char *blob, const char *permissions,
                              int64_t start, int64_t expiry, int allow_http, char **out,
                              rb_az_err *err)
{
    *out = NULL;
    char st_s[32] = "", se_s[32];
    if (start)
        iso8601(start, st_s, sizeof st_s);
    iso8601(expiry, se_s, sizeof se_s);
    const char *sr = blob ? "b" : "c";
    const char *spr = allow_http ? "https,http" : "https";
    rb_azbuf sts = {0};
    /* Service SAS string-to-sign for versions 2020-12-06 and later. */
    rb_azbuf_printf(&sts, "%s\n%s\n%s\n/blob/%s/%s%s%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s",
                  permissions, st_s, se_s, account, container, blob ? "/" : "", blob ? blob : "",
                  "", "", spr, RB_BLOB_VERSION, sr, "", "", "", "", "", "", "");
    char *sig = NULL;
    rb_status s = sts.data ? rb_hmac_sha256_b64(account_key, sts.data, &sig, err)
                           : rb_az_fail(err, RB_ENOMEM, "out of memory");
    rb_azbuf_free(&sts);
    if (s != RB_OK)
        return s;
    char *sig_e = rb_url_escape(sig);
    char *st_e = rb_url_escape(st_s), *se_e = rb_url_escape(se_s), *spr_e = rb_url_escape(spr);
    rb_azbuf q = {0};
    rb_azbuf_printf(&q, "sv=%s&spr=%s%s%s&se=%s&sr=%s&sp=%s&sig=%s", RB_BLOB_VERSION,
                  spr_e ? spr_e : "", start ? "&st=" : "", start && st_e ? st_e : "",
                  se_e ? se_e : "", sr, permissions, sig_e ? sig_e : "");
    rb_redact_register(sig);
    rb_redact_register(sig_e);
    free(sig);
    free(sig_e);
    free(st_e);
    free(se_e);
    free(spr_e);
    if (!q.data)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    rb_redact_register(q.data);
    *out = rb_azbuf_take(&q);
    return RB_OK;
}

/* ---- a blob named by a full URL (a SAS a service handed out) ------------ */

rb_status rb_blob_client_from_url(rb_http_engine *eng, const char *url, rb_blob_client **out,
                                  char **container, char **blob, rb_az_err *err)
{
    *out = NULL;
    *container = *blob = NULL;
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    rb_status st = RB_OK;
    if (!u)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    /* The URL itself is never put into the message: it carries a SAS. */
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK) {
        st = rb_az_fail(err, RB_EINVAL, "not a blob URL");
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    /* path is /container/blob[/more]: the container is the first segment. */
    const char *p = path[0] == '/' ? path + 1 : path;
    const char *slash = strchr(p, '/');
    if (!slash || slash == p || !slash[1]) {
        st = rb_az_fail(err, RB_EINVAL, "a blob URL needs /container/blob in its path");
        goto out;
    }
    char endpoint[600];
    snprintf(endpoint, sizeof endpoint, "%s://%s%s%s", scheme, host, port ? ":" : "",
             port ? port : "");
    rb_blob_options o = {.endpoint = endpoint, .sas = query && *query ? query : NULL};
    st = rb_blob_client_new(out, eng, &o, err);
    if (st == RB_OK) {
        *container = strndup(p, (size_t)(slash - p));
        *blob = strdup(slash + 1);
        if (!*container || !*blob) {
            free(*container);
            free(*blob);
            *container = *blob = NULL;
            rb_blob_client_free(*out);
            *out = NULL;
            st = rb_az_fail(err, RB_ENOMEM, "out of memory");
        }
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return st;
}

rb_status rb_blob_create_page_blob(rb_blob_client *c, const char *container, const char *blob,
                                   uint64_t size, int overwrite, const rb_az_call_opts *opts,
                                   rb_az_err *err)
{
    if (size % 512)
        return rb_az_fail(err, RB_EINVAL, "a page blob's size is a multiple of 512");
    rb_strv h = {0};
    rb_strv_add(&h, "x-ms-blob-type: PageBlob");
    rb_strv_addf(&h, "x-ms-blob-content-length: %llu", (unsigned long long)size);
    if (!overwrite)
        rb_strv_add(&h, "If-None-Match: *");
    rb_status st = simple(c, "PUT", container, blob, NULL, (const char *const *)h.v, NULL, 0, opts,
                          NULL, err);
    rb_strv_free(&h);
    return st;
}

rb_status rb_blob_put_page(rb_blob_client *c, const char *container, const char *blob,
                           uint64_t offset, const void *data, size_t len,
                           const rb_az_call_opts *opts, rb_az_err *err)
{
    if (len == 0 || len > RB_BLOB_MAX_PAGE_WRITE || offset % 512 || len % 512)
        return rb_az_fail(err, RB_EINVAL, "Put Page needs 512-aligned ranges of at most 4 MiB");
    rb_strv h = {0};
    rb_strv_add(&h, "x-ms-page-write: update");
    rb_strv_addf(&h, "x-ms-range: bytes=%llu-%llu", (unsigned long long)offset,
                 (unsigned long long)(offset + len - 1));
    rb_status st = simple(c, "PUT", container, blob, "comp=page", (const char *const *)h.v, data,
                          len, opts, NULL, err);
    rb_strv_free(&h);
    return st;
}
