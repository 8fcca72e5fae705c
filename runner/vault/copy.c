/* Server-side copy into the vault: the storage service copies the object
 * from a URL it can read (Put Block From URL), so the bytes never pass
 * through rebound; then the vault reads the stored object back, block by
 * block, to compute the per-block and whole SHA-256 of the manifest. The
 * manifest therefore describes what the vault holds, read from the vault. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "vault/internal.h"
#include "vault/manifest.h"

rb_status rb_vault_copy_object(rb_vault_store *s, const char *store_name,
                               const rb_vault_source *src, size_t block_size,
                               rb_vault_progress_fn progress, void *progress_user,
                               rb_vault_object_meta *meta, rb_vault_stream_stats *stats,
                               rb_vault_err *err)
{
    memset(meta, 0, sizeof *meta);
    uint64_t size = src->size, have = 0;
    rb_vault_err e = {{0}};
    rb_status st = s->ops->stat(s, store_name, &have, &e);
    if (st == RB_OK && have != size)
        return rb_vault_fail(err, RB_ECONFLICT,
                             "%s holds %llu bytes from an earlier attempt, the source has %llu",
                             store_name, (unsigned long long)have, (unsigned long long)size);
    if (st == RB_ENOTFOUND)
        st = s->ops->copy_from_url(s, store_name, src->copy_url, size, block_size, err);
    else if (st != RB_OK)
        return rb_vault_fail(err, st, "%s", e.msg);
    else
        stats->blocks_reused += (size + block_size - 1) / block_size; /* copied before */
    if (st != RB_OK)
        return st;

    size_t n = (size_t)((size + block_size - 1) / block_size);
    meta->size = size;
    meta->block_size = block_size;
    meta->n_blocks = n;
    meta->blocks = rb_xcalloc(n ? n : 1, sizeof *meta->blocks);
    unsigned char *buf = rb_xmalloc(block_size);
    EVP_MD_CTX *whole = EVP_MD_CTX_new();
    if (!whole || EVP_DigestInit_ex(whole, rb_sha256(), NULL) != 1)
        rb_die_oom();
    for (size_t b = 0; b < n && st == RB_OK; b++) {
        uint64_t off = (uint64_t)b * block_size;
        size_t len = (size_t)(size - off < block_size ? size - off : block_size);
        size_t got = 0;
        st = s->ops->get(s, store_name, off, buf, len, &got, err);
        if (st == RB_OK && got != len)
            st = rb_vault_fail(err, RB_ECORRUPT, "%s: read back %zu of %zu bytes at %llu",
                               store_name, got, len, (unsigned long long)off);
        if (st != RB_OK)
            break;
        rb_sha256_hex(buf, len, meta->blocks[b]);
        EVP_DigestUpdate(whole, buf, len);
        if (progress && progress(progress_user, src->name, off + len, size))
            st = rb_vault_fail(err, RB_ECANCELED, "cancelled");
    }
    if (st == RB_OK) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        EVP_DigestFinal_ex(whole, md, &mdlen);
        rb_hex(md, 32, meta->sha256);
        stats->bytes += size;
        stats->blocks += n;
    } else {
        free(meta->blocks);
        meta->blocks = NULL;
    }
    EVP_MD_CTX_free(whole);
    free(buf);
    return st;
}
