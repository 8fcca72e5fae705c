/* noop: a plugin whose actions change nothing.
 *
 * The demo playbook and the engine benchmark use it to measure the runner
 * itself: ping answers at once, touch is a write action with plan() (so plan
 * mode has something to predict), sleep waits while honouring cancellation. */
#include <time.h>

#include "rebound/rebound.h"

static const rb_host_api *host;

static rb_status ping(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_value *m = host->value_map();
    host->map_set(m, "message", host->value_string(host->map_get_string(args, "message", "pong")));
    *out = m;
    return RB_OK;
}

/* run() and plan() agree: touching changes nothing, so the prediction is
 * exact. */
static rb_status touch(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_value *m = host->value_map();
    host->map_set(m, "id", host->value_string(host->map_get_string(args, "id", "")));
    host->map_set(m, "key", host->value_string(host->idempotency_key(ctx)));
    *out = m;
    return RB_OK;
}

static rb_status nap(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    int64_t ms = host->map_get_int(args, "ms", 0);
    if (ms < 0) {
        host->set_error(ctx, "ms must not be negative, got %lld", (long long)ms);
        return RB_EINVAL;
    }
    /* Wake at least every 10 ms so an interrupt or a timeout stops us fast. */
    for (int64_t left = ms; left > 0; left -= 10) {
        if (host->progress(ctx, (uint64_t)(ms - left), (uint64_t)ms)) {
            host->set_error(ctx, "cancelled after %lld of %lld ms", (long long)(ms - left),
                            (long long)ms);
            return RB_ECANCELED;
        }
        int64_t step = left < 10 ? left : 10;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
    }
    host->progress(ctx, (uint64_t)ms, (uint64_t)ms);
    return RB_OK;
}

static const rb_field ping_params[] = {
    {.name = "message", .type = RB_TSTRING, .default_json = "\"pong\"",
     .help = "What to answer with"},
    {0},
};
static const rb_field ping_outputs[] = {
    {.name = "message", .type = RB_TSTRING, .help = "The message, unchanged"},
    {0},
};
static const rb_field touch_params[] = {
    {.name = "id", .type = RB_TSTRING, .required = 1, .help = "Any identifier; echoed back"},
    {0},
};
static const rb_field touch_outputs[] = {
    {.name = "id", .type = RB_TSTRING, .help = "The id parameter"},
    {.name = "key", .type = RB_TSTRING, .help = "The call's idempotency key"},
    {0},
};
static const rb_field sleep_params[] = {
    {.name = "ms", .type = RB_TINT, .required = 1, .help = "How long to sleep, in milliseconds"},
    {0},
};

static const rb_action actions[] = {
    {.name = "ping", .summary = "Answers with its message", .effect = RB_EFFECT_READ,
     .params = ping_params, .outputs = ping_outputs, .run = ping},
    {.name = "touch", .summary = "A write action that changes nothing", .effect = RB_EFFECT_WRITE,
     .params = touch_params, .outputs = touch_outputs, .run = touch, .plan = touch},
    {.name = "sleep", .summary = "Sleeps, stopping early when cancelled", .effect = RB_EFFECT_READ,
     .params = sleep_params, .run = nap},
};

static const rb_plugin plugin = {
    RB_PLUGIN_HEADER,
    .name = "noop",
    .version = "1.0.0",
    .description = "Actions that change nothing, for demos, benchmarks and tests",
    RB_PLUGIN_ACTIONS(actions),
};


RB_PLUGIN_EXPORT int rb_plugin_init(const rb_host_api *h, const rb_plugin **out, char **errmsg)
{
    if (h->abi_major != RB_ABI_MAJOR) {
        *errmsg = NULL; /* cannot trust h->str_dup in a table we do not understand */
        return RB_EABI;
    }
    host = h;
    *out = &plugin;
    return RB_OK;
}
