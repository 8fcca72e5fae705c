#include "plugin/vault_session.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/util.h"
#include "vault/vault.h"

/* Opening is done once, under open_lock. Reads and writes share the vault:
 * each put writes its own set, whose catalog entry (what lists and reads
 * go by) is written last, so no call sees a set half-done; two puts of the
 * same source take turns inside rb_vault_put. Several disks are exported,
 * and restored, at once. The lock is kept so that closing waits for every
 * call. */
struct rb_vault_session {
    const rb_config *cfg;
    pthread_mutex_t open_lock;
    pthread_rwlock_t rw;
    int tried;
    char error[1100];
    rb_vault *vault;
};

rb_vault_session *rb_vault_session_new(const rb_config *cfg)
{
    rb_vault_session *s = rb_xcalloc(1, sizeof *s);
    s->cfg = cfg;
    pthread_mutex_init(&s->open_lock, NULL);
    pthread_rwlock_init(&s->rw, NULL);
    return s;
}

void rb_vault_session_free(rb_vault_session *s)
{
    if (!s)
        return;
    pthread_rwlock_wrlock(&s->rw); /* no call still uses the vault */
    rb_vault_close(s->vault);
    pthread_rwlock_unlock(&s->rw);
    pthread_rwlock_destroy(&s->rw);
    pthread_mutex_destroy(&s->open_lock);
    free(s);
}

static rb_vault *open_once(rb_vault_session *s, char *err, size_t errlen)
{
    if (!s) {
        snprintf(err, errlen, "no backup vault in this context");
        return NULL;
    }
    pthread_mutex_lock(&s->open_lock);
    if (!s->tried) {
        s->tried = 1;
        rb_vault_err verr = {{0}};
        if (rb_vault_open(s->cfg, 1, &s->vault, &verr) != RB_OK) {
            snprintf(s->error, sizeof s->error, "cannot open the backup vault: %s", verr.msg);
            s->vault = NULL;
        }
    }
    rb_vault *v = s->vault;
    if (!v)
        snprintf(err, errlen, "%s", s->error);
    pthread_mutex_unlock(&s->open_lock);
    return v;
}

rb_vault *rb_vault_session_acquire(rb_vault_session *s, char *err, size_t errlen)
{
    rb_vault *v = open_once(s, err, errlen);
    if (v)
        pthread_rwlock_rdlock(&s->rw);
    return v;
}

rb_vault *rb_vault_session_acquire_shared(rb_vault_session *s, char *err, size_t errlen)
{
    rb_vault *v = open_once(s, err, errlen);
    if (v)
        pthread_rwlock_rdlock(&s->rw);
    return v;
}

void rb_vault_session_release(rb_vault_session *s)
{
    pthread_rwlock_unlock(&s->rw);
}

int rb_vault_session_unlocked_note(rb_vault_session *s, char *buf, size_t len)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&s->open_lock);
    const char *note = s->vault ? rb_vault_unlocked_note(s->vault) : NULL;
    if (note)
        snprintf(buf, len, "%s", note);
    pthread_mutex_unlock(&s->open_lock);
    return note != NULL;
}
