/*
 * cpu_isa: which SIMD level the CPU paths may use, chosen once at run time
 * from cpuid (and the OS's saved register state), never from build flags.
 *
 * The levels are ordered; each includes the ones below it:
 *   portable     plain C, any CPU (arm64 included)
 *   avx2         AVX2 + FMA (+ F16C)
 *   avx512       AVX-512 F, BW, VL (no BF16 instructions)
 *   avx512_bf16  AVX-512 F, BW, VL and BF16 (vdpbf16ps, vcvtneps2bf16)
 *
 * The environment variable LLMSPAM_CPU_ISA caps the level, as oneDNN's
 * ONEDNN_MAX_CPU_ISA does, so that every lower path can be tested on a CPU
 * that has a higher one. A value that is not one of the four names is
 * ignored and reported by cpu_isa_cap_error(). Thread-safe; the choice is
 * made on the first call and never changes afterwards.
 */
#ifndef LLMSPAM_ENGINE_CPU_ISA_H
#define LLMSPAM_ENGINE_CPU_ISA_H

typedef enum cpu_isa {
    CPU_ISA_PORTABLE = 0,
    CPU_ISA_AVX2,
    CPU_ISA_AVX512,
    CPU_ISA_AVX512_BF16,
} cpu_isa;

/* The highest level this CPU supports. */
cpu_isa cpu_isa_detected(void);
/* The level in use: the detected one, capped by LLMSPAM_CPU_ISA. */
cpu_isa cpu_isa_get(void);
/* "portable", "avx2", "avx512", "avx512_bf16". */
const char *cpu_isa_name(cpu_isa isa);
/* Parse one of those names; returns 0 on success, -1 otherwise. */
int cpu_isa_parse(const char *s, cpu_isa *out);
/* A static message when LLMSPAM_CPU_ISA is set to an unknown value (the cap
 * was then ignored), else NULL. */
const char *cpu_isa_cap_error(void);

#endif
