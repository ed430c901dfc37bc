/*
 * cpu_peak_time: the timing loop of both peak probes (cpu_peak.h). The
 * threads start together at a barrier; the clock stops when the last one
 * is done.
 */
#include "config.h"
#include "engine/cpu_peak.h"

#include <omp.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double cpu_peak_best_gflops(void (*chains)(void), int threads, int tries, double flops_per_thread)
{
    double best = 0;
    for (int t = 0; t < tries; t++) {
        double t0 = 0, t1;
#pragma omp parallel num_threads(threads)
        {
#pragma omp barrier
#pragma omp master
            t0 = now_s();
            chains();
        }
        t1 = now_s();
        double gf = threads * flops_per_thread / (t1 - t0) / 1e9;
        if (gf > best)
            best = gf;
    }
    return best;
}
