/* Verification: every set's signature, manifest hash, that each object the
 * manifest names exists with its size, and a re-read of all blocks (or a
 * seeded sample) compared with the manifest's SHA-256. Problems are
 * collected, not fatal: the report names each missing or corrupt object. */
#include <openssl/evp.h>
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

/* splitmix64: a small, well-mixed, seedable generator for the sample. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void verify_object(rb_vault *v, const rb_vault_verify_opts *o, const char *set,
                          const rb_vault_object_meta *om, unsigned char *buf, size_t cap,
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
    EVP_MD_CTX *whole = full ? EVP_MD_CTX_new() : NULL;
    if (whole && EVP_DigestInit_ex(whole, rb_sha256(), NULL) != 1)
        rb_die_oom();
    size_t bad = 0, first_bad = 0;
    int read_failed = 0;
    for (size_t b = 0; b < om->n_blocks; b++) {
        int take = full || b == must ||
                   (double)(next_rand(&rs) % 1000000) < o->sample_pct * 10000.0;
        if (!take)
            continue;
        uint64_t off = (uint64_t)b * om->block_size;
        size_t len = (size_t)(om->size - off < om->block_size ? om->size - off : om->block_size);
        if (len > cap) {
            add_problem(r, set, om->name, "corrupt: block size %llu is beyond the limit",
                        (unsigned long long)om->block_size);
            read_failed = 1;
            break;
        }
        size_t got = 0;
        st = v->store->ops->get(v->store, name, off, buf, len, &got, &e);
        if (st != RB_OK || got != len) {
            add_problem(r, set, om->name, "unreadable at block %zu: %s", b,
                        st != RB_OK ? e.msg : "short read");
            read_failed = 1;
            break;
        }
        r->blocks_checked++;
        r->bytes_read += len;
        char sha[65];
        rb_sha256_hex(buf, len, sha);
        if (strcmp(sha, om->blocks[b]) != 0) {
            if (!bad++)
                first_bad = b;
        }
        if (whole)
            EVP_DigestUpdate(whole, buf, len);
        if (o->progress && o->progress(o->progress_user, om->name, off + len, om->size))
            break;
    }
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
                            unsigned char **buf, size_t *cap, rb_vault_verify_report *r,
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
    for (size_t i = 0; i < m->n_objects; i++) {
        const rb_vault_object_meta *om = &m->objects[i];
        size_t want = om->block_size <= (256u << 20) ? (size_t)om->block_size : (256u << 20);
        if (want > *cap) {
            free(*buf);
            *buf = rb_xmalloc(want);
            *cap = want;
        }
        verify_object(v, o, set, om, *buf, *cap, r);
    }
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
    unsigned char *buf = NULL;
    size_t cap = 0;
    rb_status st = RB_OK;
    if (o->set_id) {
        st = verify_set(v, o, o->set_id, &buf, &cap, r, err);
    } else {
        char **ids = NULL;
        size_t n = 0;
        st = rb_vault_list_sets(v, &ids, &n, err);
        for (size_t i = 0; st == RB_OK && i < n; i++)
            st = verify_set(v, o, ids[i], &buf, &cap, r, err);
        rb_vault_ids_free(ids, n);
    }
    free(buf);
    r->seconds = rb_mono_s() - t0;
    return st;
}
