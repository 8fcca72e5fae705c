/* A fixed pool of threads that run plugin actions, so the scheduler's one
 * Lua thread never blocks on Azure. Items are embedded in the caller's
 * structs; finished items come back to the scheduler in completion order. */
#ifndef REBOUND_RUNNER_WORKERS_H
#define REBOUND_RUNNER_WORKERS_H

typedef struct rb_work {
    void (*fn)(struct rb_work *w); /* runs on a worker thread */
    struct rb_work *next;          /* queue link, owned by the pool */
} rb_work;

typedef struct rb_workers rb_workers;

rb_workers *rb_workers_new(int threads);
/* Stops accepting work, waits for running items, joins the threads. Items
 * still queued are returned by rb_workers_wait before this, never dropped:
 * call it only when nothing is outstanding. */
void rb_workers_free(rb_workers *wp);
void rb_workers_submit(rb_workers *wp, rb_work *w);
/* Submits count items linked through next, under one lock. */
void rb_workers_submit_list(rb_workers *wp, rb_work *first, int count);
/* Waits up to timeout_ms for finished items; returns them as a list (via
 * next), or NULL on timeout. */
rb_work *rb_workers_wait(rb_workers *wp, int timeout_ms);
/* Wakes a rb_workers_wait early (from a signal-safe context it is not
 * safe; use from threads only). */
void rb_workers_wake(rb_workers *wp);

#endif
