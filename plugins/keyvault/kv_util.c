#include <stdlib.h>
#include <string.h>

#include "kv.h"

char *kv_vault_id(const rb_value *args)
{
    return kv_host->str_format("/subscriptions/%s/resourceGroups/%s/providers/"
                               "Microsoft.KeyVault/vaults/%s",
                               kv_host->map_get_string(args, "subscription", ""),
                               kv_host->map_get_string(args, "resource_group", ""),
                               kv_host->map_get_string(args, "name", ""));
}

/* "https://host[:port]/secrets?x" -> "/secrets?x" (borrowed pointer). */
static const char *path_of(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : url;
    return p ? p : "/";
}

rb_status kv_list_all(rb_ctx *ctx, const char *vault, const char *path, rb_value **items)
{
    *items = kv_host->value_list();
    char *next = kv_host->str_dup(path);
    const char *api = KV_DATA_API;
    int pages = 0;
    while (next) {
        rb_value *page = NULL;
        int status = 0;
        rb_status st = kv_host->vault_call(ctx, vault, "GET", next, api, NULL, &page, &status);
        kv_host->mem_free(next);
        next = NULL;
        if (st != RB_OK) {
            kv_host->value_free(*items);
            *items = NULL;
            return st;
        }
        const rb_value *value = kv_host->map_get(page, "value");
        for (size_t i = 0; i < kv_host->value_len(value); i++)
            kv_host->list_append(*items, kv_host->value_copy(kv_host->list_get(value, i)));
        const char *link = kv_host->map_get_string(page, "nextLink", NULL);
        if (link && *link) {
            next = kv_host->str_dup(path_of(link));
            api = NULL; /* the link carries its own api-version */
        }
        kv_host->value_free(page);
        if (++pages > 10000) {
            kv_host->set_error(ctx, "%s: more than 10,000 pages; giving up", path);
            kv_host->mem_free(next);
            kv_host->value_free(*items);
            *items = NULL;
            return RB_EPROTO;
        }
        if (kv_host->cancelled(ctx)) {
            kv_host->mem_free(next);
            kv_host->value_free(*items);
            *items = NULL;
            return RB_ECANCELED;
        }
    }
    return RB_OK;
}

rb_value *kv_id_segment(const char *id, int from_end)
{
    if (!id)
        return kv_host->value_null();
    const char *end = id + strlen(id);
    for (int k = 0; k <= from_end; k++) {
        const char *slash = end;
        while (slash > id && slash[-1] != '/')
            slash--;
        if (k == from_end) {
            char *s = kv_host->mem_alloc((size_t)(end - slash) + 1);
            if (!s)
                return kv_host->value_null();
            memcpy(s, slash, (size_t)(end - slash));
            s[end - slash] = '\0';
            rb_value *v = kv_host->value_string(s);
            kv_host->mem_free(s);
            return v;
        }
        if (slash == id)
            return kv_host->value_null();
        end = slash - 1;
    }
    return kv_host->value_null();
}
