/*
 * backend_cuda: the CUDA backend, built as the module llmspam-cuda.so and
 * loaded by engine/device.c with dlopen. It exports llmspam_cuda_bind (the
 * engine's functions handed over, versions checked) and
 * llmspam_backend_cuda_new (a backend_new_fn, see engine/backend.h).
 *
 * Load: the weights are uploaded once as bf16 with plain cudaMalloc (never
 * managed memory): q/k/v fused into one [q+2kv][hidden] matrix and gate/up
 * into one [2*intermediate][hidden], as the CPU does; every activation
 * buffer is sized then for `capacity` tokens, so a forward pass allocates
 * nothing on the device.
 * Forward: the sequences of a batch are packed as rows (no padding); the
 * GEMMs are cuBLASLt bf16 tensor-core products with fp32 accumulation and
 * fp32 outputs, the residual adds done by the GEMM itself (beta = 1); the
 * other kernels are in kernels.cu, with the CPU's arithmetic. The last
 * layer, after attention's keys and values, runs on the pooled rows only.
 * Attention runs in fp32 (cuda_attention, the CPU's arithmetic); with
 * LLMSPAM_CUDA_ATTENTION=tf32 in the environment, on tensor cores
 * (cuda_attention_tc), opt-in until t/cuda/gpu-check.sh has measured it
 * against the CPU on a GPU.
 * Test hook: with LLMSPAM_CUDA_INJECT_FAULT=N in the environment at load,
 * the N-th forward makes its first attention kernel read an illegal
 * address (a sticky error: the context is lost), so that tests can see
 * the batch fail and the next one succeed after the reset.
 * Errors: every CUDA and cuBLAS call is checked (check.h); a failed batch
 * returns its status, and the next one first makes the device usable again:
 * after a sticky error (the context is lost) the device is reset once for
 * the process and the weights uploaded again.
 *
 * Ownership: the backend borrows the checkpoint (which outlives it) and
 * owns every device and pinned allocation. One thread at a time forwards.
 */
#include "cuda/check.h"
#include "cuda/kernels.cuh"
#include "engine/device.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

namespace {

const device_host_api *host; /* set by llmspam_cuda_bind */

/* Per-device generation, bumped when a backend resets the device: every
 * other backend on it must then upload its weights again. */
std::mutex reset_mu;
std::atomic<unsigned long> generation[256];

constexpr int kMaxPlans = 64;
constexpr size_t kWorkspace = 32u << 20;

struct layer_w {
    __nv_bfloat16 *ln_attn, *ln_mlp, *qkv, *o, *gu, *down;
};

/* A cuBLASLt product D[m][n] (fp32) = A[m][k] (bf16) W[n][k]^T, with its
 * layouts and the algorithm the heuristic chose, cached by shape. */
struct lt_plan {
    int m, n, k; /* m == 0: free slot */
    cublasLtMatrixLayout_t w, a, c;
    cublasLtMatmulAlgo_t algo;
};

struct cuda_backend {
    backend base; /* first: a cuda_backend is a backend */
    checkpoint *ck;
    llama_config cfg;
    int dev, cap, max_tokens;
    int H, I, qd, kvd, nqkv, L;
    unsigned long gen;
    bool loaded, broken;
    bool attn_tc; /* tensor-core (TF32) attention: LLMSPAM_CUDA_ATTENTION=tf32 */
    long forwards, fault_at; /* test hook: LLMSPAM_CUDA_INJECT_FAULT=N */
    char gpu[64];

    cudaStream_t stream;
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t mm;
    cublasLtMatmulPreference_t pref;
    lt_plan plans[kMaxPlans];
    int next_plan;

    /* weights */
    __nv_bfloat16 *embed, *norm;
    float *score, *rope_cos, *rope_sin;
    layer_w *layers;
    size_t weight_bytes;

    /* activations, [cap] rows each */
    float *h, *hp, *qkv, *gu, *logits;
    __nv_bfloat16 *xn, *att, *act;
    void *ws;

    /* per-batch metadata: pinned on the host, mirrored on the device */
    char *meta_h, *meta_d;
    size_t meta_bytes;
    float *logits_h;
};

/* A batch's metadata, packed for one copy of only what it uses:
 * ids[T] pos[T] last_rows[ns], then (16-byte aligned) its tiles, at most
 * 2 * cap of them (each sequence has at least one token). */
struct meta_view {
    int32_t *ids, *pos, *last;
    attn_tile *tiles;
};

meta_view meta_at(char *base, int T, int ns)
{
    meta_view v;
    v.ids = (int32_t *)base;
    v.pos = v.ids + T;
    v.last = v.pos + T;
    size_t off = ((2 * (size_t)T + (size_t)ns) * sizeof(int32_t) + 15) & ~(size_t)15;
    v.tiles = (attn_tile *)(base + off);
    return v;
}

size_t meta_size(int cap)
{
    return ((3 * (size_t)cap * sizeof(int32_t) + 15) & ~(size_t)15) + 2 * (size_t)cap * sizeof(attn_tile);
}

engine_status dmalloc(void **p, size_t n, const char *what, int dev, engine_err *err)
{
    *p = nullptr;
    cudaError_t e = cudaMalloc(p, n ? n : 16);
    if (e == cudaSuccess)
        return ENGINE_OK;
    cudaGetLastError();
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    cudaGetLastError();
    if (e == cudaErrorMemoryAllocation)
        return cuda_fail(err, ENGINE_ERR_NOMEM,
                         "cuda:%d: out of GPU memory for %s (%zu MiB wanted, %zu MiB free of %zu MiB)", dev,
                         what, n >> 20, fr >> 20, tot >> 20);
    return cuda_status_of(e, __FILE__, __LINE__, what, err);
}

template <typename T> engine_status dalloc(T **p, size_t count, const char *what, int dev, engine_err *err)
{
    void *v;
    engine_status st = dmalloc(&v, count * sizeof(T), what, dev, err);
    *p = (T *)v;
    return st;
}

/* Upload the row-wise concatenation of the tensors names[0..n) as bf16. */
engine_status upload(cuda_backend *cb, const char *const *names, int n, size_t want_elems,
                     __nv_bfloat16 **out, engine_err *err)
{
    const tensor_view *t[4];
    size_t elems = 0;
    for (int i = 0; i < n; i++) {
        t[i] = host->checkpoint_tensor(cb->ck, names[i]);
        if (!t[i])
            return cuda_fail(err, ENGINE_ERR_FORMAT, "checkpoint: tensor %s missing", names[i]);
        elems += (size_t)t[i]->shape[0] * (size_t)(t[i]->ndim == 2 ? t[i]->shape[1] : 1);
    }
    if (elems != want_elems)
        return cuda_fail(err, ENGINE_ERR_FORMAT, "checkpoint: tensor %s has %zu elements, want %zu", names[0],
                         elems, want_elems);
    engine_status st = dalloc(out, elems, names[0], cb->dev, err);
    if (st)
        return st;
    cb->weight_bytes += elems * 2;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t ne = (size_t)t[i]->shape[0] * (size_t)(t[i]->ndim == 2 ? t[i]->shape[1] : 1);
        if (t[i]->dtype == TENSOR_BF16) {
            CU_TRY(cudaMemcpy(*out + off, t[i]->data, ne * 2, cudaMemcpyHostToDevice));
        } else {
            uint16_t *tmp = (uint16_t *)malloc(ne * 2);
            if (!tmp)
                return cuda_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", names[i]);
            host->checkpoint_copy_bf16(t[i], tmp);
            cudaError_t e = cudaMemcpy(*out + off, tmp, ne * 2, cudaMemcpyHostToDevice);
            free(tmp);
            CU_TRY(e);
        }
        host->checkpoint_release(cb->ck, t[i]);
        off += ne;
    }
    return ENGINE_OK;
}

void plans_clear(cuda_backend *cb)
{
    for (lt_plan &p : cb->plans) {
        if (p.m) {
            cublasLtMatrixLayoutDestroy(p.w);
            cublasLtMatrixLayoutDestroy(p.a);
            cublasLtMatrixLayoutDestroy(p.c);
        }
        p.m = 0;
    }
    cb->next_plan = 0;
}

/* Everything on the device, freed; errors ignored (the context may be lost). */
void release(cuda_backend *cb)
{
    plans_clear(cb);
    if (cb->layers) {
        for (int l = 0; l < cb->cfg.num_layers; l++) {
            layer_w &w = cb->layers[l];
            cudaFree(w.ln_attn);
            cudaFree(w.ln_mlp);
            cudaFree(w.qkv);
            cudaFree(w.o);
            cudaFree(w.gu);
            cudaFree(w.down);
        }
        free(cb->layers);
        cb->layers = nullptr;
    }
    void *dev_ptrs[] = {cb->embed, cb->norm, cb->score, cb->rope_cos, cb->rope_sin, cb->h, cb->hp, cb->qkv,
                        cb->gu, cb->logits, cb->xn, cb->att, cb->act, cb->ws, cb->meta_d};
    for (void *p : dev_ptrs)
        if (p)
            cudaFree(p);
    cb->embed = cb->norm = nullptr;
    cb->score = cb->rope_cos = cb->rope_sin = cb->h = cb->hp = cb->qkv = cb->gu = cb->logits = nullptr;
    cb->xn = cb->att = cb->act = nullptr;
    cb->ws = nullptr;
    cb->meta_d = nullptr;
    if (cb->meta_h)
        cudaFreeHost(cb->meta_h);
    if (cb->logits_h)
        cudaFreeHost(cb->logits_h);
    cb->meta_h = nullptr;
    cb->logits_h = nullptr;
    if (cb->pref)
        cublasLtMatmulPreferenceDestroy(cb->pref);
    if (cb->mm)
        cublasLtMatmulDescDestroy(cb->mm);
    if (cb->lt)
        cublasLtDestroy(cb->lt);
    if (cb->stream)
        cudaStreamDestroy(cb->stream);
    cb->pref = nullptr;
    cb->mm = nullptr;
    cb->lt = nullptr;
    cb->stream = nullptr;
    cb->weight_bytes = 0;
    cb->loaded = false;
    cudaGetLastError();
}

/* Upload the weights and allocate the buffers on cb->dev. */
engine_status load(cuda_backend *cb, engine_err *err)
{
    const llama_config &c = cb->cfg;
    int H = cb->H, I = cb->I, cap = cb->cap, L = cb->L, half = c.head_dim / 2;
    engine_status st;
    CU_TRY(cudaSetDevice(cb->dev));
    CU_TRY(cudaStreamCreateWithFlags(&cb->stream, cudaStreamNonBlocking));
    BLAS_TRY(cublasLtCreate(&cb->lt));
    BLAS_TRY(cublasLtMatmulDescCreate(&cb->mm, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t tr = CUBLAS_OP_T, nt = CUBLAS_OP_N;
    BLAS_TRY(cublasLtMatmulDescSetAttribute(cb->mm, CUBLASLT_MATMUL_DESC_TRANSA, &tr, sizeof tr));
    BLAS_TRY(cublasLtMatmulDescSetAttribute(cb->mm, CUBLASLT_MATMUL_DESC_TRANSB, &nt, sizeof nt));
    BLAS_TRY(cublasLtMatmulPreferenceCreate(&cb->pref));
    size_t wsz = kWorkspace;
    BLAS_TRY(cublasLtMatmulPreferenceSetAttribute(cb->pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsz,
                                                  sizeof wsz));
    CU_TRY(cuda_attention_init(cb->dev));

    if ((st = dmalloc(&cb->ws, kWorkspace, "the cuBLASLt workspace", cb->dev, err)))
        return st;
    {
        const char *n1[1] = {"model.embed_tokens.weight"};
        if ((st = upload(cb, n1, 1, (size_t)c.vocab_size * H, &cb->embed, err)))
            return st;
    }
    cb->layers = (layer_w *)calloc((size_t)c.num_layers, sizeof *cb->layers);
    if (!cb->layers)
        return cuda_fail(err, ENGINE_ERR_NOMEM, "cuda: out of memory");
    for (int l = 0; l < c.num_layers; l++) {
        layer_w &w = cb->layers[l];
        char n[9][96];
        const char *fmt[9] = {"input_layernorm", "post_attention_layernorm", "self_attn.q_proj",
                              "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                              "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
        for (int i = 0; i < 9; i++)
            snprintf(n[i], sizeof n[i], "model.layers.%d.%s.weight", l, fmt[i]);
        const char *ln1[1] = {n[0]}, *ln2[1] = {n[1]}, *qkv[3] = {n[2], n[3], n[4]}, *o[1] = {n[5]},
                   *gu[2] = {n[6], n[7]}, *dn[1] = {n[8]};
        if ((st = upload(cb, ln1, 1, (size_t)H, &w.ln_attn, err)) ||
            (st = upload(cb, ln2, 1, (size_t)H, &w.ln_mlp, err)) ||
            (st = upload(cb, qkv, 3, (size_t)cb->nqkv * H, &w.qkv, err)) ||
            (st = upload(cb, o, 1, (size_t)H * cb->qd, &w.o, err)) ||
            (st = upload(cb, gu, 2, (size_t)2 * I * H, &w.gu, err)) ||
            (st = upload(cb, dn, 1, (size_t)H * I, &w.down, err)))
            return st;
    }
    {
        const char *nn[1] = {"model.norm.weight"};
        if ((st = upload(cb, nn, 1, (size_t)H, &cb->norm, err)))
            return st;
    }
    /* score and the RoPE tables in fp32, computed on the host exactly as
     * the CPU backend computes them (engine/model.c) */
    const tensor_view *sc = host->checkpoint_tensor(cb->ck, "score.weight");
    if (!sc)
        return cuda_fail(err, ENGINE_ERR_FORMAT, "checkpoint: tensor score.weight missing");
    size_t ns = (size_t)L * H, nr = (size_t)cb->max_tokens * half;
    uint16_t *sb = (uint16_t *)malloc(ns * 2);
    float *tmp = (float *)malloc(std::max(ns, nr) * sizeof(float));
    float *inv = (float *)malloc((size_t)(half ? half : 1) * sizeof(float));
    if (!sb || !tmp || !inv) {
        free(sb);
        free(tmp);
        free(inv);
        return cuda_fail(err, ENGINE_ERR_NOMEM, "cuda: out of memory");
    }
    host->checkpoint_copy_bf16(sc, sb);
    for (size_t i = 0; i < ns; i++) {
        uint32_t u = (uint32_t)sb[i] << 16;
        memcpy(&tmp[i], &u, sizeof u);
    }
    free(sb);
    st = dalloc(&cb->score, ns, "score.weight", cb->dev, err);
    cudaError_t e = st ? cudaSuccess : cudaMemcpy(cb->score, tmp, ns * sizeof(float), cudaMemcpyHostToDevice);
    host->rope_inv_freq(&c, inv);
    if (!st && e == cudaSuccess) {
        for (int p = 0; p < cb->max_tokens; p++)
            for (int i = 0; i < half; i++)
                tmp[(size_t)p * half + i] = (float)cos((double)((float)p * inv[i]));
        if (!(st = dalloc(&cb->rope_cos, nr, "the RoPE tables", cb->dev, err)))
            e = cudaMemcpy(cb->rope_cos, tmp, nr * sizeof(float), cudaMemcpyHostToDevice);
    }
    if (!st && e == cudaSuccess) {
        for (int p = 0; p < cb->max_tokens; p++)
            for (int i = 0; i < half; i++)
                tmp[(size_t)p * half + i] = (float)sin((double)((float)p * inv[i]));
        if (!(st = dalloc(&cb->rope_sin, nr, "the RoPE tables", cb->dev, err)))
            e = cudaMemcpy(cb->rope_sin, tmp, nr * sizeof(float), cudaMemcpyHostToDevice);
    }
    free(tmp);
    free(inv);
    if (st)
        return st;
    CU_TRY(e);

    size_t C = (size_t)cap;
    if ((st = dalloc(&cb->h, C * H, "the activations (h)", cb->dev, err)) ||
        (st = dalloc(&cb->hp, C * H, "the activations (pooled h)", cb->dev, err)) ||
        (st = dalloc(&cb->qkv, C * cb->nqkv, "the activations (qkv)", cb->dev, err)) ||
        (st = dalloc(&cb->gu, C * 2 * I, "the activations (gate/up)", cb->dev, err)) ||
        (st = dalloc(&cb->logits, C * L, "the logits", cb->dev, err)) ||
        (st = dalloc(&cb->xn, C * H, "the activations (norm)", cb->dev, err)) ||
        (st = dalloc(&cb->att, C * cb->qd, "the activations (attention)", cb->dev, err)) ||
        (st = dalloc(&cb->act, C * I, "the activations (mlp)", cb->dev, err)))
        return st;
    cb->meta_bytes = meta_size(cap);
    if ((st = dmalloc((void **)&cb->meta_d, cb->meta_bytes, "the batch metadata", cb->dev, err)))
        return st;
    CU_TRY(cudaMallocHost((void **)&cb->meta_h, cb->meta_bytes));
    CU_TRY(cudaMallocHost((void **)&cb->logits_h, C * L * sizeof(float)));
    CU_TRY(cudaDeviceSynchronize());
    cb->loaded = true;
    return ENGINE_OK;
}

engine_status reload(cuda_backend *cb, engine_err *err)
{
    release(cb);
    engine_status st = load(cb, err);
    if (st)
        release(cb);
    return st;
}

/* Make the device usable after a failed batch: a lost context (sticky
 * error) is reset once per device, and every backend on it reloads. */
engine_status recover(cuda_backend *cb, engine_err *err)
{
    std::lock_guard<std::mutex> lock(reset_mu);
    cudaSetDevice(cb->dev);
    if (cb->gen == generation[cb->dev] && cb->loaded) {
        cudaStreamSynchronize(cb->stream);
        cudaGetLastError();
        void *probe = nullptr;
        cudaError_t e = cudaMalloc(&probe, 256);
        if (e == cudaSuccess) {
            cudaFree(probe);
            cb->broken = false;
            return ENGINE_OK; /* the context survived */
        }
        release(cb);
        cudaDeviceReset();
        cudaGetLastError();
        generation[cb->dev]++;
    }
    engine_status st = reload(cb, err);
    if (st)
        return st;
    cb->gen = generation[cb->dev];
    cb->broken = false;
    return ENGINE_OK;
}

/* D[m][n] (fp32) (=|+=) A[m][k] (bf16) W[n][k]^T */
engine_status gemm(cuda_backend *cb, const __nv_bfloat16 *A, const __nv_bfloat16 *W, float *D, int m, int n,
                   int k, bool accumulate, engine_err *err)
{
    lt_plan *p = nullptr;
    for (lt_plan &q : cb->plans)
        if (q.m == m && q.n == n && q.k == k) {
            p = &q;
            break;
        }
    if (!p) {
        p = &cb->plans[cb->next_plan];
        cb->next_plan = (cb->next_plan + 1) % kMaxPlans;
        if (p->m) {
            cublasLtMatrixLayoutDestroy(p->w);
            cublasLtMatrixLayoutDestroy(p->a);
            cublasLtMatrixLayoutDestroy(p->c);
            p->m = 0;
        }
        /* column-major views: W is k x n (ld k) used transposed, A is
         * k x m (ld k), D is n x m (ld n), i.e. row-major [m][n] */
        BLAS_TRY(cublasLtMatrixLayoutCreate(&p->w, CUDA_R_16BF, (uint64_t)k, (uint64_t)n, (int64_t)k));
        cublasStatus_t s = cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16BF, (uint64_t)k, (uint64_t)m, (int64_t)k);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasLtMatrixLayoutCreate(&p->c, CUDA_R_32F, (uint64_t)n, (uint64_t)m, (int64_t)n);
        else
            p->c = nullptr;
        cublasLtMatmulHeuristicResult_t res;
        int found = 0;
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasLtMatmulAlgoGetHeuristic(cb->lt, cb->mm, p->w, p->a, p->c, p->c, cb->pref, 1, &res,
                                               &found);
        if (s != CUBLAS_STATUS_SUCCESS || found < 1) {
            cublasLtMatrixLayoutDestroy(p->w);
            cublasLtMatrixLayoutDestroy(p->a);
            if (p->c)
                cublasLtMatrixLayoutDestroy(p->c);
            if (s != CUBLAS_STATUS_SUCCESS)
                return blas_status_of(s, __FILE__, __LINE__, "cublasLtMatmulAlgoGetHeuristic", err);
            return cuda_fail(err, ENGINE_ERR_BACKEND, "cuda: cuBLASLt has no bf16 algorithm for %d x %d x %d",
                             m, n, k);
        }
        p->algo = res.algo;
        p->m = m;
        p->n = n;
        p->k = k;
    }
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    BLAS_TRY(cublasLtMatmul(cb->lt, cb->mm, &alpha, W, p->w, A, p->a, &beta, D, p->c, D, p->c, &p->algo, cb->ws,
                            kWorkspace, cb->stream));
    return ENGINE_OK;
}

engine_status run(cuda_backend *cb, backend_batch *b, engine_err *err)
{
    const llama_config &c = cb->cfg;
    int H = cb->H, I = cb->I, qd = cb->qd, nh = c.num_heads, nkv = c.num_kv_heads, hd = c.head_dim;
    int ns = b->n_seqs, T = 0;
    float eps = c.rms_norm_eps, scale = 1.0f / sqrtf((float)hd);
    double flops = 0;
    cudaStream_t s = cb->stream;
    engine_status st;

    for (int q = 0; q < ns; q++)
        T += b->lens[q];
    meta_view mh = meta_at(cb->meta_h, T, ns), md = meta_at(cb->meta_d, T, ns);
    int maxlen = 0;
    T = 0;
    for (int q = 0; q < ns; q++) {
        for (int i = 0; i < b->lens[q]; i++) {
            mh.ids[T + i] = b->ids[q][i];
            mh.pos[T + i] = i;
        }
        mh.last[q] = T + b->lens[q] - 1;
        maxlen = std::max(maxlen, b->lens[q]);
        T += b->lens[q];
    }
    /* tiles: the deepest (most keys) first, for balance; then the pooled rows' */
    int nt = 0, off;
    for (int q0 = (maxlen - 1) / CUDA_ATTN_BQ * CUDA_ATTN_BQ; q0 >= 0; q0 -= CUDA_ATTN_BQ) {
        off = 0;
        for (int q = 0; q < ns; q++) {
            if (q0 < b->lens[q])
                mh.tiles[nt++] = attn_tile{off, q0, std::min(CUDA_ATTN_BQ, b->lens[q] - q0), off + q0};
            off += b->lens[q];
        }
    }
    off = 0;
    for (int q = 0; q < ns; q++) {
        mh.tiles[nt + q] = attn_tile{off, b->lens[q] - 1, 1, q};
        off += b->lens[q];
    }
    size_t used = (size_t)((char *)(mh.tiles + nt + ns) - cb->meta_h);
    CU_TRY(cudaMemcpyAsync(cb->meta_d, cb->meta_h, used, cudaMemcpyHostToDevice, s));
    CU_TRY(cuda_embed(cb->embed, md.ids, T, H, cb->h, s));

    for (int l = 0; l < c.num_layers; l++) {
        const layer_w &w = cb->layers[l];
        bool last = l == c.num_layers - 1;
        if (b->cancel && b->cancel(b->cancel_ctx)) {
            cudaStreamSynchronize(s);
            b->flops = flops;
            return cuda_fail(err, ENGINE_ERR_TIMEOUT, "cuda: cancelled before layer %d", l);
        }
        CU_TRY(cuda_rmsnorm_bf16(cb->h, H, w.ln_attn, eps, T, H, cb->xn, s));
        if ((st = gemm(cb, cb->xn, w.qkv, cb->qkv, T, cb->nqkv, H, false, err)))
            return st;
        flops += 2.0 * T * cb->nqkv * H;
        CU_TRY(cuda_rope(cb->qkv, cb->nqkv, T, md.pos, nh, nkv, hd, qd, cb->rope_cos, cb->rope_sin, s));
        int m = last ? ns : T;
        float *res = last ? cb->hp : cb->h;
        if (!last) {
            if (cb->fault_at && cb->forwards == cb->fault_at && l == 0)
                md.tiles = (attn_tile *)(uintptr_t)64; /* the injected fault: an illegal address */
            CU_TRY((cb->attn_tc ? cuda_attention_tc : cuda_attention)(cb->qkv, cb->nqkv, md.tiles, nt, nh, nkv, hd,
                                                                      scale, cb->att, s));
            for (int q = 0; q < ns; q++)
                flops += 4.0 * hd * nh * ((double)b->lens[q] * (b->lens[q] + 1) / 2);
        } else {
            CU_TRY((cb->attn_tc ? cuda_attention_tc : cuda_attention)(cb->qkv, cb->nqkv, md.tiles + nt, ns, nh, nkv,
                                                                      hd, scale, cb->att, s));
            for (int q = 0; q < ns; q++)
                flops += 4.0 * hd * nh * b->lens[q];
            CU_TRY(cuda_gather_rows(cb->h, md.last, ns, H, cb->hp, s));
        }
        if ((st = gemm(cb, cb->att, w.o, res, m, H, qd, true, err)))
            return st;
        CU_TRY(cuda_rmsnorm_bf16(res, H, w.ln_mlp, eps, m, H, cb->xn, s));
        if ((st = gemm(cb, cb->xn, w.gu, cb->gu, m, 2 * I, H, false, err)))
            return st;
        CU_TRY(cuda_silu_mul(cb->gu, m, I, cb->act, s));
        if ((st = gemm(cb, cb->act, w.down, res, m, H, I, true, err)))
            return st;
        flops += 2.0 * m * H * qd + 2.0 * m * 2.0 * I * H + 2.0 * m * H * I;
    }
    CU_TRY(cuda_final_score(cb->hp, cb->norm, eps, cb->score, ns, H, cb->L, cb->logits, s));
    flops += 2.0 * H * cb->L * ns;
    CU_TRY(cudaMemcpyAsync(cb->logits_h, cb->logits, (size_t)ns * cb->L * sizeof(float), cudaMemcpyDeviceToHost,
                           s));
    CU_TRY(cudaStreamSynchronize(s));
    memcpy(b->logits, cb->logits_h, (size_t)ns * cb->L * sizeof(float));
    b->flops = flops;
    return ENGINE_OK;
}

engine_status cuda_forward(backend *be, backend_batch *b, engine_err *err)
{
    cuda_backend *cb = (cuda_backend *)be;
    const llama_config &c = cb->cfg;
    b->flops = 0;
    if (b->n_seqs < 1)
        return cuda_fail(err, ENGINE_ERR_ARG, "cuda: empty batch");
    long T = 0;
    for (int q = 0; q < b->n_seqs; q++) {
        if (b->lens[q] < 1 || b->lens[q] > cb->max_tokens || T + b->lens[q] > cb->cap)
            return cuda_fail(err, ENGINE_ERR_ARG, "cuda: batch of more than %d tokens (or a sequence over %d)",
                             cb->cap, cb->max_tokens);
        for (int i = 0; i < b->lens[q]; i++)
            if (b->ids[q][i] < 0 || b->ids[q][i] >= c.vocab_size)
                return cuda_fail(err, ENGINE_ERR_ARG, "cuda: token id %ld out of range 0..%d", (long)b->ids[q][i],
                                 c.vocab_size - 1);
        T += b->lens[q];
    }
    cudaError_t e = cudaSetDevice(cb->dev);
    if (e != cudaSuccess)
        return cuda_status_of(e, __FILE__, __LINE__, "cudaSetDevice", err);
    if (cb->broken || !cb->loaded || cb->gen != generation[cb->dev]) {
        engine_status st = recover(cb, err);
        if (st) {
            cb->broken = true;
            return st;
        }
    }
    cb->forwards++;
    engine_status st = run(cb, b, err);
    if (st && st != ENGINE_ERR_TIMEOUT && st != ENGINE_ERR_ARG)
        cb->broken = true; /* the next batch recovers first */
    return st;
}

void cuda_free(backend *be)
{
    cuda_backend *cb = (cuda_backend *)be;
    if (!cb)
        return;
    if (cb->loaded || cb->stream) {
        cudaSetDevice(cb->dev);
        if (cb->stream)
            cudaStreamSynchronize(cb->stream);
    }
    release(cb);
    cb->~cuda_backend();
    free(cb);
}

const backend_ops cuda_ops = {"cuda", cuda_forward, cuda_free};

} // namespace

extern "C" __attribute__((visibility("default"))) int llmspam_cuda_bind(const device_host_api *h, char *msg,
                                                                        size_t len)
{
    if (!h || h->version != DEVICE_HOST_API_VERSION || h->sizeof_backend != sizeof(backend) ||
        h->sizeof_backend_batch != sizeof(backend_batch) || h->sizeof_backend_options != sizeof(backend_options) ||
        h->sizeof_llama_config != sizeof(llama_config) || h->sizeof_tensor_view != sizeof(tensor_view)) {
        if (msg && len) {
            if (h && h->version == DEVICE_HOST_API_VERSION)
                snprintf(msg, len, "module and engine built from different headers (struct sizes differ)");
            else
                snprintf(msg, len, "module built for host API %d, the engine offers %d", DEVICE_HOST_API_VERSION,
                         h ? h->version : -1);
        }
        return 1;
    }
    host = h;
    return 0;
}

extern "C" __attribute__((visibility("default"))) engine_status
llmspam_backend_cuda_new(checkpoint *ck, const backend_options *opt, backend **out, engine_err *err)
{
    *out = nullptr;
    if (!host)
        return cuda_fail(err, ENGINE_ERR_UNSUPPORTED, "cuda: module used before llmspam_cuda_bind");
    if (opt->max_tokens < 1 || opt->device_index < 0 || opt->device_index > 255)
        return cuda_fail(err, ENGINE_ERR_ARG, "cuda: max_tokens must be >= 1 and the device 0..255");
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return cuda_fail(err, ENGINE_ERR_UNSUPPORTED, "cuda: no CUDA device (cudaGetDeviceCount: %s)",
                         cudaGetErrorString(e));
    }
    if (ndev < 1)
        return cuda_fail(err, ENGINE_ERR_UNSUPPORTED, "cuda: no CUDA device (cudaGetDeviceCount: 0 devices)");
    if (opt->device_index >= ndev)
        return cuda_fail(err, ENGINE_ERR_UNSUPPORTED, "cuda:%d: no such device (%d found)", opt->device_index,
                         ndev);
    cudaDeviceProp prop;
    e = cudaGetDeviceProperties(&prop, opt->device_index);
    if (e != cudaSuccess)
        return cuda_status_of(e, __FILE__, __LINE__, "cudaGetDeviceProperties", err);
    if (prop.major < 8)
        return cuda_fail(err, ENGINE_ERR_UNSUPPORTED,
                         "cuda:%d: %s has compute capability %d.%d; bf16 tensor cores need 8.0 or later",
                         opt->device_index, prop.name, prop.major, prop.minor);

    const llama_config *c = host->checkpoint_config(ck);
    if (c->num_labels < 1 || c->num_heads % c->num_kv_heads || c->head_dim < 2 || c->head_dim > 256 ||
        c->head_dim % 2)
        return cuda_fail(err, ENGINE_ERR_UNSUPPORTED,
                         "cuda: head_dim %d (heads %d, kv heads %d) not supported: head_dim must be even, at most 256",
                         c->head_dim, c->num_heads, c->num_kv_heads);
    void *mem = calloc(1, sizeof(cuda_backend));
    if (!mem)
        return cuda_fail(err, ENGINE_ERR_NOMEM, "cuda: out of memory");
    cuda_backend *cb = new (mem) cuda_backend();
    cb->ck = ck;
    cb->cfg = *c;
    cb->dev = opt->device_index;
    cb->max_tokens = opt->max_tokens;
    long cap = host->batch_tokens > 0 ? host->batch_tokens : std::min(64L * opt->max_tokens, 32768L);
    cb->cap = (int)std::max(cap, (long)opt->max_tokens);
    cb->H = c->hidden_size;
    cb->I = c->intermediate_size;
    cb->qd = c->num_heads * c->head_dim;
    cb->kvd = c->num_kv_heads * c->head_dim;
    cb->nqkv = cb->qd + 2 * cb->kvd;
    cb->L = c->num_labels;
    snprintf(cb->gpu, sizeof cb->gpu, "%.63s", prop.name);
    const char *attn = getenv("LLMSPAM_CUDA_ATTENTION");
    cb->attn_tc = attn && !strcmp(attn, "tf32");
    const char *fault = getenv("LLMSPAM_CUDA_INJECT_FAULT");
    cb->fault_at = fault ? atol(fault) : 0;
    {
        std::lock_guard<std::mutex> lock(reset_mu);
        cb->gen = generation[cb->dev];
    }
    engine_status st = load(cb, err);
    if (st) {
        release(cb);
        cb->~cuda_backend();
        free(cb);
        return st;
    }
    cb->base.ops = &cuda_ops;
    cb->base.capacity = cb->cap;
    cb->base.max_tokens = cb->max_tokens;
    cb->base.num_labels = cb->L;
    snprintf(cb->base.desc, sizeof cb->base.desc, "cuda:%d (%.40s, sm_%d%d, cuBLASLt bf16, %s attention, %d-token batches)",
             cb->dev, cb->gpu, prop.major, prop.minor, cb->attn_tc ? "tf32" : "fp32", cb->cap);
    *out = &cb->base;
    return ENGINE_OK;
}
