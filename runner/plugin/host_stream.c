/* The large-object routines of the host table (ABI 1.3) besides
 * backup_put_stream (host_vault.c): a set's signed manifest, an object
 * streamed out of the vault into a SAS URL with every block checked against
 * the manifest first, and the digest of what a SAS URL serves. The SAS URLs
 * are registered with the redactor by the Blob client and never put into a
 * message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/values.h"
#include "plugin/context.h"
#include "plugin/vault_session.h"
#include "vault/manifest.h"
#include "vault/url.h"
#include "vault/vault.h"

static const rb_host_api *H(void) { return rb_host_api_get(); }

/* ---- the signed manifest --------------------------------------------------- */

rb_status rb_host_backup_manifest(rb_ctx *ctx, const char *set_id, rb_value **manifest)
{
    if (!manifest)
        return RB_EINVAL;
    *manifest = NULL;
    if (!ctx || !set_id)
        return RB_EINVAL;
    rb_vault *v = rb_host_vault_acquire(ctx, 0);
    if (!v)
        return RB_ERROR;
    rb_vault_entry *e = NULL;
    rb_vault_manifest *man = NULL;
    rb_vault_err err = {{0}};
    rb_status st = rb_vault_entry_read(v, set_id, &e, &err);
    if (st == RB_OK)
        st = rb_vault_entry_check(v, e, &err);
    if (st == RB_OK)
        st = rb_vault_manifest_read(v, e, &man, &err);
    rb_vault_session_release(ctx->vault);
    if (st != RB_OK) {
        H()->set_error(ctx, "set %s: %s", set_id, err.msg);
    } else {
        rb_value *m = rbv_map();
        rbv_map_set(m, "set_id", rbv_string(e->set_id));
        rbv_map_set(m, "source_id", rbv_string(e->source_id ? e->source_id : ""));
        rbv_map_set(m, "kind", rbv_string(e->kind ? e->kind : ""));
        rbv_map_set(m, "created", rbv_string(e->created ? e->created : ""));
        rbv_map_set(m, "created_s", rbv_int(e->created_s));
        rbv_map_set(m, "bytes", rbv_int((int64_t)e->bytes));
        rb_value *objs = rbv_list();
        for (size_t o = 0; o < man->n_objects; o++) {
            rb_value *om = rbv_map();
            rbv_map_set(om, "name", rbv_string(man->objects[o].name));
            rbv_map_set(om, "bytes", rbv_int((int64_t)man->objects[o].size));
            rbv_map_set(om, "sha256", rbv_string(man->objects[o].sha256));
            rbv_list_append(objs, om);
        }
        rbv_map_set(m, "objects", objs);
        *manifest = m;
    }
    rb_vault_manifest_free(man);
    rb_vault_entry_free(e);
    return st;
}

/* ---- vault -> SAS URL ------------------------------------------------------ */

static int get_progress_fn(void *user, const char *object, uint64_t done, uint64_t total)
{
    (void)object;
    return H()->progress(user, done, total);
}

rb_status rb_host_backup_to_url(rb_ctx *ctx, const char *set_id, const char *object,
                                const char *url, const char *target, uint64_t *bytes)
{
    if (bytes)
        *bytes = 0;
    if (!ctx || !set_id || !object || !url || !target)
        return RB_EINVAL;
    int pages = strcmp(target, "page") == 0;
    if (!pages && strcmp(target, "block") != 0) {
        H()->set_error(ctx, "backup_to_url: target is \"page\" or \"block\", not \"%s\"", target);
        return RB_EINVAL;
    }
    rb_http_engine *eng = rb_host_engine(ctx);
    if (!eng)
        return RB_ERROR;
    rb_vault *v = rb_host_vault_acquire(ctx, 0);
    if (!v)
        return RB_ERROR;
    rb_vault_err err = {{0}};
    rb_status st = rb_vault_restore_to_url(v, set_id, object, eng, url, pages, &ctx->cancel,
                                           get_progress_fn, ctx, bytes, &err);
    rb_vault_session_release(ctx->vault);
    if (st != RB_OK)
        H()->set_error(ctx, "%s/%s: %s", set_id, object, err.msg);
    return st;
}

/* ---- hashing a SAS URL ------------------------------------------------------ */

rb_status rb_host_url_digest(rb_ctx *ctx, const char *url, rb_value **digest)
{
    if (!digest)
        return RB_EINVAL;
    *digest = NULL;
    if (!ctx || !url)
        return RB_EINVAL;
    rb_http_engine *eng = rb_host_engine(ctx);
    if (!eng)
        return RB_ERROR;
    uint64_t size = 0;
    char hex[65];
    rb_vault_err err = {{0}};
    rb_status st = rb_vault_url_digest(eng, url, &ctx->cancel, get_progress_fn, ctx, &size, hex,
                                       &err);
    if (st != RB_OK) {
        H()->set_error(ctx, "reading the URL: %s", err.msg);
        return st;
    }
    rb_value *m = rbv_map();
    rbv_map_set(m, "bytes", rbv_int((int64_t)size));
    rbv_map_set(m, "sha256", rbv_string(hex));
    *digest = m;
    return RB_OK;
}
