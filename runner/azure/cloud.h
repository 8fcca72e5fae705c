/* rebound Azure access layer: which Azure a run talks to.
 *
 * The endpoints of the public cloud, US Government and China differ; azsim
 * is reached through a custom cloud whose endpoints are loopback URLs. */
#ifndef REBOUND_AZURE_CLOUD_H
#define REBOUND_AZURE_CLOUD_H

#include <stddef.h>

#include <rebound/status.h>

#include "az_error.h"

typedef struct rb_cloud {
    char name[32];                 /* "public", "usgov", "china", "custom" */
    char authority_host[256];      /* "https://login.microsoftonline.com" (no trailing /) */
    char arm_endpoint[256];        /* "https://management.azure.com" */
    char arm_audience[256];        /* "https://management.azure.com"; scope = audience + "/.default" */
    char storage_suffix[128];      /* "core.windows.net" */
    char keyvault_suffix[128];     /* "vault.azure.net" */
    char imds_endpoint[256];       /* full token URL: "http://169.254.169.254/metadata/identity/oauth2/token" */
} rb_cloud;

/* Fills *out with the preset called name ("public", "usgov", "china").
 * Returns RB_EINVAL for an unknown name. Nothing to free. */
rb_status rb_cloud_preset(rb_cloud *out, const char *name, rb_az_err *err);

/* Starts from a preset (base, NULL = "public") and overrides each field that
 * is non-NULL; names the result "custom". Trailing slashes are removed.
 * Without an explicit arm_audience, a new arm_endpoint is also the
 * audience (as in docs/config.md).
 * Returns RB_EINVAL when a value does not fit. Nothing to free. */
rb_status rb_cloud_custom(rb_cloud *out, const char *base, const char *authority_host,
                          const char *arm_endpoint, const char *arm_audience,
                          const char *storage_suffix, const char *keyvault_suffix,
                          const char *imds_endpoint, rb_az_err *err);

/* The ARM token scope: "<arm_audience>/.default" into buf. */
void rb_cloud_arm_scope(const rb_cloud *cloud, char *buf, size_t len);

#endif
