/* SAS URLs for `rebound vault`. See cmd_vault_url.h. */
#include "cli/cmd_vault_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/azure.h"
#include "plugin/azure_session.h"

int rb_cli_url_open(const rb_config *cfg, const char *env, const char *who, rb_cli_url *out)
{
    memset(out, 0, sizeof *out);
    const char *url = getenv(env);
    if (!url || !*url) {
        fprintf(stderr, "%s: the environment variable %s is not set (it holds the SAS URL)\n",
                who, env);
        return -1;
    }
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
        fprintf(stderr, "%s: %s does not hold an http(s) URL\n", who, env);
        return -1;
    }
    out->session = rb_azure_session_new(cfg, NULL);
    rb_azure *az = NULL;
    char msg[2300];
    if (rb_azure_session_get(out->session, &az, msg, sizeof msg) != RB_OK) {
        fprintf(stderr, "%s: %s\n", who, msg);
        rb_cli_url_close(out);
        return -1;
    }
    out->eng = rb_azure_engine(az);
    out->url = url;
    return 0;
}

void rb_cli_url_close(rb_cli_url *u)
{
    rb_azure_session_free(u->session);
    memset(u, 0, sizeof *u);
}
