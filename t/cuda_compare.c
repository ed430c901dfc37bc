/*
 * cuda_compare: the CUDA backend checked against the CPU backend on one
 * checkpoint (ggml's rule: every backend checked against the CPU). For a
 * set of sequence lengths around the attention tile edges (1, 63, 64, 65,
 * 128...) up to MAX_TOKENS, with deterministic pseudo-random ids:
 *   - CUDA alone vs CPU alone: logits within 2e-2 absolute, probabilities
 *     (softmax, sigmoid or the raw value, as the config says) within 1e-2;
 *   - CUDA batched (every sequence packed into as few batches as the
 *     capacity allows) vs CUDA alone: the same tolerances;
 *   - CUDA run twice: the largest difference (a diagnostic).
 * With LLMSPAM_CUDA_INJECT_FAULT=2 (the module's test hook), instead: a
 * forward, one that faults (illegal address, context lost), and one that
 * must succeed after the backend's reset with the first one's answer.
 * TAP on stdout, ending with one "# json {...}" line of the figures (for
 * t/cuda/gpu-check.sh; a figure that is not finite is null). Without a usable GPU (or module), "1..0 # SKIP why" and
 * exit 77. Run by t/cuda_gpu.sh and t/cuda/gpu-check.sh, never alone by
 * make check (it needs a GPU).
 *
 * usage: cuda_compare MODEL_DIR [MAX_TOKENS [NSEQ [SEED]]]
 */
#include "config.h"
#include "engine/checkpoint.h"
#include "engine/device.h"
#include "t/lib/tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOGIT_TOL 2e-2
#define PROB_TOL 1e-2

static void probs_of(const llama_config *c, const float *logits, double *p)
{
    int n = c->num_labels;
    if (c->problem == LLAMA_REGRESSION || n == 1) {
        for (int i = 0; i < n; i++)
            p[i] = logits[i];
    } else if (c->problem == LLAMA_MULTI_LABEL) {
        for (int i = 0; i < n; i++)
            p[i] = 1.0 / (1.0 + exp(-(double)logits[i]));
    } else {
        double mx = logits[0], s = 0;
        for (int i = 1; i < n; i++)
            mx = logits[i] > mx ? logits[i] : mx;
        for (int i = 0; i < n; i++)
            s += p[i] = exp((double)logits[i] - mx);
        for (int i = 0; i < n; i++)
            p[i] /= s;
    }
}

/* Largest differences between two logit rows: logits, probabilities. */
static void diff(const llama_config *c, const float *a, const float *b, double *dl, double *dp)
{
    double pa[LLAMA_MAX_LABELS], pb[LLAMA_MAX_LABELS];
    probs_of(c, a, pa);
    probs_of(c, b, pb);
    *dl = *dp = 0;
    for (int i = 0; i < c->num_labels; i++) {
        double x = fabs((double)a[i] - b[i]), y = fabs(pa[i] - pb[i]);
        if (!(x <= *dl))
            *dl = isnan(x) ? INFINITY : x;
        if (!(y <= *dp))
            *dp = isnan(y) ? INFINITY : y;
    }
}

/* A figure for the json line: %.6g, or null when not finite. */
static const char *jnum(double v, char *buf, size_t len)
{
    if (isfinite(v))
        snprintf(buf, len, "%.6g", v);
    else
        snprintf(buf, len, "null");
    return buf;
}

static engine_status forward(backend *be, int n, const int32_t *const *ids, const int *lens, float *logits,
                             engine_err *err)
{
    backend_batch b = {.n_seqs = n, .ids = ids, .lens = lens, .logits = logits};
    return backend_forward(be, &b, err);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: cuda_compare MODEL_DIR [MAX_TOKENS [NSEQ [SEED]]]\n");
        return 2;
    }
    int max_tokens = argc > 2 ? atoi(argv[2]) : 512, nseq = argc > 3 ? atoi(argv[3]) : 16;
    unsigned long long seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    if (max_tokens < 1 || nseq < 1 || nseq > 64) {
        fprintf(stderr, "cuda_compare: MAX_TOKENS >= 1, NSEQ 1..64\n");
        return 2;
    }
    engine_err err;
    checkpoint *ck;
    if (checkpoint_open(argv[1], &ck, &err)) {
        printf("Bail out! %s\n", err.msg);
        return 1;
    }
    const llama_config *c = checkpoint_config(ck);
    if (max_tokens > c->max_position_embeddings)
        max_tokens = c->max_position_embeddings;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    device_options dopt = {.threads = ncpu > 0 ? (int)ncpu : 1, .max_tokens = max_tokens};
    backend *gpu = NULL, *cpu = NULL;
    char why[256];
    if (device_backend_new("cuda", ck, &dopt, &gpu, why, sizeof why, &err)) {
        printf("1..0 # SKIP %s\n", err.msg);
        checkpoint_free(ck);
        return 77;
    }
    tap_diag("gpu: %s", why);
    if (device_backend_new("cpu", ck, &dopt, &cpu, why, sizeof why, &err)) {
        printf("Bail out! cpu backend: %s\n", err.msg);
        return 1;
    }
    tap_diag("cpu: %s", why);

    if (getenv("LLMSPAM_CUDA_INJECT_FAULT")) {
        /* the recovery test: the module was told to fault in the 2nd forward */
        int len = max_tokens < 100 ? max_tokens : 100;
        int32_t *seq = malloc((size_t)len * sizeof *seq);
        float a[LLAMA_MAX_LABELS], b2[LLAMA_MAX_LABELS], c3[LLAMA_MAX_LABELS];
        if (!seq) {
            printf("Bail out! out of memory\n");
            return 1;
        }
        for (int i = 0; i < len; i++)
            seq[i] = (int32_t)((i * 7919u + 11u) % (unsigned)c->vocab_size);
        const int32_t *one[1] = {seq};
        engine_status s1 = forward(gpu, 1, one, &len, a, &err);
        tap_ok(s1 == ENGINE_OK, "forward 1 succeeds");
        engine_status s2 = forward(gpu, 1, one, &len, b2, &err);
        tap_ok(s2 == ENGINE_ERR_BACKEND, "forward 2 (injected illegal address) fails with a backend status: %s",
               s2 ? err.msg : "it succeeded");
        engine_status s3 = forward(gpu, 1, one, &len, c3, &err);
        if (!tap_ok(s3 == ENGINE_OK, "forward 3 succeeds after the reset"))
            tap_diag("%s", err.msg);
        double dl, dp;
        diff(c, a, c3, &dl, &dp);
        tap_ok(s3 == ENGINE_OK && dl <= 1e-6, "and answers as forward 1 (%.3g)", dl);
        char j1[32];
        tap_diag("json {\"fault\":{\"forward1_ok\":%s,\"fault_status\":\"%s\",\"after_reset_ok\":%s,"
                 "\"after_reset_logit_diff\":%s}}",
                 s1 == ENGINE_OK ? "true" : "false", engine_status_name(s2), s3 == ENGINE_OK ? "true" : "false",
                 s3 == ENGINE_OK ? jnum(dl, j1, sizeof j1) : "null");
        free(seq);
        backend_free(gpu);
        backend_free(cpu);
        checkpoint_free(ck);
        return tap_done();
    }

    /* lengths around the 64-row attention tiles, then the longest */
    static const int wanted[] = {1, 2, 3, 15, 17, 63, 64, 65, 100, 127, 128, 129, 200, 255, 256, 257,
                                 383, 384, 385, 511, 512, 1000, 1024, 2048, 4096};
    int lens[64], n = 0;
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0] && n < nseq - 1; i++)
        if (wanted[i] < max_tokens)
            lens[n++] = wanted[i];
    lens[n++] = max_tokens;
    int32_t *ids[64];
    unsigned long long x = 0x9e3779b97f4a7c15ULL ^ seed;
    for (int s = 0; s < n; s++) {
        ids[s] = malloc((size_t)lens[s] * sizeof **ids);
        if (!ids[s]) {
            printf("Bail out! out of memory\n");
            return 1;
        }
        for (int i = 0; i < lens[s]; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ids[s][i] = (int32_t)(x % (unsigned long long)c->vocab_size);
        }
    }
    int L = c->num_labels;
    float *lc = calloc((size_t)n * L, sizeof *lc), *lg = calloc((size_t)n * L, sizeof *lg);
    float *lg2 = calloc((size_t)n * L, sizeof *lg2), *lb = calloc((size_t)n * L, sizeof *lb);
    if (!lc || !lg || !lg2 || !lb) {
        printf("Bail out! out of memory\n");
        return 1;
    }
    double worst_l = 0, worst_p = 0, rerun = 0;
    for (int s = 0; s < n; s++) {
        const int32_t *one[1] = {ids[s]};
        engine_status st = forward(cpu, 1, one, &lens[s], lc + (size_t)s * L, &err);
        if (!tap_ok(st == ENGINE_OK, "cpu forward, %d tokens", lens[s]))
            tap_diag("%s", err.msg);
        st = forward(gpu, 1, one, &lens[s], lg + (size_t)s * L, &err);
        if (!tap_ok(st == ENGINE_OK, "cuda forward, %d tokens", lens[s]))
            tap_diag("%s", err.msg);
        st = forward(gpu, 1, one, &lens[s], lg2 + (size_t)s * L, &err);
        double dl, dp, d2, dummy;
        diff(c, lc + (size_t)s * L, lg + (size_t)s * L, &dl, &dp);
        diff(c, lg + (size_t)s * L, lg2 + (size_t)s * L, &d2, &dummy);
        if (st == ENGINE_OK && d2 > rerun)
            rerun = d2;
        tap_ok(dl <= LOGIT_TOL && dp <= PROB_TOL,
               "cuda vs cpu, %d tokens: logits within %g (%.3g), probabilities within %g (%.3g)", lens[s],
               LOGIT_TOL, dl, PROB_TOL, dp);
        if (!(dl <= LOGIT_TOL))
            tap_diag("cpu logit[0] %.6f cuda %.6f", lc[(size_t)s * L], lg[(size_t)s * L]);
        worst_l = dl > worst_l ? dl : worst_l;
        worst_p = dp > worst_p ? dp : worst_p;
    }
    tap_diag("cuda vs cpu, worst of %d sequences: logits %.3g, probabilities %.3g", n, worst_l, worst_p);
    tap_diag("cuda run twice on the same input: largest logit difference %.3g", rerun);

    /* packed batches: as many sequences as the capacity holds, in order */
    int cap = backend_capacity(gpu), batches = 0;
    double bl = 0, bp = 0;
    bool ok = true;
    for (int s0 = 0; s0 < n;) {
        int s1 = s0, tok = 0;
        while (s1 < n && tok + lens[s1] <= cap)
            tok += lens[s1++];
        if (forward(gpu, s1 - s0, (const int32_t *const *)ids + s0, lens + s0, lb + (size_t)s0 * L, &err)) {
            tap_diag("batch of %d: %s", s1 - s0, err.msg);
            ok = false;
        }
        batches++;
        s0 = s1;
    }
    for (int s = 0; s < n; s++) {
        double dl, dp;
        diff(c, lg + (size_t)s * L, lb + (size_t)s * L, &dl, &dp);
        bl = dl > bl ? dl : bl;
        bp = dp > bp ? dp : bp;
    }
    tap_ok(ok && bl <= LOGIT_TOL && bp <= PROB_TOL,
           "cuda batched (%d sequences in %d packed batches) vs alone: logits %.3g, probabilities %.3g", n,
           batches, bl, bp);

    /* the same sequence twice in one batch, at different offsets */
    const int32_t *twice[2] = {ids[n - 1], ids[n - 1]};
    int tl[2] = {lens[n - 1], lens[n - 1]};
    float two[2 * LLAMA_MAX_LABELS];
    if (2 * lens[n - 1] <= cap) {
        engine_status st = forward(gpu, 2, twice, tl, two, &err);
        double d0, d1, p0, p1;
        diff(c, lg + (size_t)(n - 1) * L, two, &d0, &p0);
        diff(c, lg + (size_t)(n - 1) * L, two + L, &d1, &p1);
        tap_ok(st == ENGINE_OK && d0 <= LOGIT_TOL && d1 <= LOGIT_TOL,
               "one sequence twice in a batch: both as alone (%.3g, %.3g)", d0, d1);
    } else {
        tap_skip("capacity below two longest sequences");
    }
    char a1[32], a2[32], a3[32], a4[32], a5[32];
    tap_diag("json {\"sequences\":%d,\"max_tokens\":%d,\"worst_logit\":%s,\"worst_prob\":%s,"
             "\"batches\":%d,\"batched_vs_alone_logit\":%s,\"batched_vs_alone_prob\":%s,\"rerun_logit\":%s,"
             "\"logit_tol\":%g,\"prob_tol\":%g}",
             n, max_tokens, jnum(worst_l, a1, sizeof a1), jnum(worst_p, a2, sizeof a2), batches,
             jnum(bl, a3, sizeof a3), jnum(bp, a4, sizeof a4), jnum(rerun, a5, sizeof a5), LOGIT_TOL, PROB_TOL);

    for (int s = 0; s < n; s++)
        free(ids[s]);
    free(lc);
    free(lg);
    free(lg2);
    free(lb);
    backend_free(gpu);
    backend_free(cpu);
    checkpoint_free(ck);
    return tap_done();
}
