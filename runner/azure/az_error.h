/* rebound Azure access layer: the error record every call fills.
 *
 * Every fallible function of runner/azure/ returns an rb_status and takes an
 * optional rb_az_err * as its last parameter. The message is always passed
 * through the redactor before it is stored, so callers may log it, journal
 * it or show it as a step error as is. */
#ifndef REBOUND_AZURE_AZ_ERROR_H
#define REBOUND_AZURE_AZ_ERROR_H

#include <rebound/status.h>

typedef struct rb_az_err {
    int http_status; /* the last HTTP status seen, 0 when no response came */
    char code[128];  /* Azure error code ("ResourceNotFound"), "" if none */
    char msg[2048];  /* human-readable, redacted, NUL-terminated */
} rb_az_err;

/* Clears an error record (NULL is fine). */
void rb_az_err_clear(rb_az_err *err);

/* Formats a redacted message into err (NULL is fine) and returns status, so
 * that `return rb_az_fail(err, RB_EPROTO, "...")` reads naturally. */
rb_status rb_az_fail(rb_az_err *err, rb_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
