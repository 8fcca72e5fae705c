/* rebound plugin SDK: the value type that crosses the plugin boundary.
 *
 * Parameters, outputs and plugin settings are rb_value trees: null, bool,
 * 64-bit integer, double, UTF-8 string, byte string, list and map (string
 * keys, insertion order kept). The same tree converts to and from Lua tables
 * and JSON in the host.
 *
 * rb_value is opaque: plugins build and read values only through the
 * functions in rb_host_api (see host.h), so the host owns the allocator and
 * the layout can change without breaking plugins.
 *
 * Ownership: a function that returns `rb_value *` gives the caller a new
 * value to free with host->value_free() or to hand to a function documented
 * as taking ownership. A function that returns `const rb_value *` lends a
 * value owned by its container, valid while the container lives. */
#ifndef REBOUND_VALUE_H
#define REBOUND_VALUE_H

typedef struct rb_value rb_value;

typedef enum rb_value_type {
    RB_VNULL = 0,
    RB_VBOOL = 1,
    RB_VINT = 2,
    RB_VDOUBLE = 3,
    RB_VSTRING = 4,
    RB_VBYTES = 5,
    RB_VLIST = 6,
    RB_VMAP = 7
} rb_value_type;

/* Types a plugin declares for its parameters and outputs. RB_TANY accepts
 * any value; RB_TNUMBER accepts integers and doubles. */
typedef enum rb_type {
    RB_TANY = 0,
    RB_TBOOL = 1,
    RB_TINT = 2,
    RB_TNUMBER = 3,
    RB_TSTRING = 4,
    RB_TBYTES = 5,
    RB_TLIST = 6,
    RB_TMAP = 7
} rb_type;

#endif
