/*
 * forward: the per-use state of the CPU forward pass (activations, oneDNN
 * primitives, scratch), every buffer sized at forward_new for max_tokens
 * rows, so forward_run allocates nothing. It runs a batch of sequences
 * packed as rows: embedding -> layers of (RMSNorm, GQA attention with RoPE,
 * causal, residual, RMSNorm, SwiGLU MLP, residual) -> final RMSNorm ->
 * score, returning each sequence's last-token logits. In the last layer
 * only the last rows are needed after K and V: attention, o_proj, the MLP
 * and the final norm run on those rows alone.
 *
 * Ownership: the state borrows the model (which must outlive it). One
 * thread at a time; it uses `threads` OpenMP workers for its kernels and
 * oneDNN alike.
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

/* The kernels table in use (kernels_get() unless replaced). */
const kernels *forward_kernels(const forward *f);
/* Use table k from now on (tests compare the portable and AVX-512 paths
 * over the whole forward pass). */
void forward_use_kernels(forward *f, const kernels *k);

/* oneDNN's implementation for the GEMM of each layer shape at m rows:
 * which = 0 qkv, 1 o, 2 gate_up, 3 down. */
const char *forward_gemm_impl(const forward *f, int which, int m);
/* Run that GEMM alone on m rows of the first layer's weight (benchmarks);
 * returns its floating-point operations in *flops. */
engine_status forward_gemm_only(forward *f, int which, int m, double *flops, engine_err *err);

/* Where the time goes: seconds per phase summed over forward_run calls
 * (seconds[FORWARD_PHASES]); reset zeroes the sums. */
#define FORWARD_PHASES 11
void forward_profile(forward *f, double *seconds, int reset);
const char *forward_phase_name(int phase);

/* The forward state of a CPU backend (benchmarks), or NULL when b is
 * another backend. */
forward *backend_cpu_forward_state(backend *b);

#endif
