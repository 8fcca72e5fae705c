/* SAS URLs as vault sources and restore targets. See url.h. */
#include "vault/url.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/blob.h"
#include "core/util.h"

#define DIGEST_CHUNK (4u * 1024u * 1024u)

struct rb_vault_url_source {
    char etag[128];
    rb_blob_client *c;
    char *container, *blob;
    uint64_t size, pos;
    const atomic_int *cancel;
    rb_az_err err;
};

static rb_status from_az(rb_vault_err *err, rb_status st, const rb_az_err *e)
{
    return rb_vault_fail(err, st, "%s", e->msg[0] ? e->msg : rb_status_name(st));
}

/* rb_vault_read_fn: the next range of the blob, one GET per call. */
static rb_status url_read(void *user, void *buf, size_t cap, size_t *got)
{
    rb_vault_url_source *u = user;
    *got = 0;
    if (u->pos >= u->size)
        return RB_OK;
    size_t want = u->size - u->pos < cap ? (size_t)(u->size - u->pos) : cap;
    rb_az_call_opts opts = {.cancel = u->cancel};
    rb_status st = rb_blob_get_into(u->c, u->container, u->blob, u->pos, want, buf, want, &opts,
                                    got, &u->err);
    if (st == RB_OK && *got != want)
        st = rb_az_fail(&u->err, RB_EPROTO, "the source ended at byte %llu of %llu",
                        (unsigned long long)(u->pos + *got), (unsigned long long)u->size);
    if (st == RB_OK)
        u->pos += *got;
    return st;
}

rb_status rb_vault_url_source_open(rb_http_engine *eng, const char *url, int64_t size,
                                   const atomic_int *cancel, rb_vault_source *src,
                                   rb_vault_url_source **out, rb_vault_err *err)
{
    *out = NULL;
    rb_vault_url_source *u = rb_xcalloc(1, sizeof *u);
    u->cancel = cancel;
    rb_az_err_clear(&u->err);
    rb_status st = rb_blob_client_from_url(eng, url, &u->c, &u->container, &u->blob, &u->err);
    /* Always asked of the service: the size (a smaller one given by the
     * caller would back up a truncated object) and the ETag (which version
     * of the source this is, for resume keys). */
    if (st == RB_OK) {
        rb_blob_props props;
        rb_az_call_opts opts = {.cancel = cancel};
        st = rb_blob_get_properties(u->c, u->container, u->blob, &opts, &props, &u->err);
        if (st == RB_OK && size >= 0 && (uint64_t)size != props.size)
            st = rb_az_fail(&u->err, RB_EINVAL, "the source has %llu bytes, not the %lld given",
                            (unsigned long long)props.size, (long long)size);
        if (st == RB_OK) { /* props is not filled on failure */
            size = (int64_t)props.size;
            snprintf(u->etag, sizeof u->etag, "%s", props.etag);
        }
    }
    if (st != RB_OK) {
        rb_vault_fail(err, st, "the source URL: %s", u->err.msg);
        rb_vault_url_source_free(u);
        return st;
    }
    rb_az_err_clear(&u->err);
    u->size = (uint64_t)size;
    src->read = url_read;
    src->user = u;
    src->size = u->size;
    *out = u;
    return RB_OK;
}

const char *rb_vault_url_source_etag(const rb_vault_url_source *u)
{
    return u ? u->etag : "";
}

const char *rb_vault_url_source_error(const rb_vault_url_source *u)
{
    return u ? u->err.msg : "";
}

void rb_vault_url_source_free(rb_vault_url_source *u)
{
    if (!u)
        return;
    rb_blob_client_free(u->c);
    free(u->container);
    free(u->blob);
    free(u);
}

/* ---- restore into a URL ------------------------------------------------------ */

typedef struct url_target {
    rb_blob_client *c;
    char *container, *blob;
    int pages;
    const atomic_int *cancel;
    char (*ids)[33];
    size_t n_ids, cap_ids;
} url_target;

/* rb_vault_write_fn: checked blocks, in order, to the target. */
static rb_status url_write(void *user, uint64_t off, const void *data, size_t len,
                           rb_vault_err *err)
{
    url_target *t = user;
    rb_az_err e;
    rb_az_err_clear(&e);
    rb_az_call_opts opts = {.cancel = t->cancel};
    if (off == RB_VAULT_WRITE_BEGIN) {
        if (t->pages && len % 512)
            return rb_vault_fail(err, RB_EINVAL,
                                 "a page blob takes whole 512-byte pages: the object has %llu "
                                 "bytes",
                                 (unsigned long long)len);
        if (!t->pages) {
            /* Refused before any block is sent (Put Block List would refuse
             * it too, after the whole upload). */
            rb_blob_props props;
            rb_status st = rb_blob_get_properties(t->c, t->container, t->blob, &opts, &props, &e);
            if (st == RB_OK)
                return rb_vault_fail(err, RB_EEXISTS,
                                     "the target blob already exists; the vault never overwrites");
            if (st != RB_ENOTFOUND)
                return from_az(err, st, &e);
        }
        return RB_OK;
    }
    if (off == RB_VAULT_WRITE_END) {
        if (t->pages)
            return RB_OK;
        const char **ids = rb_xcalloc(t->n_ids + 1, sizeof *ids);
        for (size_t i = 0; i < t->n_ids; i++)
            ids[i] = t->ids[i];
        rb_status st = rb_blob_put_block_list(t->c, t->container, t->blob, ids, t->n_ids, NULL, 0,
                                              &opts, &e);
        free(ids);
        return st == RB_OK ? RB_OK : from_az(err, st, &e);
    }
    const char *p = data;
    if (t->pages) {
        for (size_t done = 0; done < len;) {
            size_t n = len - done < RB_BLOB_MAX_PAGE_WRITE ? len - done : RB_BLOB_MAX_PAGE_WRITE;
            rb_status st =
                rb_blob_put_page(t->c, t->container, t->blob, off + done, p + done, n, &opts, &e);
            if (st != RB_OK)
                return from_az(err, st, &e);
            done += n;
        }
        return RB_OK;
    }
    if (t->n_ids == t->cap_ids) {
        t->cap_ids = t->cap_ids ? t->cap_ids * 2 : 64;
        t->ids = rb_xrealloc(t->ids, t->cap_ids * sizeof *t->ids);
    }
    /* Ids of one length for every block of the blob, as the service asks. */
    snprintf(t->ids[t->n_ids], sizeof t->ids[0], "rebound-%024zu", t->n_ids);
    rb_status st = rb_blob_put_block(t->c, t->container, t->blob, t->ids[t->n_ids], data, len,
                                     &opts, &e);
    if (st != RB_OK)
        return from_az(err, st, &e);
    t->n_ids++;
    return RB_OK;
}

rb_status rb_vault_restore_to_url(rb_vault *v, const char *set_id, const char *object,
                                  rb_http_engine *eng, const char *url, int pages,
                                  const atomic_int *cancel, rb_vault_progress_fn progress,
                                  void *progress_user, uint64_t *bytes, rb_vault_err *err)
{
    if (bytes)
        *bytes = 0;
    url_target t = {.pages = pages, .cancel = cancel};
    rb_az_err e;
    rb_az_err_clear(&e);
    rb_status st = rb_blob_client_from_url(eng, url, &t.c, &t.container, &t.blob, &e);
    if (st != RB_OK)
        return rb_vault_fail(err, st, "the target URL: %s", e.msg);
    st = rb_vault_restore_to(v, set_id, object, url_write, &t, progress, progress_user, bytes,
                             err);
    rb_blob_client_free(t.c);
    free(t.container);
    free(t.blob);
    free(t.ids);
    return st;
}

/* ---- hashing a URL ------------------------------------------------------------ */

rb_status rb_vault_url_digest(rb_http_engine *eng, const char *url, const atomic_int *cancel,
                              rb_vault_progress_fn progress, void *progress_user, uint64_t *size,
                              char sha256[65], rb_vault_err *err)
{
    rb_vault_source src = {.name = "url"};
    rb_vault_url_source *u = NULL;
    rb_status st = rb_vault_url_source_open(eng, url, -1, cancel, &src, &u, err);
    if (st != RB_OK)
        return st;
    unsigned char *buf = rb_xmalloc(DIGEST_CHUNK);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, rb_sha256(), NULL) != 1)
        rb_die_oom();
    while (st == RB_OK && u->pos < u->size) {
        size_t got = 0;
        st = url_read(u, buf, DIGEST_CHUNK, &got);
        if (st != RB_OK) {
            rb_vault_fail(err, st, "%s", u->err.msg);
            break;
        }
        EVP_DigestUpdate(md, buf, got);
        if (progress && progress(progress_user, "url", u->pos, u->size))
            st = rb_vault_fail(err, RB_ECANCELED, "cancelled");
    }
    if (st == RB_OK) {
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_DigestFinal_ex(md, out, &n);
        rb_hex(out, 32, sha256);
        *size = u->size;
    }
    EVP_MD_CTX_free(md);
    free(buf);
    rb_vault_url_source_free(u);
    return st;
}
