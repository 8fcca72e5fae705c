/* testkit: a plugin whose side effects tests can observe from outside.
 *
 * Environment (all optional; an action that needs an unset one fails):
 *   REBOUND_TESTKIT_CALLS      every run()/plan() appends "<action> <run|plan>"
 *                              (proves plan mode never runs a write action)
 *   REBOUND_TESTKIT_LOG        record/destroy append "<idempotency_key> <id>"
 *                              once per key (proves exactly-once after resume)
 *   REBOUND_TESTKIT_STATE_DIR  flaky keeps its failure counts here (falls back
 *                              to the run directory), so retries across
 *                              processes see the same count
 *
 * Appends use O_APPEND and an flock around read-check-append, so parallel
 * steps and concurrent processes never interleave or double-record. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rebound/rebound.h"

static const rb_host_api *host;

/* --- helpers ------------------------------------------------------------------- */

static void note_call(const char *action, const char *how)
{
    const char *path = getenv("REBOUND_TESTKIT_CALLS");
    if (!path || !*path)
        return;
    char line[128];
    int n = snprintf(line, sizeof line, "%s %s\n", action, how);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    /* One write() of a short line to an O_APPEND file is never interleaved. */
    if (n > 0 && write(fd, line, (size_t)n) < 0) {
        /* nothing to do: the test will notice the missing line */
    }
    close(fd);
}

static rb_status sleep_ms(rb_ctx *ctx, int64_t ms)
{
    for (int64_t left = ms; left > 0; left -= 10) {
        if (host->progress(ctx, (uint64_t)(ms - left), (uint64_t)ms)) {
            host->set_error(ctx, "cancelled while sleeping");
            return RB_ECANCELED;
        }
        int64_t step = left < 10 ? left : 10;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
    }
    return RB_OK;
}

/* The whole file, NUL-terminated; NULL on error. Caller frees. */
static char *read_fd(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return NULL;
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    ssize_t got;
    while ((got = pread(fd, buf + len, cap - 1 - len, (off_t)len)) > 0)
        len += (size_t)got;
    buf[len] = '\0';
    return buf;
}

static int has_key(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *line = text; *line;) {
        if (strncmp(line, key, n) == 0 && line[n] == ' ')
            return 1;
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return 0;
}

/* The side effect of record and destroy: "<key> <id>" once per key. */
static rb_status record_once(rb_ctx *ctx, const char *id)
{
    const char *path = getenv("REBOUND_TESTKIT_LOG");
    if (!path || !*path) {
        host->set_error(ctx, "REBOUND_TESTKIT_LOG is not set");
        return RB_EINVAL;
    }
    const char *key = host->idempotency_key(ctx);
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        host->set_error(ctx, "cannot open %s: %s", path, strerror(errno));
        return RB_EIO;
    }
    rb_status rc = RB_OK;
    flock(fd, LOCK_EX);
    char *text = read_fd(fd);
    if (!text) {
        host->set_error(ctx, "cannot read %s: %s", path, strerror(errno));
        rc = RB_EIO;
    } else if (!has_key(text, key)) {
        char *line = host->str_format("%s %s\n", key, id);
        size_t n = line ? strlen(line) : 0;
        if (!line || write(fd, line, n) != (ssize_t)n || fsync(fd) != 0) {
            host->set_error(ctx, "cannot append to %s: %s", path, strerror(errno));
            rc = RB_EIO;
        }
        host->mem_free(line);
    }
    free(text);
    flock(fd, LOCK_UN);
    close(fd);
    return rc;
}

static rb_value *id_key(const char *id, const char *key)
{
    rb_value *m = host->value_map();
    host->map_set(m, "id", host->value_string(id));
    host->map_set(m, "key", host->value_string(key));
    return m;
}

/* --- actions ------------------------------------------------------------------- */

static rb_status echo_run(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    note_call("echo", "run");
    rb_value *m = host->value_map();
    host->map_set(m, "args", args ? host->value_copy(args) : host->value_map());
    *out = m;
    return RB_OK;
}

static rb_status sleep_run(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    note_call("sleep", "run");
    int64_t ms = host->map_get_int(args, "ms", 0);
    rb_status rc = sleep_ms(ctx, ms);
    if (rc == RB_OK) {
        rb_value *m = host->value_map();
        host->map_set(m, "ms", host->value_int(ms));
        *out = m;
    }
    return rc;
}

static rb_status record_run(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    note_call("record", "run");
    const char *id = host->map_get_string(args, "id", "");
    rb_status rc = record_once(ctx, id);
    if (rc == RB_OK)
        *out = id_key(id, host->idempotency_key(ctx));
    return rc;
}

static rb_status record_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    note_call("record", "plan");
    *out = id_key(host->map_get_string(args, "id", ""), "planned");
    return RB_OK;
}

static rb_status destroy_run(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    note_call("destroy", "run");
    const char *id = host->map_get_string(args, "id", "");
    rb_status rc = record_once(ctx, id);
    if (rc == RB_OK)
        *out = id_key(id, host->idempotency_key(ctx));
    return rc;
}

static rb_status destroy_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    note_call("destroy", "plan");
    *out = id_key(host->map_get_string(args, "id", ""), "planned");
    return RB_OK;
}

static rb_status flaky_run(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    note_call("flaky", "run");
    const char *key = host->map_get_string(args, "key", "");
    int64_t failures = host->map_get_int(args, "failures", 0);
    if (!*key || strchr(key, '/') || key[0] == '.') {
        host->set_error(ctx, "key must be a plain file name, got \"%s\"", key);
        return RB_EINVAL;
    }
    const char *dir = getenv("REBOUND_TESTKIT_STATE_DIR");
    if (!dir || !*dir)
        dir = host->run_dir(ctx);
    char *path = host->str_format("%s/%s", dir, key);
    int fd = path ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : -1;
    if (fd < 0) {
        host->set_error(ctx, "cannot open %s: %s", path ? path : dir, strerror(errno));
        host->mem_free(path);
        return RB_EIO;
    }
    host->mem_free(path);
    flock(fd, LOCK_EX);
    char *text = read_fd(fd);
    long long attempt = (text ? atoll(text) : 0) + 1;
    free(text);
    char num[32];
    int n = snprintf(num, sizeof num, "%lld\n", attempt);
    rb_status rc = RB_OK;
    if (ftruncate(fd, 0) != 0 || pwrite(fd, num, (size_t)n, 0) != n) {
        host->set_error(ctx, "cannot update the failure count: %s", strerror(errno));
        rc = RB_EIO;
    }
    flock(fd, LOCK_UN);
    close(fd);
    if (rc != RB_OK)
        return rc;
    if (attempt <= failures) {
        host->set_error(ctx, "flaky failure %lld of %lld for key %s", attempt,
                        (long long)failures, key);
        return RB_ERETRY;
    }
    rb_value *m = host->value_map();
    host->map_set(m, "key", host->value_string(key));
    host->map_set(m, "attempts", host->value_int(attempt));
    *out = m;
    return RB_OK;
}

static rb_status fail_run(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    note_call("fail", "run");
    host->set_error(ctx, "%s", host->map_get_string(args, "message", "failed on purpose"));
    return RB_ERROR;
}

static rb_value *lro_outputs(int reattached, const char *op)
{
    rb_value *m = host->value_map();
    host->map_set(m, "reattached", host->value_bool(reattached));
    host->map_set(m, "op", host->value_string(op));
    return m;
}

static rb_status lro_run(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    note_call("lro", "run");
    const char *prev = host->operation_id(ctx);
    if (prev) {
        *out = lro_outputs(1, prev);
        return RB_OK;
    }
    char *op = host->str_format("op-%s", host->idempotency_key(ctx));
    if (!op)
        return RB_ENOMEM;
    rb_status rc = host->save_operation(ctx, op);
    if (rc != RB_OK) {
        host->set_error(ctx, "cannot save operation %s (%s)", op, rb_status_name(rc));
    } else {
        rc = sleep_ms(ctx, host->map_get_int(args, "ms", 0));
        if (rc == RB_OK)
            *out = lro_outputs(0, op);
    }
    host->mem_free(op);
    return rc;
}

static rb_status lro_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    note_call("lro", "plan");
    *out = lro_outputs(0, "planned");
    return RB_OK;
}

/* --- tables -------------------------------------------------------------------- */

static const rb_field echo_params[] = {
    {.name = "text", .type = RB_TSTRING, .help = "a string"},
    {.name = "n", .type = RB_TINT, .help = "an integer"},
    {.name = "x", .type = RB_TNUMBER, .help = "a number"},
    {.name = "flag", .type = RB_TBOOL, .help = "a boolean"},
    {.name = "data", .type = RB_TBYTES, .help = "bytes"},
    {.name = "items", .type = RB_TLIST, .help = "a list"},
    {.name = "opts", .type = RB_TMAP, .help = "a map"},
    {.name = "value", .type = RB_TANY, .help = "anything"},
    {.name = "greeting", .type = RB_TSTRING, .default_json = "\"hello\"",
     .help = "a string with a default"},
    {0},
};
static const rb_field echo_outputs[] = {
    {.name = "args", .type = RB_TMAP, .help = "the validated arguments, defaults filled in"},
    {0},
};
static const rb_field sleep_params[] = {
    {.name = "ms", .type = RB_TINT, .required = 1, .help = "milliseconds to sleep"},
    {0},
};
static const rb_field sleep_outputs[] = {
    {.name = "ms", .type = RB_TINT, .help = "milliseconds slept"},
    {0},
};
static const rb_field id_params[] = {
    {.name = "id", .type = RB_TSTRING, .required = 1, .help = "what to record"},
    {0},
};
static const rb_field id_outputs[] = {
    {.name = "id", .type = RB_TSTRING, .help = "the id parameter"},
    {.name = "key", .type = RB_TSTRING, .help = "the idempotency key (\"planned\" in plan mode)"},
    {0},
};
static const rb_field flaky_params[] = {
    {.name = "key", .type = RB_TSTRING, .required = 1, .help = "names the failure counter"},
    {.name = "failures", .type = RB_TINT, .required = 1,
     .help = "fail with RB_ERETRY this many times, then succeed"},
    {0},
};
static const rb_field flaky_outputs[] = {
    {.name = "key", .type = RB_TSTRING, .help = "the key parameter"},
    {.name = "attempts", .type = RB_TINT, .help = "attempts so far, this one included"},
    {0},
};
static const rb_field fail_params[] = {
    {.name = "message", .type = RB_TSTRING, .default_json = "\"failed on purpose\"",
     .help = "the error message"},
    {0},
};
static const rb_field lro_params[] = {
    {.name = "ms", .type = RB_TINT, .default_json = "0",
     .help = "how long the operation runs after its id is saved"},
    {0},
};
static const rb_field lro_outputs_t[] = {
    {.name = "reattached", .type = RB_TBOOL, .help = "true when resumed from a saved operation"},
    {.name = "op", .type = RB_TSTRING, .help = "the operation id"},
    {0},
};

static const rb_action actions[] = {
    {.name = "echo", .summary = "Returns its arguments", .effect = RB_EFFECT_READ,
     .params = echo_params, .outputs = echo_outputs, .run = echo_run},
    {.name = "sleep", .summary = "Sleeps, stopping early when cancelled", .effect = RB_EFFECT_READ,
     .params = sleep_params, .outputs = sleep_outputs, .run = sleep_run},
    {.name = "record", .summary = "Appends <key> <id> to $REBOUND_TESTKIT_LOG once per key",
     .effect = RB_EFFECT_WRITE, .params = id_params, .outputs = id_outputs, .run = record_run,
     .plan = record_plan},
    {.name = "destroy", .summary = "Like record, but destructive",
     .effect = RB_EFFECT_DESTRUCTIVE, .params = id_params, .outputs = id_outputs,
     .run = destroy_run, .plan = destroy_plan},
    {.name = "flaky", .summary = "Fails with RB_ERETRY a given number of times, then succeeds",
     .effect = RB_EFFECT_READ, .params = flaky_params, .outputs = flaky_outputs, .run = flaky_run},
    {.name = "fail", .summary = "Always fails with its message", .effect = RB_EFFECT_READ,
     .params = fail_params, .run = fail_run},
    {.name = "lro", .summary = "Saves an operation id, waits, and re-attaches on resume",
     .effect = RB_EFFECT_WRITE, .params = lro_params, .outputs = lro_outputs_t, .run = lro_run,
     .plan = lro_plan},
};

static const rb_plugin plugin = {
    RB_PLUGIN_HEADER,
    .name = "testkit",
    .version = "1.0.0",
    .description = "Observable side effects for the runner's tests",
    RB_PLUGIN_ACTIONS(actions),
};


RB_PLUGIN_EXPORT int rb_plugin_init(const rb_host_api *h, const rb_plugin **out, char **errmsg)
{
    if (h->abi_major != RB_ABI_MAJOR)
        return RB_EABI;
    host = h;
    *out = &plugin;
    return RB_OK;
}
