/* The local directory backend: the vault's embedded default.
 *
 * Never overwrite: every object is written under a temporary name, fsync'd,
 * made read-only and link()ed into place; link() fails with EEXIST when the
 * name exists, so two writers cannot replace each other's object. The
 * directory is fsync'd after the link.
 *
 * Resume: a large object is written into .staging/<sha of name>.part with
 * pwrite(), and every block that reached the file is appended to a journal
 * (.journal: "index sha256 length" per line). After a crash the journal says
 * which blocks to look at; a block counts as present only if re-reading it
 * from the partial file gives the source block's hash, so a torn write or a
 * journal line ahead of its data is simply sent again. A torn last journal
 * line is ignored. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "vault/store.h"

typedef struct local_store {
    rb_vault_store base;
    char *root;
} local_store;

typedef struct journal_entry {
    char sha[65];
    size_t len;
    int present;
} journal_entry;

struct rb_vault_upload {
    local_store *s;
    char *name, *final_path, *part_path, *journal_path;
    int part_fd, journal_fd;
    size_t block_size;
    pthread_mutex_t mu;
    journal_entry *entries;
    size_t n_entries;
};

rb_status rb_vault_fail(rb_vault_err *err, rb_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

static int valid_name(const char *name)
{
    if (!name || !*name || name[0] == '/' || name[0] == '.')
        return 0;
    for (const char *p = name; *p; p++) {
        if (p[0] == '/' && (p[1] == '/' || p[1] == '.' || p[1] == '\0'))
            return 0;
        if ((unsigned char)*p < 0x20)
            return 0;
    }
    return 1;
}

static char *path_of(local_store *s, const char *name)
{
    return rb_xasprintf("%s/%s", s->root, name);
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int mkdir_parent(const char *path)
{
    char *dir = rb_xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash) {
        *slash = '\0';
        rc = rb_mkdir_p(dir);
    }
    free(dir);
    return rc;
}

static char *dir_of(const char *path)
{
    char *dir = rb_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    return dir;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Links tmp (already fsync'd and read-only) to final; never replaces. */
static rb_status link_into_place(const char *tmp, const char *final, const char *name,
                                 rb_vault_err *err)
{
    if (mkdir_parent(final) != 0)
        return rb_vault_fail(err, RB_EIO, "cannot create the directory for %s: %s", final,
                             strerror(errno));
    if (link(tmp, final) != 0) {
        int e = errno;
        if (e == EEXIST)
            return rb_vault_fail(err, RB_EEXISTS,
                                 "vault object %s already exists; the vault never overwrites",
                                 name);
        return rb_vault_fail(err, RB_EIO, "cannot link %s into place: %s", final, strerror(e));
    }
    char *dir = dir_of(final);
    int rc = fsync_dir(dir);
    free(dir);
    if (rc != 0)
        return rb_vault_fail(err, RB_EIO, "cannot fsync the directory of %s: %s", final,
                             strerror(errno));
    return RB_OK;
}

static rb_status local_put_once(rb_vault_store *bs, const char *name, const void *data,
                                size_t len, rb_vault_err *err)
{
    local_store *s = (local_store *)bs;
    if (!valid_name(name))
        return rb_vault_fail(err, RB_EINVAL, "invalid vault object name \"%s\"", name);
    char *final = path_of(s, name);
    char *tmp = rb_xasprintf("%s/tmp-XXXXXX", s->base.state_dir);
    rb_status st = RB_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = rb_vault_fail(err, RB_EIO, "cannot create a temporary file in %s: %s",
                           s->base.state_dir, strerror(errno));
        goto out;
    }
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0 || fchmod(fd, 0444) != 0) {
        st = rb_vault_fail(err, RB_EIO, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    st = link_into_place(tmp, final, name, err);
    unlink(tmp);
out:
    free(tmp);
    free(final);
    return st;
}

/* ---- resumable uploads ---------------------------------------------------- */

static void journal_load(rb_vault_upload *u)
{
    FILE *f = fopen(u->journal_path, "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned long idx;
        char sha[65];
        size_t len;
        /* A torn last line (no newline, short hash) is ignored. */
        if (!strchr(line, '\n') || sscanf(line, "%lu %64[0-9a-f] %zu", &idx, sha, &len) != 3 ||
            strlen(sha) != 64 || idx > UINT32_MAX || len > u->block_size)
            continue;
        if (idx >= u->n_entries) {
            size_t n = idx + 1;
            u->entries = rb_xrealloc(u->entries, n * sizeof *u->entries);
            memset(u->entries + u->n_entries, 0, (n - u->n_entries) * sizeof *u->entries);
            u->n_entries = n;
        }
        memcpy(u->entries[idx].sha, sha, 65);
        u->entries[idx].len = len;
        u->entries[idx].present = 1;
    }
    fclose(f);
}

static rb_status local_upload_begin(rb_vault_store *bs, const char *name, uint64_t size,
                                    size_t block_size, rb_vault_upload **out, rb_vault_err *err)
{
    (void)size;
    local_store *s = (local_store *)bs;
    *out = NULL;
    if (!valid_name(name))
        return rb_vault_fail(err, RB_EINVAL, "invalid vault object name \"%s\"", name);
    rb_vault_upload *u = rb_xcalloc(1, sizeof *u);
    u->s = s;
    u->name = rb_xstrdup(name);
    u->block_size = block_size;
    u->final_path = path_of(s, name);
    u->part_fd = u->journal_fd = -1;
    pthread_mutex_init(&u->mu, NULL);
    struct stat sb;
    if (lstat(u->final_path, &sb) == 0) {
        s->base.ops->upload_free(u, 1);
        return rb_vault_fail(err, RB_EEXISTS,
                             "vault object %s already exists; the vault never overwrites", name);
    }
    char key[65];
    rb_sha256_hex(name, strlen(name), key);
    u->part_path = rb_xasprintf("%s/%s.part", s->base.state_dir, key);
    u->journal_path = rb_xasprintf("%s/%s.journal", s->base.state_dir, key);
    u->part_fd = open(u->part_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (u->part_fd < 0)
        goto io_error;
    /* A journal written with another block size describes other blocks. */
    char hdr[64];
    snprintf(hdr, sizeof hdr, "# block_size %zu\n", block_size);
    FILE *jf = fopen(u->journal_path, "r");
    int same = 0;
    if (jf) {
        char line[64];
        same = fgets(line, sizeof line, jf) && strcmp(line, hdr) == 0;
        fclose(jf);
    }
    if (same)
        journal_load(u);
    u->journal_fd = open(u->journal_path,
                         O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (same ? 0 : O_TRUNC), 0644);
    if (u->journal_fd < 0)
        goto io_error;
    if (!same && write_all(u->journal_fd, hdr, strlen(hdr)) != 0)
        goto io_error;
    *out = u;
    return RB_OK;
io_error: {
    int e = errno;
    rb_vault_fail(err, RB_EIO, "cannot prepare the upload of %s in %s: %s", name,
                  s->base.state_dir, strerror(e));
    s->base.ops->upload_free(u, 1);
    return RB_EIO;
}
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return 0;
}

static int local_upload_has_block(rb_vault_upload *u, uint32_t idx, const char sha[65],
                                  size_t len)
{
    pthread_mutex_lock(&u->mu);
    int candidate = idx < u->n_entries && u->entries[idx].present &&
                    u->entries[idx].len == len && strcmp(u->entries[idx].sha, sha) == 0;
    pthread_mutex_unlock(&u->mu);
    if (!candidate)
        return 0;
    /* Trust the data, not the journal: re-read and hash. */
    void *buf = rb_xmalloc(len ? len : 1);
    size_t got = 0;
    int ok = 0;
    if (pread_all(u->part_fd, buf, len, (uint64_t)idx * u->block_size, &got) == 0 && got == len) {
        char have[65];
        rb_sha256_hex(buf, len, have);
        ok = strcmp(have, sha) == 0;
    }
    free(buf);
    return ok;
}

static rb_status local_upload_put_block(rb_vault_upload *u, uint32_t idx, const void *data,
                                        size_t len, const char sha[65], rb_vault_err *err)
{
    uint64_t off = (uint64_t)idx * u->block_size;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(u->part_fd, (const char *)data + done, len - done,
                           (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return rb_vault_fail(err, RB_EIO, "cannot write block %u of %s: %s", idx, u->name,
                                 strerror(errno));
        }
        done += (size_t)n;
    }
    char line[128];
    int n = snprintf(line, sizeof line, "%u %s %zu\n", idx, sha, len);
    /* One write() per line on an O_APPEND descriptor: lines never interleave. */
    if (write_all(u->journal_fd, line, (size_t)n) != 0)
        return rb_vault_fail(err, RB_EIO, "cannot append to %s: %s", u->journal_path,
                             strerror(errno));
    return RB_OK;
}

static rb_status local_upload_commit(rb_vault_upload *u, uint32_t n_blocks, uint64_t size,
                                     rb_vault_err *err)
{
    (void)n_blocks;
    /* Drop anything past the end (an earlier, longer attempt). */
    if (ftruncate(u->part_fd, (off_t)size) != 0 || fsync(u->part_fd) != 0 ||
        fchmod(u->part_fd, 0444) != 0)
        return rb_vault_fail(err, RB_EIO, "cannot finish %s: %s", u->part_path, strerror(errno));
    rb_status st = link_into_place(u->part_path, u->final_path, u->name, err);
    if (st != RB_OK) {
        if (fchmod(u->part_fd, 0644) != 0) {
            /* Stays read-only; a resume opens it O_RDWR as root or fails clearly. */
        }
        return st;
    }
    unlink(u->part_path);
    unlink(u->journal_path);
    fsync_dir(u->s->base.state_dir);
    return RB_OK;
}

static void local_upload_free(rb_vault_upload *u, int keep)
{
    if (!u)
        return;
    if (u->part_fd >= 0)
        close(u->part_fd);
    if (u->journal_fd >= 0)
        close(u->journal_fd);
    if (!keep && u->part_path) {
        unlink(u->part_path);
        unlink(u->journal_path);
    }
    pthread_mutex_destroy(&u->mu);
    free(u->entries);
    free(u->name);
    free(u->final_path);
    free(u->part_path);
    free(u->journal_path);
    free(u);
}

/* ---- reading, listing, deleting ------------------------------------------- */

static rb_status local_get(rb_vault_store *bs, const char *name, uint64_t off, void *buf,
                           size_t len, size_t *got, rb_vault_err *err)
{
    local_store *s = (local_store *)bs;
    *got = 0;
    if (!valid_name(name))
        return rb_vault_fail(err, RB_EINVAL, "invalid vault object name \"%s\"", name);
    char *path = path_of(s, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    rb_status st = RB_OK;
    if (fd < 0)
        st = rb_vault_fail(err, errno == ENOENT ? RB_ENOTFOUND : RB_EIO, "cannot open %s: %s",
                           name, strerror(errno));
    else if (pread_all(fd, buf, len, off, got) != 0)
        st = rb_vault_fail(err, RB_EIO, "cannot read %s: %s", name, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(path);
    return st;
}

static rb_status local_stat(rb_vault_store *bs, const char *name, uint64_t *size,
                            rb_vault_err *err)
{
    local_store *s = (local_store *)bs;
    if (!valid_name(name))
        return rb_vault_fail(err, RB_EINVAL, "invalid vault object name \"%s\"", name);
    char *path = path_of(s, name);
    struct stat sb;
    rb_status st = RB_OK;
    if (stat(path, &sb) != 0)
        st = rb_vault_fail(err, errno == ENOENT ? RB_ENOTFOUND : RB_EIO, "%s: %s", name,
                           strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = rb_vault_fail(err, RB_ECORRUPT, "%s is not a regular file", name);
    else
        *size = (uint64_t)sb.st_size;
    free(path);
    return st;
}

static int walk(local_store *s, const char *rel, const char *prefix, rb_vault_list_fn fn,
                void *user)
{
    char *dir = *rel ? path_of(s, rel) : rb_xstrdup(s->root);
    DIR *d = opendir(dir);
    free(dir);
    if (!d)
        return 0;
    int stop = 0;
    struct dirent *e;
    while (!stop && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue; /* ., .., .staging */
        char *child = *rel ? rb_xasprintf("%s/%s", rel, e->d_name) : rb_xstrdup(e->d_name);
        char *full = path_of(s, child);
        struct stat sb;
        if (lstat(full, &sb) == 0) {
            size_t cl = strlen(child), pl = strlen(prefix);
            if (S_ISDIR(sb.st_mode)) {
                /* Descend only where the prefix can still match. */
                size_t m = cl < pl ? cl : pl;
                if (strncmp(child, prefix, m) == 0)
                    stop = walk(s, child, prefix, fn, user);
            } else if (S_ISREG(sb.st_mode) && strncmp(child, prefix, pl) == 0) {
                stop = fn(user, child, (uint64_t)sb.st_size);
            }
        }
        free(full);
        free(child);
    }
    closedir(d);
    return stop;
}

static rb_status local_list(rb_vault_store *bs, const char *prefix, rb_vault_list_fn fn,
                            void *user, rb_vault_err *err)
{
    (void)err;
    walk((local_store *)bs, "", prefix ? prefix : "", fn, user);
    return RB_OK;
}

static rb_status local_del(rb_vault_store *bs, const char *name, rb_vault_err *err)
{
    local_store *s = (local_store *)bs;
    if (!valid_name(name))
        return rb_vault_fail(err, RB_EINVAL, "invalid vault object name \"%s\"", name);
    char *path = path_of(s, name);
    rb_status st = RB_OK;
    if (unlink(path) != 0) {
        st = rb_vault_fail(err, errno == ENOENT ? RB_ENOTFOUND : RB_EIO, "cannot delete %s: %s",
                           name, strerror(errno));
    } else {
        /* Remove directories left empty, up to the root. */
        char *dir = dir_of(path);
        while (strlen(dir) > strlen(s->root) && rmdir(dir) == 0) {
            char *up = dir_of(dir);
            free(dir);
            dir = up;
        }
        fsync_dir(dir);
        free(dir);
    }
    free(path);
    return st;
}

static void local_free(rb_vault_store *bs)
{
    local_store *s = (local_store *)bs;
    if (!s)
        return;
    free(s->root);
    free(s->base.state_dir);
    free(s);
}

static const rb_vault_store_ops local_ops = {
    .kind = "local",
    .put_once = local_put_once,
    .upload_begin = local_upload_begin,
    .upload_has_block = local_upload_has_block,
    .upload_put_block = local_upload_put_block,
    .upload_commit = local_upload_commit,
    .upload_free = local_upload_free,
    .get = local_get,
    .stat = local_stat,
    .list = local_list,
    .del = local_del,
    .protected_until = NULL,
    .free = local_free,
};

rb_status rb_vault_store_local_new(const char *dir, rb_vault_store **out, rb_vault_err *err)
{
    *out = NULL;
    if (!dir || !*dir)
        return rb_vault_fail(err, RB_EINVAL, "vault.path is empty");
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    local_store *s = rb_xcalloc(1, sizeof *s);
    s->base.ops = &local_ops;
    s->root = rb_xstrndup(dir, n);
    s->base.state_dir = rb_xasprintf("%s/.staging", s->root);
    if (rb_mkdir_p(s->base.state_dir) != 0) {
        rb_status st = rb_vault_fail(err, RB_EIO, "cannot create the vault directory %s: %s",
                                     s->base.state_dir, strerror(errno));
        local_free(&s->base);
        return st;
    }
    *out = &s->base;
    return RB_OK;
}
