/*
 * forward: the CPU forward pass of a Llama sequence classifier over a
 * batch of sequences packed as rows. See forward.h. Kernels run under
 * OpenMP with the same thread count the GEMMs use, one pool for both.
 */
#include "config.h"
#include "engine/forward.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Below this much work (elements, or attention multiply-adds) a kernel
 * runs on the calling thread alone. Above, rows go out in small dynamic
 * chunks: on a shared machine one thread may be descheduled, and the other
 * then takes over its rows instead of waiting for it at the end. */
#define FORWARD_PAR_ELEMS 32768.0
#define FORWARD_PAR_ATTN 4e6

/* Shapes: T rows in a batch (T <= cap), mb = gemm_bucket(cap) rows
 * allocated (the GEMMs read and write whole buckets), H hidden, I
 * intermediate, nqkv = q_dim + 2*kv_dim, hd head_dim, kvh kv heads. */
struct forward {
    const model *m;
    const kernels *k;
    int threads;
    int cap, mb;        /* rows: max_tokens, and its gemm bucket */
    int H, I, nqkv, ldk; /* ldk = mb + 16 rounded up to 16: row stride of kt */
    gemm_plan *p_qkv, *p_o, *p_gu, *p_down; /* for up to cap rows each */
    float *h;           /* [mb][H] the residual stream, one row per token */
    float *hp;          /* [mb][H] the residual of the pooled rows (last layer: row s = sequence s) */
    float *qkv;         /* [mb][nqkv] q | k | v of each row (RoPE applied to q and k in place) */
    float *kt;          /* [kvh][hd][ldk] keys transposed per kv head: kt[g][d][row] */
    float *vb;          /* [kvh][mb][hd] values per kv head */
    float *gu;          /* [mb][2*I] gate | up of each row */
    float *sbuf;        /* [threads][KERNELS_ATTN_BLOCK][ldk] attention scores, per thread */
    uint16_t *xn;       /* [mb][H] bf16 RMSNorm of the residual: input of qkv and gate_up */
    uint16_t *att;      /* [mb][q_dim] bf16 attention output (heads side by side): input of o */
    uint16_t *act;      /* [mb][I] bf16 silu(gate) * up: input of down */
    int *rowpos;        /* [cap] position of each row in its sequence */
    int32_t *rowtok;    /* [cap] token id of each row */
    int *off;           /* [cap + 1] first row of each sequence */
    float *y;           /* [H] final norm of one pooled row */
    double prof[FORWARD_PHASES]; /* seconds per phase, summed over runs */
    double mark;
};

static const char *const phase_names[FORWARD_PHASES] = {
    "embed", "rmsnorm", "gemm_qkv", "rope_kv", "attention", "gemm_o",
    "gemm_gate_up", "silu_mul", "gemm_down", "last_layer", "score",
};

/* Charge the time since the last mark to phase p. */
static void tick(forward *f, int p)
{
    double t = omp_get_wtime();
    f->prof[p] += t - f->mark;
    f->mark = t;
}

const char *forward_phase_name(int p)
{
    return p >= 0 && p < FORWARD_PHASES ? phase_names[p] : "?";
}

void forward_profile(forward *f, double *seconds, int reset)
{
    if (seconds)
        memcpy(seconds, f->prof, sizeof f->prof);
    if (reset)
        memset(f->prof, 0, sizeof f->prof);
}

static void *zalloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64))
        return NULL;
    memset(p, 0, n ? n : 64);
    return p;
}

void forward_free(forward *f)
{
    if (!f)
        return;
    gemm_plan_free(f->p_qkv);
    gemm_plan_free(f->p_o);
    gemm_plan_free(f->p_gu);
    gemm_plan_free(f->p_down);
    free(f->h);
    free(f->hp);
    free(f->qkv);
    free(f->kt);
    free(f->vb);
    free(f->gu);
    free(f->sbuf);
    free(f->xn);
    free(f->att);
    free(f->act);
    free(f->rowpos);
    free(f->rowtok);
    free(f->off);
    free(f->y);
    free(f);
}

engine_status forward_new(const model *m, int threads, forward **out, engine_err *err)
{
    *out = NULL;
    if (threads < 1)
        return engine_fail(err, ENGINE_ERR_ARG, "forward: threads must be at least 1");
    forward *f = calloc(1, sizeof *f);
    if (!f)
        return engine_fail(err, ENGINE_ERR_NOMEM, "forward: out of memory");
    const llama_config *c = &m->cfg;
    f->m = m;
    f->k = kernels_get();
    f->threads = threads;
    f->cap = m->max_tokens;
    f->mb = gemm_bucket(f->cap);
    f->H = c->hidden_size;
    f->I = c->intermediate_size;
    f->nqkv = m->q_dim + 2 * m->kv_dim;
    f->ldk = (f->mb + 16 + 15) & ~15;
    size_t mb = (size_t)f->mb, H = (size_t)f->H, I = (size_t)f->I, hd = (size_t)c->head_dim;
    size_t kvh = (size_t)c->num_kv_heads;
    f->h = zalloc(mb * H * sizeof(float));
    f->hp = zalloc(mb * H * sizeof(float));
    f->qkv = zalloc(mb * (size_t)f->nqkv * sizeof(float));
    f->kt = zalloc(kvh * hd * (size_t)f->ldk * sizeof(float));
    f->vb = zalloc(kvh * mb * hd * sizeof(float));
    f->gu = zalloc(mb * 2 * I * sizeof(float));
    f->sbuf = zalloc((size_t)threads * KERNELS_ATTN_BLOCK * (size_t)f->ldk * sizeof(float));
    f->xn = zalloc(mb * H * sizeof(uint16_t));
    f->att = zalloc(mb * (size_t)m->q_dim * sizeof(uint16_t));
    f->act = zalloc(mb * I * sizeof(uint16_t));
    f->rowpos = zalloc((size_t)f->cap * sizeof(int));
    f->rowtok = zalloc((size_t)f->cap * sizeof(int32_t));
    f->off = zalloc(((size_t)f->cap + 1) * sizeof(int));
    f->y = zalloc(H * sizeof(float));
    if (!f->h || !f->hp || !f->qkv || !f->kt || !f->vb || !f->gu || !f->sbuf || !f->xn ||
        !f->att || !f->act || !f->rowpos || !f->rowtok || !f->off || !f->y) {
        forward_free(f);
        return engine_fail(err, ENGINE_ERR_NOMEM, "forward: out of memory for %d tokens", f->cap);
    }
    const model_layer *L = &m->layers[0];
    engine_status st;
    if ((st = gemm_plan_new(m->gemm, L->qkv, f->cap, false, threads, &f->p_qkv, err)) ||
        (st = gemm_plan_new(m->gemm, L->o, f->cap, true, threads, &f->p_o, err)) ||
        (st = gemm_plan_new(m->gemm, L->gate_up, f->cap, false, threads, &f->p_gu, err)) ||
        (st = gemm_plan_new(m->gemm, L->down, f->cap, true, threads, &f->p_down, err))) {
        forward_free(f);
        return st;
    }
    *out = f;
    return ENGINE_OK;
}

const kernels *forward_kernels(const forward *f)
{
    return f->k;
}

void forward_use_kernels(forward *f, const kernels *k)
{
    f->k = k;
}

static gemm_plan *plan_of(const forward *f, forward_gemm which)
{
    switch (which) {
    case FORWARD_GEMM_QKV: return f->p_qkv;
    case FORWARD_GEMM_O: return f->p_o;
    case FORWARD_GEMM_GATE_UP: return f->p_gu;
    default: return f->p_down;
    }
}

const char *forward_gemm_path(const forward *f)
{
    return gemm_path(f->m->gemm);
}

const char *forward_gemm_impl(const forward *f, forward_gemm which, int m)
{
    return gemm_plan_impl(plan_of(f, which), m);
}

engine_status forward_gemm_only(forward *f, forward_gemm which, int m, double *flops, engine_err *err)
{
    const model_layer *L = &f->m->layers[0];
    if (m < 1 || m > f->cap)
        return engine_fail(err, ENGINE_ERR_ARG, "forward: %d rows out of 1..%d", m, f->cap);
    const gemm_weight *w;
    const uint16_t *a;
    float *c;
    double n, k;
    switch (which) {
    case FORWARD_GEMM_QKV: w = L->qkv; a = f->xn; c = f->qkv; n = f->nqkv; k = f->H; break;
    case FORWARD_GEMM_O: w = L->o; a = f->att; c = f->h; n = f->H; k = f->m->q_dim; break;
    case FORWARD_GEMM_GATE_UP: w = L->gate_up; a = f->xn; c = f->gu; n = 2.0 * f->I; k = f->H; break;
    default: w = L->down; a = f->act; c = f->h; n = f->H; k = f->I; break;
    }
    *flops = 2.0 * m * n * k;
    return gemm_run(plan_of(f, which), w, m, a, c, err);
}

/* Attention of rows [q_first, q_first + nq) of one sequence (starting at
 * row `o`) for head h: one kernel block. */
static void attend(const forward *f, int o, int h, int q0, int nq, uint16_t *out, int ldo, float *s)
{
    const model *m = f->m;
    int hd = m->cfg.head_dim, g = h / (m->cfg.num_heads / m->cfg.num_kv_heads);
    attention_block a = {
        .q = f->qkv + (size_t)(o + q0) * f->nqkv + (size_t)h * hd,
        .ldq = f->nqkv,
        .nq = nq,
        .q0 = q0,
        .kt = f->kt + (size_t)g * hd * f->ldk + o,
        .ldk = f->ldk,
        .v = f->vb + ((size_t)g * f->mb + o) * hd,
        .hd = hd,
        .scale = 1.0f / sqrtf((float)hd),
        .s = s,
        .out = out,
        .ldo = ldo,
    };
    f->k->attention(&a);
}

/* The second half of a layer on `rows` rows of the residual x (f->h for
 * every row, f->hp for the pooled rows of the last layer), whose attention
 * output is in f->att: x += o_proj(att); xn = RMSNorm(x); gu =
 * gate_up(xn); act = silu(gate) * up; x += down(act). par: SiLU*mul
 * splits rows across threads. prof: charge each step to its phase
 * (otherwise the caller charges the whole). */
static engine_status o_mlp(forward *f, const model_layer *L, int rows, float *x, int par, int prof,
                           double *flops, engine_err *err)
{
    const model *m = f->m;
    const kernels *k = f->k;
    int H = f->H, I = f->I, nt = f->threads;
    engine_status st;
    if ((st = gemm_run(f->p_o, L->o, rows, f->att, x, err)))
        return st;
    *flops += 2.0 * rows * H * m->q_dim;
    if (prof)
        tick(f, 5);
    for (int t = 0; t < rows; t++)
        k->rmsnorm_bf16(x + (size_t)t * H, L->ln_mlp, m->cfg.rms_norm_eps, H, f->xn + (size_t)t * H);
    if (prof)
        tick(f, 1);
    if ((st = gemm_run(f->p_gu, L->gate_up, rows, f->xn, f->gu, err)))
        return st;
    *flops += 2.0 * rows * 2.0 * I * H;
    if (prof)
        tick(f, 6);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 8) if (par)
    for (int t = 0; t < rows; t++) {
        const float *g = f->gu + (size_t)t * 2 * I;
        k->silu_mul_bf16(g, g + I, I, f->act + (size_t)t * I);
    }
    if (prof)
        tick(f, 7);
    if ((st = gemm_run(f->p_down, L->down, rows, f->act, x, err)))
        return st;
    *flops += 2.0 * rows * H * I;
    if (prof)
        tick(f, 8);
    return ENGINE_OK;
}

engine_status forward_run(forward *f, backend_batch *b, engine_err *err)
{
    const model *m = f->m;
    const llama_config *c = &m->cfg;
    const kernels *k = f->k;
    int H = f->H, nh = c->num_heads, nkv = c->num_kv_heads, hd = c->head_dim;
    int half = hd / 2, qd = m->q_dim, kvd = m->kv_dim, nt = f->threads;
    int ns = b->n_seqs, T = 0;
    double flops = 0;
    b->flops = 0;
    if (ns < 1)
        return engine_fail(err, ENGINE_ERR_ARG, "forward: empty batch");
    for (int s = 0; s < ns; s++) {
        if (b->lens[s] < 1 || b->lens[s] > f->cap || T + b->lens[s] > f->cap)
            return engine_fail(err, ENGINE_ERR_ARG, "forward: batch of more than %d tokens", f->cap);
        f->off[s] = T;
        for (int i = 0; i < b->lens[s]; i++) {
            int32_t id = b->ids[s][i];
            if (id < 0 || id >= c->vocab_size)
                return engine_fail(err, ENGINE_ERR_ARG, "forward: token id %ld out of range 0..%d",
                                   (long)id, c->vocab_size - 1);
            f->rowpos[T + i] = i;
            f->rowtok[T + i] = id;
        }
        T += b->lens[s];
    }
    f->off[ns] = T;
    int TB = gemm_bucket(T), SB = gemm_bucket(ns);
    int par = (double)T * H >= FORWARD_PAR_ELEMS;
    double attn_work = 0;
    for (int s = 0; s < ns; s++)
        attn_work += (double)b->lens[s] * b->lens[s] * hd * nh / 2;
    int apar = attn_work >= FORWARD_PAR_ATTN;
    engine_status st = ENGINE_OK;

    /* embedding; padding rows zeroed so the residual stays finite */
    f->mark = omp_get_wtime();
#pragma omp parallel for num_threads(nt) schedule(dynamic, 8) if (par)
    for (int t = 0; t < T; t++)
        k->bf16_to_f32(m->embed + (size_t)f->rowtok[t] * H, H, f->h + (size_t)t * H);
    memset(f->h + (size_t)T * H, 0, (size_t)(TB - T) * H * sizeof(float));
    memset(f->hp, 0, (size_t)SB * H * sizeof(float));
    tick(f, 0);

    for (int l = 0; l < c->num_layers; l++) {
        const model_layer *L = &m->layers[l];
        int last = l == c->num_layers - 1;
        if (b->cancel && b->cancel(b->cancel_ctx)) {
            b->flops = flops;
            return engine_fail(err, ENGINE_ERR_TIMEOUT, "forward: cancelled before layer %d", l);
        }
        /* RMSNorm and RoPE run on this thread alone: they are short and
         * memory-bound, and on a shared machine the join of a parallel
         * region costs more than they do (measured at 512 tokens, 2
         * threads: RMSNorm 1.9-2.8% of the pass in parallel, 0.2% here;
         * RoPE and the K/V layout 1.3% against 0.5%). */
        for (int t = 0; t < T; t++)
            k->rmsnorm_bf16(f->h + (size_t)t * H, L->ln_attn, c->rms_norm_eps, H, f->xn + (size_t)t * H);
        tick(f, 1);
        if ((st = gemm_run(f->p_qkv, L->qkv, T, f->xn, f->qkv, err)))
            return st;
        flops += 2.0 * T * f->nqkv * H;
        tick(f, 2);

        /* RoPE on q and k, then k transposed and v per kv head */
        for (int t = 0; t < T; t++) {
            float *row = f->qkv + (size_t)t * f->nqkv;
            const float *cs = m->rope_cos + (size_t)f->rowpos[t] * half;
            const float *sn = m->rope_sin + (size_t)f->rowpos[t] * half;
            k->rope(row, nh, hd, cs, sn);
            k->rope(row + qd, nkv, hd, cs, sn);
            const float *kr = row + qd, *vr = row + qd + kvd;
            for (int g = 0; g < nkv; g++) {
                float *kt = f->kt + (size_t)g * hd * f->ldk + t;
                for (int d = 0; d < hd; d++)
                    kt[(size_t)d * f->ldk] = kr[g * hd + d];
                memcpy(f->vb + ((size_t)g * f->mb + t) * hd, vr + (size_t)g * hd, (size_t)hd * sizeof(float));
            }
        }

        tick(f, 3);
        if (!last) {
            for (int s = 0; s < ns; s++) {
                int o = f->off[s], n = b->lens[s];
                int nb = (n + KERNELS_ATTN_BLOCK - 1) / KERNELS_ATTN_BLOCK;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) collapse(2) if (apar)
                for (int bi = nb - 1; bi >= 0; bi--)
                    for (int h = 0; h < nh; h++) {
                        int q0 = bi * KERNELS_ATTN_BLOCK;
                        int nq = n - q0 < KERNELS_ATTN_BLOCK ? n - q0 : KERNELS_ATTN_BLOCK;
                        float *sc = f->sbuf + (size_t)omp_get_thread_num() * KERNELS_ATTN_BLOCK * f->ldk;
                        attend(f, o, h, q0, nq, f->att + (size_t)(o + q0) * qd + (size_t)h * hd, qd, sc);
                    }
                flops += 4.0 * hd * nh * ((double)n * (n + 1) / 2);
            }
            tick(f, 4);
            if ((st = o_mlp(f, L, T, f->h, par, 1, &flops, err)))
                return st;
        } else {
            /* only each sequence's last row matters from here on */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) collapse(2) if (apar)
            for (int s = 0; s < ns; s++)
                for (int h = 0; h < nh; h++) {
                    int n = b->lens[s];
                    float *sc = f->sbuf + (size_t)omp_get_thread_num() * KERNELS_ATTN_BLOCK * f->ldk;
                    attend(f, f->off[s], h, n - 1, 1, f->att + (size_t)s * qd + (size_t)h * hd, qd, sc);
                }
            for (int s = 0; s < ns; s++) {
                flops += 4.0 * hd * nh * b->lens[s];
                memcpy(f->hp + (size_t)s * H, f->h + (size_t)(f->off[s + 1] - 1) * H, (size_t)H * sizeof(float));
            }
            if ((st = o_mlp(f, L, ns, f->hp, 0, 0, &flops, err)))
                return st;
            tick(f, 9);
        }
    }
    for (int s = 0; s < ns; s++) {
        k->rmsnorm_f32(f->hp + (size_t)s * H, m->norm, c->rms_norm_eps, H, f->y);
        for (int j = 0; j < c->num_labels; j++) {
            const float *w = m->score + (size_t)j * H;
            double acc = 0;
            for (int i = 0; i < H; i++)
                acc += (double)f->y[i] * w[i];
            b->logits[(size_t)s * c->num_labels + j] = (float)acc;
        }
        flops += 2.0 * H * c->num_labels;
    }
    tick(f, 10);
    b->flops = flops;
    return ENGINE_OK;
}
