/*
 * gemm_avx2: the "avx2" path of the GEMM seam, for x86-64 CPUs with AVX2
 * and FMA but no usable bf16 matmul (Zen 2/3, Haswell..Alder Lake clients).
 * Only this file is compiled with -mavx2 -mfma (on x86-64, configure.ac);
 * the seam calls it only when cpu_isa_get() allows AVX2. The blocking is
 * gemm_blocked.h's; here is its micro-kernel: 6 rows x 16 columns in 12
 * ymm accumulators, one 16-float row of the widened panel and six
 * broadcasts of A per step. The last rows (m not a multiple of 6) get a
 * kernel of their own row count.
 */
#include "config.h"
#include "engine/gemm_impl.h"

#if defined(__x86_64__)

#define MR 6
#define MC 120 /* rows of A per block: MC x KC fp32 = 120 KB (L2) */
#define IMPL gemm_impl_avx2
#define IMPL_NAME "avx2"
#define TILE_NAME "avx2 6x16"
#define GEMV_NAME "avx2 gemv"
#include "engine/gemm_blocked.h"

static engine_status ctx_new(cpu_isa cap, void **state, const char **path, engine_err *err)
{
    *state = NULL;
    if (cap < CPU_ISA_AVX2)
        return engine_fail(err, ENGINE_ERR_BACKEND, "gemm: AVX2 not allowed at %s", cpu_isa_name(cap));
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return engine_fail(err, ENGINE_ERR_BACKEND, "gemm: this CPU has no AVX2+FMA");
    *path = "avx2";
    return ENGINE_OK;
}

/* c[6][16] (ldc) (=|+=) a[kc][6] * b[kc][16] */
static inline void kernel_full(int kc, const float *restrict a, const float *restrict b,
                               float *restrict c, size_t ldc, bool add)
{
    /* C is far (L3 or memory) by now: have it on the way while the loop runs */
    for (int r = 0; r < MR; r++)
        _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#pragma GCC unroll 4
    for (int p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8), x;
        x = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(x, b0, c00);
        c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(x, b0, c10);
        c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(x, b0, c20);
        c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(x, b0, c30);
        c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(x, b0, c40);
        c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(x, b0, c50);
        c51 = _mm256_fmadd_ps(x, b1, c51);
        a += MR;
        b += NR;
    }
#define PUT(r, v0, v1)                                                                     \
    do {                                                                                   \
        float *cr = c + (size_t)(r) * ldc;                                                 \
        if (add) {                                                                         \
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));                                   \
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8));                               \
        }                                                                                  \
        _mm256_storeu_ps(cr, v0);                                                          \
        _mm256_storeu_ps(cr + 8, v1);                                                      \
    } while (0)
    PUT(0, c00, c01);
    PUT(1, c10, c11);
    PUT(2, c20, c21);
    PUT(3, c30, c31);
    PUT(4, c40, c41);
    PUT(5, c50, c51);
#undef PUT
}

/* c[rows][16] (=|+=) a[kc][6] (its first rows) * b[kc][16], for the last
 * micro-panel of A when m is not a multiple of 6: with rows a constant
 * (kernel_rows below) the arrays live in registers and no FMA is spent on
 * the panel's zero rows. */
static inline __attribute__((always_inline)) void
kernel_rx16(int rows, int kc, const float *restrict a, const float *restrict b, float *restrict c,
            size_t ldc, bool add)
{
    __m256 lo[MR], hi[MR];
#pragma GCC unroll 6
    for (int r = 0; r < rows; r++)
        lo[r] = hi[r] = _mm256_setzero_ps();
    for (int p = 0; p < kc; p++, a += MR, b += NR) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
        for (int r = 0; r < rows; r++) {
            __m256 x = _mm256_broadcast_ss(a + r);
            lo[r] = _mm256_fmadd_ps(x, b0, lo[r]);
            hi[r] = _mm256_fmadd_ps(x, b1, hi[r]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < rows; r++) {
        float *cr = c + (size_t)r * ldc;
        if (add) {
            lo[r] = _mm256_add_ps(lo[r], _mm256_loadu_ps(cr));
            hi[r] = _mm256_add_ps(hi[r], _mm256_loadu_ps(cr + 8));
        }
        _mm256_storeu_ps(cr, lo[r]);
        _mm256_storeu_ps(cr + 8, hi[r]);
    }
}

static void kernel_rows(int rows, int kc, const float *a, const float *b, float *c, size_t ldc,
                        bool add)
{
    switch (rows) {
    case 1: kernel_rx16(1, kc, a, b, c, ldc, add); break;
    case 2: kernel_rx16(2, kc, a, b, c, ldc, add); break;
    case 3: kernel_rx16(3, kc, a, b, c, ldc, add); break;
    case 4: kernel_rx16(4, kc, a, b, c, ldc, add); break;
    default: kernel_rx16(5, kc, a, b, c, ldc, add); break;
    }
}

#else /* not x86-64: the path is never offered */

static engine_status ctx_new(cpu_isa cap, void **state, const char **path, engine_err *err)
{
    (void)cap;
    (void)path;
    *state = NULL;
    return engine_fail(err, ENGINE_ERR_BACKEND, "gemm: no AVX2 path on this architecture");
}

const gemm_impl gemm_impl_avx2 = {.name = "avx2", .ctx_new = ctx_new};

#endif
