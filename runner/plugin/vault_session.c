#include "plugin/vault_session.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/util.h"
#include "vault/vault.h"

struct rb_vault_session {
    const rb_config *cfg;
    pthread_mutex_t lock;
    int tried;
    char error[1100];
    rb_vault *vault;
};

rb_vault_session *rb_vault_session_new(const rb_config *cfg)
{
    rb_vault_session *s = rb_xcalloc(1, sizeof *s);
    s->cfg = cfg;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void rb_vault_session_free(rb_vault_session *s)
{
    if (!s)
        return;
    rb_vault_close(s->vault);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

rb_vault *rb_vault_session_acquire(rb_vault_session *s, char *err, size_t errlen)
{
    if (!s) {
        snprintf(err, errlen, "no backup vault in this context");
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    if (!s->tried) {
        s->tried = 1;
        rb_vault_err verr = {{0}};
        if (rb_vault_open(s->cfg, 1, &s->vault, &verr) != RB_OK) {
            snprintf(s->error, sizeof s->error, "cannot open the backup vault: %s", verr.msg);
            s->vault = NULL;
        }
    }
    if (!s->vault) {
        snprintf(err, errlen, "%s", s->error);
        pthread_mutex_unlock(&s->lock);
        return NULL;
    }
    return s->vault; /* locked until rb_vault_session_release */
}

void rb_vault_session_release(rb_vault_session *s)
{
    pthread_mutex_unlock(&s->lock);
}

int rb_vault_session_unlocked_note(rb_vault_session *s, char *buf, size_t len)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    const char *note = s->vault ? rb_vault_unlocked_note(s->vault) : NULL;
    if (note)
        snprintf(buf, len, "%s", note);
    pthread_mutex_unlock(&s->lock);
    return note != NULL;
}
