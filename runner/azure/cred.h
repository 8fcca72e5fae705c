/* rebound Azure access layer: credentials and the token cache.
 *
 * One rb_cred yields bearer tokens for scopes ("https://management.azure.com/
 * .default"). Kinds mirror the Azure SDKs; RB_CRED_DEFAULT chains them like
 * DefaultAzureCredential: environment (client secret, then certificate),
 * workload identity, static token file, managed identity, Azure CLI. The
 * first kind that yields a token is kept for later calls.
 *
 * Tokens are cached per (scope, tenant) and refreshed when less than
 * min(5 minutes, half the lifetime) remains. Every secret a credential reads
 * or receives is registered with the redactor. Thread-safe. */
#ifndef REBOUND_AZURE_CRED_H
#define REBOUND_AZURE_CRED_H

#include <stdint.h>

#include <rebound/status.h>

#include "az_error.h"
#include "cloud.h"
#include "http.h"

typedef struct rb_cred rb_cred;

typedef enum rb_cred_kind {
    RB_CRED_DEFAULT = 0,      /* the chain */
    RB_CRED_CLIENT_SECRET,    /* tenant_id, client_id, client_secret */
    RB_CRED_CLIENT_CERT,      /* tenant_id, client_id, cert_path (PEM: cert + key) */
    RB_CRED_WORKLOAD,         /* tenant_id, client_id, federated_token_file */
    RB_CRED_MANAGED_IDENTITY, /* IMDS or identity_endpoint + identity_header */
    RB_CRED_AZURE_CLI,        /* az account get-access-token */
    RB_CRED_TOKEN_FILE        /* a bearer token read from token_file */
} rb_cred_kind;

/* Every string is copied; NULL fields fall back to the environment
 * (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
 * AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE,
 * IDENTITY_ENDPOINT, IDENTITY_HEADER, AZURE_AUTHORITY_HOST,
 * REBOUND_AZURE_TOKEN_FILE) and then to defaults. */
typedef struct rb_cred_options {
    rb_cred_kind kind;
    const char *tenant_id;
    const char *client_id;            /* also the user-assigned managed identity */
    const char *client_secret;
    const char *cert_path;
    const char *federated_token_file;
    const char *identity_endpoint;    /* App Service / Arc style endpoint */
    const char *identity_header;
    const char *token_file;
    const char *az_path;              /* "az" on PATH when NULL */
    long probe_timeout_ms;            /* IMDS probe inside the chain; 0 = 1000 */
} rb_cred_options;

/* Creates a credential. eng and cloud are borrowed and must outlive it.
 * opts may be NULL (the default chain from the environment). Returns
 * RB_EAUTH when an explicit kind lacks its settings. Caller frees with
 * rb_cred_free(). */
rb_status rb_cred_new(rb_cred **out, rb_http_engine *eng, const rb_cloud *cloud,
                      const rb_cred_options *opts, rb_az_err *err);

/* Frees the credential and its cache. NULL is fine. */
void rb_cred_free(rb_cred *cred);

/* Gets a token for scope (e.g. "https://vault.azure.net/.default"); tenant
 * overrides the configured tenant (Key Vault challenges) or is NULL. On
 * RB_OK *token is a new string the caller frees with free() and
 * *expires_on (may be NULL) the expiry in Unix seconds. Failures are
 * RB_EAUTH (rejected or no credential available), RB_ERETRY, RB_ETIMEDOUT
 * or RB_EPROTO. */
rb_status rb_cred_get_token(rb_cred *cred, const char *scope, const char *tenant,
                            char **token, int64_t *expires_on, rb_az_err *err);

/* Drops the cached tokens (after the service rejected one). */
void rb_cred_invalidate(rb_cred *cred);

/* Counters for tests and the trace: tokens fetched from a token service
 * (cache misses and refreshes) and served from the cache. */
void rb_cred_stats(const rb_cred *cred, uint64_t *fetched, uint64_t *cached);

/* The name of the kind in use ("client-secret", ... or "default" before the
 * chain has chosen). Static string. */
const char *rb_cred_kind_name(const rb_cred *cred);

#endif
