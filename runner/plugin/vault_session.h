/* The backup vault of one run, as plugins see it through the host table:
 * opened on first use from the config's `vault` section; plugin actions
 * call in from worker threads, and their reads and writes run at once. */
#ifndef REBOUND_RUNNER_VAULT_SESSION_H
#define REBOUND_RUNNER_VAULT_SESSION_H

#include "config/config.h"

typedef struct rb_vault rb_vault;
typedef struct rb_vault_session rb_vault_session;

/* cfg is borrowed and must outlive the session. */
rb_vault_session *rb_vault_session_new(const rb_config *cfg);
void rb_vault_session_free(rb_vault_session *s); /* NULL is fine */

/* Opens the vault if needed and holds it for one operation: returns it, or
 * NULL with a message (no secrets) in err. Every successful acquire needs
 * a release. acquire is for writes, acquire_shared for reads; both may run
 * at once (see vault_session.c). */
rb_vault *rb_vault_session_acquire(rb_vault_session *s, char *err, size_t errlen);
rb_vault *rb_vault_session_acquire_shared(rb_vault_session *s, char *err, size_t errlen);
void rb_vault_session_release(rb_vault_session *s);

/* 1 and the note in buf when the run's vault was opened on storage that
 * does not protect it (vault.allow_unlocked, a practice drill), else 0: the
 * report records it. */
int rb_vault_session_unlocked_note(rb_vault_session *s, char *buf, size_t len);

#endif
