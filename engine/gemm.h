/*
 * gemm: the one interface for the matrix products of the forward pass:
 * C[m][n] (fp32) = A[m][k] (bf16) * W[n][k]^T (bf16), or C += that (the
 * residual adds of o_proj and down_proj). Accumulation is fp32 on every
 * path.
 *
 * A weight is prepared once at load (gemm_weight: packed into the layout
 * its implementation wants, kept in bf16; immutable, shareable between
 * threads). A plan (gemm_plan) holds what one shape needs to run without
 * allocating: scratch, and per-row-count state. It is per-use state: one
 * thread at a time. A plan runs on up to `threads` OpenMP threads; one when
 * m <= 16 or the product is small (waking a second thread then costs more
 * than it gives on a shared machine).
 *
 * gemm_ctx_new chooses the implementation once, at run time, from
 * cpu_isa_get() (so LLMSPAM_CPU_ISA caps it) and from what the libraries
 * present can actually make, never from build flags. The paths
 * (gemm_path()), fastest first:
 *   "avx512_bf16"  oneDNN's bf16 matmul on AVX512-BF16 (gemm_onednn.c)
 *   "avx512"       our AVX-512F kernel, bf16 panels widened as it goes
 *                  (gemm_avx512.c; oneDNN is 4x slower without BF16)
 *   "avx2"         the same blocking with an AVX2+FMA kernel (gemm_avx2.c;
 *                  the same bits as avx512, gemm_blocked.h)
 *   "portable"     plain C, any CPU (gemm_portable.c)
 * A path that cannot be made (the CPU lacks it, or oneDNN refuses a bf16
 * matmul) falls to the next one; portable always can.
 */
#ifndef LLMSPAM_ENGINE_GEMM_H
#define LLMSPAM_ENGINE_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine/cpu_isa.h"
#include "engine/status.h"

typedef struct gemm_ctx gemm_ctx;       /* the chosen implementation */
typedef struct gemm_weight gemm_weight; /* one prepared [n][k] weight */
typedef struct gemm_plan gemm_plan;     /* what one shape needs to run */

engine_status gemm_ctx_new(gemm_ctx **out, engine_err *err);
/* The same with the level capped further at cap (tests run every path the
 * machine has in one process). */
engine_status gemm_ctx_new_capped(cpu_isa cap, gemm_ctx **out, engine_err *err);
void gemm_ctx_free(gemm_ctx *g);
/* "avx512_bf16", "avx512", "avx2" or "portable" (static). */
const char *gemm_path(const gemm_ctx *g);

/* Rows that A and C must have for a product of m rows (m >= 1): 1, 16,
 * then steps of at most 1/8 of m. Some paths compute the rows between m
 * and the bucket (their results are to be ignored, and with accumulate
 * they add to C there), others exactly m; so callers size A and C with it. */
int gemm_bucket(int m);

/* Prepare w ([n][k] row-major bf16, as transformers stores a Linear
 * weight; only read, not kept) as a new weight for products of at most
 * max_m rows. name is for messages. */
engine_status gemm_weight_new(gemm_ctx *g, const char *name, int n, int k, int max_m,
                              const uint16_t *w, gemm_weight **out, engine_err *err);
void gemm_weight_free(gemm_weight *w);
size_t gemm_weight_bytes(const gemm_weight *w);

/* A plan for products of 1..max_m rows with weights shaped like proto (any
 * weight of the same context, n, k and max_m runs with it). accumulate: C
 * += A W^T instead of C = A W^T. threads: OpenMP threads at most. */
engine_status gemm_plan_new(gemm_ctx *g, const gemm_weight *proto, int max_m, bool accumulate,
                            int threads, gemm_plan **out, engine_err *err);
void gemm_plan_free(gemm_plan *p);

/* C (=|+=) A W^T for m rows. A is [gemm_bucket(m)][k] and C
 * [gemm_bucket(m)][n], contiguous (lda = k, ldc = n). Allocates nothing.
 * Sets the calling thread's OpenMP thread count on the oneDNN paths. */
engine_status gemm_run(gemm_plan *p, const gemm_weight *w, int m, const uint16_t *a, float *c,
                       engine_err *err);

/* The kernel that runs m rows, for benchmarks: oneDNN's implementation
 * (e.g. "brg:avx512_core_bf16"), or "avx512 12x32", "avx2 6x16",
 * "portable 4x16", ... */
const char *gemm_plan_impl(const gemm_plan *p, int m);

#endif
