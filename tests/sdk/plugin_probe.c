/* plugin_probe DIR PLUGIN ACTION ARGS_JSON MODE RUN_DIR
 *
 * Scans DIR, requires PLUGIN to load without any refusal in DIR, validates
 * ARGS_JSON against ACTION's table, calls run() (MODE "run") or plan()
 * (MODE "plan") through the real host table and prints the outputs as JSON.
 * Exit 0 on success, 1 on any failure (reason on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/values.h"
#include "plugin/context.h"
#include "plugin/registry.h"

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: plugin_probe DIR PLUGIN ACTION ARGS_JSON run|plan RUN_DIR\n");
        return 2;
    }
    int rc = 1;
    rb_registry *reg = rb_registry_new(NULL);
    rb_registry_scan_dir(reg, argv[1]);
    rb_value *in = rbv_from_json_text(argv[4]), *args = NULL, *out = NULL;
    rb_ctx ctx;
    rb_ctx_init(&ctx);
    for (size_t i = 0; i < rb_registry_refusal_count(reg); i++) {
        const rb_refusal *r = rb_registry_refusal_at(reg, i);
        fprintf(stderr, "refused: %s: %s\n", r->path, r->reason);
    }
    const rb_loaded_plugin *p = rb_registry_find(reg, argv[2]);
    const rb_action *a = rb_plugin_find_action(p, argv[3]);
    if (rb_registry_refusal_count(reg) || !p || !a || !in) {
        fprintf(stderr, "plugin_probe: no %s.%s in %s (or bad JSON)\n", argv[2], argv[3], argv[1]);
        goto done;
    }
    char err[512];
    args = rb_validate_args(p, a, in, err, sizeof err);
    if (!args) {
        fprintf(stderr, "plugin_probe: %s\n", err);
        goto done;
    }
    int plan = strcmp(argv[5], "plan") == 0;
    ctx.mode = plan ? "plan" : "run";
    ctx.step = "probe";
    ctx.plugin = p->def->name;
    ctx.action = a->name;
    ctx.idempotency_key = "probe-key";
    ctx.settings = p->settings;
    ctx.run_dir = argv[6];
    rb_action_fn fn = plan && a->effect != RB_EFFECT_READ ? a->plan : a->run;
    rb_status st = fn(&ctx, args, &out);
    if (st != RB_OK) {
        fprintf(stderr, "plugin_probe: %s (%s)\n", ctx.error ? ctx.error : "no message",
                rb_status_name(st));
        goto done;
    }
    char *json = rbv_to_json_text(out);
    printf("%s\n", json);
    free(json);
    rc = 0;
done:
    rb_ctx_clear(&ctx);
    rbv_free(out);
    rbv_free(args);
    rbv_free(in);
    rb_registry_free(reg);
    return rc;
}
