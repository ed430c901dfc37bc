/*
 * cpu_peak: the machine's bf16 peak, measured: every thread runs
 * independent chains of vdpbf16ps (16 fp32 lanes x 2 products = 64 FLOPs
 * an instruction) and the best of several tries is kept, since noise can
 * only lower it. The benchmark reports its own speed as a fraction of
 * this, measured in the same run.
 */
#ifndef LLMSPAM_ENGINE_CPU_PEAK_H
#define LLMSPAM_ENGINE_CPU_PEAK_H

/* Best bf16 GFLOP/s over tries runs on threads OpenMP threads, or 0 when
 * the CPU lacks AVX-512 BF16. */
double cpu_peak_bf16_gflops(int threads, int tries);

#endif
