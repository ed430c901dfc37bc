/*
 * kernels: the CUDA kernels of the forward pass other than the GEMMs
 * (cuBLASLt does those), each the twin of a CPU kernel in engine/kernels_portable.c
 * with the same arithmetic in fp32: embedding gather, RMSNorm, RoPE
 * (llama3 angles tabulated in fp32 by the host, as the CPU does), SiLU*mul,
 * causal GQA attention over packed variable-length sequences (a tiled
 * FlashAttention-style kernel, online softmax in fp32, no padding), and
 * the final norm + score of the pooled rows.
 *
 * Rows are packed: the T tokens of a batch are rows 0..T-1, sequence s
 * owning rows off[s] .. off[s] + len[s] - 1. Shapes are [rows][cols],
 * row-major. Every launcher queues its kernel on stream and returns the
 * launch status; it allocates nothing.
 */
#ifndef LLMSPAM_CUDA_KERNELS_H
#define LLMSPAM_CUDA_KERNELS_H

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

/* One tile of attention work: query rows q0 .. q0+nq-1 (positions in the
 * sequence) of the sequence whose first row is `row`, written to output
 * rows out .. out+nq-1. */
struct attn_tile {
    int row;   /* first packed row of the sequence */
    int q0;    /* first query position */
    int nq;    /* 1 .. CUDA_ATTN_BQ */
    int out;   /* first output row */
};

#define CUDA_ATTN_BQ 64 /* query rows per tile */

/* h[T][H] (fp32) = embed[ids[t]][H] (bf16) */
cudaError_t cuda_embed(const __nv_bfloat16 *embed, const int32_t *ids, int T, int H, float *h,
                       cudaStream_t stream);

/* y[T][H] = bf16(w * (x * rsqrt(mean(x^2) + eps))), one row per block;
 * x rows at stride ldx (floats). */
cudaError_t cuda_rmsnorm_bf16(const float *x, int ldx, const __nv_bfloat16 *w, float eps, int T, int H,
                              __nv_bfloat16 *y, cudaStream_t stream);

/* qkv[T][ld]: rotate the nh query heads at column 0 and the nkv key heads
 * at column qd in place, row t at position pos[t]; cos/sin [pos][hd/2]. */
cudaError_t cuda_rope(float *qkv, int ld, int T, const int32_t *pos, int nh, int nkv, int hd, int qd,
                      const float *cos, const float *sin, cudaStream_t stream);

/* act[T][I] = bf16(silu(gu[t][i]) * gu[t][I + i]) */
cudaError_t cuda_silu_mul(const float *gu, int T, int I, __nv_bfloat16 *act, cudaStream_t stream);

/* dst[n][H] = src[rows[i]][H] (fp32) */
cudaError_t cuda_gather_rows(const float *src, const int32_t *rows, int n, int H, float *dst,
                             cudaStream_t stream);

/* Causal GQA attention for ntiles tiles and every query head. q, k, v are
 * fp32 in qkv[T][ld] (q heads at 0, k at qd, v at qd + kvd), RoPE applied;
 * out[rows][qd] bf16. Heads h uses kv head h / (nh / nkv). */
cudaError_t cuda_attention(const float *qkv, int ld, const attn_tile *tiles, int ntiles, int nh, int nkv,
                           int hd, float scale, __nv_bfloat16 *out, cudaStream_t stream);

/* The same on tensor cores: S = Q K^T and O += P V as TF32 products
 * (operands rounded to 10-bit mantissas, fp32 accumulation), for head
 * dims 16, 32, 64 and 128 (others: cuda_attention). Opt-in until measured
 * against the CPU on a GPU (LLMSPAM_CUDA_ATTENTION=tf32). */
cudaError_t cuda_attention_tc(const float *qkv, int ld, const attn_tile *tiles, int ntiles, int nh, int nkv,
                              int hd, float scale, __nv_bfloat16 *out, cudaStream_t stream);

/* Raise the attention kernels' shared-memory limits on device (once per
 * device, before the first attention there); kernels needing more than
 * the device allows are replaced by the generic one. */
cudaError_t cuda_attention_init(int device);

/* logits[n][L] = score[L][H] . (norm_w * rmsnorm(hp[n][H])) in fp32 */
cudaError_t cuda_final_score(const float *hp, const __nv_bfloat16 *norm_w, float eps, const float *score,
                             int n, int H, int L, float *logits, cudaStream_t stream);

#endif
