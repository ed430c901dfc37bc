/*
 * backend: the small interface behind which a forward pass runs (ggml
 * style): the CPU backend here (backend_cpu.c) and the CUDA one (cuda/,
 * loaded with dlopen as "llmspam_backend_cuda_new", same signature as
 * backend_cpu_new). The classifier talks only to this interface, and every
 * backend is checked against the CPU.
 *
 * A backend forwards a batch of token sequences and returns, for each, the
 * logits of its LAST token: the caller has already cut each sequence after
 * its pooled token (causal attention makes the rest irrelevant). The sum
 * of the sequence lengths is at most backend_capacity(); every sequence is
 * at most max_tokens long.
 *
 * Ownership: a backend borrows the checkpoint it was created from (which
 * must outlive it) and owns everything else. One thread at a time may call
 * backend_forward on a backend; the scheduler is that thread.
 */
#ifndef LLMSPAM_ENGINE_BACKEND_H
#define LLMSPAM_ENGINE_BACKEND_H

#include <stdint.h>
#include "engine/checkpoint.h"
#include "engine/status.h"

typedef struct backend_options {
    int threads;      /* compute threads; >= 1 */
    int max_tokens;   /* longest sequence, and the rows sized at load */
    int device_index; /* CUDA device; ignored by the CPU */
} backend_options;

typedef struct backend_batch {
    int n_seqs;
    const int32_t *const *ids; /* [n_seqs] pointers to lens[i] ids, each < vocab_size */
    const int *lens;           /* [n_seqs], each 1 .. max_tokens */
    float *logits;             /* out: [n_seqs][num_labels] */
    /* Optional: called between layers; nonzero stops the forward pass,
     * which then returns ENGINE_ERR_TIMEOUT. */
    int (*cancel)(void *ctx);
    void *cancel_ctx;
    double flops;              /* out: floating-point operations done */
} backend_batch;

typedef struct backend backend;

typedef struct backend_ops {
    const char *name;
    engine_status (*forward)(backend *b, backend_batch *batch, engine_err *err);
    void (*free)(backend *b);
} backend_ops;

/* Every backend struct begins with this header. */
struct backend {
    const backend_ops *ops;
    int capacity;     /* most tokens in one batch */
    int max_tokens;
    int num_labels;
    char desc[128];   /* e.g. "cpu (avx512 kernels, 2 threads)" */
};

typedef engine_status (*backend_new_fn)(checkpoint *ck, const backend_options *opt,
                                        backend **out, engine_err *err);

/* The CPU backend: the GEMM seam (gemm.h) and the kernels of kernels.h. */
engine_status backend_cpu_new(checkpoint *ck, const backend_options *opt, backend **out,
                              engine_err *err);

static inline engine_status backend_forward(backend *b, backend_batch *batch, engine_err *err)
{
    return b->ops->forward(b, batch, err);
}

static inline void backend_free(backend *b)
{
    if (b)
        b->ops->free(b);
}

static inline const char *backend_name(const backend *b)
{
    return b->ops->name;
}

static inline int backend_capacity(const backend *b)
{
    return b->capacity;
}

#endif
