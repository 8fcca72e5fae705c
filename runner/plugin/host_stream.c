/* The large-object routines of the host table (ABI 1.3): disks and other
 * objects a service hands out as a SAS URL go into the backup vault, and
 * come back out of it, as streams in fixed memory, with every block checked
 * against the signed manifest. The SAS URLs are registered with the
 * redactor by the Blob client and never put into a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/azure.h"
#include "core/util.h"
#include "core/values.h"
#include "plugin/azure_session.h"
#include "plugin/context.h"
#include "plugin/vault_session.h"
#include "vault/internal.h"
#include "vault/manifest.h"
#include "vault/url.h"
#include "vault/vault.h"

static const rb_host_api *H(void) { return rb_host_api_get(); }

/* The run's HTTP engine (the Azure session), or NULL after setting the
 * step error. */
static rb_http_engine *engine(rb_ctx *ctx)
{
    rb_azure *az = NULL;
    char msg[2300];
    if (rb_azure_session_get(ctx->azure, &az, msg, sizeof msg) != RB_OK) {
        H()->set_error(ctx, "%s", msg);
        return NULL;
    }
    return rb_azure_engine(az);
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
    rb_vault_url_source **urls = rb_xcalloc(n, sizeof *urls);
    mem_source *mems = rb_xcalloc(n, sizeof *mems);
    rb_status st = RB_OK;
    uint64_t total = 0;
    for (size_t i = 0; i < n && st == RB_OK; i++) {
        const rb_value *val = rbv_map_value_at(objects, i);
        src[i].name = rbv_map_key_at(objects, i);
        if (rbv_type(val) == RB_VMAP) {
            const char *url = rbv_map_get_string(val, "url", NULL);
            rb_http_engine *eng = url ? engine(ctx) : NULL;
            if (!url) {
                H()->set_error(ctx, "backup_put_stream: object %s: a map needs a url",
                               src[i].name);
                st = RB_EINVAL;
            } else if (!eng) {
                st = RB_ERROR;
            } else {
                rb_vault_err err = {{0}};
                st = rb_vault_url_source_open(eng, url, rbv_map_get_int(val, "size", -1),
                                              &ctx->cancel, &src[i], &urls[i], &err);
                if (rbv_map_get_bool(val, "server_copy", 0))
                    src[i].copy_url = url;
                if (st != RB_OK)
                    H()->set_error(ctx, "object %s: %s", src[i].name, err.msg);
            }
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
    rb_vault *v = st == RB_OK ? rb_host_vault_acquire(ctx, 1) : NULL;
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
                if (urls[i] && rb_vault_url_source_error(urls[i])[0])
                    why = rb_vault_url_source_error(urls[i]);
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
    for (size_t i = 0; i < n; i++)
        rb_vault_url_source_free(urls[i]);
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
    rb_vault *v = rb_host_vault_acquire(ctx, 0);
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
    rb_http_engine *eng = engine(ctx);
    if (!eng)
        return RB_ERROR;
    rb_vault *v = rb_host_vault_acquire(ctx, 0);
    if (!v)
        return RB_ERROR;
    rb_vault_err err = {{0}};
    rb_status st = rb_vault_restore_to_url(v, set_id, object, eng, url, pages, &ctx->cancel,
                                           get_progress_fn, ctx, bytes, &err);
    rb_vault_session_release(ctx->vault);
    if (st != RB_OK)
        H()->set_error(ctx, "%s/%s: %s", set_id, object, err.msg);
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
    rb_http_engine *eng = engine(ctx);
    if (!eng)
        return RB_ERROR;
    uint64_t size = 0;
    char hex[65];
    rb_vault_err err = {{0}};
    rb_status st = rb_vault_url_digest(eng, url, &ctx->cancel, get_progress_fn, ctx, &size, hex,
                                       &err);
    if (st != RB_OK) {
        H()->set_error(ctx, "reading the URL: %s", err.msg);
        return st;
    }
    rb_value *m = rbv_map();
    rbv_map_set(m, "bytes", rbv_int((int64_t)size));
    rbv_map_set(m, "sha256", rbv_string(hex));
    *digest = m;
    return RB_OK;
}
