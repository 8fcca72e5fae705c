/* `rebound validate`: the effective config as YAML, written by libyaml's
 * emitter so that quoting is always right. Secrets appear only as their
 * source ("from env NAME", "from file PATH"). */
#include "config/config.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config/config_internal.h"
#include "core/util.h"
#include "core/values.h"

typedef struct dumper {
    yaml_emitter_t em;
    int failed;
} dumper;

static void emit(dumper *d, yaml_event_t *ev)
{
    if (d->failed) {
        yaml_event_delete(ev);
        return;
    }
    if (!yaml_emitter_emit(&d->em, ev))
        d->failed = 1; /* the emitter deletes the event either way */
}

static void scalar(dumper *d, const char *text, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)text, (int)strlen(text), 1,
                                      1, style))
        rb_die_oom();
    emit(d, &ev);
}

/* A string, quoted when plain text would read back as another type. */
static void string(dumper *d, const char *s)
{
    rb_cfg_scalar r = {0};
    int other = rb_cfg_resolve_plain(s, &r) != 0 || r.type != RB_VSTRING;
    scalar(d, s, other ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

static void map_start(dumper *d)
{
    yaml_event_t ev;
    if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))
        rb_die_oom();
    emit(d, &ev);
}

static void map_end(dumper *d)
{
    yaml_event_t ev;
    yaml_mapping_end_event_initialize(&ev);
    emit(d, &ev);
}

static void kv_str(dumper *d, const char *key, const char *value)
{
    scalar(d, key, YAML_ANY_SCALAR_STYLE);
    if (value)
        string(d, value);
    else
        scalar(d, "null", YAML_PLAIN_SCALAR_STYLE);
}

static void kv_long(dumper *d, const char *key, long value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", value);
    scalar(d, key, YAML_ANY_SCALAR_STYLE);
    scalar(d, buf, YAML_PLAIN_SCALAR_STYLE);
}

static void kv_bool(dumper *d, const char *key, int value)
{
    scalar(d, key, YAML_ANY_SCALAR_STYLE);
    scalar(d, value ? "true" : "false", YAML_PLAIN_SCALAR_STYLE);
}

/* "client_secret: from env X" / "from file Y" / "from env X, else file Y". */
static void kv_secret(dumper *d, const char *key, const char *env, const char *file)
{
    char *text;
    if (env && file)
        text = rb_xasprintf("from env %s, else file %s", env, file);
    else if (env)
        text = rb_xasprintf("from env %s", env);
    else if (file)
        text = rb_xasprintf("from file %s", file);
    else
        text = rb_xstrdup("not set");
    scalar(d, key, YAML_ANY_SCALAR_STYLE);
    scalar(d, text, YAML_ANY_SCALAR_STYLE);
    free(text);
}

/* Free-form sections should not hold secrets, but if one does, the dump at
 * least does not repeat it. */
static int looks_secret(const char *key)
{
    static const char *const words[] = {"secret", "password", "passwd", "credential", "private_key",
                                        "account_key", "connection_string", "api_key", "access_key",
                                        "sas_token", NULL};
    char low[128];
    size_t n = strlen(key);
    if (n >= sizeof low)
        n = sizeof low - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)key[i]);
    low[n] = '\0';
    if ((n > 4 && !strcmp(low + n - 4, "_env")) || (n > 5 && !strcmp(low + n - 5, "_file")))
        return 0;
    if (!strcmp(low, "token") || !strcmp(low, "sas") || !strcmp(low, "key"))
        return 1;
    for (size_t i = 0; words[i]; i++)
        if (strstr(low, words[i]))
            return 1;
    return 0;
}

static void value(dumper *d, const rb_value *v)
{
    char buf[64];
    switch (rbv_type(v)) {
    case RB_VNULL:
        scalar(d, "null", YAML_PLAIN_SCALAR_STYLE);
        break;
    case RB_VBOOL:
        scalar(d, rbv_as_bool(v) ? "true" : "false", YAML_PLAIN_SCALAR_STYLE);
        break;
    case RB_VINT:
        snprintf(buf, sizeof buf, "%" PRId64, rbv_as_int(v));
        scalar(d, buf, YAML_PLAIN_SCALAR_STYLE);
        break;
    case RB_VDOUBLE: {
        double x = rbv_as_double(v);
        if (isnan(x))
            snprintf(buf, sizeof buf, ".nan");
        else if (isinf(x))
            snprintf(buf, sizeof buf, "%s", x < 0 ? "-.inf" : ".inf");
        else {
            snprintf(buf, sizeof buf, "%.17g", x);
            if (!strpbrk(buf, ".eE"))
                strcat(buf, ".0");
        }
        scalar(d, buf, YAML_PLAIN_SCALAR_STYLE);
        break;
    }
    case RB_VSTRING:
        string(d, rbv_as_string(v));
        break;
    case RB_VBYTES:
        scalar(d, "<bytes>", YAML_ANY_SCALAR_STYLE);
        break;
    case RB_VLIST: {
        yaml_event_t ev;
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE))
            rb_die_oom();
        emit(d, &ev);
        for (size_t i = 0; i < rbv_len(v); i++)
            value(d, rbv_list_get(v, i));
        yaml_sequence_end_event_initialize(&ev);
        emit(d, &ev);
        break;
    }
    case RB_VMAP:
        map_start(d);
        for (size_t i = 0; i < rbv_len(v); i++) {
            const char *k = rbv_map_key_at(v, i);
            scalar(d, k, YAML_ANY_SCALAR_STYLE);
            if (looks_secret(k))
                scalar(d, "<redacted>", YAML_ANY_SCALAR_STYLE);
            else
                value(d, rbv_map_value_at(v, i));
        }
        map_end(d);
        break;
    }
}

static void dump_body(dumper *d, const rb_config *cfg)
{
    map_start(d);

    scalar(d, "plugins", YAML_ANY_SCALAR_STYLE);
    map_start(d);
    scalar(d, "paths", YAML_ANY_SCALAR_STYLE);
    yaml_event_t ev;
    if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE))
        rb_die_oom();
    emit(d, &ev);
    for (size_t i = 0; i < cfg->n_plugin_paths; i++)
        string(d, cfg->plugin_paths[i]);
    yaml_sequence_end_event_initialize(&ev);
    emit(d, &ev);
    scalar(d, "settings", YAML_ANY_SCALAR_STYLE);
    value(d, cfg->plugin_settings);
    map_end(d);

    const rb_cloud_config *c = &cfg->cloud;
    scalar(d, "cloud", YAML_ANY_SCALAR_STYLE);
    map_start(d);
    kv_str(d, "name", c->name);
    kv_str(d, "authority_host", c->authority_host);
    kv_str(d, "arm_endpoint", c->arm_endpoint);
    kv_str(d, "arm_audience", c->arm_audience);
    kv_str(d, "keyvault_suffix", c->keyvault_suffix);
    kv_str(d, "storage_suffix", c->storage_suffix);
    kv_str(d, "imds_endpoint", c->imds_endpoint);
    kv_str(d, "ca_file", c->ca_file);
    map_end(d);

    const rb_auth_config *a = &cfg->auth;
    scalar(d, "auth", YAML_ANY_SCALAR_STYLE);
    map_start(d);
    kv_str(d, "method", a->method);
    kv_str(d, "tenant_id", a->tenant_id);
    kv_str(d, "client_id", a->client_id);
    kv_secret(d, "client_secret", a->client_secret_env, a->client_secret_file);
    kv_str(d, "certificate_file", a->certificate_file);
    kv_str(d, "federated_token_file", a->federated_token_file);
    kv_str(d, "token_file", a->token_file);
    map_end(d);

    const rb_vault_config *v = &cfg->vault;
    scalar(d, "vault", YAML_ANY_SCALAR_STYLE);
    map_start(d);
    kv_str(d, "kind", v->kind);
    kv_str(d, "path", v->path);
    kv_str(d, "account", v->account);
    kv_str(d, "container", v->container);
    kv_str(d, "endpoint", v->endpoint);
    kv_secret(d, "account_key", v->account_key_env, v->account_key_file);
    kv_secret(d, "sas", v->sas_env, v->sas_file);
    kv_long(d, "min_retention_days", v->min_retention_days);
    kv_bool(d, "allow_unlocked", v->allow_unlocked);
    kv_secret(d, "signing_key", v->signing_key_env, v->signing_key_file);
    kv_str(d, "public_key_file", v->public_key_file);
    kv_long(d, "block_size", v->block_size);
    map_end(d);

    const rb_run_config *r = &cfg->run;
    scalar(d, "run", YAML_ANY_SCALAR_STYLE);
    map_start(d);
    kv_str(d, "runs_dir", r->runs_dir);
    kv_long(d, "parallel", r->parallel);
    kv_str(d, "failure_policy", r->failure_policy);
    map_end(d);

    scalar(d, "estate", YAML_ANY_SCALAR_STYLE);
    value(d, cfg->estate);
    scalar(d, "targets", YAML_ANY_SCALAR_STYLE);
    value(d, cfg->targets);

    map_end(d);
}

void rb_config_dump(const rb_config *cfg, FILE *out)
{
    fprintf(out, "# effective configuration (%s)\n", cfg->path ? cfg->path : "built-in defaults");
    fflush(out);

    dumper d = {0};
    if (!yaml_emitter_initialize(&d.em))
        rb_die_oom();
    yaml_emitter_set_output_file(&d.em, out);
    yaml_emitter_set_unicode(&d.em, 1);
    yaml_emitter_set_width(&d.em, -1);

    yaml_event_t ev;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    emit(&d, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    emit(&d, &ev);
    dump_body(&d, cfg);
    yaml_document_end_event_initialize(&ev, 1);
    emit(&d, &ev);
    yaml_stream_end_event_initialize(&ev);
    emit(&d, &ev);
    yaml_emitter_flush(&d.em);
    yaml_emitter_delete(&d.em);
}
