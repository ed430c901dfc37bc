/*
 * kernels: the small pure functions of the forward pass other than the
 * GEMMs (RMSNorm, RoPE, attention, softmax, SiLU*mul, residual add,
 * bf16 <-> f32 rows). Each exists as a portable C function and, where the
 * CPU has AVX-512 (F, BW, VL, BF16), as an AVX-512 twin in
 * kernels_avx512.c; t/test_kernels.c checks that the two agree.
 *
 * kernels_get() picks the table once: AVX-512 when the CPU supports it,
 * unless the environment variable LLMSPAM_KERNELS is "portable".
 * The functions are single-threaded; the caller splits rows across threads.
 * Shapes are given in each comment as [rows][cols], row-major.
 */
#ifndef LLMSPAM_ENGINE_KERNELS_H
#define LLMSPAM_ENGINE_KERNELS_H

#include <stdint.h>

/* Rows of queries one attention call handles at most. */
#define KERNELS_ATTN_BLOCK 16

/* One block of causal attention for one head: rows r < nq at positions
 * q0 + r each attend to keys 0 .. q0 + r (softmax in fp32), and write
 * out[r] = sum_j p[r][j] * v[j], as bf16. */
typedef struct attention_block {
    const float *q;   /* [nq][ldq]: q[r*ldq + d], d < hd (RoPE applied) */
    int ldq;
    int nq;           /* 1 .. KERNELS_ATTN_BLOCK */
    int q0;           /* position of row 0 */
    const float *kt;  /* [hd][ldk]: keys transposed, kt[d*ldk + j] */
    int ldk;          /* >= q0 + nq rounded up to 16 */
    const float *v;   /* [keys][hd]: v[j*hd + d] */
    int hd;
    float scale;      /* head_dim^-0.5 */
    float *s;         /* scratch [KERNELS_ATTN_BLOCK][ldk] */
    uint16_t *out;    /* [nq][ldo] bf16: out[r*ldo + d] */
    int ldo;
} attention_block;

typedef struct kernels {
    const char *name; /* "portable" or "avx512" */
    /* y[n] = bf16(w[n] * (x[n] / sqrt(mean(x^2) + eps))), as LlamaRMSNorm */
    void (*rmsnorm_bf16)(const float *x, const uint16_t *w, float eps, int n, uint16_t *y);
    /* the same with an fp32 result (the final norm of the pooled rows) */
    void (*rmsnorm_f32)(const float *x, const uint16_t *w, float eps, int n, float *y);
    /* x[nheads][hd] rotated in place, transformers' rotate_half convention:
     * for i < hd/2: (x[i], x[i+hd/2]) <- (x[i]c - x[i+hd/2]s, x[i+hd/2]c + x[i]s)
     * with c = cos[i], s = sin[i] ([hd/2] for this position) */
    void (*rope)(float *x, int nheads, int hd, const float *cos, const float *sin);
    /* y[n] = bf16(silu(g[n]) * u[n]), silu(g) = g / (1 + exp(-g)) */
    void (*silu_mul_bf16)(const float *g, const float *u, int n, uint16_t *y);
    /* y[n] += x[n] */
    void (*add_f32)(float *y, const float *x, int n);
    /* y[n] = float(x[n]) (embedding rows) */
    void (*bf16_to_f32)(const uint16_t *x, int n, float *y);
    /* y[n] = bf16(x[n]), round to nearest even */
    void (*f32_to_bf16)(const float *x, int n, uint16_t *y);
    /* x[n] <- softmax(x[n]), n >= 1 */
    void (*softmax)(float *x, int n);
    /* see attention_block */
    void (*attention)(const attention_block *a);
} kernels;

/* The table in use (chosen once, thread-safe). */
const kernels *kernels_get(void);
/* The portable table, always available. */
const kernels *kernels_portable(void);
/* The AVX-512 table, or NULL when the CPU lacks AVX-512 F/BW/VL/BF16. */
const kernels *kernels_avx512(void);

/* Defined in kernels_avx512.c (built with AVX-512 flags); call only when
 * the CPU supports it (kernels_avx512() checks). */
const kernels *kernels_avx512_table(void);

#endif
