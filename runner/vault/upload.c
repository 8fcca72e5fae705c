/* Streaming upload: one reader thread reads the source in order (the
 * whole-object SHA-256 needs the bytes in order), a fixed pool of block
 * buffers carries blocks to `parallel` workers that hash each block and
 * either find it already stored (resume) or store it. Memory is
 * (parallel + 1) * block_size whatever the object size. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "vault/internal.h"

typedef struct slot {
    unsigned char *data;
    size_t len;
    uint32_t idx;
} slot;

typedef struct pipe_state {
    rb_vault_store *store;
    rb_vault_upload *up;    /* NULL: the object exists, compare instead */
    const char *store_name;
    size_t block_size;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *slots;
    int nslots;
    int *free_list, n_free;
    int *queue, q_head, q_len;
    int done_reading;
    rb_status st;
    rb_vault_err err;
    char (*blocks)[65];
    size_t cap_blocks;
    rb_vault_stream_stats stats;
} pipe_state;

static void set_error(pipe_state *p, rb_status st, const rb_vault_err *e)
{
    if (p->st == RB_OK) {
        p->st = st;
        if (e)
            p->err = *e;
    }
    pthread_cond_broadcast(&p->cv);
}

/* Compare mode: the object was committed by an earlier attempt. */
static int existing_has_block(pipe_state *p, uint32_t idx, const char sha[65], size_t len)
{
    unsigned char *buf = rb_xmalloc(len ? len : 1);
    size_t got = 0;
    int ok = 0;
    if (p->store->ops->get(p->store, p->store_name, (uint64_t)idx * p->block_size, buf, len,
                           &got, NULL) == RB_OK && got == len) {
        char have[65];
        rb_sha256_hex(buf, len, have);
        ok = strcmp(have, sha) == 0;
    }
    free(buf);
    return ok;
}

static void *worker(void *arg)
{
    pipe_state *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->q_len == 0 && !p->done_reading && p->st == RB_OK)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->q_len == 0 || p->st != RB_OK) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        int si = p->queue[p->q_head];
        p->q_head = (p->q_head + 1) % p->nslots;
        p->q_len--;
        pthread_mutex_unlock(&p->mu);

        slot *s = &p->slots[si];
        char sha[65];
        rb_sha256_hex(s->data, s->len, sha);
        int reused;
        rb_status st = RB_OK;
        rb_vault_err e = {{0}};
        if (p->up) {
            reused = p->store->ops->upload_has_block(p->up, s->idx, sha, s->len);
            if (!reused)
                st = p->store->ops->upload_put_block(p->up, s->idx, s->data, s->len, sha, &e);
        } else {
            reused = existing_has_block(p, s->idx, sha, s->len);
            if (!reused)
                st = rb_vault_fail(&e, RB_ECONFLICT,
                                   "%s already exists with other content (block %u differs); "
                                   "the vault never overwrites", p->store_name, s->idx);
        }
        pthread_mutex_lock(&p->mu);
        memcpy(p->blocks[s->idx], sha, 65);
        p->stats.blocks++;
        if (reused) {
            p->stats.blocks_reused++;
            p->stats.bytes_reused += s->len;
        } else if (st == RB_OK) {
            p->stats.bytes_sent += s->len;
        }
        if (st != RB_OK)
            set_error(p, st, &e);
        p->free_list[p->n_free++] = si;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

typedef struct file_reader {
    int fd;
    const char *path;
} file_reader;

static rb_status read_file(void *user, void *buf, size_t cap, size_t *got)
{
    file_reader *f = user;
    for (;;) {
        ssize_t n = read(f->fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return RB_EIO;
        *got = (size_t)n;
        return RB_OK;
    }
}

rb_status rb_vault_stream_object(rb_vault_store *s, const char *store_name,
                                 const rb_vault_source *src, size_t block_size, int parallel,
                                 rb_vault_progress_fn progress, void *progress_user,
                                 rb_vault_object_meta *meta, rb_vault_stream_stats *stats,
                                 rb_vault_err *err)
{
    memset(meta, 0, sizeof *meta);
    if (parallel <= 0)
        parallel = 4;
    if (parallel > 64)
        parallel = 64;
    file_reader fr = {.fd = -1, .path = src->path};
    rb_vault_read_fn read = src->read;
    void *user = src->user;
    uint64_t total = src->size;
    if (src->path) {
        fr.fd = open(src->path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fr.fd < 0)
            return rb_vault_fail(err, RB_EIO, "cannot read the source %s: %s", src->path,
                                 strerror(errno));
        if (fstat(fr.fd, &sb) != 0 || S_ISDIR(sb.st_mode)) {
            close(fr.fd);
            return rb_vault_fail(err, RB_EIO, "cannot read the source %s: %s", src->path,
                                 S_ISDIR(sb.st_mode) ? "it is a directory" : strerror(errno));
        }
        if (S_ISREG(sb.st_mode))
            total = (uint64_t)sb.st_size;
        read = read_file;
        user = &fr;
    }
    if (!read)
        return rb_vault_fail(err, RB_EINVAL, "source %s has neither a path nor a reader",
                             src->name);

    pipe_state p;
    memset(&p, 0, sizeof p);
    p.store = s;
    p.store_name = store_name;
    p.block_size = block_size;
    rb_vault_err e = {{0}};
    rb_status st = s->ops->upload_begin(s, store_name, total ? total : UINT64_MAX, block_size,
                                        &p.up, &e);
    if (st == RB_EEXISTS) {
        p.up = NULL; /* compare mode */
    } else if (st != RB_OK) {
        if (fr.fd >= 0)
            close(fr.fd);
        *err = e;
        return st;
    }
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    p.nslots = parallel + 1;
    p.slots = rb_xcalloc((size_t)p.nslots, sizeof *p.slots);
    p.free_list = rb_xcalloc((size_t)p.nslots, sizeof *p.free_list);
    p.queue = rb_xcalloc((size_t)p.nslots, sizeof *p.queue);
    for (int i = 0; i < p.nslots; i++) {
        p.slots[i].data = rb_xmalloc(block_size);
        p.free_list[p.n_free++] = i;
    }
    pthread_t *th = rb_xcalloc((size_t)parallel, sizeof *th);
    for (int i = 0; i < parallel; i++)
        pthread_create(&th[i], NULL, worker, &p);

    EVP_MD_CTX *whole = EVP_MD_CTX_new();
    if (!whole || EVP_DigestInit_ex(whole, rb_sha256(), NULL) != 1)
        rb_die_oom();
    uint64_t done = 0;
    uint32_t idx = 0;
    int eof = 0;
    while (!eof) {
        pthread_mutex_lock(&p.mu);
        while (p.n_free == 0 && p.st == RB_OK)
            pthread_cond_wait(&p.cv, &p.mu);
        if (p.st != RB_OK) {
            pthread_mutex_unlock(&p.mu);
            break;
        }
        int si = p.free_list[--p.n_free];
        if (idx >= p.cap_blocks) {
            p.cap_blocks = p.cap_blocks ? p.cap_blocks * 2 : 64;
            p.blocks = rb_xrealloc(p.blocks, p.cap_blocks * sizeof *p.blocks);
        }
        pthread_mutex_unlock(&p.mu);

        slot *sl = &p.slots[si];
        size_t len = 0;
        rb_status rst = RB_OK;
        while (len < block_size) {
            size_t got = 0;
            rst = read(user, sl->data + len, block_size - len, &got);
            if (rst != RB_OK || got == 0)
                break;
            len += got;
        }
        if (rst != RB_OK) {
            rb_vault_err re;
            rb_vault_fail(&re, rst, "cannot read the source %s at byte %llu: %s",
                          src->path ? src->path : src->name,
                          (unsigned long long)(done + len),
                          src->path ? strerror(errno) : rb_status_name(rst));
            pthread_mutex_lock(&p.mu);
            p.free_list[p.n_free++] = si;
            set_error(&p, rst, &re);
            pthread_mutex_unlock(&p.mu);
            break;
        }
        if (len < block_size)
            eof = 1;
        if (len == 0) {
            pthread_mutex_lock(&p.mu);
            p.free_list[p.n_free++] = si;
            pthread_mutex_unlock(&p.mu);
            break;
        }
        EVP_DigestUpdate(whole, sl->data, len);
        sl->len = len;
        sl->idx = idx++;
        done += len;
        pthread_mutex_lock(&p.mu);
        p.queue[(p.q_head + p.q_len) % p.nslots] = si;
        p.q_len++;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        if (progress && progress(progress_user, src->name, done, total)) {
            rb_vault_err ce;
            rb_vault_fail(&ce, RB_ECANCELED, "upload of %s cancelled", src->name);
            pthread_mutex_lock(&p.mu);
            set_error(&p, RB_ECANCELED, &ce);
            pthread_mutex_unlock(&p.mu);
            break;
        }
    }
    pthread_mutex_lock(&p.mu);
    p.done_reading = 1;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    for (int i = 0; i < parallel; i++)
        pthread_join(th[i], NULL);
    free(th);

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(whole, md, &mdlen);
    EVP_MD_CTX_free(whole);
    st = p.st;
    if (st == RB_OK && p.up)
        st = s->ops->upload_commit(p.up, idx, done, &p.err);
    if (p.up)
        s->ops->upload_free(p.up, 1);
    if (st == RB_OK) {
        meta->size = done;
        meta->block_size = block_size;
        meta->n_blocks = idx;
        meta->blocks = rb_xcalloc(idx ? idx : 1, sizeof *meta->blocks);
        memcpy(meta->blocks, p.blocks, idx * sizeof *meta->blocks);
        rb_hex(md, 32, meta->sha256);
        stats->bytes += done;
    } else {
        *err = p.err;
    }
    stats->bytes_sent += p.stats.bytes_sent;
    stats->bytes_reused += p.stats.bytes_reused;
    stats->blocks += p.stats.blocks;
    stats->blocks_reused += p.stats.blocks_reused;
    for (int i = 0; i < p.nslots; i++)
        free(p.slots[i].data);
    free(p.slots);
    free(p.free_list);
    free(p.queue);
    free(p.blocks);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    if (fr.fd >= 0)
        close(fr.fd);
    return st;
}
