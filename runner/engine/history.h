/* Step duration estimates from earlier runs: the report.json files under
 * the runs directory. Used by plan mode and the progress ETA. */
#ifndef REBOUND_RUNNER_HISTORY_H
#define REBOUND_RUNNER_HISTORY_H

#include "engine/run.h"

/* Sets run->steps[i].estimate_s to the mean duration of that step over the
 * newest (at most 5) successful reports of the same playbook under
 * runs_dir. Returns the number of reports used. */
int rb_history_estimate(rb_run *run, const char *runs_dir);

#endif
