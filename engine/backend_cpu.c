/*
 * backend_cpu: the CPU backend: a model (immutable weights prepared by the
 * GEMM seam) plus one forward state, behind the backend interface.
 */
#include "config.h"
#include "engine/backend.h"
#include "engine/forward.h"
#include "engine/model.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct cpu_backend {
    backend base;      /* first: a cpu_backend is a backend */
    model *m;
    forward *f;
} cpu_backend;

static engine_status cpu_forward(backend *b, backend_batch *batch, engine_err *err)
{
    cpu_backend *cb = (cpu_backend *)b;
    return forward_run(cb->f, batch, err);
}

static void cpu_free(backend *b)
{
    cpu_backend *cb = (cpu_backend *)b;
    forward_free(cb->f);
    model_free(cb->m);
    free(cb);
}

static const backend_ops cpu_ops = {
    .name = "cpu",
    .forward = cpu_forward,
    .free = cpu_free,
};

engine_status backend_cpu_new(checkpoint *ck, const backend_options *opt, backend **out,
                              engine_err *err)
{
    *out = NULL;
    if (opt->threads < 1 || opt->max_tokens < 1)
        return engine_fail(err, ENGINE_ERR_ARG, "cpu backend: threads and max_tokens must be >= 1");
    cpu_backend *cb = calloc(1, sizeof *cb);
    if (!cb)
        return engine_fail(err, ENGINE_ERR_NOMEM, "cpu backend: out of memory");
    engine_status st = model_load(ck, opt->max_tokens, &cb->m, err);
    if (st == ENGINE_OK)
        st = forward_new(cb->m, opt->threads, &cb->f, err);
    if (st) {
        model_free(cb->m);
        free(cb);
        return st;
    }
    cb->base.ops = &cpu_ops;
    cb->base.capacity = opt->max_tokens;
    cb->base.max_tokens = opt->max_tokens;
    cb->base.num_labels = cb->m->cfg.num_labels;
    snprintf(cb->base.desc, sizeof cb->base.desc, "cpu (%s kernels, %s gemm, %d threads)",
             forward_kernels(cb->f)->name, gemm_path(cb->m->gemm), opt->threads);
    *out = &cb->base;
    return ENGINE_OK;
}

forward *backend_cpu_forward_state(backend *b)
{
    return b->ops == &cpu_ops ? ((cpu_backend *)b)->f : NULL;
}
