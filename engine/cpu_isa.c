/*
 * cpu_isa: the run-time SIMD level (see cpu_isa.h). On x86-64 the answer
 * comes from GCC's __builtin_cpu_supports, which reads cpuid and checks
 * that the OS saves the wider registers (XGETBV); elsewhere it is portable.
 */
#include "config.h"
#include "engine/cpu_isa.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"portable", "avx2", "avx512", "avx512_bf16"};

const char *cpu_isa_name(cpu_isa isa)
{
    return (unsigned)isa < sizeof names / sizeof names[0] ? names[isa] : "?";
}

int cpu_isa_parse(const char *s, cpu_isa *out)
{
    for (unsigned i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i])) {
            *out = (cpu_isa)i;
            return 0;
        }
    return -1;
}

cpu_isa cpu_isa_detected(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl");
    if (avx512 && __builtin_cpu_supports("avx512bf16"))
        return CPU_ISA_AVX512_BF16;
    if (avx512)
        return CPU_ISA_AVX512;
    if (avx2)
        return CPU_ISA_AVX2;
#endif
    return CPU_ISA_PORTABLE;
}

static cpu_isa chosen;
static const char *cap_error;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
    chosen = cpu_isa_detected();
    const char *env = getenv("LLMSPAM_CPU_ISA");
    if (!env || !*env)
        return;
    cpu_isa cap;
    if (cpu_isa_parse(env, &cap)) {
        cap_error = "LLMSPAM_CPU_ISA is not one of portable, avx2, avx512, avx512_bf16; ignored";
        return;
    }
    if (cap < chosen)
        chosen = cap;
}

cpu_isa cpu_isa_get(void)
{
    pthread_once(&chosen_once, choose);
    return chosen;
}

const char *cpu_isa_cap_error(void)
{
    pthread_once(&chosen_once, choose);
    return cap_error;
}
