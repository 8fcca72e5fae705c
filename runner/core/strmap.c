#include "core/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void rb_strmap_init(rb_strmap *m, size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    m->keys = rb_xcalloc(cap, sizeof *m->keys);
    m->vals = rb_xcalloc(cap, sizeof *m->vals);
    m->cap = cap;
    m->n = 0;
}

void rb_strmap_free(rb_strmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static void grow(rb_strmap *m)
{
    rb_strmap bigger;
    rb_strmap_init(&bigger, m->cap);
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            rb_strmap_put(&bigger, m->keys[i], m->vals[i], NULL);
    rb_strmap_free(m);
    *m = bigger;
}

int rb_strmap_put(rb_strmap *m, const char *key, size_t val, size_t *old)
{
    if ((m->n + 1) * 2 > m->cap)
        grow(m);
    size_t i = hash(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0) {
            if (old)
                *old = m->vals[i];
            return 1;
        }
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return 0;
}

int rb_strmap_get(const rb_strmap *m, const char *key, size_t *val)
{
    if (!m->cap)
        return 0;
    size_t i = hash(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0) {
            *val = m->vals[i];
            return 1;
        }
        i = (i + 1) & (m->cap - 1);
    }
    return 0;
}

void rb_strmap_set(rb_strmap *m, const char *key, size_t val)
{
    if (!rb_strmap_put(m, key, val, NULL))
        return;
    size_t i = hash(key) & (m->cap - 1);
    while (strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    m->keys[i] = key; /* the newer record's own copy of the name */
    m->vals[i] = val;
}
