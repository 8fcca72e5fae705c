#include "engine/journal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/redact_json.h"
#include "core/util.h"

struct rb_journal {
    int fd;
    pthread_mutex_t lock;
    rb_buf pending;        /* appended, not yet written */
    int durable_pending;   /* a durable record is not yet fsync'd */
    int dirty;             /* written but not fsync'd */
    int64_t last_sync_ms;
    int failed;
    long syncs;
    /* Group commit of durable appends from worker threads: records are
     * numbered as they are appended; synced is the last one known durable.
     * While `syncing`, one caller writes and fsyncs outside the lock and
     * nobody else writes, so records reach the file in order. */
    uint64_t seq, synced;
    int syncing;
    pthread_cond_t synced_cond;
};

static rb_journal *journal_new(int fd)
{
    rb_journal *j = rb_xcalloc(1, sizeof *j);
    j->fd = fd;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->synced_cond, NULL);
    j->last_sync_ms = rb_mono_ms();
    return j;
}

static int write_all(int fd, const char *p, size_t n);

rb_journal *rb_journal_create(const char *dir, cJSON *first, char **err)
{
    char *path = rb_xasprintf("%s/%s", dir, RB_JOURNAL_FILE);
    char *tmp = rb_xasprintf("%s/.%s.%ld", dir, RB_JOURNAL_FILE, (long)getpid());
    rb_redact_json(first);
    char *safe = cJSON_PrintUnformatted(first);
    cJSON_Delete(first);
    if (!safe)
        rb_die_oom();
    rb_journal *j = NULL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        *err = rb_xasprintf("%s: cannot create the journal: %s", path, strerror(errno));
        goto out;
    }
    if (write_all(fd, safe, strlen(safe)) != 0 || write_all(fd, "\n", 1) != 0 ||
        fdatasync(fd) != 0) {
        *err = rb_xasprintf("%s: cannot write the journal: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    /* link() refuses an existing name, which is what makes a second run in
     * the same directory fail instead of mixing two journals. */
    if (link(tmp, path) != 0) {
        *err = errno == EEXIST
                   ? rb_xasprintf("%s already exists: this directory holds another run", path)
                   : rb_xasprintf("%s: cannot create the journal: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    unlink(tmp);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    /* The descriptor still refers to the linked file; append from here. */
    if (fcntl(fd, F_SETFL, O_APPEND) != 0 || lseek(fd, 0, SEEK_END) < 0) {
        *err = rb_xasprintf("%s: %s", path, strerror(errno));
        close(fd);
        goto out;
    }
    j = journal_new(fd);
out:
    free(safe);
    free(tmp);
    free(path);
    return j;
}

/* Length of the journal up to and including its last newline: what
 * follows is a record a crash cut short. */
static off_t complete_length(int fd)
{
    off_t end = lseek(fd, 0, SEEK_END);
    char buf[4096];
    while (end > 0) {
        off_t from = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
        ssize_t n = pread(fd, buf, (size_t)(end - from), from);
        if (n <= 0)
            return -1;
        for (ssize_t i = n - 1; i >= 0; i--)
            if (buf[i] == '\n')
                return from + i + 1;
        end = from;
    }
    return 0;
}

rb_journal *rb_journal_open_append(const char *dir, char **err)
{
    char *path = rb_xasprintf("%s/%s", dir, RB_JOURNAL_FILE);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        *err = rb_xasprintf("%s: cannot open the journal: %s", path, strerror(errno));
        free(path);
        return NULL;
    }
    /* Cut a torn last record off before appending, or the next record
     * would be glued to it and the journal could not be read again. */
    off_t keep = complete_length(fd);
    off_t size = lseek(fd, 0, SEEK_END);
    if (keep < 0 || (keep < size && (ftruncate(fd, keep) != 0 || fdatasync(fd) != 0)) ||
        lseek(fd, 0, SEEK_END) < 0 || fcntl(fd, F_SETFL, O_APPEND) != 0) {
        *err = rb_xasprintf("%s: cannot prepare the journal for appending: %s", path,
                            strerror(errno));
        close(fd);
        free(path);
        return NULL;
    }
    free(path);
    return journal_new(fd);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Called with the lock held, after an fdatasync that covered every record
 * up to number upto. */
static void mark_synced(rb_journal *j, uint64_t upto, int64_t now)
{
    j->syncs++;
    j->synced = upto;
    j->dirty = 0;
    j->durable_pending = j->seq > upto;
    j->last_sync_ms = now;
    pthread_cond_broadcast(&j->synced_cond);
}

/* Called with the lock held. */
static int commit_locked(rb_journal *j, int force)
{
    while (j->syncing) /* a group commit is writing: keep the order */
        pthread_cond_wait(&j->synced_cond, &j->lock);
    if (j->failed)
        return -1;
    if (j->pending.len) {
        if (write_all(j->fd, j->pending.p, j->pending.len) != 0) {
            rb_log(RB_LOG_ERROR, "journal write failed: %s", strerror(errno));
            j->failed = 1;
            return -1;
        }
        rb_buf_reset(&j->pending);
        j->dirty = 1;
    }
    int64_t now = rb_mono_ms();
    if (j->dirty && (force || j->durable_pending || now - j->last_sync_ms >= RB_JOURNAL_SYNC_MS)) {
        if (fdatasync(j->fd) != 0) {
            rb_log(RB_LOG_ERROR, "journal fsync failed: %s", strerror(errno));
            j->failed = 1;
            return -1;
        }
        mark_synced(j, j->seq, now);
    }
    return 0;
}

void rb_journal_append(rb_journal *j, cJSON *rec, int durable)
{
    rb_redact_json(rec);
    char *safe = cJSON_PrintUnformatted(rec);
    cJSON_Delete(rec);
    if (!safe)
        rb_die_oom();
    pthread_mutex_lock(&j->lock);
    rb_buf_puts(&j->pending, safe);
    rb_buf_add(&j->pending, "\n", 1);
    j->seq++;
    if (durable)
        j->durable_pending = 1;
    pthread_mutex_unlock(&j->lock);
    free(safe);
}

int rb_journal_commit(rb_journal *j, int force)
{
    pthread_mutex_lock(&j->lock);
    int rc = commit_locked(j, force);
    pthread_mutex_unlock(&j->lock);
    return rc;
}

int rb_journal_durable_pending(rb_journal *j)
{
    pthread_mutex_lock(&j->lock);
    int r = j->durable_pending;
    pthread_mutex_unlock(&j->lock);
    return r;
}

/* Many workers journal operations at once (1,000 LROs starting together):
 * the first to find no sync in progress writes and fsyncs everything
 * pending for all of them; the others wait for a sync that covers their
 * record. One fdatasync per group instead of one per record. */
int rb_journal_append_sync(rb_journal *j, cJSON *rec)
{
    rb_journal_append(j, rec, 1);
    pthread_mutex_lock(&j->lock);
    uint64_t mine = j->seq;
    while (j->synced < mine && !j->failed) {
        if (j->syncing) {
            pthread_cond_wait(&j->synced_cond, &j->lock);
            continue;
        }
        j->syncing = 1;
        rb_buf batch = j->pending;
        memset(&j->pending, 0, sizeof j->pending);
        uint64_t upto = j->seq;
        pthread_mutex_unlock(&j->lock);
        int rc = batch.len ? write_all(j->fd, batch.p, batch.len) : 0;
        int err = errno;
        if (rc == 0 && fdatasync(j->fd) != 0) {
            rc = -1;
            err = errno;
        }
        rb_buf_free(&batch);
        pthread_mutex_lock(&j->lock);
        j->syncing = 0;
        if (rc != 0) {
            rb_log(RB_LOG_ERROR, "journal write or fsync failed: %s", strerror(err));
            j->failed = 1;
            pthread_cond_broadcast(&j->synced_cond);
        } else {
            mark_synced(j, upto, rb_mono_ms());
        }
    }
    int rc = j->failed ? -1 : 0;
    pthread_mutex_unlock(&j->lock);
    return rc;
}

long rb_journal_sync_count(const rb_journal *j)
{
    return j->syncs;
}

int rb_journal_close(rb_journal *j)
{
    if (!j)
        return 0;
    int rc = rb_journal_commit(j, 1);
    if (close(j->fd) != 0)
        rc = -1;
    rb_buf_free(&j->pending);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->synced_cond);
    free(j);
    return rc;
}

/* --- reading ---------------------------------------------------------- */

static char *read_file(const char *path, size_t *len, char **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = rb_xasprintf("%s: %s", path, strerror(errno));
        return NULL;
    }
    rb_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rb_buf_add(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        *err = rb_xasprintf("%s: read error", path);
        rb_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    if (!b.p)
        return rb_xstrdup("");
    return b.p;
}

const cJSON *rb_replay_record(const rb_replay *r, size_t index)
{
    return index < r->n_records ? r->index[index] : NULL;
}

int rb_replay_read(const char *dir, rb_replay *r, char **err)
{
    memset(r, 0, sizeof *r);
    *err = NULL;
    char *path = rb_xasprintf("%s/%s", dir, RB_JOURNAL_FILE);
    size_t len = 0;
    char *text = read_file(path, &len, err);
    if (!text) {
        free(path);
        return -1;
    }
    /* A power loss can leave a tail of NUL bytes: a torn end, like a cut
     * line. NULs before a later complete line are corruption. */
    const char *nul = memchr(text, 0, len);
    if (nul) {
        if (memchr(nul, '\n', len - (size_t)(nul - text))) {
            *err = rb_xasprintf("%s: corrupt journal (NUL bytes at offset %zu)", path,
                                (size_t)(nul - text));
            free(text);
            free(path);
            return -1;
        }
        r->torn_tail = 1;
    }
    r->records = cJSON_CreateArray();
    rb_strmap_init(&r->done_steps, 64);
    rb_strmap_init(&r->calls, 64);
    rb_strmap_init(&r->ops, 16);
    size_t line = 0;
    char *p = text;
    int rc = 0;
    while (*p) {
        line++;
        char *nl = strchr(p, '\n');
        if (!nl) {
            r->torn_tail = 1; /* a write cut short by a crash: ignore it */
            break;
        }
        *nl = '\0';
        const char *end = NULL;
        cJSON *rec = cJSON_ParseWithOpts(p, &end, 1); /* nothing may follow a record */
        const char *t = rec ? cJSON_GetStringValue(cJSON_GetObjectItem(rec, "t")) : NULL;
        if (!t) {
            cJSON_Delete(rec);
            if (!nl[1]) { /* a torn final line that happened to end in \n */
                r->torn_tail = 1;
                break;
            }
            *err = rb_xasprintf("%s:%zu: corrupt journal record", path, line);
            rc = -1;
            break;
        }
        cJSON_AddItemToArray(r->records, rec);
        r->index = rb_xrealloc(r->index, (r->n_records + 1) * sizeof *r->index);
        size_t idx = r->n_records++;
        r->index[idx] = rec;
        if (strcmp(t, "run") == 0 && !r->run) {
            r->run = rec;
        } else if (strcmp(t, "step") == 0) {
            const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "state"));
            const char *step = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "step"));
            if (step && state && strcmp(state, "succeeded") == 0)
                rb_strmap_set(&r->done_steps, step, idx);
        } else if (strcmp(t, "call") == 0) {
            const char *key = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "key"));
            if (key)
                rb_strmap_put(&r->calls, key, idx, NULL);
        } else if (strcmp(t, "op") == 0) {
            const char *key = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "key"));
            if (key) {
                /* The latest is found first; older ones (an action with
                 * several long-running calls) chain behind it. */
                size_t prev = SIZE_MAX;
                rb_strmap_get(&r->ops, key, &prev);
                r->op_prev = rb_xrealloc(r->op_prev, (idx + 1) * sizeof *r->op_prev);
                r->op_prev[idx] = prev;
                rb_strmap_set(&r->ops, key, idx);
            }
        } else if (strcmp(t, "end") == 0) {
            r->ended = 1;
            free(r->end_status);
            r->end_status = rb_xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "status")));
        } else if (strcmp(t, "resume") == 0) {
            r->ended = 0;
            r->n_resumes++;
        }
        p = nl + 1;
    }
    free(text);
    if (rc == 0 && !r->run) {
        *err = rb_xasprintf("%s: no run record; not a rebound journal", path);
        rc = -1;
    }
    free(path);
    if (rc != 0)
        rb_replay_free(r);
    return rc;
}

void rb_replay_free(rb_replay *r)
{
    rb_strmap_free(&r->done_steps);
    rb_strmap_free(&r->calls);
    rb_strmap_free(&r->ops);
    free(r->op_prev);
    r->op_prev = NULL;
    cJSON_Delete(r->records);
    free(r->index);
    free(r->end_status);
    memset(r, 0, sizeof *r);
}
