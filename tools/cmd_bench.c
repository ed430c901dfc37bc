/*
 * cmd_bench: "llmspam bench": the CPU forward pass on N tokens, as tokens/s
 * and as a fraction of the peak of the GEMM path in use measured in the
 * same run (cpu_peak: vdpbf16ps for avx512_bf16, f32 FMA for the others),
 * next to the GEMMs alone on the four layer shapes, so the gap between the
 * GEMMs and the whole pass is visible. Reports the path and peak RSS.
 * Best of --runs timings: on a shared machine noise only slows things down.
 */
#include "config.h"
#include "tools/commands.h"
#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "engine/cpu_isa.h"
#include "engine/cpu_peak.h"
#include "engine/forward.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: llmspam bench --model DIR --tokens N [--threads T] [--runs R] [--json]\n"
            "                     [--device DEV [--batch B]]\n"
            "\n"
            "Time the CPU forward pass of the classifier in DIR on one message of N\n"
            "tokens (deterministic pseudo-random ids), and report:\n"
            "  tokens/s and ms per message (best of R runs, after one warm-up run) and\n"
            "  the median (p50) of the R runs;\n"
            "  achieved GFLOP/s, counting the FLOPs of the work actually done;\n"
            "  the GEMM path in use (avx512_bf16, avx512, avx2 or portable; capped by\n"
            "  LLMSPAM_CPU_ISA) and its peak, measured in the same run on T threads:\n"
            "  a vdpbf16ps probe for avx512_bf16, vfmadd231ps zmm for avx512, ymm\n"
            "  otherwise (none for portable on a CPU without FMA); the fraction of it\n"
            "  reached (oneDNN's AMX tiles, where the CPU has them, run above the\n"
            "  vdpbf16ps probe: the peak line then says so, and gemm_amx is true);\n"
            "  the same per CPU-second (all threads' CPU time of the best pass against\n"
            "  one thread's peak), which a shared machine's waits do not lower;\n"
            "  the GEMMs alone on the layer shapes (qkv, o, gate_up, down) at N rows;\n"
            "  where the time goes, and peak RSS.\n"
            "\n"
            "  --model DIR    checkpoint directory (required)\n"
            "  --tokens N     tokens per message (required)\n"
            "  --threads T    compute threads (default: every core)\n"
            "  --runs R       timed runs (default 3)\n"
            "  --device DEV   cuda, cuda:N or auto: time that backend instead, on packed\n"
            "                 batches of B messages of N tokens (tokens/s, messages/s,\n"
            "                 fraction of 989 TFLOP/s) and on one message alone (median\n"
            "                 and p99 latency); see tools/bench_device.c\n"
            "  --batch B      messages per packed batch with --device (default 64)\n"
            "  --json         one JSON object: tokens_per_s, ms_per_message, ms_p50, gflops,\n"
            "                 cpu_path, peak_kind, peak_gflops, fraction_of_peak,\n"
            "                 cpu_fraction_of_peak, gemm_*, gemm_amx, fraction_of_gemm\n"
            "                 (whole pass / GEMMs alone), time_share, peak_rss_mb, ...\n"
            "  -h, --help     this text\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds used by the whole process (every thread), user + system. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

/* The probe of each GEMM path's ceiling (cpu_peak.h). */
typedef enum { PEAK_F32_YMM, PEAK_F32_ZMM, PEAK_BF16 } peak_probe;

static peak_probe probe_of(const char *path)
{
    if (!strcmp(path, "avx512_bf16"))
        return PEAK_BF16;
    return !strcmp(path, "avx512") ? PEAK_F32_ZMM : PEAK_F32_YMM;
}

static const char *probe_name(peak_probe k)
{
    switch (k) {
    case PEAK_BF16: return "bf16 (vdpbf16ps zmm)";
    case PEAK_F32_ZMM: return "f32 FMA (vfmadd231ps zmm)";
    default: return "f32 FMA (vfmadd231ps ymm)";
    }
}

static double probe_gflops(peak_probe k, int threads, int tries)
{
    switch (k) {
    case PEAK_BF16: return cpu_peak_bf16_gflops(threads, tries);
    case PEAK_F32_ZMM: return cpu_peak_f32x16_gflops(threads, tries);
    default: return cpu_peak_f32_gflops(threads, tries);
    }
}

/* One thread's peak per CPU-second: the probe's FLOPs (its rate times its
 * wall time) over the CPU time it used, best of tries. */
static double peak_per_cpu_s(peak_probe probe, int tries)
{
    double best = 0;
    for (int i = 0; i < tries; i++) {
        double w = now_s(), u = cpu_s();
        double gf = probe_gflops(probe, 1, 1);
        w = now_s() - w;
        u = cpu_s() - u;
        double r = u > 0 ? gf * w / u : 0;
        best = r > best ? r : best;
    }
    return best;
}

static const char *const shape_names[FORWARD_GEMMS] = {"qkv", "o", "gate_up", "down"};

int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"tokens", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'},
        {"runs", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"device", required_argument, NULL, 'd'},
        {"batch", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model_dir = NULL;
    long tokens = 0, threads = 0, runs = 3, batch = 64;
    const char *device = "cpu";
    int json = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "m:n:t:r:jd:b:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (ch) {
        case 'm': model_dir = optarg; break;
        case 'n': tokens = strtol(optarg, &end, 10); break;
        case 't': threads = strtol(optarg, &end, 10); break;
        case 'r': runs = strtol(optarg, &end, 10); break;
        case 'j': json = 1; break;
        case 'd': device = optarg; break;
        case 'b': batch = strtol(optarg, &end, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (end && *end) {
            fprintf(stderr, "llmspam bench: bad number '%s'\n", optarg);
            return 2;
        }
    }
    if (!model_dir || tokens < 1 || tokens > 131072 || threads < 0 || threads > 1024 || runs < 1 ||
        runs > 1000 || batch < 1 || batch > 4096 || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? n : 1;
    }
    if (strcmp(device, "cpu"))
        return bench_device(model_dir, device, tokens, batch, threads, runs, json);

    engine_err err;
    checkpoint *ck;
    double t0 = now_s();
    if (checkpoint_open(model_dir, &ck, &err)) {
        fprintf(stderr, "llmspam bench: %s\n", err.msg);
        return 1;
    }
    const llama_config *cfg = checkpoint_config(ck);
    if (tokens > cfg->max_position_embeddings) {
        fprintf(stderr, "llmspam bench: %s: --tokens exceeds max_position_embeddings %d\n", model_dir,
                cfg->max_position_embeddings);
        checkpoint_free(ck);
        return 1;
    }
    backend_options bo = {.threads = (int)threads, .max_tokens = (int)tokens};
    backend *be;
    if (backend_cpu_new(ck, &bo, &be, &err)) {
        fprintf(stderr, "llmspam bench: %s\n", err.msg);
        checkpoint_free(ck);
        return 1;
    }
    double load_s = now_s() - t0;
    forward *fw = backend_cpu_forward_state(be);

    int32_t *ids = malloc((size_t)tokens * sizeof *ids);
    float *logits = malloc((size_t)cfg->num_labels * sizeof *logits);
    if (!ids || !logits) {
        fprintf(stderr, "llmspam bench: out of memory\n");
        return 1;
    }
    bench_message_ids(cfg, -1, tokens, ids);
    const int32_t *seqs[1] = {ids};
    int lens[1] = {(int)tokens};

    /* the ceiling of the path in use */
    const char *path = forward_gemm_path(fw);
    peak_probe probe = probe_of(path);
    const char *peak_kind = probe_name(probe);
    double peak = probe_gflops(probe, (int)threads, 5);
    if (peak <= 0)
        peak_kind = "none";
    double best = 1e30, best_cpu = 1e30, flops = 0;
    double *times = malloc((size_t)runs * sizeof *times);
    if (!times) {
        fprintf(stderr, "llmspam bench: out of memory\n");
        return 1;
    }
    for (long r = 0; r <= runs; r++) {
        backend_batch b = {.n_seqs = 1, .ids = seqs, .lens = lens, .logits = logits};
        if (r == 1)
            forward_profile(fw, NULL, 1);
        double t = now_s(), u = cpu_s();
        if (backend_forward(be, &b, &err)) {
            fprintf(stderr, "llmspam bench: %s\n", err.msg);
            return 1;
        }
        t = now_s() - t;
        u = cpu_s() - u;
        flops = b.flops;
        if (r > 0)
            times[r - 1] = t;
        if (r > 0 && t < best)
            best = t;
        if (r > 0 && u < best_cpu)
            best_cpu = u;
    }
    double prof[FORWARD_PHASES];
    forward_profile(fw, prof, 0);

    double gemm_best[FORWARD_GEMMS], gemm_flops[FORWARD_GEMMS];
    for (int w = 0; w < FORWARD_GEMMS; w++) {
        gemm_best[w] = 1e30;
        for (long r = 0; r <= runs; r++) {
            double t = now_s();
            if (forward_gemm_only(fw, (forward_gemm)w, (int)tokens, &gemm_flops[w], &err)) {
                fprintf(stderr, "llmspam bench: %s\n", err.msg);
                return 1;
            }
            t = now_s() - t;
            if (r > 0 && t < gemm_best[w])
                gemm_best[w] = t;
        }
    }
    /* oneDNN picks AMX tiles where the CPU has them (Sapphire Rapids on):
     * they run far above vdpbf16ps, and there is no probe of their peak,
     * so the fractions are then only against vdpbf16ps and say so. */
    int amx = 0;
    for (int w = 0; w < FORWARD_GEMMS; w++)
        amx |= strstr(forward_gemm_impl(fw, (forward_gemm)w, (int)tokens), "amx") != NULL;
    if (amx)
        peak_kind = "bf16 (vdpbf16ps zmm; not the ceiling of the AMX tiles in use)";
    /* the probe again after the work: the best of both */
    double peak2 = probe_gflops(probe, (int)threads, 5);
    peak = peak2 > peak ? peak2 : peak;
    /* On a shared machine the wall clock of a long pass counts the time its
     * threads wait for a core, which a short probe escapes: so also the
     * FLOPs per CPU-second (every thread, spinning included) against one
     * thread's peak. */
    double peak1 = peak_per_cpu_s(probe, 5);
    double cpu_gflops = flops / best_cpu / 1e9;

    double gflops = flops / best / 1e9;
    bench_sort_times(times, (int)runs);
    double p50 = bench_quantile(times, (int)runs, 0.5);
    free(times);
    double gemm_t = 0, gemm_f = 0;
    for (int w = 0; w < FORWARD_GEMMS; w++) {
        gemm_t += gemm_best[w];
        gemm_f += gemm_flops[w];
    }
    double gemm_gflops = gemm_f / gemm_t / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = ru.ru_maxrss / 1024.0;
    double total_prof = 0;
    for (int p = 0; p < FORWARD_PHASES; p++)
        total_prof += prof[p];

    if (json) {
        printf("{\"tokens\":%ld,\"threads\":%ld,\"runs\":%ld,\"tokens_per_s\":%.2f,"
               "\"ms_per_message\":%.2f,\"ms_p50\":%.2f,\"gflops\":%.1f,\"cpu_path\":\"%s\","
               "\"peak_kind\":\"%s\","
               "\"peak_gflops\":%.1f,"
               "\"fraction_of_peak\":%.4f,\"gemm_gflops\":%.1f,\"gemm_fraction_of_peak\":%.4f,"
               "\"fraction_of_gemm\":%.4f,\"cpu_s\":%.3f,\"gflops_per_cpu_s\":%.1f,"
               "\"peak_one_thread_gflops\":%.1f,\"cpu_fraction_of_peak\":%.4f,\"gemm_amx\":%s,",
               tokens, threads, runs, tokens / best, best * 1e3, p50 * 1e3, gflops, path, peak_kind,
               peak,
               peak > 0 ? gflops / peak : 0, gemm_gflops, peak > 0 ? gemm_gflops / peak : 0,
               gflops / gemm_gflops, best_cpu, cpu_gflops, peak1, peak1 > 0 ? cpu_gflops / peak1 : 0,
               amx ? "true" : "false");
        for (int w = 0; w < FORWARD_GEMMS; w++)
            printf("\"gemm_%s_gflops\":%.1f,\"gemm_%s_fraction\":%.4f,\"gemm_%s_impl\":\"%s\",",
                   shape_names[w], gemm_flops[w] / gemm_best[w] / 1e9, shape_names[w],
                   peak > 0 ? gemm_flops[w] / gemm_best[w] / 1e9 / peak : 0, shape_names[w],
                   forward_gemm_impl(fw, (forward_gemm)w, (int)tokens));
        printf("\"time_share\":{");
        for (int p = 0; p < FORWARD_PHASES; p++)
            printf("%s\"%s\":%.4f", p ? "," : "", forward_phase_name(p),
                   total_prof > 0 ? prof[p] / total_prof : 0);
        printf("},\"kernels\":\"%s\",\"load_s\":%.2f,\"peak_rss_mb\":%.0f}\n",
               forward_kernels(fw)->name, load_s, rss_mb);
    } else {
        printf("model        %s (%d layers, hidden %d, %d labels)\n", model_dir, cfg->num_layers,
               cfg->hidden_size, cfg->num_labels);
        printf("backend      %s; loaded in %.2f s\n", be->desc, load_s);
        printf("cpu_path     %s (CPU %s)%s%s\n", path, cpu_isa_name(cpu_isa_detected()),
               cpu_isa_cap_error() ? "; " : "", cpu_isa_cap_error() ? cpu_isa_cap_error() : "");
        printf("forward      %ld tokens: %.1f ms/message, %.1f tokens/s (best of %ld); p50 %.1f ms\n",
               tokens, best * 1e3, tokens / best, runs, p50 * 1e3);
        if (peak > 0)
            printf("achieved     %.1f GFLOP/s of %.1f GFLOP/s %s peak (probe, %ld threads)"
                   " = %.3f of peak\n", gflops, peak, peak_kind, threads, gflops / peak);
        else
            printf("achieved     %.1f GFLOP/s; peak: none (this CPU has no FMA probe)\n", gflops);
        if (peak1 > 0)
            printf("per CPU-s    %.1f GFLOP/s per CPU-second (%.3f CPU-s for the best pass) of %.1f"
                   " GFLOP/s per CPU-second one-thread peak = %.3f of peak\n", cpu_gflops, best_cpu, peak1, cpu_gflops / peak1);
        printf("GEMM alone   %.1f GFLOP/s = %.3f of peak (%s, M=%ld); the whole pass runs at"
               " %.3f of it\n", gemm_gflops, peak > 0 ? gemm_gflops / peak : 0, path, tokens,
               gflops / gemm_gflops);
        for (int w = 0; w < FORWARD_GEMMS; w++)
            printf("  %-8s   %.1f GFLOP/s = %.3f of peak (%s)\n", shape_names[w],
                   gemm_flops[w] / gemm_best[w] / 1e9,
                   peak > 0 ? gemm_flops[w] / gemm_best[w] / 1e9 / peak : 0,
                   forward_gemm_impl(fw, (forward_gemm)w, (int)tokens));
        printf("time share  ");
        for (int p = 0; p < FORWARD_PHASES; p++)
            printf(" %s %.1f%%", forward_phase_name(p), total_prof > 0 ? 100 * prof[p] / total_prof : 0);
        printf("\npeak RSS     %.0f MB\n", rss_mb);
    }
    free(ids);
    free(logits);
    backend_free(be);
    checkpoint_free(ck);
    return 0;
}
