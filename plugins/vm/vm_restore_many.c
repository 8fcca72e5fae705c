/* vm.restore_disks: several disks restored at once. A drill's recovery time
 * is mostly disks: each one is an ARM create, a write grant, an upload and a
 * close, seconds to hours apart, and one after another they add up. This
 * action runs restore_disk for each disk on up to `parallel` threads (the
 * host's routines are safe from any thread with the call's ctx; vault reads
 * run at once), revokes the write SAS of any disk that failed, and reports
 * every disk. Each disk is idempotent on its own (restore_disk decides from
 * what Azure shows), so a resumed call simply runs it again. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "vm.h"

typedef struct disk_job {
    rb_ctx *ctx;
    rb_value *args; /* the call's args with this disk's fields */
    rb_value *out;
    rb_status st;
} disk_job;

typedef struct pool {
    pthread_mutex_t mu;
    disk_job *jobs;
    size_t n, next;
} pool;

static void run_job(disk_job *j)
{
    j->st = vm_restore_disk(j->ctx, j->args, &j->out);
    if (j->st != RB_OK) {
        /* Whatever failed, no write SAS outlives the attempt. */
        rb_value *ea = H->value_map(), *eo = NULL;
        char *id = vm_res_id(H->map_get_string(j->args, "subscription", ""),
                             H->map_get_string(j->args, "resource_group", ""),
                             "Microsoft.Compute/disks", H->map_get_string(j->args, "name", ""));
        vm_set_str(ea, "id", id);
        rb_status es = vm_end_access(j->ctx, ea, &eo);
        if (es != RB_OK && es != RB_ENOTFOUND)
            H->log(j->ctx, RB_LOG_WARN, "could not revoke the write SAS of %s (%s)",
                   vm_id_name(id), rb_status_name(es));
        H->value_free(eo);
        H->value_free(ea);
        H->mem_free(id);
    }
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
        run_job(&p->jobs[i]);
    }
}

/* The args restore_disk gets for item k: the shared ones plus the disk's. */
static rb_value *job_args(const rb_value *args, const rb_value *item)
{
    rb_value *a = H->value_map();
    static const char *const shared[] = {"subscription", "resource_group", "location",
                                         "drill_id", "keep_encryption", "sas_seconds"};
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        const rb_value *v = H->map_get(args, shared[i]);
        if (v)
            H->map_set(a, shared[i], H->value_copy(v));
    }
    static const char *const own[] = {"name", "set_id", "lun", "zone"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        const rb_value *v = H->map_get(item, own[i]);
        if (v)
            H->map_set(a, own[i], H->value_copy(v));
    }
    return a;
}

static rb_status check_items(rb_ctx *ctx, const rb_value *disks)
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

rb_status vm_restore_disks(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_status st = vm_need_streams(ctx);
    const rb_value *disks = H->map_get(args, "disks");
    if (st == RB_OK)
        st = check_items(ctx, disks);
    if (st != RB_OK)
        return st;
    size_t n = H->value_len(disks);
    int64_t par = H->map_get_int(args, "parallel", 4);
    size_t threads = par < 1 ? 1 : (size_t)par > n ? n : (size_t)par;
    pool p = {.n = n};
    pthread_mutex_init(&p.mu, NULL);
    p.jobs = H->mem_alloc((n ? n : 1) * sizeof *p.jobs);
    for (size_t i = 0; i < n; i++)
        p.jobs[i] = (disk_job){.ctx = ctx, .args = job_args(args, H->list_get(disks, i)),
                               .st = RB_ECANCELED};
    pthread_t *th = H->mem_alloc((threads ? threads : 1) * sizeof *th);
    size_t started = 0;
    for (size_t t = 1; t < threads; t++)
        if (pthread_create(&th[started], NULL, worker, &p) == 0)
            started++;
    worker(&p); /* this thread works too */
    for (size_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    H->mem_free(th);

    rb_value *list = H->value_list();
    int64_t bytes = 0;
    size_t failed = 0;
    char why[900] = "";
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        disk_job *j = &p.jobs[i];
        if (j->st == RB_OK) {
            bytes += H->map_get_int(j->out, "bytes", 0);
            H->list_append(list, j->out);
        } else {
            H->value_free(j->out);
            if (!failed++)
                st = j->st;
            if (used < sizeof why)
                used += (size_t)snprintf(why + used, sizeof why - used, "%s%s (%s)",
                                         failed > 1 ? ", " : "",
                                         H->map_get_string(j->args, "name", "?"),
                                         rb_status_name(j->st));
        }
        H->value_free(j->args);
    }
    H->mem_free(p.jobs);
    pthread_mutex_destroy(&p.mu);
    if (failed) {
        H->value_free(list);
        H->set_error(ctx, "%zu of %zu disks not restored: %s; the others are, and a rerun "
                          "restores only what is missing",
                     failed, n, why);
        return st;
    }
    rb_value *o = H->value_map();
    H->map_set(o, "disks", list);
    vm_set_int(o, "count", (int64_t)n);
    vm_set_int(o, "bytes", bytes);
    *out = o;
    return RB_OK;
}

rb_status vm_restore_disks_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const rb_value *disks = H->map_get(args, "disks");
    rb_status st = check_items(ctx, disks);
    if (st != RB_OK)
        return st;
    rb_value *list = H->value_list();
    for (size_t i = 0; i < H->value_len(disks); i++) {
        rb_value *a = job_args(args, H->list_get(disks, i)), *o = NULL;
        vm_restore_disk_plan(ctx, a, &o);
        H->list_append(list, o);
        H->value_free(a);
    }
    rb_value *o = H->value_map();
    H->map_set(o, "disks", list);
    vm_set_int(o, "count", (int64_t)H->value_len(disks));
    vm_set_int(o, "bytes", 0);
    *out = o;
    return RB_OK;
}
