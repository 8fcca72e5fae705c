/* The backup vault: backup sets (data objects + a manifest) in an object
 * store that never overwrites, each with a catalog entry signed with
 * Ed25519; streaming, resumable uploads; verification, retention pruning
 * and restore. docs/vault.md describes the layout:
 *
 *   sets/<set>/data/<object>   data objects
 *   sets/<set>/manifest.json   sizes, per-block and whole SHA-256, source
 *   sets/<set>/legal-hold      marker: prune never deletes this set
 *   catalog/<set>.json         {payload, signature, key_id}; the payload
 *                              names the manifest by its SHA-256
 *
 * A set exists once its catalog entry does; it is written last. */
#ifndef REBOUND_VAULT_VAULT_H
#define REBOUND_VAULT_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "vault/manifest.h"
#include "vault/sign.h"
#include "vault/store.h"

typedef struct rb_vault rb_vault;

/* Opens the vault the config's vault section describes (local directory or
 * Azure Blob container; see store_azure.c for what Azure checks before a
 * write). need_write loads the signing key and, for Azure, checks the
 * container's immutability policy. Caller frees with rb_vault_close(). */
rb_status rb_vault_open(const rb_config *cfg, int need_write, rb_vault **out,
                        rb_vault_err *err);
/* Wraps a store; the vault takes ownership of store and of both keys (each
 * may be NULL), freed by rb_vault_close. block_size 0 = 8 MiB,
 * retention_days 0 = 30. */
rb_vault *rb_vault_new(rb_vault_store *store, rb_vault_key *signing, rb_vault_key *public_key,
                       size_t block_size, int retention_days);
void rb_vault_close(rb_vault *v);
rb_vault_store *rb_vault_store_of(rb_vault *v);
/* Non-NULL when writing to storage that is not locked-immutable was allowed
 * (vault.allow_unlocked): the reason, for reports. Borrowed. */
const char *rb_vault_unlocked_note(const rb_vault *v);
void rb_vault_set_unlocked_note(rb_vault *v, const char *note);

/* The vault's clock in Unix seconds: REBOUND_VAULT_NOW (Unix seconds or
 * ISO 8601 UTC) when set, for tests and practice, else the wall clock. */
int64_t rb_vault_now(void);

/* ---- writing a set --------------------------------------------------------- */

/* Reads the next bytes of a source into buf (at most cap): *got 0 at the
 * end. Called from one thread, in order. */
typedef rb_status (*rb_vault_read_fn)(void *user, void *buf, size_t cap, size_t *got);
/* Progress: done of total bytes (total 0: unknown). Non-zero cancels. */
typedef int (*rb_vault_progress_fn)(void *user, const char *object, uint64_t done,
                                    uint64_t total);

typedef struct rb_vault_source {
    const char *name;       /* object name inside the set ("disk.vhd") */
    const char *path;       /* read this file, or NULL to use read/user */
    rb_vault_read_fn read;
    void *user;
    uint64_t size;          /* expected size, 0 when unknown (progress only) */
    /* Server-side copy: when set, and the store can (an Azure Blob vault),
     * the service copies the object from this URL itself (it must be able
     * to read it: a SAS) and the vault then reads it back to hash it; size
     * must be exact. Other stores read through read/user as usual. */
    const char *copy_url;
} rb_vault_source;

typedef struct rb_vault_put_opts {
    const char *set_id;         /* NULL: a new set, or the pending one for resume_key */
    const char *resume_key;     /* the same key on a re-run resumes the set; NULL: none */
    const char *source_id;      /* the Azure resource id backed up */
    const char *kind;           /* "disk", "keyvault", ... */
    const char *plugin;         /* NULL: "rebound-cli" */
    const char *plugin_version; /* NULL: the runner's version */
    int retention_days;         /* 0: the vault's default */
    int parallel;               /* block workers; 0 = 4 */
    rb_vault_progress_fn progress;
    void *progress_user;
    char (*object_sha256)[65];  /* NULL, or n entries: each source's SHA-256 (hex), set when
                                   the put succeeds */
} rb_vault_put_opts;

typedef struct rb_vault_put_stats {
    char set_id[96];
    int resumed;                /* 1 when an interrupted set was continued */
    uint64_t bytes;             /* bytes of all objects */
    uint64_t bytes_sent;        /* data written to the store this time */
    uint64_t bytes_reused;      /* found from an earlier attempt, hash checked */
    uint64_t blocks, blocks_reused;
    double seconds;
} rb_vault_put_stats;

/* Streams n sources into a new set (block hashes and whole-object hash in
 * one pass, memory (parallel + 1) * block_size), writes the manifest and the
 * signed catalog entry last. On failure what was sent stays for a resume
 * (same resume_key, or set_id). */
rb_status rb_vault_put(rb_vault *v, const rb_vault_source *src, size_t n,
                       const rb_vault_put_opts *opts, rb_vault_put_stats *stats,
                       rb_vault_err *err);

/* Writes a legal-hold marker for set (release != 0 removes it). */
rb_status rb_vault_hold(rb_vault *v, const char *set_id, int release, rb_vault_err *err);

/* ---- reading sets ---------------------------------------------------------- */

typedef struct rb_vault_entry {
    char *set_id;
    char *payload;          /* the signed JSON text */
    char *signature;        /* base64 */
    char *key_id;
    char *manifest_name, *manifest_sha256;
    char *source_id, *kind, *created;
    int64_t created_s;
    int retention_days;
    uint64_t bytes;
    size_t objects;
    int unlocked;           /* written under allow_unlocked */
} rb_vault_entry;

void rb_vault_entry_free(rb_vault_entry *e);

/* Reads and parses catalog/<set>.json (signature not checked: see
 * rb_vault_entry_check). RB_ENOTFOUND, RB_ECORRUPT with a message. */
rb_status rb_vault_entry_read(rb_vault *v, const char *set_id, rb_vault_entry **out,
                              rb_vault_err *err);
/* Checks the entry's signature with the vault's public key. RB_EINVAL when
 * no key is configured, RB_ECORRUPT when it does not verify. */
rb_status rb_vault_entry_check(rb_vault *v, const rb_vault_entry *e, rb_vault_err *err);
/* Reads the manifest an entry names, checks its SHA-256 against the entry
 * and parses it. RB_ECORRUPT (truncated, altered) with a message. */
rb_status rb_vault_manifest_read(rb_vault *v, const rb_vault_entry *e, rb_vault_manifest **out,
                                 rb_vault_err *err);

/* The ids of all catalogued sets, sorted (oldest first: ids start with the
 * time). *ids is a malloc'd array of malloc'd strings; free with
 * rb_vault_ids_free. */
rb_status rb_vault_list_sets(rb_vault *v, char ***ids, size_t *n, rb_vault_err *err);
void rb_vault_ids_free(char **ids, size_t n);
/* 1 when the set has a legal-hold marker. */
int rb_vault_is_held(rb_vault *v, const char *set_id);
/* The store name of an object of a set (malloc'd). */
char *rb_vault_object_path(const char *set_id, const char *object);

/* ---- verify, prune, restore ------------------------------------------------ */

typedef struct rb_vault_problem {
    char *set_id;
    char *object;   /* object or store name concerned, may be NULL */
    char *what;     /* "missing", "corrupt: block 3 ...", "bad signature: ..." */
} rb_vault_problem;

typedef struct rb_vault_verify_opts {
    const char *set_id;     /* NULL: every set */
    double sample_pct;      /* 0 or >= 100: every block; else this % of blocks */
    uint64_t seed;          /* for the sample */
    int parallel;           /* blocks read at once; 0 = 4 (memory: that many blocks) */
    /* Also recompute each object's whole SHA-256 (a second hash pass over
     * every byte). Off by default: the per-block hashes are signed with the
     * manifest, so when every block matches the object is the one that was
     * signed; restore always checks the whole hash. */
    int whole_hash;
    rb_vault_progress_fn progress;
    void *progress_user;
} rb_vault_verify_opts;

typedef struct rb_vault_verify_report {
    size_t sets, objects, blocks_checked, blocks_total;
    uint64_t bytes_read;
    double seconds;
    rb_vault_problem *problems;
    size_t n_problems;
} rb_vault_verify_report;

/* Checks signatures, manifests, that every named object exists with its
 * size, and re-reads (all or a seeded sample of) blocks comparing SHA-256.
 * Problems go into the report (RB_OK even when there are some); an error
 * return means verification could not run. Free with
 * rb_vault_verify_report_free. */
rb_status rb_vault_verify(rb_vault *v, const rb_vault_verify_opts *opts,
                          rb_vault_verify_report *report, rb_vault_err *err);
void rb_vault_verify_report_free(rb_vault_verify_report *r);

typedef struct rb_vault_prune_item {
    char *set_id;
    int expired;            /* retention passed */
    int held;               /* legal hold */
    int protected_by_store; /* the storage's policy still protects it */
    int64_t expires_s;
    int deleted;            /* with apply */
    char *error;            /* a delete that failed */
} rb_vault_prune_item;

typedef struct rb_vault_prune_report {
    rb_vault_prune_item *items;
    size_t n;
} rb_vault_prune_report;

/* Decides for every set whether it may go (past retention, no hold, not
 * protected by the store) and, with apply, deletes those: data objects,
 * then the manifest, then the catalog entry (so an interrupted prune is
 * finished by the next one). Free with rb_vault_prune_report_free. */
rb_status rb_vault_prune(rb_vault *v, int apply, rb_vault_prune_report *report,
                         rb_vault_err *err);
void rb_vault_prune_report_free(rb_vault_prune_report *r);

/* Streams object of set into the file to (created; refused when it exists),
 * checking every block and the whole hash against the signed manifest. On
 * a mismatch the file is removed and RB_ECORRUPT names the block. */
rb_status rb_vault_restore(rb_vault *v, const char *set_id, const char *object,
                           const char *to, rb_vault_progress_fn progress, void *progress_user,
                           uint64_t *bytes, rb_vault_err *err);

/* Where rb_vault_restore_to writes: called once with off RB_VAULT_WRITE_BEGIN
 * (len: the object's size), then with each checked block in order, then with
 * RB_VAULT_WRITE_END (after the whole hash matched). An error stops the
 * restore and is returned. */
#define RB_VAULT_WRITE_BEGIN UINT64_MAX
#define RB_VAULT_WRITE_END (UINT64_MAX - 1)
typedef rb_status (*rb_vault_write_fn)(void *user, uint64_t off, const void *data, size_t len,
                                       rb_vault_err *err);
/* Like rb_vault_restore, into a writer: no block reaches it before its hash
 * matched the signed manifest. */
rb_status rb_vault_restore_to(rb_vault *v, const char *set_id, const char *object,
                              rb_vault_write_fn write_fn, void *write_user,
                              rb_vault_progress_fn progress, void *progress_user,
                              uint64_t *bytes, rb_vault_err *err);

#endif
