/* The Azure access of one run, as plugins see it through the host table.
 *
 * Built lazily, on the first Azure call a plugin makes, from the config's
 * cloud and auth sections: a playbook that never touches Azure never needs
 * credentials. Thread-safe: plugin actions call in from worker threads. */
#ifndef REBOUND_RUNNER_AZURE_SESSION_H
#define REBOUND_RUNNER_AZURE_SESSION_H

#include <stddef.h>

#include "config/config.h"
#include "rebound/status.h"

typedef struct rb_azure rb_azure;
typedef struct rb_azure_session rb_azure_session;

/* cfg is borrowed and must outlive the session. trace_file: --trace-http,
 * or NULL. */
rb_azure_session *rb_azure_session_new(const rb_config *cfg, const char *trace_file);
void rb_azure_session_free(rb_azure_session *s); /* NULL is fine */

/* The run's Azure client, created on first use. On failure returns the
 * status and a message (no secrets) in err; later calls fail the same way. */
rb_status rb_azure_session_get(rb_azure_session *s, rb_azure **out, char *err, size_t errlen);

#endif
