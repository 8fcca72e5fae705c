/* The step graph (engine/graph.h), built from playbooks written by hand:
 * layers, topological order, the error texts for duplicate names, unknown
 * needs and cycles, deduplicated needs, and the critical path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "engine/graph.h"

/* A playbook from a spec like "a:; b:a; c:a,b" (name:needs, comma separated;
 * step i is declared at pb.lua:10+i). Free with free_pb. */
static rb_playbook *make_pb(const char *spec)
{
    rb_playbook *pb = rb_xcalloc(1, sizeof *pb);
    char *copy = rb_xstrdup(spec);
    char *save = NULL;
    for (char *item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        while (*item == ' ')
            item++;
        char *colon = strchr(item, ':');
        assert_non_null(colon);
        *colon = '\0';
        pb->steps = rb_xrealloc(pb->steps, (pb->n_steps + 1) * sizeof *pb->steps);
        rb_step *s = &pb->steps[pb->n_steps];
        memset(s, 0, sizeof *s);
        s->name = rb_xstrdup(item);
        s->file = rb_xstrdup("pb.lua");
        s->line = 10 + (int)pb->n_steps;
        char *save2 = NULL;
        for (char *need = strtok_r(colon + 1, ",", &save2); need;
             need = strtok_r(NULL, ",", &save2)) {
            s->needs = rb_xrealloc(s->needs, (s->n_needs + 1) * sizeof *s->needs);
            s->needs[s->n_needs++] = rb_xstrdup(need);
        }
        pb->n_steps++;
    }
    free(copy);
    return pb;
}

static void free_pb(rb_playbook *pb)
{
    for (size_t i = 0; i < pb->n_steps; i++) {
        free(pb->steps[i].name);
        free(pb->steps[i].file);
        for (size_t k = 0; k < pb->steps[i].n_needs; k++)
            free(pb->steps[i].needs[k]);
        free(pb->steps[i].needs);
    }
    free(pb->steps);
    free(pb);
}

static size_t index_of(const rb_playbook *pb, const char *name)
{
    for (size_t i = 0; i < pb->n_steps; i++)
        if (strcmp(pb->steps[i].name, name) == 0)
            return i;
    fail_msg("no step %s", name);
    return 0;
}

/* Every edge goes forward in g->order, and order is a permutation. */
static void assert_topological(const rb_playbook *pb, const rb_graph *g)
{
    size_t *pos = rb_xcalloc(g->n, sizeof *pos);
    unsigned char *seen = rb_xcalloc(g->n, 1);
    for (size_t k = 0; k < g->n; k++) {
        assert_true(g->order[k] < g->n);
        assert_false(seen[g->order[k]]);
        seen[g->order[k]] = 1;
        pos[g->order[k]] = k;
    }
    for (size_t i = 0; i < g->n; i++)
        for (size_t d = 0; d < g->n_deps[i]; d++)
            if (pos[g->deps[i][d]] >= pos[i])
                fail_msg("%s comes before its need %s", pb->steps[i].name,
                         pb->steps[g->deps[i][d]].name);
    free(pos);
    free(seen);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("\"%s\" does not contain \"%s\"", hay ? hay : "(null)", needle);
}

static void test_layers_and_order(void **state)
{
    (void)state;
    /* Declared in an order that is not topological on purpose. */
    rb_playbook *pb = make_pb("verify:restore,backup; restore:backup; backup:; cleanup:verify; "
                              "audit:; report:audit,verify");
    char *err = NULL;
    rb_graph *g = rb_graph_build(pb, &err);
    assert_null(err);
    assert_non_null(g);
    assert_int_equal(g->n, 6);
    assert_topological(pb, g);
    assert_int_equal(g->layer[index_of(pb, "backup")], 0);
    assert_int_equal(g->layer[index_of(pb, "audit")], 0);
    assert_int_equal(g->layer[index_of(pb, "restore")], 1);
    assert_int_equal(g->layer[index_of(pb, "verify")], 2); /* longest distance, not shortest */
    assert_int_equal(g->layer[index_of(pb, "cleanup")], 3);
    assert_int_equal(g->layer[index_of(pb, "report")], 3);
    assert_int_equal(g->n_layers, 4);

    /* Reverse edges match the forward ones. */
    size_t b = index_of(pb, "backup");
    assert_int_equal(g->n_rdeps[b], 2);
    assert_int_equal(g->n_deps[index_of(pb, "verify")], 2);
    rb_graph_free(g);
    free_pb(pb);
}

static void test_large_chain_and_fan(void **state)
{
    (void)state;
    /* 2,000 steps: a chain of 1,000 plus 1,000 leaves all needing the root. */
    rb_buf b = {0};
    for (int i = 0; i < 1000; i++) {
        if (i == 0)
            rb_buf_puts(&b, "s0:;");
        else
            rb_buf_printf(&b, "s%d:s%d;", i, i - 1);
    }
    for (int i = 0; i < 1000; i++)
        rb_buf_printf(&b, "leaf%d:s0;", i);
    rb_playbook *pb = make_pb(b.p);
    rb_buf_free(&b);
    char *err = NULL;
    rb_graph *g = rb_graph_build(pb, &err);
    assert_non_null(g);
    assert_topological(pb, g);
    assert_int_equal(g->n_layers, 1000);
    assert_int_equal(g->layer[index_of(pb, "s999")], 999);
    assert_int_equal(g->layer[index_of(pb, "leaf500")], 1);
    assert_int_equal(g->n_rdeps[0], 1001);
    rb_graph_free(g);
    free_pb(pb);
}

static void test_empty_playbook(void **state)
{
    (void)state;
    rb_playbook pb;
    memset(&pb, 0, sizeof pb);
    char *err = NULL;
    rb_graph *g = rb_graph_build(&pb, &err);
    assert_non_null(g);
    assert_int_equal(g->n, 0);
    assert_int_equal(g->n_layers, 0);
    size_t *path = (size_t *)1, n = 9;
    double total = -1;
    rb_graph_critical_path(g, NULL, &path, &n, &total);
    assert_null(path);
    assert_int_equal(n, 0);
    assert_true(total == 0);
    rb_graph_free(g);
}

static void test_duplicate_name(void **state)
{
    (void)state;
    rb_playbook *pb = make_pb("a:; b:a; a:b");
    char *err = NULL;
    assert_null(rb_graph_build(pb, &err));
    assert_string_equal(err, "duplicate step \"a\": declared at pb.lua:10 and again at pb.lua:12");
    free(err);
    free_pb(pb);
}

static void test_unknown_need(void **state)
{
    (void)state;
    rb_playbook *pb = make_pb("a:; b:a,restor");
    char *err = NULL;
    assert_null(rb_graph_build(pb, &err));
    assert_string_equal(err, "step \"b\" (pb.lua:11) needs \"restor\", which is not a step of "
                             "this playbook");
    free(err);
    free_pb(pb);
}

static void test_needs_deduplicated(void **state)
{
    (void)state;
    rb_playbook *pb = make_pb("a:; b:a,a,a; c:b,a,b");
    char *err = NULL;
    rb_graph *g = rb_graph_build(pb, &err);
    assert_non_null(g);
    assert_int_equal(g->n_deps[1], 1);
    assert_int_equal(g->n_deps[2], 2);
    assert_int_equal(g->n_rdeps[0], 2); /* b and c, each once */
    assert_int_equal(g->n_rdeps[1], 1);
    assert_int_equal(g->layer[2], 2);
    assert_topological(pb, g);
    rb_graph_free(g);
    free_pb(pb);
}

static void test_self_loop(void **state)
{
    (void)state;
    rb_playbook *pb = make_pb("a:; b:b");
    char *err = NULL;
    assert_null(rb_graph_build(pb, &err));
    assert_string_equal(err, "dependency cycle: \"b\" (pb.lua:11) needs \"b\"");
    free(err);
    free_pb(pb);
}

static void test_two_cycle(void **state)
{
    (void)state;
    rb_playbook *pb = make_pb("a:b; b:a");
    char *err = NULL;
    assert_null(rb_graph_build(pb, &err));
    assert_string_equal(err, "dependency cycle: \"a\" (pb.lua:10) needs \"b\" (pb.lua:11) needs "
                             "\"a\"");
    free(err);
    free_pb(pb);
}

/* A 3-cycle inside a larger graph: the message names exactly the cycle's
 * steps, not the healthy steps leading into or out of it. */
static void test_three_cycle_in_larger_graph(void **state)
{
    (void)state;
    rb_playbook *pb = make_pb("root:; feed:root; x:feed,z; y:x; z:y; after:z; other:root");
    char *err = NULL;
    assert_null(rb_graph_build(pb, &err));
    assert_non_null(err);
    assert_contains(err, "dependency cycle: ");
    assert_contains(err, "\"x\" (pb.lua:12)");
    assert_contains(err, "\"y\" (pb.lua:13)");
    assert_contains(err, "\"z\" (pb.lua:14)");
    /* It starts and ends at the same step, with three "needs" between. */
    const char *first = strchr(err, '"');
    const char *last = strrchr(err, '"');
    char *name_first = rb_xstrndup(first + 1, (size_t)(strchr(first + 1, '"') - first - 1));
    const char *open_last = last - 1;
    while (*open_last != '"')
        open_last--;
    char *name_last = rb_xstrndup(open_last + 1, (size_t)(last - open_last - 1));
    assert_string_equal(name_first, name_last);
    int needs = 0;
    for (const char *p = err; (p = strstr(p, " needs ")) != NULL; p++)
        needs++;
    assert_int_equal(needs, 3);
    for (const char *bad = "root feed after other"; *bad;) {
        char word[16];
        size_t n = strcspn(bad, " ");
        snprintf(word, sizeof word, "\"%.*s\"", (int)n, bad);
        if (strstr(err, word))
            fail_msg("cycle message names %s, which is not in the cycle: %s", word, err);
        bad += n;
        while (*bad == ' ')
            bad++;
    }
    free(name_first);
    free(name_last);
    free(err);
    free_pb(pb);
}

static void test_critical_path(void **state)
{
    (void)state;
    /*   a(1) -> b(5) -> d(1)
     *   a(1) -> c(2) -> d
     *   e(6)                    (alone: shorter than a-b-d = 7)
     *   f(0) -> g(0)            (zero durations) */
    rb_playbook *pb = make_pb("a:; b:a; c:a; d:b,c; e:; f:; g:f");
    char *err = NULL;
    rb_graph *g = rb_graph_build(pb, &err);
    assert_non_null(g);
    double dur[] = {1, 5, 2, 1, 6, 0, 0};
    size_t *path = NULL, n = 0;
    double total = 0;
    rb_graph_critical_path(g, dur, &path, &n, &total);
    assert_int_equal(n, 3);
    assert_int_equal(path[0], index_of(pb, "a"));
    assert_int_equal(path[1], index_of(pb, "b"));
    assert_int_equal(path[2], index_of(pb, "d"));
    assert_true(total == 7.0);
    free(path);

    /* Make the c branch longer: the path follows it. */
    dur[2] = 5.5;
    rb_graph_critical_path(g, dur, &path, &n, &total);
    assert_int_equal(n, 3);
    assert_int_equal(path[1], index_of(pb, "c"));
    assert_true(total == 7.5);
    free(path);

    /* Make the lone step the longest: a path of one. */
    dur[4] = 100;
    rb_graph_critical_path(g, dur, &path, &n, &total);
    assert_int_equal(n, 1);
    assert_int_equal(path[0], index_of(pb, "e"));
    assert_true(total == 100);
    free(path);

    /* Negative (unknown) durations count as 0. */
    double neg[] = {-1, -1, -1, -1, -1, -1, 2};
    rb_graph_critical_path(g, neg, &path, &n, &total);
    assert_true(total == 2);
    assert_int_equal(path[n - 1], index_of(pb, "g"));
    free(path);
    rb_graph_free(g);
    free_pb(pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layers_and_order),
        cmocka_unit_test(test_large_chain_and_fan),
        cmocka_unit_test(test_empty_playbook),
        cmocka_unit_test(test_duplicate_name),
        cmocka_unit_test(test_unknown_need),
        cmocka_unit_test(test_needs_deduplicated),
        cmocka_unit_test(test_self_loop),
        cmocka_unit_test(test_two_cycle),
        cmocka_unit_test(test_three_cycle_in_larger_graph),
        cmocka_unit_test(test_critical_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
