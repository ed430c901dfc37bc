/*
 * bf16: conversions between bfloat16 (stored as uint16_t, the top half of
 * an IEEE float) and float. float -> bf16 rounds to nearest even, as torch
 * does; NaN stays NaN (quiet). Header-only so every kernel can inline it.
 */
#ifndef LLMSPAM_ENGINE_BF16_H
#define LLMSPAM_ENGINE_BF16_H

#include <stdint.h>
#include <string.h>

static inline float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)        /* NaN: keep it a quiet NaN */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);            /* round to nearest even */
    return (uint16_t)(u >> 16);
}

#endif
