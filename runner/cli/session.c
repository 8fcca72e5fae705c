/* What every command that touches a playbook sets up first: the config, the
 * plugin registry, the playbook and its graph. Errors are printed here and
 * turned into exit code 2. */
#include "cli/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

/* <dir of the executable>/../lib/rebound/plugins, for an install that was
 * moved or installed with another --prefix; NULL if unknown. */
static char *exe_relative_plugin_dir(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    char *dir = rb_xasprintf("%s/../lib/rebound/plugins", exe);
    char real[4096];
    if (realpath(dir, real)) {
        free(dir);
        return rb_xstrdup(real);
    }
    return dir;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Plugin directories, in order: --plugin-dir, config plugins.paths,
 * $REBOUND_PLUGIN_PATH; when none of those is given, the first that exists
 * of <exe>/../lib/rebound/plugins (an install, wherever it was put; also the
 * build tree, whose runner/ sits beside lib/), the build tree's plugin
 * directory, and the configured install directory. */
static void scan_plugins(rb_session *s, const rb_cli *cli)
{
    size_t explicit_dirs = 0;
    for (size_t i = 0; i < cli->n_plugin_dirs; i++, explicit_dirs++)
        rb_registry_scan_dir(s->reg, cli->plugin_dirs[i]);
    for (size_t i = 0; i < s->cfg->n_plugin_paths; i++, explicit_dirs++)
        rb_registry_scan_dir(s->reg, s->cfg->plugin_paths[i]);
    const char *env = getenv("REBOUND_PLUGIN_PATH");
    if (env && *env) {
        char *copy = rb_xstrdup(env);
        char *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
            rb_registry_scan_dir(s->reg, d);
            explicit_dirs++;
        }
        free(copy);
    }
    if (explicit_dirs == 0) {
        char *rel = exe_relative_plugin_dir();
        if (rel && is_dir(rel))
            rb_registry_scan_dir(s->reg, rel);
        else if (is_dir(REBOUND_BUILD_PLUGIN_DIR))
            rb_registry_scan_dir(s->reg, REBOUND_BUILD_PLUGIN_DIR);
        else if (is_dir(REBOUND_PLUGIN_INSTALL_DIR))
            rb_registry_scan_dir(s->reg, REBOUND_PLUGIN_INSTALL_DIR);
        free(rel);
    }
}

void rb_session_report_refusals(const rb_session *s)
{
    for (size_t i = 0; i < rb_registry_refusal_count(s->reg); i++) {
        const rb_refusal *r = rb_registry_refusal_at(s->reg, i);
        rb_log(RB_LOG_WARN, "plugin %s refused: %s", r->path, r->reason);
    }
}

int rb_session_open(rb_session *s, const rb_cli *cli, const char *playbook, int quiet_refusals)
{
    memset(s, 0, sizeof *s);
    rb_log_set_quiet(cli->quiet);
    char err[1024];
    s->cfg = rb_config_load(cli->config, err, sizeof err);
    if (!s->cfg) {
        fprintf(stderr, "rebound: config error: %s\n", err);
        return RB_EXIT_USAGE;
    }
    s->reg = rb_registry_new(s->cfg->plugin_settings);
    scan_plugins(s, cli);
    if (!quiet_refusals)
        rb_session_report_refusals(s);
    if (!playbook)
        return 0;
    rb_limits limits = {.max_instructions = cli->max_instructions,
                        .max_memory = (size_t)cli->max_memory_mb * 1024 * 1024};
    char *perr = NULL;
    s->pb = rb_playbook_load(playbook, s->reg, &limits, &perr);
    if (!s->pb) {
        char *safe = rb_redact(perr);
        fprintf(stderr, "rebound: playbook error: %s\n", safe);
        free(safe);
        free(perr);
        return RB_EXIT_USAGE;
    }
    s->graph = rb_graph_build(s->pb, &perr);
    if (!s->graph) {
        fprintf(stderr, "rebound: playbook error: %s: %s\n", playbook, perr);
        free(perr);
        return RB_EXIT_USAGE;
    }
    return 0;
}

void rb_session_close(rb_session *s)
{
    rb_graph_free(s->graph);
    rb_playbook_free(s->pb);
    rb_registry_free(s->reg);
    rb_config_free(s->cfg);
    memset(s, 0, sizeof *s);
}

const char *rb_session_playbook_arg(const rb_cli *cli)
{
    if (cli->playbook)
        return cli->playbook;
    return cli->n_positional ? cli->positional[0] : NULL;
}
