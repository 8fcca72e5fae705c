/* Command-line front end: option parsing, the commands, help texts. */
#ifndef REBOUND_RUNNER_CLI_H
#define REBOUND_RUNNER_CLI_H

#include <stddef.h>

#include "rebound/value.h"

/* Documented exit codes (docs/cli.md). */
enum {
    RB_EXIT_OK = 0,
    RB_EXIT_FAILED = 1,      /* one or more steps failed */
    RB_EXIT_USAGE = 2,       /* usage, config or playbook error */
    RB_EXIT_BLOCKED = 3,     /* waiting for approval/confirmation */
    RB_EXIT_INTERRUPTED = 130
};

typedef struct rb_cli {
    const char *command;     /* plan, run, drill, resume, validate, plugins, version */
    const char *subcommand;  /* plugins: list, info */
    const char *config;
    const char *playbook;
    const char *run_dir;
    const char *events;
    const char *target;
    const char *trace_http;
    const char **plugin_dirs;
    size_t n_plugin_dirs;
    rb_value *params;        /* map of raw strings */
    int parallel;            /* 0 = from config */
    int json;                /* --output json */
    int confirm;
    int keep_going;          /* --continue-on-failure */
    int quiet;
    int no_progress;
    int force;
    int verbose;
    long long max_instructions;
    long max_memory_mb;
    const char *positional[4];
    size_t n_positional;
} rb_cli;

/* Parses argv (after the command word). Returns 0, 1 for --help (already
 * printed), or RB_EXIT_USAGE with a message printed. */
int rb_cli_parse(rb_cli *cli, int argc, char **argv);
void rb_cli_free(rb_cli *cli);

void rb_help_main(void);
int rb_help_command(const char *command); /* 0 when known */

int rb_cmd_execute(rb_cli *cli);   /* plan, run, drill */
int rb_cmd_resume(rb_cli *cli);
int rb_cmd_validate(rb_cli *cli);
int rb_cmd_plugins(rb_cli *cli);
int rb_cmd_version(rb_cli *cli);
/* rebound vault ...: argv after "vault" (its own options; see cmd_vault.c). */
int rb_cmd_vault(int argc, char **argv);

#endif
