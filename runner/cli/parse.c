#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util.h"
#include "core/values.h"

enum {
    OPT_OUTPUT = 1000,
    OPT_EVENTS,
    OPT_RUN_DIR,
    OPT_PLUGIN_DIR,
    OPT_CONFIRM,
    OPT_CONTINUE,
    OPT_NO_PROGRESS,
    OPT_FORCE,
    OPT_TARGET,
    OPT_TRACE,
    OPT_MAX_MEM,
    OPT_MAX_INSN
};

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"playbook", required_argument, NULL, 'p'},
    {"param", required_argument, NULL, 'P'},
    {"parallel", required_argument, NULL, 'j'},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"events", required_argument, NULL, OPT_EVENTS},
    {"run-dir", required_argument, NULL, OPT_RUN_DIR},
    {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
    {"confirm", no_argument, NULL, OPT_CONFIRM},
    {"continue-on-failure", no_argument, NULL, OPT_CONTINUE},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"force", no_argument, NULL, OPT_FORCE},
    {"target", required_argument, NULL, OPT_TARGET},
    {"trace-http", required_argument, NULL, OPT_TRACE},
    {"max-lua-memory", required_argument, NULL, OPT_MAX_MEM},
    {"max-lua-instructions", required_argument, NULL, OPT_MAX_INSN},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

static int usage_error(const char *command, const char *msg)
{
    fprintf(stderr, "rebound %s: %s\nTry `rebound %s --help`.\n", command, msg, command);
    return RB_EXIT_USAGE;
}

static int parse_long(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int rb_cli_parse(rb_cli *cli, int argc, char **argv)
{
    const char *cmd = cli->command;
    cli->params = rbv_map();
    cli->max_instructions = 200000000LL;
    cli->max_memory_mb = 256;
    optind = 1;
    opterr = 0;
    int c;
    char msg[512];
    while ((c = getopt_long(argc, argv, ":c:p:P:j:qvh", long_opts, NULL)) != -1) {
        long long v;
        switch (c) {
        case 'c': cli->config = optarg; break;
        case 'p': cli->playbook = optarg; break;
        case 'P': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                snprintf(msg, sizeof msg, "--param needs KEY=VALUE, got \"%s\"", optarg);
                return usage_error(cmd, msg);
            }
            char *key = rb_xstrndup(optarg, (size_t)(eq - optarg));
            rbv_map_set(cli->params, key, rbv_string(eq + 1));
            free(key);
            break;
        }
        case 'j':
            if (parse_long(optarg, 1, 1024, &v) != 0)
                return usage_error(cmd, "--parallel needs a number from 1 to 1024");
            cli->parallel = (int)v;
            break;
        case OPT_OUTPUT:
            if (strcmp(optarg, "json") == 0)
                cli->json = 1;
            else if (strcmp(optarg, "text") == 0)
                cli->json = 0;
            else
                return usage_error(cmd, "--output must be text or json");
            break;
        case OPT_EVENTS: cli->events = optarg; break;
        case OPT_RUN_DIR: cli->run_dir = optarg; break;
        case OPT_PLUGIN_DIR:
            cli->plugin_dirs = rb_xrealloc(cli->plugin_dirs,
                                           (cli->n_plugin_dirs + 1) * sizeof *cli->plugin_dirs);
            cli->plugin_dirs[cli->n_plugin_dirs++] = optarg;
            break;
        case OPT_CONFIRM: cli->confirm = 1; break;
        case OPT_CONTINUE: cli->keep_going = 1; break;
        case OPT_NO_PROGRESS: cli->no_progress = 1; break;
        case OPT_FORCE: cli->force = 1; break;
        case OPT_TARGET: cli->target = optarg; break;
        case OPT_TRACE: cli->trace_http = optarg; break;
        case OPT_MAX_MEM:
            if (parse_long(optarg, 1, 1 << 20, &v) != 0)
                return usage_error(cmd, "--max-lua-memory needs a number of MiB");
            cli->max_memory_mb = (long)v;
            break;
        case OPT_MAX_INSN:
            if (parse_long(optarg, 1000, (long long)1 << 50, &v) != 0)
                return usage_error(cmd, "--max-lua-instructions needs a number >= 1000");
            cli->max_instructions = v;
            break;
        case 'q': cli->quiet = 1; break;
        case 'v': cli->verbose = 1; break;
        case 'h':
            if (rb_help_command(cmd) != 0)
                rb_help_main();
            return 1;
        case ':':
            snprintf(msg, sizeof msg, "option %s needs a value", argv[optind - 1]);
            return usage_error(cmd, msg);
        default:
            snprintf(msg, sizeof msg, "unknown option %s", argv[optind - 1]);
            return usage_error(cmd, msg);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (cli->n_positional >= sizeof cli->positional / sizeof cli->positional[0])
            return usage_error(cmd, "too many arguments");
        cli->positional[cli->n_positional++] = argv[i];
    }
    return 0;
}

void rb_cli_free(rb_cli *cli)
{
    rbv_free(cli->params);
    free(cli->plugin_dirs);
}
