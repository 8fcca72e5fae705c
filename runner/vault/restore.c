/* Restore: streams one object of a set to a writer (a file, an upload
 * target), checking every block against the signed manifest before it is
 * written and the whole hash at the end. A file that fails a check is
 * removed, never left looking complete. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "vault/internal.h"

rb_status rb_vault_restore_to(rb_vault *v, const char *set_id, const char *object,
                              rb_vault_write_fn write_fn, void *write_user,
                              rb_vault_progress_fn progress, void *progress_user,
                              uint64_t *bytes, rb_vault_err *err)
{
    if (bytes)
        *bytes = 0;
    rb_vault_entry *e = NULL;
    rb_vault_manifest *m = NULL;
    rb_status st = rb_vault_entry_read(v, set_id, &e, err);
    if (st == RB_OK)
        st = rb_vault_entry_check(v, e, err);
    if (st == RB_OK)
        st = rb_vault_manifest_read(v, e, &m, err);
    if (st != RB_OK) {
        rb_vault_entry_free(e);
        return st;
    }
    const rb_vault_object_meta *om = rb_vault_manifest_find(m, object);
    unsigned char *buf = NULL;
    EVP_MD_CTX *whole = NULL;
    char *name = NULL;
    if (!om) {
        st = rb_vault_fail(err, RB_ENOTFOUND, "set %s has no object \"%s\"", set_id, object);
        goto out;
    }
    if (om->block_size > (256u << 20)) {
        st = rb_vault_fail(err, RB_ECORRUPT, "set %s: block size of %s is beyond the limit",
                           set_id, object);
        goto out;
    }
    if (write_fn && (st = write_fn(write_user, RB_VAULT_WRITE_BEGIN, NULL, om->size, err)) != RB_OK)
        goto out;
    name = rb_vault_object_path(set_id, object);
    buf = rb_xmalloc((size_t)om->block_size);
    whole = EVP_MD_CTX_new();
    if (!whole || EVP_DigestInit_ex(whole, rb_sha256(), NULL) != 1)
        rb_die_oom();
    for (size_t b = 0; b < om->n_blocks && st == RB_OK; b++) {
        uint64_t off = (uint64_t)b * om->block_size;
        size_t len = (size_t)(om->size - off < om->block_size ? om->size - off : om->block_size);
        size_t got = 0;
        st = v->store->ops->get(v->store, name, off, buf, len, &got, err);
        if (st == RB_ENOTFOUND)
            st = rb_vault_fail(err, st, "set %s: object %s is missing", set_id, object);
        if (st != RB_OK)
            break;
        char sha[65];
        rb_sha256_hex(buf, got, sha);
        if (got != len || strcmp(sha, om->blocks[b]) != 0) {
            st = rb_vault_fail(err, RB_ECORRUPT,
                               "set %s: object %s is corrupt at block %zu (bytes %llu..%llu)",
                               set_id, object, b, (unsigned long long)off,
                               (unsigned long long)(off + len));
            break;
        }
        EVP_DigestUpdate(whole, buf, len);
        if (write_fn && (st = write_fn(write_user, off, buf, len, err)) != RB_OK)
            break;
        if (bytes)
            *bytes += len;
        if (progress && progress(progress_user, object, off + len, om->size))
            st = rb_vault_fail(err, RB_ECANCELED, "restore cancelled");
    }
    if (st == RB_OK) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        char hex[65];
        EVP_DigestFinal_ex(whole, md, &n);
        rb_hex(md, 32, hex);
        if (strcmp(hex, om->sha256) != 0)
            st = rb_vault_fail(err, RB_ECORRUPT, "set %s: object %s: whole SHA-256 differs",
                               set_id, object);
    }
    if (st == RB_OK && write_fn)
        st = write_fn(write_user, RB_VAULT_WRITE_END, NULL, om->size, err);
out:
    EVP_MD_CTX_free(whole);
    free(buf);
    free(name);
    rb_vault_manifest_free(m);
    rb_vault_entry_free(e);
    return st;
}

/* ---- into a new file -------------------------------------------------------- */

typedef struct file_writer {
    const char *path;
    int fd;
} file_writer;

static rb_status file_write(void *user, uint64_t off, const void *data, size_t len,
                            rb_vault_err *err)
{
    file_writer *f = user;
    if (off == RB_VAULT_WRITE_BEGIN) {
        f->fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (f->fd < 0)
            return rb_vault_fail(err, errno == EEXIST ? RB_EEXISTS : RB_EIO,
                                 "cannot create %s: %s", f->path, strerror(errno));
        return RB_OK;
    }
    if (off == RB_VAULT_WRITE_END)
        return fsync(f->fd) == 0 ? RB_OK
                                 : rb_vault_fail(err, RB_EIO, "cannot fsync %s: %s", f->path,
                                                 strerror(errno));
    const char *p = data;
    size_t w = 0;
    while (w < len) {
        ssize_t k = write(f->fd, p + w, len - w);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return rb_vault_fail(err, RB_EIO, "cannot write %s: %s", f->path, strerror(errno));
        w += (size_t)k;
    }
    return RB_OK;
}

rb_status rb_vault_restore(rb_vault *v, const char *set_id, const char *object, const char *to,
                           rb_vault_progress_fn progress, void *progress_user, uint64_t *bytes,
                           rb_vault_err *err)
{
    file_writer f = {.path = to, .fd = -1};
    rb_status st = rb_vault_restore_to(v, set_id, object, file_write, &f, progress,
                                       progress_user, bytes, err);
    if (f.fd >= 0) {
        close(f.fd);
        if (st != RB_OK)
            unlink(to);
    }
    return st;
}
