#include "plugin/azure_session.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/azure.h"
#include "config/config.h"
#include "core/util.h"

struct rb_azure_session {
    const rb_config *cfg;
    char *trace_file;
    pthread_mutex_t lock;
    int tried;
    rb_status status;
    char error[2200];
    rb_azure *az;
};

rb_azure_session *rb_azure_session_new(const rb_config *cfg, const char *trace_file)
{
    rb_azure_session *s = rb_xcalloc(1, sizeof *s);
    s->cfg = cfg;
    s->trace_file = trace_file ? rb_xstrdup(trace_file) : NULL;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void rb_azure_session_free(rb_azure_session *s)
{
    if (!s)
        return;
    rb_azure_free(s->az);
    pthread_mutex_destroy(&s->lock);
    free(s->trace_file);
    free(s);
}

static rb_cred_kind cred_kind(const char *method)
{
    static const struct {
        const char *name;
        rb_cred_kind kind;
    } kinds[] = {{"default", RB_CRED_DEFAULT},
                 {"client_secret", RB_CRED_CLIENT_SECRET},
                 {"client_certificate", RB_CRED_CLIENT_CERT},
                 {"workload_identity", RB_CRED_WORKLOAD},
                 {"managed_identity", RB_CRED_MANAGED_IDENTITY},
                 {"azure_cli", RB_CRED_AZURE_CLI},
                 {"token_file", RB_CRED_TOKEN_FILE}};
    for (size_t i = 0; method && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].name, method) == 0)
            return kinds[i].kind;
    return RB_CRED_DEFAULT;
}

/* Called with the lock held. */
static void build(rb_azure_session *s)
{
    const rb_config *c = s->cfg;
    char *secret = NULL;
    if (c->auth.client_secret_env || c->auth.client_secret_file) {
        char err[512];
        secret = rb_config_read_secret(c->auth.client_secret_env, c->auth.client_secret_file,
                                       "the client secret", err, sizeof err);
        if (!secret) {
            s->status = RB_EAUTH;
            snprintf(s->error, sizeof s->error, "%s", err);
            return;
        }
    }
    rb_azure_config ac = {
        .cloud = c->cloud.name,
        .authority_host = c->cloud.authority_host,
        .arm_endpoint = c->cloud.arm_endpoint,
        .arm_audience = c->cloud.arm_audience,
        .keyvault_suffix = c->cloud.keyvault_suffix,
        .storage_suffix = c->cloud.storage_suffix,
        .imds_endpoint = c->cloud.imds_endpoint,
        .ca_file = c->cloud.ca_file,
        .auth = {.kind = cred_kind(c->auth.method),
                 .tenant_id = c->auth.tenant_id,
                 .client_id = c->auth.client_id,
                 .client_secret = secret,
                 .cert_path = c->auth.certificate_file,
                 .federated_token_file = c->auth.federated_token_file,
                 .token_file = c->auth.token_file},
        .trace_file = s->trace_file,
    };
    rb_az_err err;
    rb_az_err_clear(&err);
    s->status = rb_azure_new(&s->az, &ac, &err);
    if (s->status != RB_OK)
        snprintf(s->error, sizeof s->error, "cannot set up Azure access: %s", err.msg);
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
}

rb_status rb_azure_session_get(rb_azure_session *s, rb_azure **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!s) {
        snprintf(err, errlen, "no Azure access in this context");
        return RB_EUNSUPPORTED;
    }
    pthread_mutex_lock(&s->lock);
    if (!s->tried) {
        s->tried = 1;
        build(s);
    }
    rb_status st = s->status;
    if (st == RB_OK)
        *out = s->az;
    else
        snprintf(err, errlen, "%s", s->error);
    pthread_mutex_unlock(&s->lock);
    return st;
}
