/*
 * kernels: the small pure functions of the forward pass other than the
 * GEMMs (RMSNorm, RoPE, attention, softmax, SiLU*mul, residual add,
 * bf16 <-> f32 rows), as one table of function pointers per SIMD level:
 *   kernels_portable.c  plain C, any CPU (the reference twin)
 *   kernels_avx2.c      AVX2 + FMA
 *   kernels_avx512.c    AVX-512 F, BW, VL, built twice: with BF16
 *                       (table avx512_bf16) and without (avx512)
 * Only each SIMD file is built with its ISA flags. kernels_select.c
 * registers the tables and kernels_get() picks one, once, from cpu_isa_get()
 * (cpuid, capped by LLMSPAM_CPU_ISA): avx512_bf16, avx512 and avx2 each
 * to its own table, else portable. t/test_kernels.c checks every table the CPU
 * can run against the portable one and a double-precision reference.
 * To add a kernel: a field here, a function in each kernels_*.c, a test.
 *
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
    const char *name; /* "portable", "avx2", "avx512" or "avx512_bf16" */
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

/* The table in use (chosen once, thread-safe; never NULL). */
const kernels *kernels_get(void);
/* The portable table, always available. */
const kernels *kernels_portable(void);
/* The AVX2 table, or NULL when cpu_isa_get() is below avx2 (the CPU or
 * the LLMSPAM_CPU_ISA cap). For tests and benchmarks. */
const kernels *kernels_avx2(void);
/* The AVX-512 tables, or NULL when cpu_isa_get() is below avx512 (or
 * below avx512_bf16 for the one with vcvtneps2bf16). */
const kernels *kernels_avx512(void);
const kernels *kernels_avx512_bf16(void);

#endif
