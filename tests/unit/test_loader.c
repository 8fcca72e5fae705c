/* The plugin loader: good plugins load, every bad one is refused with its
 * documented reason, and the run goes on. Plugin directories come from
 * compile definitions (tests/unit/CMakeLists.txt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/util.h"
#include "core/values.h"
#include "plugin/context.h"
#include "plugin/registry.h"

static char *path_in(const char *dir, const char *file) { return rb_xasprintf("%s/%s", dir, file); }

static const rb_refusal *refusal_of(const rb_registry *reg, const char *file)
{
    for (size_t i = 0; i < rb_registry_refusal_count(reg); i++) {
        const rb_refusal *r = rb_registry_refusal_at(reg, i);
        const char *base = strrchr(r->path, '/');
        if (strcmp(base ? base + 1 : r->path, file) == 0)
            return r;
    }
    return NULL;
}

/* Loads one bad plugin alone and returns its reason (static copy). */
static const char *refusal_reason(const char *file)
{
    static char reason[1024];
    rb_registry *reg = rb_registry_new(NULL);
    char *p = path_in(BAD_PLUGIN_DIR, file);
    assert_int_equal(rb_registry_load_file(reg, p), -1);
    assert_int_equal(rb_registry_count(reg), 0);
    assert_int_equal(rb_registry_refusal_count(reg), 1);
    const rb_refusal *r = rb_registry_refusal_at(reg, 0);
    assert_string_equal(r->path, p);
    snprintf(reason, sizeof reason, "%s", r->reason);
    free(p);
    rb_registry_free(reg);
    return reason;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void test_good_plugins_load(void **state)
{
    rb_registry *reg = rb_registry_new(NULL);
    rb_registry_scan_dir(reg, NOOP_PLUGIN_DIR);
    rb_registry_scan_dir(reg, TESTKIT_PLUGIN_DIR);
    assert_int_equal(rb_registry_refusal_count(reg), 0);

    const rb_loaded_plugin *noop = rb_registry_find(reg, "noop");
    assert_non_null(noop);
    assert_int_equal(noop->def->abi_major, RB_ABI_MAJOR);
    assert_non_null(strstr(noop->path, "noop.so"));
    assert_non_null(noop->handle);
    assert_int_equal(rbv_type(noop->settings), RB_VMAP);

    const rb_loaded_plugin *tk = rb_registry_find(reg, "testkit");
    assert_non_null(tk);
    assert_null(rb_registry_find(reg, "nope"));
    assert_null(rb_registry_find(reg, NULL));

    /* Action lookup, by name and by index. */
    const rb_action *rec = rb_plugin_find_action(tk, "record");
    assert_non_null(rec);
    assert_int_equal(rec->effect, RB_EFFECT_WRITE);
    assert_non_null(rec->plan);
    assert_null(rb_plugin_find_action(tk, "nope"));
    assert_string_equal(rb_plugin_action_at(tk, 0)->name, "echo");
    assert_null(rb_plugin_action_at(tk, tk->def->n_actions));
    assert_int_equal(rb_plugin_find_action(tk, "destroy")->effect, RB_EFFECT_DESTRUCTIVE);

    /* Scanning the same directory again is not a duplicate. */
    rb_registry_scan_dir(reg, TESTKIT_PLUGIN_DIR);
    assert_int_equal(rb_registry_refusal_count(reg), 0);
    rb_registry_free(reg);
}

static void test_settings_are_per_plugin(void **state)
{
    rb_value *settings = rbv_from_json_text("{\"testkit\": {\"color\": \"blue\"}, \"noop\": 3}");
    rb_registry *reg = rb_registry_new(settings);
    rb_registry_scan_dir(reg, NOOP_PLUGIN_DIR);
    rb_registry_scan_dir(reg, TESTKIT_PLUGIN_DIR);
    const rb_loaded_plugin *tk = rb_registry_find(reg, "testkit");
    assert_string_equal(rbv_map_get_string(tk->settings, "color", ""), "blue");
    /* Not a map: the plugin sees an empty map, never NULL. */
    const rb_loaded_plugin *noop = rb_registry_find(reg, "noop");
    assert_int_equal(rbv_type(noop->settings), RB_VMAP);
    assert_int_equal(rbv_len(noop->settings), 0);
    rb_registry_free(reg);
    rbv_free(settings);
}

/* A plugin built for a later minor: larger structs, loaded all the same. */
static void test_later_minor_loads(void **state)
{
    rb_registry *reg = rb_registry_new(NULL);
    rb_registry_scan_dir(reg, FUTURE_PLUGIN_DIR);
    assert_int_equal(rb_registry_refusal_count(reg), 0);
    const rb_loaded_plugin *p = rb_registry_find(reg, "future");
    assert_non_null(p);
    assert_int_equal(p->def->abi_minor, RB_ABI_MINOR + 1);
    assert_true(p->def->action_size > sizeof(rb_action));
    const rb_action *second = rb_plugin_find_action(p, "second");
    assert_non_null(second);
    assert_ptr_equal(second, rb_plugin_action_at(p, 1));
    assert_int_equal(second->effect, RB_EFFECT_WRITE);
    assert_string_equal(second->outputs[0].name, "answer");
    rb_ctx ctx;
    rb_ctx_init(&ctx);
    rb_value *out = NULL;
    assert_int_equal(second->plan(&ctx, NULL, &out), RB_OK);
    assert_int_equal(rbv_map_get_int(out, "answer", 0), 42);
    rbv_free(out);
    rb_ctx_clear(&ctx);
    rb_registry_free(reg);
}

static void test_other_abi_major(void **state)
{
    const char *why = refusal_reason("bad_abi.so");
    assert_contains(why, "built for plugin ABI 2.0");
    assert_contains(why, "the major version must match");
}

static void test_no_entry_point(void **state)
{
    assert_contains(refusal_reason("no_entry.so"), "no entry point rb_plugin_init");
}

static void test_non_elf_file(void **state)
{
    const char *why = refusal_reason("garbage.so");
    assert_contains(why, "not a loadable plugin: ");
    /* dlerror's repetition of the path is trimmed. */
    assert_null(strstr(why, BAD_PLUGIN_DIR));
}

static void test_init_fails(void **state)
{
    assert_string_equal(refusal_reason("init_fails.so"),
                        "rb_plugin_init failed (RB_EINVAL): setting endpoint is missing");
}

static void test_write_without_plan(void **state)
{
    assert_string_equal(refusal_reason("no_plan.so"),
                        "action \"change\" is a write action without plan() "
                        "(plan mode needs its predicted outputs)");
}

static void test_other_defects(void **state)
{
    assert_contains(refusal_reason("bad_name.so"), "invalid plugin name \"Bad-Name\"");
    assert_contains(refusal_reason("short_struct.so"), "rb_plugin.struct_size is");
    assert_contains(refusal_reason("short_action.so"), "action_size is");
    assert_contains(refusal_reason("bad_default.so"),
                    "parameter \"count\" has a default that is not an integer");
    assert_string_equal(refusal_reason("no_run.so"), "action \"change\" has no run()");
    assert_string_equal(refusal_reason("dup_action.so"), "duplicate action name \"look\"");
}

static void test_duplicate_name(void **state)
{
    rb_registry *reg = rb_registry_new(NULL);
    rb_registry_scan_dir(reg, TESTKIT_PLUGIN_DIR);
    char *first = path_in(TESTKIT_PLUGIN_DIR, "testkit.so");
    char *second = path_in(BAD_PLUGIN_DIR, "dup.so");
    assert_int_equal(rb_registry_load_file(reg, second), -1);
    assert_int_equal(rb_registry_count(reg), 1);
    const rb_refusal *r = rb_registry_refusal_at(reg, 0);
    assert_string_equal(r->path, second);
    assert_string_equal(r->name, "testkit");
    char *want = rb_xasprintf("duplicate plugin name testkit (already loaded from %s)", first);
    assert_string_equal(r->reason, want);
    /* The first one is still the one that answers. */
    assert_string_equal(rb_registry_find(reg, "testkit")->path, first);
    free(want);
    free(first);
    free(second);
    rb_registry_free(reg);
}

static void test_scan_goes_on_after_refusals(void **state)
{
    rb_registry *reg = rb_registry_new(NULL);
    rb_registry_scan_dir(reg, TESTKIT_PLUGIN_DIR);
    rb_registry_scan_dir(reg, BAD_PLUGIN_DIR);
    rb_registry_scan_dir(reg, NOOP_PLUGIN_DIR);
    /* testkit and the shipped plugins load; every file in the bad directory
     * is refused. */
    assert_non_null(rb_registry_find(reg, "testkit"));
    assert_non_null(rb_registry_find(reg, "noop"));
    for (size_t i = 0; i < rb_registry_count(reg); i++)
        assert_null(strstr(rb_registry_at(reg, i)->path, "bad-plugins"));
    const char *bad[] = {"bad_abi.so", "no_entry.so", "dup.so", "init_fails.so", "no_plan.so",
                         "garbage.so"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!refusal_of(reg, bad[i]))
            fail_msg("%s was not refused", bad[i]);

    /* Scanning the bad directory again adds no second refusal per file. */
    size_t refused = rb_registry_refusal_count(reg);
    rb_registry_scan_dir(reg, BAD_PLUGIN_DIR);
    assert_int_equal(rb_registry_refusal_count(reg), refused);

    /* Refusals are found by plugin name, or by file name when the name is
     * unknown. */
    const rb_refusal *r = rb_registry_refusal_for(reg, "init_fails");
    assert_non_null(r);
    assert_contains(r->reason, "setting endpoint is missing");
    assert_non_null(rb_registry_refusal_for(reg, "garbage"));
    assert_null(rb_registry_refusal_for(reg, "noop"));
    rb_registry_free(reg);
}

static void test_missing_dir(void **state)
{
    rb_registry *reg = rb_registry_new(NULL);
    rb_registry_scan_dir(reg, "/nonexistent/rebound-plugins");
    assert_int_equal(rb_registry_count(reg), 0);
    assert_int_equal(rb_registry_refusal_count(reg), 1);
    const rb_refusal *r = rb_registry_refusal_at(reg, 0);
    assert_string_equal(r->path, "/nonexistent/rebound-plugins");
    assert_string_equal(r->reason, "cannot open plugin directory: No such file or directory");
    /* Named twice (--plugin-dir and the config): reported once. */
    rb_registry_scan_dir(reg, "/nonexistent/rebound-plugins");
    assert_int_equal(rb_registry_refusal_count(reg), 1);
    rb_registry_free(reg);
}

static void test_missing_file(void **state)
{
    rb_registry *reg = rb_registry_new(NULL);
    assert_int_equal(rb_registry_load_file(reg, "/nonexistent/x.so"), -1);
    assert_contains(rb_registry_refusal_at(reg, 0)->reason, "not a loadable plugin: ");
    rb_registry_free(reg);
}

/* Runs a loaded action through the host table, as the scheduler will. */
static void test_call_through_host(void **state)
{
    rb_registry *reg = rb_registry_new(NULL);
    rb_registry_scan_dir(reg, NOOP_PLUGIN_DIR);
    const rb_loaded_plugin *noop = rb_registry_find(reg, "noop");
    const rb_action *ping = rb_plugin_find_action(noop, "ping");
    char err[256];
    rb_value *args = rb_validate_args(noop, ping, NULL, err, sizeof err);
    assert_non_null(args);

    rb_ctx ctx;
    rb_ctx_init(&ctx);
    ctx.idempotency_key = "k1";
    rb_value *out = NULL;
    assert_int_equal(ping->run(&ctx, args, &out), RB_OK);
    assert_string_equal(rbv_map_get_string(out, "message", ""), "pong");
    rbv_free(out);
    rbv_free(args);

    const rb_action *touch = rb_plugin_find_action(noop, "touch");
    rb_value *in = rbv_from_json_text("{\"id\": \"x\"}");
    args = rb_validate_args(noop, touch, in, err, sizeof err);
    assert_non_null(args);
    out = NULL;
    assert_int_equal(touch->plan(&ctx, args, &out), RB_OK);
    assert_string_equal(rbv_map_get_string(out, "key", ""), "k1");
    rbv_free(out);
    rbv_free(args);
    rbv_free(in);

    /* sleep stops within a few ms once the ctx is cancelled. */
    const rb_action *nap = rb_plugin_find_action(noop, "sleep");
    in = rbv_from_json_text("{\"ms\": 10000}");
    args = rb_validate_args(noop, nap, in, err, sizeof err);
    atomic_store(&ctx.cancel, 1);
    int64_t t0 = rb_mono_ms();
    out = NULL;
    assert_int_equal(nap->run(&ctx, args, &out), RB_ECANCELED);
    assert_true(rb_mono_ms() - t0 < 1000);
    assert_non_null(ctx.error);
    assert_null(out);
    rbv_free(args);
    rbv_free(in);
    rb_ctx_clear(&ctx);
    assert_null(ctx.error);
    rb_registry_free(reg);
}

static rb_status save_op(void *data, const char *op)
{
    snprintf(data, 64, "%s", op);
    return RB_OK;
}

static void test_host_routines(void **state)
{
    const rb_host_api *h = rb_host_api_get();
    assert_int_equal(h->abi_major, RB_ABI_MAJOR);
    assert_int_equal(h->abi_minor, RB_ABI_MINOR);
    assert_int_equal(h->struct_size, sizeof(rb_host_api));
    assert_true(RB_HOST_HAS(h, run_dir));

    rb_ctx ctx;
    rb_ctx_init(&ctx);
    assert_int_equal(rbv_type(h->settings(&ctx)), RB_VMAP);
    assert_string_equal(h->idempotency_key(&ctx), "");
    assert_null(h->operation_id(&ctx));
    assert_int_equal(h->save_operation(&ctx, "op"), RB_EUNSUPPORTED);
    char saved[64] = "";
    ctx.save_op = save_op;
    ctx.save_op_data = saved;
    assert_int_equal(h->save_operation(&ctx, "op-1"), RB_OK);
    assert_string_equal(saved, "op-1");

    h->set_error(&ctx, "first %d", 1);
    h->set_error(&ctx, "second %s", "time");
    assert_string_equal(ctx.error, "second time");

    assert_int_equal(h->progress(&ctx, 5, 10), 0);
    assert_int_equal(atomic_load(&ctx.progress_done), 5);
    assert_int_equal(atomic_load(&ctx.progress_total), 10);
    atomic_int interrupted = 0;
    ctx.interrupted = &interrupted;
    assert_int_equal(h->cancelled(&ctx), 0);
    atomic_store(&interrupted, 1);
    assert_int_not_equal(h->progress(&ctx, 6, 10), 0);
    assert_int_not_equal(rb_ctx_cancelled(&ctx), 0);

    char *s = h->str_format("%s-%d", "a", 7);
    assert_string_equal(s, "a-7");
    h->mem_free(s);

    rb_value *m = h->value_map();
    assert_int_equal(h->map_set(m, "n", h->value_int(4)), RB_OK);
    assert_int_equal(h->map_get_int(m, "n", 0), 4);
    assert_int_equal(h->list_append(m, h->value_null()), RB_EINVAL); /* takes ownership anyway */

    /* JSON for plugins (ABI 1.3): values round-trip, bytes included; text
     * that is not exactly one JSON value is refused. */
    assert_int_equal(h->map_set(m, "b", h->value_bytes("a\0b", 3)), RB_OK);
    char *text = h->json_encode(m);
    assert_non_null(text);
    rb_value *back = NULL;
    assert_int_equal(h->json_decode(text, strlen(text), &back), RB_OK);
    size_t blen = 0;
    const char *bytes = h->value_as_bytes(h->map_get(back, "b"), &blen);
    assert_int_equal(blen, 3);
    assert_memory_equal(bytes, "a\0b", 3);
    assert_int_equal(h->map_get_int(back, "n", 0), 4);
    h->value_free(back);
    h->mem_free(text);
    back = NULL;
    assert_int_equal(h->json_decode("{\"a\":1} \n", 9, &back), RB_OK);
    h->value_free(back);
    assert_int_equal(h->json_decode("{\"a\":1}xyz", 10, &back), RB_EINVAL);
    assert_null(back);
    assert_int_equal(h->json_decode("{\"a\":1}{\"b\":2}", 14, &back), RB_EINVAL);
    assert_int_equal(h->json_decode("{\"a\":1}garbage", 7, &back), RB_OK); /* len bounds it */
    h->value_free(back);
    assert_int_equal(h->json_decode("{\"a\":", 5, &back), RB_EINVAL);
    h->value_free(m);
    rb_ctx_clear(&ctx);
}

/* --- testkit: the engine's tests rely on these behaviours ---------------------- */

typedef struct tk_env {
    rb_registry *reg;
    const rb_loaded_plugin *tk;
    char dir[64];
    char *log, *calls;
} tk_env;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return rb_xstrdup("");
    rb_buf b = {0};
    char chunk[512];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rb_buf_add(&b, chunk, n);
    fclose(f);
    return b.p ? b.p : rb_xstrdup("");
}

static void tk_open(tk_env *e)
{
    snprintf(e->dir, sizeof e->dir, "/tmp/rb-testkit-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    e->log = path_in(e->dir, "log");
    e->calls = path_in(e->dir, "calls");
    setenv("REBOUND_TESTKIT_LOG", e->log, 1);
    setenv("REBOUND_TESTKIT_CALLS", e->calls, 1);
    setenv("REBOUND_TESTKIT_STATE_DIR", e->dir, 1);
    e->reg = rb_registry_new(NULL);
    rb_registry_scan_dir(e->reg, TESTKIT_PLUGIN_DIR);
    e->tk = rb_registry_find(e->reg, "testkit");
    assert_non_null(e->tk);
}

static void tk_close(tk_env *e)
{
    rb_registry_free(e->reg);
    char *cmd = rb_xasprintf("rm -rf '%s'", e->dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(e->log);
    free(e->calls);
    unsetenv("REBOUND_TESTKIT_LOG");
    unsetenv("REBOUND_TESTKIT_CALLS");
    unsetenv("REBOUND_TESTKIT_STATE_DIR");
}

/* Calls testkit.<action>(json) with key; returns the status, *out the outputs. */
static rb_status tk_call(tk_env *e, const char *action, const char *json, int plan,
                         const char *key, const char *op, rb_value **out, char **error)
{
    const rb_action *a = rb_plugin_find_action(e->tk, action);
    assert_non_null(a);
    rb_value *in = rbv_from_json_text(json);
    char err[256];
    rb_value *args = rb_validate_args(e->tk, a, in, err, sizeof err);
    if (!args)
        fail_msg("%s", err);
    rb_ctx ctx;
    rb_ctx_init(&ctx);
    ctx.mode = plan ? "plan" : "run";
    ctx.idempotency_key = key;
    ctx.operation_id = op;
    ctx.run_dir = e->dir;
    char saved[64] = "";
    ctx.save_op = save_op;
    ctx.save_op_data = saved;
    *out = NULL;
    rb_status st = (plan ? a->plan : a->run)(&ctx, args, out);
    if (error)
        *error = ctx.error ? rb_xstrdup(ctx.error) : NULL;
    if (op == NULL && strcmp(action, "lro") == 0 && !plan)
        assert_string_equal(saved, rbv_map_get_string(*out, "op", "?"));
    rb_ctx_clear(&ctx);
    rbv_free(args);
    rbv_free(in);
    return st;
}

static void test_testkit_record_is_idempotent(void **state)
{
    tk_env e;
    tk_open(&e);
    rb_value *out;
    assert_int_equal(tk_call(&e, "record", "{\"id\": \"a\"}", 1, "k1", NULL, &out, NULL), RB_OK);
    assert_string_equal(rbv_map_get_string(out, "key", ""), "planned");
    rbv_free(out);
    char *log = slurp(e.log);
    assert_string_equal(log, ""); /* plan() has no side effect */
    free(log);

    assert_int_equal(tk_call(&e, "record", "{\"id\": \"a\"}", 0, "k1", NULL, &out, NULL), RB_OK);
    assert_string_equal(rbv_map_get_string(out, "key", ""), "k1");
    rbv_free(out);
    assert_int_equal(tk_call(&e, "record", "{\"id\": \"a\"}", 0, "k1", NULL, &out, NULL), RB_OK);
    rbv_free(out);
    assert_int_equal(tk_call(&e, "destroy", "{\"id\": \"b\"}", 0, "k2", NULL, &out, NULL), RB_OK);
    rbv_free(out);
    log = slurp(e.log);
    assert_string_equal(log, "k1 a\nk2 b\n");
    free(log);

    char *calls = slurp(e.calls);
    assert_string_equal(calls, "record plan\nrecord run\nrecord run\ndestroy run\n");
    free(calls);
    tk_close(&e);
}

static void test_testkit_flaky_fail_lro_echo(void **state)
{
    tk_env e;
    tk_open(&e);
    rb_value *out;
    char *err = NULL;
    const char *flaky = "{\"key\": \"f1\", \"failures\": 2}";
    assert_int_equal(tk_call(&e, "flaky", flaky, 0, "k", NULL, &out, &err), RB_ERETRY);
    assert_string_equal(err, "flaky failure 1 of 2 for key f1");
    free(err);
    assert_int_equal(tk_call(&e, "flaky", flaky, 0, "k", NULL, &out, NULL), RB_ERETRY);
    assert_int_equal(tk_call(&e, "flaky", flaky, 0, "k", NULL, &out, NULL), RB_OK);
    assert_int_equal(rbv_map_get_int(out, "attempts", 0), 3);
    rbv_free(out);

    assert_int_equal(tk_call(&e, "fail", "{\"message\": \"boom\"}", 0, "k", NULL, &out, &err),
                     RB_ERROR);
    assert_string_equal(err, "boom");
    free(err);

    assert_int_equal(tk_call(&e, "lro", "{\"ms\": 5}", 0, "k9", NULL, &out, NULL), RB_OK);
    assert_false(rbv_map_get_bool(out, "reattached", 1));
    assert_string_equal(rbv_map_get_string(out, "op", ""), "op-k9");
    rbv_free(out);
    assert_int_equal(tk_call(&e, "lro", "{}", 0, "k9", "op-k9", &out, NULL), RB_OK);
    assert_true(rbv_map_get_bool(out, "reattached", 0));
    assert_string_equal(rbv_map_get_string(out, "op", ""), "op-k9");
    rbv_free(out);

    assert_int_equal(tk_call(&e, "echo", "{\"n\": 2, \"items\": [1]}", 0, "k", NULL, &out, NULL),
                     RB_OK);
    const rb_value *args = rbv_map_get(out, "args");
    assert_int_equal(rbv_map_get_int(args, "n", 0), 2);
    assert_string_equal(rbv_map_get_string(args, "greeting", ""), "hello");
    rbv_free(out);
    tk_close(&e);
}

static char *capture(void (*fn)(const rb_registry *, FILE *, int), const rb_registry *reg, int json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(reg, f, json);
    fclose(f);
    return buf;
}

static void print_list(const rb_registry *reg, FILE *f, int json) { rb_registry_print_list(reg, f, json); }

static void print_info_testkit(const rb_registry *reg, FILE *f, int json)
{
    assert_int_equal(rb_registry_print_info(reg, "testkit", f, json), 0);
}

static void test_list_and_info(void **state)
{
    rb_registry *reg = rb_registry_new(NULL);
    rb_registry_scan_dir(reg, TESTKIT_PLUGIN_DIR);
    char *garbage = path_in(BAD_PLUGIN_DIR, "garbage.so");
    rb_registry_load_file(reg, garbage);

    char *text = capture(print_list, reg, 0);
    assert_contains(text, "NAME");
    assert_contains(text, "testkit");
    assert_contains(text, "1.0");
    assert_contains(text, "echo, sleep, record, destroy, flaky, fail, lro");
    assert_contains(text, "refused:");
    assert_contains(text, garbage);
    free(text);

    text = capture(print_list, reg, 1);
    rb_value *v = rbv_from_json_text(text);
    assert_non_null(v);
    const rb_value *p0 = rbv_list_get(rbv_map_get(v, "plugins"), 0);
    assert_string_equal(rbv_map_get_string(p0, "name", ""), "testkit");
    char abi[16];
    snprintf(abi, sizeof abi, "%d.%d", RB_ABI_MAJOR, RB_ABI_MINOR); /* what testkit was built with */
    assert_string_equal(rbv_map_get_string(p0, "abi", ""), abi);
    assert_int_equal(rbv_len(rbv_map_get(p0, "actions")), 7);
    const rb_value *r0 = rbv_list_get(rbv_map_get(v, "refused"), 0);
    assert_string_equal(rbv_map_get_string(r0, "path", ""), garbage);
    rbv_free(v);
    free(text);

    text = capture(print_info_testkit, reg, 0);
    assert_contains(text, "testkit.record (write)");
    assert_contains(text, "testkit.destroy (destructive)");
    assert_contains(text, "required");
    assert_contains(text, "default: \"hello\"");
    assert_contains(text, "outputs:");
    free(text);

    text = capture(print_info_testkit, reg, 1);
    v = rbv_from_json_text(text);
    assert_non_null(v);
    const rb_value *echo = rbv_list_get(rbv_map_get(v, "actions"), 0);
    assert_string_equal(rbv_map_get_string(echo, "effect", ""), "read");
    const rb_value *params = rbv_map_get(echo, "parameters");
    const rb_value *greeting = rbv_list_get(params, rbv_len(params) - 1);
    assert_string_equal(rbv_map_get_string(greeting, "name", ""), "greeting");
    assert_string_equal(rbv_map_get_string(greeting, "default", ""), "hello");
    assert_false(rbv_map_get_bool(greeting, "required", 1));
    rbv_free(v);
    free(text);

    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(rb_registry_print_info(reg, "nope", devnull, 0), -1);
    fclose(devnull);
    free(garbage);
    rb_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_plugins_load),
        cmocka_unit_test(test_settings_are_per_plugin),
        cmocka_unit_test(test_later_minor_loads),
        cmocka_unit_test(test_other_abi_major),
        cmocka_unit_test(test_no_entry_point),
        cmocka_unit_test(test_non_elf_file),
        cmocka_unit_test(test_init_fails),
        cmocka_unit_test(test_write_without_plan),
        cmocka_unit_test(test_other_defects),
        cmocka_unit_test(test_duplicate_name),
        cmocka_unit_test(test_scan_goes_on_after_refusals),
        cmocka_unit_test(test_missing_dir),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_call_through_host),
        cmocka_unit_test(test_host_routines),
        cmocka_unit_test(test_list_and_info),
        cmocka_unit_test(test_testkit_record_is_idempotent),
        cmocka_unit_test(test_testkit_flaky_fail_lro_echo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
