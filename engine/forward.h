/*
 * forward: the per-use state of the CPU forward pass (activations, GEMM
 * plans, scratch), every buffer sized at forward_new for max_tokens
 * rows, so forward_run allocates nothing. It runs a batch of sequences
 * packed as rows: embedding -> layers of (RMSNorm, GQA attention with RoPE,
 * causal, residual, RMSNorm, SwiGLU MLP, residual) -> final RMSNorm ->
 * score, returning each sequence's last-token logits. In the last layer
 * only the last rows are needed after K and V: attention, o_proj, the MLP
 * and the final norm run on those rows alone.
 *
 * Ownership: the state borrows the model (which must outlive it). One
 * thread at a time; it uses `threads` OpenMP workers for its kernels and
 * GEMMs alike.
 */
#ifndef LLMSPAM_ENGINE_FORWARD_H
#define LLMSPAM_ENGINE_FORWARD_H

#include <stdint.h>
#include "engine/backend.h"
#include "engine/gemm.h"
#include "engine/kernels.h"
#include "engine/model.h"
#include "engine/status.h"

typedef struct forward forward;

engine_status forward_new(const model *m, int threads, forward **out, engine_err *err);
void forward_free(forward *f);

/* Run batch (see backend.h). */
engine_status forward_run(forward *f, backend_batch *batch, engine_err *err);

/* ---- Benchmark and test hatches (tools/cmd_bench.c, t/): the classifier
 * needs none of these. ---- */

/* The GEMMs of a layer, by weight. */
typedef enum forward_gemm {
    FORWARD_GEMM_QKV,      /* [T][hidden] x [q+2kv][hidden]^T */
    FORWARD_GEMM_O,        /* [T][q_dim] x [hidden][q_dim]^T, added to the residual */
    FORWARD_GEMM_GATE_UP,  /* [T][hidden] x [2*inter][hidden]^T */
    FORWARD_GEMM_DOWN,     /* [T][inter] x [hidden][inter]^T, added to the residual */
    FORWARD_GEMMS
} forward_gemm;

/* The kernels table in use (kernels_get() unless replaced). */
const kernels *forward_kernels(const forward *f);
/* Use table k from now on (tests compare the portable and SIMD paths
 * over the whole forward pass). */
void forward_use_kernels(forward *f, const kernels *k);

/* The GEMM path in use (gemm_path(): "avx512_bf16", "avx2", ...). */
const char *forward_gemm_path(const forward *f);
/* The GEMM seam's kernel for GEMM `which` at m rows (gemm_plan_impl). */
const char *forward_gemm_impl(const forward *f, forward_gemm which, int m);
/* Run that GEMM alone on m rows of the first layer's weight (benchmarks);
 * returns its floating-point operations in *flops. */
engine_status forward_gemm_only(forward *f, forward_gemm which, int m, double *flops, engine_err *err);

/* Where the time goes: seconds per phase summed over forward_run calls
 * (seconds[FORWARD_PHASES]); reset zeroes the sums. */
#define FORWARD_PHASES 11
void forward_profile(forward *f, double *seconds, int reset);
const char *forward_phase_name(int phase);

/* The forward state of a CPU backend (benchmarks), or NULL when b is
 * another backend. Defined with the CPU backend (backend_cpu.c). */
forward *backend_cpu_forward_state(backend *b);

#endif
