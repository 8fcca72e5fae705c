/* The dependency graph of a playbook's steps, built and checked before
 * anything runs: duplicate names, unknown `needs` and cycles are errors
 * that name the steps (and where they were declared). */
#ifndef REBOUND_RUNNER_GRAPH_H
#define REBOUND_RUNNER_GRAPH_H

#include <stddef.h>

#include "playbook/playbook.h"

typedef struct rb_graph {
    size_t n;
    size_t **deps;     /* deps[i]: indices step i needs */
    size_t *n_deps;
    size_t **rdeps;    /* rdeps[i]: indices that need step i */
    size_t *n_rdeps;
    int *layer;        /* longest distance from a root, in edges */
    int n_layers;
    size_t *order;     /* a topological order */
} rb_graph;

/* Returns the graph, or NULL with a malloc'd *err. */
rb_graph *rb_graph_build(const rb_playbook *pb, char **err);
void rb_graph_free(rb_graph *g);

/* The longest path by duration (dur[i] seconds per step): a malloc'd array
 * of indices in order into *path, its length and total. */
void rb_graph_critical_path(const rb_graph *g, const double *dur, size_t **path, size_t *n,
                            double *total);

#endif
