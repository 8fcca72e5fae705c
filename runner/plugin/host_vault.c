/* The backup-vault routines of the host table (ABI 1.2, and backup_put_stream
 * of 1.3): plugins write and read signed, never-overwritten backup sets only
 * through these. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "core/values.h"
#include "plugin/context.h"
#include "plugin/vault_session.h"
#include "vault/manifest.h"
#include "vault/url.h"
#include "vault/vault.h"

#define MAX_GET_BYTES (64u * 1024 * 1024)

rb_vault *rb_host_vault_acquire(rb_ctx *ctx, int write)
{
    char err[1200];
    rb_vault *v = write ? rb_vault_session_acquire(ctx->vault, err, sizeof err)
                        : rb_vault_session_acquire_shared(ctx->vault, err, sizeof err);
    if (!v)
        rb_host_api_get()->set_error(ctx, "%s", err);
    return v;
}

/* Reads an in-memory object for rb_vault_put. */
typedef struct mem_reader {
    const char *data;
    size_t len, pos;
} mem_reader;

static rb_status mem_read(void *user, void *buf, size_t cap, size_t *got)
{
    mem_reader *m = user;
    size_t n = m->len - m->pos < cap ? m->len - m->pos : cap;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    *got = n;
    return RB_OK;
}

/* Progress of a set as one total across its objects. */
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
    return rb_host_api_get()->progress(p->ctx, p->before + done, p->total);
}

/* One source of a set: a map value {url, size, server_copy} when streams
 * are allowed (backup_put_stream), else bytes or a string in memory. */
static rb_status open_source(rb_ctx *ctx, const rb_value *val, int streams, rb_vault_source *src,
                             mem_reader *mem, rb_vault_url_source **url_src)
{
    if (!streams || rbv_type(val) != RB_VMAP) {
        size_t len = 0;
        mem->data = rbv_as_bytes(val, &len);
        mem->len = mem->data ? len : 0;
        if (!mem->data)
            mem->data = "";
        src->read = mem_read;
        src->user = mem;
        src->size = mem->len;
        return RB_OK;
    }
    const char *url = rbv_map_get_string(val, "url", NULL);
    if (!url) {
        rb_host_api_get()->set_error(ctx, "backup_put_stream: object %s: a map needs a url",
                                     src->name);
        return RB_EINVAL;
    }
    rb_http_engine *eng = rb_host_engine(ctx);
    if (!eng)
        return RB_ERROR;
    rb_vault_err err = {{0}};
    rb_status st = rb_vault_url_source_open(eng, url, rbv_map_get_int(val, "size", -1),
                                            &ctx->cancel, src, url_src, &err);
    if (rbv_map_get_bool(val, "server_copy", 0))
        src->copy_url = url;
    if (st != RB_OK)
        rb_host_api_get()->set_error(ctx, "object %s: %s", src->name, err.msg);
    return st;
}

/* Writes one set: backup_put (objects in memory: one block worker, and the
 * outputs of ABI 1.2) and backup_put_stream (objects may be SAS URLs: block
 * workers, progress across the set, and each object's SHA-256 back). */
static rb_status put_set(rb_ctx *ctx, const char *source_id, const char *kind,
                         const rb_value *objects, int streams, rb_value **set)
{
    if (set)
        *set = NULL;
    size_t n = rbv_len(objects);
    if (!ctx || !source_id || !kind || rbv_type(objects) != RB_VMAP || n == 0) {
        if (ctx)
            rb_host_api_get()->set_error(ctx, "%s needs a source id, a kind and a non-empty map "
                                              "of objects",
                                         streams ? "backup_put_stream" : "backup_put");
        return RB_EINVAL;
    }
    rb_vault_source *src = rb_xcalloc(n, sizeof *src);
    mem_reader *mems = rb_xcalloc(n, sizeof *mems);
    rb_vault_url_source **urls = rb_xcalloc(n, sizeof *urls);
    rb_status st = RB_OK;
    uint64_t total = 0;
    for (size_t i = 0; i < n && st == RB_OK; i++) {
        src[i].name = rbv_map_key_at(objects, i);
        st = open_source(ctx, rbv_map_value_at(objects, i), streams, &src[i], &mems[i], &urls[i]);
        total += src[i].size;
    }
    rb_vault *v = st == RB_OK ? rb_host_vault_acquire(ctx, 1) : NULL;
    if (st == RB_OK && !v)
        st = RB_ERROR;
    /* The call's key alone would make two puts of one call (two disks
     * written from threads of one action) share a pending set on resume. */
    char *resume_key = ctx->idempotency_key ? rb_xasprintf("%s\x1f%s\x1f%s", ctx->idempotency_key,
                                                           source_id, kind)
                                            : NULL;
    char (*sums)[65] = streams ? rb_xcalloc(n, sizeof *sums) : NULL;
    if (v) {
        put_progress prog = {.ctx = ctx, .total = total};
        rb_vault_put_opts opts = {.resume_key = resume_key,
                                  .source_id = source_id,
                                  .kind = kind,
                                  .plugin = ctx->plugin,
                                  .parallel = streams ? 0 : 1,
                                  .progress = streams ? put_progress_fn : NULL,
                                  .progress_user = &prog,
                                  .object_sha256 = sums};
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
            rb_host_api_get()->set_error(ctx, "backup of %s: %s", source_id, why);
        } else if (set) {
            rb_value *m = rbv_map();
            rbv_map_set(m, "set_id", rbv_string(stats.set_id));
            rbv_map_set(m, "bytes", rbv_int((int64_t)stats.bytes));
            rbv_map_set(m, "objects", rbv_int((int64_t)n));
            rbv_map_set(m, "resumed", rbv_bool(stats.resumed));
            if (streams) {
                rbv_map_set(m, "bytes_sent", rbv_int((int64_t)stats.bytes_sent));
                rb_value *by_name = rbv_map();
                for (size_t i = 0; i < n; i++)
                    rbv_map_set(by_name, src[i].name, rbv_string(sums[i]));
                rbv_map_set(m, "sha256", by_name);
            }
            *set = m;
        }
        rb_vault_session_release(ctx->vault);
    }
    free(resume_key);
    free(sums);
    for (size_t i = 0; i < n; i++)
        rb_vault_url_source_free(urls[i]);
    free(urls);
    free(mems);
    free(src);
    return st;
}

rb_status rb_host_backup_put(rb_ctx *ctx, const char *source_id, const char *kind,
                             const rb_value *objects, rb_value **set)
{
    return put_set(ctx, source_id, kind, objects, 0, set);
}

rb_status rb_host_backup_put_stream(rb_ctx *ctx, const char *source_id, const char *kind,
                                    const rb_value *objects, rb_value **set)
{
    return put_set(ctx, source_id, kind, objects, 1, set);
}

rb_status rb_host_backup_list(rb_ctx *ctx, const char *source_id, const char *kind,
                              rb_value **sets)
{
    if (!sets)
        return RB_EINVAL;
    *sets = NULL;
    rb_vault *v = rb_host_vault_acquire(ctx, 0);
    if (!v)
        return RB_ERROR;
    char **ids = NULL;
    size_t n = 0;
    rb_vault_err err = {{0}};
    rb_status st = rb_vault_list_sets(v, &ids, &n, &err);
    rb_value *list = rbv_list();
    /* ids are sorted oldest first (they start with the time): walk back. */
    for (size_t k = n; st == RB_OK && k-- > 0;) {
        rb_vault_entry *e = NULL;
        rb_vault_err eerr = {{0}};
        if (rb_vault_entry_read(v, ids[k], &e, &eerr) != RB_OK)
            continue;
        int match = e->source_id && (!source_id || strcmp(e->source_id, source_id) == 0) &&
                    (!kind || (e->kind && strcmp(e->kind, kind) == 0));
        if (match && rb_vault_entry_check(v, e, &eerr) == RB_OK) {
            rb_value *m = rbv_map();
            rbv_map_set(m, "set_id", rbv_string(e->set_id));
            rbv_map_set(m, "created", rbv_string(e->created ? e->created : ""));
            rbv_map_set(m, "created_s", rbv_int(e->created_s));
            rbv_map_set(m, "kind", rbv_string(e->kind ? e->kind : ""));
            rbv_map_set(m, "source_id", rbv_string(e->source_id));
            rbv_map_set(m, "objects", rbv_int((int64_t)e->objects));
            rbv_map_set(m, "bytes", rbv_int((int64_t)e->bytes));
            rb_value *names = rbv_list();
            rb_vault_manifest *man = NULL;
            if (rb_vault_manifest_read(v, e, &man, &eerr) == RB_OK) {
                for (size_t o = 0; o < man->n_objects; o++)
                    rbv_list_append(names, rbv_string(man->objects[o].name));
                rb_vault_manifest_free(man);
            }
            rbv_map_set(m, "names", names);
            rbv_list_append(list, m);
        }
        rb_vault_entry_free(e);
    }
    rb_vault_ids_free(ids, n);
    rb_vault_session_release(ctx->vault);
    if (st != RB_OK) {
        rbv_free(list);
        rb_host_api_get()->set_error(ctx, "listing backups: %s", err.msg);
        return st;
    }
    *sets = list;
    return RB_OK;
}

static rb_status read_small_file(const char *path, rb_value **data)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return RB_EIO;
    rb_buf b = {0};
    char chunk[65536];
    size_t got;
    rb_status st = RB_OK;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + got > MAX_GET_BYTES) {
            st = RB_EUNSUPPORTED;
            break;
        }
        rb_buf_add(&b, chunk, got);
    }
    if (ferror(f))
        st = RB_EIO;
    fclose(f);
    if (st == RB_OK)
        *data = rbv_bytes(b.p ? b.p : "", b.len);
    rb_buf_free(&b);
    return st;
}

rb_status rb_host_backup_get(rb_ctx *ctx, const char *set_id, const char *object,
                             rb_value **data)
{
    if (!data)
        return RB_EINVAL;
    *data = NULL;
    if (!set_id || !object)
        return RB_EINVAL;
    rb_vault *v = rb_host_vault_acquire(ctx, 0);
    if (!v)
        return RB_ERROR;
    /* Restore through the checked path into a private temporary file. */
    char tmpl[] = "/tmp/rebound-backup-get-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        rb_vault_session_release(ctx->vault);
        rb_host_api_get()->set_error(ctx, "cannot create a temporary file: %s", strerror(errno));
        return RB_EIO;
    }
    close(fd);
    unlink(tmpl); /* restore refuses an existing file: it must create it */
    uint64_t bytes = 0;
    rb_vault_err err = {{0}};
    rb_status st = rb_vault_restore(v, set_id, object, tmpl, NULL, NULL, &bytes, &err);
    rb_vault_session_release(ctx->vault);
    if (st == RB_OK) {
        st = read_small_file(tmpl, data);
        if (st != RB_OK)
            rb_host_api_get()->set_error(ctx, "%s/%s: cannot read it back (%s)", set_id, object,
                                         st == RB_EUNSUPPORTED ? "over 64 MiB" : "I/O error");
    } else {
        rb_host_api_get()->set_error(ctx, "%s/%s: %s", set_id, object, err.msg);
    }
    unlink(tmpl);
    return st;
}
