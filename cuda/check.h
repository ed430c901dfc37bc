/*
 * check: CUDA and cuBLAS errors turned into engine statuses. Every call into
 * the CUDA runtime or cuBLASLt goes through CU_TRY / BLAS_TRY, which fill the
 * caller's engine_err with "cuda: FILE:LINE: CALL: message" and return
 * ENGINE_ERR_BACKEND (ENGINE_ERR_NOMEM for out of memory) from the enclosing
 * function. Nothing here aborts, exits or prints: the library rule.
 *
 * The enclosing function must have an `engine_err *err` in scope and return
 * engine_status.
 */
#ifndef LLMSPAM_CUDA_CHECK_H
#define LLMSPAM_CUDA_CHECK_H

#include <cstdarg>
#include <cstdio>
#include <cublasLt.h>
#include <cuda_runtime.h>
#include "engine/status.h"

/* engine_fail, for a module that does not link the engine. */
static inline engine_status cuda_fail(engine_err *err, engine_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline engine_status cuda_fail(engine_err *err, engine_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

static inline const char *cuda_base(const char *path)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '/')
            b = p + 1;
    return b;
}

static inline engine_status cuda_status_of(cudaError_t e, const char *file, int line, const char *call,
                                           engine_err *err)
{
    return cuda_fail(err, e == cudaErrorMemoryAllocation ? ENGINE_ERR_NOMEM : ENGINE_ERR_BACKEND,
                     "cuda: %s:%d: %s: %s (%s)", cuda_base(file), line, call, cudaGetErrorString(e),
                     cudaGetErrorName(e));
}

static inline engine_status blas_status_of(cublasStatus_t s, const char *file, int line, const char *call,
                                           engine_err *err)
{
    return cuda_fail(err, s == CUBLAS_STATUS_ALLOC_FAILED ? ENGINE_ERR_NOMEM : ENGINE_ERR_BACKEND,
                     "cuda: %s:%d: %s: cuBLASLt %s (%d)", cuda_base(file), line, call,
                     cublasLtGetStatusString(s), (int)s);
}

#define CU_TRY(call)                                                                 \
    do {                                                                             \
        cudaError_t cu_try_e_ = (call);                                              \
        if (cu_try_e_ != cudaSuccess)                                                \
            return cuda_status_of(cu_try_e_, __FILE__, __LINE__, #call, err);        \
    } while (0)

/* After a kernel launch: launch errors (bad configuration) are reported at
 * once; faults inside the kernel surface at the next synchronization. */
#define CU_LAUNCHED(what)                                                            \
    do {                                                                             \
        cudaError_t cu_try_e_ = cudaGetLastError();                                  \
        if (cu_try_e_ != cudaSuccess)                                                \
            return cuda_status_of(cu_try_e_, __FILE__, __LINE__, what, err);         \
    } while (0)

#define BLAS_TRY(call)                                                               \
    do {                                                                             \
        cublasStatus_t blas_try_s_ = (call);                                         \
        if (blas_try_s_ != CUBLAS_STATUS_SUCCESS)                                    \
            return blas_status_of(blas_try_s_, __FILE__, __LINE__, #call, err);      \
    } while (0)

#endif
