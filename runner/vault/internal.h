/* Shared between the vault's own files; not for callers. */
#ifndef REBOUND_VAULT_INTERNAL_H
#define REBOUND_VAULT_INTERNAL_H

#include <openssl/evp.h>
#include <pthread.h>

#include "vault/vault.h"

struct rb_vault {
    rb_vault_store *store;
    rb_vault_key *signing, *public_key;
    size_t block_size;
    int retention_days;
    char *unlocked_note;
    /* Puts run at once (each writes its own set); two with the same resume
     * key, which would share one pending set, take turns (vault.c). */
    pthread_mutex_t keys_mu;
    pthread_cond_t keys_cv;
    char **active_keys;
    size_t n_active;
};

typedef struct rb_vault_stream_stats {
    uint64_t bytes, bytes_sent, bytes_reused, blocks, blocks_reused;
} rb_vault_stream_stats;

/* Streams one source into store_name with per-block and whole SHA-256 in
 * one pass; fills meta (name left NULL) and adds to stats. An object that
 * already exists (a resumed set) is compared block by block instead of
 * written: RB_ECONFLICT when it differs. */
rb_status rb_vault_stream_object(rb_vault_store *s, const char *store_name,
                                 const rb_vault_source *src, size_t block_size, int parallel,
                                 rb_vault_progress_fn progress, void *progress_user,
                                 rb_vault_object_meta *meta, rb_vault_stream_stats *stats,
                                 rb_vault_err *err);

/* Like rb_vault_stream_object, for a source with copy_url on a store that
 * copies server-side: the store copies the object, then it is read back
 * block by block to compute the hashes of the manifest (nothing of it is
 * sent by rebound: stats->bytes_sent does not grow). An object a resumed
 * set already holds is only read back. */
rb_status rb_vault_copy_object(rb_vault_store *s, const char *store_name,
                               const rb_vault_source *src, size_t block_size,
                               rb_vault_progress_fn progress, void *progress_user,
                               rb_vault_object_meta *meta, rb_vault_stream_stats *stats,
                               rb_vault_err *err);

/* Reads a whole small object (at most max bytes); *data malloc'd and
 * NUL-terminated. */
rb_status rb_vault_read_small(rb_vault_store *s, const char *name, size_t max, char **data,
                              size_t *len, rb_vault_err *err);

/* What a streamed verification of one object found. */
typedef struct rb_vault_stream_check {
    rb_vault_verify_report *report; /* its blocks_checked and bytes_read grow */
    size_t bad, first_bad;          /* blocks that do not match; the first of them */
    size_t failed_block;            /* where a failed read stopped */
    int stopped;                    /* the progress callback asked to stop */
} rb_vault_stream_check;

/* Reads every block of om (stored as name) with streaming GETs and checks
 * each block's SHA-256 against the manifest (and feeds whole, when given,
 * in order). RB_ECANCELED with c->stopped when the progress callback asked
 * to stop; any other error is a failed read, in err (a transfer cancelled
 * below us is one). Mismatches are not errors: see c. */
rb_status rb_vault_verify_stream(rb_vault *v, const rb_vault_verify_opts *o, const char *name,
                                 const rb_vault_object_meta *om, EVP_MD_CTX *whole,
                                 rb_vault_stream_check *c, rb_vault_err *err);

/* The public key verification uses (public key, else the signing key). */
const rb_vault_key *rb_vault_verify_key(const rb_vault *v);

#endif
