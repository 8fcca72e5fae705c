/* Exports a symbol, but not rb_plugin_init: the loader must say so. */
#include "rebound/rebound.h"

RB_PLUGIN_EXPORT int rb_plugin_entry(void);

RB_PLUGIN_EXPORT int rb_plugin_entry(void) { return RB_OK; }
