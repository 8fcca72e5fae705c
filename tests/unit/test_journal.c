/* The run journal (engine/journal.h): create-once, append/commit/close,
 * replay of every record type, the latest op record winning, a torn last
 * line, a corrupt middle line, concurrent durable appends, durable_pending,
 * and secrets masked in what reaches the disk. Each test works in its own
 * mkdtemp directory under the suite's one. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "engine/journal.h"

static char suite_dir[] = "/tmp/rb-journal-test-XXXXXX";

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int suite_setup(void **state)
{
    (void)state;
    return mkdtemp(suite_dir) ? 0 : -1;
}

static int suite_teardown(void **state)
{
    (void)state;
    return nftw(suite_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory for one test; caller frees. */
static char *fresh_dir(void)
{
    char *d = rb_xasprintf("%s/XXXXXX", suite_dir);
    assert_non_null(mkdtemp(d));
    return d;
}

static char *slurp(const char *dir)
{
    char *path = rb_xasprintf("%s/%s", dir, RB_JOURNAL_FILE);
    FILE *f = fopen(path, "rb");
    free(path);
    assert_non_null(f);
    rb_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rb_buf_add(&b, chunk, n);
    fclose(f);
    return b.p ? b.p : rb_xstrdup("");
}

static void write_file(const char *dir, const char *text)
{
    char *path = rb_xasprintf("%s/%s", dir, RB_JOURNAL_FILE);
    FILE *f = fopen(path, "wb");
    free(path);
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static cJSON *rec_of(const char *json)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    return j;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("\"%s\" does not contain \"%s\"", hay ? hay : "(null)", needle);
}

static const char *str_field(const cJSON *rec, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(rec, key));
}

static void test_create_is_exclusive(void **state)
{
    (void)state;
    char *dir = fresh_dir();
    char *err = NULL;
    rb_journal *j = rb_journal_create(dir, rec_of("{\"t\":\"run\",\"run_id\":\"first\"}"), &err);
    assert_non_null(j);
    assert_null(err);
    /* The run record is on disk from the start, before any commit. */
    char *text = slurp(dir);
    assert_string_equal(text, "{\"t\":\"run\",\"run_id\":\"first\"}\n");
    free(text);

    rb_journal *again =
        rb_journal_create(dir, rec_of("{\"t\":\"run\",\"run_id\":\"second\"}"), &err);
    assert_null(again);
    assert_non_null(err);
    assert_contains(err, RB_JOURNAL_FILE " already exists");
    free(err);
    err = NULL;
    assert_int_equal(rb_journal_close(j), 0);
    /* The first journal is untouched and no temporary file is left. */
    text = slurp(dir);
    assert_string_equal(text, "{\"t\":\"run\",\"run_id\":\"first\"}\n");
    free(text);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            entries++;
    closedir(d);
    assert_int_equal(entries, 1);

    /* open_append reopens it; in a directory without one it fails. */
    j = rb_journal_open_append(dir, &err);
    assert_non_null(j);
    assert_int_equal(rb_journal_close(j), 0);
    char *empty = fresh_dir();
    assert_null(rb_journal_open_append(empty, &err));
    assert_contains(err, "cannot open the journal");
    free(err);
    free(empty);
    free(dir);
}

static void test_append_commit_replay(void **state)
{
    (void)state;
    char *dir = fresh_dir();
    char *err = NULL;
    rb_journal *j =
        rb_journal_create(dir, rec_of("{\"t\":\"run\",\"run_id\":\"r1\",\"mode\":\"run\"}"), &err);
    assert_non_null(j);
    rb_journal_append(j, rec_of("{\"t\":\"step\",\"step\":\"a\",\"state\":\"running\"}"), 0);

    /* Nothing appended reaches the file before a commit. */
    char *text = slurp(dir);
    assert_null(strstr(text, "running"));
    free(text);
    assert_int_equal(rb_journal_commit(j, 0), 0);
    text = slurp(dir);
    assert_string_equal(text, "{\"t\":\"run\",\"run_id\":\"r1\",\"mode\":\"run\"}\n"
                             "{\"t\":\"step\",\"step\":\"a\",\"state\":\"running\"}\n");
    free(text);

    rb_journal_append(j, rec_of("{\"t\":\"step\",\"step\":\"a\",\"state\":\"succeeded\","
                                "\"outputs\":{\"x\":1}}"),
                      0);
    rb_journal_append(j, rec_of("{\"t\":\"step\",\"step\":\"b\",\"state\":\"failed\"}"), 0);
    rb_journal_append(j, rec_of("{\"t\":\"intent\",\"step\":\"c\",\"key\":\"k1\"}"), 1);
    rb_journal_append(j, rec_of("{\"t\":\"op\",\"key\":\"k1\",\"op\":\"op-1\"}"), 1);
    rb_journal_append(j, rec_of("{\"t\":\"op\",\"key\":\"k2\",\"op\":\"op-x\"}"), 1);
    rb_journal_append(j, rec_of("{\"t\":\"op\",\"key\":\"k1\",\"op\":\"op-2\"}"), 1);
    rb_journal_append(j, rec_of("{\"t\":\"call\",\"step\":\"c\",\"key\":\"k1\","
                                "\"outputs\":{\"id\":\"v1\"}}"),
                      0);
    rb_journal_append(j, rec_of("{\"t\":\"end\",\"status\":\"failed\",\"wall_s\":1.5}"), 0);
    assert_int_equal(rb_journal_close(j), 0); /* close commits */

    rb_replay r;
    assert_int_equal(rb_replay_read(dir, &r, &err), 0);
    assert_null(err);
    assert_int_equal(r.n_records, 10);
    assert_int_equal(r.torn_tail, 0);
    assert_non_null(r.run);
    assert_string_equal(str_field(r.run, "run_id"), "r1");
    assert_int_equal(r.ended, 1);
    assert_string_equal(r.end_status, "failed");

    size_t at;
    assert_int_equal(rb_strmap_get(&r.done_steps, "a", &at), 1);
    const cJSON *done = rb_replay_record(&r, at);
    assert_string_equal(str_field(done, "state"), "succeeded");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(done, "outputs"), "x")->valueint, 1);
    assert_int_equal(rb_strmap_get(&r.done_steps, "b", &at), 0); /* failed is not done */

    assert_int_equal(rb_strmap_get(&r.calls, "k1", &at), 1);
    assert_string_equal(str_field(rb_replay_record(&r, at), "t"), "call");

    /* The latest op record for a key wins. */
    assert_int_equal(rb_strmap_get(&r.ops, "k1", &at), 1);
    assert_string_equal(str_field(rb_replay_record(&r, at), "op"), "op-2");
    assert_int_equal(rb_strmap_get(&r.ops, "k2", &at), 1);
    assert_string_equal(str_field(rb_replay_record(&r, at), "op"), "op-x");
    rb_replay_free(&r);
    free(dir);
}

/* A "resume" record reopens an ended run; a later "end" closes it again. */
static void test_resume_and_end(void **state)
{
    (void)state;
    char *dir = fresh_dir();
    write_file(dir, "{\"t\":\"run\",\"run_id\":\"r\"}\n"
                    "{\"t\":\"end\",\"status\":\"interrupted\"}\n"
                    "{\"t\":\"resume\",\"started\":\"x\"}\n");
    rb_replay r;
    char *err = NULL;
    assert_int_equal(rb_replay_read(dir, &r, &err), 0);
    assert_int_equal(r.ended, 0);
    rb_replay_free(&r);
    free(dir);
}

static void test_torn_tail_ignored(void **state)
{
    (void)state;
    char *dir = fresh_dir();
    write_file(dir, "{\"t\":\"run\",\"run_id\":\"r\"}\n"
                    "{\"t\":\"step\",\"step\":\"a\",\"state\":\"succeeded\"}\n"
                    "{\"t\":\"step\",\"step\":\"b\",\"sta");
    rb_replay r;
    char *err = NULL;
    assert_int_equal(rb_replay_read(dir, &r, &err), 0);
    assert_null(err);
    assert_int_equal(r.torn_tail, 1);
    assert_int_equal(r.n_records, 2);
    size_t at;
    assert_int_equal(rb_strmap_get(&r.done_steps, "a", &at), 1);
    rb_replay_free(&r);

    /* A complete record without its newline is still a torn write. */
    write_file(dir, "{\"t\":\"run\",\"run_id\":\"r\"}\n{\"t\":\"end\",\"status\":\"succeeded\"}");
    assert_int_equal(rb_replay_read(dir, &r, &err), 0);
    assert_int_equal(r.torn_tail, 1);
    assert_int_equal(r.ended, 0);
    rb_replay_free(&r);
    free(dir);
}

static void test_corrupt_middle_line(void **state)
{
    (void)state;
    char *dir = fresh_dir();
    write_file(dir, "{\"t\":\"run\",\"run_id\":\"r\"}\n"
                    "{\"t\":\"step\",\"step\":\"a\",\"state\":\"succeeded\"}\n"
                    "{\"t\":\"step\",\"st\n"
                    "{\"t\":\"end\",\"status\":\"failed\"}\n");
    rb_replay r;
    char *err = NULL;
    assert_int_equal(rb_replay_read(dir, &r, &err), -1);
    assert_non_null(err);
    assert_contains(err, RB_JOURNAL_FILE ":3: corrupt journal record");
    free(err);
    /* The replay was cleared; freeing it again is harmless. */
    assert_null(r.records);
    rb_replay_free(&r);

    /* A record without "t" in the middle is corrupt too. */
    write_file(dir, "{\"t\":\"run\"}\n{\"x\":1}\n{\"t\":\"end\",\"status\":\"failed\"}\n");
    assert_int_equal(rb_replay_read(dir, &r, &err), -1);
    assert_contains(err, ":2: corrupt");
    free(err);

    /* No run record: not a journal. */
    write_file(dir, "{\"t\":\"step\",\"step\":\"a\",\"state\":\"succeeded\"}\n");
    assert_int_equal(rb_replay_read(dir, &r, &err), -1);
    assert_contains(err, "no run record");
    free(err);

    /* No file at all. */
    char *empty = fresh_dir();
    assert_int_equal(rb_replay_read(empty, &r, &err), -1);
    assert_contains(err, strerror(ENOENT));
    free(err);
    free(empty);
    free(dir);
}

/* After a crash left a torn last line, `rebound resume` reopens the
 * journal with append=1 and writes a resume record; the journal must still
 * read afterwards.
 * BUG: rb_journal_open_append (journal.c:93) reopens with O_APPEND and
 * nothing removes the torn fragment or starts a new line, so the resume
 * record is glued onto it ({"t":"step","sta{"t":"resume",...}) and the next
 * replay fails with "journal.jsonl:3: corrupt journal record": a run that
 * crashed mid-write can be resumed once, never twice. Suggested fix: in
 * rb_journal_open_append, find the last '\n' and ftruncate the file just
 * after it (then fsync), or have rb_replay_read report the offset of the
 * last complete line so the caller can truncate. */
static void test_append_after_torn_tail(void **state)
{
    (void)state;
    char *dir = fresh_dir();
    write_file(dir, "{\"t\":\"run\",\"run_id\":\"r\"}\n"
                    "{\"t\":\"step\",\"step\":\"a\",\"state\":\"succeeded\"}\n"
                    "{\"t\":\"step\",\"sta");
    rb_replay r;
    char *err = NULL;
    assert_int_equal(rb_replay_read(dir, &r, &err), 0);
    assert_int_equal(r.torn_tail, 1);
    rb_replay_free(&r);

    rb_journal *j = rb_journal_open_append(dir, &err);
    assert_non_null(j);
    rb_journal_append(j, rec_of("{\"t\":\"resume\",\"started\":\"now\"}"), 0);
    rb_journal_append(j, rec_of("{\"t\":\"step\",\"step\":\"b\",\"state\":\"succeeded\"}"), 0);
    assert_int_equal(rb_journal_close(j), 0);

    int rc = rb_replay_read(dir, &r, &err);
    if (rc != 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "journal unreadable after a resume: %s", err);
        free(err);
        free(dir);
        fail_msg("%s", msg);
    }
    size_t at;
    assert_int_equal(rb_strmap_get(&r.done_steps, "b", &at), 1);
    rb_replay_free(&r);
    free(dir);
}

/* A line is one record: text after the JSON value makes it corrupt.
 * BUG: journal.c:262 (rb_replay_read) uses cJSON_Parse, which stops after
 * the first value and ignores the rest of the line, so `{"t":"step",...}{"t":"resume",...}`
 * (what a resume writes after a torn tail that happened to be a complete
 * object, see test_append_after_torn_tail) reads as one record: the torn
 * record is accepted and the resume record is silently lost. Suggested
 * fix: cJSON_ParseWithOpts(p, &end, 1) (require the value to end the line),
 * treating a failure as corrupt. */
static void test_trailing_text_on_a_line_is_corrupt(void **state)
{
    (void)state;
    char *dir = fresh_dir();
    write_file(dir, "{\"t\":\"run\",\"run_id\":\"r\"}\n"
                    "{\"t\":\"step\",\"step\":\"a\",\"state\":\"succeeded\"}"
                    "{\"t\":\"resume\",\"started\":\"x\"}\n"
                    "{\"t\":\"end\",\"status\":\"failed\"}\n");
    rb_replay r;
    char *err = NULL;
    int rc = rb_replay_read(dir, &r, &err);
    size_t n = r.n_records;
    if (rc == 0)
        rb_replay_free(&r);
    free(err);
    free(dir);
    if (rc == 0)
        fail_msg("two records on one line read as %zu records without an error", n);
}

/* Once a write fails the journal says so, and keeps saying so. */
static void test_write_failure_is_sticky(void **state)
{
    (void)state;
    char *dir = fresh_dir();
    char *path = rb_xasprintf("%s/%s", dir, RB_JOURNAL_FILE);
    assert_int_equal(symlink("/dev/full", path), 0);
    char *err = NULL;
    rb_journal *j = rb_journal_open_append(dir, &err);
    assert_non_null(j);
    rb_journal_append(j, rec_of("{\"t\":\"run\"}"), 1);
    assert_int_equal(rb_journal_commit(j, 0), -1);
    assert_int_equal(rb_journal_commit(j, 1), -1);
    assert_int_equal(rb_journal_append_sync(j, rec_of("{\"t\":\"op\"}")), -1);
    assert_int_equal(rb_journal_close(j), -1);
    unlink(path);
    free(path);
    free(dir);
}

/* --- concurrency and durability ---------------------------------------------- */

typedef struct writer {
    rb_journal *j;
    int id;
    int n;
    int failures;
} writer;

static void *writer_main(void *arg)
{
    writer *w = arg;
    /* Long records make a torn or interleaved write easy to see. */
    char pad[600];
    memset(pad, 'a' + w->id, sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < w->n; i++) {
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "t", "op");
        char key[32];
        snprintf(key, sizeof key, "w%d-%d", w->id, i);
        cJSON_AddStringToObject(rec, "key", key);
        cJSON_AddStringToObject(rec, "op", pad);
        if (rb_journal_append_sync(w->j, rec) != 0)
            w->failures++;
    }
    return NULL;
}

static void test_append_sync_from_four_threads(void **state)
{
    (void)state;
    enum { THREADS = 4, PER = 200 };
    char *dir = fresh_dir();
    char *err = NULL;
    rb_journal *j = rb_journal_create(dir, rec_of("{\"t\":\"run\",\"run_id\":\"r\"}"), &err);
    assert_non_null(j);
    pthread_t th[THREADS];
    writer w[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (writer){.j = j, .id = t, .n = PER};
        assert_int_equal(pthread_create(&th[t], NULL, writer_main, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(w[t].failures, 0);
    }
    assert_true(rb_journal_sync_count(j) >= 1);
    assert_int_equal(rb_journal_close(j), 0);

    /* Every line parses on its own and carries one writer's padding; each
     * writer's records are in the order it appended them (a group commit
     * writes outside the lock, and nobody else may write meanwhile). */
    char *text = slurp(dir);
    int lines = 0;
    int last[THREADS];
    for (int t = 0; t < THREADS; t++)
        last[t] = -1;
    for (char *p = text, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = '\0';
        cJSON *rec = cJSON_Parse(p);
        if (!rec)
            fail_msg("line %d does not parse: %.80s", lines + 1, p);
        const char *op = str_field(rec, "op");
        if (op) {
            assert_int_equal(strlen(op), 599);
            for (const char *c = op; *c; c++)
                assert_int_equal(*c, op[0]);
            /* The key and the padding come from the same writer. */
            int id = -1, idx = -1;
            assert_int_equal(sscanf(str_field(rec, "key"), "w%d-%d", &id, &idx), 2);
            assert_int_equal(op[0], 'a' + id);
            assert_true(id >= 0 && id < THREADS);
            assert_true(idx > last[id]);
            last[id] = idx;
        }
        cJSON_Delete(rec);
        lines++;
    }
    assert_int_equal(lines, 1 + THREADS * PER);
    free(text);

    rb_replay r;
    assert_int_equal(rb_replay_read(dir, &r, &err), 0);
    assert_int_equal(r.n_records, 1 + THREADS * PER);
    assert_int_equal(r.ops.n, THREADS * PER);
    rb_replay_free(&r);
    free(dir);
}

/* A call with several long-running operations: resume finds all of them,
 * latest first, and only that call's. */
static void test_ops_of_one_call_chain(void **state)
{
    (void)state;
    char *dir = fresh_dir();
    char *err = NULL;
    rb_journal *j = rb_journal_create(dir, rec_of("{\"t\":\"run\",\"run_id\":\"r\"}"), &err);
    assert_non_null(j);
    assert_int_equal(rb_journal_append_sync(j, rec_of("{\"t\":\"op\",\"key\":\"k1\",\"op\":\"a\"}")), 0);
    assert_int_equal(rb_journal_append_sync(j, rec_of("{\"t\":\"op\",\"key\":\"k2\",\"op\":\"x\"}")), 0);
    assert_int_equal(rb_journal_append_sync(j, rec_of("{\"t\":\"op\",\"key\":\"k1\",\"op\":\"b\"}")), 0);
    assert_int_equal(rb_journal_append_sync(j, rec_of("{\"t\":\"op\",\"key\":\"k1\",\"op\":\"c\"}")), 0);
    assert_int_equal(rb_journal_close(j), 0);
    rb_replay r;
    assert_int_equal(rb_replay_read(dir, &r, &err), 0);
    size_t at = 0;
    assert_true(rb_strmap_get(&r.ops, "k1", &at));
    const char *want[] = {"c", "b", "a"};
    size_t n = 0;
    for (size_t k = at; k != SIZE_MAX; k = r.op_prev[k]) {
        assert_true(n < 3);
        assert_string_equal(str_field(rb_replay_record(&r, k), "op"), want[n++]);
    }
    assert_int_equal(n, 3);
    assert_true(rb_strmap_get(&r.ops, "k2", &at));
    assert_int_equal(r.op_prev[at], SIZE_MAX);
    rb_replay_free(&r);
    free(dir);
}

static void test_durable_pending(void **state)
{
    (void)state;
    char *dir = fresh_dir();
    char *err = NULL;
    rb_journal *j = rb_journal_create(dir, rec_of("{\"t\":\"run\"}"), &err);
    assert_non_null(j);
    assert_int_equal(rb_journal_durable_pending(j), 0);

    /* An ordinary record does not ask for a sync. */
    rb_journal_append(j, rec_of("{\"t\":\"step\",\"step\":\"a\",\"state\":\"failed\"}"), 0);
    assert_int_equal(rb_journal_durable_pending(j), 0);
    long syncs = rb_journal_sync_count(j);

    /* A durable one does, until a commit has synced it. */
    rb_journal_append(j, rec_of("{\"t\":\"intent\",\"key\":\"k\"}"), 1);
    assert_int_equal(rb_journal_durable_pending(j), 1);
    assert_int_equal(rb_journal_commit(j, 0), 0);
    assert_int_equal(rb_journal_durable_pending(j), 0);
    assert_int_equal(rb_journal_sync_count(j), syncs + 1);

    /* A non-durable commit inside the sync interval writes but does not sync. */
    rb_journal_append(j, rec_of("{\"t\":\"step\",\"step\":\"a\",\"state\":\"running\"}"), 0);
    assert_int_equal(rb_journal_commit(j, 0), 0);
    assert_int_equal(rb_journal_sync_count(j), syncs + 1);
    char *text = slurp(dir);
    assert_contains(text, "\"state\":\"running\"");
    free(text);
    /* force does. */
    assert_int_equal(rb_journal_commit(j, 1), 0);
    assert_int_equal(rb_journal_sync_count(j), syncs + 2);
    /* And with nothing written since, nothing to sync. */
    assert_int_equal(rb_journal_commit(j, 1), 0);
    assert_int_equal(rb_journal_sync_count(j), syncs + 2);

    /* append_sync leaves nothing pending. */
    assert_int_equal(rb_journal_append_sync(j, rec_of("{\"t\":\"op\",\"key\":\"k\",\"op\":\"o\"}")),
                     0);
    assert_int_equal(rb_journal_durable_pending(j), 0);
    assert_int_equal(rb_journal_close(j), 0);
    free(dir);
}

/* --- secrets ---------------------------------------------------------------- */

static void test_registered_secret_masked(void **state)
{
    (void)state;
    rb_secret_register("hunter2-very-secret");
    char *dir = fresh_dir();
    char *err = NULL;
    rb_journal *j = rb_journal_create(dir, rec_of("{\"t\":\"run\"}"), &err);
    assert_non_null(j);
    rb_journal_append(j, rec_of("{\"t\":\"step\",\"step\":\"a\",\"state\":\"failed\","
                                "\"error\":\"login with hunter2-very-secret refused\"}"),
                      0);
    assert_int_equal(rb_journal_close(j), 0);
    char *text = slurp(dir);
    if (strstr(text, "hunter2"))
        fail_msg("secret reached the journal: %s", text);
    assert_contains(text, "login with *** refused");
    free(text);

    rb_replay r;
    assert_int_equal(rb_replay_read(dir, &r, &err), 0);
    rb_replay_free(&r);
    free(dir);
}

/* A secret with a character JSON escapes (quote, backslash) is written in
 * its escaped form, e.g. pa\"ss, which plain strstr on the JSON text does
 * not find.
 * BUG: journal.c:153 (rb_journal_append) redacts the serialised JSON text,
 * so a registered secret containing '"' or '\\' (common in generated passwords) reaches the
 * journal in clear; and a secret ending in a backslash corrupts the record:
 * "abc\\" becomes "***\" and the closing quote is escaped away (next test).
 * Suggested fix: redact string values in the cJSON tree before printing
 * (walk the tree, rb_redact each valuestring and key), not the printed
 * text. */
static void test_secret_with_json_escapes_masked(void **state)
{
    (void)state;
    rb_secret_register("pa\"ss/word!42");
    char *dir = fresh_dir();
    char *err = NULL;
    rb_journal *j = rb_journal_create(dir, rec_of("{\"t\":\"run\"}"), &err);
    assert_non_null(j);
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "t", "step");
    cJSON_AddStringToObject(rec, "error", "bad password pa\"ss/word!42 for admin");
    rb_journal_append(j, rec, 0);
    assert_int_equal(rb_journal_close(j), 0);
    char *text = slurp(dir);
    int leaked = strstr(text, "word!42") != NULL;
    char msg[512];
    snprintf(msg, sizeof msg, "secret reached the journal: %s", text);
    free(text);
    free(dir);
    if (leaked)
        fail_msg("%s", msg);
}

/* Whatever the redactor masks, every record must still be valid JSON:
 * resume reads the journal back.
 * BUG: journal.c:153 redacts the serialised JSON text (log.c:104 for
 * registered secrets, log.c:76/80 for sig=/Authorization). A secret ending
 * in a backslash is written as secret\\ and masking "secret\" leaves
 * "***\" whose backslash now escapes the closing quote; a sig=/Authorization
 * value containing an escaped quote (\") is masked up to the quote, which
 * drops the backslash and un-escapes the quote. Either way the record is no
 * longer JSON, the journal has a corrupt line in the middle, and
 * `rebound resume` refuses it. Suggested fix: redact the cJSON string values
 * (and keys) before printing, not the printed text. */
static void test_redaction_keeps_records_valid_json(void **state)
{
    (void)state;
    rb_secret_register("tail-backslash\\");
    const char *errors[] = {
        "GET /x failed: Authorization: Bearer eyJabc.def\nthen 401",
        "request headers {Authorization: Bearer eyJabc.def}",
        "login tail-backslash\\",
        "url https://a.blob.core.windows.net/c?sv=1&sig=abc\"def&se=2",
        "header Authorization: Bearer eyJabc\"def",
    };
    rb_buf failures = {0};
    for (size_t k = 0; k < sizeof errors / sizeof errors[0]; k++) {
        char *dir = fresh_dir();
        char *err = NULL;
        rb_journal *j = rb_journal_create(dir, rec_of("{\"t\":\"run\"}"), &err);
        assert_non_null(j);
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "t", "step");
        cJSON_AddStringToObject(rec, "step", "a");
        cJSON_AddStringToObject(rec, "state", "failed");
        cJSON_AddStringToObject(rec, "error", errors[k]);
        rb_journal_append(j, rec, 0);
        rb_journal_append(j, rec_of("{\"t\":\"end\",\"status\":\"failed\"}"), 0);
        assert_int_equal(rb_journal_close(j), 0);
        char *text = slurp(dir);
        rb_replay r;
        if (rb_replay_read(dir, &r, &err) != 0) {
            const char *line = strchr(text, '\n');
            rb_buf_printf(&failures, "  #%zu unreadable: %s\n    %.*s\n", k, err,
                          (int)strcspn(line + 1, "\n"), line + 1);
            free(err);
        } else {
            /* And the token itself is masked. */
            const char *e = str_field(rb_replay_record(&r, 1), "error");
            if (e && (strstr(e, "eyJabc") || strstr(e, "backslash")))
                rb_buf_printf(&failures, "  #%zu leaked: %s\n", k, e);
            rb_replay_free(&r);
        }
        free(text);
        free(dir);
    }
    if (failures.p) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", failures.p);
        rb_buf_free(&failures);
        fail_msg("redaction broke or leaked journal records:\n%s", msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_is_exclusive),
        cmocka_unit_test(test_append_commit_replay),
        cmocka_unit_test(test_resume_and_end),
        cmocka_unit_test(test_torn_tail_ignored),
        cmocka_unit_test(test_corrupt_middle_line),
        cmocka_unit_test(test_append_after_torn_tail),
        cmocka_unit_test(test_trailing_text_on_a_line_is_corrupt),
        cmocka_unit_test(test_write_failure_is_sticky),
        cmocka_unit_test(test_append_sync_from_four_threads),
        cmocka_unit_test(test_ops_of_one_call_chain),
        cmocka_unit_test(test_durable_pending),
        cmocka_unit_test(test_registered_secret_masked),
        cmocka_unit_test(test_secret_with_json_escapes_masked),
        cmocka_unit_test(test_redaction_keeps_records_valid_json),
    };
    return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
