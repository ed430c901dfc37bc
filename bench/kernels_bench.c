/*
 * kernels_bench: every kernel table this CPU can run (portable, avx2,
 * avx512; capped by LLMSPAM_CPU_ISA) timed side by side in one run, each
 * round running each table in turn, best of the rounds, thread CPU time.
 * The shape is Llama-3.2-1B's: one layer's causal attention over T tokens
 * (32 heads, 8 kv heads, head_dim 64) in the forward pass's blocks of
 * KERNELS_ATTN_BLOCK rows, plus RMSNorm over T rows of 2048 and SiLU*mul
 * over T rows of 8192. Prints ms, GFLOP/s of attention, and each table's
 * speed-up over portable (portable time / table time).
 *
 * usage: kernels_bench [-t TOKENS] [-r ROUNDS]
 */
#include "config.h"
#include "engine/bf16.h"
#include "engine/cpu_isa.h"
#include "engine/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { NH = 32, NKV = 8, HD = 64, HID = 2048, INTER = 8192 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static float frand(float lo, float hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (float)((rng >> 11) * (1.0 / 9007199254740992.0));
}

typedef struct inputs {
    int T, ldk, ldq;
    float *q, *kt, *v, *s, *x, *gu;
    uint16_t *w, *out, *y;
} inputs;

static void attention_layer(const kernels *k, const inputs *in)
{
    for (int q0 = 0; q0 < in->T; q0 += KERNELS_ATTN_BLOCK)
        for (int h = 0; h < NH; h++) {
            int g = h / (NH / NKV);
            int nq = in->T - q0 < KERNELS_ATTN_BLOCK ? in->T - q0 : KERNELS_ATTN_BLOCK;
            attention_block a = {
                .q = in->q + (size_t)q0 * in->ldq + (size_t)h * HD, .ldq = in->ldq,
                .nq = nq, .q0 = q0,
                .kt = in->kt + (size_t)g * HD * in->ldk, .ldk = in->ldk,
                .v = in->v + (size_t)g * in->T * HD, .hd = HD,
                .scale = 1.0f / sqrtf((float)HD), .s = in->s,
                .out = in->out + (size_t)q0 * NH * HD + (size_t)h * HD, .ldo = NH * HD,
            };
            k->attention(&a);
        }
}

static void rmsnorm_rows(const kernels *k, const inputs *in)
{
    for (int t = 0; t < in->T; t++)
        k->rmsnorm_bf16(in->x + (size_t)t * HID, in->w, 1e-5f, HID, in->y + (size_t)t * HID);
}

static void silu_rows(const kernels *k, const inputs *in)
{
    for (int t = 0; t < in->T; t++) {
        const float *g = in->gu + (size_t)t * 2 * INTER;
        k->silu_mul_bf16(g, g + INTER, INTER, in->y + (size_t)t * INTER);
    }
}

int main(int argc, char **argv)
{
    int T = 512, rounds = 5, c;
    while ((c = getopt(argc, argv, "t:r:")) != -1) {
        if (c == 't')
            T = atoi(optarg);
        else if (c == 'r')
            rounds = atoi(optarg);
        else {
            fprintf(stderr, "usage: kernels_bench [-t TOKENS] [-r ROUNDS]\n");
            return 2;
        }
    }
    if (T < 1 || rounds < 1) {
        fprintf(stderr, "kernels_bench: TOKENS and ROUNDS must be >= 1\n");
        return 2;
    }
    inputs in = {.T = T, .ldk = (T + 16 + 15) & ~15, .ldq = (NH + 2 * NKV) * HD};
    in.q = malloc((size_t)T * in.ldq * sizeof *in.q);
    in.kt = calloc((size_t)NKV * HD * in.ldk, sizeof *in.kt);
    in.v = malloc((size_t)NKV * T * HD * sizeof *in.v);
    in.s = malloc((size_t)KERNELS_ATTN_BLOCK * in.ldk * sizeof *in.s);
    in.x = malloc((size_t)T * HID * sizeof *in.x);
    in.gu = malloc((size_t)T * 2 * INTER * sizeof *in.gu);
    in.w = malloc(HID * sizeof *in.w);
    in.out = malloc((size_t)T * NH * HD * sizeof *in.out);
    in.y = malloc((size_t)T * INTER * sizeof *in.y);
    uint16_t *ref = malloc((size_t)T * NH * HD * sizeof *ref);
    if (!in.q || !in.kt || !in.v || !in.s || !in.x || !in.gu || !in.w || !in.out || !in.y || !ref) {
        fprintf(stderr, "kernels_bench: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < (size_t)T * in.ldq; i++)
        in.q[i] = frand(-2, 2);
    for (int g = 0; g < NKV; g++)
        for (int d = 0; d < HD; d++)
            for (int j = 0; j < T; j++)
                in.kt[((size_t)g * HD + d) * in.ldk + j] = frand(-2, 2);
    for (size_t i = 0; i < (size_t)NKV * T * HD; i++)
        in.v[i] = frand(-2, 2);
    for (size_t i = 0; i < (size_t)T * HID; i++)
        in.x[i] = frand(-3, 3);
    for (size_t i = 0; i < (size_t)T * 2 * INTER; i++)
        in.gu[i] = frand(-8, 8);
    for (int i = 0; i < HID; i++)
        in.w[i] = f32_to_bf16(frand(0.5f, 1.5f));

    const kernels *tabs[3] = {kernels_portable(), kernels_avx2(), kernels_avx512()};
    int nt = 0;
    for (int i = 0; i < 3; i++)
        if (tabs[i])
            tabs[nt++] = tabs[i];
    static const char *const what[3] = {"attention", "rmsnorm_bf16", "silu_mul_bf16"};
    void (*const run[3])(const kernels *, const inputs *) = {attention_layer, rmsnorm_rows, silu_rows};
    double best[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            best[i][j] = INFINITY;
    for (int r = 0; r < rounds; r++)
        for (int w = 0; w < 3; w++)
            for (int i = 0; i < nt; i++) {
                double t0 = now();
                run[w](tabs[i], &in);
                double dt = now() - t0;
                best[w][i] = dt < best[w][i] ? dt : best[w][i];
            }
    /* the outputs agree, or the timings mean nothing */
    attention_layer(tabs[0], &in);
    memcpy(ref, in.out, (size_t)T * NH * HD * sizeof *ref);
    double maxd[3] = {0};
    for (int i = 1; i < nt; i++) {
        attention_layer(tabs[i], &in);
        for (size_t e = 0; e < (size_t)T * NH * HD; e++) {
            double d = fabs((double)bf16_to_f32(in.out[e]) - bf16_to_f32(ref[e]));
            maxd[i] = d > maxd[i] ? d : maxd[i];
        }
    }

    double aflops = 4.0 * HD * NH * ((double)T * (T + 1) / 2);
    printf("kernels_bench: %d tokens, %d heads, %d kv heads, head_dim %d; 1 thread; best of %d rounds;"
           " cpu_isa %s (detected %s)\n",
           T, NH, NKV, HD, rounds, cpu_isa_name(cpu_isa_get()), cpu_isa_name(cpu_isa_detected()));
    for (int w = 0; w < 3; w++)
        for (int i = 0; i < nt; i++) {
            printf("%-14s %-9s %9.3f ms", what[w], tabs[i]->name, best[w][i] * 1e3);
            if (w == 0)
                printf("  %6.2f GFLOP/s", aflops / best[w][i] * 1e-9);
            if (i > 0)
                printf("  %s/portable speed-up %.2fx", tabs[i]->name, best[w][0] / best[w][i]);
            if (w == 0 && i > 0)
                printf("  (max |d| vs portable %.2g)", maxd[i]);
            printf("\n");
        }
    free(in.q);
    free(in.kt);
    free(in.v);
    free(in.s);
    free(in.x);
    free(in.gu);
    free(in.w);
    free(in.out);
    free(in.y);
    free(ref);
    return 0;
}
