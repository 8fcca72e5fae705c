/* The large-object routines of the host table (ABI 1.3): disks and other
 * objects a service hands out as a SAS URL go into the backup vault, and
 * come back out of it, as streams in fixed memory, with every block checked
 * against the signed manifest. The SAS URLs are registered with the
 * redactor by the Blob client and never put into a message. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/azure.h"
#include "azure/blob.h"
#include "core/util.h"
#include "core/values.h"
#include "plugin/azure_session.h"
#include "plugin/context.h"
#include "plugin/vault_session.h"
#include "vault/internal.h"
#include "vault/manifest.h"
#include "vault/vault.h"

#define DIGEST_CHUNK (4u * 1024u * 1024u)

static const rb_host_api *H(void) { return rb_host_api_get(); }

/* A Blob client for url on the run's HTTP engine. */
static rb_status open_url(rb_ctx *ctx, const char *url, rb_blob_client **c, char **container,
                          char **blob)
{
    rb_azure *az = NULL;
    char msg[2300];
    rb_status st = rb_azure_session_get(ctx->azure, &az, msg, sizeof msg);
    if (st != RB_OK) {
        H()->set_error(ctx, "%s", msg);
        return st;
    }
    rb_az_err err;
    rb_az_err_clear(&err);
    st = rb_blob_client_from_url(rb_azure_engine(az), url, c, container, blob, &err);
    if (st != RB_OK)
        H()->set_error(ctx, "%s", err.msg);
    return st;
}

/* ---- SAS URL -> vault ------------------------------------------------------ */

typedef struct url_source {
    rb_ctx *ctx;
    rb_blob_client *c;
    char *container, *blob;
    uint64_t size, pos;
    rb_az_err err;
} url_source;

/* rb_vault_read_fn: the next range of the blob, one GET per call. */
static rb_status url_read(void *user, void *buf, size_t cap, size_t *got)
{
    url_source *u = user;
    *got = 0;
    if (u->pos >= u->size)
        return RB_OK;
    size_t want = u->size - u->pos < cap ? (size_t)(u->size - u->pos) : cap;
    rb_az_call_opts opts = {.cancel = &u->ctx->cancel};
    rb_status st = rb_blob_get_into(u->c, u->container, u->blob, u->pos, want, buf, want, &opts,
                                    got, &u->err);
    if (st == RB_OK && *got != want)
        st = rb_az_fail(&u->err, RB_EPROTO, "the source ended at byte %llu of %llu",
                        (unsigned long long)(u->pos + *got), (unsigned long long)u->size);
    if (st == RB_OK)
        u->pos += *got;
    return st;
}

typedef struct mem_source {
    const char *data;
    size_t len, pos;
} mem_source;

static rb_status mem_read(void *user, void *buf, size_t cap, size_t *got)
{
    mem_source *m = user;
    size_t n = m->len - m->pos < cap ? m->len - m->pos : cap;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    *got = n;
    return RB_OK;
}

typedef struct put_progress {
    rb_ctx *ctx;
    uint64_t total;
    uint64_t before;     /* bytes of the objects already done */
    const char *current; /* the object in progress */
    uint64_t current_done;
} put_progress;

static int put_progress_fn(void *user, const char *object, uint64_t done, uint64_t total)
{
    put_progress *p = user;
    (void)total;
    if (!p->current || strcmp(p->current, object) != 0) {
        p->before += p->current_done;
        p->current = object;
    }
    p->current_done = done;
    return H()->progress(p->ctx, p->before + done, p->total);
}

rb_status rb_host_backup_put_stream(rb_ctx *ctx, const char *source_id, const char *kind,
                                    const rb_value *objects, rb_value **set)
{
    if (set)
        *set = NULL;
    size_t n = rbv_len(objects);
    if (!ctx || !source_id || !kind || rbv_type(objects) != RB_VMAP || n == 0) {
        if (ctx)
            H()->set_error(ctx, "backup_put_stream needs a source id, a kind and a non-empty "
                                "map of objects");
        return RB_EINVAL;
    }
    rb_vault_source *src = rb_xcalloc(n, sizeof *src);
    url_source *urls = rb_xcalloc(n, sizeof *urls);
    mem_source *mems = rb_xcalloc(n, sizeof *mems);
    rb_status st = RB_OK;
    uint64_t total = 0;
    for (size_t i = 0; i < n && st == RB_OK; i++) {
        const rb_value *val = rbv_map_value_at(objects, i);
        src[i].name = rbv_map_key_at(objects, i);
        if (rbv_type(val) == RB_VMAP) {
            const char *url = rbv_map_get_string(val, "url", NULL);
            if (!url) {
                H()->set_error(ctx, "backup_put_stream: object %s: a map needs a url",
                               src[i].name);
                st = RB_EINVAL;
                break;
            }
            url_source *u = &urls[i];
            u->ctx = ctx;
            rb_az_err_clear(&u->err);
            st = open_url(ctx, url, &u->c, &u->container, &u->blob);
            if (st != RB_OK)
                break;
            int64_t size = rbv_map_get_int(val, "size", -1);
            if (size < 0) {
                rb_blob_props props;
                rb_az_call_opts opts = {.cancel = &ctx->cancel};
                st = rb_blob_get_properties(u->c, u->container, u->blob, &opts, &props, &u->err);
                if (st != RB_OK) {
                    H()->set_error(ctx, "object %s: cannot read the source's size: %s",
                                   src[i].name, u->err.msg);
                    break;
                }
                size = (int64_t)props.size;
            }
            u->size = (uint64_t)size;
            src[i].read = url_read;
            src[i].user = u;
            src[i].size = u->size;
        } else {
            size_t len = 0;
            mems[i].data = rbv_as_bytes(val, &len);
            mems[i].len = mems[i].data ? len : 0;
            if (!mems[i].data)
                mems[i].data = "";
            src[i].read = mem_read;
            src[i].user = &mems[i];
            src[i].size = mems[i].len;
        }
        total += src[i].size;
    }
    rb_vault *v = st == RB_OK ? rb_host_vault_acquire(ctx) : NULL;
    if (st == RB_OK && !v)
        st = RB_ERROR;
    if (v) {
        put_progress prog = {.ctx = ctx, .total = total};
        rb_vault_put_opts opts = {.resume_key = ctx->idempotency_key,
                                  .source_id = source_id,
                                  .kind = kind,
                                  .plugin = ctx->plugin,
                                  .progress = put_progress_fn,
                                  .progress_user = &prog};
        rb_vault_put_stats stats;
        memset(&stats, 0, sizeof stats);
        rb_vault_err err = {{0}};
        st = rb_vault_put(v, src, n, &opts, &stats, &err);
        if (st != RB_OK) {
            /* A source's own error says more than the vault's "read failed". */
            const char *why = err.msg;
            for (size_t i = 0; i < n; i++)
                if (urls[i].err.msg[0])
                    why = urls[i].err.msg;
            H()->set_error(ctx, "backup of %s: %s", source_id, why);
        } else if (set) {
            rb_value *m = rbv_map();
            rbv_map_set(m, "set_id", rbv_string(stats.set_id));
            rbv_map_set(m, "bytes", rbv_int((int64_t)stats.bytes));
            rbv_map_set(m, "bytes_sent", rbv_int((int64_t)stats.bytes_sent));
            rbv_map_set(m, "objects", rbv_int((int64_t)n));
            rbv_map_set(m, "resumed", rbv_bool(stats.resumed));
            rb_value *sums = rbv_map();
            rb_vault_entry *e = NULL;
            rb_vault_manifest *man = NULL;
            rb_vault_err merr = {{0}};
            if (rb_vault_entry_read(v, stats.set_id, &e, &merr) == RB_OK &&
                rb_vault_manifest_read(v, e, &man, &merr) == RB_OK) {
                for (size_t o = 0; o < man->n_objects; o++)
                    rbv_map_set(sums, man->objects[o].name, rbv_string(man->objects[o].sha256));
            }
            rb_vault_manifest_free(man);
            rb_vault_entry_free(e);
            rbv_map_set(m, "sha256", sums);
            *set = m;
        }
        rb_vault_session_release(ctx->vault);
    }
    for (size_t i = 0; i < n; i++) {
        rb_blob_client_free(urls[i].c);
        free(urls[i].container);
        free(urls[i].blob);
    }
    free(urls);
    free(mems);
    free(src);
    return st;
}

/* ---- the signed manifest --------------------------------------------------- */

rb_status rb_host_backup_manifest(rb_ctx *ctx, const char *set_id, rb_value **manifest)
{
    if (!manifest)
        return RB_EINVAL;
    *manifest = NULL;
    if (!ctx || !set_id)
        return RB_EINVAL;
    rb_vault *v = rb_host_vault_acquire(ctx);
    if (!v)
        return RB_ERROR;
    rb_vault_entry *e = NULL;
    rb_vault_manifest *man = NULL;
    rb_vault_err err = {{0}};
    rb_status st = rb_vault_entry_read(v, set_id, &e, &err);
    if (st == RB_OK)
        st = rb_vault_entry_check(v, e, &err);
    if (st == RB_OK)
        st = rb_vault_manifest_read(v, e, &man, &err);
    rb_vault_session_release(ctx->vault);
    if (st != RB_OK) {
        H()->set_error(ctx, "set %s: %s", set_id, err.msg);
    } else {
        rb_value *m = rbv_map();
        rbv_map_set(m, "set_id", rbv_string(e->set_id));
        rbv_map_set(m, "source_id", rbv_string(e->source_id ? e->source_id : ""));
        rbv_map_set(m, "kind", rbv_string(e->kind ? e->kind : ""));
        rbv_map_set(m, "created", rbv_string(e->created ? e->created : ""));
        rbv_map_set(m, "created_s", rbv_int(e->created_s));
        rbv_map_set(m, "bytes", rbv_int((int64_t)e->bytes));
        rb_value *objs = rbv_list();
        for (size_t o = 0; o < man->n_objects; o++) {
            rb_value *om = rbv_map();
            rbv_map_set(om, "name", rbv_string(man->objects[o].name));
            rbv_map_set(om, "bytes", rbv_int((int64_t)man->objects[o].size));
            rbv_map_set(om, "sha256", rbv_string(man->objects[o].sha256));
            rbv_list_append(objs, om);
        }
        rbv_map_set(m, "objects", objs);
        *manifest = m;
    }
    rb_vault_manifest_free(man);
    rb_vault_entry_free(e);
    return st;
}

/* ---- vault -> SAS URL ------------------------------------------------------ */

typedef struct url_target {
    rb_ctx *ctx;
    rb_blob_client *c;
    char *container, *blob;
    int pages; /* 1: Put Page in place; 0: Put Block + Put Block List */
    char (*ids)[33];
    size_t n_ids, cap_ids;
    uint64_t size;
} url_target;

static rb_status target_fail(rb_vault_err *err, rb_status st, const rb_az_err *e)
{
    return rb_vault_fail(err, st, "%s", e->msg[0] ? e->msg : rb_status_name(st));
}

/* rb_vault_write_fn: checked blocks, in order, to the target. */
static rb_status url_write(void *user, uint64_t off, const void *data, size_t len,
                           rb_vault_err *err)
{
    url_target *t = user;
    rb_az_err e;
    rb_az_err_clear(&e);
    rb_az_call_opts opts = {.cancel = &t->ctx->cancel};
    if (off == RB_VAULT_WRITE_BEGIN) {
        t->size = len;
        if (t->pages && len % 512)
            return rb_vault_fail(err, RB_EINVAL,
                                 "a page blob takes whole 512-byte pages: the object has %llu "
                                 "bytes",
                                 (unsigned long long)len);
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
        return st == RB_OK ? RB_OK : target_fail(err, st, &e);
    }
    const char *p = data;
    if (t->pages) {
        for (size_t done = 0; done < len;) {
            size_t n = len - done < RB_BLOB_MAX_PAGE_WRITE ? len - done : RB_BLOB_MAX_PAGE_WRITE;
            rb_status st =
                rb_blob_put_page(t->c, t->container, t->blob, off + done, p + done, n, &opts, &e);
            if (st != RB_OK)
                return target_fail(err, st, &e);
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
        return target_fail(err, st, &e);
    t->n_ids++;
    return RB_OK;
}

static int get_progress_fn(void *user, const char *object, uint64_t done, uint64_t total)
{
    (void)object;
    return H()->progress(user, done, total);
}

rb_status rb_host_backup_to_url(rb_ctx *ctx, const char *set_id, const char *object,
                                const char *url, const char *target, uint64_t *bytes)
{
    if (bytes)
        *bytes = 0;
    if (!ctx || !set_id || !object || !url || !target)
        return RB_EINVAL;
    int pages = strcmp(target, "page") == 0;
    if (!pages && strcmp(target, "block") != 0) {
        H()->set_error(ctx, "backup_to_url: target is \"page\" or \"block\", not \"%s\"", target);
        return RB_EINVAL;
    }
    url_target t = {.ctx = ctx, .pages = pages};
    rb_status st = open_url(ctx, url, &t.c, &t.container, &t.blob);
    if (st != RB_OK)
        return st;
    rb_vault *v = rb_host_vault_acquire(ctx);
    if (!v) {
        st = RB_ERROR;
    } else {
        rb_vault_err err = {{0}};
        st = rb_vault_restore_to(v, set_id, object, url_write, &t, get_progress_fn, ctx, bytes,
                                 &err);
        rb_vault_session_release(ctx->vault);
        if (st != RB_OK)
            H()->set_error(ctx, "%s/%s: %s", set_id, object, err.msg);
    }
    rb_blob_client_free(t.c);
    free(t.container);
    free(t.blob);
    free(t.ids);
    return st;
}

/* ---- hashing a SAS URL ------------------------------------------------------ */

rb_status rb_host_url_digest(rb_ctx *ctx, const char *url, rb_value **digest)
{
    if (!digest)
        return RB_EINVAL;
    *digest = NULL;
    if (!ctx || !url)
        return RB_EINVAL;
    url_source u = {.ctx = ctx};
    rb_az_err_clear(&u.err);
    rb_status st = open_url(ctx, url, &u.c, &u.container, &u.blob);
    if (st != RB_OK)
        return st;
    rb_blob_props props;
    rb_az_call_opts opts = {.cancel = &ctx->cancel};
    st = rb_blob_get_properties(u.c, u.container, u.blob, &opts, &props, &u.err);
    unsigned char *buf = NULL;
    EVP_MD_CTX *md = NULL;
    if (st == RB_OK) {
        u.size = props.size;
        buf = rb_xmalloc(DIGEST_CHUNK);
        md = EVP_MD_CTX_new();
        if (!md || EVP_DigestInit_ex(md, rb_sha256(), NULL) != 1)
            rb_die_oom();
    }
    while (st == RB_OK && u.pos < u.size) {
        size_t got = 0;
        st = url_read(&u, buf, DIGEST_CHUNK, &got);
        if (st == RB_OK) {
            EVP_DigestUpdate(md, buf, got);
            if (H()->progress(ctx, u.pos, u.size))
                st = rb_az_fail(&u.err, RB_ECANCELED, "cancelled");
        }
    }
    if (st == RB_OK) {
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        char hex[65];
        EVP_DigestFinal_ex(md, out, &n);
        rb_hex(out, 32, hex);
        rb_value *m = rbv_map();
        rbv_map_set(m, "bytes", rbv_int((int64_t)u.size));
        rbv_map_set(m, "sha256", rbv_string(hex));
        *digest = m;
    } else {
        H()->set_error(ctx, "reading the URL: %s", u.err.msg);
    }
    EVP_MD_CTX_free(md);
    free(buf);
    rb_blob_client_free(u.c);
    free(u.container);
    free(u.blob);
    return st;
}
