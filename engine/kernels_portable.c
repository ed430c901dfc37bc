/*
 * kernels_portable: the portable C kernels, correct on any CPU (arm64
 * included) and the reference the SIMD twins are tested against. Built with
 * the baseline flags only. See kernels.h for the shapes.
 */
#include "config.h"
#include "engine/kernels.h"
#include "engine/kernels_tables.h"
#include "engine/bf16.h"

#include <math.h>
#include <stddef.h>

static float sumsq(const float *x, int n)
{
    /* Eight partial sums: the rounding stays close to torch's vectorized
     * reduction and the loop vectorizes. */
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += x[i + j] * x[i + j];
    float s = 0;
    for (int j = 0; j < 8; j++)
        s += acc[j];
    for (; i < n; i++)
        s += x[i] * x[i];
    return s;
}

static void p_rmsnorm_bf16(const float *x, const uint16_t *w, float eps, int n, uint16_t *y)
{
    float r = 1.0f / sqrtf(sumsq(x, n) / (float)n + eps);
    for (int i = 0; i < n; i++)
        y[i] = f32_to_bf16(bf16_to_f32(w[i]) * (x[i] * r));
}

static void p_rmsnorm_f32(const float *x, const uint16_t *w, float eps, int n, float *y)
{
    float r = 1.0f / sqrtf(sumsq(x, n) / (float)n + eps);
    for (int i = 0; i < n; i++)
        y[i] = bf16_to_f32(w[i]) * (x[i] * r);
}

static void p_rope(float *x, int nheads, int hd, const float *c, const float *s)
{
    int half = hd / 2;
    for (int h = 0; h < nheads; h++) {
        float *a = x + (size_t)h * hd, *b = a + half;
        for (int i = 0; i < half; i++) {
            float x1 = a[i], x2 = b[i];
            a[i] = x1 * c[i] - x2 * s[i];
            b[i] = x2 * c[i] + x1 * s[i];
        }
    }
}

static void p_silu_mul_bf16(const float *g, const float *u, int n, uint16_t *y)
{
    for (int i = 0; i < n; i++)
        y[i] = f32_to_bf16(g[i] / (1.0f + expf(-g[i])) * u[i]);
}

static void p_add_f32(float *y, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += x[i];
}

static void p_bf16_to_f32(const uint16_t *x, int n, float *y)
{
    for (int i = 0; i < n; i++)
        y[i] = bf16_to_f32(x[i]);
}

static void p_f32_to_bf16(const float *x, int n, uint16_t *y)
{
    for (int i = 0; i < n; i++)
        y[i] = f32_to_bf16(x[i]);
}

static void p_softmax(float *x, int n)
{
    float m = x[0];
    for (int i = 1; i < n; i++)
        m = x[i] > m ? x[i] : m;
    float s = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        s += x[i];
    }
    float r = 1.0f / s;
    for (int i = 0; i < n; i++)
        x[i] *= r;
}

static void p_attention(const attention_block *a)
{
    int hd = a->hd;
    for (int r = 0; r < a->nq; r++) {
        const float *q = a->q + (size_t)r * a->ldq;
        float *s = a->s + (size_t)r * a->ldk;
        int len = a->q0 + r + 1;
        for (int j = 0; j < len; j++)
            s[j] = 0;
        for (int d = 0; d < hd; d++) {
            const float *k = a->kt + (size_t)d * a->ldk;
            float qd = q[d];
            for (int j = 0; j < len; j++)
                s[j] += qd * k[j];
        }
        float m = -INFINITY;
        for (int j = 0; j < len; j++) {
            s[j] *= a->scale;
            m = s[j] > m ? s[j] : m;
        }
        float sum = 0;
        for (int j = 0; j < len; j++) {
            s[j] = expf(s[j] - m);
            sum += s[j];
        }
        float o[512]; /* hd is split in slices of 512 */
        for (int d0 = 0; d0 < hd; d0 += 512) {
            int dn = hd - d0 < 512 ? hd - d0 : 512;
            for (int d = 0; d < dn; d++)
                o[d] = 0;
            for (int j = 0; j < len; j++) {
                const float *v = a->v + (size_t)j * hd + d0;
                for (int d = 0; d < dn; d++)
                    o[d] += s[j] * v[d];
            }
            uint16_t *out = a->out + (size_t)r * a->ldo + d0;
            for (int d = 0; d < dn; d++)
                out[d] = f32_to_bf16(o[d] / sum);
        }
    }
}

static const kernels portable = {
    .name = "portable",
    .rmsnorm_bf16 = p_rmsnorm_bf16,
    .rmsnorm_f32 = p_rmsnorm_f32,
    .rope = p_rope,
    .silu_mul_bf16 = p_silu_mul_bf16,
    .add_f32 = p_add_f32,
    .bf16_to_f32 = p_bf16_to_f32,
    .f32_to_bf16 = p_f32_to_bf16,
    .softmax = p_softmax,
    .attention = p_attention,
};

const kernels *kernels_portable_table(void)
{
    return &portable;
}
