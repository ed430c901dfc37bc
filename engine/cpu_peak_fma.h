/*
 * cpu_peak_fma: the body of the f32 FMA peak probes (cpu_peak.h), shared
 * by cpu_peak_avx2.c (ymm) and cpu_peak_avx512.c (zmm). Each includes it
 * once, compiled with its own ISA flags, after defining PEAK_VEC (__m256 or
 * __m512) and PEAK_ITERS; the asm is the same for both, the register
 * operands give the width. Defines fma_peak_gflops().
 */
#ifndef LLMSPAM_ENGINE_CPU_PEAK_FMA_H
#define LLMSPAM_ENGINE_CPU_PEAK_FMA_H

#include <string.h>

#define CHAINS 12 /* the named accumulators below: covers FMA latency x ports */
#define LANES (sizeof(PEAK_VEC) / sizeof(float))

static volatile float sink;

/* Twelve independent vfmadd231ps chains (LANES x 2 FLOPs each), written
 * out so the compiler can neither fold nor spill them. */
static void chains(void)
{
    PEAK_VEC c0 = {0}, c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0,
             c9 = c0, c10 = c0, c11 = c0;
    PEAK_VEC a = c0 + 1e-3f, b = c0 + 0.999f;
    for (long it = 0; it < PEAK_ITERS; it++) {
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
    PEAK_VEC s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
    float v[LANES], t = 0;
    memcpy(v, &s, sizeof v);
    for (size_t i = 0; i < LANES; i++)
        t += v[i];
    sink = t;
}

static double fma_peak_gflops(int threads, int tries)
{
    return cpu_peak_best_gflops(chains, threads, tries, (double)PEAK_ITERS * CHAINS * LANES * 2.0);
}

#endif
