/* The state of one run as the scheduler keeps it, and as reports, the
 * progress display and plan output read it. The scheduler is the only
 * writer; readers run on the main thread between scheduler events. */
#ifndef REBOUND_RUNNER_RUN_H
#define REBOUND_RUNNER_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "rebound/plugin.h"
#include "rebound/value.h"

typedef enum rb_step_state {
    RB_STEP_PENDING = 0,   /* not started */
    RB_STEP_RUNNING,       /* an attempt is in progress */
    RB_STEP_RETRYING,      /* waiting for the backoff before the next attempt */
    RB_STEP_SUCCEEDED,
    RB_STEP_FAILED,
    RB_STEP_SKIPPED,       /* `when` was false, or a dependency failed */
    RB_STEP_BLOCKED,       /* needs approval/confirmation */
    RB_STEP_CANCELLED      /* interrupted before or while running */
} rb_step_state;

typedef enum rb_run_status {
    RB_RUN_SUCCEEDED = 0,
    RB_RUN_FAILED,
    RB_RUN_BLOCKED,
    RB_RUN_INTERRUPTED
} rb_run_status;

typedef struct rb_step_result {
    const char *name;          /* borrowed from the playbook */
    const char *description;   /* may be NULL */
    rb_effect effect;          /* declared effect of the step */
    const char *const *needs;  /* borrowed; n_needs entries */
    size_t n_needs;
    size_t *deps;              /* indices of needs in the run's steps */
    rb_step_state state;
    int attempts;
    int resumed;               /* completed by an earlier process of this run */
    double start_s;            /* seconds since the run started (this process) */
    double duration_s;         /* of the successful or last attempt(s), wall */
    double estimate_s;         /* from history, or -1 when unknown */
    int layer;                 /* 0-based topological layer */
    char *skip_reason;         /* for SKIPPED/BLOCKED/CANCELLED; malloc'd */
    char *error;               /* last error message (one line, file:line first); malloc'd; no secrets */
    char *traceback;           /* Lua traceback of that error, or NULL; malloc'd */
    rb_value *outputs;         /* owned; NULL until succeeded */
    int n_calls;               /* plugin action calls made (all attempts) */
    int n_replayed;            /* calls answered from the journal */
} rb_step_result;

typedef struct rb_run {
    char run_id[40];
    const char *playbook_name;
    const char *playbook_path;
    const char *mode;          /* "plan", "run", "drill" */
    char *run_dir;             /* NULL in plan mode */
    rb_value *params;          /* owned */
    int parallel;
    int64_t started_wall_ms;
    double wall_s;             /* total wall time so far / at the end */
    rb_run_status status;
    int resumed;               /* this process resumed an earlier run */
    int n_layers;
    rb_step_result *steps;     /* n_steps */
    size_t n_steps;
    size_t *critical_path;     /* indices, in order; n_critical entries */
    size_t n_critical;
    double critical_s;         /* sum of durations (run) or estimates (plan) */
    rb_value *notes;           /* list of strings for the report (e.g. overrides); owned */
} rb_run;

const char *rb_step_state_name(rb_step_state s);
const char *rb_run_status_name(rb_run_status s);

#endif
