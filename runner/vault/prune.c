/* Retention: a set may go once its retention (recorded in the signed
 * catalog entry) has passed, it carries no legal-hold marker and the
 * storage no longer protects it. An entry whose signature does not verify
 * is never pruned: its retention cannot be trusted. Deletion goes data,
 * manifest, catalog entry, so an interrupted prune leaves a listed set
 * with missing objects that the next prune finishes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "vault/internal.h"

void rb_vault_prune_report_free(rb_vault_prune_report *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].set_id);
        free(r->items[i].error);
    }
    free(r->items);
    memset(r, 0, sizeof *r);
}

typedef struct name_list {
    char **names;
    size_t n;
} name_list;

static int collect(void *user, const char *name, uint64_t size)
{
    (void)size;
    name_list *l = user;
    l->names = rb_xrealloc(l->names, (l->n + 1) * sizeof *l->names);
    l->names[l->n++] = rb_xstrdup(name);
    return 0;
}

static rb_status delete_set(rb_vault *v, const char *set, rb_vault_err *err)
{
    char *prefix = rb_xasprintf("sets/%s/", set);
    char *manifest = rb_xasprintf("sets/%s/manifest.json", set);
    char *cat = rb_xasprintf("catalog/%s.json", set);
    name_list l = {0};
    rb_status st = v->store->ops->list(v->store, prefix, collect, &l, err);
    for (size_t i = 0; st == RB_OK && i < l.n; i++) {
        if (strcmp(l.names[i], manifest) == 0)
            continue;
        st = v->store->ops->del(v->store, l.names[i], err);
        if (st == RB_ENOTFOUND)
            st = RB_OK;
    }
    if (st == RB_OK) {
        st = v->store->ops->del(v->store, manifest, err);
        if (st == RB_ENOTFOUND)
            st = RB_OK;
    }
    if (st == RB_OK)
        st = v->store->ops->del(v->store, cat, err);
    for (size_t i = 0; i < l.n; i++)
        free(l.names[i]);
    free(l.names);
    free(prefix);
    free(manifest);
    free(cat);
    return st;
}

rb_status rb_vault_prune(rb_vault *v, int apply, rb_vault_prune_report *r, rb_vault_err *err)
{
    memset(r, 0, sizeof *r);
    if (!rb_vault_verify_key(v))
        return rb_vault_fail(err, RB_EINVAL, "prune checks each set's signed retention and "
                             "needs vault.public_key_file (or the signing key)");
    char **ids = NULL;
    size_t n = 0;
    rb_status st = rb_vault_list_sets(v, &ids, &n, err);
    if (st != RB_OK)
        return st;
    int64_t now = rb_vault_now();
    r->items = rb_xcalloc(n ? n : 1, sizeof *r->items);
    for (size_t i = 0; i < n; i++) {
        rb_vault_prune_item *it = &r->items[r->n++];
        it->set_id = rb_xstrdup(ids[i]);
        rb_vault_entry *e = NULL;
        rb_vault_err pe;
        if (rb_vault_entry_read(v, ids[i], &e, &pe) != RB_OK ||
            rb_vault_entry_check(v, e, &pe) != RB_OK) {
            it->error = rb_xasprintf("kept: %s", pe.msg);
            rb_vault_entry_free(e);
            continue;
        }
        it->expires_s = e->created_s + (int64_t)e->retention_days * 86400;
        it->expired = now >= it->expires_s;
        it->held = rb_vault_is_held(v, ids[i]);
        if (v->store->ops->protected_until) {
            char *mn = rb_xasprintf("sets/%s/manifest.json", ids[i]);
            it->protected_by_store = v->store->ops->protected_until(v->store, mn) > now;
            free(mn);
        }
        rb_vault_entry_free(e);
        if (apply && it->expired && !it->held && !it->protected_by_store) {
            rb_status ds = delete_set(v, ids[i], &pe);
            if (ds == RB_OK)
                it->deleted = 1;
            else if (ds == RB_EDENIED)
                it->protected_by_store = 1; /* the storage said no: its policy holds */
            else
                it->error = rb_xasprintf("delete failed: %s", pe.msg);
        }
    }
    rb_vault_ids_free(ids, n);
    return RB_OK;
}
