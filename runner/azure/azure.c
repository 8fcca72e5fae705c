/* The run's Azure context. See azure.h. */
#include "azure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rb_azure {
    rb_http_engine *eng;
    rb_cloud cloud;
    rb_cred *cred;
    rb_arm *arm;
    int tracing;
};

rb_status rb_azure_new(rb_azure **out, const rb_azure_config *cfg, rb_az_err *err)
{
    *out = NULL;
    rb_azure_config c = {0};
    if (cfg)
        c = *cfg;
    rb_azure *az = calloc(1, sizeof *az);
    if (!az)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    const char *name = c.cloud && *c.cloud ? c.cloud : "public";
    int custom = strcmp(name, "custom") == 0;
    rb_status st;
    if (!custom && !c.authority_host && !c.arm_endpoint && !c.arm_audience &&
        !c.keyvault_suffix && !c.storage_suffix && !c.imds_endpoint)
        st = rb_cloud_preset(&az->cloud, name, err);
    else
        st = rb_cloud_custom(&az->cloud, custom ? "public" : name, c.authority_host,
                             c.arm_endpoint, c.arm_audience, c.storage_suffix, c.keyvault_suffix,
                             c.imds_endpoint, err);
    if (st == RB_OK && c.trace_file) {
        st = rb_http_trace_open(c.trace_file, err);
        az->tracing = st == RB_OK;
    }
    rb_http_options ho = {.ca_file = c.ca_file};
    if (st == RB_OK)
        st = rb_http_engine_new(&az->eng, &ho, err);
    if (st == RB_OK)
        st = rb_cred_new(&az->cred, az->eng, &az->cloud, &c.auth, err);
    if (st == RB_OK)
        st = rb_arm_new(&az->arm, az->eng, az->cred, &az->cloud, err);
    if (st != RB_OK) {
        rb_azure_free(az);
        return st;
    }
    *out = az;
    return RB_OK;
}

void rb_azure_free(rb_azure *az)
{
    if (!az)
        return;
    rb_arm_free(az->arm);
    rb_cred_free(az->cred);
    rb_http_engine_free(az->eng);
    if (az->tracing)
        rb_http_trace_close();
    free(az);
}

rb_http_engine *rb_azure_engine(rb_azure *az)
{
    return az->eng;
}

const rb_cloud *rb_azure_cloud(const rb_azure *az)
{
    return &az->cloud;
}

rb_cred *rb_azure_cred(rb_azure *az)
{
    return az->cred;
}

rb_arm *rb_azure_arm(rb_azure *az)
{
    return az->arm;
}

rb_status rb_azure_blob_client(rb_azure *az, const char *account, const char *endpoint,
                               const char *account_key, const char *sas,
                               rb_blob_client **out, rb_az_err *err)
{
    *out = NULL;
    if (!account || !*account)
        return rb_az_fail(err, RB_EINVAL, "a blob client needs a storage account name");
    char ep[512];
    if (endpoint)
        snprintf(ep, sizeof ep, "%s", endpoint);
    else
        snprintf(ep, sizeof ep, "https://%s.blob.%s", account, az->cloud.storage_suffix);
    rb_blob_options o = {.endpoint = ep, .account = account};
    if (account_key)
        o.account_key = account_key;
    else if (sas)
        o.sas = sas;
    else
        o.cred = az->cred;
    return rb_blob_client_new(out, az->eng, &o, err);
}

void rb_azure_vault_url(const rb_azure *az, const char *vault, char *buf, size_t len)
{
    snprintf(buf, len, "https://%s.%s", vault, az->cloud.keyvault_suffix);
}

rb_status rb_azure_vault_auth(rb_azure *az, rb_az_auth **out, rb_az_err *err)
{
    /* The first request uses the cloud's Key Vault audience; the vault's
     * challenge corrects tenant and resource when they differ. */
    const char *scope = strstr(az->cloud.keyvault_suffix, "azure.cn")     ? "https://vault.azure.cn/.default"
                        : strstr(az->cloud.keyvault_suffix, "usgovcloudapi") ? "https://vault.usgovcloudapi.net/.default"
                                                                             : "https://vault.azure.net/.default";
    return rb_az_auth_bearer(out, az->cred, scope, 1, err);
}
