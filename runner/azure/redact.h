/* rebound: the one redactor.
 *
 * Everything that may carry a secret towards a log, an event, the journal, a
 * report, an error message or the HTTP trace goes through rb_redact_*. Two
 * mechanisms:
 *   - registered secrets (tokens, client secrets, account keys, SAS strings)
 *     are masked wherever they appear, whatever the context;
 *   - known patterns are masked even when the value was never registered:
 *     `sig=`, `Authorization:`, `x-ms-copy-source-authorization:`,
 *     `access_token`, `refresh_token`, `client_secret=`, `client_assertion=`,
 *     `password=` / `"password":`,
 *     `AccountKey=`, `SharedAccessSignature=`, `Bearer <token>`, and any
 *     JWT (`eyJ...` with two dots).
 * The mask is "***". Thread-safe. */
#ifndef REBOUND_AZURE_REDACT_H
#define REBOUND_AZURE_REDACT_H

#include <stddef.h>

#include <rebound/status.h>

/* Registers a secret so that later redactions mask it. The string is copied;
 * strings shorter than 4 characters are ignored (too many false hits).
 * Registering the same value twice is harmless. Returns RB_ENOMEM on
 * allocation failure. */
rb_status rb_redact_register(const char *secret);

/* Forgets every registered secret (tests, end of process). */
void rb_redact_reset(void);

/* Returns a newly allocated redacted copy of the len bytes at s (need not be
 * NUL-terminated; the copy is). Caller frees with free(). NULL only when out
 * of memory. */
char *rb_redact_dup(const char *s, size_t len);

/* Non-zero when rb_redact_dup might change the len bytes at s (a
 * registered secret occurs, or a pattern could): callers that redact many
 * short strings skip the copy for the rest. */
int rb_redact_needed(const char *s, size_t len);

/* Redacts the NUL-terminated string in buf in place; the result never grows
 * beyond bufsize - 1 characters (it is truncated if the mask is longer than
 * what it hides). */
void rb_redact_inplace(char *buf, size_t bufsize);

#endif
