/*
 * gemm_avx512: the "avx512" path of the GEMM seam, for x86-64 CPUs with
 * AVX-512 but no AVX512-BF16 (Skylake-SP, Cascade Lake, Ice Lake, Tiger
 * Lake, Rocket Lake). There Debian's oneDNN has no bf16 brgemm and falls to
 * its gemm:jit: on a 2-core Xeon VM without BF16 (2026-12-04, llmspam bench
 * side by side) the default model took 392-407 ms a message at 256 tokens
 * through it, 163-180 ms on the avx2 path and 100-116 ms on this one (p50).
 *
 * Only this file and its peak probe are compiled with -mavx512f (on x86-64,
 * configure.ac); the seam calls it only when cpu_isa_get() allows AVX-512.
 * The blocking is gemm_blocked.h's, shared with the avx2 path; here are its
 * micro-kernels: 12 rows x 32 columns (two widened panels, 24 zmm
 * accumulators; per step two panel rows and 12 broadcasts of A folded into
 * the FMAs), and 12 (or fewer) x 16 for a lone panel and the last rows.
 * Each output is summed in the avx2 kernel's order, so the two paths give
 * the same bits; this one does twice the lanes per FMA. Side by side on the
 * VM above, 12x32 against the 16x16 kernel before it: default model 82.1 /
 * 83.4 -> 80.9 / 81.3 ms, Llama-3.2-1B shape at 512 tokens 3042 / 3026 ->
 * 2964 / 2947 ms (best of a run).
 */
#include "config.h"
#include "engine/gemm_impl.h"

#if defined(__x86_64__)

#define MR 12
#define MC 96 /* rows of A per block: MC x KC fp32 = 96 KB (L2) */
#define KERNEL_PAIR
#define IMPL gemm_impl_avx512
#define IMPL_NAME "avx512"
#define TILE_NAME "avx512 12x32"
#define GEMV_NAME "avx512 gemv"
#include "engine/gemm_blocked.h"

static engine_status ctx_new(cpu_isa cap, void **state, const char **path, engine_err *err)
{
    *state = NULL;
    if (cap < CPU_ISA_AVX512)
        return engine_fail(err, ENGINE_ERR_BACKEND, "gemm: AVX-512 not allowed at %s", cpu_isa_name(cap));
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f"))
        return engine_fail(err, ENGINE_ERR_BACKEND, "gemm: this CPU has no AVX-512F");
    *path = "avx512";
    return ENGINE_OK;
}

/* c[rows][16] (ldc) (=|+=) a[kc][MR] (its first rows) * b[kc][16]; rows a
 * constant at every call, so the accumulators live in registers. */
static inline __attribute__((always_inline)) void
kernel_rx16(int rows, int kc, const float *restrict a, const float *restrict b, float *restrict c,
            size_t ldc, bool add)
{
    __m512 acc[MR];
#pragma GCC unroll 12
    for (int r = 0; r < rows; r++)
        acc[r] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++, a += MR, b += NR) {
        __m512 b0 = _mm512_load_ps(b);
#pragma GCC unroll 12
        for (int r = 0; r < rows; r++)
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b0, acc[r]);
    }
#pragma GCC unroll 12
    for (int r = 0; r < rows; r++) {
        float *cr = c + (size_t)r * ldc;
        if (add)
            acc[r] = _mm512_add_ps(acc[r], _mm512_loadu_ps(cr));
        _mm512_storeu_ps(cr, acc[r]);
    }
}

/* Two panels at once, c[MR][32]: 24 accumulators, and per step two panel
 * rows and 12 broadcasts for 24 FMAs (the one-panel kernel loads 17 for
 * 16), so the FMAs, not the loads, set the pace. */
static inline void kernel_pair(int kc, const float *restrict a, const float *restrict b,
                               float *restrict c, size_t ldc, bool add)
{
    const float *b1 = b + (size_t)NR * KC;
    __m512 acc0[MR], acc1[MR];
    for (int r = 0; r < MR; r++) {
        _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)r * ldc + NR), _MM_HINT_T0);
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++)
        acc0[r] = acc1[r] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++, a += MR, b += NR, b1 += NR) {
        __m512 v0 = _mm512_load_ps(b), v1 = _mm512_load_ps(b1);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512 x = _mm512_set1_ps(a[r]);
            acc0[r] = _mm512_fmadd_ps(x, v0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(x, v1, acc1[r]);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        float *cr = c + (size_t)r * ldc;
        if (add) {
            acc0[r] = _mm512_add_ps(acc0[r], _mm512_loadu_ps(cr));
            acc1[r] = _mm512_add_ps(acc1[r], _mm512_loadu_ps(cr + NR));
        }
        _mm512_storeu_ps(cr, acc0[r]);
        _mm512_storeu_ps(cr + NR, acc1[r]);
    }
}

static inline void kernel_full(int kc, const float *restrict a, const float *restrict b,
                               float *restrict c, size_t ldc, bool add)
{
    /* C is far (L3 or memory) by now: have it on the way while the loop runs */
    for (int r = 0; r < MR; r++)
        _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
    kernel_rx16(MR, kc, a, b, c, ldc, add);
}

static void kernel_rows(int rows, int kc, const float *a, const float *b, float *c, size_t ldc,
                        bool add)
{
    switch (rows) {
    case 1: kernel_rx16(1, kc, a, b, c, ldc, add); break;
    case 2: kernel_rx16(2, kc, a, b, c, ldc, add); break;
    case 3: kernel_rx16(3, kc, a, b, c, ldc, add); break;
    case 4: kernel_rx16(4, kc, a, b, c, ldc, add); break;
    case 5: kernel_rx16(5, kc, a, b, c, ldc, add); break;
    case 6: kernel_rx16(6, kc, a, b, c, ldc, add); break;
    case 7: kernel_rx16(7, kc, a, b, c, ldc, add); break;
    case 8: kernel_rx16(8, kc, a, b, c, ldc, add); break;
    case 9: kernel_rx16(9, kc, a, b, c, ldc, add); break;
    case 10: kernel_rx16(10, kc, a, b, c, ldc, add); break;
    default: kernel_rx16(11, kc, a, b, c, ldc, add); break;
    }
}

#else /* not x86-64: the path is never offered */

static engine_status ctx_new(cpu_isa cap, void **state, const char **path, engine_err *err)
{
    (void)cap;
    (void)path;
    *state = NULL;
    return engine_fail(err, ENGINE_ERR_BACKEND, "gemm: no AVX-512 path on this architecture");
}

const gemm_impl gemm_impl_avx512 = {.name = "avx512", .ctx_new = ctx_new};

#endif
