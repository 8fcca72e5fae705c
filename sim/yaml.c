/* Estate files: JSON (cJSON) or YAML (libyaml events folded into a cJSON tree,
 * so the rest of azsim sees one representation). */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

static cJSON *plain_scalar(const char *v, size_t len, bool plain) {
  if (!plain) return cJSON_CreateString(v);
  if (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0) return cJSON_CreateNull();
  if (strcmp(v, "true") == 0) return cJSON_CreateTrue();
  if (strcmp(v, "false") == 0) return cJSON_CreateFalse();
  char *end;
  double d = strtod(v, &end);
  if (*end == 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))) return cJSON_CreateNumber(d);
  return cJSON_CreateString(v);
}

/* Parses one node whose first event is ev (already consumed). */
static cJSON *parse_node(yaml_parser_t *p, yaml_event_t *ev, char *err, size_t errlen, int depth) {
  if (depth > 64) {
    snprintf(err, errlen, "nesting too deep");
    return NULL;
  }
  switch (ev->type) {
    case YAML_SCALAR_EVENT:
      return plain_scalar((const char *)ev->data.scalar.value, ev->data.scalar.length,
                          ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE);
    case YAML_SEQUENCE_START_EVENT: {
      cJSON *arr = cJSON_CreateArray();
      for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(p, &e)) {
          snprintf(err, errlen, "line %zu: %s", p->problem_mark.line + 1, p->problem);
          cJSON_Delete(arr);
          return NULL;
        }
        if (e.type == YAML_SEQUENCE_END_EVENT) {
          yaml_event_delete(&e);
          return arr;
        }
        cJSON *item = parse_node(p, &e, err, errlen, depth + 1);
        yaml_event_delete(&e);
        if (!item) {
          cJSON_Delete(arr);
          return NULL;
        }
        cJSON_AddItemToArray(arr, item);
      }
    }
    case YAML_MAPPING_START_EVENT: {
      cJSON *obj = cJSON_CreateObject();
      for (;;) {
        yaml_event_t k;
        if (!yaml_parser_parse(p, &k)) {
          snprintf(err, errlen, "line %zu: %s", p->problem_mark.line + 1, p->problem);
          cJSON_Delete(obj);
          return NULL;
        }
        if (k.type == YAML_MAPPING_END_EVENT) {
          yaml_event_delete(&k);
          return obj;
        }
        if (k.type != YAML_SCALAR_EVENT) {
          snprintf(err, errlen, "line %zu: mapping keys must be scalars", k.start_mark.line + 1);
          yaml_event_delete(&k);
          cJSON_Delete(obj);
          return NULL;
        }
        char *key = strdup((const char *)k.data.scalar.value);
        yaml_event_delete(&k);
        yaml_event_t v;
        if (!yaml_parser_parse(p, &v)) {
          snprintf(err, errlen, "line %zu: %s", p->problem_mark.line + 1, p->problem);
          free(key);
          cJSON_Delete(obj);
          return NULL;
        }
        cJSON *val = parse_node(p, &v, err, errlen, depth + 1);
        yaml_event_delete(&v);
        if (!val) {
          free(key);
          cJSON_Delete(obj);
          return NULL;
        }
        az_set(obj, key, val);
        free(key);
      }
    }
    case YAML_ALIAS_EVENT:
      snprintf(err, errlen, "line %zu: YAML aliases are not supported", ev->start_mark.line + 1);
      return NULL;
    default:
      snprintf(err, errlen, "line %zu: unexpected YAML event", ev->start_mark.line + 1);
      return NULL;
  }
}

static cJSON *parse_yaml(const char *text, size_t len, char *err, size_t errlen) {
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) {
    snprintf(err, errlen, "yaml init failed");
    return NULL;
  }
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  cJSON *root = NULL;
  bool done = false;
  while (!done) {
    yaml_event_t e;
    if (!yaml_parser_parse(&p, &e)) {
      snprintf(err, errlen, "line %zu: %s", p.problem_mark.line + 1,
               p.problem ? p.problem : "parse error");
      break;
    }
    if (e.type == YAML_STREAM_END_EVENT || e.type == YAML_DOCUMENT_END_EVENT) done = true;
    else if (e.type == YAML_SCALAR_EVENT || e.type == YAML_SEQUENCE_START_EVENT ||
             e.type == YAML_MAPPING_START_EVENT || e.type == YAML_ALIAS_EVENT) {
      root = parse_node(&p, &e, err, errlen, 0);
      done = true;
    }
    yaml_event_delete(&e);
  }
  yaml_parser_delete(&p);
  return root;
}

cJSON *az_load_file(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open", path);
    return NULL;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  size_t n;
  while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len < 2) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  buf[len] = 0;
  const char *t = buf;
  while (*t == ' ' || *t == '\n' || *t == '\t' || *t == '\r') t++;
  cJSON *root;
  if (*t == '{') {
    root = cJSON_ParseWithLength(buf, len);
    if (!root) snprintf(err, errlen, "%s: invalid JSON", path);
  } else {
    char e2[200] = "";
    root = parse_yaml(buf, len, e2, sizeof e2);
    if (!root) snprintf(err, errlen, "%s: %s", path, e2[0] ? e2 : "empty document");
  }
  free(buf);
  if (root && !cJSON_IsObject(root)) {
    snprintf(err, errlen, "%s: the estate must be a mapping", path);
    cJSON_Delete(root);
    root = NULL;
  }
  return root;
}
