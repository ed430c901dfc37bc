/*
 * gemm: the bf16 matrix products of the forward pass, by oneDNN's matmul:
 * C[m][n] (fp32) = A[m][k] (bf16) * W[n][k]^T (bf16), optionally added to
 * C (a "sum" post-op, used for the residual adds of o_proj and down_proj).
 *
 * A weight is reordered once at load into the layout oneDNN prefers for
 * it (gemm_weight, immutable, shareable between threads). oneDNN picks its
 * fast brgemm kernels only when m is known when the primitive is made, so a
 * gemm_plan holds one primitive per row bucket (gemm_bucket(): 1, 16, then
 * steps of at most 1/8 of m) made up front; rows between m and the bucket
 * are computed and ignored, so A and C must have gemm_bucket(m) rows.
 * A plan, with its stream and scratchpad, is per-use state: one thread at a
 * time. gemm_run sets the calling thread's OpenMP thread count
 * (omp_set_num_threads) to the one the bucket was made for.
 */
#ifndef LLMSPAM_ENGINE_GEMM_H
#define LLMSPAM_ENGINE_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine/status.h"

typedef struct gemm_ctx gemm_ctx;       /* the oneDNN CPU engine */
typedef struct gemm_weight gemm_weight; /* one reordered [n][k] weight */
typedef struct gemm_plan gemm_plan;     /* primitives for one shape, per bucket */

engine_status gemm_ctx_new(gemm_ctx **out, engine_err *err);
void gemm_ctx_free(gemm_ctx *g);

/* The bucket (rows actually computed) for m rows, m >= 1. */
int gemm_bucket(int m);

/* Reorder w ([n][k] row-major bf16, as transformers stores a Linear
 * weight; only read) into a new weight. The layout is the one oneDNN
 * chooses for max_m rows. name is for messages. */
engine_status gemm_weight_new(gemm_ctx *g, const char *name, int n, int k, int max_m,
                              const uint16_t *w, gemm_weight **out, engine_err *err);
void gemm_weight_free(gemm_weight *w);
size_t gemm_weight_bytes(const gemm_weight *w);

/* Primitives for every bucket up to gemm_bucket(max_m), for weights shaped
 * like proto (any weight of the same n, k and max_m can be run with it).
 * accumulate: C += A W^T instead of C = A W^T. threads: OpenMP threads
 * (buckets of at most 16 rows, or of little work, use one). */
engine_status gemm_plan_new(gemm_ctx *g, const gemm_weight *proto, int max_m, bool accumulate,
                            int threads, gemm_plan **out, engine_err *err);
void gemm_plan_free(gemm_plan *p);

/* C[gemm_bucket(m)][n] (=|+=) A[gemm_bucket(m)][k] W^T. A and C are
 * contiguous (lda = k, ldc = n). Allocates nothing. */
engine_status gemm_run(gemm_plan *p, const gemm_weight *w, int m, const uint16_t *a, float *c,
                       engine_err *err);

/* oneDNN's implementation name for bucket of m (e.g. "brg:avx512_core_bf16"). */
const char *gemm_plan_impl(const gemm_plan *p, int m);

#endif
