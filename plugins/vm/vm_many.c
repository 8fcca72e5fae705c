/* vm.restore_disks and vm.export_disks: several disks at once. A drill's
 * recovery time, and a backup's window, are mostly disks: each one is ARM
 * calls, a grant, a transfer and a revoke, seconds to hours apart, and one
 * after another they add up. These actions run restore_disk (or export,
 * then end_access) for each disk on up to `parallel` threads (the host's
 * routines are safe from any thread with the call's ctx; vault reads and
 * writes run at once), clean up after each disk, and report every disk.
 * Each disk is idempotent on its own (restore_disk decides from what Azure
 * shows; export resumes its set), so a resumed call simply runs it again. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "vm.h"

/* What one of the many-disk actions does per disk. */
typedef struct many_kind {
    rb_status (*one)(rb_ctx *ctx, const rb_value *args, rb_value **out);
    /* after each disk (st its outcome): no SAS outlives the attempt */
    void (*after)(rb_ctx *ctx, const rb_value *args, rb_status st);
    const char *const *shared; /* keys copied from the call's args */
    const char *const *own;    /* keys copied from the disk's item */
    const char *failed_fmt;    /* "%zu of %zu ... : %s; ..." */
} many_kind;

typedef struct disk_job {
    rb_ctx *ctx;
    const many_kind *k;
    rb_value *args; /* the call's args with this disk's fields */
    rb_value *out;
    rb_status st;
} disk_job;

typedef struct pool {
    pthread_mutex_t mu;
    disk_job *jobs;
    size_t n, next;
} pool;

static void revoke(rb_ctx *ctx, const char *id)
{
    rb_value *ea = H->value_map(), *eo = NULL;
    vm_set_str(ea, "id", id);
    rb_status es = vm_end_access(ctx, ea, &eo);
    if (es != RB_OK && es != RB_ENOTFOUND)
        H->log(ctx, RB_LOG_WARN, "could not revoke the SAS of %s (%s)", vm_id_name(id),
               rb_status_name(es));
    H->value_free(eo);
    H->value_free(ea);
}

/* A restored disk that failed keeps no write SAS. */
static void after_restore(rb_ctx *ctx, const rb_value *args, rb_status st)
{
    if (st == RB_OK)
        return;
    char *id = vm_res_id(H->map_get_string(args, "subscription", ""),
                         H->map_get_string(args, "resource_group", ""),
                         "Microsoft.Compute/disks", H->map_get_string(args, "name", ""));
    revoke(ctx, id);
    H->mem_free(id);
}

/* An exported snapshot keeps no read SAS, whatever happened. */
static void after_export(rb_ctx *ctx, const rb_value *args, rb_status st)
{
    (void)st;
    revoke(ctx, H->map_get_string(args, "snapshot_id", ""));
}

static void *worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next < p->n ? p->next++ : p->n;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->n || H->cancelled(p->jobs[i].ctx))
            return NULL;
        disk_job *j = &p->jobs[i];
        j->st = j->k->one(j->ctx, j->args, &j->out);
        j->k->after(j->ctx, j->args, j->st);
    }
}

/* The args of item's call: the shared ones plus the disk's own. */
static rb_value *job_args(const many_kind *k, const rb_value *args, const rb_value *item)
{
    rb_value *a = H->value_map();
    for (const char *const *key = k->shared; *key; key++) {
        const rb_value *v = H->map_get(args, *key);
        if (v)
            H->map_set(a, *key, H->value_copy(v));
    }
    for (const char *const *key = k->own; *key; key++) {
        const rb_value *v = H->map_get(item, *key);
        if (v)
            H->map_set(a, *key, H->value_copy(v));
    }
    return a;
}

static rb_status check_restore_items(rb_ctx *ctx, const rb_value *disks)
{
    for (size_t i = 0; i < H->value_len(disks); i++) {
        const rb_value *d = H->list_get(disks, i);
        if (H->value_type(d) != RB_VMAP || !*H->map_get_string(d, "name", "") ||
            !*H->map_get_string(d, "set_id", "")) {
            H->set_error(ctx, "disks[%zu]: each disk needs a name and a set_id", i + 1);
            return RB_EINVAL;
        }
    }
    return RB_OK;
}

static rb_status check_export_items(rb_ctx *ctx, const rb_value *disks)
{
    for (size_t i = 0; i < H->value_len(disks); i++) {
        const rb_value *d = H->list_get(disks, i);
        if (H->value_type(d) != RB_VMAP || !*H->map_get_string(d, "snapshot_id", "") ||
            H->value_type(H->map_get(d, "disk")) != RB_VMAP) {
            H->set_error(ctx, "disks[%zu]: each item needs a snapshot_id and the disk's record",
                         i + 1);
            return RB_EINVAL;
        }
    }
    return RB_OK;
}

static const char *const restore_shared[] = {"subscription", "resource_group", "location",
                                             "drill_id", "keep_encryption", "sas_seconds",
                                             NULL};
static const char *const restore_own[] = {"name", "set_id", "lun", "zone", NULL};
static const many_kind k_restore = {
    .one = vm_restore_disk, .after = after_restore, .shared = restore_shared,
    .own = restore_own,
    .failed_fmt = "%zu of %zu disks not restored: %s; the others are, and a rerun restores "
                  "only what is missing"};

static const char *const export_shared[] = {"sas_seconds", NULL};
static const char *const export_own[] = {"snapshot_id", "disk", NULL};
static const many_kind k_export = {
    .one = vm_export, .after = after_export, .shared = export_shared, .own = export_own,
    .failed_fmt = "%zu of %zu snapshots not exported: %s; the others are in the vault, and a "
                  "rerun resumes what is missing"};

/* Runs k for every item of args.disks; *out is {disks, count, bytes[, bytes_sent]}. */
static rb_status run_many(rb_ctx *ctx, const rb_value *args, const many_kind *k, rb_value **out)
{
    const rb_value *disks = H->map_get(args, "disks");
    size_t n = H->value_len(disks);
    int64_t par = H->map_get_int(args, "parallel", 4);
    size_t threads = par < 1 ? 1 : (size_t)par > n ? n : (size_t)par;
    pool p = {.n = n};
    pthread_mutex_init(&p.mu, NULL);
    p.jobs = H->mem_alloc((n ? n : 1) * sizeof *p.jobs);
    for (size_t i = 0; i < n; i++)
        p.jobs[i] = (disk_job){.ctx = ctx, .k = k,
                               .args = job_args(k, args, H->list_get(disks, i)),
                               .st = RB_ECANCELED};
    pthread_t *th = H->mem_alloc((threads ? threads : 1) * sizeof *th);
    size_t started = 0;
    for (size_t t = 1; t < threads; t++)
        if (pthread_create(&th[t], NULL, worker, &p) == 0)
            started++;
    worker(&p); /* this thread works too */
    for (size_t t = 1; t <= started; t++)
        pthread_join(th[t], NULL);
    H->mem_free(th);

    rb_value *list = H->value_list();
    int64_t bytes = 0, sent = 0;
    size_t failed = 0;
    char why[900] = "";
    size_t used = 0;
    rb_status st = RB_OK;
    for (size_t i = 0; i < n; i++) {
        disk_job *j = &p.jobs[i];
        if (j->st == RB_OK) {
            bytes += H->map_get_int(j->out, "bytes", 0);
            sent += H->map_get_int(j->out, "bytes_sent", 0);
            H->list_append(list, j->out);
        } else {
            H->value_free(j->out);
            if (!failed++)
                st = j->st;
            const char *name = H->map_get_string(j->args, "name", "");
            if (!*name)
                name = vm_id_name(H->map_get_string(j->args, "snapshot_id", "?"));
            if (used < sizeof why)
                used += (size_t)snprintf(why + used, sizeof why - used, "%s%s (%s)",
                                         failed > 1 ? ", " : "", name, rb_status_name(j->st));
        }
        H->value_free(j->args);
    }
    H->mem_free(p.jobs);
    pthread_mutex_destroy(&p.mu);
    if (failed) {
        H->value_free(list);
        H->set_error(ctx, k->failed_fmt, failed, n, why);
        return st;
    }
    rb_value *o = H->value_map();
    H->map_set(o, "disks", list);
    vm_set_int(o, "count", (int64_t)n);
    vm_set_int(o, "bytes", bytes);
    if (k == &k_export)
        vm_set_int(o, "bytes_sent", sent);
    *out = o;
    return RB_OK;
}

/* Plan mode: each disk's own plan, in order. */
static rb_status plan_many(rb_ctx *ctx, const rb_value *args, const many_kind *k,
                           rb_status (*plan_one)(rb_ctx *, const rb_value *, rb_value **),
                           rb_value **out)
{
    const rb_value *disks = H->map_get(args, "disks");
    rb_value *list = H->value_list();
    for (size_t i = 0; i < H->value_len(disks); i++) {
        rb_value *a = job_args(k, args, H->list_get(disks, i)), *o = NULL;
        plan_one(ctx, a, &o);
        H->list_append(list, o);
        H->value_free(a);
    }
    rb_value *o = H->value_map();
    H->map_set(o, "disks", list);
    vm_set_int(o, "count", (int64_t)H->value_len(disks));
    vm_set_int(o, "bytes", 0);
    if (k == &k_export)
        vm_set_int(o, "bytes_sent", 0);
    *out = o;
    return RB_OK;
}

rb_status vm_restore_disks(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_status st = vm_need_streams(ctx);
    if (st == RB_OK)
        st = check_restore_items(ctx, H->map_get(args, "disks"));
    return st == RB_OK ? run_many(ctx, args, &k_restore, out) : st;
}

rb_status vm_restore_disks_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_status st = check_restore_items(ctx, H->map_get(args, "disks"));
    return st == RB_OK ? plan_many(ctx, args, &k_restore, vm_restore_disk_plan, out) : st;
}

rb_status vm_export_disks(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_status st = check_export_items(ctx, H->map_get(args, "disks"));
    return st == RB_OK ? run_many(ctx, args, &k_export, out) : st;
}

rb_status vm_export_disks_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_status st = check_export_items(ctx, H->map_get(args, "disks"));
    return st == RB_OK ? plan_many(ctx, args, &k_export, vm_export_plan, out) : st;
}
