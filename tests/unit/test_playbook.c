/* Playbooks (playbook/playbook.h): loading from files, step fields, the
 * error messages with file:line, parameter typing, the Lua <-> rb_value
 * bridge, and the sandbox (libraries, load, require, limits). Playbooks are
 * written to a mkdtemp directory removed at the end. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "core/values.h"
#include "playbook/playbook.h"
#include "plugin/registry.h"

static char suite_dir[] = "/tmp/rb-playbook-test-XXXXXX";
static rb_registry *empty_reg;
static rb_registry *testkit_reg;

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
    if (!mkdtemp(suite_dir))
        return -1;
    empty_reg = rb_registry_new(NULL);
    testkit_reg = rb_registry_new(NULL);
    rb_registry_scan_dir(testkit_reg, TESTKIT_PLUGIN_DIR);
    return 0;
}

static int suite_teardown(void **state)
{
    (void)state;
    rb_registry_free(empty_reg);
    rb_registry_free(testkit_reg);
    return nftw(suite_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes suite_dir/name (making parent folders); returns the path (free). */
static char *write_file(const char *name, const char *text)
{
    char *path = rb_xasprintf("%s/%s", suite_dir, name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    assert_int_equal(rb_mkdir_p(path), 0);
    *slash = '/';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static rb_playbook *load_text(const char *name, const char *text, const rb_limits *limits,
                              char **err)
{
    char *path = write_file(name, text);
    rb_playbook *pb = rb_playbook_load(path, empty_reg, limits, err);
    free(path);
    return pb;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("\"%s\"\ndoes not contain \"%s\"", hay ? hay : "(null)", needle);
}

/* Loads text expecting failure; the message must contain each needle. */
static void expect_load_error(const char *text, const char *needle1, const char *needle2)
{
    char *err = NULL;
    rb_playbook *pb = load_text("bad.lua", text, NULL, &err);
    if (pb) {
        rb_playbook_free(pb);
        fail_msg("loaded although it should fail with \"%s\":\n%s", needle2, text);
    }
    assert_non_null(err);
    char *copy = rb_xstrdup(err);
    free(err);
    if (!strstr(copy, needle1) || (needle2 && !strstr(copy, needle2))) {
        char msg[1024];
        snprintf(msg, sizeof msg, "error \"%s\" lacks \"%s\" / \"%s\"", copy, needle1,
                 needle2 ? needle2 : "");
        free(copy);
        fail_msg("%s", msg);
    }
    free(copy);
}

static const rb_step *find_step(const rb_playbook *pb, const char *name)
{
    for (size_t i = 0; i < pb->n_steps; i++)
        if (strcmp(pb->steps[i].name, name) == 0)
            return &pb->steps[i];
    fail_msg("no step %s", name);
    return NULL;
}

/* --- loading ------------------------------------------------------------------ */

static const char full_pb[] =
    "playbook { name = \"kv-recover\", description = \"Recover a vault\",\n"          /* 1 */
    "  params = { vault = \"string\", count = \"int?\", ratio = \"number\",\n"         /* 2 */
    "             force = \"bool?\" } }\n"                                              /* 3 */
    "step \"a\" { run = function(ctx) return { x = 1 } end }\n"                         /* 4 */
    "step \"b\" { needs = \"a\", effect = \"write\", retry = 3, timeout = 30,\n"       /* 5 */
    "  always = true, description = \"the b step\", run = function() end }\n"          /* 6 */
    "step \"c\" { needs = { \"a\", \"b\" }, effect = \"destructive\",\n"               /* 7 */
    "  retry = { attempts = 5, backoff = 2.5 }, run = function() end,\n"               /* 8 */
    "  verify = function() end, when = function() return true end }\n"                 /* 9 */
    "step \"d\" { needs = {}, retry = { backoff = 0 }, always = false,\n"              /* 10 */
    "  run = function() end }\n";                                                      /* 11 */

static void test_load_metadata_and_steps(void **state)
{
    (void)state;
    char *err = NULL;
    rb_playbook *pb = load_text("full.lua", full_pb, NULL, &err);
    if (!pb)
        fail_msg("load failed: %s", err);
    assert_string_equal(pb->name, "kv-recover");
    assert_string_equal(pb->description, "Recover a vault");
    assert_string_equal(rbv_map_get_string(pb->param_spec, "vault", NULL), "string");
    assert_string_equal(rbv_map_get_string(pb->param_spec, "count", NULL), "int?");
    assert_string_equal(rbv_map_get_string(pb->param_spec, "ratio", NULL), "number");
    assert_string_equal(rbv_map_get_string(pb->param_spec, "force", NULL), "bool?");
    assert_int_equal(rbv_len(pb->param_spec), 4);
    assert_int_equal(pb->n_steps, 4);
    assert_string_equal(pb->dir, suite_dir);
    assert_int_equal(pb->n_plugins, 0);

    const rb_step *a = find_step(pb, "a");
    assert_int_equal(a->n_needs, 0);
    assert_int_equal(a->effect, RB_EFFECT_READ);
    assert_int_equal(a->retry_attempts, 1);
    assert_true(a->retry_backoff_s == 1.0);
    assert_true(a->timeout_s == 0);
    assert_int_equal(a->always, 0);
    assert_null(a->description);
    assert_true(a->run_ref != LUA_NOREF);
    assert_int_equal(a->verify_ref, LUA_NOREF);
    assert_int_equal(a->when_ref, LUA_NOREF);
    assert_int_equal(a->line, 4);
    assert_contains(a->file, "full.lua");

    const rb_step *b = find_step(pb, "b");
    assert_int_equal(b->n_needs, 1);
    assert_string_equal(b->needs[0], "a");
    assert_int_equal(b->effect, RB_EFFECT_WRITE);
    assert_int_equal(b->retry_attempts, 3);
    assert_true(b->timeout_s == 30);
    assert_int_equal(b->always, 1);
    assert_string_equal(b->description, "the b step");
    assert_int_equal(b->line, 5);

    const rb_step *c = find_step(pb, "c");
    assert_int_equal(c->n_needs, 2);
    assert_string_equal(c->needs[0], "a");
    assert_string_equal(c->needs[1], "b");
    assert_int_equal(c->effect, RB_EFFECT_DESTRUCTIVE);
    assert_int_equal(c->retry_attempts, 5);
    assert_true(c->retry_backoff_s == 2.5);
    assert_true(c->verify_ref != LUA_NOREF);
    assert_true(c->when_ref != LUA_NOREF);

    const rb_step *d = find_step(pb, "d");
    assert_int_equal(d->n_needs, 0);
    assert_int_equal(d->retry_attempts, 1);
    assert_true(d->retry_backoff_s == 0);
    assert_int_equal(d->always, 0);
    rb_playbook_free(pb);
}

static void test_load_errors(void **state)
{
    (void)state;
    const char *head = "playbook { name = \"p\" }\n";
    struct {
        const char *body;
        const char *where, *what;
    } cases[] = {
        {"step \"a\" { }\n", "bad.lua:2:", "step \"a\": \"run\" (a function) is required"},
        {"step \"a\" { run = 42 }\n", "bad.lua:2:", "\"run\" must be a function"},
        {"step \"a\" { effect = \"delete\", run = function() end }\n", "bad.lua:2:",
         "effect must be \"read\", \"write\" or \"destructive\", not \"delete\""},
        {"step \"a\" { effect = 2, run = function() end }\n", "bad.lua:2:",
         "\"effect\" must be a string"},
        {"step \"a\" { retries = 3, run = function() end }\n", "bad.lua:2:",
         "unknown field \"retries\" (expected one of: needs, effect, run"},
        {"\nstep \"a\" { run = function() end, [1] = 2 }\n", "bad.lua:3:",
         "field names must be strings"},
        {"step \"a\" { retry = 0, run = function() end }\n", "bad.lua:2:",
         "retry attempts must be between 1 and 100"},
        {"step \"a\" { retry = 101, run = function() end }\n", "bad.lua:2:",
         "retry attempts must be between 1 and 100"},
        {"step \"a\" { retry = \"3\", run = function() end }\n", "bad.lua:2:",
         "\"retry\" must be a whole number of attempts or { attempts = N, backoff = seconds }"},
        {"step \"a\" { retry = 2.5, run = function() end }\n", "bad.lua:2:",
         "\"retry\" must be a whole number of attempts"},
        {"step \"a\" { retry = { attempts = 2, delay = 1 }, run = function() end }\n",
         "bad.lua:2:", "unknown field \"delay\" (expected one of: attempts, backoff)"},
        {"step \"a\" { retry = { attempts = 1.5 }, run = function() end }\n", "bad.lua:2:",
         "retry.attempts must be an integer"},
        {"step \"a\" { retry = { backoff = -1 }, run = function() end }\n", "bad.lua:2:",
         "retry backoff must be between 0 and 3600 seconds"},
        {"step \"a\" { retry = { backoff = \"x\" }, run = function() end }\n", "bad.lua:2:",
         "retry.backoff must be a number of seconds"},
        {"step \"a\" { needs = { 1 }, run = function() end }\n", "bad.lua:2:",
         "\"needs\" must list step names (strings)"},
        {"step \"a\" { needs = { \"x\", true }, run = function() end }\n", "bad.lua:2:",
         "\"needs\" must list step names (strings)"},
        {"step \"a\" { needs = 5, run = function() end }\n", "bad.lua:2:",
         "\"needs\" must be a step name or a list of step names"},
        {"step \"a\" { timeout = 0, run = function() end }\n", "bad.lua:2:",
         "\"timeout\" must be a positive number of seconds"},
        {"step \"a\" { timeout = \"1m\", run = function() end }\n", "bad.lua:2:",
         "\"timeout\" must be a positive number of seconds"},
        {"step \"a\" { always = \"yes\", run = function() end }\n", "bad.lua:2:",
         "\"always\" must be true or false"},
        {"step \"a\" { description = 7, run = function() end }\n", "bad.lua:2:",
         "\"description\" must be a string"},
        {"step \"\" { run = function() end }\n", "bad.lua:2:", "step names must not be empty"},
        {"step \"a\\\"b\" { run = function() end }\n", "bad.lua:2:",
         "contains a control character or quote"},
        {"step \"a\" \"b\"\n", "bad.lua:2:", "table expected"},
        {"playbook { name = \"again\" }\nstep \"a\" { run = function() end }\n", "bad.lua:2:",
         "playbook{} may appear only once"},
        {"step \"a\" { run = function() end\n", "bad.lua:", "'}' expected"},
        {"local x = nil\nx.y = 1\n", "bad.lua:3:", "attempt to index a nil value"},
        {"error('custom failure')\nstep \"a\" { run = function() end }\n", "bad.lua:2:",
         "custom failure"},
        {"step \"a\" { run = function() end }\nlocal p = plugin \"nosuch\"\n", "bad.lua:3:",
         "plugin \"nosuch\" not found in the plugin path"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *text = rb_xasprintf("%s%s", head, cases[k].body);
        expect_load_error(text, cases[k].where, cases[k].what);
        free(text);
    }

    /* Playbook-level checks, without a line. */
    expect_load_error("playbook { name = \"p\" }\n", "bad.lua: the playbook declares no steps", NULL);
    expect_load_error("step \"a\" { run = function() end }\n", "bad.lua: the playbook does not "
                      "declare itself", "playbook { name = ");
    expect_load_error("playbook { name = \"\" }\nstep \"a\" { run = function() end }\n", "bad.lua:1:",
                      "playbook: \"name\" is required");
    expect_load_error("playbook { name = \"p\", version = 2 }\n", "bad.lua:1:",
                      "playbook: unknown field \"version\" (expected one of: name, description, "
                      "params)");
    expect_load_error("playbook { name = \"p\", params = { n = \"integer\" } }\n", "bad.lua:1:",
                      "param \"n\" has unknown type \"integer\"");
    expect_load_error("playbook { name = \"p\", params = { \"string\" } }\n", "bad.lua:1:",
                      "each param must be name = \"type\"");
    expect_load_error("playbook { name = \"p\", params = \"vault\" }\n", "bad.lua:1:",
                      "\"params\" must be a table");

    char *err = NULL;
    assert_null(rb_playbook_load("/nonexistent/dir/pb.lua", empty_reg, NULL, &err));
    assert_contains(err, "/nonexistent/dir/pb.lua: cannot open playbook");
    free(err);
}

/* retry counts are Lua integers; a huge one must be refused, not wrapped.
 * BUG: dsl.c:149 casts lua_tointeger to int before the 1..100 range check
 * (dsl.c:176), so retry = 4294967297 (2^32 + 1) wraps to 1 and is accepted,
 * and retry = 4294967396 becomes 100. Suggested fix: range-check the
 * lua_Integer before narrowing it (same for retry.attempts, dsl.c:161). */
static void test_retry_out_of_int_range(void **state)
{
    (void)state;
    expect_load_error("playbook { name = \"p\" }\n"
                      "step \"a\" { retry = 4294967297, run = function() end }\n",
                      "bad.lua:2:", "retry attempts must be between 1 and 100");
}

/* rb_step.file is "where it was declared", used in graph errors and
 * reports; it must be the playbook's path, also when the path is long.
 * BUG: dsl.c:200 copies ar.short_src, which Lua shortens to 60 bytes
 * ("...<tail>") for longer paths, so in a CI workspace the step's file and
 * every "file:line" built from it lose their beginning. Suggested fix: use
 * ar.source (skipping its leading '@') for rb_step.file; error messages
 * from Lua itself could be given a chunk name relative to the working
 * directory. */
static void test_step_file_is_full_path(void **state)
{
    (void)state;
    char *path = write_file("a-rather-long-folder-name/another-long-folder-name/"
                            "keyvault-recover-playbook.lua",
                            "playbook { name = \"p\" }\nstep \"a\" { run = function() end }\n");
    assert_true(strlen(path) > 60);
    char *err = NULL;
    rb_playbook *pb = rb_playbook_load(path, empty_reg, NULL, &err);
    assert_non_null(pb);
    char got[512];
    snprintf(got, sizeof got, "%s", pb->steps[0].file);
    rb_playbook_free(pb);
    int same = strcmp(got, path) == 0;
    char msg[1024];
    snprintf(msg, sizeof msg, "step file is \"%s\", expected \"%s\"", got, path);
    free(path);
    if (!same)
        fail_msg("%s", msg);
}

/* --- params --------------------------------------------------------------------- */

static rb_value *raw_params(const char *const *kv)
{
    rb_value *m = rbv_map();
    for (; kv[0]; kv += 2)
        rbv_map_set(m, kv[0], rbv_string(kv[1]));
    return m;
}

static char *check_err(rb_playbook *pb, const char *const *kv)
{
    rb_value *raw = raw_params(kv);
    char *err = NULL;
    rb_value *out = rb_playbook_check_params(pb, raw, &err);
    rbv_free(raw);
    if (out) {
        rbv_free(out);
        fail_msg("params accepted although they should fail");
    }
    assert_non_null(err);
    return err;
}

static void test_check_params(void **state)
{
    (void)state;
    char *err = NULL;
    rb_playbook *pb = load_text("full.lua", full_pb, NULL, &err);
    assert_non_null(pb);

    const char *good[] = {"vault", "kv1", "count", "-3", "ratio", "2.5", "force", "yes", NULL};
    rb_value *raw = raw_params(good);
    rb_value *out = rb_playbook_check_params(pb, raw, &err);
    rbv_free(raw);
    assert_non_null(out);
    assert_int_equal(rbv_type(rbv_map_get(out, "vault")), RB_VSTRING);
    assert_int_equal(rbv_type(rbv_map_get(out, "count")), RB_VINT);
    assert_int_equal(rbv_map_get_int(out, "count", 0), -3);
    assert_int_equal(rbv_type(rbv_map_get(out, "ratio")), RB_VDOUBLE);
    assert_true(rbv_as_double(rbv_map_get(out, "ratio")) == 2.5);
    assert_int_equal(rbv_type(rbv_map_get(out, "force")), RB_VBOOL);
    assert_int_equal(rbv_map_get_bool(out, "force", 0), 1);
    rbv_free(out);

    /* Optional ones may be left out; bool spellings. */
    const char *bools[][2] = {{"true", "1"}, {"1", "1"}, {"false", "0"}, {"no", "0"}, {"0", "0"}};
    for (size_t k = 0; k < 5; k++) {
        const char *kv[] = {"vault", "v", "ratio", "1", "force", bools[k][0], NULL};
        raw = raw_params(kv);
        out = rb_playbook_check_params(pb, raw, &err);
        rbv_free(raw);
        assert_non_null(out);
        assert_int_equal(rbv_map_get_bool(out, "force", -1), bools[k][1][0] == '1');
        assert_null(rbv_map_get(out, "count"));
        rbv_free(out);
    }

    /* Errors. */
    const char *missing[] = {"vault", "v", NULL};
    err = check_err(pb, missing);
    assert_string_equal(err, "missing required parameter \"ratio\" (number): pass --param ratio=...");
    free(err);
    const char *unknown[] = {"vault", "v", "ratio", "1", "bogus", "1", NULL};
    err = check_err(pb, unknown);
    assert_contains(err, "unknown parameter \"bogus\" (playbook kv-recover accepts: ");
    assert_contains(err, "vault");
    assert_contains(err, "count");
    assert_contains(err, "ratio");
    assert_contains(err, "force");
    free(err);
    const char *bad_int[] = {"vault", "v", "ratio", "1", "count", "3x", NULL};
    err = check_err(pb, bad_int);
    assert_string_equal(err, "parameter \"count\" must be an integer, got \"3x\"");
    free(err);
    const char *empty_int[] = {"vault", "v", "ratio", "1", "count", "", NULL};
    err = check_err(pb, empty_int);
    assert_contains(err, "must be an integer");
    free(err);
    const char *big_int[] = {"vault", "v", "ratio", "1", "count", "99999999999999999999", NULL};
    err = check_err(pb, big_int);
    assert_contains(err, "must be an integer");
    free(err);
    const char *bad_num[] = {"vault", "v", "ratio", "fast", NULL};
    err = check_err(pb, bad_num);
    assert_string_equal(err, "parameter \"ratio\" must be a number, got \"fast\"");
    free(err);
    const char *bad_bool[] = {"vault", "v", "ratio", "1", "force", "maybe", NULL};
    err = check_err(pb, bad_bool);
    assert_string_equal(err, "parameter \"force\" must be true or false, got \"maybe\"");
    free(err);
    rb_playbook_free(pb);

    /* A playbook without params refuses every one, saying so. */
    pb = load_text("noparams.lua", "playbook { name = \"np\" }\nstep \"a\" { run = function() end }\n",
                   NULL, &err);
    assert_non_null(pb);
    const char *any[] = {"x", "1", NULL};
    err = check_err(pb, any);
    assert_string_equal(err, "unknown parameter \"x\" (playbook np accepts: no parameters)");
    free(err);
    rb_value *none = rbv_map();
    out = rb_playbook_check_params(pb, none, &err);
    assert_non_null(out);
    assert_int_equal(rbv_len(out), 0);
    rbv_free(out);
    rbv_free(none);
    rb_playbook_free(pb);
}

/* A "number" parameter must be a finite number: NaN and infinity have no
 * JSON form, so they would be journaled as null and a resumed run would see
 * ctx.params.ratio == nil.
 * BUG: typed_param (playbook.c:213, "number" branch) accepts whatever strtod
 * parses, including "nan", "inf" and "-infinity". Suggested fix: also
 * require isfinite(v). */
static void test_number_param_must_be_finite(void **state)
{
    (void)state;
    char *err = NULL;
    rb_playbook *pb = load_text("full.lua", full_pb, NULL, &err);
    assert_non_null(pb);
    const char *texts[] = {"nan", "inf", "-Infinity"};
    rb_buf accepted = {0};
    for (size_t k = 0; k < 3; k++) {
        const char *kv[] = {"vault", "v", "ratio", texts[k], NULL};
        rb_value *raw = raw_params(kv);
        rb_value *out = rb_playbook_check_params(pb, raw, &err);
        if (out)
            rb_buf_printf(&accepted, " %s", texts[k]);
        else
            free(err);
        rbv_free(out);
        rbv_free(raw);
    }
    rb_playbook_free(pb);
    if (accepted.p) {
        char msg[128];
        snprintf(msg, sizeof msg, "number parameter accepted:%s", accepted.p);
        rb_buf_free(&accepted);
        fail_msg("%s", msg);
    }
}

/* --- the Lua bridge ------------------------------------------------------------ */

/* Runs `return <expr>` in a plain Lua state and converts the result. */
static rb_value *lua_value(lua_State *L, const char *chunk, char **err)
{
    if (luaL_dostring(L, chunk) != LUA_OK)
        fail_msg("Lua error: %s", lua_tostring(L, -1));
    rb_value *v = rb_lua_to_value(L, -1, err);
    lua_settop(L, 0);
    return v;
}

static void test_lua_to_value(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    char *err = NULL;

    rb_value *v = lua_value(L, "return { 1, 2.5, 'three', true }", &err);
    assert_int_equal(rbv_type(v), RB_VLIST);
    assert_int_equal(rbv_len(v), 4);
    assert_int_equal(rbv_type(rbv_list_get(v, 0)), RB_VINT);
    assert_int_equal(rbv_type(rbv_list_get(v, 1)), RB_VDOUBLE);
    assert_string_equal(rbv_as_string(rbv_list_get(v, 2)), "three");
    assert_int_equal(rbv_as_bool(rbv_list_get(v, 3)), 1);
    rbv_free(v);

    v = lua_value(L, "return { a = 1, b = { c = { 1, { d = false } } }, e = 2.0 }", &err);
    assert_int_equal(rbv_type(v), RB_VMAP);
    rb_value *want = rbv_from_json_text("{\"a\":1,\"b\":{\"c\":[1,{\"d\":false}]},\"e\":2}");
    assert_true(rbv_equal(v, want));
    assert_int_equal(rbv_type(rbv_map_get(v, "e")), RB_VDOUBLE); /* 2.0 stays a float */
    rbv_free(want);
    rbv_free(v);

    v = lua_value(L, "return {}", &err);
    assert_int_equal(rbv_type(v), RB_VMAP); /* empty table: map */
    assert_int_equal(rbv_len(v), 0);
    rbv_free(v);

    v = lua_value(L, "return math.maxinteger", &err);
    assert_int_equal(rbv_as_int(v), INT64_MAX);
    rbv_free(v);
    v = lua_value(L, "return nil", &err);
    assert_int_equal(rbv_type(v), RB_VNULL);
    rbv_free(v);

    /* Strings: UTF-8 stays a string; other bytes and NULs become bytes. */
    v = lua_value(L, "return 'h\\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80'", &err);
    assert_int_equal(rbv_type(v), RB_VSTRING);
    rbv_free(v);
    v = lua_value(L, "return '\\xff\\xfe\\x00\\x01'", &err);
    assert_int_equal(rbv_type(v), RB_VBYTES);
    size_t n;
    const char *p = rbv_as_bytes(v, &n);
    assert_int_equal(n, 4);
    assert_memory_equal(p, "\xff\xfe\x00\x01", 4);
    rbv_free(v);
    v = lua_value(L, "return 'a\\0b'", &err);
    assert_int_equal(rbv_type(v), RB_VBYTES);
    rbv_free(v);
    v = lua_value(L, "return '\\xe2\\x82'", &err); /* truncated sequence */
    assert_int_equal(rbv_type(v), RB_VBYTES);
    rbv_free(v);
    lua_close(L);
}

static void test_lua_to_value_errors(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    char *err = NULL;
    struct {
        const char *chunk, *msg;
    } cases[] = {
        {"return print", "a function cannot be passed to or returned from a plugin or step"},
        {"return { ok = 1, f = function() end }", "a function cannot be passed"},
        {"return { 1, 2, { coroutine.create(print) } }", "a thread cannot be passed"},
        {"local t = {} t.self = t return t", "table nesting is too deep (or the table contains "
                                             "itself)"},
        {"local t = {} t[1] = t return t", "contains itself"},
        {"local a, b = {}, {} a.b = b b.a = a return { a }", "contains itself"},
        {"return { 1, 2, x = 3 }", "tables must be lists (keys 1..n) or maps (string keys), not "
                                   "both"},
        {"return { [1.5] = 'x' }", "tables must be lists"},
        {"return { [true] = 'x' }", "tables must be lists"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rb_value *v = lua_value(L, cases[k].chunk, &err);
        if (v) {
            rbv_free(v);
            fail_msg("%s converted although it should fail", cases[k].chunk);
        }
        assert_contains(err, cases[k].msg);
        free(err);
        err = NULL;
    }
    lua_close(L);
}

/* bridge.c's contract: "a table whose keys are exactly 1..n becomes a list".
 * BUG: bridge.c:83 compares lua_rawlen (a border) with the number of keys;
 * {1, 2, 3, 4} with t[2] = nil and t.x = "y" has border 4 and 4 keys, so it
 * becomes the list [1, null, 3, 4] and the "x" key is silently dropped.
 * Suggested fix: count only integer keys in 1..n while scanning and make it
 * a list only when that count equals the key count and n. */
static void test_lua_to_value_holey_table(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    char *err = NULL;
    rb_value *v = lua_value(L, "local t = { 1, 2, 3, 4 } t[2] = nil t.x = 'y' return t", &err);
    char *text = v ? rbv_to_json_text(v) : NULL;
    rbv_free(v);
    free(err);
    lua_close(L);
    if (text) {
        char msg[256];
        snprintf(msg, sizeof msg, "a table with a hole and a string key became %s", text);
        free(text);
        fail_msg("%s", msg);
    }
}

/* bridge.c's contract: valid UTF-8 becomes a string, anything else bytes
 * (JSON output and plugins rely on strings being valid UTF-8).
 * BUG: valid_utf8 (bridge.c:51) checks only lead/continuation bit patterns,
 * so overlong forms ("\xC0\xAF" = '/'), UTF-16 surrogates ("\xED\xA0\x80")
 * and code points above U+10FFFF ("\xF5\x80\x80\x80") pass as strings.
 * Suggested fix: reject C0, C1, F5-FF leads, E0 followed by < A0, ED
 * followed by >= A0, F0 followed by < 90 and F4 followed by >= 90. */
static void test_lua_to_value_invalid_utf8_is_bytes(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    const char *chunks[] = {"return '\\xc0\\xaf'", "return '\\xed\\xa0\\x80'",
                            "return '\\xf5\\x80\\x80\\x80'", "return '\\xe0\\x80\\xaf'"};
    rb_buf bad = {0};
    for (size_t k = 0; k < 4; k++) {
        char *err = NULL;
        rb_value *v = lua_value(L, chunks[k], &err);
        if (rbv_type(v) != RB_VBYTES)
            rb_buf_printf(&bad, " %s", chunks[k]);
        rbv_free(v);
    }
    lua_close(L);
    if (bad.p) {
        char msg[256];
        snprintf(msg, sizeof msg, "invalid UTF-8 became a string:%s", bad.p);
        rb_buf_free(&bad);
        fail_msg("%s", msg);
    }
}

static void test_push_value_round_trip(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    rb_value *v = rbv_from_json_text("{\"name\":\"kv\",\"n\":3,\"x\":0.5,\"ok\":true,"
                                     "\"list\":[1,[2,3],{\"k\":\"v\"}],\"map\":{\"a\":{\"b\":[]}}}");
    static const unsigned char raw[] = {0xff, 0x00, 0x80};
    rbv_map_set(v, "blob", rbv_bytes(raw, 3));
    rb_lua_push_value(L, v);
    assert_int_equal(lua_gettop(L), 1);
    lua_setglobal(L, "t");
    /* What Lua sees. */
    const char *check = "assert(t.name == 'kv' and math.type(t.n) == 'integer' and t.x == 0.5)\n"
                        "assert(t.ok == true and #t.list == 3 and t.list[2][2] == 3)\n"
                        "assert(t.list[3].k == 'v' and #t.blob == 3 and t.blob:byte(1) == 255)\n"
                        "assert(type(t.map.a.b) == 'table' and next(t.map.a.b) == nil)\n";
    if (luaL_dostring(L, check) != LUA_OK)
        fail_msg("%s", lua_tostring(L, -1));
    lua_getglobal(L, "t");
    char *err = NULL;
    rb_value *back = rb_lua_to_value(L, -1, &err);
    assert_non_null(back);
    /* Everything comes back except the empty list, which is an empty table
     * and so (documented) an empty map. */
    assert_int_equal(rbv_type(rbv_map_get(rbv_map_get(rbv_map_get(back, "map"), "a"), "b")),
                     RB_VMAP);
    rbv_map_set((rb_value *)rbv_map_get(rbv_map_get(v, "map"), "a"), "b", rbv_map());
    assert_true(rbv_equal(v, back));
    assert_int_equal(rbv_type(rbv_map_get(back, "blob")), RB_VBYTES);
    rbv_free(back);
    rbv_free(v);

    /* NULL pushes nil. */
    rb_lua_push_value(L, NULL);
    assert_true(lua_isnil(L, -1));
    lua_close(L);
}

/* --- the sandbox ---------------------------------------------------------------- */

/* Top-level code that must run without error in the sandbox. */
static void expect_runs(const char *name, const char *code)
{
    char *text = rb_xasprintf("playbook { name = \"s\" }\n%s\nstep \"a\" { run = function() end }\n",
                              code);
    char *err = NULL;
    rb_playbook *pb = load_text(name, text, NULL, &err);
    free(text);
    if (!pb) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", err);
        free(err);
        fail_msg("%s", msg);
    }
    rb_playbook_free(pb);
}

static void test_sandbox_libraries(void **state)
{
    (void)state;
    expect_runs("libs.lua",
                "assert(io == nil, 'io') assert(debug == nil, 'debug')\n"
                "assert(dofile == nil, 'dofile') assert(loadfile == nil, 'loadfile')\n"
                "assert(package == nil, 'package') assert(string.dump == nil, 'string.dump')\n"
                "assert(('x').dump == nil, 'dump via the string metatable')\n"
                "local keys = {} for k in pairs(os) do keys[#keys + 1] = k end\n"
                "table.sort(keys)\n"
                "assert(table.concat(keys, ',') == 'clock,date,difftime,time', table.concat(keys, ','))\n"
                "assert(type(os.time()) == 'number' and type(os.clock()) == 'number')\n"
                "assert(type(string.format) == 'function' and type(table.concat) == 'function')\n"
                "assert(type(math.floor) == 'function' and type(utf8.char) == 'function')\n"
                "assert(type(coroutine.wrap) == 'function')\n"
                "assert(not pcall(collectgarbage, 'stop'))\n");
}

static void test_sandbox_load_refuses_binary(void **state)
{
    (void)state;
    expect_runs("bin.lua",
                "local ok, e = pcall(load, '\\27LuaT\\0\\25\\147\\r\\n\\26\\n')\n"
                "assert(not ok and e:find('binary chunks is not allowed'), tostring(e))\n"
                "ok, e = pcall(load, 'return 1', 'x', 'b')\n"
                "assert(not ok and e:find('binary chunks is not allowed'), tostring(e))\n"
                "ok, e = pcall(load, 'return 1', 'x', 'bt')\n"
                "assert(not ok, 'mode bt')\n"
                /* A reader function cannot smuggle one in either. */
                "local parts = { '\\27Lua', 'T' }\n"
                "local f, msg = load(function() return table.remove(parts, 1) end)\n"
                "assert(f == nil and msg:find('binary'), tostring(msg))\n");
}

/* load() of a text chunk must work like in plain Lua: the chunk sees the
 * globals.
 * BUG: sandbox_load (sandbox.c:79) pads the arguments to four with
 * lua_settop, so the original load sees an explicit nil `env` argument and
 * sets the chunk's _ENV to nil: load("return 1")() works, but any chunk
 * that touches a global (string, math, a DSL function) fails with "attempt
 * to index a nil value (upvalue '_ENV')". Suggested fix: forward only the
 * arguments given (settop to max(nargs, 3)), or push the globals table as
 * the env when none was passed. */
static void test_sandbox_load_text_chunk_sees_globals(void **state)
{
    (void)state;
    expect_runs("loadtext.lua",
                "local f = assert(load('return 1 + 1'))\n"
                "assert(f() == 2)\n"
                "local g = assert(load('return string.format(\"%d\", 7)'))\n"
                "local ok, r = pcall(g)\n"
                "assert(ok and r == '7', 'load()ed chunk cannot see globals: ' .. tostring(r))\n");
}

static void test_sandbox_require(void **state)
{
    (void)state;
    char *m1 = write_file("req/helper.lua", "local name = ...\n"
                                            "counter = (counter or 0) + 1\n"
                                            "return { x = 42, name = name }\n");
    char *m2 = write_file("req/lib/util.lua", "return { y = 7 }\n");
    char *m3 = write_file("req/side.lua", "side_loaded = true\n");
    char *outside = write_file("secret.lua", "return { leaked = true }\n");
    char *pbp = write_file(
        "req/pb.lua",
        "playbook { name = \"r\" }\n"
        "local h = require 'helper'\n"
        "assert(h.x == 42 and h.name == 'helper')\n"
        "assert(require('helper') == h and counter == 1, 'modules load once')\n"
        "assert(require('lib.util').y == 7)\n"
        "assert(require('side') == true and side_loaded)\n"
        "local ok, e = pcall(require, '../secret')\n"
        "assert(not ok and e:find('module names may use'), tostring(e))\n"
        "ok, e = pcall(require, '.secret')\n"
        "assert(not ok and e:find('invalid module name'), tostring(e))\n"
        "ok, e = pcall(require, '..secret')\n"
        "assert(not ok, '..secret')\n"
        "ok, e = pcall(require, '/etc/passwd')\n"
        "assert(not ok, '/etc/passwd')\n"
        "ok, e = pcall(require, 'missing')\n"
        "assert(not ok and e:find('missing'), tostring(e))\n"
        "step \"a\" { run = function() end }\n");
    char *err = NULL;
    rb_playbook *pb = rb_playbook_load(pbp, empty_reg, NULL, &err);
    if (!pb)
        fail_msg("%s", err);
    rb_playbook_free(pb);
    free(m1);
    free(m2);
    free(m3);
    free(outside);
    free(pbp);
}

static void test_instruction_limit_at_load(void **state)
{
    (void)state;
    rb_limits lim = {.max_instructions = 200000, .max_memory = 0};
    char *err = NULL;
    rb_playbook *pb = load_text("spin.lua",
                                "playbook { name = \"spin\" }\n"
                                "local i = 0\n"
                                "while true do i = i + 1 end\n",
                                &lim, &err);
    assert_null(pb);
    assert_contains(err, "spin.lua:3: playbook exceeded its instruction limit (200000 "
                         "instructions in one go; an endless loop?)");
    free(err);
}

static void test_memory_limit_at_load(void **state)
{
    (void)state;
    rb_limits lim = {.max_instructions = 0, .max_memory = 8 * 1024 * 1024};
    char *err = NULL;
    rb_playbook *pb = load_text("hog.lua",
                                "playbook { name = \"hog\" }\n"
                                "local t = {}\n"
                                "for i = 1, 1e8 do t[i] = { i } end\n",
                                &lim, &err);
    assert_null(pb);
    assert_contains(err, "playbook exceeded its memory limit (8 MiB)");
    free(err);

    /* The same playbook under a generous limit is fine with a small loop. */
    pb = load_text("small.lua",
                   "playbook { name = \"small\" }\n"
                   "local t = {} for i = 1, 1000 do t[i] = { i } end\n"
                   "step \"a\" { run = function() end }\n",
                   &lim, &err);
    assert_non_null(pb);
    rb_playbook_free(pb);
}

/* The instruction budget must stop a playbook that catches the limit error.
 * BUG: count_hook (sandbox.c:42-56) raises an ordinary error, which pcall
 * catches; the playbook loops on and the "limit" never ends the run (here
 * the outer loop is bounded so the test finishes: each pcall burns another
 * 10,000 instructions, and the chunk then reaches its own error()).
 * Suggested fix: once the budget is exhausted, make the hook fire on every
 * instruction (lua_sethook with count 1) and raise again each time, so no
 * handler can run Lua code; or raise a non-catchable error by throwing
 * LUA_ERRMEM-style through a flag checked after pcall returns. */
static void test_instruction_limit_not_catchable(void **state)
{
    (void)state;
    rb_limits lim = {.max_instructions = 100000, .max_memory = 0};
    char *err = NULL;
    rb_playbook *pb = load_text("catch.lua",
                                "playbook { name = \"catch\" }\n"
                                "for i = 1, 200 do pcall(function() while true do end end) end\n"
                                "error('escaped the instruction limit')\n",
                                &lim, &err);
    assert_null(pb);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", err);
    free(err);
    if (!strstr(msg, "instruction limit") || strstr(msg, "escaped"))
        fail_msg("%s", msg);
}

/* --- step bodies ---------------------------------------------------------------- */

static const char steps_pb[] =
    "playbook { name = \"bodies\", params = { vault = \"string\" } }\n"
    "step \"ok\" { run = function(ctx) return { step = ctx.step, n = ctx.attempt } end }\n"
    "step \"spin\" { run = function() while true do end end }\n"
    "step \"hog\" { run = function() local t = {} for i = 1, 1e8 do t[i] = { i } end end }\n"
    "step \"bad\" { run = function() return 42 end }\n"
    "step \"fn\" { run = function() return { f = print } end }\n"
    "step \"yield\" { run = function() coroutine.yield() return {} end }\n"
    "step \"declare\" { run = function() step \"late\" { run = function() end } end }\n"
    "step \"sneak\" { run = function(ctx)\n"
    "    local _, raw = pairs(ctx.params) raw.vault = 'evil'\n"
    "  end }\n"
    "step \"sneak2\" { run = function(ctx) rawset(ctx.params, 'vault', 'evil2') end }\n"
    "step \"write\" { run = function(ctx) ctx.params.vault = 'x' end }\n"
    "step \"read\" { run = function(ctx) return { vault = ctx.params.vault } end }\n"
    "step \"when\" { when = function(ctx) return ctx.params.vault == 'kv1' end,\n"
    "  run = function() end }\n"
    "step \"pass\" { run = function(ctx) return { p = ctx.params, tags = ctx.tags } end }\n";

static rb_playbook *load_bodies(long long max_instructions)
{
    rb_limits lim = {.max_instructions = max_instructions, .max_memory = 16 * 1024 * 1024};
    char *err = NULL;
    rb_playbook *pb = load_text("bodies.lua", steps_pb, &lim, &err);
    if (!pb)
        fail_msg("%s", err);
    rb_value *base = rbv_from_json_text("{\"params\":{\"vault\":\"kv1\"},\"mode\":\"plan\","
                                        "\"tags\":[\"a\",\"b\"]}");
    assert_int_equal(rb_playbook_set_base_ctx(pb, base, &err), 0);
    rbv_free(base);
    return pb;
}

/* Runs one attempt of a step to its end; returns the resume code. */
static int run_step(rb_playbook *pb, const char *name, rb_value **out, char **err)
{
    const rb_step *st = find_step(pb, name);
    rb_value *ctx = rbv_map();
    rbv_map_set(ctx, "step", rbv_string(name));
    rbv_map_set(ctx, "attempt", rbv_int(1));
    int anchor;
    lua_State *co = rb_step_thread_start(pb, st, ctx, NULL, 0, 1, &anchor);
    rbv_free(ctx);
    int rc = rb_step_thread_resume(pb, co, out, err);
    rb_step_thread_end(pb, anchor);
    return rc;
}

static void test_step_bodies(void **state)
{
    (void)state;
    rb_playbook *pb = load_bodies(1000000);
    rb_value *out = NULL;
    char *err = NULL;

    assert_int_equal(run_step(pb, "ok", &out, &err), LUA_OK);
    assert_string_equal(rbv_map_get_string(out, "step", NULL), "ok");
    assert_int_equal(rbv_map_get_int(out, "n", 0), 1);
    rbv_free(out);

    assert_int_equal(run_step(pb, "read", &out, &err), LUA_OK);
    assert_string_equal(rbv_map_get_string(out, "vault", NULL), "kv1");
    rbv_free(out);

    assert_int_not_equal(run_step(pb, "bad", &out, &err), LUA_OK);
    assert_contains(err, "run must return a table of outputs or nil, not a number");
    assert_null(out);
    free(err);

    assert_int_not_equal(run_step(pb, "fn", &out, &err), LUA_OK);
    assert_contains(err, "bodies.lua:6: step \"fn\" outputs: a function cannot be passed");
    free(err);

    /* ctx is read-only. */
    assert_int_not_equal(run_step(pb, "write", &out, &err), LUA_OK);
    assert_contains(err, "bodies.lua:13: ctx values are read-only (tried to set vault)");
    free(err);

    assert_int_equal(rb_step_eval_when(pb, find_step(pb, "when"), NULL, NULL, 0, &err), 1);
    assert_int_equal(rb_step_eval_when(pb, find_step(pb, "ok"), NULL, NULL, 0, &err), 1); /* no when */
    assert_int_equal(rb_playbook_limit_hit(pb), 0);
    rb_playbook_free(pb);
}

static void test_step_limits(void **state)
{
    (void)state;
    rb_playbook *pb = load_bodies(1000000);
    rb_value *out = NULL;
    char *err = NULL;
    assert_int_not_equal(run_step(pb, "spin", &out, &err), LUA_OK);
    assert_contains(err, "bodies.lua:3: playbook exceeded its instruction limit (1000000 "
                         "instructions in one go; an endless loop?)");
    assert_int_not_equal(rb_playbook_limit_hit(pb), 0);
    free(err);

    /* The next entry starts with a fresh budget and a cleared flag. */
    assert_int_equal(run_step(pb, "ok", &out, &err), LUA_OK);
    assert_int_equal(rb_playbook_limit_hit(pb), 0);
    rbv_free(out);

    assert_int_not_equal(run_step(pb, "hog", &out, &err), LUA_OK);
    assert_contains(err, "bodies.lua:4: playbook exceeded its memory limit (16 MiB)");
    assert_int_not_equal(rb_playbook_limit_hit(pb), 0);
    free(err);
    lua_gc(pb->L, LUA_GCCOLLECT);
    assert_int_equal(run_step(pb, "ok", &out, &err), LUA_OK);
    rbv_free(out);
    rb_playbook_free(pb);
}

/* rb_step_thread_resume returns LUA_YIELD only "waiting on a plugin call".
 * BUG: a step body that calls coroutine.yield() itself (no plugin call)
 * also comes back as LUA_YIELD; the scheduler then waits for a plugin
 * result that never comes and the run hangs (see test_scheduler). Suggested
 * fix: have action_call yield a private sentinel (a light userdata) and
 * make rb_step_thread_resume (playbook.c:346) treat any other yield as an error ("steps must
 * not call coroutine.yield outside a coroutine they created"). */
static void test_step_plain_yield_is_error(void **state)
{
    (void)state;
    rb_playbook *pb = load_bodies(1000000);
    rb_value *out = NULL;
    char *err = NULL;
    int rc = run_step(pb, "yield", &out, &err);
    free(err);
    rbv_free(out);
    rb_playbook_free(pb);
    if (rc == LUA_YIELD)
        fail_msg("a bare coroutine.yield() in a step looks like a pending plugin call");
}

/* Steps are declared while the playbook loads; a step body that declares
 * another step at run time must be refused.
 * BUG: dsl_step_define (dsl.c:208) appends to pb->steps whenever it is
 * called, also from a running step (or a `when`): it reallocs pb->steps
 * under the scheduler, which holds `const rb_step *` into it across
 * rb_step_eval_when and rb_step_thread_start (scheduler.c start_step) and
 * sized run->steps and the graph by the old n_steps. Suggested fix: set a
 * `loading` flag in rb_lua_env during rb_playbook_load and make step() and
 * playbook() raise "steps can only be declared at the top level of the
 * playbook" when it is clear. */
static void test_step_declared_at_run_time_refused(void **state)
{
    (void)state;
    rb_playbook *pb = load_bodies(1000000);
    size_t before = pb->n_steps;
    rb_value *out = NULL;
    char *err = NULL;
    int rc = run_step(pb, "declare", &out, &err);
    size_t after = pb->n_steps;
    free(err);
    rbv_free(out);
    rb_playbook_free(pb);
    assert_int_not_equal(rc, LUA_OK);
    assert_int_equal(after, before);
}

/* playbook.h: the shared ctx "is converted once and frozen: steps read it,
 * and a write raises". One step must not be able to change what the next
 * one sees.
 * BUG: the freeze proxy (playbook.c:38, freeze_source) hands out the real table
 * as the state value of its __pairs (`return next, t, nil`), so
 * `local _, raw = pairs(ctx.params)` gets the writable original; and rawset
 * on the proxy (rawset is in the sandbox) writes straight into the shared
 * proxy. Either way a later step reads the changed value. Suggested fix:
 * __pairs returns a closure iterator over t (no t in the results), and
 * remove rawset from the sandbox (or use a userdata proxy). */
static void test_frozen_ctx_cannot_be_changed(void **state)
{
    (void)state;
    rb_playbook *pb = load_bodies(1000000);
    rb_value *out = NULL;
    char *err = NULL;
    rb_buf bad = {0};
    const char *sneaks[] = {"sneak", "sneak2"};
    for (size_t k = 0; k < 2; k++) {
        int rc = run_step(pb, sneaks[k], &out, &err);
        rbv_free(out);
        free(err);
        err = NULL;
        assert_int_equal(run_step(pb, "read", &out, &err), LUA_OK);
        const char *seen = rbv_map_get_string(out, "vault", "");
        if (strcmp(seen, "kv1") != 0)
            rb_buf_printf(&bad, " step \"%s\" (rc %d) changed ctx.params.vault to \"%s\";",
                          sneaks[k], rc, seen);
        rbv_free(out);
    }
    rb_playbook_free(pb);
    if (bad.p) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", bad.p);
        rb_buf_free(&bad);
        fail_msg("%s", msg);
    }
}

/* Steps hand ctx values on: to plugin actions as arguments and as their
 * own outputs. A frozen table must convert to the values it shows.
 * BUG: the freeze proxy (playbook.c freeze_source) is an empty table whose
 * __index points at the real one; rb_lua_to_value (bridge.c convert_table)
 * walks tables with lua_next/lua_rawlen, which do not see through the
 * proxy, so `return { p = ctx.params }` or `kv.backup { tags = ctx.tags }`
 * silently passes {} (a list becomes an empty map). Suggested fix: keep a
 * registry map proxy -> original (weak keys) and have convert_table
 * convert the original when it meets a proxy; or push the frozen values as
 * plain copies per step. */
static void test_frozen_ctx_converts_to_its_values(void **state)
{
    (void)state;
    rb_playbook *pb = load_bodies(1000000);
    rb_value *out = NULL;
    char *err = NULL;
    int rc = run_step(pb, "pass", &out, &err);
    char *text = out ? rbv_to_json_text(out) : rb_xstrdup(err ? err : "?");
    rb_value *want = rbv_from_json_text("{\"p\":{\"vault\":\"kv1\"},\"tags\":[\"a\",\"b\"]}");
    int ok = rc == LUA_OK && rbv_equal(out, want);
    rbv_free(want);
    rbv_free(out);
    free(err);
    rb_playbook_free(pb);
    char msg[512];
    snprintf(msg, sizeof msg, "ctx values handed on became %s", text);
    free(text);
    if (!ok)
        fail_msg("%s", msg);
}

/* --- plugins -------------------------------------------------------------------- */

static void test_plugin_lookup(void **state)
{
    (void)state;
    char *path = write_file("plug.lua",
                            "playbook { name = \"plug\" }\n"
                            "local tk = plugin \"testkit\"\n"
                            "local tk2 = plugin \"testkit\"\n"
                            "assert(type(tk.record) == 'function')\n"
                            "local ok, e = pcall(function() return tk.nope end)\n"
                            "assert(not ok and e:find('plugin \"testkit\" has no action \"nope\"'), e)\n"
                            "ok, e = pcall(tk.record, { id = 'x' })\n"
                            "assert(not ok and e:find('can only be called from a step'), e)\n"
                            "step \"a\" { run = function() end }\n");
    char *err = NULL;
    rb_playbook *pb = rb_playbook_load(path, testkit_reg, NULL, &err);
    if (!pb)
        fail_msg("%s", err);
    assert_int_equal(pb->n_plugins, 1); /* named once however often it is used */
    assert_string_equal(pb->plugins[0], "testkit");
    rb_playbook_free(pb);

    /* The same playbook without the plugin on the path. */
    assert_null(rb_playbook_load(path, empty_reg, NULL, &err));
    assert_contains(err, "plug.lua:2: plugin \"testkit\" not found in the plugin path");
    free(err);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_metadata_and_steps),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_retry_out_of_int_range),
        cmocka_unit_test(test_step_file_is_full_path),
        cmocka_unit_test(test_check_params),
        cmocka_unit_test(test_number_param_must_be_finite),
        cmocka_unit_test(test_lua_to_value),
        cmocka_unit_test(test_lua_to_value_errors),
        cmocka_unit_test(test_lua_to_value_holey_table),
        cmocka_unit_test(test_lua_to_value_invalid_utf8_is_bytes),
        cmocka_unit_test(test_push_value_round_trip),
        cmocka_unit_test(test_sandbox_libraries),
        cmocka_unit_test(test_sandbox_load_refuses_binary),
        cmocka_unit_test(test_sandbox_load_text_chunk_sees_globals),
        cmocka_unit_test(test_sandbox_require),
        cmocka_unit_test(test_instruction_limit_at_load),
        cmocka_unit_test(test_memory_limit_at_load),
        cmocka_unit_test(test_instruction_limit_not_catchable),
        cmocka_unit_test(test_step_bodies),
        cmocka_unit_test(test_step_limits),
        cmocka_unit_test(test_step_plain_yield_is_error),
        cmocka_unit_test(test_step_declared_at_run_time_refused),
        cmocka_unit_test(test_frozen_ctx_cannot_be_changed),
        cmocka_unit_test(test_frozen_ctx_converts_to_its_values),
        cmocka_unit_test(test_plugin_lookup),
    };
    return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
