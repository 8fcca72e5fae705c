/* Names of step states and run statuses as reports, events and the
 * progress display spell them. These strings are part of the report
 * schema (docs/report-schema.md): never rename one. */
#include "engine/run.h"

const char *rb_step_state_name(rb_step_state s)
{
    switch (s) {
    case RB_STEP_PENDING: return "pending";
    case RB_STEP_RUNNING: return "running";
    case RB_STEP_RETRYING: return "retrying";
    case RB_STEP_SUCCEEDED: return "succeeded";
    case RB_STEP_FAILED: return "failed";
    case RB_STEP_SKIPPED: return "skipped";
    case RB_STEP_BLOCKED: return "blocked";
    case RB_STEP_CANCELLED: return "cancelled";
    }
    return "unknown";
}

const char *rb_run_status_name(rb_run_status s)
{
    switch (s) {
    case RB_RUN_SUCCEEDED: return "succeeded";
    case RB_RUN_FAILED: return "failed";
    case RB_RUN_BLOCKED: return "blocked";
    case RB_RUN_INTERRUPTED: return "interrupted";
    }
    return "unknown";
}
