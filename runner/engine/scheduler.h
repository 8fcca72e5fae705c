/* The scheduler: runs a playbook's steps in dependency order, ready steps in
 * parallel up to --parallel, each step's Lua body as a coroutine on this
 * thread and its plugin calls on worker threads. It applies retries with
 * backoff, timeouts, the failure policy and graceful interruption, journals
 * every state change (write intents durably before the write starts), and
 * on resume skips completed steps and replays completed write calls. */
#ifndef REBOUND_RUNNER_SCHEDULER_H
#define REBOUND_RUNNER_SCHEDULER_H

#include <stdatomic.h>
#include <stdio.h>

#include "engine/graph.h"
#include "engine/journal.h"
#include "engine/run.h"
#include "playbook/playbook.h"
#include "ui/progress.h"

typedef struct rb_sched_opts {
    const char *mode;               /* "plan", "run", "drill" */
    int parallel;                   /* >= 1 */
    int continue_on_failure;        /* failure policy "continue" */
    int confirm;                    /* destructive actions allowed in run mode */
    rb_playbook *pb;
    const rb_graph *graph;
    rb_journal *journal;            /* NULL in plan mode */
    const rb_replay *replay;        /* when resuming, else NULL */
    const rb_value *base_ctx;       /* map handed to every step as ctx */
    FILE *events;                   /* JSON lines, or NULL */
    rb_progress *progress;          /* or NULL */
    const atomic_int *interrupted;  /* set by SIGINT/SIGTERM */
    const char *run_dir;            /* NULL in plan mode */
    struct rb_azure_session *azure; /* the run's Azure access (ctx->azure), or NULL */
    struct rb_vault_session *vault; /* the run's backup vault (ctx->vault), or NULL */
} rb_sched_opts;

/* Runs every step of run (prepared by rb_run_prepare). Returns 0 when the
 * run went its course (its status says how), or -1 when the playbook itself
 * is at fault or the journal failed; then *fatal is a malloc'd message. */
int rb_sched_run(rb_run *run, const rb_sched_opts *o, char **fatal);

/* Fills run->steps from the playbook and graph (names, needs, deps, layers,
 * effects); estimates start at -1. Caller frees with rb_run_clear. */
void rb_run_prepare(rb_run *run, const rb_playbook *pb, const rb_graph *g);
void rb_run_clear(rb_run *run);

/* Writes one event line (JSON) for a step state change or the run. */
void rb_event_step(FILE *events, const rb_run *run, size_t step);
void rb_event_run(FILE *events, const rb_run *run, const char *state);

#endif
