/* rb_value (core/values.h) and the string map (core/strmap.h): constructors,
 * map replace, deep copy and equality, the JSON round trip including bytes,
 * digest stability, ownership on the error paths (ASan's leak check is the
 * judge there), and a 10,000-key string map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strmap.h"
#include "core/util.h"
#include "core/values.h"

/* A value with every type in it, keys inserted in the given order. */
static rb_value *sample(int reversed)
{
    static const unsigned char raw[] = {0x00, 0xff, 0x10, 0x80, 0x7f};
    const char *keys[] = {"null", "flag", "n", "x", "s", "b", "list", "map"};
    rb_value *vals[8];
    vals[0] = rbv_null();
    vals[1] = rbv_bool(1);
    vals[2] = rbv_int(-42);
    vals[3] = rbv_double(2.5);
    vals[4] = rbv_string("h\xc3\xa9llo \"q\" \\ \n");
    vals[5] = rbv_bytes(raw, sizeof raw);
    vals[6] = rbv_list();
    rbv_list_append(vals[6], rbv_int(1));
    rbv_list_append(vals[6], rbv_string("two"));
    rbv_list_append(vals[6], rbv_list());
    vals[7] = rbv_map();
    rbv_map_set(vals[7], reversed ? "z" : "a", rbv_int(reversed ? 26 : 1));
    rbv_map_set(vals[7], reversed ? "a" : "z", rbv_int(reversed ? 1 : 26));
    rb_value *m = rbv_map();
    for (int k = 0; k < 8; k++) {
        int i = reversed ? 7 - k : k;
        rbv_map_set(m, keys[i], vals[i]);
    }
    return m;
}

static void test_constructors_and_getters(void **state)
{
    (void)state;
    rb_value *v = rbv_int(7);
    assert_int_equal(rbv_type(v), RB_VINT);
    assert_int_equal(rbv_as_int(v), 7);
    assert_true(rbv_as_double(v) == 7.0);
    assert_null(rbv_as_string(v));
    assert_int_equal(rbv_as_bool(v), 0); /* no truthiness: only booleans */
    rbv_free(v);

    v = rbv_bool(42);
    assert_int_equal(rbv_as_bool(v), 1);
    rbv_free(v);

    /* string_n keeps an embedded NUL and its length. */
    v = rbv_string_n("a\0b", 3);
    size_t n = 0;
    const char *p = rbv_as_bytes(v, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "a\0b", 3);
    rbv_free(v);

    v = rbv_string(NULL);
    assert_string_equal(rbv_as_string(v), "");
    rbv_free(v);

    static const unsigned char raw[] = {1, 0, 2};
    v = rbv_bytes(raw, 3);
    assert_int_equal(rbv_type(v), RB_VBYTES);
    assert_null(rbv_as_string(v)); /* bytes are not a string */
    p = rbv_as_bytes(v, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(p, raw, 3);
    rbv_free(v);

    /* Type names are what error messages show. */
    assert_string_equal(rbv_type_name(RB_VDOUBLE), "number");
    assert_string_equal(rbv_type_name(RB_VMAP), "map");
    assert_int_equal(rbv_type(NULL), RB_VNULL);
    assert_int_equal(rbv_len(NULL), 0);
}

static void test_map_set_replace_keeps_order(void **state)
{
    (void)state;
    rb_value *m = rbv_map();
    assert_int_equal(rbv_map_set(m, "b", rbv_int(1)), RB_OK);
    assert_int_equal(rbv_map_set(m, "a", rbv_int(2)), RB_OK);
    assert_int_equal(rbv_map_set(m, "b", rbv_string("three")), RB_OK);
    assert_int_equal(rbv_len(m), 2);
    assert_string_equal(rbv_map_key_at(m, 0), "b");
    assert_string_equal(rbv_map_key_at(m, 1), "a");
    assert_string_equal(rbv_map_get_string(m, "b", NULL), "three");
    assert_int_equal(rbv_map_get_int(m, "a", -1), 2);
    assert_int_equal(rbv_map_get_int(m, "b", -1), -1); /* a string is no int */
    assert_int_equal(rbv_map_get_int(m, "missing", -5), -5);
    assert_int_equal(rbv_map_get_bool(m, "a", 1), 1);  /* an int is no bool */
    assert_null(rbv_map_get(m, NULL));
    assert_null(rbv_map_key_at(m, 2));
    assert_null(rbv_map_value_at(m, 2));

    /* Many keys: the map grows and keeps every one. */
    for (int i = 0; i < 1000; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        rbv_map_set(m, k, rbv_int(i));
    }
    assert_int_equal(rbv_len(m), 1002);
    assert_int_equal(rbv_map_get_int(m, "k999", -1), 999);
    assert_string_equal(rbv_map_key_at(m, 2), "k0");
    rbv_free(m);
}

/* Setters take ownership of the item also when they fail: no leaks here. */
static void test_setters_own_item_on_failure(void **state)
{
    (void)state;
    rb_value *l = rbv_list();
    rb_value *m = rbv_map();
    assert_int_equal(rbv_map_set(l, "k", rbv_string("leak?")), RB_EINVAL);
    assert_int_equal(rbv_map_set(m, NULL, rbv_string("leak?")), RB_EINVAL);
    assert_int_equal(rbv_map_set(NULL, "k", rbv_string("leak?")), RB_EINVAL);
    assert_int_equal(rbv_list_append(m, rbv_string("leak?")), RB_EINVAL);
    assert_int_equal(rbv_list_append(NULL, rbv_string("leak?")), RB_EINVAL);
    assert_int_equal(rbv_list_append(l, NULL), RB_EINVAL);
    assert_int_equal(rbv_map_set(m, "k", NULL), RB_EINVAL);
    assert_int_equal(rbv_len(l), 0);
    assert_int_equal(rbv_len(m), 0);
    rbv_free(l);
    rbv_free(m);
}

static void test_copy_is_deep(void **state)
{
    (void)state;
    rb_value *a = sample(0);
    rb_value *b = rbv_copy(a);
    assert_true(rbv_equal(a, b));
    /* Changing the copy's nested map leaves the original alone. */
    rbv_map_set((rb_value *)rbv_map_get(b, "map"), "a", rbv_int(100));
    assert_false(rbv_equal(a, b));
    assert_int_equal(rbv_map_get_int(rbv_map_get(a, "map"), "a", -1), 1);
    rbv_free(a);
    rbv_free(b);

    rb_value *n = rbv_copy(NULL);
    assert_int_equal(rbv_type(n), RB_VNULL);
    rbv_free(n);
}

static void test_equal(void **state)
{
    (void)state;
    rb_value *a = sample(0), *b = sample(1);
    assert_true(rbv_equal(a, b)); /* maps are unordered */
    rbv_free(b);

    /* A different value anywhere makes them differ. */
    b = sample(1);
    rbv_map_set(b, "x", rbv_double(2.25));
    assert_false(rbv_equal(a, b));
    rbv_free(b);

    /* An extra key differs, and so does a missing one (either way round). */
    b = sample(1);
    rbv_map_set(b, "extra", rbv_null());
    assert_false(rbv_equal(a, b));
    assert_false(rbv_equal(b, a));
    rbv_free(b);

    /* Lists are ordered. */
    rb_value *l1 = rbv_list(), *l2 = rbv_list();
    rbv_list_append(l1, rbv_int(1));
    rbv_list_append(l1, rbv_int(2));
    rbv_list_append(l2, rbv_int(2));
    rbv_list_append(l2, rbv_int(1));
    assert_false(rbv_equal(l1, l2));
    rbv_free(l1);
    rbv_free(l2);

    /* Numbers compare by value across int/double; strings and bytes differ. */
    rb_value *i = rbv_int(3), *d = rbv_double(3.0), *d2 = rbv_double(3.5);
    assert_true(rbv_equal(i, d));
    assert_false(rbv_equal(i, d2));
    rb_value *s = rbv_string("ab"), *by = rbv_bytes("ab", 2), *s2 = rbv_string_n("ab\0", 3);
    assert_false(rbv_equal(s, by));
    assert_false(rbv_equal(s, s2));
    rb_value *t = rbv_bool(1), *one = rbv_int(1);
    assert_false(rbv_equal(t, one));
    rbv_free(i);
    rbv_free(d);
    rbv_free(d2);
    rbv_free(s);
    rbv_free(by);
    rbv_free(s2);
    rbv_free(t);
    rbv_free(one);
    rbv_free(a);
}

/* A key mapped to null is not the same as a different key mapped to null.
 * BUG: values.c:301 compares a's value with rbv_map_get(b, key), which is
 * NULL when b lacks the key, and rbv_equal treats NULL as a null value, so
 * {"a": null} equals {"b": null} (and {"a": null, "x": 1} equals
 * {"b": null, "x": 1}). Suggested fix: in the RB_VMAP case, fetch
 * `const rb_value *bv = rbv_map_get(b, a->u.c.keys[i]);` and return 0 when
 * bv is NULL before comparing. */
static void test_equal_maps_with_null_values(void **state)
{
    (void)state;
    rb_value *m1 = rbv_map(), *m2 = rbv_map();
    rbv_map_set(m1, "a", rbv_null());
    rbv_map_set(m1, "x", rbv_int(1));
    rbv_map_set(m2, "b", rbv_null());
    rbv_map_set(m2, "x", rbv_int(1));
    int eq = rbv_equal(m1, m2);
    rbv_free(m1);
    rbv_free(m2);
    assert_false(eq);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    rb_value *a = sample(0);
    char *text = rbv_to_json_text(a);
    rb_value *back = rbv_from_json_text(text);
    assert_non_null(back);
    if (!rbv_equal(a, back))
        fail_msg("round trip changed the value: %s", text);
    assert_int_equal(rbv_type(rbv_map_get(back, "b")), RB_VBYTES);
    assert_int_equal(rbv_type(rbv_map_get(back, "n")), RB_VINT);
    assert_int_equal(rbv_type(rbv_map_get(back, "x")), RB_VDOUBLE);
    /* The bytes encoding is documented: {"$bytes": base64}. */
    cJSON *j = cJSON_Parse(text);
    const cJSON *b = cJSON_GetObjectItem(j, "b");
    assert_true(cJSON_IsObject(b));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(b, "$bytes")), "AP8QgH8=");
    cJSON_Delete(j);
    free(text);
    rbv_free(back);
    rbv_free(a);

    /* Invalid JSON is NULL; a NULL tree is a null value. */
    assert_null(rbv_from_json_text("{\"a\":"));
    rb_value *n = rbv_from_json(NULL);
    assert_int_equal(rbv_type(n), RB_VNULL);
    rbv_free(n);
}

/* Every padding case of base64 (length mod 3), and bytes that are all
 * zeros, survive the JSON round trip with their exact length. */
static void test_json_bytes_every_length(void **state)
{
    (void)state;
    unsigned char buf[64];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 0; len <= 10; len++) {
        for (int zeros = 0; zeros < 2; zeros++) {
            unsigned char data[16];
            memcpy(data, buf, len);
            if (zeros)
                memset(data, 0, len);
            rb_value *v = rbv_bytes(data, len);
            char *text = rbv_to_json_text(v);
            rb_value *back = rbv_from_json_text(text);
            size_t n = 99;
            const void *p = rbv_as_bytes(back, &n);
            if (rbv_type(back) != RB_VBYTES || n != len || (len && memcmp(p, data, len) != 0))
                fail_msg("bytes of length %zu (zeros=%d) came back as %s of length %zu from %s",
                         len, zeros, rbv_type_name(rbv_type(back)), n, text);
            free(text);
            rbv_free(back);
            rbv_free(v);
        }
    }
}

/* Integers are 64-bit; the journal stores step outputs as JSON and gives
 * them back on resume, so an integer must come back as the same integer.
 * BUG: values.c:346 converts every int to a double for cJSON, and cJSON
 * prints doubles with 15 significant digits whenever that reads back within
 * a relative epsilon, so integers from about 2^52 up lose their low digits
 * (2^53+1 comes back as 9007199254740990), and beyond 2^53 they come back
 * as doubles (values.c:374).
 * Suggested fix: write ints with |i| > 2^53 as raw digits (cJSON_CreateRaw
 * with "%lld") and, when reading, re-parse a number whose text is an
 * integer with strtoll instead of trusting valuedouble (or keep big
 * integers as strings). */
static void test_json_int64_round_trip(void **state)
{
    (void)state;
    const int64_t cases[] = {0, -1, 9007199254740993LL /* 2^53 + 1 */,
                             1732531166123456789LL /* a nanosecond timestamp */, INT64_MAX,
                             INT64_MIN};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rb_value *v = rbv_int(cases[k]);
        char *text = rbv_to_json_text(v);
        rb_value *back = rbv_from_json_text(text);
        int ok = rbv_type(back) == RB_VINT && rbv_as_int(back) == cases[k];
        char msg[256];
        snprintf(msg, sizeof msg, "integer %lld came back as %s %.17g (JSON %s)",
                 (long long)cases[k], rbv_type_name(rbv_type(back)), rbv_as_double(back), text);
        free(text);
        rbv_free(back);
        rbv_free(v);
        if (!ok)
            fail_msg("%s", msg);
    }
}

/* Doubles must come back bit for bit (step outputs are replayed from the
 * journal on resume).
 * BUG: same root as above: cJSON's print_number (used by values.c:347 and
 * rbv_to_json_text) writes "%1.15g" when that reads back within a relative
 * DBL_EPSILON, so 0.1 + 0.2 = 0.30000000000000004 is written as 0.3.
 * Suggested fix: write doubles with "%.17g" (cJSON_CreateRaw, or a cJSON
 * built with a 17-digit print) so they round-trip exactly. */
static void test_json_double_round_trip(void **state)
{
    (void)state;
    volatile double a = 0.1, b = 0.2;
    const double cases[] = {0.1, 1.0 / 3.0, a + b, 1e300, -2.5e-308, 123456.789};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rb_value *v = rbv_double(cases[k]);
        char *text = rbv_to_json_text(v);
        rb_value *back = rbv_from_json_text(text);
        int ok = rbv_as_double(back) == cases[k];
        char msg[256];
        snprintf(msg, sizeof msg, "double %.17g came back as %.17g (JSON %s)", cases[k],
                 rbv_as_double(back), text);
        free(text);
        rbv_free(back);
        rbv_free(v);
        if (!ok)
            fail_msg("%s", msg);
    }
}

static void test_json_special_doubles(void **state)
{
    (void)state;
    /* NaN and infinities have no JSON form: null, and still valid JSON. */
    rb_value *l = rbv_list();
    rbv_list_append(l, rbv_double(NAN));
    rbv_list_append(l, rbv_double(INFINITY));
    rbv_list_append(l, rbv_double(0.1));
    char *text = rbv_to_json_text(l);
    rb_value *back = rbv_from_json_text(text);
    assert_non_null(back);
    assert_int_equal(rbv_type(rbv_list_get(back, 0)), RB_VNULL);
    assert_int_equal(rbv_type(rbv_list_get(back, 1)), RB_VNULL);
    assert_true(rbv_as_double(rbv_list_get(back, 2)) == 0.1);
    free(text);
    rbv_free(back);
    rbv_free(l);
}

static void test_as_int_on_doubles(void **state)
{
    (void)state;
    const struct {
        double d;
        int64_t want;
    } cases[] = {{2.9, 2}, {-2.9, -2}, {0.0, 0}, {1e15, 1000000000000000LL},
                 {NAN, 0}, {INFINITY, 0}, {-INFINITY, 0}, {1e19, 0}, {-1e19, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rb_value *v = rbv_double(cases[k].d);
        if (rbv_as_int(v) != cases[k].want)
            fail_msg("rbv_as_int(%g) = %lld, want %lld", cases[k].d, (long long)rbv_as_int(v),
                     (long long)cases[k].want);
        rbv_free(v);
    }
    rb_value *s = rbv_string("12");
    assert_int_equal(rbv_as_int(s), 0); /* no parsing of strings */
    rbv_free(s);
    assert_int_equal(rbv_as_int(NULL), 0);

    rb_value *m = rbv_map();
    rbv_map_set(m, "d", rbv_double(7.75));
    assert_int_equal(rbv_map_get_int(m, "d", -1), 7);
    rbv_free(m);
}

static void digest_of(const rb_value *v, char out[65])
{
    memset(out, 'X', 65);
    rbv_digest(v, out);
    assert_int_equal(strlen(out), 64);
    for (int i = 0; i < 64; i++)
        assert_non_null(strchr("0123456789abcdef", out[i]));
}

static void test_digest_stable_and_sensitive(void **state)
{
    (void)state;
    char d1[65], d2[65], d3[65];
    rb_value *a = sample(0), *b = sample(1);
    digest_of(a, d1);
    digest_of(b, d2);
    assert_string_equal(d1, d2); /* key order does not matter */
    digest_of(a, d3);
    assert_string_equal(d1, d3); /* and it is repeatable */
    rbv_free(b);

    /* Any changed value, nested or not, changes it. */
    b = rbv_copy(a);
    rbv_map_set((rb_value *)rbv_map_get(b, "map"), "z", rbv_int(27));
    digest_of(b, d2);
    assert_string_not_equal(d1, d2);
    rbv_free(b);
    b = rbv_copy(a);
    rbv_map_set(b, "s", rbv_string("other"));
    digest_of(b, d2);
    assert_string_not_equal(d1, d2);
    rbv_free(b);

    /* Shapes that a naive concatenation would confuse. */
    struct {
        const char *x, *y;
    } pairs[] = {
        {"{\"a\":\"bc\"}", "{\"ab\":\"c\"}"},
        {"[\"ab\"]", "[\"a\",\"b\"]"},
        {"[[1],2]", "[[1,2]]"},
        {"{\"a\":{\"b\":1}}", "{\"a\":{},\"b\":1}"},
        {"\"1\"", "1"},
        {"[]", "{}"},
        {"true", "\"t\""},
        {"null", "[]"},
    };
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        rb_value *x = rbv_from_json_text(pairs[k].x), *y = rbv_from_json_text(pairs[k].y);
        digest_of(x, d2);
        digest_of(y, d3);
        if (strcmp(d2, d3) == 0)
            fail_msg("%s and %s have the same digest", pairs[k].x, pairs[k].y);
        rbv_free(x);
        rbv_free(y);
    }
    /* Bytes and a string with the same content differ (types differ). */
    rb_value *s = rbv_string("abc"), *by = rbv_bytes("abc", 3);
    digest_of(s, d2);
    digest_of(by, d3);
    assert_string_not_equal(d2, d3);
    rbv_free(s);
    rbv_free(by);
    rbv_free(a);
}

/* values.h: the digest is "SHA-256 of the canonical JSON form", and input
 * digests are stored in the journal while the values themselves come back
 * from it as JSON. So a value and its JSON round trip must digest alike.
 * BUG: values.c:429-445 digests a type tag plus "%.17g", not the JSON form:
 * double 2.0 and int 2 (rbv_equal says equal; JSON writes both as 2, and
 * reading it back gives int 2) digest differently, so a "number" param
 * (typed as a double by rb_playbook_check_params) has a different digest
 * after a resume, which reads params back from the run record.
 * Suggested fix: in digest_update, hash an integral double within +-2^53 as
 * the integer it equals (tag RB_VINT), or hash the actual canonical JSON
 * text as the header promises; or change the header if the tagged form is
 * intended. */
static void test_digest_survives_json_round_trip(void **state)
{
    (void)state;
    rb_value *m = rbv_map();
    rbv_map_set(m, "count", rbv_double(2.0));
    rbv_map_set(m, "name", rbv_string("vault"));
    char *text = rbv_to_json_text(m);
    rb_value *back = rbv_from_json_text(text);
    assert_true(rbv_equal(m, back));
    char d1[65], d2[65];
    digest_of(m, d1);
    digest_of(back, d2);
    int same = strcmp(d1, d2) == 0;
    char msg[256];
    snprintf(msg, sizeof msg, "digest changed across a JSON round trip of %s: %.12s... vs %.12s...",
             text, d1, d2);
    free(text);
    rbv_free(back);
    rbv_free(m);
    if (!same)
        fail_msg("%s", msg);
}

/* --- strmap ---------------------------------------------------------------- */

static void test_strmap_10000_keys(void **state)
{
    (void)state;
    enum { N = 10000 };
    char **keys = rb_xcalloc(N, sizeof *keys);
    rb_strmap m;
    rb_strmap_init(&m, 0); /* grows from the minimum */
    for (size_t i = 0; i < N; i++) {
        keys[i] = rb_xasprintf("step-%zu", i);
        assert_int_equal(rb_strmap_put(&m, keys[i], i, NULL), 0);
    }
    assert_int_equal(m.n, N);
    assert_true(m.cap >= 2 * N);
    for (size_t i = 0; i < N; i++) {
        size_t v = (size_t)-1;
        char probe[32];
        snprintf(probe, sizeof probe, "step-%zu", i); /* a different pointer, same text */
        assert_int_equal(rb_strmap_get(&m, probe, &v), 1);
        assert_int_equal(v, i);
    }
    size_t v = 12345;
    assert_int_equal(rb_strmap_get(&m, "step-10000", &v), 0);
    assert_int_equal(rb_strmap_get(&m, "", &v), 0);
    assert_int_equal(v, 12345);

    /* A duplicate reports the old value and keeps it. */
    size_t old = 0;
    char dup[] = "step-77";
    assert_int_equal(rb_strmap_put(&m, dup, 999, &old), 1);
    assert_int_equal(old, 77);
    assert_int_equal(rb_strmap_put(&m, dup, 999, NULL), 1);
    assert_int_equal(rb_strmap_get(&m, "step-77", &v), 1);
    assert_int_equal(v, 77);
    assert_int_equal(m.n, N);

    rb_strmap_free(&m);
    assert_int_equal(m.n, 0);
    for (size_t i = 0; i < N; i++)
        free(keys[i]);
    free(keys);
}

static void test_strmap_zeroed_and_small(void **state)
{
    (void)state;
    rb_strmap m;
    memset(&m, 0, sizeof m);
    size_t v;
    assert_int_equal(rb_strmap_get(&m, "a", &v), 0); /* never initialised */
    assert_int_equal(rb_strmap_put(&m, "a", 1, NULL), 0);
    assert_int_equal(rb_strmap_put(&m, "", 2, NULL), 0); /* the empty key is a key */
    assert_int_equal(rb_strmap_get(&m, "a", &v), 1);
    assert_int_equal(v, 1);
    assert_int_equal(rb_strmap_get(&m, "", &v), 1);
    assert_int_equal(v, 2);
    rb_strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constructors_and_getters),
        cmocka_unit_test(test_map_set_replace_keeps_order),
        cmocka_unit_test(test_setters_own_item_on_failure),
        cmocka_unit_test(test_copy_is_deep),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_equal_maps_with_null_values),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_json_bytes_every_length),
        cmocka_unit_test(test_json_int64_round_trip),
        cmocka_unit_test(test_json_double_round_trip),
        cmocka_unit_test(test_json_special_doubles),
        cmocka_unit_test(test_as_int_on_doubles),
        cmocka_unit_test(test_digest_stable_and_sensitive),
        cmocka_unit_test(test_digest_survives_json_round_trip),
        cmocka_unit_test(test_strmap_10000_keys),
        cmocka_unit_test(test_strmap_zeroed_and_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
