/* azprobe: a test plugin that reaches Azure only through the host table
 * (ABI 1.1: arm_call, arm_list, vault_call), for the tests of that path. */
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

static const rb_field path_params[] = {
    {.name = "path", .type = RB_TSTRING, .required = 1, .help = "ARM path"},
    {.name = "api_version", .type = RB_TSTRING, .required = 1, .help = "api-version"},
    {0}};
static const rb_field put_params[] = {
    {.name = "path", .type = RB_TSTRING, .required = 1, .help = "ARM path"},
    {.name = "api_version", .type = RB_TSTRING, .required = 1, .help = "api-version"},
    {.name = "body", .type = RB_TMAP, .required = 1, .help = "resource body"},
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
    {.name = "list", .summary = "list an ARM collection across pages", .effect = RB_EFFECT_READ,
     .params = path_params, .outputs = list_out, .run = do_list},
    {.name = "vault_get", .summary = "GET from a Key Vault data plane", .effect = RB_EFFECT_READ,
     .params = vault_params, .outputs = status_body, .run = do_vault_get},
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
