#include "engine/graph.h"

#include <stdlib.h>
#include <string.h>

#include "core/strmap.h"
#include "core/util.h"

static void free_partial(rb_graph *g)
{
    rb_graph_free(g);
}

void rb_graph_free(rb_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        if (g->deps)
            free(g->deps[i]);
        if (g->rdeps)
            free(g->rdeps[i]);
    }
    free(g->deps);
    free(g->n_deps);
    free(g->rdeps);
    free(g->n_rdeps);
    free(g->layer);
    free(g->order);
    free(g);
}

/* Finds a cycle with an iterative DFS and describes it "a -> b -> a". */
static char *describe_cycle(const rb_playbook *pb, const rb_graph *g)
{
    size_t n = g->n;
    unsigned char *color = rb_xcalloc(n, 1); /* 0 white, 1 on stack, 2 done */
    size_t *stack = rb_xmalloc(n * sizeof *stack);
    size_t *next = rb_xcalloc(n, sizeof *next);
    char *result = NULL;
    for (size_t root = 0; root < n && !result; root++) {
        if (color[root])
            continue;
        size_t sp = 0;
        stack[sp++] = root;
        color[root] = 1;
        while (sp && !result) {
            size_t v = stack[sp - 1];
            if (next[v] < g->n_deps[v]) {
                size_t w = g->deps[v][next[v]++];
                if (color[w] == 0) {
                    color[w] = 1;
                    stack[sp++] = w;
                } else if (color[w] == 1) {
                    /* The cycle is w ... v on the stack, then back to w. The
                     * edges point from a step to what it needs, so print it
                     * as "w needs ... needs w". */
                    size_t from = sp;
                    while (from > 0 && stack[from - 1] != w)
                        from--;
                    rb_buf b = {0};
                    rb_buf_puts(&b, "dependency cycle: ");
                    for (size_t k = from - 1; k < sp; k++) {
                        const rb_step *s = &pb->steps[stack[k]];
                        rb_buf_printf(&b, "\"%s\" (%s:%d) needs ", s->name, s->file, s->line);
                    }
                    rb_buf_printf(&b, "\"%s\"", pb->steps[w].name);
                    result = rb_xstrdup(b.p);
                    rb_buf_free(&b);
                }
            } else {
                color[v] = 2;
                sp--;
            }
        }
    }
    free(color);
    free(stack);
    free(next);
    return result ? result : rb_xstrdup("dependency cycle");
}

rb_graph *rb_graph_build(const rb_playbook *pb, char **err)
{
    *err = NULL;
    size_t n = pb->n_steps;
    rb_graph *g = rb_xcalloc(1, sizeof *g);
    g->n = n;
    g->deps = rb_xcalloc(n, sizeof *g->deps);
    g->n_deps = rb_xcalloc(n, sizeof *g->n_deps);
    g->rdeps = rb_xcalloc(n, sizeof *g->rdeps);
    g->n_rdeps = rb_xcalloc(n, sizeof *g->n_rdeps);
    g->layer = rb_xcalloc(n, sizeof *g->layer);
    g->order = rb_xcalloc(n, sizeof *g->order);

    rb_strmap names;
    rb_strmap_init(&names, n);
    for (size_t i = 0; i < n; i++) {
        size_t prev;
        if (rb_strmap_put(&names, pb->steps[i].name, i, &prev)) {
            const rb_step *a = &pb->steps[prev], *b = &pb->steps[i];
            *err = rb_xasprintf("duplicate step \"%s\": declared at %s:%d and again at %s:%d",
                                b->name, a->file, a->line, b->file, b->line);
            rb_strmap_free(&names);
            free_partial(g);
            return NULL;
        }
    }
    size_t *rcount = rb_xcalloc(n, sizeof *rcount);
    for (size_t i = 0; i < n; i++) {
        const rb_step *s = &pb->steps[i];
        g->deps[i] = rb_xcalloc(s->n_needs + 1, sizeof **g->deps);
        for (size_t k = 0; k < s->n_needs; k++) {
            size_t j;
            if (!rb_strmap_get(&names, s->needs[k], &j)) {
                *err = rb_xasprintf("step \"%s\" (%s:%d) needs \"%s\", which is not a step of "
                                    "this playbook",
                                    s->name, s->file, s->line, s->needs[k]);
                rb_strmap_free(&names);
                free(rcount);
                free_partial(g);
                return NULL;
            }
            int dup = 0;
            for (size_t d = 0; d < g->n_deps[i]; d++)
                dup |= g->deps[i][d] == j;
            if (!dup) {
                g->deps[i][g->n_deps[i]++] = j;
                rcount[j]++;
            }
        }
    }
    rb_strmap_free(&names);
    for (size_t i = 0; i < n; i++)
        g->rdeps[i] = rb_xcalloc(rcount[i] + 1, sizeof **g->rdeps);
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < g->n_deps[i]; d++) {
            size_t j = g->deps[i][d];
            g->rdeps[j][g->n_rdeps[j]++] = i;
        }
    free(rcount);

    /* Kahn's algorithm gives the order and the layers; leftovers mean a cycle. */
    size_t *indeg = rb_xcalloc(n, sizeof *indeg);
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++) {
        indeg[i] = g->n_deps[i];
        if (!indeg[i])
            g->order[tail++] = i;
    }
    while (head < tail) {
        size_t v = g->order[head++];
        if (g->layer[v] + 1 > g->n_layers)
            g->n_layers = g->layer[v] + 1;
        for (size_t r = 0; r < g->n_rdeps[v]; r++) {
            size_t w = g->rdeps[v][r];
            if (g->layer[v] + 1 > g->layer[w])
                g->layer[w] = g->layer[v] + 1;
            if (--indeg[w] == 0)
                g->order[tail++] = w;
        }
    }
    free(indeg);
    if (tail != n) {
        *err = describe_cycle(pb, g);
        free_partial(g);
        return NULL;
    }
    return g;
}

void rb_graph_critical_path(const rb_graph *g, const double *dur, size_t **path, size_t *n,
                            double *total)
{
    *path = NULL;
    *n = 0;
    *total = 0;
    if (!g->n)
        return;
    double *finish = rb_xcalloc(g->n, sizeof *finish);
    size_t *prev = rb_xmalloc(g->n * sizeof *prev);
    size_t best = g->order[0];
    for (size_t k = 0; k < g->n; k++) {
        size_t v = g->order[k];
        double start = 0;
        prev[v] = (size_t)-1;
        /* Ties (zero-length steps) still extend the path, so it runs to
         * the end of the chain rather than stopping at the last slow step. */
        for (size_t d = 0; d < g->n_deps[v]; d++) {
            size_t u = g->deps[v][d];
            if (prev[v] == (size_t)-1 || finish[u] > start) {
                start = finish[u];
                prev[v] = u;
            }
        }
        finish[v] = start + (dur[v] > 0 ? dur[v] : 0);
        if (finish[v] >= finish[best])
            best = v;
    }
    size_t len = 0;
    for (size_t v = best; v != (size_t)-1; v = prev[v])
        len++;
    *path = rb_xmalloc(len * sizeof **path);
    size_t k = len;
    for (size_t v = best; v != (size_t)-1; v = prev[v])
        (*path)[--k] = v;
    *n = len;
    *total = finish[best];
    free(finish);
    free(prev);
}
