/*
 * cpu_peak_avx2: the f32 ymm FMA peak probe (see cpu_peak.h), the ceiling
 * of the "avx2" GEMM path. Compiled with the AVX2 flags; only runs the
 * instruction when the CPU has it.
 */
#include "config.h"
#include "engine/cpu_peak.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define PEAK_VEC __m256
#define PEAK_ITERS (1L << 22)
#include "engine/cpu_peak_fma.h"

double cpu_peak_f32_gflops(int threads, int tries)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") || threads < 1)
        return 0;
    return fma_peak_gflops(threads, tries);
}
#else
double cpu_peak_f32_gflops(int threads, int tries)
{
    (void)threads;
    (void)tries;
    return 0;
}
#endif
