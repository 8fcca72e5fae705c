/* The runner's log: one line per message on stderr, serialised across
 * threads, every message passed through the redactor first so no secret
 * reaches a terminal or a CI log. */
#ifndef REBOUND_RUNNER_LOG_H
#define REBOUND_RUNNER_LOG_H

#include "core/util.h"
#include "rebound/host.h"

void rb_log_set_level(rb_log_level min);
void rb_log_set_quiet(int quiet);
void rb_log(rb_log_level level, const char *fmt, ...) RB_FMT(2, 3);
void rb_vlog(rb_log_level level, const char *fmt, va_list ap) RB_FMT(2, 0);

/* Secrets registered here are masked in every log line, journal record,
 * event, report and error message the runner writes (through the one
 * redactor, runner/azure/redact.h). Values shorter than 6 characters are
 * ignored (they would mask ordinary text). Thread-safe. */
void rb_secret_register(const char *secret);
/* Returns a malloc'd copy of s with registered secrets and known secret
 * patterns (Authorization headers, sig=, client_secret=, access_token...)
 * masked as "***". */
char *rb_redact(const char *s);

#endif
