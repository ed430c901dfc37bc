/*
 * gemm_impl: the private interface between the GEMM seam (gemm.c) and its
 * implementations (gemm_onednn.c, gemm_avx512.c, gemm_avx2.c,
 * gemm_portable.c). Only the seam includes it. Each implementation's
 * state, weights and plans are opaque pointers to the seam; the seam
 * checks shapes and routes calls.
 */
#ifndef LLMSPAM_ENGINE_GEMM_IMPL_H
#define LLMSPAM_ENGINE_GEMM_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine/cpu_isa.h"
#include "engine/status.h"

typedef struct gemm_impl {
    const char *name; /* for messages */
    /* State for a context at level cap, and the path name it gives (static).
     * Fails when this implementation cannot run at cap on this machine. */
    engine_status (*ctx_new)(cpu_isa cap, void **state, const char **path, engine_err *err);
    void (*ctx_free)(void *state);
    /* Prepare src [n][k] bf16 (not kept) for products of at most max_m rows. */
    engine_status (*weight_new)(void *state, const char *name, int n, int k, int max_m,
                                const uint16_t *src, void **out, size_t *bytes, engine_err *err);
    void (*weight_free)(void *w);
    /* proto: a weight of this shape (n, k, max_m) */
    engine_status (*plan_new)(void *state, const void *proto, int n, int k, int max_m,
                              bool accumulate, int threads, void **out, engine_err *err);
    void (*plan_free)(void *plan);
    /* m in 1..max_m, already checked */
    engine_status (*run)(void *plan, const void *w, int m, const uint16_t *a, float *c,
                         engine_err *err);
    const char *(*plan_impl)(const void *plan, int m);
} gemm_impl;

extern const gemm_impl gemm_impl_onednn;
extern const gemm_impl gemm_impl_avx512;
extern const gemm_impl gemm_impl_avx2;
extern const gemm_impl gemm_impl_portable;

/* The threads a product of m rows gets: one when m <= 16 or the work is
 * under 32 MFLOP (bound by memory there, or too short to wake a second
 * thread on a shared machine), else `threads`. */
int gemm_threads_for(int m, int n, int k, int threads);

/* The panel layout of the AVX-512, AVX2 and portable paths: W [n][k] in panels of
 * GEMM_NR columns, panel j = W[j*NR .. j*NR+NR)[0..k) stored [k][NR]
 * (element (col c, depth p) at p*NR + c), the last panel's missing
 * columns zero. bf16, like the source: no fp32 copy of the model. */
#define GEMM_NR 16
size_t gemm_panels_elems(int n, int k);
void gemm_panels_pack(const uint16_t *w, int n, int k, uint16_t *panels);

/* The prepared weight of the panel paths: their weight_new and weight_free. */
typedef struct gemm_panel_weight {
    int n, k;
    uint16_t *panels; /* gemm_panels_elems(n, k) */
} gemm_panel_weight;
engine_status gemm_panel_weight_new(void *state, const char *name, int n, int k, int max_m,
                                    const uint16_t *src, void **out, size_t *bytes,
                                    engine_err *err);
void gemm_panel_weight_free(void *w);

/* The plan of the panel paths: the shape, and the fp32 scratch each path
 * sizes for itself (A widened; one block of widened weight per thread).
 * gemm_panel_plan_free is their plan_free. */
typedef struct gemm_panel_plan {
    int n, k, max_m, threads;
    bool accumulate;
    float *a; /* a_floats */
    float *b; /* [threads][b_floats] */
} gemm_panel_plan;
engine_status gemm_panel_plan_new(int n, int k, int max_m, bool accumulate, int threads,
                                  size_t a_floats, size_t b_floats, void **out, engine_err *err);
void gemm_panel_plan_free(void *p);

#endif
