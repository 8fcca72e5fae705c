/* libyaml events -> rb_ytree. See yaml_tree.h. */
#include "config/yaml_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/util.h"

/* Deeper nesting than this is not a configuration, and the loader recurses. */
#define RB_YAML_MAX_DEPTH 64

typedef struct anchor {
    char *name;
    rb_ynode *node;
} anchor;

typedef struct builder {
    rb_ytree *tree;
    rb_ynode *stack[RB_YAML_MAX_DEPTH];
    size_t depth;
    anchor *anchors;
    size_t n_anchors, cap_anchors;
    int documents;
    const char *display;
    char *err;
    size_t errlen;
} builder;

static void fail_at(builder *b, yaml_mark_t m, const char *fmt, const char *arg)
{
    int off = snprintf(b->err, b->errlen, "%s:%zu:%zu: ", b->display, m.line + 1, m.column + 1);
    if (off < 0 || (size_t)off >= b->errlen)
        return;
    snprintf(b->err + off, b->errlen - (size_t)off, fmt, arg);
}

static rb_ynode *new_node(builder *b, rb_ynode_kind kind, yaml_mark_t m, const yaml_char_t *tag)
{
    rb_ynode *n = rb_xcalloc(1, sizeof *n);
    n->kind = kind;
    n->line = m.line + 1;
    n->col = m.column + 1;
    if (tag)
        n->tag = rb_xstrndup((const char *)tag, strlen((const char *)tag));
    n->next_alloc = b->tree->all;
    b->tree->all = n;
    return n;
}

static void add_kid(rb_ynode *parent, rb_ynode *kid)
{
    if (parent->n_kids == parent->cap_kids) {
        parent->cap_kids = parent->cap_kids ? parent->cap_kids * 2 : 8;
        parent->kids = rb_xrealloc(parent->kids, parent->cap_kids * sizeof *parent->kids);
    }
    parent->kids[parent->n_kids++] = kid;
}

/* Attaches a finished or started node to the open collection, or makes it
 * the root. */
static void attach(builder *b, rb_ynode *n)
{
    if (b->depth)
        add_kid(b->stack[b->depth - 1], n);
    else
        b->tree->root = n;
}

static void register_anchor(builder *b, const yaml_char_t *name, rb_ynode *n)
{
    if (!name)
        return;
    /* A later anchor with the same name shadows the earlier one (YAML 1.2). */
    if (b->n_anchors == b->cap_anchors) {
        b->cap_anchors = b->cap_anchors ? b->cap_anchors * 2 : 8;
        b->anchors = rb_xrealloc(b->anchors, b->cap_anchors * sizeof *b->anchors);
    }
    b->anchors[b->n_anchors].name = rb_xstrndup((const char *)name, strlen((const char *)name));
    b->anchors[b->n_anchors].node = n;
    b->n_anchors++;
}

static rb_ynode *find_anchor(const builder *b, const char *name)
{
    for (size_t i = b->n_anchors; i-- > 0;)
        if (strcmp(b->anchors[i].name, name) == 0)
            return b->anchors[i].node;
    return NULL;
}

static int push(builder *b, rb_ynode *n, yaml_mark_t m)
{
    if (b->depth == RB_YAML_MAX_DEPTH) {
        fail_at(b, m, "nesting deeper than %s levels", "64");
        return -1;
    }
    b->stack[b->depth++] = n;
    return 0;
}

/* Turns libyaml's error into "FILE:LINE:COL: problem (context at L:C)". */
static void parser_error(builder *b, const yaml_parser_t *p, const unsigned char *text, size_t len)
{
    if (p->error == YAML_MEMORY_ERROR)
        abort();
    if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark: count lines up to it. */
        size_t line = 1, col = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        snprintf(b->err, b->errlen, "%s:%zu:%zu: %s", b->display, line, col,
                 p->problem ? p->problem : "cannot read the input");
        return;
    }
    yaml_mark_t m = p->problem_mark;
    if (p->context && p->context_mark.line == m.line && p->context_mark.column == m.column)
        snprintf(b->err, b->errlen, "%s:%zu:%zu: %s (%s)", b->display, m.line + 1, m.column + 1,
                 p->problem ? p->problem : "syntax error", p->context);
    else if (p->context)
        snprintf(b->err, b->errlen, "%s:%zu:%zu: %s (%s at %zu:%zu)", b->display, m.line + 1,
                 m.column + 1, p->problem ? p->problem : "syntax error", p->context,
                 p->context_mark.line + 1, p->context_mark.column + 1);
    else
        snprintf(b->err, b->errlen, "%s:%zu:%zu: %s", b->display, m.line + 1, m.column + 1,
                 p->problem ? p->problem : "syntax error");
}

static int on_event(builder *b, const yaml_event_t *ev)
{
    rb_ynode *n;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->documents > 1) {
            fail_at(b, ev->start_mark, "%s", "a config file holds one YAML document, found another");
            return -1;
        }
        return 0;
    case YAML_SCALAR_EVENT:
        n = new_node(b, RB_YSCALAR, ev->start_mark, ev->data.scalar.tag);
        n->text = rb_xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        n->len = ev->data.scalar.length;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->complete = 1;
        attach(b, n);
        register_anchor(b, ev->data.scalar.anchor, n);
        return 0;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int seq = ev->type == YAML_SEQUENCE_START_EVENT;
        n = new_node(b, seq ? RB_YSEQ : RB_YMAP, ev->start_mark,
                     seq ? ev->data.sequence_start.tag : ev->data.mapping_start.tag);
        attach(b, n);
        register_anchor(b, seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor, n);
        return push(b, n, ev->start_mark);
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth) /* libyaml balances start and end events */
            b->stack[--b->depth]->complete = 1;
        return 0;
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        n = find_anchor(b, name);
        if (!n) {
            fail_at(b, ev->start_mark, "alias \"*%s\" names no anchor defined before it", name);
            return -1;
        }
        if (!n->complete) {
            fail_at(b, ev->start_mark, "alias \"*%s\" refers to a node that contains it", name);
            return -1;
        }
        attach(b, n);
        return 0;
    }
    default:
        return 0;
    }
}

int rb_ytree_parse(const unsigned char *text, size_t len, const char *display, rb_ytree *tree,
                   char *err, size_t errlen)
{
    builder b = {.tree = tree, .display = display, .err = err, .errlen = errlen};
    yaml_parser_t parser;
    int rc = 0;

    tree->root = NULL;
    tree->all = NULL;
    if (errlen)
        err[0] = '\0';
    if (!yaml_parser_initialize(&parser))
        abort();
    yaml_parser_set_input_string(&parser, text, len);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            parser_error(&b, &parser, text, len);
            rc = -1;
            break;
        }
        int done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (rc || done)
            break;
    }
    yaml_parser_delete(&parser);
    for (size_t i = 0; i < b.n_anchors; i++)
        free(b.anchors[i].name);
    free(b.anchors);
    if (rc)
        rb_ytree_free(tree);
    return rc;
}

void rb_ytree_free(rb_ytree *tree)
{
    rb_ynode *n = tree->all;
    while (n) {
        rb_ynode *next = n->next_alloc;
        free(n->tag);
        free(n->text);
        free(n->kids);
        free(n);
        n = next;
    }
    tree->all = NULL;
    tree->root = NULL;
}
