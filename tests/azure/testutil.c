#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "azure/http.h"

const char *tu_artifacts(void)
{
    const char *d = getenv("RB_AZURE_ARTIFACTS");
    return d && *d ? d : ".";
}

void tu_trace(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.trace", tu_artifacts(), name);
    rb_http_trace_open(path, NULL);
}

void tu_log(const char *name, const char *fmt, ...)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.log", tu_artifacts(), name);
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

void tu_log_err(const char *name, const char *what, const rb_az_err *e)
{
    tu_log(name, "%s: http=%d code=%s msg=%s", what, e->http_status, e->code, e->msg);
}
