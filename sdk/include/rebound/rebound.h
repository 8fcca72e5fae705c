/* rebound plugin SDK: include this one header to write a plugin. */
#ifndef REBOUND_REBOUND_H
#define REBOUND_REBOUND_H

#include "version.h"
#include "status.h"
#include "value.h"
#include "plugin.h"
#include "host.h"

#endif
