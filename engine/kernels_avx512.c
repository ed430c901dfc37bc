/*
 * kernels_avx512: the AVX-512 (F, BW, VL) twins of the portable kernels in
 * kernels_portable.c. This file is compiled twice, and only it with these
 * flags: with AVX512-BF16 (engine/libkernels_avx512_bf16.a, the table
 * "avx512_bf16", whose bf16 stores use vcvtneps2bf16) and without
 * (engine/libkernels_avx512.a, the table "avx512", which rounds in
 * integers), so a CPU with AVX-512 but no BF16 gets zmm kernels too.
 * kernels_select.c only hands a table out when the CPU (and LLMSPAM_CPU_ISA)
 * allow it. Tails use masked loads and stores, so any n and any head dim
 * work.
 */
#include "config.h"
#include "engine/kernels.h"
#include "engine/kernels_tables.h"

/* The build names the flavour: -DKERNELS_AVX512_BF16 with the BF16 flags. */
#if defined(KERNELS_AVX512_BF16)
#define TABLE kernels_avx512_bf16_table
#define TABLE_NAME "avx512_bf16"
#else
#define TABLE kernels_avx512_table
#define TABLE_NAME "avx512"
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <stddef.h>

/* exp(x) for fp32 lanes: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6
 * polynomial, times 2^n with vscalefps. Relative error ~2 ulp; inputs below
 * -87.3 give 0 as expf does (up to denormals). */
static inline __m512 exp512(__m512 x)
{
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 ln2hi = _mm512_set1_ps(0.693359375f);
    const __m512 ln2lo = _mm512_set1_ps(-2.12194440e-4f);
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.7f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, ln2hi, x);
    r = _mm512_fnmadd_ps(n, ln2lo, r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 tail(int left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

static inline __m512 load_bf16(const uint16_t *p, __mmask16 m)
{
    __m256i h = _mm256_maskz_loadu_epi16(m, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* bf16.h's f32_to_bf16 on 16 lanes, in integers: round to nearest even, a
 * NaN stays a quiet NaN. */
static inline __m256i to_bf16_int(__m512i u)
{
    __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb)), 16);
    r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x0040));
    return _mm512_cvtepi32_epi16(r);
}

#if defined(KERNELS_AVX512_BF16)
/* vcvtneps2bf16 rounds to nearest even and quiets NaNs as bf16.h's
 * f32_to_bf16 does, but reads denormal inputs as zero: those lanes (rare)
 * are redone in integers, so every table gives the same bits. */
static inline void store_bf16(uint16_t *p, __m512 v, __mmask16 m)
{
    __m256i h = (__m256i)_mm512_cvtneps_pbh(v);
    __m512i u = _mm512_castps_si512(v);
    __mmask16 den = _mm512_testn_epi32_mask(u, _mm512_set1_epi32(0x7f800000)) &
                    _mm512_test_epi32_mask(u, _mm512_set1_epi32(0x007fffff));
    if (__builtin_expect(den != 0, 0))
        h = _mm256_mask_mov_epi16(h, den, to_bf16_int(u));
    _mm256_mask_storeu_epi16(p, m, h);
}
#else
static inline void store_bf16(uint16_t *p, __m512 v, __mmask16 m)
{
    _mm256_mask_storeu_epi16(p, m, to_bf16_int(_mm512_castps_si512(v)));
}
#endif

static float sumsq(const float *x, int n)
{
    __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 u = _mm512_loadu_ps(x + i), v = _mm512_loadu_ps(x + i + 16);
        a = _mm512_fmadd_ps(u, u, a);
        b = _mm512_fmadd_ps(v, v, b);
    }
    for (; i < n; i += 16) {
        __m512 u = _mm512_maskz_loadu_ps(tail(n - i), x + i);
        a = _mm512_fmadd_ps(u, u, a);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a, b));
}

static void a_rmsnorm_bf16(const float *x, const uint16_t *w, float eps, int n, uint16_t *y)
{
    __m512 r = _mm512_set1_ps(1.0f / sqrtf(sumsq(x, n) / (float)n + eps));
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), r);
        store_bf16(y + i, _mm512_mul_ps(load_bf16(w + i, m), v), m);
    }
}

static void a_rmsnorm_f32(const float *x, const uint16_t *w, float eps, int n, float *y)
{
    __m512 r = _mm512_set1_ps(1.0f / sqrtf(sumsq(x, n) / (float)n + eps));
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), r);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(load_bf16(w + i, m), v));
    }
}

static void a_rope(float *x, int nheads, int hd, const float *c, const float *s)
{
    int half = hd / 2;
    for (int h = 0; h < nheads; h++) {
        float *a = x + (size_t)h * hd, *b = a + half;
        for (int i = 0; i < half; i += 16) {
            __mmask16 m = tail(half - i);
            __m512 x1 = _mm512_maskz_loadu_ps(m, a + i), x2 = _mm512_maskz_loadu_ps(m, b + i);
            __m512 cv = _mm512_maskz_loadu_ps(m, c + i), sv = _mm512_maskz_loadu_ps(m, s + i);
            /* round each product as the portable x1*c - x2*s does */
            __m512 p1 = _mm512_mul_ps(x1, cv), p2 = _mm512_mul_ps(x2, sv);
            __m512 p3 = _mm512_mul_ps(x2, cv), p4 = _mm512_mul_ps(x1, sv);
            _mm512_mask_storeu_ps(a + i, m, _mm512_sub_ps(p1, p2));
            _mm512_mask_storeu_ps(b + i, m, _mm512_add_ps(p3, p4));
        }
    }
}

static void a_silu_mul_bf16(const float *g, const float *u, int n, uint16_t *y)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        __m512 gv = _mm512_maskz_loadu_ps(m, g + i), uv = _mm512_maskz_loadu_ps(m, u + i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), gv));
        __m512 sl = _mm512_div_ps(gv, _mm512_add_ps(one, e));
        store_bf16(y + i, _mm512_mul_ps(sl, uv), m);
    }
}

static void a_add_f32(float *y, const float *x, int n)
{
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, x + i));
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

static void a_bf16_to_f32(const uint16_t *x, int n, float *y)
{
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        _mm512_mask_storeu_ps(y + i, m, load_bf16(x + i, m));
    }
}

static void a_f32_to_bf16(const float *x, int n, uint16_t *y)
{
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        store_bf16(y + i, _mm512_maskz_loadu_ps(m, x + i), m);
    }
}

/* exp(x - max) in place over x[n]; returns the sum. */
static float exp_sub_sum(float *x, int n, float mx)
{
    __m512 mv = _mm512_set1_ps(mx), acc = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mv));
        e = _mm512_maskz_mov_ps(m, e);
        _mm512_mask_storeu_ps(x + i, m, e);
        acc = _mm512_add_ps(acc, e);
    }
    return _mm512_reduce_add_ps(acc);
}

static float max_of(const float *x, int n)
{
    __m512 mv = _mm512_set1_ps(-INFINITY);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        mv = _mm512_mask_max_ps(mv, m, mv, _mm512_maskz_loadu_ps(m, x + i));
    }
    return _mm512_reduce_max_ps(mv);
}

static void a_softmax(float *x, int n)
{
    float s = exp_sub_sum(x, n, max_of(x, n));
    __m512 r = _mm512_set1_ps(1.0f / s);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), r));
    }
}

/* S[r][j] = scale * q[r] . k[j] for rows r0..r0+nr (nr <= 8), keys in
 * chunks of 16 up to nkeys (rounded up: kt has ldk >= that). */
static void scores8(const attention_block *a, int r0, int nr, int nkeys)
{
    const __m512 sc = _mm512_set1_ps(a->scale);
    for (int j = 0; j < nkeys; j += 16) {
        /* fully unrolled so the accumulators live in registers */
        __m512 acc[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++)
            acc[r] = _mm512_setzero_ps();
        const float *q = a->q + (size_t)r0 * a->ldq;
        if (nr == 8) {
            for (int d = 0; d < a->hd; d++) {
                __m512 k = _mm512_loadu_ps(a->kt + (size_t)d * a->ldk + j);
#pragma GCC unroll 8
                for (int r = 0; r < 8; r++)
                    acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(q[(size_t)r * a->ldq + d]), k, acc[r]);
            }
        } else {
            for (int d = 0; d < a->hd; d++) {
                __m512 k = _mm512_loadu_ps(a->kt + (size_t)d * a->ldk + j);
                for (int r = 0; r < nr; r++)
                    acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(q[(size_t)r * a->ldq + d]), k, acc[r]);
            }
        }
        for (int r = 0; r < nr; r++)
            _mm512_storeu_ps(a->s + (size_t)(r0 + r) * a->ldk + j, _mm512_mul_ps(acc[r], sc));
    }
}

/* out[r] = sum_j p[r][j] v[j] / sum[r] for 4 rows and 64 columns at d0
 * (fewer at the end of the head, the last 16 masked); p is zero past each
 * row's length, so all rows run to nkeys. */
static void pv4(const attention_block *a, int r0, int nr, int nkeys, int d0, const float *inv)
{
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            acc[r][c] = _mm512_setzero_ps();
    int left = a->hd - d0, nc = left >= 64 ? 4 : (left + 15) / 16;
    __mmask16 last = tail(left - 16 * (nc - 1));
    const float *p[4];
    for (int r = 0; r < 4; r++)
        p[r] = a->s + (size_t)(r0 + (r < nr ? r : 0)) * a->ldk;
    if (nc == 4) {
        for (int j = 0; j < nkeys; j++) {
            const float *v = a->v + (size_t)j * a->hd + d0;
            __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16);
            __m512 v2 = _mm512_loadu_ps(v + 32), v3 = _mm512_loadu_ps(v + 48);
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) {
                __m512 pr = _mm512_set1_ps(p[r][j]);
                acc[r][0] = _mm512_fmadd_ps(pr, v0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(pr, v1, acc[r][1]);
                acc[r][2] = _mm512_fmadd_ps(pr, v2, acc[r][2]);
                acc[r][3] = _mm512_fmadd_ps(pr, v3, acc[r][3]);
            }
        }
    } else {
        for (int j = 0; j < nkeys; j++) {
            const float *v = a->v + (size_t)j * a->hd + d0;
            for (int c = 0; c < nc; c++) {
                __m512 vc = _mm512_maskz_loadu_ps(c == nc - 1 ? last : 0xffff, v + 16 * c);
                for (int r = 0; r < 4; r++)
                    acc[r][c] = _mm512_fmadd_ps(_mm512_set1_ps(p[r][j]), vc, acc[r][c]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
        if (r >= nr)
            break;
        __m512 iv = _mm512_set1_ps(inv[r]);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            if (c >= nc)
                break;
            store_bf16(a->out + (size_t)(r0 + r) * a->ldo + d0 + 16 * c,
                       _mm512_mul_ps(acc[r][c], iv), c == nc - 1 ? last : 0xffff);
        }
    }
}

static void a_attention(const attention_block *a)
{
    int nkeys = a->q0 + a->nq;
    int nk16 = (nkeys + 15) & ~15;
    for (int r0 = 0; r0 < a->nq; r0 += 8)
        scores8(a, r0, a->nq - r0 < 8 ? a->nq - r0 : 8, nk16);
    float inv[KERNELS_ATTN_BLOCK];
    for (int r = 0; r < a->nq; r++) {
        float *s = a->s + (size_t)r * a->ldk;
        int len = a->q0 + r + 1;
        float sum = exp_sub_sum(s, len, max_of(s, len));
        for (int j = len; j < nkeys; j++)
            s[j] = 0;
        inv[r] = 1.0f / sum;
    }
    for (int r0 = 0; r0 < a->nq; r0 += 4)
        for (int d0 = 0; d0 < a->hd; d0 += 64)
            pv4(a, r0, a->nq - r0 < 4 ? a->nq - r0 : 4, nkeys, d0, inv + r0);
}

static const kernels table = {
    .name = TABLE_NAME,
    .rmsnorm_bf16 = a_rmsnorm_bf16,
    .rmsnorm_f32 = a_rmsnorm_f32,
    .rope = a_rope,
    .silu_mul_bf16 = a_silu_mul_bf16,
    .add_f32 = a_add_f32,
    .bf16_to_f32 = a_bf16_to_f32,
    .f32_to_bf16 = a_f32_to_bf16,
    .softmax = a_softmax,
    .attention = a_attention,
};

const kernels *TABLE(void)
{
    return &table;
}
#else
const kernels *TABLE(void)
{
    return NULL;
}
#endif
