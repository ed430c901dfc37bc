/*
 * test_kernels: every kernel of engine/kernels.h, in every table this CPU
 * can run (portable, AVX2, AVX-512; LLMSPAM_CPU_ISA caps which), against a
 * naive double-precision reference on random inputs of awkward sizes (tails
 * of 1..15 lanes included), and each SIMD table against the portable one.
 * bf16 outputs are allowed 1 bf16 ulp (2^-8 relative) since one rounding
 * may land either side. Attention covers every block height 1..16, blocks
 * starting at q0 > 0, head dims that are and are not multiples of 8 and 16,
 * padded ldk with NaN past the keys and NaN in the scratch (neither may be
 * read), and checks nothing is written past each output row's head_dim.
 */
#include "config.h"
#include "engine/bf16.h"
#include "engine/cpu_isa.h"
#include "engine/kernels.h"
#include "t/lib/tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long rng = 88172645463325252ULL;

static float frand(float lo, float hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (float)((rng >> 11) * (1.0 / 9007199254740992.0));
}

static bool close_to(double got, double want, double rel, double abs_tol)
{
    return fabs(got - want) <= rel * fabs(want) + abs_tol;
}

static const int sizes[] = {1, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 2048, 2053};
#define NSIZES (int)(sizeof sizes / sizeof sizes[0])

static void test_convert(const kernels *k)
{
    /* round to nearest even, ties included */
    static const struct { float in; uint16_t out; } cases[] = {
        {1.0f, 0x3f80}, {1.00390625f, 0x3f80}, {1.01171875f, 0x3f82},
        {1.0078125f, 0x3f81}, {-2.0f, 0xc000}, {65504.0f, 0x4780}, {0.0f, 0}, {-0.0f, 0x8000},
        {3.0e38f, 0x7f62}, {INFINITY, 0x7f80},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t scalar = f32_to_bf16(cases[i].in), vec;
        k->f32_to_bf16(&cases[i].in, 1, &vec);
        if (scalar != cases[i].out || vec != cases[i].out) {
            tap_diag("%s: bf16(%g) = %04x / %04x, want %04x", k->name, cases[i].in, scalar, vec,
                     cases[i].out);
            bad++;
        }
    }
    tap_ok(bad == 0, "%s: f32_to_bf16 rounds to nearest even", k->name);
    uint16_t nan;
    float qn = NAN;
    k->f32_to_bf16(&qn, 1, &nan);
    tap_ok(isnan(bf16_to_f32(nan)) && isnan(bf16_to_f32(f32_to_bf16(NAN))), "%s: NaN stays NaN", k->name);

    /* bit patterns at the edges, each in every lane of a vector and of a
     * tail: the row conversion gives the scalar f32_to_bf16's bits */
    static const uint32_t edges[] = {
        0x7f800001u, 0xff800001u, 0x7fbfffffu, 0x7fffffffu, 0xffc00000u, /* NaNs, signalling too */
        0x00000001u, 0x807fffffu, 0x00008000u, 0x00018000u,              /* denormals, ties */
        0x7f7fffffu, 0xff7f8000u, 0x3f808000u, 0x3f818000u, 0x3f807fffu, /* overflow, ties */
        0x7f800000u, 0xff800000u, 0x80000000u,
    };
    enum { NE = sizeof edges / sizeof edges[0], ROW = 8 * 3 + 5 };
    bad = 0;
    for (int e = 0; e < NE; e++)
        for (int lane = 0; lane < ROW; lane++) {
            float row[ROW], back[ROW];
            uint16_t h[ROW];
            for (int i = 0; i < ROW; i++)
                row[i] = frand(-4, 4);
            memcpy(&row[lane], &edges[e], sizeof row[lane]);
            k->f32_to_bf16(row, ROW, h);
            k->bf16_to_f32(h, ROW, back);
            for (int i = 0; i < ROW; i++)
                if (h[i] != f32_to_bf16(row[i]) || memcmp(&back[i], &(float){bf16_to_f32(h[i])}, sizeof(float)))
                    bad++;
        }
    tap_ok(bad == 0, "%s: NaNs (signalling too), denormals, ties and overflow convert bit for bit (%d off)",
           k->name, bad);

    bad = 0;
    for (int si = 0; si < NSIZES; si++) {
        int n = sizes[si];
        float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
        uint16_t *h = malloc(n * sizeof *h);
        for (int i = 0; i < n; i++)
            x[i] = frand(-100, 100);
        k->f32_to_bf16(x, n, h);
        k->bf16_to_f32(h, n, y);
        for (int i = 0; i < n; i++)
            if (h[i] != f32_to_bf16(x[i]) || y[i] != bf16_to_f32(h[i]))
                bad++;
        free(x);
        free(y);
        free(h);
    }
    tap_ok(bad == 0, "%s: bf16 rows convert exactly like the scalar reference", k->name);
}

static void test_rmsnorm(const kernels *k)
{
    int bad = 0, badf = 0;
    for (int si = 0; si < NSIZES; si++) {
        int n = sizes[si];
        float *x = malloc(n * sizeof *x), *yf = malloc(n * sizeof *yf);
        uint16_t *w = malloc(n * sizeof *w), *y = malloc(n * sizeof *y);
        for (int i = 0; i < n; i++) {
            x[i] = frand(-3, 3);
            w[i] = f32_to_bf16(frand(0.5f, 1.5f));
        }
        double ss = 0;
        for (int i = 0; i < n; i++)
            ss += (double)x[i] * x[i];
        double r = 1.0 / sqrt(ss / n + 1e-5);
        k->rmsnorm_bf16(x, w, 1e-5f, n, y);
        k->rmsnorm_f32(x, w, 1e-5f, n, yf);
        for (int i = 0; i < n; i++) {
            double want = bf16_to_f32(w[i]) * x[i] * r;
            if (!close_to(bf16_to_f32(y[i]), want, 1.0 / 256, 1e-6))
                bad++;
            if (!close_to(yf[i], want, 1e-5, 1e-6))
                badf++;
        }
        free(x);
        free(yf);
        free(w);
        free(y);
    }
    tap_ok(bad == 0, "%s: rmsnorm_bf16 matches the double reference (%d off)", k->name, bad);
    tap_ok(badf == 0, "%s: rmsnorm_f32 matches the double reference (%d off)", k->name, badf);
}

static void test_rope(const kernels *k)
{
    static const int hds[] = {2, 16, 24, 64, 128};
    int bad = 0;
    for (size_t hi = 0; hi < sizeof hds / sizeof hds[0]; hi++) {
        int hd = hds[hi], nh = 3, half = hd / 2;
        float *x = malloc((size_t)nh * hd * sizeof *x), *x0 = malloc((size_t)nh * hd * sizeof *x);
        float *c = malloc(half * sizeof *c), *s = malloc(half * sizeof *s);
        for (int i = 0; i < nh * hd; i++)
            x0[i] = x[i] = frand(-2, 2);
        for (int i = 0; i < half; i++) {
            float a = frand(-100, 100);
            c[i] = cosf(a);
            s[i] = sinf(a);
        }
        k->rope(x, nh, hd, c, s);
        for (int h = 0; h < nh; h++)
            for (int i = 0; i < half; i++) {
                double a = x0[h * hd + i], b = x0[h * hd + half + i];
                if (!close_to(x[h * hd + i], a * c[i] - b * s[i], 1e-6, 1e-6) ||
                    !close_to(x[h * hd + half + i], b * c[i] + a * s[i], 1e-6, 1e-6))
                    bad++;
            }
        free(x);
        free(x0);
        free(c);
        free(s);
    }
    tap_ok(bad == 0, "%s: rope matches the double reference (%d off)", k->name, bad);
}

static void test_elementwise(const kernels *k)
{
    int bad_silu = 0, bad_add = 0, bad_sm = 0;
    for (int si = 0; si < NSIZES; si++) {
        int n = sizes[si];
        float *g = malloc(n * sizeof *g), *u = malloc(n * sizeof *u), *y = malloc(n * sizeof *y);
        uint16_t *o = malloc(n * sizeof *o);
        for (int i = 0; i < n; i++) {
            g[i] = frand(-20, 20);
            u[i] = frand(-3, 3);
            y[i] = frand(-3, 3);
        }
        g[0] = -100; /* exp(100) must not overflow into NaN */
        k->silu_mul_bf16(g, u, n, o);
        for (int i = 0; i < n; i++) {
            double want = g[i] / (1.0 + exp(-(double)g[i])) * u[i];
            if (!close_to(bf16_to_f32(o[i]), want, 1.0 / 256, 1e-30))
                bad_silu++;
        }
        float *y0 = malloc(n * sizeof *y0);
        memcpy(y0, y, n * sizeof *y);
        k->add_f32(y, g, n);
        for (int i = 0; i < n; i++)
            if (y[i] != y0[i] + g[i])
                bad_add++;
        memcpy(y0, g, n * sizeof *g);
        k->softmax(g, n);
        double mx = y0[0], sum = 0;
        for (int i = 0; i < n; i++)
            mx = y0[i] > mx ? y0[i] : mx;
        for (int i = 0; i < n; i++)
            sum += exp(y0[i] - mx);
        for (int i = 0; i < n; i++)
            if (!close_to(g[i], exp(y0[i] - mx) / sum, 1e-5, 1e-7))
                bad_sm++;
        free(g);
        free(u);
        free(y);
        free(y0);
        free(o);
    }
    tap_ok(bad_silu == 0, "%s: silu_mul_bf16 matches the double reference (%d off)", k->name, bad_silu);
    tap_ok(bad_add == 0, "%s: add_f32 is exact (%d off)", k->name, bad_add);
    tap_ok(bad_sm == 0, "%s: softmax matches the double reference (%d off)", k->name, bad_sm);
}

/* Causal attention of nq rows at q0 against keys 0..q0+r, double
 * reference; ldk is nkeys rounded up to 16 plus pad. Returns the number of
 * values off, plus every value written outside the output rows. */
static int check_attention(const kernels *k, int hd, int q0, int nq, int pad, uint16_t *out_keep)
{
    int nkeys = q0 + nq, ldk = (nkeys + 15) / 16 * 16 + pad, ldq = hd + 3, ldo = hd + 5;
    float *q = malloc((size_t)nq * ldq * sizeof *q), *kt = malloc((size_t)hd * ldk * sizeof *kt);
    float *v = malloc((size_t)nkeys * hd * sizeof *v);
    float *s = malloc((size_t)KERNELS_ATTN_BLOCK * ldk * sizeof *s);
    uint16_t *out = malloc((size_t)nq * ldo * sizeof *out);
    for (int i = 0; i < KERNELS_ATTN_BLOCK * ldk; i++)
        s[i] = NAN;
    for (int i = 0; i < nq * ldo; i++)
        out[i] = 0xdead;
    for (int i = 0; i < nq * ldq; i++)
        q[i] = frand(-2, 2);
    for (int d = 0; d < hd; d++)
        for (int j = 0; j < ldk; j++)
            kt[d * ldk + j] = j < nkeys ? frand(-2, 2) : NAN;
    for (int i = 0; i < nkeys * hd; i++)
        v[i] = frand(-2, 2);
    float scale = 1.0f / sqrtf((float)hd);
    attention_block a = {q, ldq, nq, q0, kt, ldk, v, hd, scale, s, out, ldo};
    k->attention(&a);
    int bad = 0;
    double *p = malloc((size_t)nkeys * sizeof *p);
    for (int r = 0; r < nq; r++) {
        int len = q0 + r + 1;
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < len; j++) {
            double dot = 0;
            for (int d = 0; d < hd; d++)
                dot += (double)q[r * ldq + d] * kt[d * ldk + j];
            p[j] = dot * scale;
            mx = p[j] > mx ? p[j] : mx;
        }
        for (int j = 0; j < len; j++)
            sum += p[j] = exp(p[j] - mx);
        for (int d = 0; d < hd; d++) {
            double o = 0;
            for (int j = 0; j < len; j++)
                o += p[j] / sum * v[j * hd + d];
            if (!close_to(bf16_to_f32(out[r * ldo + d]), o, 1.0 / 128, 1e-4))
                bad++;
            if (out_keep)
                out_keep[r * hd + d] = out[r * ldo + d];
        }
        for (int d = hd; d < ldo; d++)
            if (out[r * ldo + d] != 0xdead)
                bad++;
    }
    free(p);
    free(q);
    free(kt);
    free(v);
    free(s);
    free(out);
    return bad;
}

static void test_attention(const kernels *k)
{
    /* head_dim 64 (Llama-3.2-1B): every block height, at several starts */
    static const int q0s64[] = {0, 1, 15, 16, 37, 250};
    int bad = 0, cases = 0;
    for (size_t b = 0; b < sizeof q0s64 / sizeof *q0s64; b++)
        for (int nq = 1; nq <= KERNELS_ATTN_BLOCK; nq++) {
            int pad = (nq % 3) * 16, e = check_attention(k, 64, q0s64[b], nq, pad, NULL);
            if (e)
                tap_diag("%s: attention hd=64 q0=%d nq=%d pad=%d: %d values off", k->name, q0s64[b],
                         nq, pad, e);
            bad += e;
            cases++;
        }
    tap_ok(bad == 0, "%s: attention, head_dim 64, block heights 1..16, matches the double reference in %d shapes",
           k->name, cases);
    /* other head dims, multiples of 16, of 8 only, and of neither */
    static const int hds[] = {16, 24, 128, 2, 12, 40, 80, 100};
    static const int q0s[] = {0, 5, 37, 250};
    static const int nqs[] = {1, 2, 5, 6, 7, 13, 16};
    bad = 0;
    cases = 0;
    for (size_t a = 0; a < sizeof hds / sizeof *hds; a++)
        for (size_t b = 0; b < sizeof q0s / sizeof *q0s; b++)
            for (size_t c = 0; c < sizeof nqs / sizeof *nqs; c++) {
                int pad = (int)((a + b + c) % 2) * 16;
                int e = check_attention(k, hds[a], q0s[b], nqs[c], pad, NULL);
                if (e)
                    tap_diag("%s: attention hd=%d q0=%d nq=%d pad=%d: %d values off", k->name, hds[a],
                             q0s[b], nqs[c], pad, e);
                bad += e;
                cases++;
            }
    tap_ok(bad == 0, "%s: attention, head_dims 2..128, matches the double reference in %d shapes", k->name,
           cases);
}

/* A SIMD table and the portable one on the same inputs agree closely
 * (tighter than either is to the double reference only where both round
 * the same value). */
static void test_agree(const kernels *p, const kernels *x)
{
    int n = 1000;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *u = malloc(n * sizeof *u);
    uint16_t *w = malloc(n * sizeof *w), *o1 = malloc(n * sizeof *o1), *o2 = malloc(n * sizeof *o2);
    for (int i = 0; i < n; i++) {
        a[i] = frand(-8, 8);
        u[i] = frand(-2, 2);
        w[i] = f32_to_bf16(frand(0.5f, 1.5f));
    }
    int diff = 0;
    p->silu_mul_bf16(a, u, n, o1);
    x->silu_mul_bf16(a, u, n, o2);
    for (int i = 0; i < n; i++)
        if (!close_to(bf16_to_f32(o1[i]), bf16_to_f32(o2[i]), 1.0 / 128, 0))
            diff++;
    tap_ok(diff == 0, "portable and %s silu_mul agree within 1 bf16 ulp (%d off)", x->name, diff);
    p->rmsnorm_f32(a, w, 1e-5f, n, b);
    float *c = malloc(n * sizeof *c);
    x->rmsnorm_f32(a, w, 1e-5f, n, c);
    diff = 0;
    for (int i = 0; i < n; i++)
        if (!close_to(b[i], c[i], 2e-6, 1e-7))
            diff++;
    tap_ok(diff == 0, "portable and %s rmsnorm_f32 agree to 2e-6 (%d off)", x->name, diff);
    uint16_t o3[37 * 64], o4[37 * 64];
    unsigned long long save = rng;
    check_attention(p, 64, 100, 16, 16, o3);
    rng = save;
    check_attention(x, 64, 100, 16, 16, o4);
    diff = 0;
    for (int i = 0; i < 16 * 64; i++)
        if (!close_to(bf16_to_f32(o3[i]), bf16_to_f32(o4[i]), 1.0 / 128, 1e-5))
            diff++;
    tap_ok(diff == 0, "portable and %s attention agree within 1 bf16 ulp (%d off)", x->name, diff);
    free(a);
    free(b);
    free(c);
    free(u);
    free(w);
    free(o1);
    free(o2);
}

static void test_table(const kernels *k)
{
    test_convert(k);
    test_rmsnorm(k);
    test_rope(k);
    test_elementwise(k);
    test_attention(k);
}

int main(void)
{
    const kernels *p = kernels_portable();
    tap_ok(p && !strcmp(p->name, "portable"), "the portable table exists");
    test_table(p);
    cpu_isa isa = cpu_isa_get();
    tap_diag("cpu_isa %s (detected %s)", cpu_isa_name(isa), cpu_isa_name(cpu_isa_detected()));
    static const struct {
        const char *name;
        const kernels *(*get)(void);
        cpu_isa needs;
    } simd[] = {
        {"avx2", kernels_avx2, CPU_ISA_AVX2},
        {"avx512", kernels_avx512, CPU_ISA_AVX512},
        {"avx512_bf16", kernels_avx512_bf16, CPU_ISA_AVX512_BF16},
    };
    const kernels *want = p;
    for (size_t i = 0; i < sizeof simd / sizeof simd[0]; i++) {
        const kernels *x = simd[i].get();
#if defined(__x86_64__)
        tap_ok((x != NULL) == (isa >= simd[i].needs), "kernels_%s() is %s at cpu_isa %s", simd[i].name,
               isa >= simd[i].needs ? "available" : "NULL", cpu_isa_name(isa));
#endif
        if (x) {
            tap_ok(!strcmp(x->name, simd[i].name), "the %s table is named %s", simd[i].name, x->name);
            test_table(x);
            test_agree(p, x);
            want = x;
        } else {
            char why[80];
            snprintf(why, sizeof why, "cpu_isa %s: no %s kernels to test", cpu_isa_name(isa), simd[i].name);
            tap_skip(why);
        }
    }
    /* the choice: the best table the (capped) level allows */
    tap_ok(kernels_get() == want, "kernels_get() picks %s at cpu_isa %s", want->name, cpu_isa_name(isa));
    return tap_done();
}
