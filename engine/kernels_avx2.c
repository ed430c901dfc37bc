/*
 * kernels_avx2: the AVX2 + FMA twins of the portable kernels, for x86-64
 * CPUs without AVX-512 (Zen 2/3, Haswell .. Alder Lake). This file alone is
 * compiled with -mavx2 -mfma (engine/libkernels_avx2.a) and with
 * -ffp-contract=off, so that a written multiply then add stays two roundings
 * as in the portable C; the FMAs are the explicit ones. kernels_select.c
 * hands the table out only when the CPU (and LLMSPAM_CPU_ISA) allow it.
 *
 * Tails shorter than 8 lanes go through a zero-padded 8-lane buffer, so any
 * n works. exp is the same polynomial as the AVX-512 one (kernels_avx512.c),
 * with 2^n built in two exponent-field steps since AVX2 has no vscalefps:
 * both give the same bits.
 */
#include "config.h"
#include "engine/kernels.h"
#include "engine/kernels_tables.h"

#if defined(__x86_64__)
#include "engine/bf16.h"

#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

/* exp(x) for fp32 lanes: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6
 * polynomial (~2 ulp), times 2^n. n is in [-150, 128] after the clamps;
 * 2^n = 2^h * 2^(n-h) with h = n >> 1 keeps both factors normal, and p * 2^h
 * is exact, so the one rounding is the last product (denormals included),
 * as vscalefps does. NaN lanes give 0, as on AVX-512. */
INLINE __m256 exp256(__m256 x)
{
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    const __m256 ln2hi = _mm256_set1_ps(0.693359375f);
    const __m256 ln2lo = _mm256_set1_ps(-2.12194440e-4f);
    x = _mm256_max_ps(x, _mm256_set1_ps(-104.0f));
    x = _mm256_min_ps(x, _mm256_set1_ps(88.7f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, ln2hi, x);
    r = _mm256_fnmadd_ps(n, ln2lo, r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i h = _mm256_srai_epi32(ni, 1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, h), bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

INLINE float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE float hmax(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE __m256 load_bf16(const uint16_t *p)
{
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

/* 8 lanes to bf16, round to nearest even, NaN kept quiet: bf16.h's
 * f32_to_bf16 lane by lane. */
INLINE __m128i to_bf16(__m256 v)
{
    __m256i u = _mm256_castps_si256(v);
    __m256i mag = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
    __m256i nan = _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(0x7f800000));
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i rnd = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb));
    __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x0040));
    __m256i h = _mm256_blendv_epi8(_mm256_srli_epi32(rnd, 16), q, nan);
    return _mm_packus_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

INLINE void store_bf16(uint16_t *p, __m256 v)
{
    _mm_storeu_si128((__m128i *)p, to_bf16(v));
}

/* The tail of a row (left < 8 lanes): masked f32 loads and stores (the
 * masked-off lanes read as 0 and are never touched), bf16 through
 * zero-padded buffers. */
INLINE __m256i lanes(int left)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

INLINE __m256 load_tail(const float *p, int left)
{
    return _mm256_maskload_ps(p, lanes(left));
}

INLINE void store_tail(float *p, __m256 v, int left)
{
    _mm256_maskstore_ps(p, lanes(left), v);
}

INLINE __m256 load_bf16_tail(const uint16_t *p, int left)
{
    uint16_t b[8] = {0};
    memcpy(b, p, (size_t)left * sizeof *p);
    return load_bf16(b);
}

INLINE void store_bf16_tail(uint16_t *p, __m256 v, int left)
{
    uint16_t b[8];
    store_bf16(b, v);
    memcpy(p, b, (size_t)left * sizeof *p);
}

/* The portable sumsq's reduction: lane j of the accumulator is its
 * acc[j]; then the 8 sums in order, then the tail one by one. */
static float sumsq(const float *x, int n)
{
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 u = _mm256_loadu_ps(x + i);
        acc = _mm256_add_ps(acc, _mm256_mul_ps(u, u));
    }
    float a[8];
    _mm256_storeu_ps(a, acc);
    float s = 0;
    for (int j = 0; j < 8; j++)
        s += a[j];
    for (; i < n; i++)
        s += x[i] * x[i];
    return s;
}

static void v_rmsnorm_bf16(const float *x, const uint16_t *w, float eps, int n, uint16_t *y)
{
    __m256 r = _mm256_set1_ps(1.0f / sqrtf(sumsq(x, n) / (float)n + eps));
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), r);
        store_bf16(y + i, _mm256_mul_ps(load_bf16(w + i), v));
    }
    if (i < n) {
        __m256 v = _mm256_mul_ps(load_tail(x + i, n - i), r);
        store_bf16_tail(y + i, _mm256_mul_ps(load_bf16_tail(w + i, n - i), v), n - i);
    }
}

static void v_rmsnorm_f32(const float *x, const uint16_t *w, float eps, int n, float *y)
{
    __m256 r = _mm256_set1_ps(1.0f / sqrtf(sumsq(x, n) / (float)n + eps));
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), r);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(load_bf16(w + i), v));
    }
    if (i < n) {
        __m256 v = _mm256_mul_ps(load_tail(x + i, n - i), r);
        store_tail(y + i, _mm256_mul_ps(load_bf16_tail(w + i, n - i), v), n - i);
    }
}

static void v_rope(float *x, int nheads, int hd, const float *c, const float *s)
{
    int half = hd / 2;
    for (int h = 0; h < nheads; h++) {
        float *a = x + (size_t)h * hd, *b = a + half;
        int i = 0;
        for (; i + 8 <= half; i += 8) {
            __m256 x1 = _mm256_loadu_ps(a + i), x2 = _mm256_loadu_ps(b + i);
            __m256 cv = _mm256_loadu_ps(c + i), sv = _mm256_loadu_ps(s + i);
            _mm256_storeu_ps(a + i, _mm256_sub_ps(_mm256_mul_ps(x1, cv), _mm256_mul_ps(x2, sv)));
            _mm256_storeu_ps(b + i, _mm256_add_ps(_mm256_mul_ps(x2, cv), _mm256_mul_ps(x1, sv)));
        }
        for (; i < half; i++) {
            float x1 = a[i], x2 = b[i];
            a[i] = x1 * c[i] - x2 * s[i];
            b[i] = x2 * c[i] + x1 * s[i];
        }
    }
}

INLINE __m256 silu_mul(__m256 g, __m256 u)
{
    __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

static void v_silu_mul_bf16(const float *g, const float *u, int n, uint16_t *y)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        store_bf16(y + i, silu_mul(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
    if (i < n)
        store_bf16_tail(y + i, silu_mul(load_tail(g + i, n - i), load_tail(u + i, n - i)), n - i);
}

static void v_add_f32(float *y, const float *x, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
    for (; i < n; i++)
        y[i] += x[i];
}

static void v_bf16_to_f32(const uint16_t *x, int n, float *y)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, load_bf16(x + i));
    for (; i < n; i++)
        y[i] = bf16_to_f32(x[i]);
}

static void v_f32_to_bf16(const float *x, int n, uint16_t *y)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        store_bf16(y + i, _mm256_loadu_ps(x + i));
    for (; i < n; i++)
        y[i] = f32_to_bf16(x[i]);
}

static float max_of(const float *x, int n)
{
    __m256 mv = _mm256_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    float m = hmax(mv);
    for (; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

/* exp(x - mx) in place over x[n]; returns the sum. */
static float exp_sub_sum(float *x, int n, float mx)
{
    __m256 mv = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (i < n) {
        /* the padding lanes are exp(0 - mx): keep them out of the sum */
        __m256 e = exp256(_mm256_sub_ps(load_tail(x + i, n - i), mv));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(lanes(n - i)));
        store_tail(x + i, e, n - i);
        acc = _mm256_add_ps(acc, e);
    }
    return hsum(acc);
}

static void v_softmax(float *x, int n)
{
    float s = exp_sub_sum(x, n, max_of(x, n));
    __m256 r = _mm256_set1_ps(1.0f / s);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), r));
    for (; i < n; i++)
        x[i] *= 1.0f / s;
}

/*
 * Attention. Scores: S[r][j] = scale * q[r] . k[j] in tiles of NR rows by
 * NC x 8 keys (NR * NC accumulators, one FMA chain each, enough to hide
 * the FMA latency), q[r][d] broadcast and k read along d from kt. Keys run
 * to the tile's last key rounded up to 16, which ldk allows; the extra
 * scores are never read. Then each row's softmax in place (zero past its
 * own length), then out = P V in tiles of NR rows by 16 columns.
 */
#define ATT_ROWS 6

INLINE void score_tile(const attention_block *a, int r0, const int NR, const int NC, int j)
{
    __m256 acc[ATT_ROWS][4];
#pragma GCC unroll 6
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++)
            acc[r][c] = _mm256_setzero_ps();
    const float *q[ATT_ROWS];
#pragma GCC unroll 6
    for (int r = 0; r < NR; r++)
        q[r] = a->q + (size_t)(r0 + r) * a->ldq;
    const float *k = a->kt + j;
    const size_t ldk = (size_t)a->ldk;
    for (int d = 0; d < a->hd; d++, k += ldk) {
        __m256 kv[4];
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++)
            kv[c] = _mm256_loadu_ps(k + 8 * c);
#pragma GCC unroll 6
        for (int r = 0; r < NR; r++) {
            __m256 qv = _mm256_broadcast_ss(q[r] + d);
#pragma GCC unroll 4
            for (int c = 0; c < NC; c++)
                acc[r][c] = _mm256_fmadd_ps(qv, kv[c], acc[r][c]);
        }
    }
    const __m256 sc = _mm256_set1_ps(a->scale);
#pragma GCC unroll 6
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++)
            _mm256_storeu_ps(a->s + (size_t)(r0 + r) * ldk + j + 8 * c, _mm256_mul_ps(acc[r][c], sc));
}

INLINE void score_rows(const attention_block *a, int r0, const int NR, int nk16)
{
    int j = 0;
    if (NR <= 2) /* few rows: more keys per tile for independent chains */
        for (; j + 32 <= nk16; j += 32)
            score_tile(a, r0, NR, 4, j);
    for (; j < nk16; j += 16)
        score_tile(a, r0, NR, 2, j);
}

/* The end of a P V tile: o[r][c] * inv[r] to bf16. Out of line, so that
 * its constants do not take registers from the tile's loop. */
static __attribute__((noinline)) void pv_store(const attention_block *a, int r0, int nr, int ncol, int d0,
                                               const float (*o)[16], const float *inv)
{
    for (int r = 0; r < nr; r++) {
        __m256 iv = _mm256_set1_ps(inv[r]);
        uint16_t *out = a->out + (size_t)(r0 + r) * a->ldo + d0;
        for (int c = 0; c < ncol; c += 8)
            store_bf16(out + c, _mm256_mul_ps(_mm256_loadu_ps(o[r] + c), iv));
    }
}

/* out[r][d0 .. d0 + 8*NC) for NR rows; p is zero past each row's length,
 * so every row runs to nkeys, the tile's last row's. */
INLINE void pv_tile(const attention_block *a, int r0, const int NR, const int NC, int nkeys, int d0,
                    const float *inv)
{
    __m256 acc[ATT_ROWS][2];
#pragma GCC unroll 6
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 2
        for (int c = 0; c < NC; c++)
            acc[r][c] = _mm256_setzero_ps();
    const float *p[ATT_ROWS];
#pragma GCC unroll 6
    for (int r = 0; r < NR; r++)
        p[r] = a->s + (size_t)(r0 + r) * a->ldk;
    const float *v = a->v + d0;
    const size_t hd = (size_t)a->hd;
    for (int j = 0; j < nkeys; j++, v += hd) {
        __m256 vv[2];
#pragma GCC unroll 2
        for (int c = 0; c < NC; c++)
            vv[c] = _mm256_loadu_ps(v + 8 * c);
#pragma GCC unroll 6
        for (int r = 0; r < NR; r++) {
            __m256 pr = _mm256_broadcast_ss(p[r] + j);
#pragma GCC unroll 2
            for (int c = 0; c < NC; c++)
                acc[r][c] = _mm256_fmadd_ps(pr, vv[c], acc[r][c]);
        }
    }
    float o[ATT_ROWS][16];
#pragma GCC unroll 6
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 2
        for (int c = 0; c < NC; c++)
            _mm256_storeu_ps(o[r] + 8 * c, acc[r][c]);
    pv_store(a, r0, NR, 8 * NC, d0, (const float (*)[16])o, inv);
}

/* Columns past the last multiple of 8 (head dims such as 12), in C. */
static void pv_scalar(const attention_block *a, int nkeys, int d0, const float *inv)
{
    for (int r = 0; r < a->nq; r++) {
        const float *p = a->s + (size_t)r * a->ldk;
        for (int d = d0; d < a->hd; d++) {
            float o = 0;
            for (int j = 0; j < nkeys; j++)
                o += p[j] * a->v[(size_t)j * a->hd + d];
            a->out[(size_t)r * a->ldo + d] = f32_to_bf16(o * inv[r]);
        }
    }
}

INLINE void pv_rows(const attention_block *a, int r0, const int NR, int nkeys, const float *inv)
{
    int d0 = 0;
    for (; d0 + 16 <= a->hd; d0 += 16)
        pv_tile(a, r0, NR, 2, nkeys, d0, inv + r0);
    if (d0 + 8 <= a->hd)
        pv_tile(a, r0, NR, 1, nkeys, d0, inv + r0);
}

static void v_attention(const attention_block *a)
{
    int nkeys = a->q0 + a->nq;
    /* rows in near-equal tiles of at most ATT_ROWS (16 = 5 + 5 + 6); a
     * tile's keys end with its last row's (rounded up to 16 for scores) */
    int ntiles = (a->nq + ATT_ROWS - 1) / ATT_ROWS;
    for (int t = 0, r0 = 0; t < ntiles; t++) {
        int nr = (a->nq - r0) / (ntiles - t);
        int nk16 = (a->q0 + r0 + nr + 15) & ~15;
        switch (nr) { /* NR a constant: each tile size its own unrolled loop */
        case 1: score_rows(a, r0, 1, nk16); break;
        case 2: score_rows(a, r0, 2, nk16); break;
        case 3: score_rows(a, r0, 3, nk16); break;
        case 4: score_rows(a, r0, 4, nk16); break;
        case 5: score_rows(a, r0, 5, nk16); break;
        default: score_rows(a, r0, 6, nk16); break;
        }
        r0 += nr;
    }
    float inv[KERNELS_ATTN_BLOCK];
    for (int r = 0; r < a->nq; r++) {
        float *s = a->s + (size_t)r * a->ldk;
        int len = a->q0 + r + 1;
        float sum = exp_sub_sum(s, len, max_of(s, len));
        for (int j = len; j < nkeys; j++)
            s[j] = 0;
        inv[r] = 1.0f / sum;
    }
    for (int t = 0, r0 = 0; t < ntiles; t++) {
        int nr = (a->nq - r0) / (ntiles - t), nk = a->q0 + r0 + nr;
        switch (nr) {
        case 1: pv_rows(a, r0, 1, nk, inv); break;
        case 2: pv_rows(a, r0, 2, nk, inv); break;
        case 3: pv_rows(a, r0, 3, nk, inv); break;
        case 4: pv_rows(a, r0, 4, nk, inv); break;
        case 5: pv_rows(a, r0, 5, nk, inv); break;
        default: pv_rows(a, r0, 6, nk, inv); break;
        }
        r0 += nr;
    }
    if (a->hd % 8)
        pv_scalar(a, nkeys, a->hd & ~7, inv);
}

static const kernels avx2 = {
    .name = "avx2",
    .rmsnorm_bf16 = v_rmsnorm_bf16,
    .rmsnorm_f32 = v_rmsnorm_f32,
    .rope = v_rope,
    .silu_mul_bf16 = v_silu_mul_bf16,
    .add_f32 = v_add_f32,
    .bf16_to_f32 = v_bf16_to_f32,
    .f32_to_bf16 = v_f32_to_bf16,
    .softmax = v_softmax,
    .attention = v_attention,
};

const kernels *kernels_avx2_table(void)
{
    return &avx2;
}
#else
const kernels *kernels_avx2_table(void)
{
    return NULL;
}
#endif
