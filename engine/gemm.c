/*
 * gemm: the seam. Chooses an implementation once per context (see gemm.h)
 * and routes weights and plans to it through gemm_impl.h.
 */
#include "config.h"
#include "engine/gemm.h"
#include "engine/gemm_impl.h"

#include <stdlib.h>

struct gemm_ctx {
    const gemm_impl *impl;
    void *state;
    const char *path;
};

struct gemm_weight {
    const gemm_impl *impl;
    int n, k, max_m;
    size_t bytes;
    void *w;
};

struct gemm_plan {
    const gemm_impl *impl;
    int n, k, max_m;
    void *p;
};

engine_status gemm_ctx_new_capped(cpu_isa cap, gemm_ctx **out, engine_err *err)
{
    *out = NULL;
    cpu_isa isa = cpu_isa_get();
    if (cap < isa)
        isa = cap;
    gemm_ctx *g = calloc(1, sizeof *g);
    if (!g)
        return engine_fail(err, ENGINE_ERR_NOMEM, "gemm: out of memory");
    /* fastest first; a path that cannot be made here gives way to the next */
    const gemm_impl *const order[] = {&gemm_impl_onednn, &gemm_impl_avx512, &gemm_impl_avx2,
                                      &gemm_impl_portable};
    engine_status st = ENGINE_ERR_BACKEND;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        st = order[i]->ctx_new(isa, &g->state, &g->path, err);
        if (st == ENGINE_OK) {
            g->impl = order[i];
            break;
        }
    }
    if (st != ENGINE_OK) {
        free(g);
        return st;
    }
    *out = g;
    return ENGINE_OK;
}

engine_status gemm_ctx_new(gemm_ctx **out, engine_err *err)
{
    return gemm_ctx_new_capped(CPU_ISA_AVX512_BF16, out, err);
}

void gemm_ctx_free(gemm_ctx *g)
{
    if (!g)
        return;
    g->impl->ctx_free(g->state);
    free(g);
}

const char *gemm_path(const gemm_ctx *g)
{
    return g->path;
}

int gemm_bucket(int m)
{
    if (m <= 1)
        return 1;
    if (m <= 16)
        return 16;
    int p = 1;
    while (p * 2 <= m)
        p *= 2;
    int step = p / 8 < 16 ? 16 : p / 8;
    return (m + step - 1) / step * step;
}

int gemm_threads_for(int m, int n, int k, int threads)
{
    return m <= 16 || 2.0 * m * n * k < 32e6 ? 1 : threads;
}

engine_status gemm_weight_new(gemm_ctx *g, const char *name, int n, int k, int max_m,
                              const uint16_t *src, gemm_weight **out, engine_err *err)
{
    *out = NULL;
    if (n < 1 || k < 1 || max_m < 1)
        return engine_fail(err, ENGINE_ERR_ARG, "%s: bad shape %dx%d for %d rows", name, n, k, max_m);
    gemm_weight *w = calloc(1, sizeof *w);
    if (!w)
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", name);
    *w = (gemm_weight){.impl = g->impl, .n = n, .k = k, .max_m = max_m};
    engine_status st = g->impl->weight_new(g->state, name, n, k, max_m, src, &w->w, &w->bytes, err);
    if (st) {
        free(w);
        return st;
    }
    *out = w;
    return ENGINE_OK;
}

void gemm_weight_free(gemm_weight *w)
{
    if (!w)
        return;
    w->impl->weight_free(w->w);
    free(w);
}

size_t gemm_weight_bytes(const gemm_weight *w)
{
    return w->bytes;
}

engine_status gemm_plan_new(gemm_ctx *g, const gemm_weight *proto, int max_m, bool accumulate,
                            int threads, gemm_plan **out, engine_err *err)
{
    *out = NULL;
    if (proto->impl != g->impl || max_m < 1 || max_m > proto->max_m || threads < 1)
        return engine_fail(err, ENGINE_ERR_ARG, "gemm: no plan for %d rows of a %dx%d weight made for %d",
                           max_m, proto->n, proto->k, proto->max_m);
    gemm_plan *p = calloc(1, sizeof *p);
    if (!p)
        return engine_fail(err, ENGINE_ERR_NOMEM, "gemm: out of memory");
    *p = (gemm_plan){.impl = g->impl, .n = proto->n, .k = proto->k, .max_m = max_m};
    engine_status st = g->impl->plan_new(g->state, proto->w, proto->n, proto->k, max_m, accumulate,
                                         threads, &p->p, err);
    if (st) {
        free(p);
        return st;
    }
    *out = p;
    return ENGINE_OK;
}

void gemm_plan_free(gemm_plan *p)
{
    if (!p)
        return;
    p->impl->plan_free(p->p);
    free(p);
}

engine_status gemm_run(gemm_plan *p, const gemm_weight *w, int m, const uint16_t *a, float *c,
                       engine_err *err)
{
    if (m < 1 || m > p->max_m || w->impl != p->impl || w->n != p->n || w->k != p->k)
        return engine_fail(err, ENGINE_ERR_ARG, "gemm: no plan for %d rows of %dx%d", m, w->n, w->k);
    return p->impl->run(p->p, w->w, m, a, c, err);
}

const char *gemm_plan_impl(const gemm_plan *p, int m)
{
    return m >= 1 && m <= p->max_m ? p->impl->plan_impl(p->p, m) : "none";
}
