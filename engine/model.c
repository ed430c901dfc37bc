/*
 * model: load the weights of a Llama classifier from a checkpoint into
 * the GEMM seam's layouts, tensor by tensor, releasing the mapped source pages as
 * it goes. See model.h.
 */
#include "config.h"
#include "engine/model.h"
#include "engine/bf16.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void model_rope_inv_freq(const llama_config *cfg, float *inv)
{
    int dim = cfg->head_dim;
    float base = (float)cfg->rope_theta;
    for (int i = 0; i < dim / 2; i++) {
        float e = (float)(2 * i) / (float)dim;
        inv[i] = 1.0f / (float)pow((double)base, (double)e);
    }
    if (!cfg->rope_llama3)
        return;
    float factor = (float)cfg->rope_factor;
    float lowf = (float)cfg->rope_low_freq_factor, highf = (float)cfg->rope_high_freq_factor;
    float old = (float)cfg->rope_original_max_pos;
    double low_wl = (double)cfg->rope_original_max_pos / cfg->rope_low_freq_factor;
    double high_wl = (double)cfg->rope_original_max_pos / cfg->rope_high_freq_factor;
    float twopi = (float)(2.0 * M_PI);
    for (int i = 0; i < dim / 2; i++) {
        float wl = twopi / inv[i];
        float f = (double)wl > low_wl ? inv[i] / factor : inv[i];
        float sf = (old / wl - lowf) / (highf - lowf);
        float smoothed = (1.0f - sf) * f / factor + sf * f;
        bool medium = !((double)wl < high_wl) && !((double)wl > low_wl);
        inv[i] = medium ? smoothed : f;
    }
}

static engine_status tensor(checkpoint *ck, const char *name, const tensor_view **out, engine_err *err)
{
    *out = checkpoint_tensor(ck, name);
    if (!*out)
        return engine_fail(err, ENGINE_ERR_FORMAT, "checkpoint: tensor %s missing", name);
    return ENGINE_OK;
}

/* A bf16 copy of a small tensor (norms). */
static engine_status copy_small(checkpoint *ck, const char *name, size_t n, uint16_t **out,
                                engine_err *err)
{
    const tensor_view *t;
    engine_status st = tensor(ck, name, &t, err);
    if (st)
        return st;
    size_t elems = (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
    if (elems != n)
        return engine_fail(err, ENGINE_ERR_FORMAT, "checkpoint: tensor %s has %zu elements, want %zu",
                           name, elems, n);
    *out = malloc(n * sizeof **out);
    if (!*out)
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", name);
    checkpoint_copy_bf16(t, *out);
    checkpoint_release(ck, t);
    return ENGINE_OK;
}

/* Prepare the row-wise concatenation of names[0..n) ([rows_i][k] each) into
 * one gemm weight, releasing each source as soon as it is no longer read. */
static engine_status fused(model *m, checkpoint *ck, const char *const *names, int nparts, int k,
                           gemm_weight **out, engine_err *err)
{
    const tensor_view *t[4];
    int rows = 0;
    for (int i = 0; i < nparts; i++) {
        engine_status st = tensor(ck, names[i], &t[i], err);
        if (st)
            return st;
        if (t[i]->ndim != 2 || t[i]->shape[1] != k)
            return engine_fail(err, ENGINE_ERR_FORMAT, "checkpoint: tensor %s has the wrong shape",
                               names[i]);
        rows += (int)t[i]->shape[0];
    }
    const uint16_t *src;
    uint16_t *tmp = NULL;
    if (nparts == 1 && t[0]->dtype == TENSOR_BF16) {
        src = t[0]->data;
    } else {
        tmp = malloc((size_t)rows * (size_t)k * sizeof *tmp);
        if (!tmp)
            return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", names[0]);
        size_t off = 0;
        for (int i = 0; i < nparts; i++) {
            checkpoint_copy_bf16(t[i], tmp + off);
            off += (size_t)t[i]->shape[0] * (size_t)k;
            checkpoint_release(ck, t[i]);
        }
        src = tmp;
    }
    engine_status st = gemm_weight_new(m->gemm, names[0], rows, k, m->max_tokens, src, out, err);
    free(tmp);
    if (nparts == 1)
        checkpoint_release(ck, t[0]);
    if (st == ENGINE_OK)
        m->weight_bytes += gemm_weight_bytes(*out);
    return st;
}

engine_status model_load(checkpoint *ck, int max_tokens, model **out, engine_err *err)
{
    *out = NULL;
    if (max_tokens < 1)
        return engine_fail(err, ENGINE_ERR_ARG, "model: max_tokens must be at least 1");
    model *m = calloc(1, sizeof *m);
    if (!m)
        return engine_fail(err, ENGINE_ERR_NOMEM, "model: out of memory");
    m->cfg = *checkpoint_config(ck);
    const llama_config *c = &m->cfg;
    m->max_tokens = max_tokens;
    m->q_dim = c->num_heads * c->head_dim;
    m->kv_dim = c->num_kv_heads * c->head_dim;
    int H = c->hidden_size, I = c->intermediate_size;
    engine_status st = gemm_ctx_new(&m->gemm, err);
    if (st)
        goto fail;

    const tensor_view *emb;
    if ((st = tensor(ck, "model.embed_tokens.weight", &emb, err)))
        goto fail;
    if (emb->dtype == TENSOR_BF16) {
        m->embed = emb->data;
    } else {
        m->embed_copy = malloc((size_t)c->vocab_size * (size_t)H * sizeof *m->embed_copy);
        if (!m->embed_copy) {
            st = engine_fail(err, ENGINE_ERR_NOMEM, "model.embed_tokens.weight: out of memory");
            goto fail;
        }
        checkpoint_copy_bf16(emb, m->embed_copy);
        checkpoint_release(ck, emb);
        m->embed = m->embed_copy;
    }

    m->layers = calloc((size_t)c->num_layers, sizeof *m->layers);
    if (!m->layers) {
        st = engine_fail(err, ENGINE_ERR_NOMEM, "model: out of memory");
        goto fail;
    }
    /* The weights are packed on all the cores the caller allows. */
    for (int l = 0; l < c->num_layers; l++) {
        model_layer *L = &m->layers[l];
        char n[8][96], down[96];
        snprintf(n[0], sizeof n[0], "model.layers.%d.input_layernorm.weight", l);
        snprintf(n[1], sizeof n[1], "model.layers.%d.post_attention_layernorm.weight", l);
        snprintf(n[2], sizeof n[2], "model.layers.%d.self_attn.q_proj.weight", l);
        snprintf(n[3], sizeof n[3], "model.layers.%d.self_attn.k_proj.weight", l);
        snprintf(n[4], sizeof n[4], "model.layers.%d.self_attn.v_proj.weight", l);
        snprintf(n[5], sizeof n[5], "model.layers.%d.self_attn.o_proj.weight", l);
        snprintf(n[6], sizeof n[6], "model.layers.%d.mlp.gate_proj.weight", l);
        snprintf(n[7], sizeof n[7], "model.layers.%d.mlp.up_proj.weight", l);
        snprintf(down, sizeof down, "model.layers.%d.mlp.down_proj.weight", l);
        const char *qkv[3] = {n[2], n[3], n[4]}, *o[1] = {n[5]}, *gu[2] = {n[6], n[7]},
                   *dn[1] = {down};
        if ((st = copy_small(ck, n[0], (size_t)H, &L->ln_attn, err)) ||
            (st = copy_small(ck, n[1], (size_t)H, &L->ln_mlp, err)) ||
            (st = fused(m, ck, qkv, 3, H, &L->qkv, err)) ||
            (st = fused(m, ck, o, 1, m->q_dim, &L->o, err)) ||
            (st = fused(m, ck, gu, 2, H, &L->gate_up, err)) ||
            (st = fused(m, ck, dn, 1, I, &L->down, err)))
            goto fail;
    }
    if ((st = copy_small(ck, "model.norm.weight", (size_t)H, &m->norm, err)))
        goto fail;
    uint16_t *score = NULL;
    if ((st = copy_small(ck, "score.weight", (size_t)c->num_labels * (size_t)H, &score, err)))
        goto fail;
    m->score = malloc((size_t)c->num_labels * (size_t)H * sizeof *m->score);
    if (!m->score) {
        free(score);
        st = engine_fail(err, ENGINE_ERR_NOMEM, "score.weight: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < (size_t)c->num_labels * (size_t)H; i++)
        m->score[i] = bf16_to_f32(score[i]);
    free(score);

    int half = c->head_dim / 2;
    m->rope_cos = malloc((size_t)max_tokens * (size_t)half * sizeof(float));
    m->rope_sin = malloc((size_t)max_tokens * (size_t)half * sizeof(float));
    float *inv = malloc((size_t)(half ? half : 1) * sizeof *inv);
    if (!m->rope_cos || !m->rope_sin || !inv) {
        free(inv);
        st = engine_fail(err, ENGINE_ERR_NOMEM, "model: out of memory for the RoPE tables");
        goto fail;
    }
    model_rope_inv_freq(c, inv);
    for (int p = 0; p < max_tokens; p++)
        for (int i = 0; i < half; i++) {
            /* the angle is rounded to fp32 as torch's product is; cos/sin
             * of that fp32 angle are then correctly rounded */
            float ang = (float)p * inv[i];
            m->rope_cos[(size_t)p * half + i] = (float)cos((double)ang);
            m->rope_sin[(size_t)p * half + i] = (float)sin((double)ang);
        }
    free(inv);
    *out = m;
    return ENGINE_OK;
fail:
    model_free(m);
    return st;
}

void model_free(model *m)
{
    if (!m)
        return;
    if (m->layers)
        for (int l = 0; l < m->cfg.num_layers; l++) {
            model_layer *L = &m->layers[l];
            free(L->ln_attn);
            free(L->ln_mlp);
            gemm_weight_free(L->qkv);
            gemm_weight_free(L->o);
            gemm_weight_free(L->gate_up);
            gemm_weight_free(L->down);
        }
    free(m->layers);
    free(m->norm);
    free(m->score);
    free(m->rope_cos);
    free(m->rope_sin);
    free(m->embed_copy);
    gemm_ctx_free(m->gemm);
    free(m);
}
