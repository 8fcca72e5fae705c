#include "engine/scheduler.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/redact_json.h"
#include "core/strmap.h"
#include "core/util.h"
#include "core/values.h"
#include "engine/workers.h"
#include "plugin/context.h"

typedef struct sched sched;

/* One plugin call in flight on a worker. */
typedef struct job {
    rb_work work;             /* first: the pool hands back this pointer */
    sched *s;
    size_t step;
    const rb_loaded_plugin *plugin;
    const rb_action *action;
    rb_value *args;
    int use_plan;
    rb_ctx ctx;
    char key[33];
    char **op_ids;            /* every journaled operation of the call, latest first */
    atomic_int *ops_used;
    rb_status status;
    rb_value *out;
    int abandoned;            /* the step timed out; discard the result */
    struct job *held_next;
} job;

/* The scheduler's own state for a step. */
typedef struct step_rt {
    lua_State *co;
    int anchor;
    int call_index;
    job *inflight;
    size_t deps_left;
    int dep_failed;
    const char *failed_dep;
    double first_start;
    double attempt_start;
    double next_at;           /* RETRYING: when the next attempt may start */
    rb_value *res_out;
    char *res_err;
    int blocked_call;
    char *blocked_msg;
    int when_failed;          /* the last attempt failed in `when` */
    int generation;           /* > 0: an `always` step re-run on resume */
} step_rt;

struct sched {
    const rb_sched_opts *o;
    rb_run *run;
    rb_workers *wp;
    step_rt *rt;
    size_t *ready;
    size_t ready_head, ready_tail; /* ring over n+1 slots */
    size_t current;
    int running;
    size_t terminal;
    job *held;
    int stopping;
    int interrupted;
    char *fatal;
    double t0;
    unsigned rng;
    int outstanding;
    int n_retrying;           /* steps in RB_STEP_RETRYING */
    char *stop_reason;
    int n_timed;              /* running steps that have a timeout */
    long iterations;
    /* Calls whose journaled operation was handed out already: only the
     * first attempt after a resume re-attaches; a retry starts afresh (the
     * operation may have failed, or its result expired). */
    rb_strmap ops_handed;
};

static int is_terminal(rb_step_state st)
{
    return st == RB_STEP_SUCCEEDED || st == RB_STEP_FAILED || st == RB_STEP_SKIPPED ||
           st == RB_STEP_BLOCKED || st == RB_STEP_CANCELLED;
}

static double now_s(const sched *s) { return rb_mono_s() - s->t0; }

/* --- events and journal records ------------------------------------------ */

static void event_write(FILE *f, cJSON *ev)
{
    char ts[32];
    rb_iso8601(rb_wall_ms(), ts);
    cJSON_AddStringToObject(ev, "ts", ts);
    rb_redact_json(ev);
    char *text = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    if (!text)
        rb_die_oom();
    fprintf(f, "%s\n", text);
    fflush(f);
    free(text);
}

void rb_event_step(FILE *events, const rb_run *run, size_t step)
{
    if (!events)
        return;
    const rb_step_result *r = &run->steps[step];
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "event", "step");
    cJSON_AddStringToObject(ev, "run_id", run->run_id);
    cJSON_AddStringToObject(ev, "step", r->name);
    cJSON_AddStringToObject(ev, "state", rb_step_state_name(r->state));
    cJSON_AddNumberToObject(ev, "attempt", r->attempts);
    if (is_terminal(r->state) && r->state != RB_STEP_SKIPPED)
        cJSON_AddNumberToObject(ev, "duration_s", r->duration_s);
    if (r->error && (r->state == RB_STEP_FAILED || r->state == RB_STEP_RETRYING ||
                     r->state == RB_STEP_BLOCKED || r->state == RB_STEP_CANCELLED))
        cJSON_AddStringToObject(ev, "error", r->error);
    if (r->skip_reason && !r->error)
        cJSON_AddStringToObject(ev, "reason", r->skip_reason);
    event_write(events, ev);
}

void rb_event_run(FILE *events, const rb_run *run, const char *state)
{
    if (!events)
        return;
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "event", "run");
    cJSON_AddStringToObject(ev, "run_id", run->run_id);
    cJSON_AddStringToObject(ev, "playbook", run->playbook_name);
    cJSON_AddStringToObject(ev, "mode", run->mode);
    cJSON_AddStringToObject(ev, "state", state);
    if (strcmp(state, "started") != 0)
        cJSON_AddNumberToObject(ev, "wall_s", run->wall_s);
    event_write(events, ev);
}

static void journal_step(sched *s, size_t i)
{
    const rb_step_result *r = &s->run->steps[i];
    /* "running" is not journaled: resume needs outcomes, and write calls
     * already have their intent records. Events still report it. */
    if (!s->o->journal || r->state == RB_STEP_RUNNING)
        return;
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "t", "step");
    cJSON_AddStringToObject(rec, "step", r->name);
    cJSON_AddStringToObject(rec, "state", rb_step_state_name(r->state));
    cJSON_AddNumberToObject(rec, "attempt", r->attempts);
    if (r->state == RB_STEP_SUCCEEDED) {
        cJSON_AddItemToObject(rec, "outputs", rbv_to_json(r->outputs));
        /* whole milliseconds: integers print far cheaper than doubles */
        cJSON_AddNumberToObject(rec, "duration_ms", (double)(int64_t)(r->duration_s * 1000.0));
    }
    if (r->error && r->state != RB_STEP_SUCCEEDED) {
        cJSON_AddStringToObject(rec, "error", r->error);
        if (r->traceback)
            cJSON_AddStringToObject(rec, "traceback", r->traceback);
    }
    if (r->skip_reason)
        cJSON_AddStringToObject(rec, "reason", r->skip_reason);
    rb_journal_append(s->o->journal, rec, 0);
}

static void changed(sched *s, size_t i)
{
    journal_step(s, i);
    rb_event_step(s->o->events, s->run, i);
    if (s->o->progress)
        rb_progress_step(s->o->progress, s->run, i);
}

/* --- the ready queue and completion ----------------------------------------- */

static void push_ready(sched *s, size_t i)
{
    s->ready[s->ready_tail] = i;
    s->ready_tail = (s->ready_tail + 1) % (s->run->n_steps + 1);
}

static int pop_ready(sched *s, size_t *i)
{
    if (s->ready_head == s->ready_tail)
        return 0;
    *i = s->ready[s->ready_head];
    s->ready_head = (s->ready_head + 1) % (s->run->n_steps + 1);
    return 1;
}

static int failed_like(const rb_step_result *r, const step_rt *rt)
{
    return r->state == RB_STEP_FAILED || r->state == RB_STEP_BLOCKED ||
           r->state == RB_STEP_CANCELLED || (r->state == RB_STEP_SKIPPED && rt->dep_failed);
}

/* A step reached a terminal state: release its dependents. */
static void finish(sched *s, size_t i)
{
    const rb_graph *g = s->o->graph;
    rb_step_result *r = &s->run->steps[i];
    s->terminal++;
    int bad = failed_like(r, &s->rt[i]);
    for (size_t k = 0; k < g->n_rdeps[i]; k++) {
        size_t d = g->rdeps[i][k];
        if (bad && !s->rt[d].dep_failed) {
            s->rt[d].dep_failed = 1;
            s->rt[d].failed_dep = r->name;
        }
        if (--s->rt[d].deps_left == 0)
            push_ready(s, d);
    }
}

static void set_terminal(sched *s, size_t i, rb_step_state st, char *reason)
{
    rb_step_result *r = &s->run->steps[i];
    r->state = st;
    free(r->skip_reason);
    r->skip_reason = reason;
    changed(s, i);
    finish(s, i);
}

/* Stop starting steps. Steps waiting to retry are cancelled now; pending
 * ones are cancelled as they become ready, in dependency order, so an
 * `always` step (teardown) still starts only after everything it depends
 * on, directly or not, has finished. */
static void begin_stop(sched *s, const char *why)
{
    if (s->stopping && !s->interrupted)
        return;
    s->stopping = 1;
    free(s->stop_reason);
    s->stop_reason = rb_xstrdup(why);
    for (size_t i = 0; i < s->run->n_steps; i++) {
        rb_step_result *r = &s->run->steps[i];
        if (r->state != RB_STEP_RETRYING || (s->o->pb->steps[i].always && !s->interrupted))
            continue;
        s->n_retrying--;
        set_terminal(s, i, RB_STEP_CANCELLED,
                     rb_xasprintf("cancelled before attempt %d: %s", r->attempts + 1, why));
    }
}

/* --- plugin calls ------------------------------------------------------------ */

/* The idempotency key of the index-th call of a step: stable across
 * attempts and resumes of the same run. */
static void make_key(const char *run_id, const char *step, int generation, int index,
                     char out[33])
{
    rb_buf material = {0};
    rb_buf_puts(&material, run_id);
    rb_buf_add(&material, "", 1);
    rb_buf_puts(&material, step);
    rb_buf_add(&material, "", 1);
    /* generation > 0: an `always` step run again on resume gets new keys,
     * so its writes really happen again instead of being replayed. */
    if (generation > 0)
        rb_buf_printf(&material, "g%d/", generation);
    rb_buf_printf(&material, "%d", index);
    char hex[65];
    rb_sha256_hex(material.p, material.len, hex);
    rb_buf_free(&material);
    memcpy(out, hex, 32);
    out[32] = '\0';
}

static rb_status save_op(void *data, const char *op_id)
{
    job *jb = data;
    if (!jb->s->o->journal)
        return RB_OK;
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "t", "op");
    cJSON_AddStringToObject(rec, "key", jb->key);
    cJSON_AddStringToObject(rec, "op", op_id);
    return rb_journal_append_sync(jb->s->o->journal, rec) == 0 ? RB_OK : RB_EIO;
}

static void job_run(rb_work *w)
{
    job *jb = (job *)w;
    rb_action_fn fn = jb->use_plan ? jb->action->plan : jb->action->run;
    jb->out = NULL;
    jb->status = fn(&jb->ctx, jb->args, &jb->out);
    if (jb->status == RB_OK && jb->out && rbv_type(jb->out) != RB_VMAP) {
        rbv_free(jb->out);
        jb->out = NULL;
        jb->status = RB_EPROTO;
        rb_host_api_get()->set_error(&jb->ctx, "the plugin returned outputs that are not a map");
    }
    if (jb->status > 0)
        jb->status = RB_ERROR;
}

static void job_free(job *jb)
{
    rbv_free(jb->args);
    rbv_free(jb->out);
    for (char **p = jb->op_ids; p && *p; p++)
        free(*p);
    free(jb->op_ids);
    free(jb->ops_used);
    rb_ctx_clear(&jb->ctx);
    free(jb);
}

static rb_call_outcome hook_call(void *data, const rb_loaded_plugin *p, const rb_action *a,
                                 rb_value *args, rb_value **out, char **err)
{
    sched *s = data;
    size_t i = s->current;
    step_rt *rt = &s->rt[i];
    rb_step_result *r = &s->run->steps[i];
    const rb_sched_opts *o = s->o;

    if (s->interrupted || (o->interrupted && atomic_load(o->interrupted))) {
        /* No new side effects once interrupted; resume makes this call. */
        *err = rb_xasprintf("%s.%s not started: the run was interrupted", p->def->name, a->name);
        rbv_free(args);
        return RB_CALL_ERROR;
    }
    if (a->effect > r->effect) {
        *err = rb_xasprintf("step \"%s\" is declared %s but calls %s action %s.%s; declare "
                            "effect = \"%s\" on the step",
                            r->name, rb_effect_name(r->effect), rb_effect_name(a->effect),
                            p->def->name, a->name, rb_effect_name(a->effect));
        rbv_free(args);
        return RB_CALL_ERROR;
    }
    if (a->effect == RB_EFFECT_DESTRUCTIVE && strcmp(o->mode, "run") == 0 && !o->confirm) {
        rt->blocked_call = 1;
        *err = rb_xasprintf("destructive action %s.%s needs confirmation: run again (or "
                            "resume) with --confirm",
                            p->def->name, a->name);
        free(rt->blocked_msg);
        rt->blocked_msg = rb_xstrdup(*err);
        rbv_free(args);
        return RB_CALL_ERROR;
    }
    int index = ++rt->call_index;
    job *jb = rb_xcalloc(1, sizeof *jb);
    make_key(s->run->run_id, r->name, rt->generation, index, jb->key);
    r->n_calls++;

    if (o->replay && a->effect != RB_EFFECT_READ && strcmp(o->mode, "plan") != 0) {
        size_t at;
        if (rb_strmap_get(&o->replay->calls, jb->key, &at)) {
            const cJSON *rec = rb_replay_record(o->replay, at);
            const cJSON *outs = cJSON_GetObjectItem(rec, "outputs");
            *out = outs && cJSON_IsObject(outs) ? rbv_from_json(outs) : NULL;
            r->n_replayed++;
            rbv_free(args);
            free(jb);
            return RB_CALL_DONE;
        }
        size_t used;
        if (rb_strmap_get(&o->replay->ops, jb->key, &at) &&
            !rb_strmap_get(&s->ops_handed, jb->key, &used)) {
            const cJSON *rec = rb_replay_record(o->replay, at);
            /* The map borrows its keys: the replay's copy lives for the run. */
            rb_strmap_set(&s->ops_handed, cJSON_GetStringValue(cJSON_GetObjectItem(rec, "key")), 1);
            size_t n_ops = 0;
            for (size_t k = at; k != SIZE_MAX; k = o->replay->op_prev[k])
                n_ops++;
            jb->op_ids = rb_xcalloc(n_ops + 1, sizeof *jb->op_ids);
            jb->ops_used = rb_xcalloc(n_ops ? n_ops : 1, sizeof *jb->ops_used);
            size_t w = 0;
            for (size_t k = at; k != SIZE_MAX; k = o->replay->op_prev[k]) {
                const char *op = cJSON_GetStringValue(
                    cJSON_GetObjectItem(rb_replay_record(o->replay, k), "op"));
                atomic_init(&jb->ops_used[w], 0);
                if (op)
                    jb->op_ids[w++] = rb_xstrdup(op);
            }
        }
    }

    jb->work.fn = job_run;
    jb->s = s;
    jb->step = i;
    jb->plugin = p;
    jb->action = a;
    jb->args = args;
    jb->use_plan = strcmp(o->mode, "plan") == 0 && a->effect != RB_EFFECT_READ;
    rb_ctx_init(&jb->ctx);
    jb->ctx.mode = o->mode;
    jb->ctx.step = r->name;
    jb->ctx.plugin = p->def->name;
    jb->ctx.action = a->name;
    jb->ctx.idempotency_key = jb->key;
    jb->ctx.operation_id = jb->op_ids ? jb->op_ids[0] : NULL; /* the latest */
    jb->ctx.operation_ids = (const char *const *)jb->op_ids;
    jb->ctx.operations_used = jb->ops_used;
    if (p->settings)
        jb->ctx.settings = p->settings;
    jb->ctx.run_dir = o->run_dir;
    jb->ctx.interrupted = o->interrupted;
    jb->ctx.save_op = save_op;
    jb->ctx.save_op_data = jb;
    jb->ctx.azure = o->azure;
    jb->ctx.vault = o->vault;
    if (jb->use_plan) {
        /* Predictions are cheap and side-effect free by contract: answer
         * them here rather than through a worker thread. */
        job_run(&jb->work);
        rb_call_outcome oc = RB_CALL_DONE;
        if (jb->status == RB_OK) {
            *out = jb->out;
            jb->out = NULL;
        } else {
            *err = rb_xasprintf("%s.%s (plan): %s (%s)", p->def->name, a->name,
                                jb->ctx.error ? jb->ctx.error : "failed",
                                rb_status_name(jb->status));
            oc = RB_CALL_ERROR;
        }
        job_free(jb);
        return oc;
    }
    rt->inflight = jb;
    s->outstanding++;

    if (!jb->use_plan && a->effect != RB_EFFECT_READ && o->journal) {
        /* The intent must be on disk before the side effect starts; it is
         * held until the next group commit. */
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "t", "intent");
        cJSON_AddStringToObject(rec, "step", r->name);
        cJSON_AddStringToObject(rec, "key", jb->key);
        cJSON_AddStringToObject(rec, "plugin", p->def->name);
        cJSON_AddStringToObject(rec, "action", a->name);
        cJSON_AddStringToObject(rec, "effect", rb_effect_name(a->effect));
        char digest[65];
        rbv_digest(args, digest);
        cJSON_AddStringToObject(rec, "input", digest);
        if (jb->ctx.operation_id)
            cJSON_AddStringToObject(rec, "reattach", jb->ctx.operation_id);
        rb_journal_append(o->journal, rec, 1);
        jb->held_next = s->held;
        s->held = jb;
    } else {
        rb_workers_submit(s->wp, &jb->work);
    }
    return RB_CALL_PENDING;
}

static int hook_take_result(void *data, rb_value **out, char **err)
{
    sched *s = data;
    step_rt *rt = &s->rt[s->current];
    *out = rt->res_out;
    *err = rt->res_err;
    rt->res_out = NULL;
    rt->res_err = NULL;
    return *err ? -1 : 0;
}

/* --- step attempts ------------------------------------------------------------- */

/* The step's own ctx fields; the shared ones were set once on the playbook.
 * The outputs of the steps it needs are lent, not copied, into *deps (a
 * malloc'd array the caller frees). */
static rb_value *step_ctx(sched *s, size_t i, rb_named_value **deps, size_t *n_deps)
{
    rb_value *ctx = rbv_map();
    const rb_step_result *r = &s->run->steps[i];
    rbv_map_set(ctx, "step", rbv_string(r->name));
    rbv_map_set(ctx, "attempt", rbv_int(r->attempts));
    size_t n = s->o->graph->n_deps[i];
    *deps = rb_xcalloc(n + 1, sizeof **deps);
    for (size_t k = 0; k < n; k++) {
        const rb_step_result *d = &s->run->steps[s->o->graph->deps[i][k]];
        (*deps)[k].name = d->name;
        (*deps)[k].value = d->outputs;
    }
    *n_deps = n;
    return ctx;
}

static void end_thread(sched *s, size_t i)
{
    step_rt *rt = &s->rt[i];
    if (rt->co) {
        rb_step_thread_end(s->o->pb, rt->anchor);
        rt->co = NULL;
    }
    rbv_free(rt->res_out);
    rt->res_out = NULL;
    free(rt->res_err);
    rt->res_err = NULL;
}

static void attempt_ended(sched *s, size_t i)
{
    end_thread(s, i);
    s->running--;
    if (s->o->pb->steps[i].timeout_s > 0 && s->run->steps[i].state == RB_STEP_RUNNING)
        s->n_timed--;
}

static void step_succeeded(sched *s, size_t i, rb_value *out)
{
    rb_step_result *r = &s->run->steps[i];
    attempt_ended(s, i);
    r->outputs = out ? out : rbv_map();
    r->duration_s = now_s(s) - s->rt[i].first_start;
    free(r->error);
    r->error = NULL;
    r->state = RB_STEP_SUCCEEDED;
    changed(s, i);
    finish(s, i);
}

static void attempt_failed(sched *s, size_t i, char *err)
{
    rb_step_result *r = &s->run->steps[i];
    step_rt *rt = &s->rt[i];
    const rb_step *st = &s->o->pb->steps[i];
    if (rt->inflight) {
        /* The attempt ended with a call still out: let it finish unseen. */
        rt->inflight->abandoned = 1;
        atomic_store(&rt->inflight->ctx.cancel, 1);
        rt->inflight = NULL;
    }
    attempt_ended(s, i);
    /* One line for people, the traceback kept apart for the journal. */
    char *tb = strstr(err, "\nstack traceback:");
    free(r->traceback);
    r->traceback = NULL;
    if (tb) {
        r->traceback = rb_redact(tb + 1);
        *tb = '\0';
    }
    free(r->error);
    r->error = rb_redact(err);
    free(err);
    r->duration_s = now_s(s) - rt->first_start;
    if (rb_playbook_limit_hit(s->o->pb)) {
        r->state = RB_STEP_FAILED;
        changed(s, i);
        finish(s, i);
        if (!s->fatal)
            s->fatal = rb_xasprintf("step \"%s\": %s", r->name, r->error);
        begin_stop(s, "the playbook hit a limit");
        return;
    }
    if (rt->blocked_call) {
        char *why = rt->blocked_msg ? rt->blocked_msg : rb_xstrdup("waiting for confirmation");
        rt->blocked_msg = NULL;
        set_terminal(s, i, RB_STEP_BLOCKED, why);
        return;
    }
    if (s->interrupted || (s->o->interrupted && atomic_load(s->o->interrupted))) {
        /* The action saw the interrupt before this loop did. */
        set_terminal(s, i, RB_STEP_CANCELLED, rb_xstrdup("interrupted"));
        if (!s->interrupted) {
            s->interrupted = 1;
            begin_stop(s, "interrupted");
        }
        return;
    }
    /* Under the stop policy steps are not retried, except `always`
     * (teardown) steps, which exist to run after failures. */
    if (r->attempts < st->retry_attempts && (!s->stopping || (st->always && !s->interrupted))) {
        double cap = st->retry_backoff_s * pow(2.0, r->attempts - 1);
        if (cap > 300)
            cap = 300;
        double delay = cap * ((double)rand_r(&s->rng) / (double)RAND_MAX); /* full jitter */
        rt->next_at = now_s(s) + delay;
        r->state = RB_STEP_RETRYING;
        s->n_retrying++;
        free(r->skip_reason);
        r->skip_reason = rb_xasprintf("retrying in %.1fs", delay);
        changed(s, i);
        return;
    }
    r->state = RB_STEP_FAILED;
    changed(s, i);
    finish(s, i);
    if (!s->o->continue_on_failure) {
        char *why = rb_xasprintf("step \"%s\" failed", r->name);
        begin_stop(s, why);
        free(why);
    }
}

static void resume_step(sched *s, size_t i)
{
    step_rt *rt = &s->rt[i];
    rb_value *out = NULL;
    char *err = NULL;
    s->current = i;
    s->o->pb->current_step = &s->o->pb->steps[i];
    double timeout = s->o->pb->steps[i].timeout_s;
    rb_playbook_set_deadline(s->o->pb, timeout > 0 ? s->t0 + rt->attempt_start + timeout : 0,
                             timeout);
    int rc = rb_step_thread_resume(s->o->pb, rt->co, &out, &err);
    rb_playbook_set_deadline(s->o->pb, 0, 0);
    if (rc == LUA_YIELD)
        return;
    if (rc == LUA_OK && rt->blocked_call) {
        /* A blocked call the step caught (pcall) still blocks the step. */
        rbv_free(out);
        attempt_failed(s, i, rb_xstrdup(rt->blocked_msg ? rt->blocked_msg : "waiting for confirmation"));
        return;
    }
    if (rc == LUA_OK)
        step_succeeded(s, i, out);
    else
        attempt_failed(s, i, err);
}

static void start_step(sched *s, size_t i)
{
    rb_step_result *r = &s->run->steps[i];
    step_rt *rt = &s->rt[i];
    const rb_step *st = &s->o->pb->steps[i];
    if (r->attempts == 0) {
        rt->first_start = now_s(s);
        r->start_s = rt->first_start;
    }
    r->attempts++;
    rt->attempt_start = now_s(s);
    rt->call_index = 0;
    rt->blocked_call = 0;
    rb_named_value *deps;
    size_t n_deps;
    rb_value *ctx = step_ctx(s, i, &deps, &n_deps);
    /* `when` decides once whether the step runs at all; a retry does not
     * ask again (a failure must not turn into a skip), unless it was the
     * `when` itself that failed. */
    if (st->when_ref != LUA_NOREF && (r->attempts == 1 || rt->when_failed)) {
        char *err = NULL;
        int w = rb_step_eval_when(s->o->pb, st, ctx, deps, n_deps, &err);
        rt->when_failed = w < 0;
        if (w <= 0) {
            rbv_free(ctx);
            free(deps);
            if (w < 0) {
                s->running++;
                attempt_failed(s, i, rb_xasprintf("when: %s", err));
                free(err);
                return;
            }
            r->attempts--; /* deciding not to run is not an attempt */
            set_terminal(s, i, RB_STEP_SKIPPED, rb_xstrdup("`when` returned false"));
            return;
        }
    }
    r->state = RB_STEP_RUNNING;
    s->running++;
    if (st->timeout_s > 0)
        s->n_timed++;
    changed(s, i);
    int do_verify = strcmp(s->o->mode, "plan") != 0 || r->effect == RB_EFFECT_READ;
    rt->co = rb_step_thread_start(s->o->pb, st, ctx, deps, n_deps, do_verify, &rt->anchor);
    rbv_free(ctx);
    free(deps);
    resume_step(s, i);
}

static void consider(sched *s, size_t i)
{
    rb_step_result *r = &s->run->steps[i];
    if (r->state != RB_STEP_PENDING && r->state != RB_STEP_RETRYING)
        return;
    const rb_step *st = &s->o->pb->steps[i];
    if (s->rt[i].dep_failed && !st->always) {
        set_terminal(s, i, RB_STEP_SKIPPED,
                     rb_xasprintf("dependency \"%s\" did not succeed", s->rt[i].failed_dep));
        return;
    }
    start_step(s, i);
}

static void complete_job(sched *s, job *jb)
{
    s->outstanding--;
    if (jb->abandoned) {
        job_free(jb);
        return;
    }
    size_t i = jb->step;
    step_rt *rt = &s->rt[i];
    if (rt->inflight != jb || !rt->co || s->run->steps[i].state != RB_STEP_RUNNING) {
        /* Not the call this step is waiting for (defence in depth: the
         * attempt ended some other way). */
        job_free(jb);
        return;
    }
    rt->inflight = NULL;
    if (jb->status == RB_OK) {
        if (!jb->use_plan && jb->action->effect != RB_EFFECT_READ && s->o->journal) {
            cJSON *rec = cJSON_CreateObject();
            cJSON_AddStringToObject(rec, "t", "call");
            cJSON_AddStringToObject(rec, "step", s->run->steps[i].name);
            cJSON_AddStringToObject(rec, "key", jb->key);
            cJSON_AddItemToObject(rec, "outputs", jb->out ? rbv_to_json(jb->out) : cJSON_CreateObject());
            rb_journal_append(s->o->journal, rec, 0);
        }
        rt->res_out = jb->out;
        jb->out = NULL;
    } else {
        const char *msg = jb->ctx.error ? jb->ctx.error : "failed";
        rt->res_err = rb_xasprintf("%s.%s: %s (%s)", jb->plugin->def->name, jb->action->name,
                                   msg, rb_status_name(jb->status));
        if (jb->status == RB_EBLOCKED) {
            rt->blocked_call = 1;
            free(rt->blocked_msg);
            rt->blocked_msg = rb_xstrdup(rt->res_err);
        }
    }
    job_free(jb);
    resume_step(s, i);
}

static void check_timeouts(sched *s)
{
    double now = now_s(s);
    for (size_t i = 0; s->n_timed > 0 && i < s->run->n_steps; i++) {
        rb_step_result *r = &s->run->steps[i];
        const rb_step *st = &s->o->pb->steps[i];
        if (r->state != RB_STEP_RUNNING || st->timeout_s <= 0)
            continue;
        if (now - s->rt[i].attempt_start < st->timeout_s)
            continue;
        job *jb = s->rt[i].inflight;
        if (jb) {
            jb->abandoned = 1;
            atomic_store(&jb->ctx.cancel, 1);
            s->rt[i].inflight = NULL;
        }
        attempt_failed(s, i, rb_xasprintf("timed out after %gs", st->timeout_s));
    }
}

static double retries_due(sched *s)
{
    double now = now_s(s), next = -1;
    /* Scans only while something waits to retry: 10,000-step runs must not
     * pay O(steps) per scheduler turn. */
    for (size_t i = 0; s->n_retrying > 0 && i < s->run->n_steps; i++) {
        if (s->run->steps[i].state != RB_STEP_RETRYING)
            continue;
        if (s->rt[i].next_at <= now) {
            s->run->steps[i].state = RB_STEP_PENDING;
            s->n_retrying--;
            push_ready(s, i);
        } else if (next < 0 || s->rt[i].next_at < next) {
            next = s->rt[i].next_at;
        }
    }
    return next;
}

static void release_held(sched *s)
{
    if (!s->held)
        return;
    if (rb_journal_commit(s->o->journal, 1) != 0) {
        if (!s->fatal)
            s->fatal = rb_xstrdup("the journal could not be written; stopping so the run stays "
                                  "resumable");
        /* Fail the held calls without running them. */
        while (s->held) {
            job *jb = s->held;
            s->held = jb->held_next;
            jb->status = RB_EIO;
            rb_host_api_get()->set_error(&jb->ctx, "journal write failed");
            complete_job(s, jb);
        }
        begin_stop(s, "the journal failed");
        return;
    }
    /* Submit in call order (the list is LIFO), all under one lock; calls
     * whose step timed out or was interrupted meanwhile never start. */
    rb_work *first = NULL;
    int count = 0;
    job *dropped = NULL;
    while (s->held) {
        job *jb = s->held;
        s->held = jb->held_next;
        if (jb->abandoned || atomic_load(&jb->ctx.cancel)) {
            jb->held_next = dropped;
            dropped = jb;
            continue;
        }
        jb->work.next = first;
        first = &jb->work;
        count++;
    }
    rb_workers_submit_list(s->wp, first, count);
    while (dropped) {
        job *jb = dropped;
        dropped = jb->held_next;
        jb->status = RB_ECANCELED;
        rb_host_api_get()->set_error(&jb->ctx, "not started: cancelled before it could run");
        complete_job(s, jb);
    }
}

int rb_sched_run(rb_run *run, const rb_sched_opts *o, char **fatal)
{
    *fatal = NULL;
    sched S;
    memset(&S, 0, sizeof S);
    sched *s = &S;
    s->o = o;
    s->run = run;
    s->t0 = rb_mono_s();
    s->rng = (unsigned)(rb_wall_ms() ^ getpid());
    size_t n = run->n_steps;
    s->rt = rb_xcalloc(n, sizeof *s->rt);
    s->ready = rb_xcalloc(n + 1, sizeof *s->ready);
    int parallel = o->parallel < 1 ? 1 : o->parallel;
    s->wp = rb_workers_new(parallel);
    rb_strmap_init(&s->ops_handed, 16);

    rb_call_hooks hooks = {.data = s, .call = hook_call, .take_result = hook_take_result};
    rb_playbook_set_hooks(o->pb, &hooks);
    char *cerr = NULL;
    if (o->base_ctx && rb_playbook_set_base_ctx(o->pb, o->base_ctx, &cerr) != 0) {
        *fatal = rb_xasprintf("cannot build the step context: %s", cerr);
        free(cerr);
        rb_workers_free(s->wp);
        rb_strmap_free(&s->ops_handed);
        free(s->rt);
        free(s->ready);
        return -1;
    }

    /* Steps a previous process completed keep their outputs, in dependency
     * order: an `always` step that ran after a failure runs again once the
     * steps it follows have been redone. */
    for (size_t i = 0; i < n; i++)
        s->rt[i].deps_left = o->graph->n_deps[i];
    for (size_t k = 0; k < n; k++) {
        size_t i = o->graph->order[k], at;
        int deps_done = 1;
        for (size_t d = 0; d < o->graph->n_deps[i]; d++)
            deps_done &= run->steps[o->graph->deps[i][d]].state == RB_STEP_SUCCEEDED;
        if (o->pb->steps[i].always && !deps_done) {
            if (o->replay && rb_strmap_get(&o->replay->done_steps, run->steps[i].name, &at))
                s->rt[i].generation = o->replay->n_resumes + 1;
            continue;
        }
        if (o->replay && rb_strmap_get(&o->replay->done_steps, run->steps[i].name, &at)) {
            const cJSON *rec = rb_replay_record(o->replay, at);
            rb_step_result *r = &run->steps[i];
            r->state = RB_STEP_SUCCEEDED;
            r->resumed = 1;
            r->outputs = rbv_from_json(cJSON_GetObjectItem(rec, "outputs"));
            const cJSON *d = cJSON_GetObjectItem(rec, "duration_ms");
            r->duration_s = cJSON_IsNumber(d) ? d->valuedouble / 1000.0 : 0;
            r->attempts = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "attempt"));
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (run->steps[i].state == RB_STEP_SUCCEEDED) {
            s->terminal++;
            continue;
        }
        for (size_t k = 0; k < o->graph->n_deps[i]; k++)
            if (run->steps[o->graph->deps[i][k]].state == RB_STEP_SUCCEEDED)
                s->rt[i].deps_left--;
        if (s->rt[i].deps_left == 0)
            push_ready(s, i);
    }

    while (s->terminal < n || s->outstanding > 0) {
        s->iterations++;
        if (o->interrupted && atomic_load(o->interrupted) && !s->interrupted) {
            s->interrupted = 1;
            /* Actions waiting on Azure watch their own cancel flag. */
            for (size_t k = 0; k < n; k++)
                if (s->rt[k].inflight)
                    atomic_store(&s->rt[k].inflight->ctx.cancel, 1);
            begin_stop(s, "interrupted");
        }
        double next_retry = retries_due(s);
        size_t i;
        while (s->running < parallel && pop_ready(s, &i)) {
            if (s->stopping && run->steps[i].state == RB_STEP_PENDING &&
                (!o->pb->steps[i].always || s->interrupted)) {
                set_terminal(s, i, RB_STEP_CANCELLED,
                             rb_xasprintf("not started: %s",
                                          s->stop_reason ? s->stop_reason : "the run stopped"));
                continue;
            }
            consider(s, i);
        }
        if (o->journal) {
            release_held(s);
            if (rb_journal_commit(o->journal, 0) != 0 && !s->fatal) {
                s->fatal = rb_xstrdup("the journal could not be written");
                begin_stop(s, "the journal failed");
            }
        }
        if (s->terminal >= n && s->outstanding == 0)
            break;
        int wait_ms = 100;
        if (next_retry >= 0) {
            double ms = (next_retry - now_s(s)) * 1000.0;
            if (ms < wait_ms)
                wait_ms = ms < 1 ? 1 : (int)ms;
        }
        if (s->ready_head != s->ready_tail && s->running < parallel)
            wait_ms = 0;
        rb_work *done = wait_ms > 0 || s->outstanding ? rb_workers_wait(s->wp, wait_ms) : NULL;
        while (done) {
            rb_work *next = done->next;
            complete_job(s, (job *)done);
            done = next;
        }
        check_timeouts(s);
        run->wall_s = now_s(s);
        if (o->progress)
            rb_progress_tick(o->progress, run);
    }
    run->wall_s = now_s(s);
    if (o->journal)
        rb_journal_commit(o->journal, 1);
    rb_workers_free(s->wp);
    rb_strmap_free(&s->ops_handed);
    if (getenv("REBOUND_TIMING"))
        fprintf(stderr, "timing: %ld scheduler turns, %ld journal syncs\n", s->iterations,
                o->journal ? rb_journal_sync_count(o->journal) : 0L);

    int any_failed = 0, any_blocked = 0;
    for (size_t k = 0; k < n; k++) {
        any_failed |= run->steps[k].state == RB_STEP_FAILED ||
                      run->steps[k].state == RB_STEP_CANCELLED;
        any_blocked |= run->steps[k].state == RB_STEP_BLOCKED;
        end_thread(s, k);
        free(s->rt[k].blocked_msg);
    }
    if (s->interrupted)
        run->status = RB_RUN_INTERRUPTED;
    else if (any_failed || s->fatal)
        run->status = RB_RUN_FAILED;
    else if (any_blocked)
        run->status = RB_RUN_BLOCKED;
    else
        run->status = RB_RUN_SUCCEEDED;

    /* The measured critical path: durations of this run. */
    double *dur = rb_xcalloc(n, sizeof *dur);
    for (size_t k = 0; k < n; k++)
        dur[k] = run->steps[k].duration_s;
    free(run->critical_path);
    rb_graph_critical_path(o->graph, dur, &run->critical_path, &run->n_critical,
                           &run->critical_s);
    free(dur);
    free(s->rt);
    free(s->ready);
    free(s->stop_reason);
    *fatal = s->fatal;
    return s->fatal ? -1 : 0;
}

void rb_run_prepare(rb_run *run, const rb_playbook *pb, const rb_graph *g)
{
    run->n_steps = pb->n_steps;
    run->steps = rb_xcalloc(pb->n_steps, sizeof *run->steps);
    run->n_layers = g->n_layers;
    run->playbook_name = pb->name;
    run->playbook_path = pb->path;
    for (size_t i = 0; i < pb->n_steps; i++) {
        rb_step_result *r = &run->steps[i];
        const rb_step *st = &pb->steps[i];
        r->name = st->name;
        r->description = st->description;
        r->effect = st->effect;
        r->needs = (const char *const *)st->needs;
        r->n_needs = st->n_needs;
        r->deps = rb_xcalloc(g->n_deps[i] + 1, sizeof *r->deps);
        memcpy(r->deps, g->deps[i], g->n_deps[i] * sizeof *r->deps);
        r->layer = g->layer[i];
        r->estimate_s = -1;
    }
}

void rb_run_clear(rb_run *run)
{
    for (size_t i = 0; i < run->n_steps; i++) {
        free(run->steps[i].deps);
        free(run->steps[i].skip_reason);
        free(run->steps[i].error);
        free(run->steps[i].traceback);
        rbv_free(run->steps[i].outputs);
    }
    free(run->steps);
    free(run->critical_path);
    free(run->run_dir);
    rbv_free(run->params);
    rbv_free(run->notes);
    memset(run, 0, sizeof *run);
}
