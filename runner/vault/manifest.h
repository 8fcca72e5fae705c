/* The manifest of a backup set (JSON through cJSON). */
#ifndef REBOUND_VAULT_MANIFEST_H
#define REBOUND_VAULT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "vault/store.h"

#define RB_VAULT_MANIFEST_FORMAT "rebound-vault-manifest/1"

typedef struct rb_vault_object_meta {
    char *name;
    uint64_t size;
    uint64_t block_size;
    size_t n_blocks;
    char (*blocks)[65];     /* per-block SHA-256, hex */
    char sha256[65];        /* whole object */
} rb_vault_object_meta;

typedef struct rb_vault_manifest {
    char *set_id, *source_id, *kind, *created, *plugin, *plugin_version;
    int64_t created_s;
    int retention_days;
    rb_vault_object_meta *objects;
    size_t n_objects;
} rb_vault_manifest;

/* Serialises m (formatted JSON); caller frees. */
char *rb_vault_manifest_to_json(const rb_vault_manifest *m);
/* Parses and validates; RB_ECORRUPT with a message naming what is wrong.
 * Caller frees with rb_vault_manifest_free(). */
rb_status rb_vault_manifest_parse(const char *json, size_t len, rb_vault_manifest **out,
                                  rb_vault_err *err);
void rb_vault_manifest_free(rb_vault_manifest *m);
/* The object named name, or NULL. Borrowed. */
const rb_vault_object_meta *rb_vault_manifest_find(const rb_vault_manifest *m,
                                                    const char *name);

#endif
