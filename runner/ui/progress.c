/* Progress display; see progress.h.
 *
 * On a terminal one status line is redrawn in place ("\r", the line, then
 * clear-to-end-of-line), never wider than the terminal so it cannot wrap
 * and leave debris; failures are printed as whole lines above it. Anywhere
 * else (a pipe, a CI log, TERM=dumb, force_plain) every state change is one
 * plain, timestamped line that greps well. NO_COLOR (https://no-color.org)
 * turns colours off. Text from playbooks and services goes through
 * rb_term_clean so it cannot move the cursor or change the terminal. */
#include "ui/progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "report/report_internal.h"
#include "report/textsafe.h"

#define MIN_REDRAW_S 0.09   /* about ten redraws a second at most */
#define MAX_RUNNING_SHOWN 3

#define RED "\033[31m"
#define YELLOW "\033[33m"
#define RESET "\033[0m"

struct rb_progress {
    FILE *out;
    int quiet;
    int redraw;          /* a status line redrawn in place */
    int color;
    double t0;           /* monotonic, when the display was created */
    double last_draw;    /* monotonic, of the last status line drawn */
    int status_shown;    /* a status line is on screen now */
    char *last_status;   /* what it says, to skip identical redraws */
    size_t n_steps;      /* size of the arrays below */
    double *started_at;  /* monotonic start of the current attempt, or -1 */
    size_t *order;       /* step indices by layer, for the ETA */
    double *finish;      /* ETA scratch */
};

static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

rb_progress *rb_progress_new(FILE *out, int quiet, int force_plain)
{
    rb_progress *p = rb_xcalloc(1, sizeof *p);
    p->out = out;
    p->quiet = quiet;
    int tty = isatty(fileno(out));
    const char *term = getenv("TERM");
    int dumb = term && strcmp(term, "dumb") == 0;
    p->redraw = tty && !dumb && !force_plain && !quiet;
    p->color = tty && !dumb && !env_set("NO_COLOR");
    p->t0 = rb_mono_s();
    p->last_draw = -1.0;
    return p;
}

void rb_progress_free(rb_progress *p)
{
    if (!p)
        return;
    free(p->last_status);
    free(p->started_at);
    free(p->order);
    free(p->finish);
    free(p);
}

/* Sizes the per-step arrays for this run (once; again if it changed). */
static void track(rb_progress *p, const rb_run *run)
{
    if (p->n_steps == run->n_steps && p->started_at)
        return;
    free(p->started_at);
    free(p->order);
    free(p->finish);
    size_t n = run->n_steps ? run->n_steps : 1;
    p->n_steps = run->n_steps;
    p->started_at = rb_xmalloc(n * sizeof *p->started_at);
    p->finish = rb_xmalloc(n * sizeof *p->finish);
    p->order = rb_xmalloc(n * sizeof *p->order);
    for (size_t i = 0; i < run->n_steps; i++)
        p->started_at[i] = -1.0;

    /* Counting sort by layer: a step's dependencies sit in lower layers,
     * so this order lets the ETA walk the graph in one pass. */
    size_t n_layers = 0;
    for (size_t i = 0; i < run->n_steps; i++) {
        size_t l = run->steps[i].layer > 0 ? (size_t)run->steps[i].layer : 0;
        if (l + 1 > n_layers)
            n_layers = l + 1;
    }
    size_t *starts = rb_xcalloc(n_layers + 1, sizeof *starts);
    for (size_t i = 0; i < run->n_steps; i++)
        starts[(run->steps[i].layer > 0 ? (size_t)run->steps[i].layer : 0) + 1]++;
    for (size_t l = 0; l < n_layers; l++)
        starts[l + 1] += starts[l];
    for (size_t i = 0; i < run->n_steps; i++)
        p->order[starts[run->steps[i].layer > 0 ? (size_t)run->steps[i].layer : 0]++] = i;
    free(starts);
}

static void fmt_clock(double s, char out[32])
{
    long t = s > 0 && isfinite(s) ? lround(s) : 0;
    if (t >= 3600)
        snprintf(out, 32, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, 32, "%02ld:%02ld", t / 60, t % 60);
}

/* Seconds left, or -1 when nothing tells. Each remaining step costs its
 * estimate from history, or else the average duration of the steps
 * finished so far (less what a running step has already spent); the run
 * needs at least the longest chain of remaining steps and at least the
 * remaining work spread over --parallel workers. */
static double eta_s(rb_progress *p, const rb_run *run, double now)
{
    double sum = 0;
    size_t n_done = 0, n_left = 0;
    for (size_t i = 0; i < run->n_steps; i++) {
        const rb_step_result *st = &run->steps[i];
        if (!rb_step_state_final(st->state))
            n_left++;
        else if ((st->state == RB_STEP_SUCCEEDED || st->state == RB_STEP_FAILED) &&
                 st->attempts > 0 && !st->resumed) {
            sum += st->duration_s;
            n_done++;
        }
    }
    if (n_left == 0)
        return -1;
    double avg = n_done ? sum / (double)n_done : -1;

    double longest = 0, work = 0;
    for (size_t k = 0; k < run->n_steps; k++) {
        size_t i = p->order[k];
        const rb_step_result *st = &run->steps[i];
        p->finish[i] = 0;
        if (rb_step_state_final(st->state))
            continue;
        double cost = st->estimate_s >= 0 ? st->estimate_s : avg;
        if (cost < 0)
            return -1;
        if (st->state == RB_STEP_RUNNING && p->started_at[i] >= 0)
            cost = fmax(cost - (now - p->started_at[i]), 0);
        double after = 0;
        for (size_t d = 0; st->deps && d < st->n_needs; d++) {
            size_t j = st->deps[d];
            if (j < run->n_steps && p->finish[j] > after)
                after = p->finish[j];
        }
        p->finish[i] = after + cost;
        longest = fmax(longest, p->finish[i]);
        work += cost;
    }
    double par = run->parallel > 0 ? run->parallel : 1;
    return fmax(longest, work / par);
}

static size_t term_cols(rb_progress *p)
{
    struct winsize ws;
    if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    long n = c ? strtol(c, NULL, 10) : 0;
    return n > 0 ? (size_t)n : 80;
}

/* Columns of ", +N more". */
static size_t more_width(size_t n)
{
    char tmp[48];
    return n ? (size_t)snprintf(tmp, sizeof tmp, ", +%zu more", n) : 0;
}

/* Appends the names of running steps to line in at most room columns:
 * up to MAX_RUNNING_SHOWN names, then ", +N more"; the first name is cut
 * with an ellipsis rather than left out. */
static void add_running(rb_buf *line, const rb_run *run, size_t n_running, size_t room)
{
    size_t shown = 0, used = 0;
    for (size_t i = 0; i < run->n_steps && shown < MAX_RUNNING_SHOWN; i++) {
        rb_step_state s = run->steps[i].state;
        if (s != RB_STEP_RUNNING && s != RB_STEP_RETRYING)
            continue;
        char *name = rb_term_clean(run->steps[i].name);
        size_t w = rb_term_width(name) + (shown ? 2 : 0);
        size_t reserve = more_width(n_running - shown - 1);
        int fits = used + w + reserve <= room;
        if (fits) {
            rb_buf_puts(line, shown ? ", " : "");
            rb_buf_puts(line, name);
        } else if (shown == 0) {
            size_t keep = room > reserve + 1 ? room - reserve - 1 : 1;
            rb_term_add_cut(line, name, keep);
            rb_buf_puts(line, "\xE2\x80\xA6"); /* U+2026 */
        }
        free(name);
        if (!fits && shown > 0)
            break;
        used += w;
        shown++;
        if (!fits)
            break;
    }
    if (shown < n_running)
        rb_buf_printf(line, ", +%zu more", n_running - shown);
}

/* "[done/total] running: a, b, +3 more · 00:12 elapsed · ETA 00:30",
 * at most cols - 1 columns: on a narrow terminal the ETA goes first,
 * then the elapsed time, then names are cut. Caller frees. */
static char *status_line(rb_progress *p, const rb_run *run, double now, size_t cols)
{
    size_t done = 0, n_running = 0;
    const char *first = NULL;
    for (size_t i = 0; i < run->n_steps; i++) {
        rb_step_state s = run->steps[i].state;
        if (rb_step_state_final(s)) {
            done++;
        } else if (s == RB_STEP_RUNNING || s == RB_STEP_RETRYING) {
            if (!first)
                first = run->steps[i].name;
            n_running++;
        }
    }
    char elapsed[32], eta[32];
    fmt_clock(now - p->t0, elapsed);
    double left = eta_s(p, run, now);
    char tails[3][96];
    snprintf(tails[0], sizeof tails[0], " · %s elapsed", elapsed);
    /* Under a second there is nothing useful to say, and "ETA 00:00" next
     * to steps that overran their estimate reads as a stuck clock. */
    if (left >= 1.0) {
        fmt_clock(left, eta);
        snprintf(tails[0], sizeof tails[0], " · %s elapsed · ETA %s", elapsed, eta);
    }
    snprintf(tails[1], sizeof tails[1], " · %s elapsed", elapsed);
    tails[2][0] = '\0';

    rb_buf line = {0};
    rb_buf_printf(&line, "[%zu/%zu]", done, run->n_steps);
    const char *label = " running: ";
    size_t budget = cols > 1 ? cols - 1 : 1;
    size_t head = rb_term_width(line.p);
    const char *tail = tails[2];
    for (int t = 0; t < 3; t++) {
        size_t need = head + rb_term_width(tails[t]);
        if (n_running) {
            size_t w_first = rb_term_width(first);
            need += rb_term_width(label) + (w_first < 8 ? w_first : 8) +
                    more_width(n_running - 1);
        }
        if (need <= budget) {
            tail = tails[t];
            break;
        }
    }
    if (n_running) {
        rb_buf_puts(&line, label);
        size_t used = rb_term_width(line.p) + rb_term_width(tail);
        add_running(&line, run, n_running, budget > used ? budget - used : 0);
    }
    rb_buf_puts(&line, tail);

    rb_buf cut = {0};
    rb_buf_add(&cut, "", 0);
    rb_term_add_cut(&cut, line.p, budget);
    rb_buf_free(&line);
    return cut.p;
}

static void clear_status(rb_progress *p)
{
    if (!p->status_shown)
        return;
    fputs("\r\033[K", p->out);
    p->status_shown = 0;
    free(p->last_status);
    p->last_status = NULL;
}

static void draw_status(rb_progress *p, const rb_run *run, int force)
{
    if (!p->redraw)
        return;
    double now = rb_mono_s();
    if (!force && p->last_draw >= 0 && now - p->last_draw < MIN_REDRAW_S)
        return;
    track(p, run);
    char *s = status_line(p, run, now, term_cols(p));
    p->last_draw = now;
    if (p->status_shown && p->last_status && strcmp(s, p->last_status) == 0) {
        free(s);
        return;
    }
    fprintf(p->out, "\r%s\033[K", s);
    fflush(p->out);
    free(p->last_status);
    p->last_status = s;
    p->status_shown = 1;
}

/* Prints one whole line: timestamped "HH:MM:SS step NAME TEXT" when
 * plain; on a terminal above the status line, which is then redrawn. */
static void print_line(rb_progress *p, const rb_run *run, const char *name, const char *text,
                       const char *color)
{
    char *clean_name = rb_term_clean(name);
    char *clean_text = rb_term_clean(text);
    int colored = p->color && color;
    if (p->redraw) {
        clear_status(p);
        fprintf(p->out, "%sstep %s %s%s\n", colored ? color : "", clean_name, clean_text,
                colored ? RESET : "");
        draw_status(p, run, 1);
    } else {
        time_t t = time(NULL);
        struct tm tm;
        char ts[16];
        localtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%H:%M:%S", &tm);
        fprintf(p->out, "%s%s step %s %s%s\n", colored ? color : "", ts, clean_name, clean_text,
                colored ? RESET : "");
    }
    fflush(p->out);
    free(clean_name);
    free(clean_text);
}

void rb_progress_step(rb_progress *p, const rb_run *run, size_t step)
{
    if (!p || step >= run->n_steps)
        return;
    track(p, run);
    const rb_step_result *st = &run->steps[step];
    if (st->state == RB_STEP_RUNNING)
        p->started_at[step] = rb_mono_s();

    /* What a plain log says, and whether a terminal shows it as a line too. */
    char *text = NULL;
    const char *color = NULL;
    int on_terminal = 0;
    char d[32];
    switch (st->state) {
    case RB_STEP_PENDING:
        break;
    case RB_STEP_RUNNING:
        text = rb_xasprintf("started (attempt %d)", st->attempts > 0 ? st->attempts : 1);
        break;
    case RB_STEP_RETRYING:
        /* The scheduler puts "retrying in 2.0s" in skip_reason. */
        text = rb_xasprintf("%s (attempt %d failed: %s)",
                            st->skip_reason ? st->skip_reason : "retrying", st->attempts,
                            st->error ? st->error : "unknown error");
        color = YELLOW;
        on_terminal = 1;
        break;
    case RB_STEP_SUCCEEDED:
        rb_fmt_duration(st->duration_s, d);
        text = st->resumed && st->attempts == 0 ? rb_xstrdup("already succeeded (resumed)")
                                                : rb_xasprintf("succeeded in %s", d);
        break;
    case RB_STEP_FAILED:
        text = st->attempts > 1
                   ? rb_xasprintf("failed: %s (after %d attempts)",
                                  st->error ? st->error : "unknown error", st->attempts)
                   : rb_xasprintf("failed: %s", st->error ? st->error : "unknown error");
        color = RED;
        on_terminal = 1;
        break;
    case RB_STEP_SKIPPED:
    case RB_STEP_BLOCKED:
    case RB_STEP_CANCELLED:
        text = st->skip_reason
                   ? rb_xasprintf("%s: %s", rb_step_state_name(st->state), st->skip_reason)
                   : rb_xstrdup(rb_step_state_name(st->state));
        if (st->state == RB_STEP_BLOCKED) {
            color = YELLOW;
            on_terminal = 1;
        }
        break;
    }
    if (text) {
        int show = p->quiet ? st->state == RB_STEP_FAILED : !p->redraw || on_terminal;
        if (show)
            print_line(p, run, st->name, text, color);
        free(text);
    }
    draw_status(p, run, 0);
}

void rb_progress_tick(rb_progress *p, const rb_run *run)
{
    if (p)
        draw_status(p, run, 0);
}

void rb_progress_finish(rb_progress *p, const rb_run *run)
{
    if (!p)
        return;
    clear_status(p);
    fflush(p->out);
}
