/* The text summary (summary.txt, and what `rebound run` prints at the
 * end): one aligned row per step, then failures and skip reasons, the
 * measured critical path, the wall time and a status line. */
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "report/report_internal.h"
#include "report/textsafe.h"

typedef struct row {
    char *name;     /* rb_term_clean'd */
    char *state;
    char attempts[16];
    char duration[32];
} row;

static void pad(FILE *out, size_t n)
{
    while (n--)
        fputc(' ', out);
}

/* Left-aligned cell of width w followed by a gap. */
static void cell_left(FILE *out, const char *s, size_t w)
{
    fputs(s, out);
    size_t sw = rb_term_width(s);
    pad(out, (w > sw ? w - sw : 0) + 2);
}

static void cell_right(FILE *out, const char *s, size_t w, int last)
{
    size_t sw = rb_term_width(s);
    pad(out, w > sw ? w - sw : 0);
    fputs(s, out);
    if (!last)
        pad(out, 2);
}

static void print_reasons(FILE *out, const rb_run *run, const char *title, int failed)
{
    int any = 0;
    for (size_t i = 0; i < run->n_steps; i++) {
        const rb_step_result *st = &run->steps[i];
        const char *why;
        if (failed)
            why = st->state == RB_STEP_FAILED ? (st->error ? st->error : "failed") : NULL;
        else
            why = st->state != RB_STEP_FAILED && st->state != RB_STEP_SUCCEEDED ? st->skip_reason
                                                                                : NULL;
        if (!why)
            continue;
        if (!any)
            fprintf(out, "\n%s:\n", title);
        any = 1;
        char *name = rb_term_clean(st->name);
        char *msg = rb_term_clean(why);
        fprintf(out, "  %s: %s\n", name, msg);
        free(name);
        free(msg);
    }
}

void rb_report_write_text(const rb_run *run, FILE *out)
{
    row *rows = rb_xcalloc(run->n_steps ? run->n_steps : 1, sizeof *rows);
    size_t w_name = strlen("STEP"), w_state = strlen("STATE");
    size_t w_att = strlen("ATTEMPTS"), w_dur = strlen("DURATION");
    size_t count[RB_STEP_CANCELLED + 1] = {0};

    for (size_t i = 0; i < run->n_steps; i++) {
        const rb_step_result *st = &run->steps[i];
        row *r = &rows[i];
        r->name = rb_term_clean(st->name);
        r->state = st->resumed && st->state == RB_STEP_SUCCEEDED
                       ? rb_xstrdup("succeeded (resumed)")
                       : rb_xstrdup(rb_step_state_name(st->state));
        snprintf(r->attempts, sizeof r->attempts, "%d", st->attempts);
        if (rb_step_started(st))
            rb_fmt_duration(st->duration_s, r->duration);
        else
            snprintf(r->duration, sizeof r->duration, "-");
        if (rb_term_width(r->name) > w_name)
            w_name = rb_term_width(r->name);
        if (strlen(r->state) > w_state)
            w_state = strlen(r->state);
        if (strlen(r->attempts) > w_att)
            w_att = strlen(r->attempts);
        if (strlen(r->duration) > w_dur)
            w_dur = strlen(r->duration);
        if ((unsigned)st->state <= RB_STEP_CANCELLED)
            count[st->state]++;
    }

    char *pb = rb_term_clean(run->playbook_name);
    fprintf(out, "rebound %s of %s (run %s)\n\n", run->mode ? run->mode : "run", pb, run->run_id);
    free(pb);
    cell_left(out, "STEP", w_name);
    cell_left(out, "STATE", w_state);
    cell_right(out, "ATTEMPTS", w_att, 0);
    cell_right(out, "DURATION", w_dur, 1);
    fputc('\n', out);
    for (size_t i = 0; i < run->n_steps; i++) {
        cell_left(out, rows[i].name, w_name);
        cell_left(out, rows[i].state, w_state);
        cell_right(out, rows[i].attempts, w_att, 0);
        cell_right(out, rows[i].duration, w_dur, 1);
        fputc('\n', out);
        free(rows[i].name);
        free(rows[i].state);
    }
    free(rows);

    print_reasons(out, run, "Failures", 1);
    print_reasons(out, run, "Not run", 0);
    rb_text_notes(run, out);

    char d[32];
    fputs("\nCritical path: ", out);
    if (run->n_critical == 0)
        fputs("(none)", out);
    for (size_t i = 0; i < run->n_critical; i++) {
        size_t k = run->critical_path[i];
        char *name = rb_term_clean(k < run->n_steps ? run->steps[k].name : "?");
        fprintf(out, "%s%s", i ? " -> " : "", name);
        free(name);
    }
    rb_fmt_duration(run->critical_s, d);
    fprintf(out, " (%s)\n", d);
    rb_fmt_duration(run->wall_s, d);
    fprintf(out, "Wall time: %s\n", d);

    fprintf(out, "Status: %s (%zu step%s", rb_run_status_name(run->status), run->n_steps,
            run->n_steps == 1 ? "" : "s");
    static const rb_step_state order[] = {
        RB_STEP_SUCCEEDED, RB_STEP_FAILED, RB_STEP_SKIPPED, RB_STEP_BLOCKED,
        RB_STEP_CANCELLED, RB_STEP_RUNNING, RB_STEP_RETRYING, RB_STEP_PENDING,
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (count[order[i]])
            fprintf(out, ", %zu %s", count[order[i]], rb_step_state_name(order[i]));
    fputs(")\n", out);
    fflush(out);
}
