/*
 * kernels_select: the registry of the kernel tables, one per SIMD level,
 * and the run-time choice among them (kernels.h). The level comes from
 * cpu_isa_get() (cpuid, capped by LLMSPAM_CPU_ISA), never from build flags.
 * A new SIMD table is one more line in `tables`.
 */
#include "config.h"
#include "engine/kernels.h"
#include "engine/cpu_isa.h"
#include "engine/kernels_tables.h"

#include <pthread.h>
#include <stddef.h>

/* Best first: the first one whose level the CPU reaches is used. */
static const struct {
    cpu_isa needs;
    const kernels *(*table)(void);
} tables[] = {
    {CPU_ISA_AVX512_BF16, kernels_avx512_bf16_table}, /* vcvtneps2bf16 */
    {CPU_ISA_AVX512, kernels_avx512_table},           /* bf16 in integers */
    {CPU_ISA_AVX2, kernels_avx2_table},
    {CPU_ISA_PORTABLE, kernels_portable_table},
};

static const kernels *usable(const kernels *(*table)(void))
{
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (tables[i].table == table)
            return cpu_isa_get() >= tables[i].needs ? table() : NULL;
    return NULL;
}

const kernels *kernels_portable(void)
{
    return kernels_portable_table();
}

const kernels *kernels_avx2(void)
{
    return usable(kernels_avx2_table);
}

const kernels *kernels_avx512(void)
{
    return usable(kernels_avx512_table);
}

const kernels *kernels_avx512_bf16(void)
{
    return usable(kernels_avx512_bf16_table);
}

static const kernels *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
    for (size_t i = 0; i < sizeof tables / sizeof tables[0] && !chosen; i++)
        chosen = usable(tables[i].table);
}

const kernels *kernels_get(void)
{
    pthread_once(&chosen_once, choose);
    return chosen;
}
