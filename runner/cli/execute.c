/* plan, run, drill and resume: set up a run, hand it to the scheduler,
 * journal its end, write the reports and choose the exit code. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/session.h"
#include "core/log.h"
#include "core/util.h"
#include "core/values.h"
#include "engine/history.h"
#include "plugin/azure_session.h"
#include "plugin/vault_session.h"
#include "engine/scheduler.h"
#include "report/report.h"

static atomic_int interrupted;

static void on_signal(int sig)
{
    (void)sig;
    if (atomic_exchange(&interrupted, 1)) {
        /* A second signal: the journal is consistent at every point, so
         * leaving now still leaves a resumable run. */
        static const char msg[] = "\nrebound: interrupted again, exiting now\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(RB_EXIT_INTERRUPTED);
    }
    static const char msg[] = "\nrebound: interrupted; cancelling running actions and starting "
                              "no new steps (Ctrl-C again leaves at once; either way "
                              "`rebound resume` continues the run)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void new_run_id(char out[40])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[20];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    unsigned char rnd[3];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        memset(rnd, 0, sizeof rnd);
    char hex[7];
    rb_hex(rnd, sizeof rnd, hex);
    snprintf(out, 40, "%s-%s", stamp, hex);
}

static int file_digest(const char *path, char out[65])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        EVP_DigestUpdate(md, buf, n);
    fclose(f);
    unsigned char h[32];
    unsigned int hl;
    EVP_DigestFinal_ex(md, h, &hl);
    EVP_MD_CTX_free(md);
    rb_hex(h, 32, out);
    return 0;
}

/* The drill target: --target NAME, else targets.drill, else a scratch
 * resource group named after the run (isolated by construction). */
static rb_value *drill_target(const rb_session *s, const rb_cli *cli, const char *run_id,
                              int *err)
{
    *err = 0;
    const char *name = cli->target ? cli->target : "drill";
    const rb_value *t = rbv_map_get(s->cfg->targets, name);
    if (t) {
        rb_value *copy = rbv_copy(t);
        if (rbv_type(copy) == RB_VMAP && !rbv_map_get(copy, "name"))
            rbv_map_set(copy, "name", rbv_string(name));
        return copy;
    }
    if (cli->target) {
        fprintf(stderr, "rebound: drill target \"%s\" is not in the config's targets\n",
                cli->target);
        *err = 1;
        return NULL;
    }
    rb_value *m = rbv_map();
    rbv_map_set(m, "name", rbv_string("scratch"));
    char *rg = rb_xasprintf("rebound-drill-%s", run_id);
    for (char *c = rg; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    rbv_map_set(m, "resource_group", rbv_string(rg));
    free(rg);
    rbv_map_set(m, "scratch", rbv_bool(1));
    return m;
}

static rb_value *base_ctx(const rb_session *s, const rb_run *run, rb_value *target)
{
    rb_value *ctx = rbv_map();
    rbv_map_set(ctx, "run_id", rbv_string(run->run_id));
    rbv_map_set(ctx, "mode", rbv_string(run->mode));
    rbv_map_set(ctx, "params", rbv_copy(run->params));
    rbv_map_set(ctx, "estate", rbv_copy(s->cfg->estate));
    rbv_map_set(ctx, "targets", rbv_copy(s->cfg->targets));
    rbv_map_set(ctx, "target", target ? target : rbv_null());
    rb_value *vault = rbv_map();
    const rb_vault_config *v = &s->cfg->vault;
    rbv_map_set(vault, "kind", rbv_string(v->kind ? v->kind : "local"));
    if (v->path)
        rbv_map_set(vault, "path", rbv_string(v->path));
    if (v->account)
        rbv_map_set(vault, "account", rbv_string(v->account));
    if (v->container)
        rbv_map_set(vault, "container", rbv_string(v->container));
    rbv_map_set(ctx, "vault", vault);
    if (run->run_dir)
        rbv_map_set(ctx, "run_dir", rbv_string(run->run_dir));
    return ctx;
}

static int exit_code_for(const rb_run *run)
{
    switch (run->status) {
    case RB_RUN_SUCCEEDED: return RB_EXIT_OK;
    case RB_RUN_FAILED: return RB_EXIT_FAILED;
    case RB_RUN_BLOCKED: return RB_EXIT_BLOCKED;
    case RB_RUN_INTERRUPTED: return RB_EXIT_INTERRUPTED;
    }
    return RB_EXIT_FAILED;
}

/* With history: the longest path by estimated durations. Without: the
 * longest chain of dependent steps, which is what bounds a first run. */
static void plan_critical_path(rb_run *run, const rb_graph *g, int have_history)
{
    double *dur = rb_xcalloc(run->n_steps, sizeof *dur);
    for (size_t i = 0; i < run->n_steps; i++)
        dur[i] = !have_history ? 1.0 : run->steps[i].estimate_s > 0 ? run->steps[i].estimate_s : 0;
    free(run->critical_path);
    rb_graph_critical_path(g, dur, &run->critical_path, &run->n_critical, &run->critical_s);
    if (!have_history)
        run->critical_s = -1;
    free(dur);
}

typedef struct exec_args {
    const char *mode;
    rb_value *params;           /* typed; ownership moves to the run */
    const char *run_id;         /* NULL: new */
    const char *run_dir;        /* NULL: default */
    const rb_replay *replay;    /* resume */
    rb_value *target;           /* drill target or NULL; ownership moves */
} exec_args;

static int execute(rb_cli *cli, rb_session *s, exec_args *a)
{
    int is_plan = strcmp(a->mode, "plan") == 0;
    rb_run run;
    memset(&run, 0, sizeof run);
    rb_run_prepare(&run, s->pb, s->graph);
    run.mode = a->mode;
    run.params = a->params;
    run.parallel = cli->parallel ? cli->parallel : s->cfg->run.parallel;
    run.started_wall_ms = rb_wall_ms();
    run.resumed = a->replay != NULL;
    run.notes = rbv_list();
    if (a->run_id)
        snprintf(run.run_id, sizeof run.run_id, "%s", a->run_id);
    else
        new_run_id(run.run_id);
    int used = rb_history_estimate(&run, s->cfg->run.runs_dir);

    /* Everything that can fail on bad input is checked before the run
     * directory and journal exist, so a usage error leaves nothing behind. */
    FILE *events = NULL;
    if (cli->events) {
        events = fopen(cli->events, "a");
        if (!events) {
            fprintf(stderr, "rebound: cannot open events file %s: %s\n", cli->events,
                    strerror(errno));
            rb_run_clear(&run);
            rbv_free(a->target);
            return RB_EXIT_USAGE;
        }
    }
    rb_journal *journal = NULL;
    int rc = RB_EXIT_OK;
    if (!is_plan) {
        run.run_dir = a->run_dir ? rb_xstrdup(a->run_dir)
                                 : rb_xasprintf("%s/%s", s->cfg->run.runs_dir, run.run_id);
        if (rb_mkdir_p(run.run_dir) != 0) {
            fprintf(stderr, "rebound: cannot create run directory %s: %s\n", run.run_dir,
                    strerror(errno));
            if (events)
                fclose(events);
            rb_run_clear(&run);
            rbv_free(a->target);
            return RB_EXIT_USAGE;
        }
        cJSON *rec = cJSON_CreateObject();
        char ts[32];
        rb_iso8601(run.started_wall_ms, ts);
        if (a->replay) {
            cJSON_AddStringToObject(rec, "t", "resume");
            cJSON_AddStringToObject(rec, "started", ts);
        } else {
            char digest[65] = "";
            file_digest(s->pb->path, digest);
            char abs[PATH_MAX];
            const char *path = realpath(s->pb->path, abs) ? abs : s->pb->path;
            cJSON_AddStringToObject(rec, "t", "run");
            cJSON_AddStringToObject(rec, "run_id", run.run_id);
            cJSON_AddStringToObject(rec, "playbook", s->pb->name);
            cJSON_AddStringToObject(rec, "path", path);
            cJSON_AddStringToObject(rec, "digest", digest);
            cJSON_AddStringToObject(rec, "mode", run.mode);
            cJSON_AddItemToObject(rec, "params", rbv_to_json(run.params));
            if (a->target)
                cJSON_AddItemToObject(rec, "target", rbv_to_json(a->target));
            if (s->cfg->path) {
                char cabs[PATH_MAX];
                cJSON_AddStringToObject(rec, "config",
                                        realpath(s->cfg->path, cabs) ? cabs : s->cfg->path);
            }
            /* Resume loads the same plugins without being told again. */
            cJSON *dirs = cJSON_AddArrayToObject(rec, "plugin_dirs");
            for (size_t k = 0; k < cli->n_plugin_dirs; k++) {
                char dabs[PATH_MAX];
                const char *d = realpath(cli->plugin_dirs[k], dabs) ? dabs : cli->plugin_dirs[k];
                cJSON_AddItemToArray(dirs, cJSON_CreateString(d));
            }
            cJSON_AddStringToObject(rec, "started", ts);
        }
        char *err = NULL;
        if (a->replay) {
            journal = rb_journal_open_append(run.run_dir, &err);
            if (journal)
                rb_journal_append(journal, rec, 1);
            else
                cJSON_Delete(rec);
        } else {
            journal = rb_journal_create(run.run_dir, rec, &err);
        }
        if (!journal || rb_journal_commit(journal, 1) != 0) {
            fprintf(stderr, "rebound: %s%s\n", err ? err : "cannot write the journal",
                    a->replay ? "" : " (to continue an earlier run there, use `rebound resume`)");
            free(err);
            rb_journal_close(journal);
            if (events)
                fclose(events);
            rb_run_clear(&run);
            rbv_free(a->target);
            return RB_EXIT_USAGE;
        }
    }

    rb_value *ctx = base_ctx(s, &run, a->target);
    a->target = NULL;
    /* A plan's own output is the plan: step-by-step lines only on a TTY. */
    int quiet_progress = cli->quiet || (is_plan && (cli->no_progress || !isatty(2)));
    rb_progress *prog = rb_progress_new(stderr, quiet_progress, cli->no_progress);
    install_signals();
    rb_event_run(events, &run, a->replay ? "resumed" : "started");
    if (!cli->quiet)
        fprintf(stderr, "rebound %s: %s (%zu step%s, %d layer%s)%s%s\n", run.mode, s->pb->name,
                run.n_steps, run.n_steps == 1 ? "" : "s", run.n_layers,
                run.n_layers == 1 ? "" : "s", run.run_dir ? ", run directory " : "",
                run.run_dir ? run.run_dir : "");

    rb_azure_session *azure = rb_azure_session_new(s->cfg, cli->trace_http);
    rb_vault_session *vault = rb_vault_session_new(s->cfg);
    rb_sched_opts o = {
        .azure = azure,
        .vault = vault,
        .mode = run.mode,
        .parallel = run.parallel,
        .continue_on_failure = cli->keep_going || strcmp(s->cfg->run.failure_policy, "continue") == 0,
        .confirm = cli->confirm,
        .pb = s->pb,
        .graph = s->graph,
        .journal = journal,
        .replay = a->replay,
        .base_ctx = ctx,
        .events = events,
        .progress = prog,
        .interrupted = &interrupted,
        .run_dir = run.run_dir,
    };
    char *fatal = NULL;
    double t_sched = rb_mono_s();
    int sched_rc = rb_sched_run(&run, &o, &fatal);
    if (getenv("REBOUND_TIMING"))
        fprintf(stderr, "timing: scheduler %.3fs\n", rb_mono_s() - t_sched);
    double t_rep = rb_mono_s();
    rb_progress_finish(prog, &run);
    rb_progress_free(prog);
    char vault_note[1100];
    if (rb_vault_session_unlocked_note(vault, vault_note, sizeof vault_note)) {
        char *line = rb_xasprintf("backup vault: %s", vault_note);
        rbv_list_append(run.notes, rbv_string(line));
        free(line);
    }
    rb_azure_session_free(azure);
    rb_vault_session_free(vault);
    rb_event_run(events, &run, rb_run_status_name(run.status));
    if (events)
        fclose(events);

    if (journal) {
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "t", "end");
        cJSON_AddStringToObject(rec, "status", rb_run_status_name(run.status));
        cJSON_AddNumberToObject(rec, "wall_s", run.wall_s);
        rb_journal_append(journal, rec, 1);
        if (rb_journal_close(journal) != 0 && sched_rc == 0) {
            fatal = rb_xstrdup("the journal could not be written completely");
            sched_rc = -1;
        }
    }

    if (is_plan) {
        plan_critical_path(&run, s->graph, used > 0);
        rb_report_write_plan_history(&run, stdout, cli->json, used);
    } else {
        char err[512];
        if (rb_report_write_all(&run, run.run_dir, err, sizeof err) != 0)
            fprintf(stderr, "rebound: could not write reports: %s\n", err);
        if (cli->json)
            rb_report_write_json(&run, stdout);
        else
            rb_report_write_text(&run, stdout);
        if (!cli->quiet)
            fprintf(stderr, "Reports: %s/report.json, junit.xml, summary.txt\n", run.run_dir);
        if (sched_rc == 0 && (run.status == RB_RUN_INTERRUPTED ||
                              run.status == RB_RUN_BLOCKED || run.status == RB_RUN_FAILED))
            fprintf(stderr, "To continue: rebound resume %s%s\n", run.run_dir,
                    run.status == RB_RUN_BLOCKED ? " --confirm" : "");
    }
    if (getenv("REBOUND_TIMING"))
        fprintf(stderr, "timing: reports %.3fs\n", rb_mono_s() - t_rep);
    rc = exit_code_for(&run);
    if (sched_rc != 0) {
        char *safe = rb_redact(fatal ? fatal : "playbook error");
        fprintf(stderr, "rebound: playbook error: %s\n", safe);
        free(safe);
        rc = RB_EXIT_USAGE;
    }
    free(fatal);
    rbv_free(ctx);
    rb_run_clear(&run);
    return rc;
}

int rb_cmd_execute(rb_cli *cli)
{
    const char *path = rb_session_playbook_arg(cli);
    if (!path || (cli->playbook && cli->n_positional)) {
        fprintf(stderr, "rebound %s: give one playbook (--playbook FILE or as the argument)\n"
                        "Try `rebound %s --help`.\n",
                cli->command, cli->command);
        return RB_EXIT_USAGE;
    }
    rb_session s;
    int rc = rb_session_open(&s, cli, path, 0);
    if (rc != 0) {
        rb_session_close(&s);
        return rc;
    }
    char *err = NULL;
    rb_value *params = rb_playbook_check_params(s.pb, cli->params, &err);
    if (!params) {
        fprintf(stderr, "rebound %s: %s\n", cli->command, err);
        free(err);
        rb_session_close(&s);
        return RB_EXIT_USAGE;
    }
    exec_args a = {.mode = cli->command, .params = params, .run_dir = cli->run_dir};
    char run_id[40];
    if (strcmp(cli->command, "drill") == 0) {
        new_run_id(run_id);
        a.run_id = run_id;
        int terr;
        a.target = drill_target(&s, cli, run_id, &terr);
        if (terr) {
            rbv_free(params);
            rb_session_close(&s);
            return RB_EXIT_USAGE;
        }
    }
    rc = execute(cli, &s, &a);
    rb_session_close(&s);
    return rc;
}

int rb_cmd_resume(rb_cli *cli)
{
    if (cli->n_positional != 1 && !cli->run_dir) {
        fprintf(stderr, "rebound resume: give the run directory\nTry `rebound resume --help`.\n");
        return RB_EXIT_USAGE;
    }
    const char *dir = cli->n_positional ? cli->positional[0] : cli->run_dir;
    rb_replay replay;
    char *err = NULL;
    if (rb_replay_read(dir, &replay, &err) != 0) {
        fprintf(stderr, "rebound resume: %s\n", err);
        free(err);
        return RB_EXIT_USAGE;
    }
    if (replay.torn_tail && !cli->quiet)
        fprintf(stderr, "rebound resume: the journal's last record was cut short by the crash; "
                        "ignoring it\n");
    const char *status = replay.end_status;
    if (replay.ended && status && strcmp(status, "succeeded") == 0) {
        printf("Run %s already succeeded; nothing to resume.\n", dir);
        rb_replay_free(&replay);
        return RB_EXIT_OK;
    }
    const cJSON *run = replay.run;
    const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(run, "path"));
    const char *mode = cJSON_GetStringValue(cJSON_GetObjectItem(run, "mode"));
    const char *run_id = cJSON_GetStringValue(cJSON_GetObjectItem(run, "run_id"));
    const char *digest = cJSON_GetStringValue(cJSON_GetObjectItem(run, "digest"));
    if (!path || !mode || !run_id) {
        fprintf(stderr, "rebound resume: %s: the run record is incomplete\n", dir);
        rb_replay_free(&replay);
        return RB_EXIT_USAGE;
    }
    char now_digest[65] = "";
    if (file_digest(path, now_digest) != 0) {
        fprintf(stderr, "rebound resume: cannot read the playbook %s: %s\n", path,
                strerror(errno));
        rb_replay_free(&replay);
        return RB_EXIT_USAGE;
    }
    if (digest && strcmp(digest, now_digest) != 0 && !cli->force) {
        fprintf(stderr, "rebound resume: the playbook %s changed since the run started; resume "
                        "with --force to run the changed playbook\n",
                path);
        rb_replay_free(&replay);
        return RB_EXIT_USAGE;
    }
    if (!cli->config) {
        const char *cfg = cJSON_GetStringValue(cJSON_GetObjectItem(run, "config"));
        if (cfg)
            cli->config = cfg;
    }
    if (cli->n_plugin_dirs == 0) {
        const cJSON *dirs = cJSON_GetObjectItem(run, "plugin_dirs");
        const cJSON *d;
        cJSON_ArrayForEach(d, dirs)
        {
            if (!cJSON_IsString(d))
                continue;
            cli->plugin_dirs = rb_xrealloc(cli->plugin_dirs,
                                           (cli->n_plugin_dirs + 1) * sizeof *cli->plugin_dirs);
            cli->plugin_dirs[cli->n_plugin_dirs++] = d->valuestring;
        }
    }
    rb_session s;
    int rc = rb_session_open(&s, cli, path, 0);
    if (rc != 0) {
        rb_session_close(&s);
        rb_replay_free(&replay);
        return rc;
    }
    rb_value *params = rbv_from_json(cJSON_GetObjectItem(run, "params"));
    const cJSON *target = cJSON_GetObjectItem(run, "target");
    exec_args a = {.mode = mode,
                   .params = params,
                   .run_id = run_id,
                   .run_dir = dir,
                   .replay = &replay,
                   .target = target ? rbv_from_json(target) : NULL};
    cli->command = mode;
    rc = execute(cli, &s, &a);
    rb_session_close(&s);
    rb_replay_free(&replay);
    return rc;
}
