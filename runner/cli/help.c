/* Help texts. Kept next to each other so they stay consistent. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "rebound/version.h"

static const char main_help[] =
    "rebound: back up, verify and restore an Azure estate in dependency order,\n"
    "and prove it by drilling.\n"
    "\n"
    "Usage: rebound COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  plan      tabletop: the ordered plan, critical path and estimated duration;\n"
    "            runs read actions only, never a write\n"
    "  drill     restore into an isolated drill target, verify, measure, report\n"
    "  run       live backup or restore\n"
    "  resume    finish an interrupted or failed run without repeating side effects\n"
    "  validate  check the config and a playbook without running anything\n"
    "  plugins   list plugins, or show one plugin's actions (plugins info NAME)\n"
    "  vault     the backup vault: put, list, show, verify, prune, restore\n"
    "  version   print the version and the plugin ABI\n"
    "\n"
    "Run `rebound COMMAND --help` for the options of a command.\n"
    "\n"
    "Exit codes: 0 success, 1 a step failed, 2 usage/config/playbook error,\n"
    "3 blocked (waiting for confirmation), 130 interrupted.\n";

static const char run_options[] =
    "Options:\n"
    "  -c, --config FILE        config file (default: ./rebound.yaml if present)\n"
    "  -p, --playbook FILE      the playbook (or give it as the first argument)\n"
    "  -P, --param KEY=VALUE    a playbook parameter (repeatable)\n"
    "  -j, --parallel N         steps to run at once (default: config run.parallel, 8)\n"
    "      --output text|json   summary format on stdout (default text)\n"
    "      --events FILE        append one JSON line per state change to FILE\n"
    "      --run-dir DIR        directory for this run's journal and reports\n"
    "                           (default: <run.runs_dir>/<run id>)\n"
    "      --plugin-dir DIR     load plugins from DIR (repeatable); any plugin\n"
    "                           directory given replaces the built-in one\n"
    "      --continue-on-failure  keep running independent branches after a failure\n"
    "      --trace-http FILE    record Azure HTTP requests and responses in FILE,\n"
    "                           secrets masked\n"
    "      --max-lua-memory MB  memory cap for the playbook (default 256)\n"
    "      --max-lua-instructions N  instruction budget per entry into Lua\n"
    "                           (default 200000000)\n"
    "  -q, --quiet              print only errors and the summary (no progress,\n"
    "                           no warnings, no playbook print output)\n"
    "      --no-progress        plain progress lines even on a terminal\n"
    "  -h, --help               this help\n";

static void print_run_like(const char *cmd, const char *what, const char *extra_options)
{
    printf("Usage: rebound %s [OPTIONS] [PLAYBOOK]\n\n%s\n\n%s%s", cmd, what, run_options,
           extra_options);
}

void rb_help_main(void)
{
    fputs(main_help, stdout);
}

int rb_help_command(const char *command)
{
    if (strcmp(command, "plan") == 0) {
        print_run_like("plan",
                       "Builds the step graph, runs only read actions, asks write and\n"
                       "destructive actions for predicted outputs, and prints the plan by\n"
                       "layers, the critical path and an estimated duration from earlier\n"
                       "runs. Never calls a write action. Writes nothing.", "");
    } else if (strcmp(command, "run") == 0) {
        print_run_like("run",
                       "Runs the playbook live. Destructive actions need --confirm;\n"
                       "without it the run stops blocked (exit 3) and can be resumed.",
                       "      --confirm            allow destructive actions\n");
    } else if (strcmp(command, "drill") == 0) {
        print_run_like("drill",
                       "Runs the playbook in drill mode: steps see ctx.mode == \"drill\"\n"
                       "and ctx.target, the isolated target to restore into (targets.NAME\n"
                       "in the config; default target \"drill\", or a scratch resource\n"
                       "group named after the run when none is configured). Destructive\n"
                       "actions need no --confirm in a drill: they are meant for the drill's\n"
                       "own scratch resources.",
                       "      --target NAME        the drill target from the config\n");
    } else if (strcmp(command, "resume") == 0) {
        printf("Usage: rebound resume [OPTIONS] RUN_DIR\n\n"
               "Continues the run recorded in RUN_DIR/journal.jsonl: completed steps are\n"
               "skipped with their recorded outputs, completed write calls are not\n"
               "repeated, and an interrupted call gets its idempotency key and stored\n"
               "operation id back so the plugin can re-attach.\n\n"
               "Options:\n"
               "  -c, --config FILE        config file\n"
               "  -j, --parallel N         steps to run at once\n"
               "      --events FILE        append JSON lines per state change\n"
               "      --plugin-dir DIR     load plugins from DIR instead of the directories\n"
               "                           the run recorded (repeatable)\n"
               "      --confirm            allow destructive actions\n"
               "      --force              resume even if the playbook file changed\n"
               "      --trace-http FILE    record Azure HTTP traffic, secrets masked\n"
               "      --max-lua-memory MB / --max-lua-instructions N  as for run\n"
               "      --output text|json   summary format\n"
               "  -q, --quiet / --no-progress / -h, --help\n");
    } else if (strcmp(command, "validate") == 0) {
        printf("Usage: rebound validate [OPTIONS] [PLAYBOOK]\n\n"
               "Checks the config and, when given, a playbook (syntax, sandbox, plugins\n"
               "and their actions, the step graph) without running anything.\n\n"
               "Options:\n"
               "  -c, --config FILE        config file\n"
               "  -p, --playbook FILE      the playbook\n"
               "      --plugin-dir DIR     load plugins from DIR (repeatable; replaces the\n"
               "                           default plugin directory)\n"
               "  -v, --verbose            print the effective config (secrets masked)\n"
               "  -h, --help\n");
    } else if (strcmp(command, "plugins") == 0) {
        printf("Usage: rebound plugins list [OPTIONS]\n"
               "       rebound plugins info NAME [OPTIONS]\n\n"
               "Lists loaded plugins (name, version, ABI, path, actions) and any refused\n"
               "plugin with the reason, or prints one plugin's actions with their\n"
               "parameters, outputs and effects.\n\n"
               "Options:\n"
               "  -c, --config FILE        config file (plugins.paths)\n"
               "      --plugin-dir DIR     load plugins from DIR (repeatable; replaces the\n"
               "                           default plugin directory)\n"
               "      --output text|json\n"
               "  -h, --help\n");
    } else if (strcmp(command, "vault") == 0) {
        char *argv[] = {"vault", "--help", NULL};
        return rb_cmd_vault(2, argv);
    } else if (strcmp(command, "version") == 0) {
        printf("Usage: rebound version [--output text|json]\n\nPrints the version and the "
               "plugin ABI (major.minor) this runner implements.\n");
    } else {
        return -1;
    }
    return 0;
}
