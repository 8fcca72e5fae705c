/* Argument validation against an action's params table. The plugin here is
 * a table in this file: validation never calls into a plugin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/values.h"
#include "plugin/registry.h"

static rb_status run(rb_ctx *ctx, const rb_value *args, rb_value **out) { return RB_OK; }

static const rb_field params[] = {
    {.name = "vault", .type = RB_TSTRING, .required = 1, .help = "the vault"},
    {.name = "count", .type = RB_TINT, .default_json = "8", .help = "how many"},
    {.name = "ratio", .type = RB_TNUMBER, .help = "a number"},
    {.name = "force", .type = RB_TBOOL, .default_json = "false", .help = "a flag"},
    {.name = "blob", .type = RB_TBYTES, .help = "bytes"},
    {.name = "tags", .type = RB_TMAP, .default_json = "{\"a\": 1}", .help = "a map"},
    {.name = "names", .type = RB_TLIST, .help = "a list"},
    {.name = "extra", .type = RB_TANY, .help = "anything"},
    {0},
};

static const rb_action actions[] = {
    {.name = "backup", .effect = RB_EFFECT_WRITE, .params = params, .run = run, .plan = run},
    {.name = "bare", .effect = RB_EFFECT_READ, .run = run},
};

static const rb_plugin def = {
    RB_PLUGIN_HEADER,
    .name = "keyvault",
    .version = "1.0.0",
    RB_PLUGIN_ACTIONS(actions),
};

static const rb_loaded_plugin plugin = {.path = "keyvault.so", .def = &def};

static char err[512];

static rb_value *validate(const rb_action *a, const char *json)
{
    rb_value *in = json ? rbv_from_json_text(json) : NULL;
    if (json)
        assert_non_null(in);
    rb_value *out = rb_validate_args(&plugin, a, in, err, sizeof err);
    rbv_free(in);
    return out;
}

static void test_defaults_filled(void **state)
{
    rb_value *out = validate(&actions[0], "{\"vault\": \"kv1\"}");
    assert_non_null(out);
    assert_string_equal(err, "");
    assert_string_equal(rbv_map_get_string(out, "vault", ""), "kv1");
    assert_int_equal(rbv_type(rbv_map_get(out, "count")), RB_VINT);
    assert_int_equal(rbv_map_get_int(out, "count", 0), 8);
    assert_int_equal(rbv_type(rbv_map_get(out, "force")), RB_VBOOL);
    assert_false(rbv_map_get_bool(out, "force", 1));
    assert_int_equal(rbv_map_get_int(rbv_map_get(out, "tags"), "a", 0), 1);
    /* Optional parameters without a default stay absent. */
    assert_null(rbv_map_get(out, "ratio"));
    assert_int_equal(rbv_len(out), 4);
    rbv_free(out);
}

static void test_given_values_win(void **state)
{
    rb_value *out = validate(&actions[0], "{\"vault\": \"kv1\", \"count\": 3, \"force\": true, "
                                          "\"names\": [\"a\"], \"extra\": null}");
    assert_non_null(out);
    assert_int_equal(rbv_map_get_int(out, "count", 0), 3);
    assert_true(rbv_map_get_bool(out, "force", 0));
    assert_int_equal(rbv_len(rbv_map_get(out, "names")), 1);
    /* An explicit null means "not given". */
    assert_null(rbv_map_get(out, "extra"));
    rbv_free(out);
}

static void test_unknown_param(void **state)
{
    assert_null(validate(&actions[0], "{\"vault\": \"kv1\", \"vualt\": \"x\"}"));
    assert_string_equal(err, "keyvault.backup: unknown parameter \"vualt\" (parameters: vault, "
                             "count, ratio, force, blob, tags, names, extra)");
    assert_null(validate(&actions[1], "{\"x\": 1}"));
    assert_string_equal(err, "keyvault.bare: unknown parameter \"x\" (parameters: (none))");
}

static void test_missing_required(void **state)
{
    assert_null(validate(&actions[0], "{\"count\": 1}"));
    assert_string_equal(err, "keyvault.backup: missing required parameter \"vault\" (string)");
    assert_null(validate(&actions[0], NULL));
    assert_string_equal(err, "keyvault.backup: missing required parameter \"vault\" (string)");
    assert_null(validate(&actions[0], "{\"vault\": null}"));
}

static void test_wrong_type(void **state)
{
    assert_null(validate(&actions[0], "{\"vault\": 7}"));
    assert_string_equal(err, "keyvault.backup: parameter \"vault\" must be a string, got integer");
    assert_null(validate(&actions[0], "{\"vault\": \"kv\", \"count\": \"8\"}"));
    assert_string_equal(err, "keyvault.backup: parameter \"count\" must be an integer, got string");
    assert_null(validate(&actions[0], "{\"vault\": \"kv\", \"count\": 2.5}"));
    assert_string_equal(err, "keyvault.backup: parameter \"count\" must be an integer, got number");
    assert_null(validate(&actions[0], "{\"vault\": \"kv\", \"force\": 1}"));
    assert_string_equal(err, "keyvault.backup: parameter \"force\" must be a boolean, got integer");
    assert_null(validate(&actions[0], "{\"vault\": \"kv\", \"tags\": []}"));
    assert_string_equal(err, "keyvault.backup: parameter \"tags\" must be a map, got list");
    assert_null(validate(&actions[0], "{\"vault\": \"kv\", \"names\": {}}"));
    assert_string_equal(err, "keyvault.backup: parameter \"names\" must be a list, got map");
    assert_null(validate(&actions[0], "[1, 2]"));
    assert_string_equal(err, "keyvault.backup: arguments must be a map, got list");
}

static void test_numbers(void **state)
{
    /* number accepts integers and doubles, and keeps what it was given. */
    rb_value *out = validate(&actions[0], "{\"vault\": \"kv\", \"ratio\": 2}");
    assert_non_null(out);
    assert_int_equal(rbv_type(rbv_map_get(out, "ratio")), RB_VINT);
    rbv_free(out);
    out = validate(&actions[0], "{\"vault\": \"kv\", \"ratio\": 0.5}");
    assert_non_null(out);
    assert_int_equal(rbv_type(rbv_map_get(out, "ratio")), RB_VDOUBLE);
    rbv_free(out);
    /* An integral double (Lua's 1e3) is an integer, normalised to one. */
    out = validate(&actions[0], "{\"vault\": \"kv\", \"count\": 1000.0}");
    assert_non_null(out);
    assert_int_equal(rbv_type(rbv_map_get(out, "count")), RB_VINT);
    assert_int_equal(rbv_map_get_int(out, "count", 0), 1000);
    rbv_free(out);
}

static void test_bytes_and_any(void **state)
{
    rb_value *in = rbv_map();
    rbv_map_set(in, "vault", rbv_string("kv"));
    rbv_map_set(in, "blob", rbv_bytes("\0\1\2", 3));
    rbv_map_set(in, "extra", rbv_list());
    rb_value *out = rb_validate_args(&plugin, &actions[0], in, err, sizeof err);
    assert_non_null(out);
    size_t n = 0;
    assert_memory_equal(rbv_as_bytes(rbv_map_get(out, "blob"), &n), "\0\1\2", 3);
    assert_int_equal(n, 3);
    rbv_free(out);
    /* A string is fine where bytes are expected (Lua strings are bytes). */
    rbv_map_set(in, "blob", rbv_string("abc"));
    out = rb_validate_args(&plugin, &actions[0], in, err, sizeof err);
    assert_non_null(out);
    rbv_free(out);
    rbv_free(in);
}

static void test_small_error_buffer(void **state)
{
    rb_value *in = rbv_from_json_text("{\"vault\": 1}");
    char small[8];
    assert_null(rb_validate_args(&plugin, &actions[0], in, small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_null(rb_validate_args(&plugin, &actions[0], in, NULL, 0));
    rbv_free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_filled),
        cmocka_unit_test(test_given_values_win),
        cmocka_unit_test(test_unknown_param),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_bytes_and_any),
        cmocka_unit_test(test_small_error_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
