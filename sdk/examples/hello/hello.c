/* hello: the smallest complete rebound plugin.
 *
 *   greet  (read)   returns a greeting; safe in plan mode
 *   note   (write)  writes a note into the run directory, once per call, and
 *                   predicts its outputs in plan() without touching anything
 *
 * Build against the installed SDK with the Makefile next to this file
 * (pkg-config only) or with CMakeLists.txt (find_package). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <rebound/rebound.h>

/* The host table: the only way a plugin talks to the runner. */
static const rb_host_api *host;

static rb_status greet(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    /* args is already validated against greet_params, defaults filled in. */
    const char *name = host->map_get_string(args, "name", "world");
    char *text = host->str_format("Hello, %s!", name);
    if (!text)
        return RB_ENOMEM;
    host->log(ctx, RB_LOG_INFO, "greeting %s", name);
    rb_value *m = host->value_map();
    host->map_set(m, "greeting", host->value_string(text)); /* map_set takes the value */
    host->mem_free(text);
    *out = m;
    return RB_OK;
}

/* The file a call writes: named after the idempotency key, which is the same
 * on every retry and after `rebound resume`, so a repeated call finds its own
 * earlier work instead of doing it twice. */
static char *note_path(rb_ctx *ctx)
{
    return host->str_format("%s/hello-%s.txt", host->run_dir(ctx), host->idempotency_key(ctx));
}

static rb_value *note_outputs(const char *path, int created)
{
    rb_value *m = host->value_map();
    host->map_set(m, "path", host->value_string(path));
    host->map_set(m, "created", host->value_bool(created));
    return m;
}

static rb_status note(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const char *text = host->map_get_string(args, "text", "");
    char *path = note_path(ctx);
    if (!path)
        return RB_ENOMEM;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) {
        /* An earlier attempt of this very call got here first. */
        *out = note_outputs(path, 0);
        host->mem_free(path);
        return RB_OK;
    }
    size_t n = strlen(text);
    if (fd < 0 || write(fd, text, n) != (ssize_t)n || fsync(fd) != 0) {
        host->set_error(ctx, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        host->mem_free(path);
        return RB_EIO;
    }
    close(fd);
    *out = note_outputs(path, 1);
    host->mem_free(path);
    return RB_OK;
}

/* Plan mode: predict the outputs, change nothing. */
static rb_status note_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)args;
    char *path = note_path(ctx);
    if (!path)
        return RB_ENOMEM;
    *out = note_outputs(path, 1);
    host->mem_free(path);
    return RB_OK;
}

static const rb_field greet_params[] = {
    {.name = "name", .type = RB_TSTRING, .default_json = "\"world\"", .help = "Who to greet"},
    {0},
};
static const rb_field greet_outputs[] = {
    {.name = "greeting", .type = RB_TSTRING, .help = "The greeting"},
    {0},
};
static const rb_field note_params[] = {
    {.name = "text", .type = RB_TSTRING, .required = 1, .help = "What to write"},
    {0},
};
static const rb_field note_outputs_t[] = {
    {.name = "path", .type = RB_TSTRING, .help = "The note file"},
    {.name = "created", .type = RB_TBOOL, .help = "false when an earlier attempt wrote it"},
    {0},
};

static const rb_action actions[] = {
    {.name = "greet", .summary = "Returns a greeting", .effect = RB_EFFECT_READ,
     .params = greet_params, .outputs = greet_outputs, .run = greet},
    {.name = "note", .summary = "Writes a note into the run directory, once",
     .effect = RB_EFFECT_WRITE, .params = note_params, .outputs = note_outputs_t, .run = note,
     .plan = note_plan},
};

static const rb_plugin plugin = {
    RB_PLUGIN_HEADER,
    .name = "hello",
    .version = "1.0.0",
    .description = "The SDK's example plugin",
    RB_PLUGIN_ACTIONS(actions),
};


RB_PLUGIN_EXPORT int rb_plugin_init(const rb_host_api *h, const rb_plugin **out, char **errmsg)
{
    /* The header of the host table is stable across all versions; check it
     * before touching anything else. */
    if (h->abi_major != RB_ABI_MAJOR)
        return RB_EABI;
    if (!RB_HOST_HAS(h, run_dir)) {
        *errmsg = h->str_dup("this host is too old for hello (needs run_dir)");
        return RB_EABI;
    }
    host = h;
    *out = &plugin;
    return RB_OK;
}
