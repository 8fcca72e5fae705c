/* The host's implementation of rb_value (see sdk/include/rebound/value.h),
 * and its conversions to and from JSON (cJSON).
 *
 * Ownership follows the SDK: rbv_* constructors return a new value the
 * caller frees with rbv_free(); list/map setters take ownership of the item,
 * also on failure; getters lend values owned by their container. */
#ifndef REBOUND_RUNNER_VALUES_H
#define REBOUND_RUNNER_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include "rebound/status.h"
#include "rebound/value.h"

typedef struct cJSON cJSON;

rb_value *rbv_null(void);
rb_value *rbv_bool(int b);
rb_value *rbv_int(int64_t i);
rb_value *rbv_double(double d);
rb_value *rbv_string(const char *s);
rb_value *rbv_string_n(const char *s, size_t len);
rb_value *rbv_bytes(const void *data, size_t len);
rb_value *rbv_list(void);
rb_value *rbv_map(void);
rb_status rbv_list_append(rb_value *list, rb_value *item);
rb_status rbv_map_set(rb_value *map, const char *key, rb_value *item);
rb_value *rbv_copy(const rb_value *v);
void rbv_free(rb_value *v);

rb_value_type rbv_type(const rb_value *v);
const char *rbv_type_name(rb_value_type t);
int rbv_as_bool(const rb_value *v);
int64_t rbv_as_int(const rb_value *v);
double rbv_as_double(const rb_value *v);
const char *rbv_as_string(const rb_value *v);
const void *rbv_as_bytes(const rb_value *v, size_t *len);
size_t rbv_len(const rb_value *v);
const rb_value *rbv_list_get(const rb_value *list, size_t i);
const rb_value *rbv_map_get(const rb_value *map, const char *key);
const char *rbv_map_key_at(const rb_value *map, size_t i);
const rb_value *rbv_map_value_at(const rb_value *map, size_t i);
const char *rbv_map_get_string(const rb_value *map, const char *key, const char *dflt);
int64_t rbv_map_get_int(const rb_value *map, const char *key, int64_t dflt);
int rbv_map_get_bool(const rb_value *map, const char *key, int dflt);

/* Deep equality (maps compare as unordered). */
int rbv_equal(const rb_value *a, const rb_value *b);

/* JSON. Bytes encode as {"$bytes": "<base64>"} and integers beyond 2^53 as
 * {"$int": "<digits>"}, so values round-trip exactly; doubles print with
 * the shortest exact form.
 * rbv_to_json returns a new cJSON tree (cJSON_Delete) or NULL on OOM.
 * rbv_from_json returns a new value, never NULL for a non-NULL tree. */
cJSON *rbv_to_json(const rb_value *v);
rb_value *rbv_from_json(const cJSON *j);
/* Compact JSON text; caller frees with free(). */
char *rbv_to_json_text(const rb_value *v);
/* Parses JSON text; NULL on a parse error. */
rb_value *rbv_from_json_text(const char *text);

/* SHA-256 of a canonical form (map keys sorted; integral doubles hash as
 * integers, so a value hashes alike before and after a JSON round trip), as
 * 64 hex chars in out[65]. Used for input digests in the journal. */
void rbv_digest(const rb_value *v, char out[65]);

#endif
