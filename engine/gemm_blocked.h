/*
 * gemm_blocked: the blocked product shared by the "avx2" and "avx512" paths
 * of the GEMM seam (gemm_avx2.c, gemm_avx512.c), which differ only in their
 * micro-kernel and its row count. Each of the two includes this file once,
 * compiled with its own ISA flags (AVX2 + FMA at least: the widening and
 * the gemv below are ymm code), after defining:
 *   MR      rows of its micro-kernel; MC rows of A per block (MR multiple)
 *   IMPL, IMPL_NAME  the gemm_impl this defines, and its name ("avx2")
 *   TILE_NAME  what plan_impl calls a tiled product ("avx2 6x16")
 *   GEMV_NAME  what it calls a product of at most GEMV_M rows
 * and, anywhere after the include:
 *   ctx_new (the gemm_impl's: is the CPU able, at this cap?)
 *   kernel_full(kc, a, b, c, ldc, add): c[MR][16] (=|+=) a[kc][MR] * b[kc][16]
 *   kernel_rows(rows, kc, a, b, c, ldc, add): the same for 1 <= rows < MR;
 * and, where it defines KERNEL_PAIR (two panels at once, fewer loads per FMA):
 *   kernel_pair(kc, a, b, c, ldc, add): c[MR][32] (=|+=) a[kc][MR] * the two
 *   adjacent widened panels b[kc][16] and b[NR * KC + ...].
 *
 * The weights stay bf16 in memory, in the panel layout of gemm_impl.h
 * (GEMM_NR = 16 columns x k). A product is done the GotoBLAS way:
 *   - A is widened once to fp32 micro-panels of MR rows ([k][MR]);
 *   - the columns go out to the threads in blocks of at most NC, as many
 *     as a multiple of the threads (dynamic: on a shared machine a
 *     descheduled thread's blocks go to the other);
 *   - for each KC-deep slice a thread widens its NC x KC block of the
 *     weight to fp32 (the bf16 -> fp32 step is a 16-bit shift), which then
 *     sits in L2 while every MC-row block of A passes over it;
 *   - each micro-panel of A stays in L1 while the block's 16-column panels
 *     stream past it from L2 (this order, rows outer, was 5-8% faster than
 *     columns outer on a quiet Zen 4: the C rows a tile writes stay the
 *     same, so do their TLB entries).
 * Products of at most GEMV_M rows (the last layer's pooled rows) skip the
 * blocking: one pass over the bf16 panels, widened in registers. Columns
 * past a multiple of 16 go through a scratch tile. All scratch is sized at
 * plan time; a run allocates nothing.
 *
 * Every output is summed in the same order on both paths (k ascending
 * from zero within a KC slice, each slice then added to C), so the avx2
 * and avx512 paths give the same bits (t/test_gemm.c checks it).
 */
#ifndef LLMSPAM_ENGINE_GEMM_BLOCKED_H
#define LLMSPAM_ENGINE_GEMM_BLOCKED_H

#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define NR GEMM_NR
/* Measured on a loaded Zen 4 (ymm only): KC 128..1024, MC 24..240 and NC
 * 128..512 were all within noise of each other; these are the middle. KC
 * sets the summation order, so both paths share it. */
#define KC 256
#define NC 256 /* columns per block: NC x KC fp32 = 256 KB (L2) */
#define GEMV_M 4

/* The including file's part, defined after this file. */
static engine_status ctx_new(cpu_isa cap, void **state, const char **path, engine_err *err);
static inline void kernel_full(int kc, const float *restrict a, const float *restrict b,
                               float *restrict c, size_t ldc, bool add);
static void kernel_rows(int rows, int kc, const float *a, const float *b, float *c, size_t ldc,
                        bool add);
#ifdef KERNEL_PAIR
static inline void kernel_pair(int kc, const float *restrict a, const float *restrict b,
                               float *restrict c, size_t ldc, bool add);
#endif

/* A widened in micro-panels [ceil(max_m/MR)][k][MR] (rows past m zero);
 * per thread one weight block widened [NC/NR][KC][NR]. */
static engine_status plan_new(void *state, const void *proto, int n, int k, int max_m,
                              bool accumulate, int threads, void **out, engine_err *err)
{
    (void)state;
    (void)proto;
    size_t arows = (size_t)(max_m + MR - 1) / MR * MR;
    return gemm_panel_plan_new(n, k, max_m, accumulate, threads, arows * (size_t)k,
                               (size_t)NC * KC, out, err);
}

/* 8 bf16 -> 8 fp32: the bf16 bits are the top half of the float */
static inline __m256 widen8(const uint16_t *s)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)s));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

static inline float widen1(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* An edge tile of nc < 16 real columns (any rows up to MR): through an
 * MR x 16 scratch tile. */
static void kernel_edge(int kc, const float *a, const float *b, float *c, size_t ldc, int mr, int nc,
                        bool add)
{
    float t[MR * NR];
    memset(t, 0, sizeof t);
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nc; j++)
            t[r * NR + j] = add ? c[(size_t)r * ldc + j] : 0;
    kernel_full(kc, a, b, t, NR, true);
    for (int r = 0; r < mr; r++)
        memcpy(c + (size_t)r * ldc, t + r * NR, (size_t)nc * sizeof(float));
}

/* A rows [0, m) widened into MR-row micro-panels [k][MR], zero past m:
 * written in order, read from the panel's rows side by side. */
static void pack_a(const gemm_panel_plan *p, int m, const uint16_t *a)
{
    int k = p->k, np = (m + MR - 1) / MR;
#pragma omp for schedule(static)
    for (int i = 0; i < np; i++) {
        float *dst = p->a + (size_t)i * k * MR;
        int rows = m - i * MR < MR ? m - i * MR : MR;
        const uint16_t *src = a + (size_t)i * MR * k;
        if (rows == MR) {
            for (int q = 0; q < k; q++, dst += MR)
#pragma GCC unroll 16
                for (int r = 0; r < MR; r++)
                    dst[r] = widen1(src[(size_t)r * k + q]);
        } else {
            for (int q = 0; q < k; q++, dst += MR)
                for (int r = 0; r < MR; r++)
                    dst[r] = r < rows ? widen1(src[(size_t)r * k + q]) : 0;
        }
    }
}

/* One NC-column block [j0, j1) of C (columns, multiples of NR but j1 may be
 * past n) on this thread, with its weight-block scratch bw. */
static void block(const gemm_panel_plan *p, const gemm_panel_weight *w, int m, float *c, int j0, int j1,
                  float *bw)
{
    int n = p->n, k = p->k;
    int jn = j1 > n ? n : j1;
    for (int p0 = 0; p0 < k; p0 += KC) {
        int kc = k - p0 < KC ? k - p0 : KC;
        /* widen the weight block: panel slices are contiguous kc x NR */
        for (int j = j0; j < jn; j += NR) {
            const uint16_t *src = w->panels + (size_t)j * k + (size_t)p0 * NR;
            float *dst = bw + (size_t)(j - j0) * KC;
            for (int e = 0; e < kc * NR; e += 8)
                _mm256_store_ps(dst + e, widen8(src + e));
        }
        bool add = p->accumulate || p0 > 0;
        for (int i0 = 0; i0 < m; i0 += MC) {
            int i1 = i0 + MC < m ? i0 + MC : m;
            for (int i = i0; i < i1; i += MR) {
                const float *ap = p->a + ((size_t)(i / MR) * k + p0) * MR;
                int mr = m - i < MR ? m - i : MR;
                for (int j = j0; j < jn; j += NR) {
                    const float *bp = bw + (size_t)(j - j0) * KC;
                    int nc = n - j < NR ? n - j : NR;
                    float *cp = c + (size_t)i * n + j;
#ifdef KERNEL_PAIR
                    if (mr == MR && j + 2 * NR <= jn) {
                        kernel_pair(kc, ap, bp, cp, (size_t)n, add);
                        j += NR;
                        continue;
                    }
#endif
                    if (mr == MR && nc == NR)
                        kernel_full(kc, ap, bp, cp, (size_t)n, add);
                    else if (nc == NR)
                        kernel_rows(mr, kc, ap, bp, cp, (size_t)n, add);
                    else
                        kernel_edge(kc, ap, bp, cp, (size_t)n, mr, nc, add);
                }
            }
        }
    }
}

/* m <= GEMV_M rows: stream the bf16 panels once, widened in registers. */
static void gemv(const gemm_panel_plan *p, const gemm_panel_weight *w, int m, const uint16_t *a, float *c)
{
    int n = p->n, k = p->k, np = (n + NR - 1) / NR;
    float *af = p->a; /* [m][k] */
    for (int r = 0; r < m; r++)
        for (int q = 0; q < k; q++)
            af[(size_t)r * k + q] = widen1(a[(size_t)r * k + q]);
    for (int j = 0; j < np; j++) {
        const uint16_t *panel = w->panels + (size_t)j * NR * k;
        __m256 acc[GEMV_M][2];
        for (int r = 0; r < GEMV_M; r++)
            acc[r][0] = acc[r][1] = _mm256_setzero_ps();
        for (int q = 0; q < k; q++) {
            __m256 b0 = widen8(panel + (size_t)q * NR), b1 = widen8(panel + (size_t)q * NR + 8);
            for (int r = 0; r < m; r++) {
                __m256 x = _mm256_broadcast_ss(af + (size_t)r * k + q);
                acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
            }
        }
        int nc = n - j * NR < NR ? n - j * NR : NR;
        for (int r = 0; r < m; r++) {
            float t[NR];
            _mm256_storeu_ps(t, acc[r][0]);
            _mm256_storeu_ps(t + 8, acc[r][1]);
            float *cr = c + (size_t)r * n + (size_t)j * NR;
            for (int e = 0; e < nc; e++)
                cr[e] = p->accumulate ? cr[e] + t[e] : t[e];
        }
    }
}

/* The columns of one block: at most NC, whole panels, and as many blocks
 * as a multiple of the threads, all of one width where the panels allow.
 * With fixed NC-wide blocks, 576 columns (o_proj, down_proj of a 576-wide
 * model) made blocks of 256, 256 and 64, so one of two threads sat idle
 * through the last one. */
static int block_width(int n, int threads)
{
    int panels = (n + NR - 1) / NR;
    int nblocks = (panels + NC / NR - 1) / (NC / NR);
    nblocks = (nblocks + threads - 1) / threads * threads;
    if (nblocks > panels)
        nblocks = panels;
    return (panels + nblocks - 1) / nblocks * NR;
}

static engine_status run(void *pp, const void *wp, int m, const uint16_t *a, float *c, engine_err *err)
{
    (void)err;
    gemm_panel_plan *p = pp;
    const gemm_panel_weight *w = wp;
    if (m <= GEMV_M) {
        gemv(p, w, m, a, c);
        return ENGINE_OK;
    }
    int nt = gemm_threads_for(m, p->n, p->k, p->threads);
    int width = block_width(p->n, nt);
    int nblocks = (p->n + width - 1) / width;
#pragma omp parallel num_threads(nt)
    {
        pack_a(p, m, a); /* an omp for: its barrier ends before the blocks start */
        float *bw = p->b + (size_t)omp_get_thread_num() * NC * KC;
#pragma omp for schedule(dynamic, 1)
        for (int bi = 0; bi < nblocks; bi++)
            block(p, w, m, c, bi * width, bi * width + width, bw);
    }
    return ENGINE_OK;
}

static const char *plan_impl(const void *pp, int m)
{
    (void)pp;
    return m <= GEMV_M ? GEMV_NAME : TILE_NAME;
}

static void ctx_free(void *state)
{
    (void)state;
}

const gemm_impl IMPL = {
    .name = IMPL_NAME,
    .ctx_new = ctx_new,
    .ctx_free = ctx_free,
    .weight_new = gemm_panel_weight_new,
    .weight_free = gemm_panel_weight_free,
    .plan_new = plan_new,
    .plan_free = gemm_panel_plan_free,
    .run = run,
    .plan_impl = plan_impl,
};

#endif
