#ifndef REBOUND_RUNNER_SESSION_H
#define REBOUND_RUNNER_SESSION_H

#include "cli/cli.h"
#include "config/config.h"
#include "engine/graph.h"
#include "playbook/playbook.h"
#include "plugin/registry.h"

typedef struct rb_session {
    rb_config *cfg;
    rb_registry *reg;
    rb_playbook *pb;     /* NULL when no playbook was asked for */
    rb_graph *graph;
} rb_session;

/* Loads config, plugins and (when playbook is non-NULL) the playbook and
 * its graph. Returns 0 or an exit code after printing the error; the
 * session must be closed either way. */
int rb_session_open(rb_session *s, const rb_cli *cli, const char *playbook, int quiet_refusals);
void rb_session_close(rb_session *s);
void rb_session_report_refusals(const rb_session *s);
/* --playbook, or the first positional argument, or NULL. */
const char *rb_session_playbook_arg(const rb_cli *cli);

#endif
