/*
 * cpu_peak_avx512: the f32 zmm FMA peak probe (see cpu_peak.h), the
 * ceiling of the "avx512" GEMM path. Compiled with the AVX-512F flags;
 * only runs the instruction when the CPU has it.
 */
#include "config.h"
#include "engine/cpu_peak.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CHAINS 12 /* the named accumulators below: covers FMA latency x ports */
#define ITERS (1L << 21)

static volatile float sink;

/* Twelve independent vfmadd231ps zmm chains (16 lanes x 2 FLOPs each),
 * written out so the compiler can neither fold nor spill them. */
static void chains(void)
{
    __m512 c0 = _mm512_set1_ps(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
           c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    __m512 a = _mm512_set1_ps(1e-3f), b = _mm512_set1_ps(0.999f);
    for (long it = 0; it < ITERS; it++) {
        __asm__ volatile(
            "vfmadd231ps %12, %13, %0\n\tvfmadd231ps %12, %13, %1\n\t"
            "vfmadd231ps %12, %13, %2\n\tvfmadd231ps %12, %13, %3\n\t"
            "vfmadd231ps %12, %13, %4\n\tvfmadd231ps %12, %13, %5\n\t"
            "vfmadd231ps %12, %13, %6\n\tvfmadd231ps %12, %13, %7\n\t"
            "vfmadd231ps %12, %13, %8\n\tvfmadd231ps %12, %13, %9\n\t"
            "vfmadd231ps %12, %13, %10\n\tvfmadd231ps %12, %13, %11"
            : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7),
              "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11)
            : "v"(a), "v"(b));
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
    sink = _mm512_reduce_add_ps(s);
}

double cpu_peak_f32x16_gflops(int threads, int tries)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || threads < 1)
        return 0;
    return cpu_peak_best_gflops(chains, threads, tries, (double)ITERS * CHAINS * 32.0);
}
#else
double cpu_peak_f32x16_gflops(int threads, int tries)
{
    (void)threads;
    (void)tries;
    return 0;
}
#endif
