/* Playbooks: Lua 5.4 scripts that declare steps, loaded into a sandbox.
 *
 *   playbook { name = "keyvault-recover", params = { vault = "string" } }
 *   local kv = plugin "keyvault"
 *   step "backup" { needs = { "protection" }, effect = "write",
 *                   run = function(ctx) return kv.backup_all { vault = ctx.params.vault } end }
 *
 * Loading runs the top-level chunk once, which only declares things: plugin
 * actions can be called only from a step's run/verify functions, which the
 * scheduler later runs as coroutines (a call into a plugin yields until a
 * worker thread has finished it, so steps without an order between them
 * overlap while Lua itself stays on one thread).
 *
 * The sandbox: base library without dofile/loadfile and binary chunks,
 * string (without dump), table, math, utf8, coroutine, os.time/clock/date;
 * no io, no debug; require() only for modules next to the playbook. An
 * instruction budget (per entry into Lua) and a memory cap stop runaway
 * playbooks with a clear message. */
#ifndef REBOUND_RUNNER_PLAYBOOK_H
#define REBOUND_RUNNER_PLAYBOOK_H

#include <lua.h>
#include <stddef.h>

#include "plugin/registry.h"
#include "rebound/value.h"

typedef struct rb_step {
    char *name;
    char *description;      /* may be NULL */
    char **needs;           /* n_needs names */
    size_t n_needs;
    rb_effect effect;       /* declared; default read */
    int run_ref;            /* Lua registry refs; LUA_NOREF when absent */
    int verify_ref;
    int when_ref;
    int retry_attempts;     /* total attempts, >= 1 */
    double retry_backoff_s; /* first backoff; doubles each attempt, full jitter */
    double timeout_s;       /* 0 = none */
    int always;             /* runs even when a dependency failed (teardown) */
    char *file;             /* where it was declared */
    int line;
} rb_step;

typedef struct rb_limits {
    long long max_instructions; /* per entry into Lua; <= 0 means none */
    size_t max_memory;          /* bytes; 0 means none */
} rb_limits;

typedef struct rb_playbook {
    char *path;
    char *dir;
    char *name;
    char *description;
    rb_value *param_spec;   /* map: param -> type string ("string", "int?", ...) */
    rb_step *steps;
    size_t n_steps;
    char **plugins;         /* names passed to plugin "..." */
    size_t n_plugins;
    lua_State *L;
    struct rb_lua_env *env; /* sandbox state (allocator, hook budget) */
    const rb_step *current_step; /* the step whose body last started or resumed */
} rb_playbook;

/* What the scheduler does with a plugin call a step makes. Set on the
 * playbook with rb_playbook_set_hooks() before running steps. */
typedef enum rb_call_outcome {
    RB_CALL_DONE = 0,   /* *out holds the outputs (a new map, or NULL) */
    RB_CALL_PENDING,    /* the step yields; resumed when the call completes */
    RB_CALL_ERROR       /* *err holds a malloc'd message */
} rb_call_outcome;

typedef struct rb_call_hooks {
    void *data;
    /* args is a validated map with defaults (ownership passes to the hook). */
    rb_call_outcome (*call)(void *data, const rb_loaded_plugin *plugin, const rb_action *action,
                            rb_value *args, rb_value **out, char **err);
    /* After a PENDING call, when the coroutine is resumed: the result.
     * Returns 0 with *out (owned by caller, may be NULL) or -1 with *err. */
    int (*take_result)(void *data, rb_value **out, char **err);
} rb_call_hooks;

/* Loads and checks a playbook. registry resolves `plugin "name"`.
 * On error returns NULL and writes "file:line: message" (with a traceback
 * for runtime errors) into a malloc'd *err. */
rb_playbook *rb_playbook_load(const char *path, const rb_registry *registry,
                              const rb_limits *limits, char **err);
void rb_playbook_free(rb_playbook *pb);

void rb_playbook_set_hooks(rb_playbook *pb, const rb_call_hooks *hooks);

/* Checks params against param_spec: unknown or missing required params and
 * type mismatches ("int", "number", "bool" parse from the --param text).
 * Returns a new map of typed values, or NULL with a malloc'd *err. */
rb_value *rb_playbook_check_params(const rb_playbook *pb, const rb_value *raw, char **err);

/* --- running step code (scheduler side) --------------------------------- */

/* Pushes a Lua table converted from v (NULL pushes nil). */
void rb_lua_push_value(lua_State *L, const rb_value *v);
/* Converts the Lua value at idx. Returns NULL with *err on failure
 * (functions, userdata, cyclic or too deep tables). */
rb_value *rb_lua_to_value(lua_State *L, int idx, char **err);

/* Sets the part of ctx every step shares (params, estate, target, vault,
 * run_id, mode...). It is converted once and frozen: steps read it, and a
 * write raises "ctx values are read-only". 0, or -1 with a malloc'd *err. */
int rb_playbook_set_base_ctx(rb_playbook *pb, const rb_value *base, char **err);

/* Starts one attempt of a step: a new coroutine running run(ctx) and then
 * verify(out, ctx) (when do_verify). ctx is the base ctx plus the fields of
 * the `ctx` map given here (step, attempt, outputs).
 * Returns the coroutine (anchored in the registry until rb_step_thread_end). */
typedef struct rb_named_value {
    const char *name;
    const rb_value *value;   /* borrowed; NULL reads as an empty table */
} rb_named_value;

/* outputs: the outputs of the steps this one needs, as ctx.outputs[name]. */
lua_State *rb_step_thread_start(rb_playbook *pb, const rb_step *step, const rb_value *ctx,
                                const rb_named_value *outputs, size_t n_outputs,
                                int do_verify, int *anchor_ref);
/* Resumes it. Returns LUA_OK (finished: *out = outputs, may be NULL), LUA_YIELD
 * (waiting on a plugin call) or an error with *err = "file:line: msg\ntraceback". */
int rb_step_thread_resume(rb_playbook *pb, lua_State *co, rb_value **out, char **err);
void rb_step_thread_end(rb_playbook *pb, int anchor_ref);

/* Evaluates a step's `when` with the same ctx (no plugin calls allowed).
 * 1 run, 0 skip, -1 error. */
int rb_step_eval_when(rb_playbook *pb, const rb_step *step, const rb_value *ctx,
                      const rb_named_value *outputs, size_t n_outputs, char **err);

/* While a step with a timeout runs Lua code: raise "timed out" once the
 * monotonic clock (rb_mono_s) passes deadline. 0 clears it. */
void rb_playbook_set_deadline(rb_playbook *pb, double deadline, double timeout_s);

/* Non-zero when the last error came from the instruction or memory limit;
 * the run treats that as a playbook error (exit 2), not a step failure. */
int rb_playbook_limit_hit(const rb_playbook *pb);

#endif
