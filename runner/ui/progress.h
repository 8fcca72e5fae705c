/* Progress display for runs on stderr. On a TTY: one redrawn status line
 * (running steps, done/total, elapsed, ETA), colours unless NO_COLOR is set.
 * Otherwise: one plain line per state change. */
#ifndef REBOUND_RUNNER_PROGRESS_H
#define REBOUND_RUNNER_PROGRESS_H

#include <stdio.h>

#include "engine/run.h"

typedef struct rb_progress rb_progress;

/* quiet: print nothing but errors. force_plain: never redraw. */
rb_progress *rb_progress_new(FILE *out, int quiet, int force_plain);
void rb_progress_free(rb_progress *p);
/* A step changed state (started, succeeded, failed, retrying, skipped...). */
void rb_progress_step(rb_progress *p, const rb_run *run, size_t step);
/* Called about every 100 ms while steps run: redraws the status line. */
void rb_progress_tick(rb_progress *p, const rb_run *run);
/* Clears the status line before the final summary. */
void rb_progress_finish(rb_progress *p, const rb_run *run);

#endif
