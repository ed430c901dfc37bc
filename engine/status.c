/* status: see status.h. */
#include "engine/status.h"

#include <stdarg.h>
#include <stdio.h>

engine_status engine_fail(engine_err *err, engine_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

const char *engine_status_name(engine_status status)
{
    switch (status) {
    case ENGINE_OK: return "ok";
    case ENGINE_ERR_IO: return "io";
    case ENGINE_ERR_FORMAT: return "format";
    case ENGINE_ERR_UNSUPPORTED: return "unsupported";
    case ENGINE_ERR_NOMEM: return "nomem";
    case ENGINE_ERR_ARG: return "argument";
    case ENGINE_ERR_TIMEOUT: return "timeout";
    case ENGINE_ERR_OVERLOAD: return "overload";
    case ENGINE_ERR_BACKEND: return "backend";
    case ENGINE_ERR_SHUTDOWN: return "shutdown";
    }
    return "unknown";
}
