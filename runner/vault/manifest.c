/* Manifest <-> JSON. Parsing is strict: a manifest that does not have every
 * field with the right type is corrupt, and the message says which field. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "vault/manifest.h"

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

char *rb_vault_manifest_to_json(const rb_vault_manifest *m)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", RB_VAULT_MANIFEST_FORMAT);
    cJSON_AddStringToObject(root, "set_id", m->set_id);
    cJSON_AddStringToObject(root, "source_id", m->source_id ? m->source_id : "");
    cJSON_AddStringToObject(root, "kind", m->kind ? m->kind : "");
    cJSON_AddStringToObject(root, "created", m->created);
    cJSON_AddNumberToObject(root, "created_unix", (double)m->created_s);
    cJSON_AddNumberToObject(root, "retention_days", m->retention_days);
    cJSON *pl = cJSON_AddObjectToObject(root, "plugin");
    cJSON_AddStringToObject(pl, "name", m->plugin ? m->plugin : "");
    cJSON_AddStringToObject(pl, "version", m->plugin_version ? m->plugin_version : "");
    cJSON *objs = cJSON_AddArrayToObject(root, "objects");
    for (size_t i = 0; i < m->n_objects; i++) {
        const rb_vault_object_meta *o = &m->objects[i];
        cJSON *jo = cJSON_CreateObject();
        cJSON_AddStringToObject(jo, "name", o->name);
        cJSON_AddNumberToObject(jo, "size", (double)o->size);
        cJSON_AddNumberToObject(jo, "block_size", (double)o->block_size);
        cJSON *bl = cJSON_AddArrayToObject(jo, "blocks");
        for (size_t b = 0; b < o->n_blocks; b++)
            cJSON_AddItemToArray(bl, cJSON_CreateString(o->blocks[b]));
        cJSON_AddStringToObject(jo, "sha256", o->sha256);
        cJSON_AddItemToArray(objs, jo);
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s)
        rb_die_oom();
    char *out = rb_xstrdup(s);
    cJSON_free(s);
    return out;
}

static const char *get_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int get_u64(const cJSON *o, const char *key, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0)
        return -1;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

rb_status rb_vault_manifest_parse(const char *json, size_t len, rb_vault_manifest **out,
                                  rb_vault_err *err)
{
    *out = NULL;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root)
        return rb_vault_fail(err, RB_ECORRUPT,
                             "the manifest is truncated or not valid JSON (%zu bytes)", len);
    rb_vault_manifest *m = rb_xcalloc(1, sizeof *m);
    rb_status st = RB_ECORRUPT;
    const char *fmt = get_str(root, "format");
    if (!fmt || strcmp(fmt, RB_VAULT_MANIFEST_FORMAT) != 0) {
        rb_vault_fail(err, st, "the manifest format is not %s", RB_VAULT_MANIFEST_FORMAT);
        goto out;
    }
    const char *sid = get_str(root, "set_id"), *src = get_str(root, "source_id"),
               *kind = get_str(root, "kind"), *created = get_str(root, "created");
    uint64_t cu, rd;
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(root, "plugin");
    const cJSON *objs = cJSON_GetObjectItemCaseSensitive(root, "objects");
    if (!sid || !src || !kind || !created || get_u64(root, "created_unix", &cu) ||
        get_u64(root, "retention_days", &rd) || !cJSON_IsObject(pl) || !cJSON_IsArray(objs)) {
        rb_vault_fail(err, st, "the manifest lacks set_id, source_id, kind, created, "
                      "created_unix, retention_days, plugin or objects");
        goto out;
    }
    m->set_id = rb_xstrdup(sid);
    m->source_id = rb_xstrdup(src);
    m->kind = rb_xstrdup(kind);
    m->created = rb_xstrdup(created);
    m->created_s = (int64_t)cu;
    m->retention_days = (int)rd;
    m->plugin = rb_xstrdup(get_str(pl, "name"));
    m->plugin_version = rb_xstrdup(get_str(pl, "version"));
    size_t n = (size_t)cJSON_GetArraySize(objs);
    m->objects = rb_xcalloc(n, sizeof *m->objects);
    const cJSON *jo;
    cJSON_ArrayForEach(jo, objs) {
        rb_vault_object_meta *o = &m->objects[m->n_objects];
        const char *name = get_str(jo, "name"), *sha = get_str(jo, "sha256");
        const cJSON *bl = cJSON_GetObjectItemCaseSensitive(jo, "blocks");
        if (!name || !*name || !is_hex64(sha) || get_u64(jo, "size", &o->size) ||
            get_u64(jo, "block_size", &o->block_size) || o->block_size == 0 ||
            !cJSON_IsArray(bl)) {
            rb_vault_fail(err, st, "manifest object %zu is incomplete", m->n_objects);
            goto out;
        }
        o->name = rb_xstrdup(name);
        memcpy(o->sha256, sha, 65);
        m->n_objects++;
        size_t nb = (size_t)cJSON_GetArraySize(bl);
        uint64_t want = (o->size + o->block_size - 1) / o->block_size;
        if (nb != want) {
            rb_vault_fail(err, st, "manifest object %s lists %zu blocks, its size needs %llu",
                          name, nb, (unsigned long long)want);
            goto out;
        }
        o->blocks = rb_xcalloc(nb ? nb : 1, sizeof *o->blocks);
        const cJSON *b;
        cJSON_ArrayForEach(b, bl) {
            if (!cJSON_IsString(b) || !is_hex64(b->valuestring)) {
                rb_vault_fail(err, st, "manifest object %s has a malformed block hash", name);
                goto out;
            }
            memcpy(o->blocks[o->n_blocks++], b->valuestring, 65);
        }
    }
    st = RB_OK;
out:
    cJSON_Delete(root);
    if (st != RB_OK)
        rb_vault_manifest_free(m);
    else
        *out = m;
    return st;
}

void rb_vault_manifest_free(rb_vault_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_objects; i++) {
        free(m->objects[i].name);
        free(m->objects[i].blocks);
    }
    free(m->objects);
    free(m->set_id);
    free(m->source_id);
    free(m->kind);
    free(m->created);
    free(m->plugin);
    free(m->plugin_version);
    free(m);
}

const rb_vault_object_meta *rb_vault_manifest_find(const rb_vault_manifest *m, const char *name)
{
    for (size_t i = 0; i < m->n_objects; i++)
        if (strcmp(m->objects[i].name, name) == 0)
            return &m->objects[i];
    return NULL;
}
