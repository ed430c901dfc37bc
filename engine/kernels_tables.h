/*
 * kernels_tables: the table each kernels_*.c file defines, one per SIMD
 * level; internal to the kernels (kernels_select.c registers them and
 * chooses; everyone else calls kernels_get() and friends in kernels.h).
 * A SIMD table may be called only when cpu_isa_get() reaches its level.
 */
#ifndef LLMSPAM_ENGINE_KERNELS_TABLES_H
#define LLMSPAM_ENGINE_KERNELS_TABLES_H

#include "engine/kernels.h"

/* kernels_portable.c: plain C, any CPU. */
const kernels *kernels_portable_table(void);
/* kernels_avx2.c (AVX2 + FMA flags): NULL when not built for x86-64. */
const kernels *kernels_avx2_table(void);
/* kernels_avx512.c, built with AVX-512 F/BW/VL flags, and once more with
 * BF16 too: NULL when not built for x86-64. */
const kernels *kernels_avx512_table(void);
const kernels *kernels_avx512_bf16_table(void);

#endif
