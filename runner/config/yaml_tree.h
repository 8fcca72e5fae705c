/* A YAML document as a small tree that keeps each node's position.
 *
 * Built from libyaml's event API (not its document API) so that the loader
 * knows whether a scalar was quoted and whether it carried an explicit tag,
 * which decides its type. Aliases share the anchored node; an alias can only
 * refer to a node that is already complete, so the tree never has a cycle.
 *
 * Internal to runner/config/. */
#ifndef REBOUND_RUNNER_YAML_TREE_H
#define REBOUND_RUNNER_YAML_TREE_H

#include <stddef.h>

typedef enum rb_ynode_kind {
    RB_YSCALAR,
    RB_YSEQ,
    RB_YMAP
} rb_ynode_kind;

typedef struct rb_ynode rb_ynode;
struct rb_ynode {
    rb_ynode_kind kind;
    size_t line, col;       /* 1-based start of the node */
    char *tag;              /* explicit tag as written (resolved), or NULL */
    char *text;             /* scalar text, NUL-terminated */
    size_t len;             /* scalar length (may contain a NUL: rejected later) */
    int plain;              /* scalar written without quotes or block style */
    rb_ynode **kids;        /* sequence items, or map key,value,key,value... */
    size_t n_kids, cap_kids;
    int complete;           /* its end event was seen (aliases need this) */
    rb_ynode *next_alloc;   /* every node of a tree, for freeing */
};

typedef struct rb_ytree {
    rb_ynode *root;         /* NULL for an empty file */
    rb_ynode *all;          /* owns every node */
} rb_ytree;

/* Parses `len` bytes of YAML text. `display` is the file name used in error
 * messages ("FILE:LINE:COL: problem"). Returns 0 and fills `tree` (free with
 * rb_ytree_free), or -1 with a message in err; the tree is then empty. */
int rb_ytree_parse(const unsigned char *text, size_t len, const char *display,
                   rb_ytree *tree, char *err, size_t errlen);

void rb_ytree_free(rb_ytree *tree);

/* Number of entries of a map node (pairs), or of items of a sequence. */
static inline size_t rb_ynode_count(const rb_ynode *n)
{
    return n->kind == RB_YMAP ? n->n_kids / 2 : n->n_kids;
}

#endif
