/*
 * test_gemm: every GEMM path this machine can run (respecting the
 * LLMSPAM_CPU_ISA cap) against a double-precision reference of the same
 * bf16 inputs, in the spirit of ggml's test-backend-ops: the four layer
 * shapes of Llama-3.2-1B at m = 1, 7 and 300 rows (one plan serving all
 * three, as the forward pass uses it; the big ones check a sample of the
 * outputs), odd shapes (k and n not multiples of 16 or 64), and the
 * accumulate variant (C += A W^T, the residual add). The avx512 and avx2
 * paths share their blocking and summation order (gemm_blocked.h): where
 * the CPU has both, they must give the same bits. Then, in child
 * processes, that gemm_path() honours LLMSPAM_CPU_ISA.
 *
 * Tolerance: every path accumulates in fp32 and bf16 products are exact
 * in fp32, so each output may differ from the exact sum by fp32 rounding
 * of the partial sums: |got - want| <= 1e-5 * (sum_k |a*w| + |c0|) + 1e-6,
 * c0 the value C held before an accumulate (0 otherwise).
 */
#include "config.h"
#include "engine/bf16.h"
#include "engine/cpu_isa.h"
#include "engine/gemm.h"
#include "t/lib/tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REL_TOL 1e-5
#define ABS_TOL 1e-6

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned long long next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static float frand(void)
{
    return (float)((next() >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static void fill_bf16(uint16_t *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = f32_to_bf16(frand());
}

/* One output against the reference; returns its error over its tolerance. */
static double check_one(const uint16_t *a, const uint16_t *w, int k, int i, int j, float got, float c0)
{
    double sum = 0, mag = 0;
    for (int q = 0; q < k; q++) {
        double t = (double)bf16_to_f32(a[(size_t)i * k + q]) * bf16_to_f32(w[(size_t)j * k + q]);
        sum += t;
        mag += fabs(t);
    }
    double want = (double)c0 + sum;
    double tol = REL_TOL * (mag + fabs(c0)) + ABS_TOL;
    return fabs((double)got - want) / tol;
}

typedef struct shape {
    const char *name;
    int n, k;
} shape;

/* Products of each m in ms[] with one weight and one plan made for the
 * largest; outputs are sampled when there are many. */
static void check_shape(gemm_ctx *g, const shape *s, const int *ms, int nms, bool accumulate, int threads)
{
    int max_m = 0;
    for (int i = 0; i < nms; i++)
        max_m = ms[i] > max_m ? ms[i] : max_m;
    int rows = gemm_bucket(max_m), n = s->n, k = s->k;
    uint16_t *w = malloc((size_t)n * k * sizeof *w);
    uint16_t *a = malloc((size_t)rows * k * sizeof *a);
    float *c = malloc((size_t)rows * n * sizeof *c), *c0 = malloc((size_t)rows * n * sizeof *c0);
    if (!w || !a || !c || !c0) {
        tap_ok(false, "%s: out of memory", s->name);
        goto out;
    }
    fill_bf16(w, (size_t)n * k);
    engine_err err;
    gemm_weight *gw = NULL;
    gemm_plan *p = NULL;
    if (gemm_weight_new(g, s->name, n, k, max_m, w, &gw, &err) ||
        gemm_plan_new(g, gw, max_m, accumulate, threads, &p, &err)) {
        tap_ok(false, "%s %s: %s", gemm_path(g), s->name, err.msg);
        gemm_weight_free(gw);
        goto out;
    }
    for (int mi = 0; mi < nms; mi++) {
        int m = ms[mi];
        fill_bf16(a, (size_t)rows * k);
        for (size_t e = 0; e < (size_t)rows * n; e++)
            c0[e] = accumulate ? frand() : NAN; /* "=" must overwrite NaNs */
        memcpy(c, c0, (size_t)rows * n * sizeof *c);
        if (gemm_run(p, gw, m, a, c, &err)) {
            tap_ok(false, "%s %s m=%d: %s", gemm_path(g), s->name, m, err.msg);
            continue;
        }
        double worst = 0;
        long checked = 0;
        int wi = 0, wj = 0;
#define CHECK(ii, jj)                                                                          \
    do {                                                                                       \
        int i_ = (ii), j_ = (jj);                                                              \
        float z = accumulate ? c0[(size_t)i_ * n + j_] : 0;                                    \
        double r = check_one(a, w, k, i_, j_, c[(size_t)i_ * n + j_], z);                      \
        if (!(r <= worst)) {                                                                   \
            worst = r;                                                                         \
            wi = i_;                                                                           \
            wj = j_;                                                                           \
        }                                                                                      \
        checked++;                                                                             \
    } while (0)
        if ((double)m * n * k <= 6e7) {
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    CHECK(i, j);
        } else {
            /* every column of the first, a middle and the last row; every
             * row of the first, a middle and the last column; and a random
             * sample (tile edges land in all of them) */
            int rs[3] = {0, m / 2, m - 1}, cs[3] = {0, n / 2, n - 1};
            for (int t = 0; t < 3; t++)
                for (int j = 0; j < n; j++)
                    CHECK(rs[t], j);
            for (int t = 0; t < 3; t++)
                for (int i = 0; i < m; i++)
                    CHECK(i, cs[t]);
            for (int t = 0; t < 3000; t++)
                CHECK((int)(next() % (unsigned)m), (int)(next() % (unsigned)n));
        }
#undef CHECK
        if (!tap_ok(worst <= 1.0, "%s %s%s m=%d n=%d k=%d: %ld outputs within tolerance", gemm_path(g),
                    s->name, accumulate ? " (accumulate)" : "", m, n, k, checked))
            tap_diag("worst at [%d][%d]: %.3g of the tolerance (%s)", wi, wj, worst,
                     gemm_plan_impl(p, m));
    }
    gemm_plan_free(p);
    gemm_weight_free(gw);
out:
    free(w);
    free(a);
    free(c);
    free(c0);
}

static const shape layers[] = {
    {"qkv", 3072, 2048},
    {"o", 2048, 2048},
    {"gate_up", 16384, 2048},
    {"down", 2048, 8192},
};

static void check_path(gemm_ctx *g)
{
    static const int ms[] = {1, 7, 300};
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        check_shape(g, &layers[i], ms, 3, i == 1 || i == 3, 2);
    /* odd shapes: k and n off every block size, each with 1 and 2 threads;
     * 576 (SmolLM2's hidden size) splits into column blocks narrower than
     * the usual ones */
    static const struct {
        shape s;
        int m;
    } odd[] = {
        {{"1x1", 1, 1}, 1},   {{"37x45", 45, 37}, 37}, {{"129x67", 67, 129}, 129},
        {{"300x1000x75", 1000, 75}, 300}, {{"5x17x257", 17, 257}, 5}, {{"23x33x600", 33, 600}, 23},
        {{"256x576x576", 576, 576}, 256},
    };
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        for (int acc = 0; acc < 2; acc++) {
            int om[3] = {odd[i].m, odd[i].m > 1 ? odd[i].m - 1 : 1, 1};
            check_shape(g, &odd[i].s, om, 3, acc, acc ? 1 : 2);
        }
}

/* The child's report: the path gemm_ctx_new chose and the cap's error. */
static int child_path(void)
{
    gemm_ctx *g;
    engine_err err;
    if (gemm_ctx_new(&g, &err)) {
        printf("error %s\n", err.msg);
        return 1;
    }
    const char *cap = cpu_isa_cap_error();
    printf("%s %s\n", gemm_path(g), cap ? "cap-error" : "cap-ok");
    gemm_ctx_free(g);
    return 0;
}

/* Run this program as a child with LLMSPAM_CPU_ISA=value (NULL: unset);
 * *path gets the path it chose. Returns 0 when it answered. */
static int run_child(const char *self, const char *value, char *path, size_t len, bool *cap_error)
{
    char cmd[4096];
    if (value)
        snprintf(cmd, sizeof cmd, "LLMSPAM_CPU_ISA='%s' '%s' --path", value, self);
    else
        snprintf(cmd, sizeof cmd, "env -u LLMSPAM_CPU_ISA '%s' --path", self);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    char line[256] = "", flag[64] = "";
    char *got = fgets(line, sizeof line, f);
    int rc = pclose(f);
    if (!got || rc != 0 || sscanf(line, "%63s %63s", path, flag) != 2)
        return -1;
    (void)len;
    *cap_error = !strcmp(flag, "cap-error");
    return 0;
}

/* The avx512 and avx2 paths on the same inputs: the same bits, for the
 * gemv rows (m <= 4), whole 16-row and 6-row tiles, the rows left over by
 * either, edge columns, and several KC slices. */
static void check_same_bits(void)
{
    if (cpu_isa_get() < CPU_ISA_AVX512) {
        tap_skip("no avx512 path here: nothing to compare with avx2");
        return;
    }
    gemm_ctx *g[2] = {NULL, NULL};
    engine_err err;
    if (!tap_ok(!gemm_ctx_new_capped(CPU_ISA_AVX512, &g[0], &err) &&
                    !gemm_ctx_new_capped(CPU_ISA_AVX2, &g[1], &err) &&
                    !strcmp(gemm_path(g[0]), "avx512") && !strcmp(gemm_path(g[1]), "avx2"),
                "contexts for the avx512 and avx2 paths")) {
        gemm_ctx_free(g[0]);
        gemm_ctx_free(g[1]);
        return;
    }
    static const struct {
        shape s;
        int m;
    } cases[] = {
        {{"256x576x576", 576, 576}, 256}, {{"257x1536x576", 1536, 576}, 257},
        {{"300x1000x75", 1000, 75}, 300}, {{"23x33x600", 33, 600}, 23},
        {{"19x576x1536", 576, 1536}, 19}, {{"4x576x1536", 576, 1536}, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int acc = 0; acc < 2; acc++) {
            int n = cases[i].s.n, k = cases[i].s.k, m = cases[i].m, rows = gemm_bucket(m);
            uint16_t *w = malloc((size_t)n * k * sizeof *w), *a = malloc((size_t)rows * k * sizeof *a);
            float *c[2] = {malloc((size_t)rows * n * sizeof(float)), malloc((size_t)rows * n * sizeof(float))};
            gemm_weight *gw[2] = {NULL, NULL};
            gemm_plan *p[2] = {NULL, NULL};
            bool ok = w && a && c[0] && c[1];
            if (ok) {
                fill_bf16(w, (size_t)n * k);
                fill_bf16(a, (size_t)rows * k);
                for (size_t e = 0; e < (size_t)rows * n; e++)
                    c[0][e] = c[1][e] = acc ? frand() : 0;
            }
            for (int t = 0; ok && t < 2; t++)
                ok = !gemm_weight_new(g[t], cases[i].s.name, n, k, m, w, &gw[t], &err) &&
                     !gemm_plan_new(g[t], gw[t], m, acc, 2, &p[t], &err) &&
                     !gemm_run(p[t], gw[t], m, a, c[t], &err);
            size_t diff = 0;
            for (size_t e = 0; ok && e < (size_t)m * n; e++)
                diff += memcmp(&c[0][e], &c[1][e], sizeof(float)) != 0;
            tap_ok(ok && diff == 0, "avx512 (%s) and avx2 (%s) %s%s: the same bits (%zu of %zu differ)",
                   ok ? gemm_plan_impl(p[0], m) : "?", ok ? gemm_plan_impl(p[1], m) : "?",
                   cases[i].s.name, acc ? " (accumulate)" : "", diff, (size_t)m * n);
            for (int t = 0; t < 2; t++) {
                gemm_plan_free(p[t]);
                gemm_weight_free(gw[t]);
                free(c[t]);
            }
            free(w);
            free(a);
        }
    gemm_ctx_free(g[0]);
    gemm_ctx_free(g[1]);
}

static void check_env(const char *self)
{
    static const char *const caps[] = {"portable", "avx2", "avx512", "avx512_bf16"};
    cpu_isa det = cpu_isa_detected();
    char base[64], path[64];
    bool cap_err;
    if (!tap_ok(run_child(self, NULL, base, sizeof base, &cap_err) == 0, "uncapped child reports a path"))
        return;
    cpu_isa br;
    tap_ok(!cpu_isa_parse(base, &br) && br <= det, "uncapped path %s is within this CPU's %s", base,
           cpu_isa_name(det));
    for (int i = 0; i < 4; i++) {
        cpu_isa cap = (cpu_isa)i, pr, lim = cap < det ? cap : det;
        if (run_child(self, caps[i], path, sizeof path, &cap_err)) {
            tap_ok(false, "LLMSPAM_CPU_ISA=%s: the child reports a path", caps[i]);
            continue;
        }
        bool ok = !cpu_isa_parse(path, &pr) && pr <= lim && !cap_err;
        /* portable, avx2 and avx512 depend on no library: the cap gives
         * exactly them */
        if (lim <= CPU_ISA_AVX512)
            ok = ok && pr == lim;
        tap_ok(ok, "LLMSPAM_CPU_ISA=%s gives path %s (CPU %s)", caps[i], path, cpu_isa_name(det));
    }
    if (run_child(self, "avx9000", path, sizeof path, &cap_err) == 0)
        tap_ok(cap_err && !strcmp(path, base),
               "a bad LLMSPAM_CPU_ISA is reported and ignored (path %s)", path);
    else
        tap_ok(false, "LLMSPAM_CPU_ISA=avx9000: the child reports a path");
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--path"))
        return child_path();
    cpu_isa top = cpu_isa_get();
    tap_diag("CPU %s, capped to %s", cpu_isa_name(cpu_isa_detected()), cpu_isa_name(top));
    gemm_ctx *def;
    engine_err err;
    if (tap_ok(gemm_ctx_new(&def, &err) == ENGINE_OK, "gemm_ctx_new")) {
        cpu_isa pr;
        tap_ok(!cpu_isa_parse(gemm_path(def), &pr) && pr <= top, "the default path %s respects the cap %s",
               gemm_path(def), cpu_isa_name(top));
        gemm_ctx_free(def);
    }
    /* every path up to the cap, each once */
    const char *done[4] = {0};
    int ndone = 0;
    for (int c = CPU_ISA_PORTABLE; c <= (int)top; c++) {
        gemm_ctx *g;
        if (gemm_ctx_new_capped((cpu_isa)c, &g, &err)) {
            tap_ok(false, "gemm_ctx_new_capped(%s): %s", cpu_isa_name((cpu_isa)c), err.msg);
            continue;
        }
        bool seen = false;
        for (int i = 0; i < ndone; i++)
            seen = seen || !strcmp(done[i], gemm_path(g));
        if (seen) {
            tap_diag("cap %s gives path %s again", cpu_isa_name((cpu_isa)c), gemm_path(g));
        } else {
            done[ndone++] = gemm_path(g);
            check_path(g);
        }
        gemm_ctx_free(g);
    }
    check_same_bits();
    check_env(argv[0]);
    return tap_done();
}
