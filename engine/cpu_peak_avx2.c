/*
 * cpu_peak_avx2: the f32 FMA peak probe (see cpu_peak.h), the ceiling of
 * the "avx2" GEMM path. Compiled with the AVX2 flags; only runs the
 * instruction when the CPU has it.
 */
#include "config.h"
#include "engine/cpu_peak.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CHAINS 12 /* the named accumulators below: covers FMA latency x ports */
#define ITERS (1L << 22)

static volatile float sink;

/* Twelve independent vfmadd231ps ymm chains (8 lanes x 2 FLOPs each),
 * written out so the compiler can neither fold nor spill them. */
static void chains(void)
{
    __m256 c0 = _mm256_set1_ps(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
           c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    __m256 a = _mm256_set1_ps(1e-3f), b = _mm256_set1_ps(0.999f);
    for (long it = 0; it < ITERS; it++) {
        __asm__ volatile(
            "vfmadd231ps %12, %13, %0\n\tvfmadd231ps %12, %13, %1\n\t"
            "vfmadd231ps %12, %13, %2\n\tvfmadd231ps %12, %13, %3\n\t"
            "vfmadd231ps %12, %13, %4\n\tvfmadd231ps %12, %13, %5\n\t"
            "vfmadd231ps %12, %13, %6\n\tvfmadd231ps %12, %13, %7\n\t"
            "vfmadd231ps %12, %13, %8\n\tvfmadd231ps %12, %13, %9\n\t"
            "vfmadd231ps %12, %13, %10\n\tvfmadd231ps %12, %13, %11"
            : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5), "+x"(c6), "+x"(c7),
              "+x"(c8), "+x"(c9), "+x"(c10), "+x"(c11)
            : "x"(a), "x"(b));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float v[8];
    _mm256_storeu_ps(v, s);
    sink = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

double cpu_peak_f32_gflops(int threads, int tries)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") || threads < 1)
        return 0;
    return cpu_peak_best_gflops(chains, threads, tries, (double)ITERS * CHAINS * 16.0);
}
#else
double cpu_peak_f32_gflops(int threads, int tries)
{
    (void)threads;
    (void)tries;
    return 0;
}
#endif
