/* junit.xml: each step a test case, so CI systems show a drill as a test
 * run. Layout follows the common JUnit XML dialect (Ant/Jenkins/GitLab):
 * <testsuites><testsuite><testcase/>...</testsuite></testsuites>.
 * Every string from a playbook or a remote service goes through
 * rb_xml_escape, which also drops what XML 1.0 cannot carry. */
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "report/report_internal.h"
#include "report/textsafe.h"

static void add_attr(rb_buf *b, const char *name, const char *value)
{
    rb_buf_printf(b, " %s=\"", name);
    rb_xml_escape(b, value);
    rb_buf_puts(b, "\"");
}

/* Why a step that neither succeeded nor failed did not run. */
static char *not_run_message(const rb_step_result *st)
{
    if (st->skip_reason)
        return rb_xasprintf("%s: %s", rb_step_state_name(st->state), st->skip_reason);
    if (st->state == RB_STEP_PENDING)
        return rb_xstrdup("not run");
    if (st->state == RB_STEP_RUNNING || st->state == RB_STEP_RETRYING)
        return rb_xstrdup("did not finish");
    return rb_xstrdup(rb_step_state_name(st->state));
}

static void add_testcase(rb_buf *b, const rb_run *run, const rb_step_result *st)
{
    char *classname = rb_xasprintf("rebound.%s", run->playbook_name ? run->playbook_name : "");
    rb_buf_puts(b, "    <testcase");
    add_attr(b, "classname", classname);
    add_attr(b, "name", st->name);
    rb_buf_printf(b, " time=\"%.3f\"", rb_step_started(st) ? rb_round_ms(st->duration_s) : 0.0);
    free(classname);

    if (st->state == RB_STEP_SUCCEEDED && !st->resumed) {
        rb_buf_puts(b, "/>\n");
        return;
    }
    rb_buf_puts(b, ">\n");
    if (st->state == RB_STEP_SUCCEEDED) {
        rb_buf_puts(b, "      <system-out>completed by an earlier process of this run"
                       " (resumed)</system-out>\n");
    } else if (st->state == RB_STEP_FAILED) {
        const char *err = st->error ? st->error : "failed";
        rb_buf_puts(b, "      <failure");
        add_attr(b, "message", err);
        rb_buf_printf(b, " type=\"failed\">attempts: %d\n", st->attempts);
        rb_xml_escape(b, err);
        rb_buf_puts(b, "</failure>\n");
    } else {
        char *msg = not_run_message(st);
        rb_buf_puts(b, "      <skipped");
        add_attr(b, "message", msg);
        rb_buf_puts(b, "/>\n");
        free(msg);
    }
    rb_buf_puts(b, "    </testcase>\n");
}

int rb_report_write_junit(const rb_run *run, FILE *out)
{
    size_t failures = 0, skipped = 0;
    for (size_t i = 0; i < run->n_steps; i++) {
        rb_step_state s = run->steps[i].state;
        if (s == RB_STEP_FAILED)
            failures++;
        else if (s != RB_STEP_SUCCEEDED)
            skipped++;
    }
    char started[32];
    rb_iso8601(run->started_wall_ms, started);
    started[19] = '\0'; /* JUnit's timestamp has no fraction or zone */

    rb_buf b = {0};
    rb_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
    add_attr(&b, "name", "rebound");
    rb_buf_printf(&b, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
                  run->n_steps, failures, skipped, rb_round_ms(run->wall_s));
    rb_buf_puts(&b, "  <testsuite");
    add_attr(&b, "name", run->playbook_name);
    rb_buf_printf(&b, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\"",
                  run->n_steps, failures, skipped, rb_round_ms(run->wall_s));
    add_attr(&b, "timestamp", started);
    rb_buf_puts(&b, ">\n    <properties>\n");
    const char *props[][2] = {
        {"run_id", run->run_id},
        {"mode", run->mode},
        {"status", rb_run_status_name(run->status)},
        {"playbook_path", run->playbook_path},
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
        rb_buf_puts(&b, "      <property");
        add_attr(&b, "name", props[i][0]);
        add_attr(&b, "value", props[i][1]);
        rb_buf_puts(&b, "/>\n");
    }
    rb_buf_puts(&b, "    </properties>\n");
    for (size_t i = 0; i < run->n_steps; i++)
        add_testcase(&b, run, &run->steps[i]);
    rb_buf_puts(&b, "  </testsuite>\n</testsuites>\n");

    int rc = fwrite(b.p, 1, b.len, out) == b.len ? 0 : -1;
    if (fflush(out) != 0 || ferror(out))
        rc = -1;
    rb_buf_free(&b);
    return rc;
}
