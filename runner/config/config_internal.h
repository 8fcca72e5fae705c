/* Shared by the files of runner/config/: the loading context, scalar
 * resolution (YAML 1.2 core schema), ${VAR} expansion, and the conversion of
 * free-form sections to rb_value. Not part of the runner's API. */
#ifndef REBOUND_RUNNER_CONFIG_INTERNAL_H
#define REBOUND_RUNNER_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "config/yaml_tree.h"
#include "rebound/value.h"

/* How many values free-form sections may hold in total, counted after alias
 * expansion, so that a few lines of nested aliases cannot expand into
 * billions of values. */
#define RB_CFG_MAX_VALUES 100000

typedef struct rb_cfg_ctx {
    const char *display;    /* file name as given, for messages */
    char *dir;              /* absolute directory of the file, for relative paths */
    char *err;
    size_t errlen;
    size_t values_left;     /* budget for free-form values */
} rb_cfg_ctx;

/* A scalar after ${VAR} expansion, with its YAML 1.2 core type. */
typedef struct rb_cfg_scalar {
    char *text;             /* expanded text, malloc'd (rb_cfg_scalar_clear) */
    rb_value_type type;     /* RB_VNULL, RB_VBOOL, RB_VINT, RB_VDOUBLE or RB_VSTRING */
    int b;
    int64_t i;
    double d;
} rb_cfg_scalar;

/* Writes "FILE:LINE:COL: message" into ctx->err (printf-style). Always
 * returns -1 so callers can `return rb_cfg_fail(...)`. */
int rb_cfg_fail(rb_cfg_ctx *ctx, const rb_ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Expands ${VAR}, ${VAR:-default} and $$ in `in`. On error (unset variable,
 * bad name, unterminated ${) writes a message naming `what` at `at` and
 * returns -1. `*out` is malloc'd on success. */
int rb_cfg_expand(rb_cfg_ctx *ctx, const rb_ynode *at, const char *what, const char *in, char **out);

/* Expands (unless `expand` is 0) and types a scalar node: quoted scalars are
 * strings, plain ones are resolved after expansion, explicit standard tags
 * (!!str, !!int, !!float, !!bool, !!null) are honoured. */
int rb_cfg_scalar_get(rb_cfg_ctx *ctx, const rb_ynode *n, const char *what, int expand,
                      rb_cfg_scalar *out);
void rb_cfg_scalar_clear(rb_cfg_scalar *s);

/* Resolves plain text by the YAML 1.2 core schema. Returns 0, or -1 for an
 * integer that does not fit in 64 bits. Used by the dump to decide quoting. */
int rb_cfg_resolve_plain(const char *text, rb_cfg_scalar *out);

/* Converts a free-form node (any shape) to a new rb_value. `what` is its
 * dotted path for messages. */
int rb_cfg_to_value(rb_cfg_ctx *ctx, const rb_ynode *n, const char *what, rb_value **out);

/* Describes a node's kind for messages: "a mapping", "a list", "a string". */
const char *rb_cfg_node_kind(const rb_ynode *n);

/* "parent.key" (or "key" when parent is empty), malloc'd. */
char *rb_cfg_join(const char *parent, const char *key);

#endif
