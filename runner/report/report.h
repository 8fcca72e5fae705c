/* Reports written at the end of a run (and of plan mode):
 *   report.json  the machine-readable record (schema: docs/report-schema.md)
 *   junit.xml    each step a test case, so CI systems show drills as tests
 *   summary.txt  per-step durations and the measured critical path
 * All three are written into the run directory. No secrets ever reach them:
 * step errors were redacted when they were recorded. */
#ifndef REBOUND_RUNNER_REPORT_H
#define REBOUND_RUNNER_REPORT_H

#include <stdio.h>

#include "engine/run.h"

/* Writes the three files into dir; returns 0 or -1 with a message in err. */
int rb_report_write_all(const rb_run *run, const char *dir, char *err, size_t errlen);

int rb_report_write_json(const rb_run *run, FILE *out);
int rb_report_write_junit(const rb_run *run, FILE *out);
/* The text summary; also what `rebound run` prints at the end. */
void rb_report_write_text(const rb_run *run, FILE *out);
/* Plan mode's output: layers, each step with effect and estimate, the
 * critical path and the estimated duration. json selects --output json. */
void rb_report_write_plan(const rb_run *run, FILE *out, int json);
/* The same, also saying how many earlier runs the estimates come from
 * ("from 3 earlier runs"); history_runs < 0 when unknown.
 * rb_report_write_plan(run, out, json) is this with history_runs = -1. */
void rb_report_write_plan_history(const rb_run *run, FILE *out, int json, int history_runs);


#endif
