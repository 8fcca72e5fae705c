/* The runner's configuration: rebound.yaml, parsed with libyaml.
 *
 * Every key is known; an unknown key is an error that names file:line:column
 * and the key. Scalars may use ${VAR} (and ${VAR:-default}) to read the
 * environment. Secrets are never written in the file: they come from
 * environment variables or files named in it (*_env / *_file keys), and no
 * secret value is ever echoed back in an error or a dump.
 *
 * Free-form sections (estate, plugins.settings.<name>, targets.<name>) are
 * kept as rb_value maps and handed to playbooks and plugins unchanged. */
#ifndef REBOUND_RUNNER_CONFIG_H
#define REBOUND_RUNNER_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "rebound/value.h"

typedef struct rb_cloud_config {
    char *name;             /* "public" (default), "usgov", "china", "custom" */
    char *authority_host;   /* e.g. https://login.microsoftonline.com */
    char *arm_endpoint;     /* e.g. https://management.azure.com */
    char *arm_audience;     /* token scope base, e.g. https://management.azure.com */
    char *keyvault_suffix;  /* e.g. vault.azure.net */
    char *storage_suffix;   /* e.g. core.windows.net */
    char *imds_endpoint;    /* managed identity endpoint override, or NULL */
    char *ca_file;          /* extra CA bundle (e.g. azsim's test CA), or NULL */
} rb_cloud_config;

typedef struct rb_auth_config {
    /* "default" (the chain), "client_secret", "client_certificate",
     * "workload_identity", "managed_identity", "azure_cli", "token_file" */
    char *method;
    char *tenant_id;
    char *client_id;
    char *client_secret_env;    /* name of the env var holding the secret */
    char *client_secret_file;   /* path of a file holding the secret */
    char *certificate_file;     /* PEM with certificate and private key */
    char *federated_token_file;
    char *token_file;           /* static bearer token */
} rb_auth_config;

typedef struct rb_vault_config {
    char *kind;                 /* "local" (default) or "azure-blob" */
    char *path;                 /* local: directory (default .rebound/vault) */
    char *account;              /* azure-blob: storage account name */
    char *container;            /* azure-blob: container name */
    char *endpoint;             /* azure-blob: blob endpoint override */
    char *account_key_env;      /* Shared Key from this env var (optional) */
    char *account_key_file;
    char *sas_env;              /* SAS token from this env var (optional) */
    char *sas_file;
    int min_retention_days;     /* default 30 */
    int allow_unlocked;         /* practice drills only; recorded in reports */
    char *signing_key_file;     /* Ed25519 private key (PEM) */
    char *signing_key_env;
    char *public_key_file;      /* Ed25519 public key (PEM) for verification */
    long block_size;            /* bytes, default 8 MiB */
} rb_vault_config;

typedef struct rb_run_config {
    char *runs_dir;             /* default .rebound/runs */
    int parallel;               /* default 8 */
    char *failure_policy;       /* "stop" (default) or "continue" */
} rb_run_config;

typedef struct rb_config {
    char *path;                 /* the file read, or NULL when defaults only */
    char **plugin_paths;        /* plugins.paths, NULL-terminated, may be empty */
    size_t n_plugin_paths;
    rb_value *plugin_settings;  /* plugins.settings: map name -> map; never NULL */
    rb_value *estate;           /* estate: free-form map; never NULL */
    rb_value *targets;          /* targets: map name -> map (drill targets); never NULL */
    rb_cloud_config cloud;
    rb_auth_config auth;
    rb_vault_config vault;
    rb_run_config run;
} rb_config;

/* Returns a config with every default filled in. Caller frees with
 * rb_config_free(). Never NULL (aborts on OOM). */
rb_config *rb_config_defaults(void);

/* Loads `path`. When `path` is NULL, loads "rebound.yaml" if it exists in the
 * current directory, otherwise returns the defaults. When `path` is given
 * explicitly it must exist.
 * On success returns a config (caller frees with rb_config_free()); on error
 * returns NULL and writes a message of the form "FILE:LINE:COL: message" into
 * err (at most errlen bytes, always NUL-terminated). */
rb_config *rb_config_load(const char *path, char *err, size_t errlen);

void rb_config_free(rb_config *cfg);

/* Reads a secret named by a (*_env, *_file) pair: the env var wins, then the
 * file (trailing newline trimmed). Returns a malloc'd string the caller must
 * wipe and free, or NULL with a message in err that never contains the
 * secret itself. */
char *rb_config_read_secret(const char *env_name, const char *file, const char *what,
                            char *err, size_t errlen);

/* Writes a human-readable dump of the effective config to `out` (for
 * `rebound validate`), with secrets shown only by their source. */
void rb_config_dump(const rb_config *cfg, FILE *out);

#endif
