/* azprobe: a test plugin that reaches Azure only through the host table
 * (ABI 1.1: arm_call, arm_list, vault_call; ABI 1.3: SAS URLs in and out of
 * the backup vault), for the tests of that path. */
#include <string.h>

#include <rebound/rebound.h>

static const rb_host_api *host;

static rb_status result(rb_ctx *ctx, rb_status st, rb_value *body, int status, rb_value **out)
{
    if (st != RB_OK) {
        host->value_free(body);
        return st;
    }
    rb_value *m = host->value_map();
    host->map_set(m, "status", host->value_int(status));
    host->map_set(m, "body", body ? body : host->value_null());
    *out = m;
    (void)ctx;
    return RB_OK;
}

static rb_status do_get(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_value *body = NULL;
    int status = 0;
    rb_status st = host->arm_call(ctx, "GET", host->map_get_string(args, "path", ""),
                                  host->map_get_string(args, "api_version", NULL), NULL, &body,
                                  &status);
    return result(ctx, st, body, status, out);
}

static rb_status do_put(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_value *body = NULL;
    int status = 0;
    rb_status st = host->arm_call(ctx, "PUT", host->map_get_string(args, "path", ""),
                                  host->map_get_string(args, "api_version", NULL),
                                  host->map_get(args, "body"), &body, &status);
    if (st == RB_OK && body && host->operation_id(ctx))
        host->map_set(body, "rebound_reattached", host->value_bool(1));
    return result(ctx, st, body, status, out);
}

/* Any ARM method (POST actions such as beginGetAccess), LRO-aware. */
static rb_status do_call(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_value *body = NULL;
    int status = 0;
    const rb_value *in = host->map_get(args, "body");
    rb_status st = host->arm_call(ctx, host->map_get_string(args, "method", "GET"),
                                  host->map_get_string(args, "path", ""),
                                  host->map_get_string(args, "api_version", NULL),
                                  host->value_type(in) == RB_VMAP ? in : NULL, &body, &status);
    return result(ctx, st, body, status, out);
}

/* Plan mode: nothing is predicted beyond "it would run". */
static rb_status plan_nothing(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    (void)args;
    *out = host->value_map();
    return RB_OK;
}

static rb_status plan_put(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    rb_value *m = host->value_map();
    host->map_set(m, "status", host->value_int(200));
    host->map_set(m, "body", host->value_copy(host->map_get(args, "body")));
    *out = m;
    return RB_OK;
}

static rb_status do_list(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_value *items = NULL;
    rb_status st = host->arm_list(ctx, host->map_get_string(args, "path", ""),
                                  host->map_get_string(args, "api_version", NULL), 0, &items);
    if (st != RB_OK)
        return st;
    rb_value *m = host->value_map();
    host->map_set(m, "count", host->value_int((int64_t)host->value_len(items)));
    host->map_set(m, "items", items);
    *out = m;
    return RB_OK;
}

static rb_status do_vault_get(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_value *body = NULL;
    int status = 0;
    rb_status st = host->vault_call(ctx, host->map_get_string(args, "vault", ""), "GET",
                                    host->map_get_string(args, "path", ""),
                                    host->map_get_string(args, "api_version", "7.5"), NULL,
                                    &body, &status);
    if (st == RB_OK && body && host->map_get_bool(args, "hide_value", 1))
        host->map_set(body, "value", host->value_string("(hidden by azprobe)"));
    return result(ctx, st, body, status, out);
}

/* ---- ABI 1.3: large objects ---- */
static rb_status need_13(rb_ctx *ctx)
{
    if (RB_HOST_HAS(host, url_digest))
        return RB_OK;
    host->set_error(ctx, "this host has no large-object routines (plugin ABI 1.3)");
    return RB_EABI;
}

static rb_status do_stream_put(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_status st = need_13(ctx);
    if (st != RB_OK)
        return st;
    return host->backup_put_stream(ctx, host->map_get_string(args, "source_id", ""),
                                   host->map_get_string(args, "kind", ""),
                                   host->map_get(args, "objects"), out);
}

static rb_status do_manifest(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_status st = need_13(ctx);
    if (st != RB_OK)
        return st;
    return host->backup_manifest(ctx, host->map_get_string(args, "set_id", ""), out);
}

static rb_status do_to_url(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_status st = need_13(ctx);
    if (st != RB_OK)
        return st;
    uint64_t bytes = 0;
    st = host->backup_to_url(ctx, host->map_get_string(args, "set_id", ""),
                             host->map_get_string(args, "object", ""),
                             host->map_get_string(args, "url", ""),
                             host->map_get_string(args, "target", "page"), &bytes);
    if (st != RB_OK)
        return st;
    rb_value *m = host->value_map();
    host->map_set(m, "bytes", host->value_int((int64_t)bytes));
    *out = m;
    return RB_OK;
}

static rb_status do_digest(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_status st = need_13(ctx);
    if (st != RB_OK)
        return st;
    return host->url_digest(ctx, host->map_get_string(args, "url", ""), out);
}

static const rb_field stream_put_params[] = {
    {.name = "source_id", .type = RB_TSTRING, .required = 1, .help = "what was backed up"},
    {.name = "kind", .type = RB_TSTRING, .required = 1, .help = "kind of set"},
    {.name = "objects", .type = RB_TMAP, .required = 1,
     .help = "name -> bytes, or {url, size} read from a SAS URL"},
    {0}};
static const rb_field stream_put_out[] = {
    {.name = "set_id", .type = RB_TSTRING, .help = "the new set"},
    {.name = "bytes", .type = RB_TINT, .help = "bytes of all objects"},
    {.name = "bytes_sent", .type = RB_TINT, .help = "bytes written this time"},
    {.name = "objects", .type = RB_TINT, .help = "objects in the set"},
    {.name = "resumed", .type = RB_TBOOL, .help = "an interrupted set was continued"},
    {.name = "sha256", .type = RB_TMAP, .help = "object name -> SHA-256"},
    {0}};
static const rb_field set_params[] = {
    {.name = "set_id", .type = RB_TSTRING, .required = 1, .help = "backup set"},
    {0}};
static const rb_field manifest_out[] = {
    {.name = "set_id", .type = RB_TSTRING, .help = "backup set"},
    {.name = "source_id", .type = RB_TSTRING, .help = "what was backed up"},
    {.name = "kind", .type = RB_TSTRING, .help = "kind of set"},
    {.name = "created", .type = RB_TSTRING, .help = "when"},
    {.name = "created_s", .type = RB_TINT, .help = "when, Unix seconds"},
    {.name = "bytes", .type = RB_TINT, .help = "bytes of all objects"},
    {.name = "objects", .type = RB_TLIST, .help = "[{name, bytes, sha256}]"},
    {0}};
static const rb_field to_url_params[] = {
    {.name = "set_id", .type = RB_TSTRING, .required = 1, .help = "backup set"},
    {.name = "object", .type = RB_TSTRING, .required = 1, .help = "object of the set"},
    {.name = "url", .type = RB_TSTRING, .required = 1, .help = "write SAS URL"},
    {.name = "target", .type = RB_TSTRING, .default_json = "\"page\"", .help = "page or block"},
    {0}};
static const rb_field bytes_out[] = {
    {.name = "bytes", .type = RB_TINT, .help = "bytes"},
    {0}};
static const rb_field url_params[] = {
    {.name = "url", .type = RB_TSTRING, .required = 1, .help = "read SAS URL"},
    {0}};
static const rb_field digest_out[] = {
    {.name = "bytes", .type = RB_TINT, .help = "bytes"},
    {.name = "sha256", .type = RB_TSTRING, .help = "SHA-256 of the content"},
    {0}};

static const rb_field path_params[] = {
    {.name = "path", .type = RB_TSTRING, .required = 1, .help = "ARM path"},
    {.name = "api_version", .type = RB_TSTRING, .required = 1, .help = "api-version"},
    {0}};
static const rb_field put_params[] = {
    {.name = "path", .type = RB_TSTRING, .required = 1, .help = "ARM path"},
    {.name = "api_version", .type = RB_TSTRING, .required = 1, .help = "api-version"},
    {.name = "body", .type = RB_TMAP, .required = 1, .help = "resource body"},
    {0}};
static const rb_field call_params[] = {
    {.name = "method", .type = RB_TSTRING, .required = 1, .help = "HTTP method"},
    {.name = "path", .type = RB_TSTRING, .required = 1, .help = "ARM path"},
    {.name = "api_version", .type = RB_TSTRING, .required = 1, .help = "api-version"},
    {.name = "body", .type = RB_TANY, .help = "request body"},
    {0}};
static const rb_field vault_params[] = {
    {.name = "vault", .type = RB_TSTRING, .required = 1, .help = "vault name"},
    {.name = "path", .type = RB_TSTRING, .required = 1, .help = "data-plane path"},
    {.name = "api_version", .type = RB_TSTRING, .default_json = "\"7.5\"", .help = "api-version"},
    {.name = "hide_value", .type = RB_TBOOL, .default_json = "true",
     .help = "replace a secret value in the output"},
    {0}};
static const rb_field status_body[] = {
    {.name = "status", .type = RB_TINT, .help = "HTTP status"},
    {.name = "body", .type = RB_TANY, .help = "response body"},
    {0}};
static const rb_field list_out[] = {
    {.name = "count", .type = RB_TINT, .help = "items"},
    {.name = "items", .type = RB_TLIST, .help = "every item of every page"},
    {0}};

static const rb_action actions[] = {
    {.name = "get", .summary = "GET an ARM path", .effect = RB_EFFECT_READ,
     .params = path_params, .outputs = status_body, .run = do_get},
    {.name = "put", .summary = "PUT an ARM resource (long-running aware)",
     .effect = RB_EFFECT_WRITE, .params = put_params, .outputs = status_body, .run = do_put,
     .plan = plan_put},
    {.name = "call", .summary = "any ARM request (long-running aware)",
     .effect = RB_EFFECT_WRITE, .params = call_params, .outputs = status_body, .run = do_call,
     .plan = plan_nothing},
    {.name = "list", .summary = "list an ARM collection across pages", .effect = RB_EFFECT_READ,
     .params = path_params, .outputs = list_out, .run = do_list},
    {.name = "vault_get", .summary = "GET from a Key Vault data plane", .effect = RB_EFFECT_READ,
     .params = vault_params, .outputs = status_body, .run = do_vault_get},
    {.name = "stream_put", .summary = "write a backup set, objects possibly from SAS URLs",
     .effect = RB_EFFECT_WRITE, .params = stream_put_params, .outputs = stream_put_out,
     .run = do_stream_put, .plan = plan_nothing},
    {.name = "manifest", .summary = "the signed manifest of a set", .effect = RB_EFFECT_READ,
     .params = set_params, .outputs = manifest_out, .run = do_manifest},
    {.name = "to_url", .summary = "stream an object of a set to a write SAS URL",
     .effect = RB_EFFECT_WRITE, .params = to_url_params, .outputs = bytes_out,
     .run = do_to_url, .plan = plan_nothing},
    {.name = "digest", .summary = "SHA-256 of what a read SAS URL serves",
     .effect = RB_EFFECT_READ, .params = url_params, .outputs = digest_out, .run = do_digest},
};

static const rb_plugin plugin = {
    RB_PLUGIN_HEADER,
    .name = "azprobe",
    .version = "1.0.0",
    .description = "Test plugin: ARM and Key Vault through the host table",
    RB_PLUGIN_ACTIONS(actions),
};

RB_PLUGIN_EXPORT int rb_plugin_init(const rb_host_api *h, const rb_plugin **out, char **errmsg)
{
    if (!RB_HOST_HAS(h, vault_call)) {
        *errmsg = h->str_dup("azprobe needs a host with plugin ABI 1.1 (Azure routines)");
        return RB_EABI;
    }
    host = h;
    *out = &plugin;
    return RB_OK;
}
