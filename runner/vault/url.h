/* Blobs named by a full URL (a SAS a service handed out, such as a managed
 * disk's access SAS) as the vault's sources and restore targets: read with
 * ranged GETs, written with Put Page or Put Block, in fixed memory. Used by
 * the plugin host (ABI 1.3) and by `rebound vault put|restore`. The URLs
 * carry secrets: they are never put into messages. */
#ifndef REBOUND_VAULT_URL_H
#define REBOUND_VAULT_URL_H

#include <stdatomic.h>
#include <stdint.h>

#include "azure/http.h"
#include "vault/vault.h"

typedef struct rb_vault_url_source rb_vault_url_source;

/* Opens url as a source for rb_vault_put: fills src->read/user/size (the
 * caller sets src->name). The size is asked of the service (Get Blob
 * Properties); a size >= 0 given must match it (RB_EINVAL otherwise).
 * cancel (may be NULL) stops a read in flight. */
rb_status rb_vault_url_source_open(rb_http_engine *eng, const char *url, int64_t size,
                                   const atomic_int *cancel, rb_vault_source *src,
                                   rb_vault_url_source **out, rb_vault_err *err);
/* The source's ETag ("" when the service gave none): which version of it
 * this is. */
const char *rb_vault_url_source_etag(const rb_vault_url_source *u);
/* The message of the source's last failure ("" when none): it says more
 * than the vault's own "read failed". */
const char *rb_vault_url_source_error(const rb_vault_url_source *u);
void rb_vault_url_source_free(rb_vault_url_source *u); /* NULL is fine */

/* Streams object of set to url, each block checked against the signed
 * manifest before it is sent: pages != 0 writes an existing page blob in
 * place with Put Page (a managed disk's upload SAS; the size must be a
 * multiple of 512), else a new block blob (Put Block + Put Block List,
 * refused when it exists). */
rb_status rb_vault_restore_to_url(rb_vault *v, const char *set_id, const char *object,
                                  rb_http_engine *eng, const char *url, int pages,
                                  const atomic_int *cancel, rb_vault_progress_fn progress,
                                  void *progress_user, uint64_t *bytes, rb_vault_err *err);

/* Reads url whole with ranged GETs: *size and the SHA-256 (hex). */
rb_status rb_vault_url_digest(rb_http_engine *eng, const char *url, const atomic_int *cancel,
                              rb_vault_progress_fn progress, void *progress_user, uint64_t *size,
                              char sha256[65], rb_vault_err *err);

#endif
