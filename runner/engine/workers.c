#define _GNU_SOURCE /* pthread_setname_np */
#include "engine/workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/util.h"

struct rb_workers {
    pthread_mutex_t lock;
    pthread_cond_t has_work;
    pthread_cond_t has_done;
    rb_work *queue_head, *queue_tail;
    rb_work *done_head, *done_tail;
    int stopping;
    int woken;
    int max;        /* at most this many threads */
    int n;          /* threads started so far */
    int idle;       /* threads waiting for work */
    int queued;     /* items in the queue, not yet taken */
    int starting;   /* threads created that have not yet taken the lock */
    int main_waiting;
    pthread_t *threads;
};

static void *worker_main(void *arg)
{
    rb_workers *wp = arg;
    pthread_setname_np(pthread_self(), "rb-worker"); /* for top -H and perf */
    pthread_mutex_lock(&wp->lock);
    wp->starting--;
    for (;;) {
        while (!wp->queue_head && !wp->stopping) {
            wp->idle++;
            pthread_cond_wait(&wp->has_work, &wp->lock);
            wp->idle--;
        }
        if (!wp->queue_head && wp->stopping)
            break;
        rb_work *w = wp->queue_head;
        wp->queued--;
        wp->queue_head = w->next;
        if (!wp->queue_head)
            wp->queue_tail = NULL;
        pthread_mutex_unlock(&wp->lock);
        w->fn(w);
        pthread_mutex_lock(&wp->lock);
        w->next = NULL;
        if (wp->done_tail)
            wp->done_tail->next = w;
        else
            wp->done_head = w;
        wp->done_tail = w;
        if (wp->main_waiting)
            pthread_cond_signal(&wp->has_done);
    }
    pthread_mutex_unlock(&wp->lock);
    return NULL;
}

rb_workers *rb_workers_new(int threads)
{
    rb_workers *wp = rb_xcalloc(1, sizeof *wp);
    /* Adaptive: spin briefly before sleeping; hand-offs are short and
     * frequent (10,000 quick actions make 60,000+ futex calls otherwise). */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&wp->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_cond_init(&wp->has_work, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wp->has_done, &ca);
    pthread_condattr_destroy(&ca);
    /* Threads start on demand (see submit): quick actions then need only a
     * couple, while slow ones still get up to `threads` at once. */
    wp->max = threads < 1 ? 1 : threads;
    wp->threads = rb_xcalloc((size_t)wp->max, sizeof *wp->threads);
    return wp;
}

void rb_workers_free(rb_workers *wp)
{
    if (!wp)
        return;
    pthread_mutex_lock(&wp->lock);
    wp->stopping = 1;
    pthread_cond_broadcast(&wp->has_work);
    pthread_mutex_unlock(&wp->lock);
    for (int i = 0; i < wp->n; i++)
        pthread_join(wp->threads[i], NULL);
    pthread_mutex_destroy(&wp->lock);
    pthread_cond_destroy(&wp->has_work);
    pthread_cond_destroy(&wp->has_done);
    free(wp->threads);
    free(wp);
}

/* Called with the lock held after queueing: wake idle threads, and when
 * more items wait than threads are idle (a signalled thread stays counted
 * idle until it runs), start more, up to the maximum. */
static void dispatch_locked(rb_workers *wp, int added)
{
    int wake = added < wp->idle ? added : wp->idle;
    if (wake == 1)
        pthread_cond_signal(&wp->has_work);
    else if (wake > 1)
        pthread_cond_broadcast(&wp->has_work);
    while (wp->queued > wp->idle + wp->starting && wp->n < wp->max) {
        if (pthread_create(&wp->threads[wp->n], NULL, worker_main, wp) != 0)
            rb_die_oom();
        wp->n++;
        wp->starting++; /* will take an item as soon as it runs */
    }
}

void rb_workers_submit(rb_workers *wp, rb_work *w)
{
    rb_workers_submit_list(wp, w, 1);
}

void rb_workers_submit_list(rb_workers *wp, rb_work *first, int count)
{
    if (!first || count <= 0)
        return;
    pthread_mutex_lock(&wp->lock);
    rb_work *w = first;
    for (int i = 0; i < count && w; i++) {
        rb_work *next = w->next;
        w->next = NULL;
        if (wp->queue_tail)
            wp->queue_tail->next = w;
        else
            wp->queue_head = w;
        wp->queue_tail = w;
        wp->queued++;
        w = next;
    }
    dispatch_locked(wp, count);
    pthread_mutex_unlock(&wp->lock);
}

void rb_workers_wake(rb_workers *wp)
{
    pthread_mutex_lock(&wp->lock);
    wp->woken = 1;
    pthread_cond_signal(&wp->has_done);
    pthread_mutex_unlock(&wp->lock);
}

rb_work *rb_workers_wait(rb_workers *wp, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&wp->lock);
    wp->main_waiting = 1;
    while (!wp->done_head && !wp->woken && timeout_ms > 0) {
        if (pthread_cond_timedwait(&wp->has_done, &wp->lock, &until) == ETIMEDOUT)
            break;
    }
    wp->main_waiting = 0;
    wp->woken = 0;
    rb_work *list = wp->done_head;
    wp->done_head = wp->done_tail = NULL;
    pthread_mutex_unlock(&wp->lock);
    return list;
}
