/* The backup vault's object store: the few operations every backend offers
 * (local directory, Azure Blob container). Names are '/'-separated paths
 * relative to the vault. Every write is put-once: an existing name is
 * refused with RB_EEXISTS, never overwritten. Large objects go through an
 * upload handle, block by block, so an interrupted upload can be resumed:
 * a block the backend already holds (checked by hash) is not sent again. */
#ifndef REBOUND_VAULT_STORE_H
#define REBOUND_VAULT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <rebound/status.h>

#include "config/config.h"

typedef struct rb_vault_err {
    char msg[1024];
} rb_vault_err;

/* Formats err->msg (err may be NULL) and returns st. */
rb_status rb_vault_fail(rb_vault_err *err, rb_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct rb_vault_store rb_vault_store;
typedef struct rb_vault_upload rb_vault_upload;

/* Called once per name found by list; non-zero stops the listing. */
typedef int (*rb_vault_list_fn)(void *user, const char *name, uint64_t size);

typedef struct rb_vault_store_ops {
    const char *kind; /* "local", "azure-blob" */
    /* Writes a small object whole (manifests, catalog entries, markers). */
    rb_status (*put_once)(rb_vault_store *s, const char *name, const void *data, size_t len,
                          rb_vault_err *err);
    /* Starts (or resumes) the upload of a large object of size bytes (UINT64_MAX:
     * unknown) in blocks of block_size. RB_EEXISTS when name already exists.
     * On RB_OK *out is a handle; free it with upload_free. */
    rb_status (*upload_begin)(rb_vault_store *s, const char *name, uint64_t size,
                              size_t block_size, rb_vault_upload **out, rb_vault_err *err);
    /* 1 when block idx of len bytes with this SHA-256 (hex) is already held by
     * the backend from an earlier attempt and checked, else 0. Thread-safe. */
    int (*upload_has_block)(rb_vault_upload *u, uint32_t idx, const char sha[65], size_t len);
    /* Stores block idx. Called from several threads at once. */
    rb_status (*upload_put_block)(rb_vault_upload *u, uint32_t idx, const void *data,
                                  size_t len, const char sha[65], rb_vault_err *err);
    /* Makes the object visible under its name, refusing an existing one. */
    rb_status (*upload_commit)(rb_vault_upload *u, uint32_t n_blocks, uint64_t size,
                               rb_vault_err *err);
    /* Frees the handle. keep != 0 keeps what was sent for a later resume;
     * 0 discards it. */
    void (*upload_free)(rb_vault_upload *u, int keep);
    /* Reads up to len bytes at off into buf; *got receives the count (short
     * only at the end). RB_ENOTFOUND when absent. */
    rb_status (*get)(rb_vault_store *s, const char *name, uint64_t off, void *buf, size_t len,
                     size_t *got, rb_vault_err *err);
    /* *size of an object; RB_ENOTFOUND when absent. */
    rb_status (*stat)(rb_vault_store *s, const char *name, uint64_t *size, rb_vault_err *err);
    /* Every object whose name starts with prefix, in no particular order. */
    rb_status (*list)(rb_vault_store *s, const char *prefix, rb_vault_list_fn fn, void *user,
                      rb_vault_err *err);
    /* Deletes an object: RB_ENOTFOUND when absent, RB_EDENIED when the
     * storage still protects it. */
    rb_status (*del)(rb_vault_store *s, const char *name, rb_vault_err *err);
    /* Unix time until which the storage itself protects name (0: it does
     * not). May be NULL. */
    int64_t (*protected_until)(rb_vault_store *s, const char *name);
    void (*free)(rb_vault_store *s);
    /* Streams len bytes at off through fn as they arrive (fn with data NULL:
     * the read starts over from off). May be NULL: use get. */
    rb_status (*get_stream)(rb_vault_store *s, const char *name, uint64_t off, uint64_t len,
                            int (*fn)(void *user, const void *data, size_t len), void *user,
                            rb_vault_err *err);
    /* Server-side copy (may be NULL): the object name is written by the
     * service itself from source_url (readable by the service, e.g. a SAS)
     * in blocks of block_size (Put Block From URL), then committed, refusing
     * an existing name (RB_EEXISTS). No data passes through rebound. */
    rb_status (*copy_from_url)(rb_vault_store *s, const char *name, const char *source_url,
                               uint64_t size, size_t block_size, rb_vault_err *err);
} rb_vault_store_ops;

/* Every backend's struct starts with this. */
struct rb_vault_store {
    const rb_vault_store_ops *ops;
    /* A local directory for resume state (pending sets); owned. */
    char *state_dir;
};

/* The local directory backend rooted at dir (created if missing). Resume
 * state lives in dir/.staging. Caller frees with s->ops->free(s). */
rb_status rb_vault_store_local_new(const char *dir, rb_vault_store **out, rb_vault_err *err);

/* The Azure Blob backend for the config's vault section (kind azure-blob);
 * see store_azure.c. need_write checks the container's immutability policy
 * through ARM first. Caller frees with s->ops->free(s). */
rb_status rb_vault_store_azure_open(const rb_config *cfg, int need_write,
                                    rb_vault_store **out, rb_vault_err *err);
/* When s is an Azure store opened under vault.allow_unlocked on a container
 * that is not locked-immutable: why (for reports). Else NULL. Borrowed. */
const char *rb_vault_store_azure_unlocked_note(const rb_vault_store *s);

#endif
