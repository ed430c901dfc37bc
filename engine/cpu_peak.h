/*
 * cpu_peak: the machine's peaks, measured: every thread runs independent
 * chains of one instruction and the best of several tries is kept, since
 * noise can only lower it. The benchmark reports its own speed as a
 * fraction of the peak of the GEMM path in use, measured in the same run:
 *   bf16  vdpbf16ps zmm (16 fp32 lanes x 2 products = 64 FLOPs), the
 *         ceiling of the avx512_bf16 path (cpu_peak.c);
 *   f32   vfmadd231ps ymm (8 lanes x 2 = 16 FLOPs), the ceiling of the
 *         avx2 path (cpu_peak_avx2.c);
 *   f32x16  vfmadd231ps zmm (16 lanes x 2 = 32 FLOPs), the ceiling of the
 *         avx512 path (cpu_peak_avx512.c).
 */
#ifndef LLMSPAM_ENGINE_CPU_PEAK_H
#define LLMSPAM_ENGINE_CPU_PEAK_H

/* Best bf16 GFLOP/s over tries runs on threads OpenMP threads, or 0 when
 * the CPU lacks AVX-512 BF16. */
double cpu_peak_bf16_gflops(int threads, int tries);

/* Best f32 FMA (ymm) GFLOP/s, or 0 when the CPU lacks AVX2+FMA. */
double cpu_peak_f32_gflops(int threads, int tries);

/* Best f32 FMA (zmm) GFLOP/s, or 0 when the CPU lacks AVX-512F. */
double cpu_peak_f32x16_gflops(int threads, int tries);

/* For the probes (cpu_peak_time.c, built without ISA flags): the best
 * GFLOP/s over tries runs of chains() on threads threads, each run doing
 * flops_per_thread on every thread. */
double cpu_peak_best_gflops(void (*chains)(void), int threads, int tries, double flops_per_thread);

#endif
