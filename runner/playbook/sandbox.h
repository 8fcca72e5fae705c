/* The Lua sandbox shared by the playbook loader and the step runner. */
#ifndef REBOUND_RUNNER_SANDBOX_H
#define REBOUND_RUNNER_SANDBOX_H

#include <lua.h>
#include <stddef.h>

#include "playbook/playbook.h"

enum { RB_LIMIT_NONE = 0, RB_LIMIT_INSTRUCTIONS = 1, RB_LIMIT_MEMORY = 2 };

/* One per playbook; lives as long as its lua_State, whose extra space
 * points at it (coroutines inherit that pointer). */
typedef struct rb_lua_env {
    size_t used;               /* bytes allocated by Lua */
    size_t max_memory;         /* 0 = none */
    long long count;           /* instructions since the last enter */
    long long max_instructions;
    int limit_hit;             /* RB_LIMIT_* of the last limit error */
    char *dir;                 /* the playbook's folder, for require */
    const rb_registry *registry;
    rb_playbook *pb;
    rb_call_hooks hooks;
    int have_hooks;
    int in_step;               /* plugin calls allowed */
    lua_State *step_thread;    /* the step body's own coroutine while it runs */
    int loading;               /* the top-level chunk is running: declarations allowed */
    double deadline;           /* rb_mono_s() time a step's Lua code must stop by; 0 none */
    double timeout_s;          /* for the message */
    int timed_out;
    lua_State *main;           /* the playbook's main state */
    int wrapper_ref;           /* the Lua step-body wrapper */
    int freeze_ref;            /* makes a table tree read-only */
    int base_ref;              /* the shared, frozen part of every ctx */
} rb_lua_env;

lua_State *rb_lua_sandbox_new(rb_lua_env *env);
rb_lua_env *rb_lua_env_of(lua_State *L);
/* Resets the instruction budget; call before each entry into Lua. */
void rb_lua_env_enter(rb_lua_env *env);

/* Registry key of the weak table proxy -> original of the frozen ctx. */
#define RB_FROZEN_PROXIES "rebound.frozen"

/* Yielded (as a light userdata of its address) by plugin calls. */
extern const char rb_plugin_yield_marker;

/* Registers playbook, step, plugin, expect, fail (dsl.c). */
void rb_dsl_open(lua_State *L);

#endif
