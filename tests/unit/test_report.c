/* Reports, plan output, events and the plain progress display, checked
 * against a run built by hand: JSON parsed back with cJSON, JUnit checked
 * for escaping, counts and (with xmllint, when installed) well-formedness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "core/values.h"
#include "engine/run.h"
#include "report/report.h"
#include "report/textsafe.h"
#include "ui/progress.h"

/* The failure message: every XML special, a control character (0x01),
 * a tab and a byte that is not UTF-8. */
#define NASTY_ERROR "bad <&\"'> \x01 tab\there \xff end"

static const char *const verify_needs[] = {"backup", "restore"};
static const char *const restore_needs[] = {"backup"};
static const char *const cleanup_needs[] = {"verify"};
static size_t verify_deps[] = {0, 1};
static size_t restore_deps[] = {0};
static size_t cleanup_deps[] = {2};

typedef struct fixture {
    rb_run run;
    rb_step_result steps[4];
    size_t critical[3];
} fixture;

/* backup (read, ok) -> restore (write, ok, 2 attempts, nested outputs)
 *   -> verify (read, failed, NASTY_ERROR) -> cleanup (destructive, skipped) */
static fixture *make_run(void)
{
    fixture *f = rb_xcalloc(1, sizeof *f);
    rb_run *r = &f->run;
    snprintf(r->run_id, sizeof r->run_id, "20261125T112604-ab12");
    r->playbook_name = "restore-kv";
    r->playbook_path = "playbooks/restore-kv.lua";
    r->mode = "drill";
    r->params = rbv_map();
    rbv_map_set(r->params, "vault", rbv_string("kv-prod"));
    r->parallel = 4;
    r->started_wall_ms = 1795000000123LL;
    r->wall_s = 7.25;
    r->status = RB_RUN_FAILED;
    r->n_layers = 4;
    r->steps = f->steps;
    r->n_steps = 4;

    rb_step_result *s = f->steps;
    s[0] = (rb_step_result){.name = "backup", .description = "take a backup",
                            .effect = RB_EFFECT_READ, .state = RB_STEP_SUCCEEDED,
                            .attempts = 1, .start_s = 0.0, .duration_s = 1.5,
                            .estimate_s = 1.4, .layer = 0, .n_calls = 1};
    s[0].outputs = rbv_map();
    rbv_map_set(s[0].outputs, "id", rbv_string("bk-1"));

    s[1] = (rb_step_result){.name = "restore", .effect = RB_EFFECT_WRITE,
                            .needs = restore_needs, .n_needs = 1, .deps = restore_deps,
                            .state = RB_STEP_SUCCEEDED, .attempts = 2, .start_s = 1.5,
                            .duration_s = 3.25, .estimate_s = -1, .layer = 1,
                            .n_calls = 3, .n_replayed = 1};
    s[1].error = rb_xstrdup("throttled");
    s[1].skip_reason = rb_xstrdup("retrying in 0.4s"); /* left by the scheduler */
    s[1].outputs = rbv_map();
    rb_value *inner = rbv_map();
    rbv_map_set(inner, "region", rbv_string("westeurope"));
    rb_value *ids = rbv_list();
    rbv_list_append(ids, rbv_int(7));
    rbv_list_append(ids, rbv_bool(1));
    rbv_map_set(inner, "ids", ids);
    rbv_map_set(s[1].outputs, "target", inner);

    s[2] = (rb_step_result){.name = "verify", .effect = RB_EFFECT_READ,
                            .needs = verify_needs, .n_needs = 2, .deps = verify_deps,
                            .state = RB_STEP_FAILED, .attempts = 1, .start_s = 4.75,
                            .duration_s = 2.5, .estimate_s = 2.0, .layer = 2, .n_calls = 1};
    s[2].error = rb_xstrdup(NASTY_ERROR);

    s[3] = (rb_step_result){.name = "cleanup-a-step-with-a-rather-long-name",
                            .effect = RB_EFFECT_DESTRUCTIVE, .needs = cleanup_needs,
                            .n_needs = 1, .deps = cleanup_deps, .state = RB_STEP_SKIPPED,
                            .estimate_s = -1, .layer = 3};
    s[3].skip_reason = rb_xstrdup("dependency verify failed");

    f->critical[0] = 0;
    f->critical[1] = 1;
    f->critical[2] = 2;
    r->critical_path = f->critical;
    r->n_critical = 3;
    r->critical_s = 7.25;
    r->notes = rbv_list();
    rbv_list_append(r->notes, rbv_string("target mapped to rg-drill"));
    return f;
}

static void free_run(fixture *f)
{
    for (size_t i = 0; i < f->run.n_steps; i++) {
        free(f->steps[i].error);
        free(f->steps[i].skip_reason);
        rbv_free(f->steps[i].outputs);
    }
    rbv_free(f->run.params);
    rbv_free(f->run.notes);
    free(f);
}

static int setup(void **state)
{
    *state = make_run();
    return 0;
}

static int teardown(void **state)
{
    free_run(*state);
    return 0;
}

/* Runs fn into a tmpfile and returns what it wrote (caller frees). */
static char *capture(void (*fn)(const rb_run *, FILE *, void *), const rb_run *run, void *arg)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fn(run, f, arg);
    fflush(f);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *buf = rb_xmalloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void do_json(const rb_run *run, FILE *f, void *arg)
{
    assert_int_equal(rb_report_write_json(run, f), 0);
}
static void do_junit(const rb_run *run, FILE *f, void *arg)
{
    assert_int_equal(rb_report_write_junit(run, f), 0);
}
static void do_text(const rb_run *run, FILE *f, void *arg) { rb_report_write_text(run, f); }
static void do_plan(const rb_run *run, FILE *f, void *arg)
{
    rb_report_write_plan_history(run, f, *(int *)arg, 3);
}

static void test_state_names(void **state)
{
    assert_string_equal(rb_step_state_name(RB_STEP_PENDING), "pending");
    assert_string_equal(rb_step_state_name(RB_STEP_RETRYING), "retrying");
    assert_string_equal(rb_step_state_name(RB_STEP_CANCELLED), "cancelled");
    assert_string_equal(rb_step_state_name((rb_step_state)99), "unknown");
    assert_string_equal(rb_run_status_name(RB_RUN_SUCCEEDED), "succeeded");
    assert_string_equal(rb_run_status_name(RB_RUN_INTERRUPTED), "interrupted");
}

static const cJSON *get(const cJSON *o, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j)
        fail_msg("missing field %s", key);
    return j;
}

static void test_json_report(void **state)
{
    fixture *f = *state;
    char *text = capture(do_json, &f->run, NULL);
    cJSON *r = cJSON_Parse(text);
    assert_non_null(r);
    assert_string_equal(get(r, "schema")->valuestring, "rebound.report/1");
    assert_string_equal(get(r, "run_id")->valuestring, "20261125T112604-ab12");
    assert_string_equal(get(get(r, "playbook"), "name")->valuestring, "restore-kv");
    assert_string_equal(get(get(r, "playbook"), "path")->valuestring, "playbooks/restore-kv.lua");
    assert_string_equal(get(r, "mode")->valuestring, "drill");
    assert_string_equal(get(r, "status")->valuestring, "failed");
    assert_string_equal(get(r, "started")->valuestring, "2026-11-18T11:06:40.123Z");
    assert_true(get(r, "wall_s")->valuedouble == 7.25);
    assert_int_equal(get(r, "parallel")->valueint, 4);
    assert_true(cJSON_IsFalse(get(r, "resumed")));
    assert_string_equal(get(get(r, "params"), "vault")->valuestring, "kv-prod");

    const cJSON *steps = get(r, "steps");
    assert_int_equal(cJSON_GetArraySize(steps), 4);
    const cJSON *b = cJSON_GetArrayItem(steps, 0);
    assert_string_equal(get(b, "name")->valuestring, "backup");
    assert_string_equal(get(b, "description")->valuestring, "take a backup");
    assert_string_equal(get(b, "effect")->valuestring, "read");
    assert_int_equal(cJSON_GetArraySize(get(b, "needs")), 0);
    assert_true(get(b, "estimate_s")->valuedouble == 1.4);
    assert_true(cJSON_IsNull(get(b, "error")));

    const cJSON *rs = cJSON_GetArrayItem(steps, 1);
    assert_string_equal(get(rs, "effect")->valuestring, "write");
    assert_string_equal(get(rs, "state")->valuestring, "succeeded");
    assert_int_equal(get(rs, "attempts")->valueint, 2);
    assert_true(get(rs, "start_s")->valuedouble == 1.5);
    assert_true(get(rs, "duration_s")->valuedouble == 3.25);
    assert_true(cJSON_IsNull(get(rs, "estimate_s")));
    assert_int_equal(get(rs, "layer")->valueint, 1);
    assert_int_equal(get(rs, "calls")->valueint, 3);
    assert_int_equal(get(rs, "replayed")->valueint, 1);
    assert_true(cJSON_IsNull(get(rs, "skip_reason")));
    assert_string_equal(cJSON_GetArrayItem(get(rs, "needs"), 0)->valuestring, "backup");
    const cJSON *target = get(get(rs, "outputs"), "target");
    assert_string_equal(get(target, "region")->valuestring, "westeurope");
    assert_int_equal(cJSON_GetArrayItem(get(target, "ids"), 0)->valueint, 7);
    assert_true(cJSON_IsTrue(cJSON_GetArrayItem(get(target, "ids"), 1)));

    const cJSON *v = cJSON_GetArrayItem(steps, 2);
    assert_string_equal(get(v, "state")->valuestring, "failed");
    /* Invalid UTF-8 became U+FFFD; the rest survives as it was. */
    assert_string_equal(get(v, "error")->valuestring,
                        "bad <&\"'> \x01 tab\there \xEF\xBF\xBD end");
    assert_int_equal(cJSON_GetArraySize(get(v, "needs")), 2);

    const cJSON *c = cJSON_GetArrayItem(steps, 3);
    assert_string_equal(get(c, "effect")->valuestring, "destructive");
    assert_string_equal(get(c, "state")->valuestring, "skipped");
    assert_string_equal(get(c, "skip_reason")->valuestring, "dependency verify failed");
    assert_true(cJSON_IsNull(get(c, "start_s")));
    assert_true(cJSON_IsNull(get(c, "duration_s")));
    assert_true(cJSON_IsNull(get(c, "outputs")));

    const cJSON *cp = get(r, "critical_path");
    assert_int_equal(cJSON_GetArraySize(get(cp, "steps")), 3);
    assert_string_equal(cJSON_GetArrayItem(get(cp, "steps"), 2)->valuestring, "verify");
    assert_true(get(cp, "seconds")->valuedouble == 7.25);
    assert_string_equal(cJSON_GetArrayItem(get(r, "notes"), 0)->valuestring,
                        "target mapped to rg-drill");
    cJSON_Delete(r);
    free(text);
}

/* Checks XML well-formedness with xmllint when it is installed. */
static void xmllint_ok(const char *xml)
{
    if (access("/usr/bin/xmllint", X_OK) != 0) {
        print_message("xmllint not installed; well-formedness not checked\n");
        return;
    }
    char path[] = "/tmp/test_report_junit_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
    close(fd);
    char *cmd = rb_xasprintf("/usr/bin/xmllint --noout '%s'", path);
    int rc = system(cmd);
    free(cmd);
    unlink(path);
    assert_int_equal(rc, 0);
}

static void test_junit(void **state)
{
    fixture *f = *state;
    char *xml = capture(do_junit, &f->run, NULL);
    assert_non_null(strstr(xml, "<testsuite name=\"restore-kv\" tests=\"4\" failures=\"1\" "
                                "errors=\"0\" skipped=\"1\" time=\"7.250\""));
    assert_non_null(strstr(xml, "<testcase classname=\"rebound.restore-kv\" name=\"backup\" "
                                "time=\"1.500\"/>"));
    assert_non_null(strstr(xml, "bad &lt;&amp;&quot;&apos;&gt; \xEF\xBF\xBD tab&#9;here "
                                "\xEF\xBF\xBD end"));
    assert_non_null(strstr(xml, "<failure message=\"bad &lt;&amp;"));
    assert_non_null(strstr(xml, "<skipped message=\"skipped: dependency verify failed\"/>"));
    /* No raw control byte or invalid UTF-8 made it through. */
    assert_null(strchr(xml, '\x01'));
    assert_null(strchr(xml, '\t'));
    assert_null(strchr(xml, '\xff'));
    size_t n = 0;
    for (const char *p = xml; (p = strstr(p, "<testcase ")); p++)
        n++;
    assert_int_equal(n, 4);
    xmllint_ok(xml);
    free(xml);
}

static void test_text_summary(void **state)
{
    fixture *f = *state;
    char *t = capture(do_text, &f->run, NULL);
    for (size_t i = 0; i < f->run.n_steps; i++)
        assert_non_null(strstr(t, f->steps[i].name));
    assert_non_null(strstr(t, "Critical path: backup -> restore -> verify (7.2s)"));
    assert_non_null(strstr(t, "Wall time: 7.2s"));
    assert_non_null(strstr(t, "\nNotes:\n  - target mapped to rg-drill\n"));
    assert_non_null(strstr(t, "Failures:\n  verify: bad <&\"'> ? tab here \xEF\xBF\xBD end"));
    /* Columns line up past the longest name: the STATE column of every
     * row starts where the header's does. */
    const char *hdr = strstr(t, "STEP");
    assert_non_null(hdr);
    size_t col = (size_t)(strstr(hdr, "STATE") - hdr);
    assert_true(col > strlen("cleanup-a-step-with-a-rather-long-name"));
    const char *row = strstr(t, "\nverify ");
    assert_non_null(row);
    assert_memory_equal(row + 1 + col, "failed", 6);
    row = strstr(t, "\ncleanup-a-step");
    assert_memory_equal(row + 1 + col, "skipped", 7);
    /* The status line comes last. */
    const char *last = strstr(t, "Status: failed (4 steps, 2 succeeded, 1 failed, 1 skipped)\n");
    assert_non_null(last);
    assert_int_equal(strchr(last, '\n')[1], '\0');
    free(t);
}

static void test_plan_text(void **state)
{
    fixture *f = *state;
    int json = 0;
    char *t = capture(do_plan, &f->run, &json);
    assert_non_null(strstr(t, "Plan for restore-kv (4 steps, 4 layers)"));
    const char *l1 = strstr(t, "Layer 1:\n  backup ");
    const char *l2 = strstr(t, "Layer 2:\n  restore ");
    const char *l3 = strstr(t, "Layer 3:\n  verify ");
    const char *l4 = strstr(t, "Layer 4:\n  cleanup-a-step");
    assert_non_null(l1);
    assert_non_null(l2);
    assert_non_null(l3);
    assert_non_null(l4);
    assert_true(l1 < l2 && l2 < l3 && l3 < l4);
    assert_non_null(strstr(t, "[read]"));
    assert_non_null(strstr(t, "est 1.4s"));
    const char *restore_line = strstr(t, "  restore ");
    const char *eol = strchr(restore_line, '\n');
    const char *pred = strstr(restore_line, "(predicted)");
    assert_true(pred && pred < eol);
    assert_non_null(strstr(restore_line, "no history"));
    const char *backup_line = strstr(t, "  backup ");
    pred = strstr(backup_line, "(predicted)");
    assert_true(!pred || pred > strchr(backup_line, '\n'));
    assert_non_null(strstr(t, "Critical path: backup -> restore -> verify (est 7.2s)"));
    assert_non_null(strstr(t, "Estimated duration: 7.2s (from 3 earlier runs; "
                              "2 steps without history)"));
    free(t);

    /* With no history at all, say how to get some. */
    for (size_t i = 0; i < f->run.n_steps; i++)
        f->steps[i].estimate_s = -1;
    t = capture(do_plan, &f->run, &json);
    assert_non_null(strstr(t, "no recorded durations yet; run or drill once to get estimates"));
    free(t);
}

static void test_plan_json(void **state)
{
    fixture *f = *state;
    int json = 1;
    char *t = capture(do_plan, &f->run, &json);
    cJSON *r = cJSON_Parse(t);
    assert_non_null(r);
    assert_string_equal(get(r, "schema")->valuestring, "rebound.plan/1");
    assert_string_equal(get(get(r, "playbook"), "name")->valuestring, "restore-kv");
    const cJSON *layers = get(r, "layers");
    assert_int_equal(cJSON_GetArraySize(layers), 4);
    const char *expect[] = {"backup", "restore", "verify",
                            "cleanup-a-step-with-a-rather-long-name"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(layers, i), 0)->valuestring,
                            expect[i]);
    const cJSON *rs = cJSON_GetArrayItem(get(r, "steps"), 1);
    assert_string_equal(get(rs, "name")->valuestring, "restore");
    assert_string_equal(get(rs, "effect")->valuestring, "write");
    assert_int_equal(get(rs, "layer")->valueint, 1);
    assert_true(cJSON_IsTrue(get(rs, "predicted")));
    assert_string_equal(get(get(get(rs, "outputs"), "target"), "region")->valuestring,
                        "westeurope");
    assert_true(get(r, "estimated_s")->valuedouble == 7.25);
    assert_true(get(get(r, "critical_path"), "seconds")->valuedouble == 7.25);
    assert_int_equal(get(r, "history_runs")->valueint, 3);
    cJSON_Delete(r);
    free(t);
}

static void test_write_all(void **state)
{
    fixture *f = *state;
    char dir[] = "/tmp/test_report_dir_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *sub = rb_xasprintf("%s/run", dir);
    char err[256] = "";
    assert_int_equal(rb_report_write_all(&f->run, sub, err, sizeof err), 0);
    const char *names[] = {"report.json", "junit.xml", "summary.txt"};
    for (size_t i = 0; i < 3; i++) {
        char *p = rb_xasprintf("%s/%s", sub, names[i]);
        struct stat sb;
        assert_int_equal(stat(p, &sb), 0);
        assert_true(sb.st_size > 0);
        unlink(p);
        free(p);
    }
    rmdir(sub);
    rmdir(dir);
    /* A directory that cannot be created is an error with a message. */
    assert_int_equal(rb_report_write_all(&f->run, "/proc/no/such/dir", err, sizeof err), -1);
    assert_true(err[0] != '\0');
    free(sub);
}

static char *read_all(FILE *fp)
{
    fflush(fp);
    long n = ftell(fp);
    rewind(fp);
    char *buf = rb_xmalloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    return buf;
}

static void test_progress_plain(void **state)
{
    fixture *f = *state;
    rb_run *r = &f->run;
    FILE *fp = tmpfile();
    rb_progress *p = rb_progress_new(fp, 0, 0);
    rb_step_state final[4];
    for (size_t i = 0; i < 4; i++) {
        final[i] = f->steps[i].state;
        f->steps[i].state = RB_STEP_PENDING;
    }
    f->steps[0].state = RB_STEP_RUNNING;
    f->steps[0].attempts = 1;
    rb_progress_step(p, r, 0);
    rb_progress_tick(p, r);
    f->steps[0].state = final[0];
    rb_progress_step(p, r, 0);
    f->steps[1].state = RB_STEP_RETRYING;
    f->steps[1].attempts = 1;
    free(f->steps[1].skip_reason);
    f->steps[1].skip_reason = rb_xstrdup("retrying in 2.0s"); /* as the scheduler does */
    rb_progress_step(p, r, 1);
    f->steps[1].state = final[1];
    f->steps[1].attempts = 2;
    rb_progress_step(p, r, 1);
    f->steps[2].state = final[2];
    rb_progress_step(p, r, 2);
    f->steps[3].state = final[3];
    rb_progress_step(p, r, 3);
    rb_progress_finish(p, r);
    rb_progress_free(p);

    char *out = read_all(fp);
    fclose(fp);
    /* Plain lines only: no carriage returns or escape sequences. */
    assert_null(strchr(out, '\r'));
    assert_null(strchr(out, '\033'));
    const char *want[] = {
        " step backup started (attempt 1)\n",
        " step backup succeeded in 1.5s\n",
        " step restore retrying in 2.0s (attempt 1 failed: throttled)\n",
        " step restore succeeded in 3.2s\n",
        " step verify failed: bad <&\"'> ? tab here \xEF\xBF\xBD end\n",
        " step cleanup-a-step-with-a-rather-long-name skipped: dependency verify failed\n",
    };
    const char *at = out;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *hit = strstr(at, want[i]);
        if (!hit)
            fail_msg("missing %s in:\n%s", want[i], out);
        /* Each line starts with HH:MM:SS. */
        assert_true(hit - at >= 8 && hit[-3] == ':' && hit[-6] == ':');
        at = hit + strlen(want[i]);
    }
    assert_string_equal(at, "");
    free(out);

    /* quiet: only the failure. */
    fp = tmpfile();
    p = rb_progress_new(fp, 1, 0);
    for (size_t i = 0; i < 4; i++)
        rb_progress_step(p, r, i);
    rb_progress_finish(p, r);
    rb_progress_free(p);
    out = read_all(fp);
    fclose(fp);
    assert_non_null(strstr(out, " step verify failed: "));
    assert_null(strstr(out, "backup"));
    assert_null(strstr(out, "skipped"));
    free(out);
}

static void test_textsafe(void **state)
{
    /* Overlong, surrogate, above U+10FFFF and truncated sequences. */
    char *s = rb_utf8_clean("a\xC0\xAF" "b\xED\xA0\x80" "c\xF4\x90\x80\x80" "d\xE2\x82");
    assert_string_equal(s, "a\xEF\xBF\xBD\xEF\xBF\xBD"
                           "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                           "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                           "d\xEF\xBF\xBD\xEF\xBF\xBD");
    free(s);
    s = rb_utf8_clean("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80");
    assert_string_equal(s, "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80");
    free(s);
    /* ESC, a C1 CSI and a newline cannot reach the terminal. */
    s = rb_term_clean("x\033[2Jy\xC2\x9Bz\nw");
    assert_string_equal(s, "x?[2Jy?z w");
    free(s);
    rb_buf b = {0};
    rb_xml_escape(&b, "\xEF\xBF\xBE<\r");
    assert_string_equal(b.p, "\xEF\xBF\xBD&lt;&#13;");
    rb_buf_free(&b);
    assert_int_equal(rb_term_width("h\xC3\xA9llo"), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_textsafe),
        cmocka_unit_test_setup_teardown(test_json_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_junit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_plain, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
