/*
 * utf8: decoding of untrusted UTF-8, one code point at a time, with the
 * replacement rule of WHATWG and Python's errors="replace": each maximal
 * subpart of an ill-formed sequence becomes one U+FFFD. NUL is a code point
 * like any other. Nothing here allocates.
 */
#ifndef LLMSPAM_ENGINE_UTF8_H
#define LLMSPAM_ENGINE_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_REPLACEMENT 0xFFFDu

/* Decode the code point at s[0..len), len >= 1. Stores it in *cp
 * (UTF8_REPLACEMENT for an ill-formed subpart) and returns the number of
 * bytes it spans (1..4). *bad is set to 1 when a replacement was made. */
static inline size_t utf8_next(const uint8_t *s, size_t len, uint32_t *cp, int *bad)
{
    uint8_t b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t need;
    uint32_t c;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        c = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        c = b0 & 0x0F;
        if (b0 == 0xE0)
            lo = 0xA0; /* no overlongs */
        else if (b0 == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        c = b0 & 0x07;
        if (b0 == 0xF0)
            lo = 0x90;
        else if (b0 == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *cp = UTF8_REPLACEMENT;
        *bad = 1;
        return 1;
    }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= len)
            break;
        uint8_t b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80)
            break;
        c = (c << 6) | (b & 0x3F);
    }
    if (i <= need) { /* the maximal subpart s[0..i) is ill-formed */
        *cp = UTF8_REPLACEMENT;
        *bad = 1;
        return i;
    }
    *cp = c;
    return need + 1;
}

/* Append the UTF-8 encoding of cp (a scalar value) to out; returns 1..4. */
static inline size_t utf8_put(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

#endif
