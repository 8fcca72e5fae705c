/* Parallel block upload and ranged download with a fixed pool of buffers:
 * `parallel` workers, each owning one block-sized buffer for the whole
 * transfer, so memory stays at parallel * block_size whatever the blob
 * size. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "internal.h"

#define DEFAULT_BLOCK (4u * 1024u * 1024u)
#define DEFAULT_PARALLEL 4
#define MAX_BLOCKS 50000 /* the service's limit per blob */

typedef struct transfer {
    rb_blob_client *c;
    const char *container, *blob;
    uint64_t size;
    size_t block;
    uint64_t nblocks;
    rb_blob_read_at_fn read_at;
    rb_blob_write_at_fn write_at;
    void *user;
    const rb_blob_transfer_opts *opts;
    int stop; /* first failure stops the others (under lock) */
    pthread_mutex_t lock;
    uint64_t next;
    rb_status st;
    rb_az_err err;
    char (*ids)[32];
} transfer;

static void fail(transfer *t, rb_status st, const rb_az_err *e)
{
    pthread_mutex_lock(&t->lock);
    if (t->st == RB_OK) {
        t->st = st;
        if (e)
            t->err = *e;
    }
    t->stop = 1;
    pthread_mutex_unlock(&t->lock);
}

static int take(transfer *t, uint64_t *idx)
{
    pthread_mutex_lock(&t->lock);
    int ok = !t->stop && t->next < t->nblocks;
    if (ok)
        *idx = t->next++;
    pthread_mutex_unlock(&t->lock);
    return ok;
}

static int is_cancelled(const transfer *t)
{
    return t->opts->call.cancel && atomic_load(t->opts->call.cancel);
}

static void *upload_worker(void *arg)
{
    transfer *t = arg;
    char *buf = malloc(t->block);
    if (!buf) {
        rb_az_err e;
        rb_az_err_clear(&e);
        fail(t, rb_az_fail(&e, RB_ENOMEM, "out of memory for an upload buffer"), &e);
        return NULL;
    }
    uint64_t i;
    while (take(t, &i)) {
        rb_az_err e;
        rb_az_err_clear(&e);
        if (is_cancelled(t)) {
            fail(t, rb_az_fail(&e, RB_ECANCELED, "upload cancelled"), &e);
            break;
        }
        uint64_t off = i * t->block;
        size_t len = (size_t)(t->size - off < t->block ? t->size - off : t->block);
        rb_status st = t->read_at(t->user, off, buf, len);
        if (st != RB_OK) {
            fail(t, rb_az_fail(&e, st, "reading the upload source at offset %llu failed",
                               (unsigned long long)off),
                 &e);
            break;
        }
        st = rb_blob_put_block(t->c, t->container, t->blob, t->ids[i], buf, len, &t->opts->call,
                               &e);
        if (st != RB_OK) {
            fail(t, st, &e);
            break;
        }
    }
    free(buf);
    return NULL;
}

static void *download_worker(void *arg)
{
    transfer *t = arg;
    char *buf = malloc(t->block);
    if (!buf) {
        rb_az_err e;
        rb_az_err_clear(&e);
        fail(t, rb_az_fail(&e, RB_ENOMEM, "out of memory for a download buffer"), &e);
        return NULL;
    }
    uint64_t i;
    while (take(t, &i)) {
        rb_az_err e;
        rb_az_err_clear(&e);
        if (is_cancelled(t)) {
            fail(t, rb_az_fail(&e, RB_ECANCELED, "download cancelled"), &e);
            break;
        }
        uint64_t off = i * t->block;
        size_t len = (size_t)(t->size - off < t->block ? t->size - off : t->block);
        size_t got = 0;
        rb_status st = rb_blob_get_into(t->c, t->container, t->blob, off, len, buf, t->block,
                                        &t->opts->call, &got, &e);
        if (st == RB_OK && got != len)
            st = rb_az_fail(&e, RB_EPROTO, "range at %llu: expected %zu bytes, got %zu",
                            (unsigned long long)off, len, got);
        if (st == RB_OK) {
            st = t->write_at(t->user, off, buf, got);
            if (st != RB_OK)
                rb_az_fail(&e, st, "writing the download at offset %llu failed",
                           (unsigned long long)off);
        }
        if (st != RB_OK) {
            fail(t, st, &e);
            break;
        }
    }
    free(buf);
    return NULL;
}

static rb_status run_workers(transfer *t, void *(*fn)(void *), rb_az_err *err)
{
    int n = t->opts->parallel > 0 ? t->opts->parallel : DEFAULT_PARALLEL;
    if ((uint64_t)n > t->nblocks)
        n = (int)(t->nblocks ? t->nblocks : 1);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    if (!th)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    int started = 0;
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, fn, t) != 0)
            break;
    if (started == 0) {
        free(th);
        return rb_az_fail(err, RB_ERROR, "cannot start transfer threads");
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    if (t->st != RB_OK && err)
        *err = t->err;
    return t->st;
}

rb_status rb_blob_upload(rb_blob_client *c, const char *container, const char *blob,
                         uint64_t size, rb_blob_read_at_fn read_at, void *user,
                         const rb_blob_transfer_opts *opts, rb_az_err *err)
{
    rb_blob_transfer_opts o = {0};
    if (opts)
        o = *opts;
    size_t block = o.block_size ? o.block_size : DEFAULT_BLOCK;
    if (size <= block) {
        char *buf = malloc(size ? size : 1);
        if (!buf)
            return rb_az_fail(err, RB_ENOMEM, "out of memory");
        rb_status st = size ? read_at(user, 0, buf, (size_t)size) : RB_OK;
        if (st != RB_OK)
            rb_az_fail(err, st, "reading the upload source failed");
        else
            st = rb_blob_put(c, container, blob, buf, (size_t)size, o.content_type, o.overwrite,
                             &o.call, NULL, err);
        free(buf);
        return st;
    }
    transfer t = {.c = c, .container = container, .blob = blob, .size = size, .block = block,
                  .read_at = read_at, .user = user, .opts = &o};
    t.nblocks = (size + block - 1) / block;
    if (t.nblocks > MAX_BLOCKS)
        return rb_az_fail(err, RB_EINVAL, "%llu blocks exceed the limit of %d: use larger blocks",
                          (unsigned long long)t.nblocks, MAX_BLOCKS);
    t.ids = calloc((size_t)t.nblocks, sizeof *t.ids);
    const char **idv = calloc((size_t)t.nblocks, sizeof *idv);
    if (!t.ids || !idv) {
        free(t.ids);
        free(idv);
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
    for (uint64_t i = 0; i < t.nblocks; i++) {
        snprintf(t.ids[i], sizeof t.ids[i], "blk-%010llu", (unsigned long long)i);
        idv[i] = t.ids[i];
    }
    pthread_mutex_init(&t.lock, NULL);
    rb_az_err_clear(&t.err);
    rb_status st = run_workers(&t, upload_worker, err);
    if (st == RB_OK)
        st = rb_blob_put_block_list(c, container, blob, idv, (size_t)t.nblocks, o.content_type,
                                    o.overwrite, &o.call, err);
    pthread_mutex_destroy(&t.lock);
    free(idv);
    free(t.ids);
    return st;
}

rb_status rb_blob_download(rb_blob_client *c, const char *container, const char *blob,
                           rb_blob_write_at_fn write_at, void *user,
                           const rb_blob_transfer_opts *opts, uint64_t *size, rb_az_err *err)
{
    rb_blob_transfer_opts o = {0};
    if (opts)
        o = *opts;
    rb_blob_props p;
    rb_status st = rb_blob_get_properties(c, container, blob, &o.call, &p, err);
    if (st != RB_OK)
        return st;
    if (size)
        *size = p.size;
    if (p.size == 0)
        return RB_OK;
    transfer t = {.c = c, .container = container, .blob = blob, .size = p.size,
                  .block = o.block_size ? o.block_size : DEFAULT_BLOCK, .write_at = write_at,
                  .user = user, .opts = &o};
    t.nblocks = (p.size + t.block - 1) / t.block;
    pthread_mutex_init(&t.lock, NULL);
    rb_az_err_clear(&t.err);
    st = run_workers(&t, download_worker, err);
    pthread_mutex_destroy(&t.lock);
    return st;
}
