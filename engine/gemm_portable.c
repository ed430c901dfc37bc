/*
 * gemm_portable: the "portable" path of the GEMM seam, plain C for any CPU
 * (arm64 included), and the bf16 panel layout, prepared weight and plan
 * it shares with the AVX2 and AVX-512 paths (gemm_impl.h). Correct first: fp32
 * accumulation, every edge handled. Blocked so that small models stay
 * usable: A widened to fp32 once per run, each weight panel widened KC
 * deep at a time, and a 4x16 tile of fp32 accumulators the compiler can
 * keep in vector registers.
 */
#include "config.h"
#include "engine/gemm_impl.h"
#include "engine/bf16.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define MR 4
#define KC 256

size_t gemm_panels_elems(int n, int k)
{
    return (size_t)((n + GEMM_NR - 1) / GEMM_NR) * GEMM_NR * (size_t)k;
}

void gemm_panels_pack(const uint16_t *w, int n, int k, uint16_t *panels)
{
    int np = (n + GEMM_NR - 1) / GEMM_NR;
#pragma omp parallel for schedule(dynamic, 4) if (np > 8)
    for (int j = 0; j < np; j++) {
        uint16_t *dst = panels + (size_t)j * GEMM_NR * k;
        for (int c = 0; c < GEMM_NR; c++) {
            int col = j * GEMM_NR + c;
            const uint16_t *src = w + (size_t)col * k;
            for (int p = 0; p < k; p++)
                dst[(size_t)p * GEMM_NR + c] = col < n ? src[p] : 0;
        }
    }
}

void gemm_panel_weight_free(void *wp)
{
    gemm_panel_weight *w = wp;
    if (!w)
        return;
    free(w->panels);
    free(w);
}

engine_status gemm_panel_weight_new(void *state, const char *name, int n, int k, int max_m,
                                    const uint16_t *src, void **out, size_t *bytes,
                                    engine_err *err)
{
    (void)state;
    (void)max_m;
    *out = NULL;
    gemm_panel_weight *w = calloc(1, sizeof *w);
    size_t elems = gemm_panels_elems(n, k);
    void *mem = NULL;
    if (!w || posix_memalign(&mem, 64, elems * sizeof(uint16_t))) {
        free(w);
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for %zu bytes", name,
                           elems * sizeof(uint16_t));
    }
    *w = (gemm_panel_weight){.n = n, .k = k, .panels = mem};
    gemm_panels_pack(src, n, k, w->panels);
    *out = w;
    *bytes = elems * sizeof(uint16_t);
    return ENGINE_OK;
}

static engine_status ctx_new(cpu_isa cap, void **state, const char **path, engine_err *err)
{
    (void)cap;
    (void)err;
    *state = NULL;
    *path = "portable";
    return ENGINE_OK;
}

static void ctx_free(void *state)
{
    (void)state;
}

void gemm_panel_plan_free(void *pp)
{
    gemm_panel_plan *p = pp;
    if (!p)
        return;
    free(p->a);
    free(p->b);
    free(p);
}

engine_status gemm_panel_plan_new(int n, int k, int max_m, bool accumulate, int threads,
                                  size_t a_floats, size_t b_floats, void **out, engine_err *err)
{
    *out = NULL;
    gemm_panel_plan *p = calloc(1, sizeof *p);
    if (!p)
        return engine_fail(err, ENGINE_ERR_NOMEM, "gemm: out of memory");
    *p = (gemm_panel_plan){.n = n, .k = k, .max_m = max_m, .threads = threads, .accumulate = accumulate};
    void *a = NULL, *b = NULL;
    if (posix_memalign(&a, 64, a_floats * sizeof(float)) ||
        posix_memalign(&b, 64, (size_t)threads * b_floats * sizeof(float))) {
        free(a);
        free(p);
        return engine_fail(err, ENGINE_ERR_NOMEM, "gemm: out of memory for the scratch of %dx%dx%d",
                           max_m, n, k);
    }
    p->a = a;
    p->b = b;
    *out = p;
    return ENGINE_OK;
}

/* A widened [max_m][k]; per thread one panel slice widened [KC][GEMM_NR]. */
static engine_status plan_new(void *state, const void *proto, int n, int k, int max_m,
                              bool accumulate, int threads, void **out, engine_err *err)
{
    (void)state;
    (void)proto;
    return gemm_panel_plan_new(n, k, max_m, accumulate, threads, (size_t)max_m * k,
                               (size_t)KC * GEMM_NR, out, err);
}

/* c[mr][nc] (=|+=) a[mr][kc] (lda) * b[kc][GEMM_NR], mr <= MR, nc <= GEMM_NR */
static void tile(int mr, int kc, const float *a, int lda, const float *b, float *c, int ldc, int nc,
                 bool add)
{
    float acc[MR][GEMM_NR];
    memset(acc, 0, sizeof acc);
    for (int p = 0; p < kc; p++) {
        const float *bp = b + (size_t)p * GEMM_NR;
        for (int r = 0; r < mr; r++) {
            float av = a[(size_t)r * lda + p];
            for (int j = 0; j < GEMM_NR; j++)
                acc[r][j] += av * bp[j];
        }
    }
    for (int r = 0; r < mr; r++) {
        float *cr = c + (size_t)r * ldc;
        for (int j = 0; j < nc; j++)
            cr[j] = add ? cr[j] + acc[r][j] : acc[r][j];
    }
}

static engine_status run(void *pp, const void *wp, int m, const uint16_t *a, float *c, engine_err *err)
{
    (void)err;
    gemm_panel_plan *p = pp;
    const gemm_panel_weight *w = wp;
    int n = p->n, k = p->k, np = (n + GEMM_NR - 1) / GEMM_NR;
    int nt = gemm_threads_for(m, n, k, p->threads);
#pragma omp parallel num_threads(nt)
    {
#pragma omp for schedule(static)
        for (int i = 0; i < m; i++)
            for (int q = 0; q < k; q++)
                p->a[(size_t)i * k + q] = bf16_to_f32(a[(size_t)i * k + q]);
        float *bw = p->b + (size_t)omp_get_thread_num() * KC * GEMM_NR;
#pragma omp for schedule(dynamic, 1)
        for (int j = 0; j < np; j++) {
            const uint16_t *panel = w->panels + (size_t)j * GEMM_NR * k;
            int nc = n - j * GEMM_NR < GEMM_NR ? n - j * GEMM_NR : GEMM_NR;
            for (int p0 = 0; p0 < k; p0 += KC) {
                int kc = k - p0 < KC ? k - p0 : KC;
                for (int e = 0; e < kc * GEMM_NR; e++)
                    bw[e] = bf16_to_f32(panel[(size_t)p0 * GEMM_NR + e]);
                bool add = p->accumulate || p0 > 0;
                for (int i = 0; i < m; i += MR)
                    tile(m - i < MR ? m - i : MR, kc, p->a + (size_t)i * k + p0, k, bw,
                         c + (size_t)i * n + (size_t)j * GEMM_NR, n, nc, add);
            }
        }
    }
    return ENGINE_OK;
}

static const char *plan_impl(const void *pp, int m)
{
    (void)pp;
    (void)m;
    return "portable 4x16";
}

const gemm_impl gemm_impl_portable = {
    .name = "portable",
    .ctx_new = ctx_new,
    .ctx_free = ctx_free,
    .weight_new = gemm_panel_weight_new,
    .weight_free = gemm_panel_weight_free,
    .plan_new = plan_new,
    .plan_free = gemm_panel_plan_free,
    .run = run,
    .plan_impl = plan_impl,
};
