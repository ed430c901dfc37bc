/*
 * cpu_peak: the vdpbf16ps peak probe (see cpu_peak.h). Compiled with the
 * AVX-512 flags; only runs the instruction when the CPU has it.
 */
#include "config.h"
#include "engine/cpu_peak.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CHAINS 16 /* the named accumulators below */
#define ITERS (1L << 21)

static volatile float sink;

/* Sixteen independent accumulator chains in registers; the instructions
 * are written out so the compiler can neither fold nor spill them. */
static void chains(void)
{
    __m512 c0 = _mm512_set1_ps(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
           c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
    __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
    __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(3e-3f), _mm512_set1_ps(-1e-3f));
    for (long it = 0; it < ITERS; it++) {
        __asm__ volatile(
            "vdpbf16ps %8, %9, %0\n\tvdpbf16ps %8, %9, %1\n\t"
            "vdpbf16ps %8, %9, %2\n\tvdpbf16ps %8, %9, %3\n\t"
            "vdpbf16ps %8, %9, %4\n\tvdpbf16ps %8, %9, %5\n\t"
            "vdpbf16ps %8, %9, %6\n\tvdpbf16ps %8, %9, %7"
            : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7)
            : "v"(a), "v"(b));
        __asm__ volatile(
            "vdpbf16ps %8, %9, %0\n\tvdpbf16ps %8, %9, %1\n\t"
            "vdpbf16ps %8, %9, %2\n\tvdpbf16ps %8, %9, %3\n\t"
            "vdpbf16ps %8, %9, %4\n\tvdpbf16ps %8, %9, %5\n\t"
            "vdpbf16ps %8, %9, %6\n\tvdpbf16ps %8, %9, %7"
            : "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11), "+v"(c12), "+v"(c13), "+v"(c14), "+v"(c15)
            : "v"(a), "v"(b));
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)),
                                       _mm512_add_ps(_mm512_add_ps(c12, c13), _mm512_add_ps(c14, c15))));
    sink = _mm512_reduce_add_ps(s);
}

double cpu_peak_bf16_gflops(int threads, int tries)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512bf16") || threads < 1)
        return 0;
    return cpu_peak_best_gflops(chains, threads, tries, (double)ITERS * CHAINS * 64.0);
}
#else
double cpu_peak_bf16_gflops(int threads, int tries)
{
    (void)threads;
    (void)tries;
    return 0;
}
#endif
