/* `rebound vault put --from-url-env` and `restore --to-url-env`: a blob
 * named by a SAS URL, taken from an environment variable so that it never
 * shows in the process list or the shell history, reached through the
 * config's cloud settings (CA file, proxy) on the runner's HTTP engine. */
#ifndef REBOUND_CLI_CMD_VAULT_URL_H
#define REBOUND_CLI_CMD_VAULT_URL_H

#include "azure/http.h"
#include "config/config.h"

typedef struct rb_cli_url {
    struct rb_azure_session *session;
    rb_http_engine *eng;
    const char *url; /* borrowed from the environment */
} rb_cli_url;

/* Reads the URL from the variable env and starts the HTTP engine. On
 * failure prints why (never the URL) prefixed with who and returns
 * non-zero. */
int rb_cli_url_open(const rb_config *cfg, const char *env, const char *who, rb_cli_url *out);
void rb_cli_url_close(rb_cli_url *u);

#endif
