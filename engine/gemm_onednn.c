/*
 * gemm_onednn: the "avx512_bf16" path of the GEMM seam: oneDNN's bf16
 * matmul (brgemm, AMX tiles where the CPU has them) with weights reordered
 * once and one primitive per row bucket (runtime-m primitives fall back to
 * oneDNN's slower gemm:jit; fixed-m ones get brgemm). Offered only on CPUs
 * with AVX512-BF16: without it Debian's oneDNN 2.6 emulates bf16 in
 * gemm:jit, 4x slower than the avx512 path (gemm_avx512.c). See gemm.h.
 */
#include "config.h"
#include "engine/gemm.h"
#include "engine/gemm_impl.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef struct onednn_ctx {
    dnnl_engine_t engine;
} onednn_ctx;

typedef struct onednn_weight {
    int n, k, max_m;
    dnnl_memory_desc_t md; /* the reordered layout */
    void *data;
    size_t bytes;
} onednn_weight;

typedef struct bucket {
    int m;
    int threads;          /* OpenMP threads this primitive was made for */
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst, scratch;
    const char *impl;
} bucket;

typedef struct onednn_plan {
    onednn_ctx *ctx;
    dnnl_stream_t stream;
    int n, k, nb;
    bucket *b;
    void *scratch;
    size_t scratch_bytes;
} onednn_plan;

/* A matmul primitive descriptor for m rows; wmd NULL = weights "any". */
static dnnl_status_t make_pd(onednn_ctx *g, int m, int n, int k, const dnnl_memory_desc_t *wmd,
                             bool accumulate, dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t a, w, c;
    dnnl_dims_t da = {m, k}, dw = {k, n}, dc = {m, n};
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_tag(&a, 2, da, dnnl_bf16, dnnl_ab)) != dnnl_success)
        return s;
    if (wmd)
        w = *wmd;
    else if ((s = dnnl_memory_desc_init_by_tag(&w, 2, dw, dnnl_bf16, dnnl_format_tag_any)) != dnnl_success)
        return s;
    if ((s = dnnl_memory_desc_init_by_tag(&c, 2, dc, dnnl_f32, dnnl_ab)) != dnnl_success)
        return s;
    dnnl_matmul_desc_t md;
    if ((s = dnnl_matmul_desc_init(&md, &a, &w, NULL, &c)) != dnnl_success)
        return s;
    dnnl_primitive_attr_t attr;
    if ((s = dnnl_primitive_attr_create(&attr)) != dnnl_success)
        return s;
    s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    dnnl_post_ops_t po = NULL;
    if (s == dnnl_success && accumulate) {
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success)
            s = dnnl_post_ops_append_sum(po, 1.0f);
        if (s == dnnl_success)
            s = dnnl_primitive_attr_set_post_ops(attr, po);
    }
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(pd, &md, attr, g->engine, NULL);
    if (po)
        dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

static void weight_free(void *wp)
{
    onednn_weight *w = wp;
    if (!w)
        return;
    free(w->data);
    free(w);
}

static engine_status weight_new(void *state, const char *name, int n, int k, int max_m,
                                const uint16_t *src, void **out, size_t *bytes, engine_err *err)
{
    onednn_ctx *g = state;
    *out = NULL;
    onednn_weight *w = calloc(1, sizeof *w);
    if (!w)
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", name);
    w->n = n;
    w->k = k;
    w->max_m = max_m;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t from = NULL, to = NULL;
    dnnl_stream_t stream = NULL;
    engine_status st = ENGINE_ERR_BACKEND;
    if (make_pd(g, gemm_bucket(max_m), n, k, NULL, false, &pd) != dnnl_success) {
        engine_fail(err, st, "%s: oneDNN has no bf16 matmul for %dx%d", name, n, k);
        goto out;
    }
    w->md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    w->bytes = dnnl_memory_desc_get_size(&w->md);
    if (posix_memalign(&w->data, 64, w->bytes ? w->bytes : 64)) {
        w->data = NULL;
        st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for %zu bytes", name, w->bytes);
        goto out;
    }
    dnnl_memory_desc_t umd;
    dnnl_dims_t dw = {k, n};
    if (dnnl_memory_desc_init_by_tag(&umd, 2, dw, dnnl_bf16, dnnl_ba) != dnnl_success ||
        dnnl_memory_create(&from, &umd, g->engine, (void *)src) != dnnl_success ||
        dnnl_memory_create(&to, &w->md, g->engine, w->data) != dnnl_success ||
        dnnl_reorder_primitive_desc_create(&rpd, &umd, g->engine, &w->md, g->engine, NULL) != dnnl_success ||
        dnnl_primitive_create(&reorder, rpd) != dnnl_success ||
        dnnl_stream_create(&stream, g->engine, dnnl_stream_default_flags) != dnnl_success) {
        engine_fail(err, st, "%s: oneDNN cannot reorder the weight", name);
        goto out;
    }
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    if (dnnl_primitive_execute(reorder, stream, 2, args) != dnnl_success ||
        dnnl_stream_wait(stream) != dnnl_success) {
        engine_fail(err, st, "%s: oneDNN reorder failed", name);
        goto out;
    }
    st = ENGINE_OK;
out:
    if (stream)
        dnnl_stream_destroy(stream);
    if (reorder)
        dnnl_primitive_destroy(reorder);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (from)
        dnnl_memory_destroy(from);
    if (to)
        dnnl_memory_destroy(to);
    if (st != ENGINE_OK) {
        weight_free(w);
        return st;
    }
    *out = w;
    *bytes = w->bytes;
    return ENGINE_OK;
}

static void plan_free(void *pp)
{
    onednn_plan *p = pp;
    if (!p)
        return;
    for (int i = 0; i < p->nb; i++) {
        bucket *b = &p->b[i];
        if (b->prim)
            dnnl_primitive_destroy(b->prim);
        if (b->src)
            dnnl_memory_destroy(b->src);
        if (b->wei)
            dnnl_memory_destroy(b->wei);
        if (b->dst)
            dnnl_memory_destroy(b->dst);
        if (b->scratch)
            dnnl_memory_destroy(b->scratch);
    }
    free(p->b);
    free(p->scratch);
    if (p->stream)
        dnnl_stream_destroy(p->stream);
    free(p);
}

/* impl strings belong to the pd: the static copy of a known one, else
 * "other" (brg:avx512_core_amx is Sapphire Rapids' tiles) */
static const char *known_impl(const char *impl)
{
    static const char *const known[] = {"brg:avx512_core_bf16", "brg:avx512_core_amx", "gemm:jit"};
    for (size_t i = 0; impl && i < sizeof known / sizeof known[0]; i++)
        if (strstr(impl, known[i]))
            return known[i];
    return "other";
}

static engine_status plan_new(void *state, const void *protop, int n, int k, int max_m,
                              bool accumulate, int threads, void **out, engine_err *err)
{
    onednn_ctx *g = state;
    const onednn_weight *proto = protop;
    (void)n;
    (void)k;
    *out = NULL;
    onednn_plan *p = calloc(1, sizeof *p);
    if (!p)
        return engine_fail(err, ENGINE_ERR_NOMEM, "gemm: out of memory");
    p->ctx = g;
    p->n = proto->n;
    p->k = proto->k;
    int top = gemm_bucket(max_m);
    int saved_threads = omp_get_max_threads();
    int nb = 0;
    for (int m = 1; m <= top; m = gemm_bucket(m + 1))
        nb++;
    p->b = calloc((size_t)nb, sizeof *p->b);
    if (!p->b) {
        plan_free(p);
        return engine_fail(err, ENGINE_ERR_NOMEM, "gemm: out of memory");
    }
    if (dnnl_stream_create(&p->stream, g->engine, dnnl_stream_default_flags) != dnnl_success) {
        plan_free(p);
        return engine_fail(err, ENGINE_ERR_BACKEND, "oneDNN: cannot create a stream");
    }
    size_t scratch = 0;
    dnnl_primitive_desc_t *pds = calloc((size_t)nb, sizeof *pds);
    if (!pds) {
        plan_free(p);
        return engine_fail(err, ENGINE_ERR_NOMEM, "gemm: out of memory");
    }
    engine_status st = ENGINE_OK;
    int i = 0;
    for (int m = 1; m <= top; m = gemm_bucket(m + 1), i++) {
        bucket *b = &p->b[i];
        b->m = m;
        b->threads = gemm_threads_for(m, p->n, p->k, threads);
        /* oneDNN sizes a primitive for the calling thread's OpenMP count */
        omp_set_num_threads(b->threads);
        if (make_pd(g, m, p->n, p->k, &proto->md, accumulate, &pds[i]) != dnnl_success ||
            dnnl_primitive_create(&b->prim, pds[i]) != dnnl_success) {
            st = engine_fail(err, ENGINE_ERR_BACKEND, "oneDNN: no matmul for %dx%dx%d", m, p->n, p->k);
            break;
        }
        const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pds[i], dnnl_query_scratchpad_md, 0);
        size_t sz = smd ? dnnl_memory_desc_get_size(smd) : 0;
        scratch = sz > scratch ? sz : scratch;
        if (dnnl_primitive_desc_query(pds[i], dnnl_query_impl_info_str, 0, &b->impl) != dnnl_success)
            b->impl = "?";
    }
    p->nb = i;
    omp_set_num_threads(saved_threads);
    if (st == ENGINE_OK) {
        p->scratch_bytes = scratch;
        if (posix_memalign(&p->scratch, 64, scratch ? scratch : 64)) {
            p->scratch = NULL;
            st = engine_fail(err, ENGINE_ERR_NOMEM, "gemm: out of memory for the scratchpad");
        }
    }
    for (int j = 0; st == ENGINE_OK && j < p->nb; j++) {
        bucket *b = &p->b[j];
        const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pds[j], dnnl_query_src_md, 0);
        const dnnl_memory_desc_t *dmd = dnnl_primitive_desc_query_md(pds[j], dnnl_query_dst_md, 0);
        const dnnl_memory_desc_t *scm = dnnl_primitive_desc_query_md(pds[j], dnnl_query_scratchpad_md, 0);
        if (dnnl_memory_create(&b->src, smd, g->engine, DNNL_MEMORY_NONE) != dnnl_success ||
            dnnl_memory_create(&b->wei, &proto->md, g->engine, DNNL_MEMORY_NONE) != dnnl_success ||
            dnnl_memory_create(&b->dst, dmd, g->engine, DNNL_MEMORY_NONE) != dnnl_success ||
            dnnl_memory_create(&b->scratch, scm, g->engine, p->scratch) != dnnl_success)
            st = engine_fail(err, ENGINE_ERR_BACKEND, "oneDNN: cannot create memory objects");
    }
    for (int j = 0; j < nb; j++)
        if (pds[j]) {
            p->b[j].impl = known_impl(p->b[j].impl);
            dnnl_primitive_desc_destroy(pds[j]);
        }
    free(pds);
    if (st != ENGINE_OK) {
        plan_free(p);
        return st;
    }
    *out = p;
    return ENGINE_OK;
}

static bucket *find(const onednn_plan *p, int m)
{
    int bm = gemm_bucket(m);
    for (int i = 0; i < p->nb; i++)
        if (p->b[i].m == bm)
            return &p->b[i];
    return NULL;
}

static engine_status run(void *pp, const void *wp, int m, const uint16_t *a, float *c,
                         engine_err *err)
{
    onednn_plan *p = pp;
    const onednn_weight *w = wp;
    bucket *b = find(p, m);
    if (!b || w->n != p->n || w->k != p->k)
        return engine_fail(err, ENGINE_ERR_ARG, "gemm: no plan for %d rows of %dx%d", m, w->n, w->k);
    if (dnnl_memory_set_data_handle(b->src, (void *)a) != dnnl_success ||
        dnnl_memory_set_data_handle(b->wei, w->data) != dnnl_success ||
        dnnl_memory_set_data_handle(b->dst, c) != dnnl_success)
        return engine_fail(err, ENGINE_ERR_BACKEND, "oneDNN: cannot bind memory");
    omp_set_num_threads(b->threads);
    dnnl_exec_arg_t args[4] = {
        {DNNL_ARG_SRC, b->src}, {DNNL_ARG_WEIGHTS, b->wei},
        {DNNL_ARG_DST, b->dst}, {DNNL_ARG_SCRATCHPAD, b->scratch},
    };
    if (dnnl_primitive_execute(b->prim, p->stream, 4, args) != dnnl_success ||
        dnnl_stream_wait(p->stream) != dnnl_success)
        return engine_fail(err, ENGINE_ERR_BACKEND, "oneDNN: matmul %dx%dx%d failed", m, p->n, p->k);
    return ENGINE_OK;
}

static const char *plan_impl(const void *pp, int m)
{
    const onednn_plan *p = pp;
    bucket *b = find(p, m);
    return b ? b->impl : "none";
}

static void ctx_free(void *state)
{
    onednn_ctx *g = state;
    if (!g)
        return;
    dnnl_engine_destroy(g->engine);
    free(g);
}

static engine_status ctx_new(cpu_isa cap, void **state, const char **path, engine_err *err)
{
    *state = NULL;
    /* Below AVX512-BF16 oneDNN's bf16 matmul is its gemm:jit, slower than
     * the avx512 and avx2 paths (gemm_avx512.c): not offered there. */
    if (cap < CPU_ISA_AVX512_BF16)
        return engine_fail(err, ENGINE_ERR_BACKEND, "oneDNN: used only with AVX512-BF16, not at %s",
                           cpu_isa_name(cap));
    onednn_ctx *g = calloc(1, sizeof *g);
    if (!g)
        return engine_fail(err, ENGINE_ERR_NOMEM, "oneDNN: out of memory");
    if (dnnl_engine_create(&g->engine, dnnl_cpu, 0) != dnnl_success) {
        free(g);
        return engine_fail(err, ENGINE_ERR_BACKEND, "oneDNN: cannot create the CPU engine");
    }
    /* does it make a bf16 matmul here at all? */
    dnnl_primitive_desc_t pd = NULL;
    if (make_pd(g, 16, 64, 64, NULL, true, &pd) != dnnl_success) {
        ctx_free(g);
        return engine_fail(err, ENGINE_ERR_BACKEND, "oneDNN: no bf16 matmul on this CPU");
    }
    dnnl_primitive_desc_destroy(pd);
    *state = g;
    *path = "avx512_bf16";
    return ENGINE_OK;
}

const gemm_impl gemm_impl_onednn = {
    .name = "oneDNN",
    .ctx_new = ctx_new,
    .ctx_free = ctx_free,
    .weight_new = weight_new,
    .weight_free = weight_free,
    .plan_new = plan_new,
    .plan_free = plan_free,
    .run = run,
    .plan_impl = plan_impl,
};
