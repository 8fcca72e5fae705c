/* validate, plugins and version. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/session.h"
#include "rebound/version.h"

int rb_cmd_validate(rb_cli *cli)
{
    const char *path = rb_session_playbook_arg(cli);
    rb_session s;
    int rc = rb_session_open(&s, cli, path, 0);
    if (rc == 0) {
        printf("config: %s\n", s.cfg->path ? s.cfg->path : "(built-in defaults)");
        if (cli->verbose)
            rb_config_dump(s.cfg, stdout);
        printf("plugins: %zu loaded, %zu refused\n", rb_registry_count(s.reg),
               rb_registry_refusal_count(s.reg));
        if (s.pb)
            printf("playbook: %s (%s): %zu steps in %d layers; OK\n", s.pb->name, s.pb->path,
                   s.pb->n_steps, s.graph->n_layers);
    }
    rb_session_close(&s);
    return rc;
}

int rb_cmd_plugins(rb_cli *cli)
{
    const char *sub = cli->n_positional ? cli->positional[0] : "list";
    if (strcmp(sub, "list") != 0 && strcmp(sub, "info") != 0) {
        fprintf(stderr, "rebound plugins: unknown subcommand \"%s\" (list, info NAME)\n", sub);
        return RB_EXIT_USAGE;
    }
    if (strcmp(sub, "info") == 0 && cli->n_positional != 2) {
        fprintf(stderr, "rebound plugins info: give the plugin name\n");
        return RB_EXIT_USAGE;
    }
    rb_session s;
    /* list prints refusals itself; keep stderr for real problems */
    int rc = rb_session_open(&s, cli, NULL, 1);
    if (rc == 0) {
        if (strcmp(sub, "list") == 0) {
            rb_registry_print_list(s.reg, stdout, cli->json);
        } else if (rb_registry_print_info(s.reg, cli->positional[1], stdout, cli->json) != 0) {
            const rb_refusal *r = rb_registry_refusal_for(s.reg, cli->positional[1]);
            if (r)
                fprintf(stderr, "rebound plugins info: %s was refused: %s\n", r->path, r->reason);
            else
                fprintf(stderr, "rebound plugins info: no plugin named \"%s\"\n",
                        cli->positional[1]);
            rc = RB_EXIT_USAGE;
        }
    }
    rb_session_close(&s);
    return rc;
}

int rb_cmd_version(rb_cli *cli)
{
    if (cli->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "version", REBOUND_VERSION);
        cJSON *abi = cJSON_AddObjectToObject(j, "abi");
        cJSON_AddNumberToObject(abi, "major", RB_ABI_MAJOR);
        cJSON_AddNumberToObject(abi, "minor", RB_ABI_MINOR);
        char *text = cJSON_PrintUnformatted(j);
        printf("%s\n", text ? text : "{}");
        free(text);
        cJSON_Delete(j);
    } else
        printf("rebound %s (plugin ABI %d.%d)\n", REBOUND_VERSION, RB_ABI_MAJOR, RB_ABI_MINOR);
    return RB_EXIT_OK;
}
