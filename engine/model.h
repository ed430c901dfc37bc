/*
 * model: the immutable weights of a Llama sequence classifier on the CPU,
 * built once from a checkpoint. The layer matrices are prepared by the
 * GEMM seam (gemm.h) in the layout of the path it chose, kept in bf16
 * (q/k/v fused into one [q+k+v][hidden] weight, gate/up into one
 * [2*intermediate][hidden]); each source tensor's pages are
 * released as soon as it is copied, so peak memory stays near one copy.
 * The embedding table stays in the checkpoint's mapping (only the rows
 * used are ever read). RoPE cos/sin are tabulated in fp32 for positions
 * 0 .. max_tokens-1 exactly as transformers computes them (llama3 scaling).
 *
 * Ownership: the model borrows the checkpoint (which must outlive it) and
 * owns everything else. A model is read-only after model_load and may be
 * shared by any number of forward states.
 */
#ifndef LLMSPAM_ENGINE_MODEL_H
#define LLMSPAM_ENGINE_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "engine/checkpoint.h"
#include "engine/gemm.h"
#include "engine/llama_config.h"
#include "engine/status.h"

typedef struct model_layer {
    uint16_t *ln_attn;       /* [hidden] input_layernorm */
    uint16_t *ln_mlp;        /* [hidden] post_attention_layernorm */
    gemm_weight *qkv;        /* [q_dim + 2*kv_dim][hidden] */
    gemm_weight *o;          /* [hidden][q_dim] */
    gemm_weight *gate_up;    /* [2*intermediate][hidden]: gate rows, then up rows */
    gemm_weight *down;       /* [hidden][intermediate] */
} model_layer;

typedef struct model {
    llama_config cfg;
    int max_tokens;          /* positions tabulated, rows the weights were laid out for */
    int q_dim, kv_dim;       /* heads*head_dim, kv_heads*head_dim */
    gemm_ctx *gemm;
    const uint16_t *embed;   /* [vocab][hidden], bf16 */
    uint16_t *embed_copy;    /* set when the checkpoint's table was F16/F32 */
    model_layer *layers;     /* [num_layers] */
    uint16_t *norm;          /* [hidden] model.norm */
    float *score;            /* [num_labels][hidden] */
    float *rope_cos, *rope_sin; /* [max_tokens][head_dim/2] */
    size_t weight_bytes;     /* bytes of the prepared matrices */
} model;

/* Build the model for sequences of at most max_tokens tokens. The
 * checkpoint's layer tensors are released (their pages dropped). */
engine_status model_load(checkpoint *ck, int max_tokens, model **out, engine_err *err);
void model_free(model *m);

/* The RoPE inverse frequencies [head_dim/2] as transformers computes them
 * in fp32 (default, or llama3 scaling). Exposed for the tests. */
void model_rope_inv_freq(const llama_config *cfg, float *inv_freq);

#endif
