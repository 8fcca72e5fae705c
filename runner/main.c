/* rebound: the command-line entry point. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0 && rb_help_command(argv[2]) == 0)
            return 0;
        rb_help_main();
        return argc < 2 ? RB_EXIT_USAGE : RB_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0)
        argv[1] = "version";
    if (strcmp(argv[1], "vault") == 0)
        return rb_cmd_vault(argc - 1, argv + 1);
    rb_cli cli;
    memset(&cli, 0, sizeof cli);
    cli.command = argv[1];
    int (*fn)(rb_cli *) = NULL;
    if (strcmp(cli.command, "plan") == 0 || strcmp(cli.command, "run") == 0 ||
        strcmp(cli.command, "drill") == 0)
        fn = rb_cmd_execute;
    else if (strcmp(cli.command, "resume") == 0)
        fn = rb_cmd_resume;
    else if (strcmp(cli.command, "validate") == 0)
        fn = rb_cmd_validate;
    else if (strcmp(cli.command, "plugins") == 0)
        fn = rb_cmd_plugins;
    else if (strcmp(cli.command, "version") == 0)
        fn = rb_cmd_version;
    if (!fn) {
        fprintf(stderr, "rebound: unknown command \"%s\"\nTry `rebound --help`.\n", argv[1]);
        return RB_EXIT_USAGE;
    }
    int rc = rb_cli_parse(&cli, argc - 1, argv + 1);
    if (rc == 0)
        rc = fn(&cli);
    else if (rc == 1)
        rc = RB_EXIT_OK;
    rb_cli_free(&cli);
    return rc;
}
