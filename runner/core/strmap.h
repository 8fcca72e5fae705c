/* A string -> size_t hash map (open addressing) for name lookups that must
 * stay fast on 10,000-step playbooks. Keys are borrowed, not copied: they
 * must outlive the map. */
#ifndef REBOUND_RUNNER_STRMAP_H
#define REBOUND_RUNNER_STRMAP_H

#include <stddef.h>

typedef struct rb_strmap {
    const char **keys;
    size_t *vals;
    size_t cap, n;
} rb_strmap;

void rb_strmap_init(rb_strmap *m, size_t expected);
void rb_strmap_free(rb_strmap *m);
/* Returns 0 when inserted, 1 when the key existed (*old set, value kept). */
int rb_strmap_put(rb_strmap *m, const char *key, size_t val, size_t *old);
/* Inserts or replaces. */
void rb_strmap_set(rb_strmap *m, const char *key, size_t val);
/* Returns 1 and sets *val when found. */
int rb_strmap_get(const rb_strmap *m, const char *key, size_t *val);

#endif
