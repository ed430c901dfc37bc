/*
 * kernels: the CUDA twins of the CPU kernels (engine/kernels_portable.c), same
 * arithmetic in fp32, bf16 where the CPU rounds to bf16. See kernels.cuh.
 * Built without fast math: sqrtf and division are IEEE-rounded like the
 * CPU's; expf differs from glibc's by an ulp or two.
 */
#include "cuda/kernels.cuh"

#include <atomic>
#include <climits>
#include <cmath>
#include <mma.h>

namespace {

constexpr int kRowThreads = 256;

/* Sum of v over the block (blockDim.x a multiple of 32, at most 1024);
 * every thread gets the result. red: shared [32]. */
__device__ float block_sum(float v, float *red)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    __syncthreads(); /* red may still be read by a previous call */
    if (lane == 0)
        red[warp] = v;
    __syncthreads();
    float s = 0.0f;
    for (int w = 0; w < nw; w++)
        s += red[w];
    return s;
}

__global__ void embed_kernel(const __nv_bfloat16 *__restrict__ embed, const int32_t *__restrict__ ids,
                             int T, int H, float *__restrict__ h)
{
    size_t n = (size_t)T * H;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        size_t t = i / H, c = i % H;
        h[i] = __bfloat162float(embed[(size_t)ids[t] * H + c]);
    }
}

__global__ void rmsnorm_kernel(const float *__restrict__ x, int ldx, const __nv_bfloat16 *__restrict__ w,
                               float eps, int H, __nv_bfloat16 *__restrict__ y)
{
    __shared__ float red[32];
    const float *xr = x + (size_t)blockIdx.x * ldx;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < H; i += blockDim.x)
        ss += xr[i] * xr[i];
    ss = block_sum(ss, red);
    float r = 1.0f / sqrtf(ss / (float)H + eps);
    __nv_bfloat16 *yr = y + (size_t)blockIdx.x * H;
    for (int i = threadIdx.x; i < H; i += blockDim.x)
        yr[i] = __float2bfloat16_rn(__bfloat162float(w[i]) * (xr[i] * r));
}

__global__ void rope_kernel(float *__restrict__ qkv, int ld, const int32_t *__restrict__ pos, int nh,
                            int nkv, int hd, int qd, const float *__restrict__ cs,
                            const float *__restrict__ sn)
{
    int t = blockIdx.x, half = hd / 2, pairs = (nh + nkv) * half;
    float *row = qkv + (size_t)t * ld;
    const float *c = cs + (size_t)pos[t] * half, *s = sn + (size_t)pos[t] * half;
    for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
        int head = p / half, i = p % half;
        float *a = row + (head < nh ? head * hd : qd + (head - nh) * hd);
        float x1 = a[i], x2 = a[i + half];
        a[i] = x1 * c[i] - x2 * s[i];
        a[i + half] = x2 * c[i] + x1 * s[i];
    }
}

__global__ void silu_mul_kernel(const float *__restrict__ gu, int T, int I, __nv_bfloat16 *__restrict__ act)
{
    size_t n = (size_t)T * I;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x) {
        size_t t = k / I, i = k % I;
        float g = gu[t * 2 * I + i], u = gu[t * 2 * I + I + i];
        act[k] = __float2bfloat16_rn(g / (1.0f + expf(-g)) * u);
    }
}

__global__ void gather_kernel(const float *__restrict__ src, const int32_t *__restrict__ rows, int H,
                              float *__restrict__ dst)
{
    const float *s = src + (size_t)rows[blockIdx.x] * H;
    float *d = dst + (size_t)blockIdx.x * H;
    for (int i = threadIdx.x; i < H; i += blockDim.x)
        d[i] = s[i];
}

__global__ void final_score_kernel(const float *__restrict__ hp, const __nv_bfloat16 *__restrict__ w,
                                   float eps, const float *__restrict__ score, int H, int L,
                                   float *__restrict__ logits)
{
    __shared__ float red[32];
    const float *x = hp + (size_t)blockIdx.x * H;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < H; i += blockDim.x)
        ss += x[i] * x[i];
    ss = block_sum(ss, red);
    float r = 1.0f / sqrtf(ss / (float)H + eps);
    for (int j = 0; j < L; j++) {
        const float *sw = score + (size_t)j * H;
        float acc = 0.0f;
        for (int i = threadIdx.x; i < H; i += blockDim.x)
            acc += (__bfloat162float(w[i]) * (x[i] * r)) * sw[i];
        acc = block_sum(acc, red);
        if (threadIdx.x == 0)
            logits[(size_t)blockIdx.x * L + j] = acc;
    }
}

/* ---- attention ------------------------------------------------------------
 * The tiled kernel, for head dims that are multiples of 16 up to 128: a
 * block of 256 threads takes CUDA_ATTN_BQ (64) query rows of one head and
 * walks the keys in tiles of 64 held in shared memory (K transposed), with
 * an online softmax in fp32. Thread (ty, tx) of a 16 x 16 grid owns query
 * rows ty*4 .. ty*4+3, score columns tx + 16j (j < 4) and output columns
 * tx + 16j (j < HD/16). */
constexpr int BQ = CUDA_ATTN_BQ, BK = 64, LDS = BK + 1;

/* One block per (tile, head), the heads of a tile next to each other: the
 * deepest tiles (the host lists them first) start first on every head, and
 * the query heads sharing a KV head read its keys while they are in L2. */
dim3 attn_grid(int ntiles, int nh)
{
    return dim3((unsigned)ntiles * (unsigned)nh);
}

template <int HD> constexpr size_t attn_smem()
{
    return sizeof(float) * ((size_t)BQ * (HD + 1) + (size_t)HD * LDS + (size_t)BK * HD + (size_t)BQ * LDS);
}

template <int HD>
__global__ void __launch_bounds__(256) attention_tiled(const float *__restrict__ qkv, int ld,
                                                       const attn_tile *__restrict__ tiles, int nh,
                                                       int nkv, int qd, float scale,
                                                       __nv_bfloat16 *__restrict__ out)
{
    constexpr int DJ = HD / 16, LDQ = HD + 1;
    extern __shared__ float smem[];
    float *Qs = smem;                    /* [BQ][LDQ] */
    float *Kt = Qs + BQ * LDQ;           /* [HD][LDS] keys transposed */
    float *Vs = Kt + HD * LDS;           /* [BK][HD] */
    float *Ps = Vs + BK * HD;            /* [BQ][LDS] probabilities of the tile */

    const attn_tile tile = tiles[blockIdx.x / nh]; /* heads vary fastest: see attn_grid */
    const int h = blockIdx.x % nh, g = h / (nh / nkv), kvd = nkv * HD;
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const int kend = tile.q0 + tile.nq; /* keys 0 .. kend-1 */
    const float *base = qkv + (size_t)tile.row * ld;

    for (int i = tid; i < BQ * HD; i += 256) {
        int r = i / HD, d = i % HD;
        Qs[r * LDQ + d] = r < tile.nq ? base[(size_t)(tile.q0 + r) * ld + h * HD + d] : 0.0f;
    }

    float o[4][DJ], m[4], l[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
#pragma unroll
        for (int j = 0; j < DJ; j++)
            o[i][j] = 0.0f;
    }

    for (int k0 = 0; k0 < kend; k0 += BK) {
        __syncthreads(); /* the previous tile's Kt, Vs, Ps are no longer read (and Qs is written) */
        for (int i = tid; i < BK * HD; i += 256) {
            int kk = i / HD, d = i % HD;
            bool in = k0 + kk < kend;
            const float *kr = base + (size_t)(k0 + kk) * ld;
            Kt[d * LDS + kk] = in ? kr[qd + g * HD + d] : 0.0f;
            Vs[kk * HD + d] = in ? kr[qd + kvd + g * HD + d] : 0.0f;
        }
        __syncthreads();

        float s[4][4];
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++)
                s[i][j] = 0.0f;
#pragma unroll 8
        for (int d = 0; d < HD; d++) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; i++)
                a[i] = Qs[(ty * 4 + i) * LDQ + d];
#pragma unroll
            for (int j = 0; j < 4; j++)
                b[j] = Kt[d * LDS + tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++)
                    s[i][j] += a[i] * b[j];
        }

#pragma unroll
        for (int i = 0; i < 4; i++) {
            int qpos = tile.q0 + ty * 4 + i;
            float mx = -INFINITY;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                int key = k0 + tx + 16 * j;
                s[i][j] = key <= qpos ? s[i][j] * scale : -INFINITY;
                mx = fmaxf(mx, s[i][j]);
            }
            for (int off = 8; off > 0; off >>= 1)
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
            float mnew = fmaxf(m[i], mx);
            /* key 0 is in the first tile of every row, so mnew is finite */
            float alpha = expf(m[i] - mnew), sum = 0.0f;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                float p = expf(s[i][j] - mnew);
                sum += p;
                Ps[(ty * 4 + i) * LDS + tx + 16 * j] = p;
            }
            for (int off = 8; off > 0; off >>= 1)
                sum += __shfl_xor_sync(0xffffffffu, sum, off);
            l[i] = l[i] * alpha + sum;
            m[i] = mnew;
#pragma unroll
            for (int j = 0; j < DJ; j++)
                o[i][j] *= alpha;
        }
        __syncthreads();

        int kn = kend - k0 < BK ? kend - k0 : BK;
        for (int kk = 0; kk < kn; kk++) {
            float v[DJ];
#pragma unroll
            for (int j = 0; j < DJ; j++)
                v[j] = Vs[kk * HD + tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                float p = Ps[(ty * 4 + i) * LDS + kk];
#pragma unroll
                for (int j = 0; j < DJ; j++)
                    o[i][j] += p * v[j];
            }
        }
    }

#pragma unroll
    for (int i = 0; i < 4; i++) {
        int r = ty * 4 + i;
        if (r >= tile.nq)
            continue;
        __nv_bfloat16 *orow = out + (size_t)(tile.out + r) * qd + h * HD;
#pragma unroll
        for (int j = 0; j < DJ; j++)
            orow[tx + 16 * j] = __float2bfloat16_rn(o[i][j] / l[i]);
    }
}

/* Any even head dim up to 256, one warp per query row, keys in chunks of
 * 32 (one per lane): the simple twin, for shapes the tiled kernel lacks. */
constexpr int GEN_MAXD = 256;

__global__ void __launch_bounds__(128) attention_generic(const float *__restrict__ qkv, int ld,
                                                         const attn_tile *__restrict__ tiles, int nh,
                                                         int nkv, int hd, int qd, float scale,
                                                         __nv_bfloat16 *__restrict__ out)
{
    constexpr int DJ = GEN_MAXD / 32;
    __shared__ float qs[4][GEN_MAXD];
    const attn_tile tile = tiles[blockIdx.x / nh]; /* heads vary fastest: see attn_grid */
    const int h = blockIdx.x % nh, g = h / (nh / nkv), kvd = nkv * hd;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const float *base = qkv + (size_t)tile.row * ld;
    for (int r = warp; r < tile.nq; r += 4) {
        int qpos = tile.q0 + r;
        __syncwarp();
        for (int d = lane; d < hd; d += 32)
            qs[warp][d] = base[(size_t)qpos * ld + h * hd + d];
        __syncwarp();
        float m = -INFINITY, l = 0.0f, o[DJ];
#pragma unroll
        for (int j = 0; j < DJ; j++)
            o[j] = 0.0f;
        for (int k0 = 0; k0 <= qpos; k0 += 32) {
            int key = k0 + lane;
            float s = -INFINITY;
            if (key <= qpos) {
                const float *kr = base + (size_t)key * ld + qd + g * hd;
                float acc = 0.0f;
                for (int d = 0; d < hd; d++)
                    acc += qs[warp][d] * kr[d];
                s = acc * scale;
            }
            float mx = s;
            for (int off = 16; off > 0; off >>= 1)
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
            float mnew = fmaxf(m, mx), alpha = expf(m - mnew);
            float p = expf(s - mnew), sum = p;
            for (int off = 16; off > 0; off >>= 1)
                sum += __shfl_xor_sync(0xffffffffu, sum, off);
            l = l * alpha + sum;
            m = mnew;
#pragma unroll
            for (int j = 0; j < DJ; j++)
                o[j] *= alpha;
            int kn = qpos - k0 + 1 < 32 ? qpos - k0 + 1 : 32;
            for (int kk = 0; kk < kn; kk++) {
                float pk = __shfl_sync(0xffffffffu, p, kk);
                const float *vr = base + (size_t)(k0 + kk) * ld + qd + kvd + g * hd;
#pragma unroll
                for (int j = 0; j < DJ; j++)
                    if (lane + 32 * j < hd)
                        o[j] += pk * vr[lane + 32 * j];
            }
        }
        __nv_bfloat16 *orow = out + (size_t)(tile.out + r) * qd + h * hd;
#pragma unroll
        for (int j = 0; j < DJ; j++)
            if (lane + 32 * j < hd)
                orow[lane + 32 * j] = __float2bfloat16_rn(o[j] / l);
    }
}


/* The tensor-core variant (opt-in, see cuda_attention_tc): the same tiles,
 * S = Q K^T and O += P V as TF32 WMMA products (10-bit mantissas, fp32
 * range and accumulation), the online softmax in fp32. Four warps, each
 * owning 16 of the 64 query rows; per-warp scores and outputs live in
 * shared memory, where the softmax rescales them row by row. */
constexpr int TC_LDS = BK + 4; /* ld of the per-warp score rows */

template <int HD> constexpr size_t attn_tc_smem()
{
    return sizeof(float) * (3 * (size_t)BQ * (HD + 4) + 4 * 16 * (size_t)TC_LDS + (size_t)BQ * (HD + 4));
}

template <typename Frag> __device__ void to_tf32(Frag &f)
{
#pragma unroll
    for (int t = 0; t < f.num_elements; t++)
        f.x[t] = nvcuda::wmma::__float_to_tf32(f.x[t]);
}

template <int HD>
__global__ void __launch_bounds__(128) attention_tc(const float *__restrict__ qkv, int ld,
                                                    const attn_tile *__restrict__ tiles, int nh, int nkv,
                                                    int qd, float scale, __nv_bfloat16 *__restrict__ out)
{
    using namespace nvcuda;
    constexpr int LD = HD + 4;
    extern __shared__ __align__(128) float tsm[];
    float *Qs = tsm;               /* [BQ][LD] */
    float *Ks = Qs + BQ * LD;      /* [BK][LD] keys, row-major */
    float *Vs = Ks + BK * LD;      /* [BK][LD] */
    float *Ss = Vs + BK * LD;      /* [4][16][TC_LDS] per warp: scores, then probabilities */
    float *Os = Ss + 4 * 16 * TC_LDS; /* [BQ][LD] output accumulators */

    const attn_tile tile = tiles[blockIdx.x / nh]; /* heads vary fastest: see attn_grid */
    const int h = blockIdx.x % nh, g = h / (nh / nkv), kvd = nkv * HD;
    const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;
    const int kend = tile.q0 + tile.nq;
    const float *base = qkv + (size_t)tile.row * ld;
    float *Sw = Ss + w * 16 * TC_LDS, *Ow = Os + w * 16 * LD;
    const int r = lane >> 1, half = lane & 1; /* this lane's row of the warp's 16, and half of it */
    const int qpos = tile.q0 + w * 16 + r;

    for (int i = tid; i < BQ * HD; i += 128) {
        int rr = i / HD, d = i % HD;
        Qs[rr * LD + d] = rr < tile.nq ? base[(size_t)(tile.q0 + rr) * ld + h * HD + d] : 0.0f;
        Os[rr * LD + d] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;

    for (int k0 = 0; k0 < kend; k0 += BK) {
        __syncthreads();
        for (int i = tid; i < BK * HD; i += 128) {
            int kk = i / HD, d = i % HD;
            bool in = k0 + kk < kend;
            const float *kr = base + (size_t)(k0 + kk) * ld;
            Ks[kk * LD + d] = in ? kr[qd + g * HD + d] : 0.0f;
            Vs[kk * LD + d] = in ? kr[qd + kvd + g * HD + d] : 0.0f;
        }
        __syncthreads();

        /* S (16 x 64) = Q_w (16 x HD) K^T (HD x 64) */
#pragma unroll
        for (int j = 0; j < BK / 16; j++) {
            wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc;
            wmma::fill_fragment(acc, 0.0f);
#pragma unroll
            for (int kk = 0; kk < HD / 8; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> b;
                wmma::load_matrix_sync(a, Qs + w * 16 * LD + kk * 8, LD);
                wmma::load_matrix_sync(b, Ks + j * 16 * LD + kk * 8, LD);
                to_tf32(a);
                to_tf32(b);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(Sw + j * 16, acc, TC_LDS, wmma::mem_row_major);
        }
        __syncwarp();

        /* online softmax: lanes 2r and 2r+1 share row r, 32 columns each */
        float *srow = Sw + r * TC_LDS + half * 32;
        float mx = -INFINITY;
        for (int c = 0; c < 32; c++) {
            int key = k0 + half * 32 + c;
            float v = key <= qpos ? srow[c] * scale : -INFINITY;
            srow[c] = v;
            mx = fmaxf(mx, v);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        float mnew = fmaxf(m, mx), alpha = expf(m - mnew), sum = 0.0f;
        for (int c = 0; c < 32; c++) {
            float p = expf(srow[c] - mnew);
            srow[c] = p;
            sum += p;
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        l = l * alpha + sum;
        m = mnew;
        float *orow = Ow + r * LD + half * (HD / 2);
        for (int c = 0; c < HD / 2; c++)
            orow[c] *= alpha;
        __syncwarp();

        /* O_w (16 x HD) += P (16 x 64) V (64 x HD) */
#pragma unroll
        for (int dt = 0; dt < HD / 16; dt++) {
            wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc;
            wmma::load_matrix_sync(acc, Ow + dt * 16, LD, wmma::mem_row_major);
#pragma unroll
            for (int kk = 0; kk < BK / 8; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b;
                wmma::load_matrix_sync(a, Sw + kk * 8, TC_LDS);
                wmma::load_matrix_sync(b, Vs + kk * 8 * LD + dt * 16, LD);
                to_tf32(a);
                to_tf32(b);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(Ow + dt * 16, acc, LD, wmma::mem_row_major);
        }
        __syncwarp();
    }

    if (w * 16 + r < tile.nq) {
        const float *orow = Ow + r * LD + half * (HD / 2);
        __nv_bfloat16 *dst = out + (size_t)(tile.out + w * 16 + r) * qd + h * HD + half * (HD / 2);
        for (int c = 0; c < HD / 2; c++)
            dst[c] = __float2bfloat16_rn(orow[c] / l);
    }
}

template <int HD>
cudaError_t launch_tc(const float *qkv, int ld, const attn_tile *tiles, int ntiles, int nh, int nkv, float scale,
                      __nv_bfloat16 *out, cudaStream_t stream)
{
    dim3 grid = attn_grid(ntiles, nh);
    attention_tc<HD><<<grid, 128, attn_tc_smem<HD>(), stream>>>(qkv, ld, tiles, nh, nkv, nh * HD, scale, out);
    return cudaGetLastError();
}

/* The largest dynamic shared memory a block may opt in to, on the
 * smallest of the devices initialised: a kernel needing more is not used
 * (sm_86/sm_89 allow 99 KB, sm_80 163 KB, sm_90 227 KB). */
std::atomic<int> smem_limit{INT_MAX};

bool fits(size_t bytes)
{
    return bytes <= (size_t)smem_limit.load();
}

template <typename K> cudaError_t allow(K kernel, size_t bytes)
{
    if (!fits(bytes))
        return cudaSuccess;
    return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
}

int grid_for(size_t n)
{
    size_t b = (n + 255) / 256;
    return (int)(b < 65536 ? (b ? b : 1) : 65536);
}

template <int HD>
cudaError_t launch_tiled(const float *qkv, int ld, const attn_tile *tiles, int ntiles, int nh, int nkv,
                         float scale, __nv_bfloat16 *out, cudaStream_t stream)
{
    dim3 grid = attn_grid(ntiles, nh);
    attention_tiled<HD><<<grid, 256, attn_smem<HD>(), stream>>>(qkv, ld, tiles, nh, nkv, nh * HD, scale, out);
    return cudaGetLastError();
}

} // namespace

cudaError_t cuda_embed(const __nv_bfloat16 *embed, const int32_t *ids, int T, int H, float *h,
                       cudaStream_t stream)
{
    embed_kernel<<<grid_for((size_t)T * H), 256, 0, stream>>>(embed, ids, T, H, h);
    return cudaGetLastError();
}

cudaError_t cuda_rmsnorm_bf16(const float *x, int ldx, const __nv_bfloat16 *w, float eps, int T, int H,
                              __nv_bfloat16 *y, cudaStream_t stream)
{
    rmsnorm_kernel<<<T, kRowThreads, 0, stream>>>(x, ldx, w, eps, H, y);
    return cudaGetLastError();
}

cudaError_t cuda_rope(float *qkv, int ld, int T, const int32_t *pos, int nh, int nkv, int hd, int qd,
                      const float *cos, const float *sin, cudaStream_t stream)
{
    rope_kernel<<<T, kRowThreads, 0, stream>>>(qkv, ld, pos, nh, nkv, hd, qd, cos, sin);
    return cudaGetLastError();
}

cudaError_t cuda_silu_mul(const float *gu, int T, int I, __nv_bfloat16 *act, cudaStream_t stream)
{
    silu_mul_kernel<<<grid_for((size_t)T * I), 256, 0, stream>>>(gu, T, I, act);
    return cudaGetLastError();
}

cudaError_t cuda_gather_rows(const float *src, const int32_t *rows, int n, int H, float *dst,
                             cudaStream_t stream)
{
    gather_kernel<<<n, kRowThreads, 0, stream>>>(src, rows, H, dst);
    return cudaGetLastError();
}

cudaError_t cuda_attention_init(int device)
{
    int optin = 0;
    cudaError_t e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    if (e != cudaSuccess)
        return e;
    for (int cur = smem_limit.load(); optin < cur && !smem_limit.compare_exchange_weak(cur, optin);)
        ;
    if ((e = allow(attention_tiled<16>, attn_smem<16>())) != cudaSuccess ||
        (e = allow(attention_tiled<32>, attn_smem<32>())) != cudaSuccess ||
        (e = allow(attention_tiled<64>, attn_smem<64>())) != cudaSuccess ||
        (e = allow(attention_tiled<128>, attn_smem<128>())) != cudaSuccess ||
        (e = allow(attention_tc<16>, attn_tc_smem<16>())) != cudaSuccess ||
        (e = allow(attention_tc<32>, attn_tc_smem<32>())) != cudaSuccess ||
        (e = allow(attention_tc<64>, attn_tc_smem<64>())) != cudaSuccess ||
        (e = allow(attention_tc<128>, attn_tc_smem<128>())) != cudaSuccess)
        return e;
    return cudaSuccess;
}

cudaError_t cuda_attention(const float *qkv, int ld, const attn_tile *tiles, int ntiles, int nh, int nkv,
                           int hd, float scale, __nv_bfloat16 *out, cudaStream_t stream)
{
    if (ntiles < 1)
        return cudaSuccess;
    switch (hd) {
    case 16:
        if (fits(attn_smem<16>()))
            return launch_tiled<16>(qkv, ld, tiles, ntiles, nh, nkv, scale, out, stream);
        break;
    case 32:
        if (fits(attn_smem<32>()))
            return launch_tiled<32>(qkv, ld, tiles, ntiles, nh, nkv, scale, out, stream);
        break;
    case 64:
        if (fits(attn_smem<64>()))
            return launch_tiled<64>(qkv, ld, tiles, ntiles, nh, nkv, scale, out, stream);
        break;
    case 128:
        if (fits(attn_smem<128>()))
            return launch_tiled<128>(qkv, ld, tiles, ntiles, nh, nkv, scale, out, stream);
        break;
    default:
        break;
    }
    if (hd < 2 || hd > GEN_MAXD)
        return cudaErrorInvalidValue;
    attention_generic<<<attn_grid(ntiles, nh), 128, 0, stream>>>(qkv, ld, tiles, nh, nkv, hd, nh * hd,
                                                                               scale, out);
    return cudaGetLastError();
}

cudaError_t cuda_final_score(const float *hp, const __nv_bfloat16 *norm_w, float eps, const float *score,
                             int n, int H, int L, float *logits, cudaStream_t stream)
{
    final_score_kernel<<<n, kRowThreads, 0, stream>>>(hp, norm_w, eps, score, H, L, logits);
    return cudaGetLastError();
}

cudaError_t cuda_attention_tc(const float *qkv, int ld, const attn_tile *tiles, int ntiles, int nh, int nkv,
                              int hd, float scale, __nv_bfloat16 *out, cudaStream_t stream)
{
    if (ntiles < 1)
        return cudaSuccess;
    switch (hd) {
    case 16:
        if (fits(attn_tc_smem<16>()))
            return launch_tc<16>(qkv, ld, tiles, ntiles, nh, nkv, scale, out, stream);
        break;
    case 32:
        if (fits(attn_tc_smem<32>()))
            return launch_tc<32>(qkv, ld, tiles, ntiles, nh, nkv, scale, out, stream);
        break;
    case 64:
        if (fits(attn_tc_smem<64>()))
            return launch_tc<64>(qkv, ld, tiles, ntiles, nh, nkv, scale, out, stream);
        break;
    case 128:
        if (fits(attn_tc_smem<128>()))
            return launch_tc<128>(qkv, ld, tiles, ntiles, nh, nkv, scale, out, stream);
        break;
    default:
        break;
    }
    return cuda_attention(qkv, ld, tiles, ntiles, nh, nkv, hd, scale, out, stream);
}
