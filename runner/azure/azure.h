/* rebound Azure access layer: one object that holds what a run needs to
 * talk to Azure, built from the `cloud` and `auth` sections of the config
 * (docs/config.md): the HTTP engine, the cloud endpoints, the credential and
 * the ARM client. The runner creates one per run and hands its parts to the
 * host table. */
#ifndef REBOUND_AZURE_AZURE_H
#define REBOUND_AZURE_AZURE_H

#include <rebound/status.h>

#include "arm.h"
#include "az_error.h"
#include "blob.h"
#include "cloud.h"
#include "cred.h"
#include "http.h"
#include "pipeline.h"
#include "redact.h"

typedef struct rb_azure rb_azure;

typedef struct rb_azure_config {
    /* cloud: "public" (default), "usgov", "china" or "custom"; every
     * endpoint given overrides the preset (custom starts from public). */
    const char *cloud;
    const char *authority_host;
    const char *arm_endpoint;
    const char *arm_audience;
    const char *keyvault_suffix;
    const char *storage_suffix;
    const char *imds_endpoint;
    const char *ca_file;          /* extra CA bundle (azsim's test CA) */
    rb_cred_options auth;         /* kind and settings; see cred.h */
    const char *trace_file;       /* --trace-http FILE, or NULL */
} rb_azure_config;

/* Builds the engine, cloud, credential and ARM client. Nothing is sent yet
 * (tokens are fetched on first use). cfg may be NULL (public cloud, default
 * credential chain). Caller frees with rb_azure_free(). */
rb_status rb_azure_new(rb_azure **out, const rb_azure_config *cfg, rb_az_err *err);

/* Stops the engine, closes the trace, frees everything. NULL is fine. */
void rb_azure_free(rb_azure *az);

/* Parts, borrowed for the lifetime of az. */
rb_http_engine *rb_azure_engine(rb_azure *az);
const rb_cloud *rb_azure_cloud(const rb_azure *az);
rb_cred *rb_azure_cred(rb_azure *az);
rb_arm *rb_azure_arm(rb_azure *az);

/* A Blob client for account with the run's credential (bearer), or with
 * account_key / sas when given. endpoint NULL: https://ACCOUNT.blob.<suffix>.
 * Caller frees with rb_blob_client_free(). */
rb_status rb_azure_blob_client(rb_azure *az, const char *account, const char *endpoint,
                               const char *account_key, const char *sas,
                               rb_blob_client **out, rb_az_err *err);

/* "https://NAME.<keyvault_suffix>" into buf (truncated if too small). */
void rb_azure_vault_url(const rb_azure *az, const char *vault, char *buf, size_t len);

/* Auth for Key Vault data-plane requests: bearer from the run's credential,
 * answering the vault's 401 challenge. Caller frees with rb_az_auth_free(). */
rb_status rb_azure_vault_auth(rb_azure *az, rb_az_auth **out, rb_az_err *err);

#endif
