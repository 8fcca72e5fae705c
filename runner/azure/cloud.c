/* Cloud presets: the endpoints Microsoft publishes for each Azure cloud. */
#include "cloud.h"

#include <stdio.h>
#include <string.h>

static const rb_cloud k_clouds[] = {
    {"public", "https://login.microsoftonline.com", "https://management.azure.com",
     "https://management.azure.com", "core.windows.net", "vault.azure.net",
     "http://169.254.169.254/metadata/identity/oauth2/token"},
    {"usgov", "https://login.microsoftonline.us", "https://management.usgovcloudapi.net",
     "https://management.usgovcloudapi.net", "core.usgovcloudapi.net",
     "vault.usgovcloudapi.net", "http://169.254.169.254/metadata/identity/oauth2/token"},
    {"china", "https://login.chinacloudapi.cn", "https://management.chinacloudapi.cn",
     "https://management.chinacloudapi.cn", "core.chinacloudapi.cn",
     "vault.azure.cn", "http://169.254.169.254/metadata/identity/oauth2/token"},
};

rb_status rb_cloud_preset(rb_cloud *out, const char *name, rb_az_err *err)
{
    for (size_t i = 0; i < sizeof k_clouds / sizeof k_clouds[0]; i++) {
        if (strcmp(k_clouds[i].name, name) == 0) {
            *out = k_clouds[i];
            return RB_OK;
        }
    }
    return rb_az_fail(err, RB_EINVAL, "unknown cloud \"%s\" (public, usgov, china)", name);
}

static rb_status set_field(char *dst, size_t cap, const char *v, const char *what, rb_az_err *err)
{
    if (!v)
        return RB_OK;
    size_t n = strlen(v);
    while (n && v[n - 1] == '/')
        n--;
    if (n >= cap)
        return rb_az_fail(err, RB_EINVAL, "cloud %s is too long", what);
    memcpy(dst, v, n);
    dst[n] = '\0';
    return RB_OK;
}

rb_status rb_cloud_custom(rb_cloud *out, const char *base, const char *authority_host,
                          const char *arm_endpoint, const char *arm_audience,
                          const char *storage_suffix, const char *keyvault_suffix,
                          const char *imds_endpoint, rb_az_err *err)
{
    rb_status st = rb_cloud_preset(out, base ? base : "public", err);
    if (st != RB_OK)
        return st;
    snprintf(out->name, sizeof out->name, "custom");
    if ((st = set_field(out->authority_host, sizeof out->authority_host, authority_host,
                        "authority host", err)) != RB_OK ||
        (st = set_field(out->arm_endpoint, sizeof out->arm_endpoint, arm_endpoint, "ARM endpoint",
                        err)) != RB_OK ||
        (st = set_field(out->storage_suffix, sizeof out->storage_suffix, storage_suffix,
                        "storage suffix", err)) != RB_OK ||
        (st = set_field(out->keyvault_suffix, sizeof out->keyvault_suffix, keyvault_suffix,
                        "Key Vault suffix", err)) != RB_OK ||
        (st = set_field(out->imds_endpoint, sizeof out->imds_endpoint, imds_endpoint,
                        "IMDS endpoint", err)) != RB_OK)
        return st;
    if ((st = set_field(out->arm_audience, sizeof out->arm_audience,
                        arm_audience ? arm_audience : arm_endpoint, "ARM audience", err)) != RB_OK)
        return st;
    return RB_OK;
}

void rb_cloud_arm_scope(const rb_cloud *cloud, char *buf, size_t len)
{
    snprintf(buf, len, "%s/.default", cloud->arm_audience);
}
