/* Redaction of a JSON tree before it is printed: every string value goes
 * through rb_redact() (core/log.h). Masking the values, not the printed
 * text, keeps escapes intact and finds secrets whatever their escaping. */
#ifndef REBOUND_RUNNER_REDACT_JSON_H
#define REBOUND_RUNNER_REDACT_JSON_H

typedef struct cJSON cJSON;

void rb_redact_json(cJSON *item);

#endif
