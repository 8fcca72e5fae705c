/* vm.verify_vm: a restored VM proves itself. Its power state (instance
 * view), a guest check run inside it (Run Command: the guest answers "boot
 * ok" and the SHA-256 of every disk it sees), and those hashes against the
 * signed manifests of the sets the disks were restored from. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vm.h"

static char *vm_id_of(const rb_value *args)
{
    return vm_res_id(H->map_get_string(args, "subscription", ""),
                     H->map_get_string(args, "resource_group", ""),
                     "Microsoft.Compute/virtualMachines", H->map_get_string(args, "name", ""));
}

/* "PowerState/running" -> "running"; NULL when the view has none. */
static const char *power_state(const rb_value *view)
{
    const rb_value *statuses = H->map_get(view, "statuses");
    for (size_t i = 0; i < H->value_len(statuses); i++) {
        const char *code = H->map_get_string(H->list_get(statuses, i), "code", "");
        if (strncmp(code, "PowerState/", 11) == 0)
            return code + 11;
    }
    return NULL;
}

/* The guest's stdout: value[0].message of the Run Command result. */
static const char *run_output(const rb_value *resp)
{
    const rb_value *value = H->map_get(resp, "value");
    if (!value)
        value = vm_get(resp, "properties", "output", "value", NULL);
    return H->map_get_string(H->list_get(value, 0), "message", NULL);
}

/* "disk lun=<lun> sha256=<hex>" lines and "boot ok" into the map seen. */
static int parse_guest(const char *text, rb_value *seen)
{
    int boot = 0;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        char lun[32], sha[65];
        if (strncmp(buf, "boot ok", 7) == 0)
            boot = 1;
        else if (sscanf(buf, "disk lun=%31s sha256=%64s", lun, sha) == 2)
            vm_set_str(seen, lun, sha);
        line = end ? end + 1 : NULL;
    }
    return boot;
}

rb_status vm_verify_vm(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    char *id = vm_id_of(args);
    char *path = H->str_format("%s/instanceView", id);
    rb_value *view = NULL;
    rb_status st = H->arm_call(ctx, "GET", path, VM_COMPUTE_API, NULL, &view, NULL);
    H->mem_free(path);
    if (st != RB_OK) {
        H->mem_free(id);
        return st;
    }
    const char *power = power_state(view);
    rb_value *o = H->value_map();
    vm_set_str(o, "name", H->map_get_string(args, "name", ""));
    vm_set_str(o, "power_state", power ? power : "unknown");
    int running = power && strcasecmp(power, "running") == 0;
    H->map_set(o, "running", H->value_bool(running));
    H->value_free(view);

    /* The guest check: Run Command (one long-running operation). */
    int boot = 0;
    rb_value *seen = H->value_map();
    if (running && H->map_get_bool(args, "guest_check", 1)) {
        rb_value *body = H->value_map();
        vm_set_str(body, "commandId", "RunShellScript");
        rb_value *script = H->value_list();
        H->list_append(script, H->value_string(H->map_get_string(args, "script", "rebound-guest-check")));
        H->map_set(body, "script", script);
        char *action = H->str_format("%s/runCommand", id);
        rb_value *resp = NULL;
        st = H->arm_call(ctx, "POST", action, VM_COMPUTE_API, body, &resp, NULL);
        H->mem_free(action);
        H->value_free(body);
        if (st == RB_OK)
            boot = parse_guest(run_output(resp), seen);
        H->value_free(resp);
    }
    H->mem_free(id);
    if (st != RB_OK) {
        H->value_free(seen);
        H->value_free(o);
        return st;
    }
    H->map_set(o, "boot_ok", H->value_bool(boot));

    /* Each expected disk: its set's signed hash against what the guest saw. */
    const rb_value *expected = H->map_get(args, "disks");
    rb_value *disks = H->value_list();
    int all = H->value_len(expected) > 0;
    for (size_t i = 0; st == RB_OK && i < H->value_len(expected); i++) {
        const char *lun = H->map_key_at(expected, i);
        const char *set_id = H->value_as_string(H->map_value_at(expected, i));
        char sha[65] = "";
        int64_t bytes = 0;
        st = vm_manifest_object(ctx, set_id ? set_id : "", "disk.vhd", sha, &bytes);
        if (st != RB_OK)
            break;
        const char *got = H->map_get_string(seen, lun, NULL);
        int match = got && strcasecmp(got, sha) == 0;
        all = all && match;
        rb_value *d = H->value_map();
        vm_set_str(d, "lun", lun);
        vm_set_str(d, "set_id", set_id);
        vm_set_str(d, "expected", sha);
        vm_set_str(d, "actual", got);
        H->map_set(d, "match", H->value_bool(match));
        H->list_append(disks, d);
    }
    H->value_free(seen);
    if (st != RB_OK) {
        H->value_free(disks);
        H->value_free(o);
        return st;
    }
    H->map_set(o, "disks", disks);
    H->map_set(o, "hashes_match", H->value_bool(all));
    H->map_set(o, "ok", H->value_bool(running && boot && all));
    *out = o;
    return RB_OK;
}

rb_status vm_verify_vm_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    rb_value *o = H->value_map();
    vm_set_str(o, "name", H->map_get_string(args, "name", ""));
    vm_set_str(o, "power_state", "(planned)");
    H->map_set(o, "running", H->value_bool(1));
    H->map_set(o, "boot_ok", H->value_bool(1));
    H->map_set(o, "disks", H->value_list());
    H->map_set(o, "hashes_match", H->value_bool(1));
    H->map_set(o, "ok", H->value_bool(1));
    *out = o;
    return RB_OK;
}
