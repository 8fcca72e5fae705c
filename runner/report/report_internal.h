/* Shared by the report writers (and the progress display): names and
 * formats that must read the same everywhere. Not part of the report API. */
#ifndef REBOUND_RUNNER_REPORT_INTERNAL_H
#define REBOUND_RUNNER_REPORT_INTERNAL_H

#include <stdio.h>

#include "engine/run.h"
#include "plugin/registry.h" /* rb_effect_name: "read", "write", "destructive" */

typedef struct cJSON cJSON;

/* Non-zero for states a step never leaves in this process
 * (succeeded, failed, skipped, blocked, cancelled). */
int rb_step_state_final(rb_step_state s);

/* The step's skip_reason where its state is about one (skipped, blocked,
 * cancelled), else NULL: the scheduler leaves "retrying in 2.0s" there
 * while a step waits for a retry, which is stale once it finishes. */
const char *rb_step_why_not_run(const rb_step_result *st);

/* Non-zero when the step started at least once (here or, for resumed
 * steps, in an earlier process), so its start and duration mean something. */
int rb_step_started(const rb_step_result *st);

/* Prints "\nNotes:\n  - ..." for run->notes (strings as they are, other
 * values as JSON); nothing when there are none. */
void rb_text_notes(const rb_run *run, FILE *out);

/* Human duration: "45ms", "1.2s", "2m03s", "1h02m". */
void rb_fmt_duration(double s, char out[32]);

/* Seconds rounded to milliseconds, so JSON shows 1.234, not 1.2340000000000002. */
double rb_round_ms(double s);
/* Seconds rounded to milliseconds as a JSON number ("1.234"). Printed
 * directly: cJSON's generic double printing round-trips every number
 * through sscanf, which dominates a 10,000-step report. */
cJSON *rb_json_seconds(double s);
void rb_json_add_seconds(cJSON *obj, const char *key, double s);

/* A cJSON string of s with invalid UTF-8 replaced, or a JSON null for NULL. */
cJSON *rb_json_text(const char *s);
/* Replaces invalid UTF-8 in every string and key of the tree, in place. */
void rb_json_clean_tree(cJSON *j);
/* rbv_to_json of v with rb_json_clean_tree applied; JSON null for NULL.
 * Aborts on out-of-memory like the rest of the runner. */
cJSON *rb_json_value(const rb_value *v);
/* {"steps": [names...], "seconds": s or null when unknown}. */
cJSON *rb_json_critical_path(const rb_run *run, int seconds_known);
/* Pretty-prints j to out followed by a newline; 0, or -1 on a write error. */
int rb_json_print(const cJSON *j, FILE *out);

#endif
