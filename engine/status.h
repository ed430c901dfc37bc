/*
 * status: the status codes and the error message buffer that every engine,
 * mime and cuda function returns or fills. Libraries never exit or abort;
 * they return one of these and describe the problem in an engine_err,
 * naming the file and the key or tensor at fault.
 */
#ifndef LLMSPAM_ENGINE_STATUS_H
#define LLMSPAM_ENGINE_STATUS_H

#include <stddef.h>

typedef enum engine_status {
    ENGINE_OK = 0,
    ENGINE_ERR_IO,          /* a file could not be opened, read or mapped */
    ENGINE_ERR_FORMAT,      /* malformed input: JSON, safetensors, tokenizer.json */
    ENGINE_ERR_UNSUPPORTED, /* well-formed but not something llmspam runs */
    ENGINE_ERR_NOMEM,       /* an allocation failed */
    ENGINE_ERR_ARG,         /* a caller passed a bad argument */
    ENGINE_ERR_TIMEOUT,     /* the caller's deadline passed */
    ENGINE_ERR_OVERLOAD,    /* the queue is full; nothing was queued */
    ENGINE_ERR_BACKEND,     /* the compute backend failed (GEMM, CUDA) */
    ENGINE_ERR_SHUTDOWN     /* the engine is shutting down */
} engine_status;

#define ENGINE_ERR_MAX 512

/* A caller-owned message buffer; msg is always NUL-terminated. */
typedef struct engine_err {
    char msg[ENGINE_ERR_MAX];
} engine_err;

/* Fill err (may be NULL) and return status, so errors read as one line:
 *   return engine_fail(err, ENGINE_ERR_FORMAT, "%s: bad key %s", path, key); */
engine_status engine_fail(engine_err *err, engine_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A short fixed name for a status, e.g. "timeout". */
const char *engine_status_name(engine_status status);

#endif
