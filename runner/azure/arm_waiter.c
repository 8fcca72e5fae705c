/* Waiting for many long-running operations with a few threads: a queue
 * ordered by each operation's next poll time, served by a small pool. Each
 * poll is one rb_arm_op_poll() through the shared engine. See arm.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arm.h"
#include "internal.h"

typedef struct entry {
    struct entry *next;
    rb_arm_op *op;
    int64_t due;       /* monotonic ms of the next poll */
    int64_t deadline;
    rb_arm_op_done_fn done;
    void *user;
} entry;

struct rb_arm_waiter {
    rb_arm *arm;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    entry *queue;      /* sorted by due */
    int pending;       /* queued + being polled */
    int stop;
    int nthreads;
    pthread_t *threads;
    atomic_int cancel;
};

static void insert_sorted(rb_arm_waiter *w, entry *e)
{
    entry **pp = &w->queue;
    while (*pp && (*pp)->due <= e->due)
        pp = &(*pp)->next;
    e->next = *pp;
    *pp = e;
}

static void cond_wait_until(rb_arm_waiter *w, int64_t due_ms)
{
    /* The condition variable uses CLOCK_MONOTONIC (see rb_arm_waiter_new). */
    struct timespec ts;
    ts.tv_sec = (time_t)(due_ms / 1000);
    ts.tv_nsec = (long)(due_ms % 1000) * 1000000L;
    pthread_cond_timedwait(&w->cv, &w->lock, &ts);
}

static void finish(entry *e, rb_status st, cJSON *result, const rb_az_err *err)
{
    e->done(e->user, e->op, st, result, err);
    free(e);
}

static void *waiter_main(void *arg)
{
    rb_arm_waiter *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        if (w->stop)
            break;
        if (!w->queue) {
            pthread_cond_wait(&w->cv, &w->lock);
            continue;
        }
        int64_t now = rb_now_ms();
        if (w->queue->due > now) {
            cond_wait_until(w, w->queue->due);
            continue;
        }
        entry *e = w->queue;
        w->queue = e->next;
        pthread_mutex_unlock(&w->lock);

        rb_az_err err;
        rb_az_err_clear(&err);
        long next = 1000;
        int64_t left = e->deadline - rb_now_ms();
        rb_az_call_opts o = {.deadline_ms = left > 0 ? (long)left : 1, .cancel = &w->cancel};
        rb_status st = left > 0 ? rb_arm_op_poll(w->arm, e->op, &o, &next, &err)
                                : rb_az_fail(&err, RB_ETIMEDOUT,
                                             "long-running operation still running at its deadline");
        int done = st != RB_OK || rb_arm_op_done(e->op);
        if (!done && rb_now_ms() + next > e->deadline) {
            st = rb_az_fail(&err, RB_ETIMEDOUT,
                            "long-running operation still running; the next poll (in %ld ms) "
                            "would pass its deadline",
                            next);
            done = 1;
        }
        if (done) {
            cJSON *result = NULL;
            if (st == RB_OK) {
                rb_arm_op_wait(w->arm, e->op, NULL, &result, NULL); /* done: hands the result over */
            }
            finish(e, st, result, &err);
            pthread_mutex_lock(&w->lock);
            w->pending--;
            pthread_cond_broadcast(&w->cv);
            continue;
        }
        pthread_mutex_lock(&w->lock);
        e->due = rb_now_ms() + next;
        insert_sorted(w, e);
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

rb_status rb_arm_waiter_new(rb_arm_waiter **out, rb_arm *arm, int threads, rb_az_err *err)
{
    *out = NULL;
    rb_arm_waiter *w = calloc(1, sizeof *w);
    if (!w)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    w->arm = arm;
    w->nthreads = threads > 0 ? threads : 16;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->threads = calloc((size_t)w->nthreads, sizeof *w->threads);
    if (!w->threads) {
        rb_arm_waiter_free(w);
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    }
    int started = 0;
    for (; started < w->nthreads; started++)
        if (pthread_create(&w->threads[started], NULL, waiter_main, w) != 0)
            break;
    w->nthreads = started;
    if (started == 0) {
        rb_arm_waiter_free(w);
        return rb_az_fail(err, RB_ERROR, "cannot start the operation waiter");
    }
    *out = w;
    return RB_OK;
}

rb_status rb_arm_waiter_add(rb_arm_waiter *w, rb_arm_op *op, long deadline_ms,
                            rb_arm_op_done_fn done, void *user, rb_az_err *err)
{
    entry *e = calloc(1, sizeof *e);
    if (!e)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    int64_t now = rb_now_ms();
    e->op = op;
    e->done = done;
    e->user = user;
    e->deadline = now + (deadline_ms > 0 ? deadline_ms : 3600L * 1000);
    e->due = now + rb_arm_op_first_delay(op);
    pthread_mutex_lock(&w->lock);
    if (w->stop) {
        pthread_mutex_unlock(&w->lock);
        free(e);
        return rb_az_fail(err, RB_ECANCELED, "the operation waiter is stopping");
    }
    insert_sorted(w, e);
    w->pending++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->lock);
    return RB_OK;
}

int rb_arm_waiter_pending(rb_arm_waiter *w)
{
    pthread_mutex_lock(&w->lock);
    int n = w->pending;
    pthread_mutex_unlock(&w->lock);
    return n;
}

void rb_arm_waiter_free(rb_arm_waiter *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    atomic_store(&w->cancel, 1);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    free(w->threads);
    rb_az_err err;
    rb_az_err_clear(&err);
    rb_az_fail(&err, RB_ECANCELED, "the operation waiter stopped first");
    while (w->queue) {
        entry *e = w->queue;
        w->queue = e->next;
        finish(e, RB_ECANCELED, NULL, &err);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
