/* rebound Azure access layer: the Blob Storage client.
 *
 * Authentication is Shared Key (account key), SAS (a token appended to every
 * URL) or bearer (a credential, scope https://storage.azure.com/.default).
 * Every request carries x-ms-version and goes through the pipeline
 * (pipeline.h). Blob names may contain '/'; each path segment is
 * percent-encoded through libcurl. Writes refuse to overwrite unless asked
 * (If-None-Match: *), which is what the backup vault relies on. */
#ifndef REBOUND_AZURE_BLOB_H
#define REBOUND_AZURE_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include <rebound/status.h>

#include "az_error.h"
#include "cred.h"
#include "http.h"
#include "pipeline.h"

#define RB_BLOB_VERSION "2021-12-02"

typedef struct rb_blob_client rb_blob_client;
typedef struct rb_blob_lister rb_blob_lister;

typedef struct rb_blob_options {
    /* "https://ACCOUNT.blob.core.windows.net" or, path-style (Azurite),
     * "http://127.0.0.1:10000/devstoreaccount1". */
    const char *endpoint;
    const char *account;        /* required for Shared Key and SAS generation */
    const char *account_key;    /* base64: Shared Key auth */
    const char *sas;            /* SAS token without '?': SAS auth */
    rb_cred *cred;              /* bearer auth (borrowed) */
    const char *version;        /* x-ms-version; NULL = RB_BLOB_VERSION */
} rb_blob_options;

/* Copies what it needs from opts (cred is borrowed; eng too). Exactly one of
 * account_key, sas, cred should be set; none means anonymous. Caller frees
 * with rb_blob_client_free(). */
rb_status rb_blob_client_new(rb_blob_client **out, rb_http_engine *eng,
                             const rb_blob_options *opts, rb_az_err *err);
void rb_blob_client_free(rb_blob_client *c);

/* Creates a container. RB_EEXISTS when it exists. */
rb_status rb_blob_container_create(rb_blob_client *c, const char *container,
                                   const rb_az_call_opts *opts, rb_az_err *err);

typedef struct rb_blob_props {
    uint64_t size;
    char etag[128];
    char content_type[128];
    char last_modified[64];
    char blob_type[32];
} rb_blob_props;

/* Put Blob (block blob) of len bytes. overwrite == 0 sends If-None-Match: *
 * and an existing blob gives RB_EEXISTS. props (may be NULL) gets the new
 * ETag. */
rb_status rb_blob_put(rb_blob_client *c, const char *container, const char *blob,
                      const void *data, size_t len, const char *content_type, int overwrite,
                      const rb_az_call_opts *opts, rb_blob_props *props, rb_az_err *err);

/* Put Block. block_id is the caller's id (at most 64 bytes, the same length
 * for every block of a blob); it is base64-encoded here. */
rb_status rb_blob_put_block(rb_blob_client *c, const char *container, const char *blob,
                            const char *block_id, const void *data, size_t len,
                            const rb_az_call_opts *opts, rb_az_err *err);

/* Put Block with Content-MD5 (16 raw bytes; NULL: none): the service checks
 * the body against it and answers 400 Md5Mismatch when it differs. */
rb_status rb_blob_put_block_md5(rb_blob_client *c, const char *container, const char *blob,
                                const char *block_id, const void *data, size_t len,
                                const unsigned char content_md5[16], const rb_az_call_opts *opts,
                                rb_az_err *err);

/* Put Block From URL: the service copies len bytes at offset of source_url
 * (which must be readable by the service, e.g. with a SAS). len == 0 copies
 * the whole source. */
rb_status rb_blob_put_block_from_url(rb_blob_client *c, const char *container, const char *blob,
                                     const char *block_id, const char *source_url,
                                     uint64_t offset, uint64_t len, const rb_az_call_opts *opts,
                                     rb_az_err *err);

/* Put Block List committing the n uncommitted blocks in order. overwrite == 0
 * refuses an existing blob (RB_EEXISTS). */
rb_status rb_blob_put_block_list(rb_blob_client *c, const char *container, const char *blob,
                                 const char *const *block_ids, size_t n, const char *content_type,
                                 int overwrite, const rb_az_call_opts *opts, rb_az_err *err);

/* Get Blob: len bytes from offset (len == 0: to the end). *data is
 * NUL-terminated; caller frees with free(). At most max bytes (0 = 64 MiB)
 * are accepted. */
rb_status rb_blob_get(rb_blob_client *c, const char *container, const char *blob,
                      uint64_t offset, uint64_t len, size_t max, const rb_az_call_opts *opts,
                      char **data, size_t *data_len, rb_az_err *err);

/* Get Blob of the range [offset, offset + len) into the caller's buffer of
 * cap bytes (no allocation); *got receives the byte count. A response
 * larger than cap is RB_EPROTO. */
rb_status rb_blob_get_into(rb_blob_client *c, const char *container, const char *blob,
                           uint64_t offset, uint64_t len, void *buf, size_t cap,
                           const rb_az_call_opts *opts, size_t *got, rb_az_err *err);

/* Get Blob of [offset, offset + len) (len == 0: to the end) streamed
 * through sink as it arrives (on the HTTP engine thread; see
 * rb_http_sink_fn for retries). No buffer of the body is kept. */
rb_status rb_blob_get_stream(rb_blob_client *c, const char *container, const char *blob,
                             uint64_t offset, uint64_t len, rb_http_sink_fn sink, void *user,
                             const rb_az_call_opts *opts, rb_az_err *err);

/* Get Blob Properties. RB_ENOTFOUND when the blob does not exist. */
rb_status rb_blob_get_properties(rb_blob_client *c, const char *container, const char *blob,
                                 const rb_az_call_opts *opts, rb_blob_props *props,
                                 rb_az_err *err);

/* Delete Blob (and its snapshots). RB_ENOTFOUND when absent. */
rb_status rb_blob_delete(rb_blob_client *c, const char *container, const char *blob,
                         const rb_az_call_opts *opts, rb_az_err *err);

typedef struct rb_blob_item {
    const char *name;   /* borrowed until the next rb_blob_lister_next */
    uint64_t size;
    const char *etag;
} rb_blob_item;

/* Lists a container's blobs (optionally under prefix), page_size per
 * request (0 = service default), following NextMarker. Caller frees with
 * rb_blob_lister_free(). */
rb_status rb_blob_lister_new(rb_blob_client *c, const char *container, const char *prefix,
                             int page_size, const rb_az_call_opts *opts, rb_blob_lister **out,
                             rb_az_err *err);
/* Fills *item and sets *has_item to 1, or sets *has_item to 0 at the end
 * (with RB_OK). Malformed XML is RB_EPROTO. */
rb_status rb_blob_lister_next(rb_blob_lister *l, rb_blob_item *item, int *has_item,
                              rb_az_err *err);
int rb_blob_lister_pages(const rb_blob_lister *l);
void rb_blob_lister_free(rb_blob_lister *l);

/* Generates a service SAS (sv = RB_BLOB_VERSION) for a blob (sr=b) or, with
 * blob == NULL, a container (sr=c). permissions like "r", "racwdl"; start 0 =
 * none; expiry in Unix seconds; allow_http 0 = spr=https (production), 1 =
 * spr=https,http (Azurite on loopback). The token (no '?') is registered
 * with the redactor; caller frees *out with free(). */
rb_status rb_blob_sas_service(const char *account, const char *account_key,
                              const char *container, const char *blob, const char *permissions,
                              int64_t start, int64_t expiry, int allow_http, char **out,
                              rb_az_err *err);

/* The URL of a blob (with the client's SAS when it has one). Caller frees. */
char *rb_blob_url(const rb_blob_client *c, const char *container, const char *blob);

/* ---- parallel transfers with bounded memory ---------------------------- */

/* Reads len bytes at offset into buf (exactly len unless at the end). Called
 * from several threads at once. Return RB_OK or an error status. */
typedef rb_status (*rb_blob_read_at_fn)(void *user, uint64_t offset, void *buf, size_t len);
/* Writes len bytes at offset. Called from several threads at once. */
typedef rb_status (*rb_blob_write_at_fn)(void *user, uint64_t offset, const void *buf, size_t len);

typedef struct rb_blob_transfer_opts {
    size_t block_size;      /* 0 = 4 MiB */
    int parallel;           /* workers (and buffers); 0 = 4 */
    int overwrite;          /* upload: 0 refuses an existing blob */
    const char *content_type;
    rb_az_call_opts call;   /* per request (deadline, cancel) */
} rb_blob_transfer_opts;

/* Uploads size bytes read through read_at as blocks of block_size, parallel
 * at once, then commits the block list (or a single Put Blob when it fits
 * in one block). Memory use is parallel * block_size. */
rb_status rb_blob_upload(rb_blob_client *c, const char *container, const char *blob,
                         uint64_t size, rb_blob_read_at_fn read_at, void *user,
                         const rb_blob_transfer_opts *opts, rb_az_err *err);

/* Downloads a blob in ranges of block_size, parallel at once, through
 * write_at. *size (may be NULL) receives the blob size. Memory use is
 * parallel * block_size. */
rb_status rb_blob_download(rb_blob_client *c, const char *container, const char *blob,
                           rb_blob_write_at_fn write_at, void *user,
                           const rb_blob_transfer_opts *opts, uint64_t *size, rb_az_err *err);

/* ---- a blob named by a full URL (a SAS a service handed out) ------------ */
/* A client for the blob at url ("https://host[:port]/container/blob?<SAS>",
 * such as a managed disk's access SAS): *container and *blob receive its
 * parts (caller frees them with free()). The SAS is registered with the
 * redactor and never appears in error messages. */
rb_status rb_blob_client_from_url(rb_http_engine *eng, const char *url, rb_blob_client **out,
                                  char **container, char **blob, rb_az_err *err);
/* Put Blob of an empty page blob of size bytes (a multiple of 512).
 * overwrite == 0 refuses an existing blob (RB_EEXISTS). */
rb_status rb_blob_create_page_blob(rb_blob_client *c, const char *container, const char *blob,
                                   uint64_t size, int overwrite, const rb_az_call_opts *opts,
                                   rb_az_err *err);
/* Put Page (x-ms-page-write: update) of len bytes at offset: both 512-byte
 * aligned, len at most RB_BLOB_MAX_PAGE_WRITE. */
#define RB_BLOB_MAX_PAGE_WRITE (4u * 1024u * 1024u)
rb_status rb_blob_put_page(rb_blob_client *c, const char *container, const char *blob,
                           uint64_t offset, const void *data, size_t len,
                           const rb_az_call_opts *opts, rb_az_err *err);
#endif
