/* Verification: every set's signature, manifest hash, that each object the
 * manifest names exists with its size, and a re-read of all blocks (or a
 * seeded sample) compared with the manifest's SHA-256. Problems are
 * collected, not fatal: the report names each missing or corrupt object. */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "vault/internal.h"

static void add_problem(rb_vault_verify_report *r, const char *set, const char *object,
                        const char *fmt, ...) RB_FMT(4, 5);

static void add_problem(rb_vault_verify_report *r, const char *set, const char *object,
                        const char *fmt, ...)
{
    r->problems = rb_xrealloc(r->problems, (r->n_problems + 1) * sizeof *r->problems);
    rb_vault_problem *p = &r->problems[r->n_problems++];
    p->set_id = rb_xstrdup(set);
    p->object = object ? rb_xstrdup(object) : NULL;
    va_list ap;
    va_start(ap, fmt);
    p->what = rb_xvasprintf(fmt, ap);
    va_end(ap);
}

void rb_vault_verify_report_free(rb_vault_verify_report *r)
{
    for (size_t i = 0; i < r->n_problems; i++) {
        free(r->problems[i].set_id);
        free(r->problems[i].object);
        free(r->problems[i].what);
    }
    free(r->problems);
    memset(r, 0, sizeof *r);
}

/* The largest block a manifest may name: each read buffer is one block. */
#define MAX_BLOCK (256u << 20)

/* splitmix64: a small, well-mixed, seedable generator for the sample. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Parallel read-ahead: worker k reads the blocks k, k+P, k+2P... of the
 * list into its own slot and hashes them; the consumer takes them in list
 * order. Memory: P block buffers. */
typedef struct rd_slot {
    unsigned char *data;
    size_t len;
    char sha[65];
    size_t pos;     /* list position held, or SIZE_MAX when empty */
    int failed;
} rd_slot;

typedef struct block_reader {
    rb_vault *v;
    const char *name;
    const rb_vault_object_meta *om;
    const size_t *idx;
    size_t n_idx, block_cap;
    int p, stop;
    rd_slot *slots;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rb_vault_err err;
} block_reader;

typedef struct rd_worker {
    block_reader *br;
    int k;
} rd_worker;

static void *rd_main(void *arg)
{
    rd_worker *w = arg;
    block_reader *br = w->br;
    rd_slot *sl = &br->slots[w->k];
    for (size_t i = (size_t)w->k; i < br->n_idx; i += (size_t)br->p) {
        pthread_mutex_lock(&br->mu);
        while (sl->pos != SIZE_MAX && !br->stop)
            pthread_cond_wait(&br->cv, &br->mu);
        int stop = br->stop;
        pthread_mutex_unlock(&br->mu);
        if (stop)
            break;
        size_t b = br->idx[i];
        uint64_t off = (uint64_t)b * br->om->block_size;
        uint64_t left = br->om->size - off;
        size_t len = (size_t)(left < br->om->block_size ? left : br->om->block_size);
        size_t got = 0;
        rb_vault_err e;
        rb_status st = len > br->block_cap
                           ? rb_vault_fail(&e, RB_ECORRUPT, "the block size is beyond the limit")
                           : br->v->store->ops->get(br->v->store, br->name, off, sl->data, len,
                                                    &got, &e);
        if (st == RB_OK && got != len)
            st = rb_vault_fail(&e, RB_ECORRUPT, "short read (%zu of %zu bytes)", got, len);
        if (st == RB_OK)
            rb_sha256_hex(sl->data, len, sl->sha);
        pthread_mutex_lock(&br->mu);
        sl->len = len;
        sl->failed = st != RB_OK;
        if (st != RB_OK && !br->err.msg[0])
            br->err = e;
        sl->pos = i;
        pthread_cond_broadcast(&br->cv);
        pthread_mutex_unlock(&br->mu);
        if (st != RB_OK)
            break;
    }
    free(w);
    return NULL;
}

static void read_blocks(block_reader *br, int p)
{
    if (p > 16)
        p = 16;
    br->p = p;
    br->err.msg[0] = '\0';
    pthread_mutex_init(&br->mu, NULL);
    pthread_cond_init(&br->cv, NULL);
    br->slots = rb_xcalloc((size_t)p, sizeof *br->slots);
    br->th = rb_xcalloc((size_t)p, sizeof *br->th);
    size_t want = br->om->block_size < br->block_cap ? (size_t)br->om->block_size : br->block_cap;
    for (int k = 0; k < p; k++) {
        br->slots[k].pos = SIZE_MAX;
        br->slots[k].data = rb_xmalloc(want ? want : 1);
    }
    for (int k = 0; k < p; k++) {
        rd_worker *w = rb_xmalloc(sizeof *w);
        w->br = br;
        w->k = k;
        pthread_create(&br->th[k], NULL, rd_main, w);
    }
}

/* The slot holding list position i, or NULL when its read failed. */
static rd_slot *take_block(block_reader *br, size_t i)
{
    rd_slot *sl = &br->slots[i % (size_t)br->p];
    pthread_mutex_lock(&br->mu);
    while (sl->pos != i)
        pthread_cond_wait(&br->cv, &br->mu);
    int failed = sl->failed;
    pthread_mutex_unlock(&br->mu);
    return failed ? NULL : sl;
}

static void give_back(block_reader *br, size_t i)
{
    pthread_mutex_lock(&br->mu);
    br->slots[i % (size_t)br->p].pos = SIZE_MAX;
    pthread_cond_broadcast(&br->cv);
    pthread_mutex_unlock(&br->mu);
}

static void finish_blocks(block_reader *br)
{
    pthread_mutex_lock(&br->mu);
    br->stop = 1;
    for (int k = 0; k < br->p; k++)
        br->slots[k].pos = SIZE_MAX;
    pthread_cond_broadcast(&br->cv);
    pthread_mutex_unlock(&br->mu);
    for (int k = 0; k < br->p; k++)
        pthread_join(br->th[k], NULL);
    for (int k = 0; k < br->p; k++)
        free(br->slots[k].data);
    free(br->slots);
    free(br->th);
    pthread_mutex_destroy(&br->mu);
    pthread_cond_destroy(&br->cv);
}

static void verify_object(rb_vault *v, const rb_vault_verify_opts *o, const char *set,
                          const rb_vault_object_meta *om,
                          rb_vault_verify_report *r)
{
    char *name = rb_vault_object_path(set, om->name);
    uint64_t size = 0;
    rb_vault_err e;
    rb_status st = v->store->ops->stat(v->store, name, &size, &e);
    r->objects++;
    r->blocks_total += om->n_blocks;
    if (st == RB_ENOTFOUND) {
        add_problem(r, set, om->name, "missing: %s is not in the vault", name);
        goto out;
    }
    if (st != RB_OK) {
        add_problem(r, set, om->name, "unreadable: %s", e.msg);
        goto out;
    }
    if (size != om->size) {
        add_problem(r, set, om->name, "corrupt: %llu bytes, the manifest says %llu",
                    (unsigned long long)size, (unsigned long long)om->size);
        goto out;
    }
    int full = o->sample_pct <= 0 || o->sample_pct >= 100;
    uint64_t rs = o->seed;
    char key[65];
    char *sk = rb_xasprintf("%s/%s", set, om->name);
    rb_sha256_hex(sk, strlen(sk), key);
    free(sk);
    for (int i = 0; i < 8; i++)
        rs ^= (uint64_t)(unsigned char)key[i] << (8 * i);
    /* At least one block of every object is read in a sample. */
    size_t must = om->n_blocks ? (size_t)(next_rand(&rs) % om->n_blocks) : 0;
    EVP_MD_CTX *whole = full && o->whole_hash ? EVP_MD_CTX_new() : NULL;
    if (whole && EVP_DigestInit_ex(whole, rb_sha256(), NULL) != 1)
        rb_die_oom();
    /* The blocks to read, in order. */
    size_t *idx = rb_xcalloc(om->n_blocks ? om->n_blocks : 1, sizeof *idx);
    size_t n_idx = 0;
    for (size_t b = 0; b < om->n_blocks; b++)
        if (full || b == must ||
            (double)(next_rand(&rs) % 1000000) < o->sample_pct * 10000.0)
            idx[n_idx++] = b;
    block_reader br = {.v = v, .name = name, .om = om, .idx = idx, .n_idx = n_idx,
                       .block_cap = MAX_BLOCK};
    size_t bad = 0, first_bad = 0;
    int read_failed = 0;
    if (full && v->store->ops->get_stream && om->n_blocks && om->block_size &&
        om->block_size <= MAX_BLOCK) {
        rb_vault_stream_check c = {.report = r};
        rb_vault_err se = {{0}};
        rb_status sst = rb_vault_verify_stream(v, o, name, om, whole, &c, &se);
        bad = c.bad;
        first_bad = c.first_bad;
        if (c.stopped) {
            read_failed = 1;
        } else if (sst != RB_OK) {
            add_problem(r, set, om->name, "unreadable at block %zu: %s", c.failed_block, se.msg);
            read_failed = 1;
        }
        n_idx = br.n_idx = 0;
    } else {
        read_blocks(&br, o->parallel > 0 ? o->parallel : 4);
    }
    for (size_t i = 0; i < n_idx; i++) {
        /* Consumed in order: the whole-object hash needs the bytes in order. */
        rd_slot *sl = take_block(&br, i);
        if (!sl) {
            add_problem(r, set, om->name, "unreadable at block %zu: %s", idx[i], br.err.msg);
            read_failed = 1;
            break;
        }
        size_t b = idx[i];
        r->blocks_checked++;
        r->bytes_read += sl->len;
        if (strcmp(sl->sha, om->blocks[b]) != 0) {
            if (!bad++)
                first_bad = b;
        }
        if (whole)
            EVP_DigestUpdate(whole, sl->data, sl->len);
        uint64_t end = (uint64_t)b * om->block_size + sl->len;
        give_back(&br, i);
        if (o->progress && o->progress(o->progress_user, om->name, end, om->size)) {
            read_failed = 1;
            break;
        }
    }
    if (br.th)
        finish_blocks(&br);
    free(idx);
    if (bad)
        add_problem(r, set, om->name,
                    "corrupt: %zu block(s) do not match their SHA-256, first block %zu "
                    "(bytes %llu..%llu)", bad, first_bad,
                    (unsigned long long)first_bad * om->block_size,
                    (unsigned long long)(first_bad + 1) * om->block_size);
    if (whole) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_DigestFinal_ex(whole, md, &n);
        EVP_MD_CTX_free(whole);
        char hex[65];
        rb_hex(md, 32, hex);
        if (!bad && !read_failed && strcmp(hex, om->sha256) != 0)
            add_problem(r, set, om->name, "corrupt: the whole-object SHA-256 differs");
    }
out:
    free(name);
}

static rb_status verify_set(rb_vault *v, const rb_vault_verify_opts *o, const char *set,
                            rb_vault_verify_report *r,
                            rb_vault_err *err)
{
    rb_vault_entry *e = NULL;
    rb_vault_err pe;
    rb_status st = rb_vault_entry_read(v, set, &e, &pe);
    r->sets++;
    if (st == RB_ENOTFOUND && o->set_id)
        return rb_vault_fail(err, st, "%s", pe.msg);
    if (st != RB_OK) {
        add_problem(r, set, NULL, "catalog entry: %s", pe.msg);
        return RB_OK;
    }
    st = rb_vault_entry_check(v, e, &pe);
    if (st == RB_EINVAL) {
        rb_vault_entry_free(e);
        return rb_vault_fail(err, st, "%s", pe.msg);
    }
    if (st != RB_OK)
        add_problem(r, set, NULL, "bad signature: %s", pe.msg);
    rb_vault_manifest *m = NULL;
    st = rb_vault_manifest_read(v, e, &m, &pe);
    if (st != RB_OK) {
        add_problem(r, set, "manifest.json", "%s", pe.msg);
        rb_vault_entry_free(e);
        return RB_OK;
    }
    for (size_t i = 0; i < m->n_objects; i++)
        verify_object(v, o, set, &m->objects[i], r);
    rb_vault_manifest_free(m);
    rb_vault_entry_free(e);
    return RB_OK;
}

rb_status rb_vault_verify(rb_vault *v, const rb_vault_verify_opts *o,
                          rb_vault_verify_report *r, rb_vault_err *err)
{
    rb_vault_verify_opts none;
    memset(&none, 0, sizeof none);
    if (!o)
        o = &none;
    memset(r, 0, sizeof *r);
    double t0 = rb_mono_s();
    if (!rb_vault_verify_key(v))
        return rb_vault_fail(err, RB_EINVAL, "verification needs vault.public_key_file (or "
                             "the signing key)");
    rb_status st = RB_OK;
    if (o->set_id) {
        st = verify_set(v, o, o->set_id, r, err);
    } else {
        char **ids = NULL;
        size_t n = 0;
        st = rb_vault_list_sets(v, &ids, &n, err);
        for (size_t i = 0; st == RB_OK && i < n; i++)
            st = verify_set(v, o, ids[i], r, err);
        rb_vault_ids_free(ids, n);
    }
    r->seconds = rb_mono_s() - t0;
    return st;
}
