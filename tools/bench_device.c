/*
 * bench_device: "llmspam bench --device DEV" for a device other than the
 * CPU (cuda, cuda:N, auto): the backend made by engine/device.c, timed on
 * packed batches of BATCH messages of N tokens each (throughput: tokens/s,
 * messages/s, TFLOP/s and its fraction of 989 TFLOP/s, the dense bf16
 * datasheet peak of the H100 SXM and H200) and on one message alone
 * (latency: median and p99 of 100 runs). Wall-clock times of whole
 * backend_forward calls, which return only once the logits are on the
 * host; warm-up runs first.
 *
 * The messages are deterministic, so that another implementation can run
 * the very same ids (t/cuda/hf_compare.py does): message m (0-based) is
 * BOS (128000, when the vocabulary has it) then xorshift64 draws
 * x ^= x << 13; x ^= x >> 7; x ^= x << 17 (64-bit), id = x % vocab_size
 * (an id equal to pad_token_id becomes 0), from x = 0x9e3779b97f4a7c15 ^
 * ((m + 1) * 0xbf58476d1ce4e5b9).
 */
#include "config.h"
#include "tools/commands.h"
#include "engine/checkpoint.h"
#include "engine/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PEAK_TFLOPS 989.0
#define LATENCY_RUNS 100

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bench_sort_times(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
}

double bench_quantile(const double *v, int n, double q)
{
    int i = (int)(q * n + 0.999999) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

void bench_message_ids(const llama_config *cfg, long m, long tokens, int32_t *ids)
{
    unsigned long long x = 0x9e3779b97f4a7c15ULL ^ ((unsigned long long)(m + 1) * 0xbf58476d1ce4e5b9ULL);
    for (long i = 0; i < tokens; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ids[i] = (int32_t)(x % (unsigned long long)cfg->vocab_size);
        if (ids[i] == cfg->pad_token_id)
            ids[i] = 0;
    }
    if (cfg->vocab_size > 128000)
        ids[0] = 128000;
}

int bench_device(const char *model_dir, const char *device, long tokens, long batch, long threads, long runs,
                 int json)
{
    engine_err err;
    checkpoint *ck;
    double t0 = now_s();
    if (checkpoint_open(model_dir, &ck, &err)) {
        fprintf(stderr, "llmspam bench: %s\n", err.msg);
        return 1;
    }
    const llama_config *cfg = checkpoint_config(ck);
    if (tokens > cfg->max_position_embeddings || batch * tokens > (1L << 22)) {
        fprintf(stderr, "llmspam bench: %s: --tokens over max_position_embeddings %d, or batch too large\n",
                model_dir, cfg->max_position_embeddings);
        checkpoint_free(ck);
        return 1;
    }
    device_options dopt = {.threads = (int)threads, .max_tokens = (int)tokens,
                           .batch_tokens = (int)(batch * tokens)};
    backend *be;
    char why[512];
    if (device_backend_new(device, ck, &dopt, &be, why, sizeof why, &err)) {
        fprintf(stderr, "llmspam bench: %s\n", err.msg);
        checkpoint_free(ck);
        return 1;
    }
    double load_s = now_s() - t0;
    if (backend_capacity(be) < batch * tokens)
        batch = backend_capacity(be) / tokens; /* the CPU (auto's fallback) holds max_tokens */

    int32_t *ids = malloc((size_t)batch * (size_t)tokens * sizeof *ids);
    const int32_t **seqs = malloc((size_t)batch * sizeof *seqs);
    int *lens = malloc((size_t)batch * sizeof *lens);
    float *logits = malloc((size_t)batch * (size_t)cfg->num_labels * sizeof *logits);
    double *times = malloc((size_t)(runs > LATENCY_RUNS ? runs : LATENCY_RUNS) * sizeof *times);
    if (!ids || !seqs || !lens || !logits || !times) {
        fprintf(stderr, "llmspam bench: out of memory\n");
        return 1;
    }
    for (long m = 0; m < batch; m++) {
        bench_message_ids(cfg, m, tokens, ids + m * tokens);
        seqs[m] = ids + m * tokens;
        lens[m] = (int)tokens;
    }
    int rc = 0;
    backend_batch b = {.n_seqs = (int)batch, .ids = seqs, .lens = lens, .logits = logits};
    backend_batch one = {.n_seqs = 1, .ids = seqs, .lens = lens, .logits = logits};
    /* warm-up: module load, kernels, cuBLASLt heuristics for both shapes */
    for (int w = 0; w < 2 && !rc; w++)
        if (backend_forward(be, &b, &err) || backend_forward(be, &one, &err))
            rc = 1;
    double flops = b.flops;
    for (long r = 0; r < runs && !rc; r++) {
        double t = now_s();
        if (backend_forward(be, &b, &err))
            rc = 1;
        times[r] = now_s() - t;
        flops = b.flops;
    }
    if (rc) {
        fprintf(stderr, "llmspam bench: %s\n", err.msg);
        goto out;
    }
    bench_sort_times(times, (int)runs);
    double med = bench_quantile(times, (int)runs, 0.5), best = times[0];
    double tok_s = (double)batch * tokens / med, msg_s = batch / med, tflops = flops / med / 1e12;

    double lat[LATENCY_RUNS];
    for (int r = 0; r < LATENCY_RUNS && !rc; r++) {
        double t = now_s();
        if (backend_forward(be, &one, &err))
            rc = 1;
        lat[r] = now_s() - t;
    }
    if (rc) {
        fprintf(stderr, "llmspam bench: %s\n", err.msg);
        goto out;
    }
    bench_sort_times(lat, LATENCY_RUNS);
    double lat_med = bench_quantile(lat, LATENCY_RUNS, 0.5),
           lat_p99 = bench_quantile(lat, LATENCY_RUNS, 0.99);

    if (json) {
        printf("{\"device\":\"%s\",\"backend\":\"", device);
        for (const char *p = why; *p; p++)
            if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
                putchar(*p);
        printf("\",\"tokens\":%ld,\"batch\":%ld,\"runs\":%ld,\"tokens_per_s\":%.1f,\"messages_per_s\":%.2f,"
               "\"batch_ms_median\":%.3f,\"batch_ms_best\":%.3f,\"tflops\":%.2f,\"peak_tflops\":%.0f,"
               "\"fraction_of_peak\":%.4f,\"latency_ms_median\":%.3f,\"latency_ms_p99\":%.3f,\"load_s\":%.2f}\n",
               tokens, batch, runs, tok_s, msg_s, med * 1e3, best * 1e3, tflops, PEAK_TFLOPS,
               tflops / PEAK_TFLOPS, lat_med * 1e3, lat_p99 * 1e3, load_s);
    } else {
        printf("model        %s (%d layers, hidden %d, %d labels)\n", model_dir, cfg->num_layers,
               cfg->hidden_size, cfg->num_labels);
        printf("backend      %s; loaded in %.2f s\n", why, load_s);
        printf("throughput   packed batches of %ld x %ld tokens: %.1f ms per batch (median of %ld; best %.1f)\n",
               batch, tokens, med * 1e3, runs, best * 1e3);
        printf("             %.0f tokens/s, %.1f messages/s, %.1f TFLOP/s = %.3f of %.0f TFLOP/s"
               " (H100 SXM/H200 dense bf16)\n", tok_s, msg_s, tflops, tflops / PEAK_TFLOPS, PEAK_TFLOPS);
        printf("latency      one message of %ld tokens: median %.2f ms, p99 %.2f ms (%d runs)\n", tokens,
               lat_med * 1e3, lat_p99 * 1e3, LATENCY_RUNS);
    }
out:
    free(ids);
    free(seqs);
    free(lens);
    free(logits);
    free(times);
    backend_free(be);
    checkpoint_free(ck);
    return rc;
}
