/* rebound.yaml: the schema, defaults and cloud presets. See config.h.
 *
 * Fixed sections (cloud, auth, vault, run) are described by field tables in
 * the way Fluent Bit describes plugin settings: name, kind, where it goes.
 * One walker validates every section from its table, so every key gets the
 * same error messages and nobody hand-checks a key. */
#include "config/config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "config/yaml_tree.h"
#include "core/util.h"
#include "core/values.h"

/* A config file larger than this is a mistake, not a config. */
#define RB_CFG_MAX_FILE (4u << 20)

#define RB_DEFAULT_VAULT_PATH ".rebound/vault"
#define RB_DEFAULT_RUNS_DIR ".rebound/runs"
#define RB_DEFAULT_PARALLEL 8
#define RB_DEFAULT_RETENTION_DAYS 30
#define RB_DEFAULT_BLOCK_SIZE (8L << 20)
/* Azure Put Block takes at most 4000 MiB per block. */
#define RB_MAX_BLOCK_SIZE (4000LL << 20)
/* Azure's longest time-based retention: 146000 days. */
#define RB_MAX_RETENTION_DAYS 146000
#define RB_MAX_PARALLEL 4096

typedef enum field_kind {
    FK_STRING,      /* any scalar, kept as text */
    FK_PATH,        /* resolved relative to the config file's directory */
    FK_URL,         /* http:// or https://, trailing '/' removed */
    FK_HTTPS_URL,   /* https:// only: tokens travel there */
    FK_ENV_NAME,    /* the NAME of an environment variable; never expanded */
    FK_ENUM,
    FK_INT,         /* int field */
    FK_BOOL,        /* int field, 0 or 1 */
    FK_SIZE,        /* long field: bytes, or "8 MiB" */
    FK_REFUSED      /* a literal secret: always an error */
} field_kind;

typedef struct field {
    const char *name;
    field_kind kind;
    size_t offset;
    long long min, max;             /* FK_INT, FK_SIZE */
    const char *const *choices;     /* FK_ENUM, NULL-terminated */
    const char *instead;            /* FK_REFUSED: what to write instead */
} field;

static const char *const cloud_names[] = {"public", "usgov", "china", "custom", NULL};
static const char *const auth_methods[] = {"default", "client_secret", "client_certificate",
                                           "workload_identity", "managed_identity", "azure_cli",
                                           "token_file", NULL};
static const char *const vault_kinds[] = {"local", "azure-blob", NULL};
static const char *const failure_policies[] = {"stop", "continue", NULL};

#define STR(s, f, k) {.name = #f, .kind = (k), .offset = offsetof(s, f)}

enum { CLOUD_NAME, CLOUD_AUTHORITY, CLOUD_ARM, CLOUD_AUDIENCE, CLOUD_KV, CLOUD_STORAGE };
static const field cloud_fields[] = {
    {.name = "name", .kind = FK_ENUM, .offset = offsetof(rb_cloud_config, name), .choices = cloud_names},
    STR(rb_cloud_config, authority_host, FK_HTTPS_URL),
    STR(rb_cloud_config, arm_endpoint, FK_HTTPS_URL),
    STR(rb_cloud_config, arm_audience, FK_HTTPS_URL),
    STR(rb_cloud_config, keyvault_suffix, FK_STRING),
    STR(rb_cloud_config, storage_suffix, FK_STRING),
    STR(rb_cloud_config, imds_endpoint, FK_URL),
    STR(rb_cloud_config, ca_file, FK_PATH),
    {0}};

enum { AUTH_METHOD };
static const field auth_fields[] = {
    {.name = "method", .kind = FK_ENUM, .offset = offsetof(rb_auth_config, method), .choices = auth_methods},
    STR(rb_auth_config, tenant_id, FK_STRING),
    STR(rb_auth_config, client_id, FK_STRING),
    STR(rb_auth_config, client_secret_env, FK_ENV_NAME),
    STR(rb_auth_config, client_secret_file, FK_PATH),
    STR(rb_auth_config, certificate_file, FK_PATH),
    STR(rb_auth_config, federated_token_file, FK_PATH),
    STR(rb_auth_config, token_file, FK_PATH),
    {.name = "client_secret", .kind = FK_REFUSED, .instead = "client_secret_env or client_secret_file"},
    {0}};

enum { VAULT_KIND };
static const field vault_fields[] = {
    {.name = "kind", .kind = FK_ENUM, .offset = offsetof(rb_vault_config, kind), .choices = vault_kinds},
    STR(rb_vault_config, path, FK_PATH),
    STR(rb_vault_config, account, FK_STRING),
    STR(rb_vault_config, container, FK_STRING),
    STR(rb_vault_config, endpoint, FK_URL),
    STR(rb_vault_config, account_key_env, FK_ENV_NAME),
    STR(rb_vault_config, account_key_file, FK_PATH),
    STR(rb_vault_config, sas_env, FK_ENV_NAME),
    STR(rb_vault_config, sas_file, FK_PATH),
    {.name = "min_retention_days", .kind = FK_INT, .offset = offsetof(rb_vault_config, min_retention_days),
     .min = 1, .max = RB_MAX_RETENTION_DAYS},
    {.name = "allow_unlocked", .kind = FK_BOOL, .offset = offsetof(rb_vault_config, allow_unlocked)},
    STR(rb_vault_config, signing_key_file, FK_PATH),
    STR(rb_vault_config, signing_key_env, FK_ENV_NAME),
    STR(rb_vault_config, public_key_file, FK_PATH),
    {.name = "block_size", .kind = FK_SIZE, .offset = offsetof(rb_vault_config, block_size),
     .min = 1, .max = RB_MAX_BLOCK_SIZE},
    {.name = "account_key", .kind = FK_REFUSED, .instead = "account_key_env or account_key_file"},
    {.name = "sas", .kind = FK_REFUSED, .instead = "sas_env or sas_file"},
    {.name = "signing_key", .kind = FK_REFUSED, .instead = "signing_key_env or signing_key_file"},
    {0}};

static const field run_fields[] = {
    STR(rb_run_config, runs_dir, FK_PATH),
    {.name = "parallel", .kind = FK_INT, .offset = offsetof(rb_run_config, parallel), .min = 1,
     .max = RB_MAX_PARALLEL},
    {.name = "failure_policy", .kind = FK_ENUM, .offset = offsetof(rb_run_config, failure_policy),
     .choices = failure_policies},
    {0}};

#define MAX_FIELDS 24

static const char *const top_keys[] = {"plugins", "cloud", "auth", "estate", "targets", "vault", "run", NULL};
static const char *const plugins_keys[] = {"paths", "settings", NULL};

typedef struct cloud_preset {
    const char *name, *authority_host, *arm_endpoint, *arm_audience, *keyvault_suffix, *storage_suffix;
} cloud_preset;

static const cloud_preset presets[] = {
    {"public", "https://login.microsoftonline.com", "https://management.azure.com",
     "https://management.azure.com", "vault.azure.net", "core.windows.net"},
    {"usgov", "https://login.microsoftonline.us", "https://management.usgovcloudapi.net",
     "https://management.usgovcloudapi.net", "vault.usgovcloudapi.net", "core.usgovcloudapi.net"},
    {"china", "https://login.chinacloudapi.cn", "https://management.chinacloudapi.cn",
     "https://management.chinacloudapi.cn", "vault.azure.cn", "core.chinacloudapi.cn"},
};

/* Where each key of a section was written, for checks that span keys. */
typedef struct section_marks {
    const rb_ynode *section;            /* the section's mapping */
    const rb_ynode *key[MAX_FIELDS];    /* indexed like the field table */
} section_marks;

typedef struct load_marks {
    section_marks cloud, auth, vault, run;
} load_marks;

/* ---- helpers ---------------------------------------------------------- */

static char **field_str(void *base, const field *f)
{
    return (char **)((char *)base + f->offset);
}

static void list_names(rb_buf *b, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        if (i)
            rb_buf_puts(b, ", ");
        rb_buf_puts(b, names[i]);
    }
}

static void list_fields(rb_buf *b, const field *fields)
{
    int first = 1;
    for (const field *f = fields; f->name; f++) {
        if (f->kind == FK_REFUSED)
            continue;
        if (!first)
            rb_buf_puts(b, ", ");
        rb_buf_puts(b, f->name);
        first = 0;
    }
}

static int unknown_key(rb_cfg_ctx *ctx, const rb_ynode *k, const char *section, rb_buf *expected)
{
    if (section)
        rb_cfg_fail(ctx, k, "unknown key \"%s\" in \"%s\" (expected one of: %s)", k->text, section,
                    expected->p ? expected->p : "");
    else
        rb_cfg_fail(ctx, k, "unknown top-level key \"%s\" (expected one of: %s)", k->text,
                    expected->p ? expected->p : "");
    rb_buf_free(expected);
    return -1;
}

/* Checks that `map` is a mapping with scalar, unique keys. */
static int check_map(rb_cfg_ctx *ctx, const rb_ynode *map, const char *what)
{
    if (map->kind != RB_YMAP)
        return rb_cfg_fail(ctx, map, "\"%s\" must be a mapping, not %s", what, rb_cfg_node_kind(map));
    for (size_t i = 0; i + 1 < map->n_kids; i += 2) {
        const rb_ynode *k = map->kids[i];
        if (k->kind != RB_YSCALAR || strlen(k->text) != k->len)
            return rb_cfg_fail(ctx, k, "keys in \"%s\" must be strings, not %s", what, rb_cfg_node_kind(k));
        for (size_t j = 0; j < i; j += 2)
            if (!strcmp(map->kids[j]->text, k->text))
                return rb_cfg_fail(ctx, k, "duplicate key \"%s\" in \"%s\" (first at line %zu)", k->text,
                                   what, map->kids[j]->line);
    }
    return 0;
}

static int is_null_node(const rb_ynode *n)
{
    rb_cfg_scalar s = {0};
    return n->kind == RB_YSCALAR && n->plain && !n->tag && rb_cfg_resolve_plain(n->text, &s) == 0 &&
           s.type == RB_VNULL;
}

static char *resolve_path(const char *dir, const char *p)
{
    if (!dir || p[0] == '/')
        return rb_xstrdup(p);
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    if (!*p || !strcmp(p, "."))
        return rb_xstrdup(dir);
    return rb_xasprintf("%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", p);
}

static const char *kind_desc(const field *f)
{
    switch (f->kind) {
    case FK_INT: return "an integer";
    case FK_BOOL: return "true or false";
    case FK_SIZE: return "a size in bytes (e.g. 8388608 or \"8 MiB\")";
    case FK_PATH: return "a path";
    case FK_URL:
    case FK_HTTPS_URL: return "a URL";
    case FK_ENV_NAME: return "the name of an environment variable";
    default: return "a string";
    }
}

/* "8388608", "8MiB", "8 MiB", "512 KiB", "1 GiB". */
static int parse_size(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno == ERANGE || v < 0 || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    while (*end == ' ')
        end++;
    long long mul = 1;
    if (!*end)
        mul = 1;
    else if (!strcmp(end, "KiB"))
        mul = 1LL << 10;
    else if (!strcmp(end, "MiB"))
        mul = 1LL << 20;
    else if (!strcmp(end, "GiB"))
        mul = 1LL << 30;
    else
        return -1;
    if (v > LLONG_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static int valid_env_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* ---- fixed sections --------------------------------------------------- */

static int set_field(rb_cfg_ctx *ctx, const field *f, const rb_ynode *k, const rb_ynode *v,
                     const char *what, void *base)
{
    if (f->kind == FK_REFUSED)
        /* Never echo the value: it is the secret. */
        return rb_cfg_fail(ctx, k, "\"%s\": secrets are not accepted in the config file; use %s", what,
                           f->instead);
    if (v->kind != RB_YSCALAR)
        return rb_cfg_fail(ctx, v, "\"%s\" must be %s, not %s", what, kind_desc(f), rb_cfg_node_kind(v));

    rb_cfg_scalar s;
    if (rb_cfg_scalar_get(ctx, v, what, f->kind != FK_ENV_NAME, &s))
        return -1;
    int rc = 0;
    /* null (or an empty string) leaves the key unset: its default applies. */
    int unset = s.type == RB_VNULL || (s.type == RB_VSTRING && !*s.text);

    switch (f->kind) {
    case FK_INT:
    case FK_BOOL:
    case FK_SIZE: {
        if (s.type == RB_VNULL)
            break;
        long long val;
        if (f->kind == FK_BOOL) {
            if (s.type != RB_VBOOL) {
                rc = rb_cfg_fail(ctx, v, "\"%s\" must be true or false, got \"%.60s\"", what, s.text);
                break;
            }
            *(int *)((char *)base + f->offset) = s.b;
            break;
        }
        if (s.type == RB_VINT) {
            val = s.i;
        } else if (f->kind == FK_SIZE && s.type == RB_VSTRING && parse_size(s.text, &val) == 0) {
            /* accepted */
        } else {
            rc = rb_cfg_fail(ctx, v, "\"%s\" must be %s, got \"%.60s\"", what, kind_desc(f), s.text);
            break;
        }
        if (val < f->min || val > f->max) {
            rc = rb_cfg_fail(ctx, v, "\"%s\" must be between %lld and %lld, got %lld", what, f->min,
                             f->max, val);
            break;
        }
        if (f->kind == FK_INT)
            *(int *)((char *)base + f->offset) = (int)val;
        else
            *(long *)((char *)base + f->offset) = (long)val;
        break;
    }
    case FK_ENV_NAME:
        if (unset)
            break;
        if (strchr(s.text, '$')) {
            rc = rb_cfg_fail(ctx, v, "\"%s\" takes the name of an environment variable, not ${...}: "
                             "write the variable's name, e.g. %s: MY_VARIABLE", what, f->name);
        } else if (!valid_env_name(s.text)) {
            /* Not echoed: someone may have pasted the secret itself here. */
            rc = rb_cfg_fail(ctx, v, "\"%s\" must be the name of an environment variable "
                             "(letters, digits and _, not starting with a digit)", what);
        } else {
            *field_str(base, f) = rb_xstrdup(s.text);
        }
        break;
    case FK_ENUM: {
        if (unset)
            break;
        size_t i;
        for (i = 0; f->choices[i]; i++)
            if (!strcmp(f->choices[i], s.text))
                break;
        if (!f->choices[i]) {
            rb_buf b = {0};
            list_names(&b, f->choices);
            rc = rb_cfg_fail(ctx, v, "\"%s\" must be one of: %s; got \"%.60s\"", what, b.p, s.text);
            rb_buf_free(&b);
            break;
        }
        *field_str(base, f) = rb_xstrdup(s.text);
        break;
    }
    case FK_URL:
    case FK_HTTPS_URL: {
        if (unset)
            break;
        const char *t = s.text;
        size_t scheme = !strncmp(t, "https://", 8) ? 8 : (f->kind == FK_URL && !strncmp(t, "http://", 7)) ? 7 : 0;
        if (!scheme || !t[scheme] || t[scheme] == '/') {
            rc = rb_cfg_fail(ctx, v, "\"%s\" must be an %s URL, got \"%.60s\"", what,
                             f->kind == FK_URL ? "http:// or https://" : "https://", t);
            break;
        }
        size_t n = strlen(t);
        while (n > scheme && t[n - 1] == '/')
            n--;
        *field_str(base, f) = rb_xstrndup(t, n);
        break;
    }
    case FK_PATH:
        if (unset)
            break;
        *field_str(base, f) = resolve_path(ctx->dir, s.text);
        break;
    default:
        if (unset)
            break;
        *field_str(base, f) = rb_xstrdup(s.text);
        break;
    }
    rb_cfg_scalar_clear(&s);
    return rc;
}

static int parse_section(rb_cfg_ctx *ctx, const rb_ynode *map, const char *section, const field *fields,
                         void *base, section_marks *marks)
{
    marks->section = map;
    if (is_null_node(map))
        return 0;
    if (check_map(ctx, map, section))
        return -1;
    for (size_t i = 0; i + 1 < map->n_kids; i += 2) {
        const rb_ynode *k = map->kids[i];
        size_t fi;
        for (fi = 0; fields[fi].name; fi++)
            if (!strcmp(fields[fi].name, k->text))
                break;
        if (!fields[fi].name) {
            rb_buf b = {0};
            list_fields(&b, fields);
            return unknown_key(ctx, k, section, &b);
        }
        marks->key[fi] = k;
        char *what = rb_cfg_join(section, k->text);
        int rc = set_field(ctx, &fields[fi], k, map->kids[i + 1], what, base);
        free(what);
        if (rc)
            return -1;
    }
    return 0;
}

/* ---- free-form sections ----------------------------------------------- */

/* A map whose values are themselves free-form maps (plugins.settings,
 * targets). */
static int parse_map_of_maps(rb_cfg_ctx *ctx, const rb_ynode *n, const char *what, rb_value *into)
{
    if (is_null_node(n))
        return 0;
    if (check_map(ctx, n, what))
        return -1;
    for (size_t i = 0; i + 1 < n->n_kids; i += 2) {
        const rb_ynode *k = n->kids[i], *v = n->kids[i + 1];
        char *sub = rb_cfg_join(what, k->text);
        rb_value *val = NULL;
        int rc;
        if (is_null_node(v)) {
            val = rbv_map();
            rc = 0;
        } else if (v->kind != RB_YMAP) {
            rc = rb_cfg_fail(ctx, v, "\"%s\" must be a mapping, not %s", sub, rb_cfg_node_kind(v));
        } else {
            rc = rb_cfg_to_value(ctx, v, sub, &val);
        }
        free(sub);
        if (rc)
            return -1;
        if (rbv_map_set(into, k->text, val) != RB_OK)
            rb_die_oom();
    }
    return 0;
}

static int parse_plugins(rb_cfg_ctx *ctx, const rb_ynode *n, rb_config *cfg)
{
    if (is_null_node(n))
        return 0;
    if (check_map(ctx, n, "plugins"))
        return -1;
    for (size_t i = 0; i + 1 < n->n_kids; i += 2) {
        const rb_ynode *k = n->kids[i], *v = n->kids[i + 1];
        if (!strcmp(k->text, "settings")) {
            if (parse_map_of_maps(ctx, v, "plugins.settings", cfg->plugin_settings))
                return -1;
        } else if (!strcmp(k->text, "paths")) {
            if (is_null_node(v))
                continue;
            if (v->kind != RB_YSEQ)
                return rb_cfg_fail(ctx, v, "\"plugins.paths\" must be a list of directories, not %s",
                                   rb_cfg_node_kind(v));
            free(cfg->plugin_paths);
            cfg->plugin_paths = rb_xcalloc(v->n_kids + 1, sizeof *cfg->plugin_paths);
            for (size_t j = 0; j < v->n_kids; j++) {
                char what[48];
                snprintf(what, sizeof what, "plugins.paths[%zu]", j);
                const rb_ynode *item = v->kids[j];
                if (item->kind != RB_YSCALAR)
                    return rb_cfg_fail(ctx, item, "\"%s\" must be a path, not %s", what, rb_cfg_node_kind(item));
                rb_cfg_scalar s;
                if (rb_cfg_scalar_get(ctx, item, what, 1, &s))
                    return -1;
                if (s.type == RB_VNULL || !*s.text) {
                    rb_cfg_scalar_clear(&s);
                    return rb_cfg_fail(ctx, item, "\"%s\" must be a path, not empty", what);
                }
                cfg->plugin_paths[cfg->n_plugin_paths++] = resolve_path(ctx->dir, s.text);
                rb_cfg_scalar_clear(&s);
            }
        } else {
            rb_buf b = {0};
            list_names(&b, plugins_keys);
            return unknown_key(ctx, k, "plugins", &b);
        }
    }
    return 0;
}

/* ---- defaults and checks that span keys ------------------------------- */

static const rb_ynode *mark_of(const section_marks *m, size_t fi)
{
    return m->key[fi] ? m->key[fi] : m->section;
}

static void default_str(char **slot, const char *value)
{
    if (!*slot && value)
        *slot = rb_xstrdup(value);
}

static void default_path(rb_cfg_ctx *ctx, char **slot, const char *rel)
{
    if (!*slot)
        *slot = resolve_path(ctx->dir, rel);
}

static int need(rb_cfg_ctx *ctx, const rb_ynode *at, const void *have, const char *section,
                const char *value, const char *key)
{
    if (have)
        return 0;
    return rb_cfg_fail(ctx, at, "%s \"%s\" needs \"%s\"", section, value, key);
}

static int finish(rb_cfg_ctx *ctx, rb_config *cfg, const load_marks *m)
{
    /* cloud: the preset fills what the file did not say. */
    rb_cloud_config *c = &cfg->cloud;
    default_str(&c->name, "public");
    if (!strcmp(c->name, "custom")) {
        const rb_ynode *at = mark_of(&m->cloud, CLOUD_NAME);
        if (need(ctx, at, c->authority_host, "cloud.name", "custom", "cloud.authority_host") ||
            need(ctx, at, c->arm_endpoint, "cloud.name", "custom", "cloud.arm_endpoint") ||
            need(ctx, at, c->keyvault_suffix, "cloud.name", "custom", "cloud.keyvault_suffix") ||
            need(ctx, at, c->storage_suffix, "cloud.name", "custom", "cloud.storage_suffix"))
            return -1;
        default_str(&c->arm_audience, c->arm_endpoint);
    } else {
        const cloud_preset *p = &presets[0];
        for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
            if (!strcmp(presets[i].name, c->name))
                p = &presets[i];
        default_str(&c->authority_host, p->authority_host);
        default_str(&c->arm_endpoint, p->arm_endpoint);
        default_str(&c->arm_audience, p->arm_audience);
        default_str(&c->keyvault_suffix, p->keyvault_suffix);
        default_str(&c->storage_suffix, p->storage_suffix);
    }

    /* auth: methods that cannot work without certain keys say so now. */
    rb_auth_config *a = &cfg->auth;
    default_str(&a->method, "default");
    const rb_ynode *at = mark_of(&m->auth, AUTH_METHOD);
    if (!strcmp(a->method, "client_secret")) {
        if (!a->client_secret_env && !a->client_secret_file)
            return rb_cfg_fail(ctx, at, "auth.method \"client_secret\" needs \"auth.client_secret_env\" "
                               "or \"auth.client_secret_file\"");
        if (need(ctx, at, a->tenant_id, "auth.method", a->method, "auth.tenant_id") ||
            need(ctx, at, a->client_id, "auth.method", a->method, "auth.client_id"))
            return -1;
    } else if (!strcmp(a->method, "client_certificate")) {
        if (need(ctx, at, a->certificate_file, "auth.method", a->method, "auth.certificate_file") ||
            need(ctx, at, a->tenant_id, "auth.method", a->method, "auth.tenant_id") ||
            need(ctx, at, a->client_id, "auth.method", a->method, "auth.client_id"))
            return -1;
    } else if (!strcmp(a->method, "token_file")) {
        if (need(ctx, at, a->token_file, "auth.method", a->method, "auth.token_file"))
            return -1;
    }

    rb_vault_config *v = &cfg->vault;
    default_str(&v->kind, "local");
    if (!strcmp(v->kind, "local")) {
        default_path(ctx, &v->path, RB_DEFAULT_VAULT_PATH);
    } else {
        at = mark_of(&m->vault, VAULT_KIND);
        if (need(ctx, at, v->account, "vault.kind", v->kind, "vault.account") ||
            need(ctx, at, v->container, "vault.kind", v->kind, "vault.container"))
            return -1;
    }
    if (!v->min_retention_days)
        v->min_retention_days = RB_DEFAULT_RETENTION_DAYS;
    if (!v->block_size)
        v->block_size = RB_DEFAULT_BLOCK_SIZE;

    rb_run_config *r = &cfg->run;
    default_path(ctx, &r->runs_dir, RB_DEFAULT_RUNS_DIR);
    if (!r->parallel)
        r->parallel = RB_DEFAULT_PARALLEL;
    default_str(&r->failure_policy, "stop");
    return 0;
}

static rb_config *new_config(void)
{
    rb_config *cfg = rb_xcalloc(1, sizeof *cfg);
    cfg->plugin_paths = rb_xcalloc(1, sizeof *cfg->plugin_paths);
    cfg->plugin_settings = rbv_map();
    cfg->estate = rbv_map();
    cfg->targets = rbv_map();
    if (!cfg->plugin_settings || !cfg->estate || !cfg->targets)
        rb_die_oom();
    return cfg;
}

rb_config *rb_config_defaults(void)
{
    rb_config *cfg = new_config();
    rb_cfg_ctx ctx = {.display = "(defaults)"};
    load_marks marks = {0};
    if (finish(&ctx, cfg, &marks))
        abort(); /* the defaults are valid by construction */
    return cfg;
}

/* ---- loading ---------------------------------------------------------- */

static int parse_top(rb_cfg_ctx *ctx, const rb_ynode *root, rb_config *cfg, load_marks *marks)
{
    if (!root || is_null_node(root))
        return 0;
    if (root->kind != RB_YMAP)
        return rb_cfg_fail(ctx, root, "the top level must be a mapping of sections (%s), not %s",
                           "plugins, cloud, auth, estate, targets, vault, run", rb_cfg_node_kind(root));
    if (check_map(ctx, root, "the top level"))
        return -1;
    for (size_t i = 0; i + 1 < root->n_kids; i += 2) {
        const rb_ynode *k = root->kids[i], *v = root->kids[i + 1];
        const char *key = k->text;
        int rc;
        if (!strcmp(key, "plugins")) {
            rc = parse_plugins(ctx, v, cfg);
        } else if (!strcmp(key, "cloud")) {
            rc = parse_section(ctx, v, "cloud", cloud_fields, &cfg->cloud, &marks->cloud);
        } else if (!strcmp(key, "auth")) {
            rc = parse_section(ctx, v, "auth", auth_fields, &cfg->auth, &marks->auth);
        } else if (!strcmp(key, "vault")) {
            rc = parse_section(ctx, v, "vault", vault_fields, &cfg->vault, &marks->vault);
        } else if (!strcmp(key, "run")) {
            rc = parse_section(ctx, v, "run", run_fields, &cfg->run, &marks->run);
        } else if (!strcmp(key, "targets")) {
            rc = parse_map_of_maps(ctx, v, "targets", cfg->targets);
        } else if (!strcmp(key, "estate")) {
            if (is_null_node(v)) {
                rc = 0;
            } else if (v->kind != RB_YMAP) {
                rc = rb_cfg_fail(ctx, v, "\"estate\" must be a mapping, not %s", rb_cfg_node_kind(v));
            } else {
                rb_value *e = NULL;
                rc = rb_cfg_to_value(ctx, v, "estate", &e);
                if (!rc) {
                    rbv_free(cfg->estate);
                    cfg->estate = e;
                }
            }
        } else {
            rb_buf b = {0};
            list_names(&b, top_keys);
            return unknown_key(ctx, k, NULL, &b);
        }
        if (rc)
            return -1;
    }
    return 0;
}

static int read_file(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open the config file: %s", path, strerror(errno));
        return -1;
    }
    rb_buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rb_buf_add(&b, chunk, n);
        if (b.len > RB_CFG_MAX_FILE) {
            fclose(f);
            rb_buf_free(&b);
            snprintf(err, errlen, "%s: the config file is larger than %u MiB", path, RB_CFG_MAX_FILE >> 20);
            return -1;
        }
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        rb_buf_free(&b);
        snprintf(err, errlen, "%s: cannot read the config file: %s", path, strerror(e));
        return -1;
    }
    fclose(f);
    *buf = (unsigned char *)(b.p ? b.p : rb_xstrdup(""));
    *len = b.len;
    return 0;
}

/* The absolute directory holding `path`, for resolving relative paths. */
static char *config_dir(const char *path)
{
    char *real = realpath(path, NULL);
    if (!real)
        return NULL;
    char *slash = strrchr(real, '/');
    if (slash == real)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    return real;
}

rb_config *rb_config_load(const char *path, char *err, size_t errlen)
{
    char scratch[1];
    if (!err || !errlen) {
        err = scratch;
        errlen = sizeof scratch;
    }
    err[0] = '\0';
    if (!path) {
        /* Only a missing file means "use the defaults"; an unreadable one
         * is an error the user must see. */
        if (access("rebound.yaml", F_OK) != 0 && errno == ENOENT)
            return rb_config_defaults();
        path = "rebound.yaml";
    }

    unsigned char *text;
    size_t len;
    if (read_file(path, &text, &len, err, errlen))
        return NULL;

    rb_cfg_ctx ctx = {.display = path, .err = err, .errlen = errlen, .values_left = RB_CFG_MAX_VALUES};
    ctx.dir = config_dir(path);
    if (!ctx.dir) {
        snprintf(err, errlen, "%s: cannot resolve the config file's directory: %s", path, strerror(errno));
        free(text);
        return NULL;
    }

    rb_ytree tree;
    rb_config *cfg = NULL;
    if (rb_ytree_parse(text, len, path, &tree, err, errlen) == 0) {
        cfg = new_config();
        cfg->path = rb_xstrdup(path);
        load_marks marks = {0};
        if (parse_top(&ctx, tree.root, cfg, &marks) || finish(&ctx, cfg, &marks)) {
            rb_config_free(cfg);
            cfg = NULL;
        }
        rb_ytree_free(&tree);
    }
    free(text);
    free(ctx.dir);
    return cfg;
}

/* ---- freeing ---------------------------------------------------------- */

static void free_fields(void *base, const field *fields)
{
    for (const field *f = fields; f->name; f++) {
        switch (f->kind) {
        case FK_INT:
        case FK_BOOL:
        case FK_SIZE:
        case FK_REFUSED:
            break;
        default:
            free(*field_str(base, f));
            *field_str(base, f) = NULL;
        }
    }
}

void rb_config_free(rb_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    if (cfg->plugin_paths)
        for (size_t i = 0; i < cfg->n_plugin_paths; i++)
            free(cfg->plugin_paths[i]);
    free(cfg->plugin_paths);
    rbv_free(cfg->plugin_settings);
    rbv_free(cfg->estate);
    rbv_free(cfg->targets);
    free_fields(&cfg->cloud, cloud_fields);
    free_fields(&cfg->auth, auth_fields);
    free_fields(&cfg->vault, vault_fields);
    free_fields(&cfg->run, run_fields);
    free(cfg);
}
