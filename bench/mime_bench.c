/*
 * mime_bench: single-thread throughput of mime_render() over a set of
 * messages read into memory first: messages/s, MB/s of raw mail, the share
 * of the time spent in the HTML conversion, and, side by side in the same
 * run, GMime's parse alone (the floor any GMime-based renderer pays).
 * Usage: mime_bench [-r ROUNDS] DIR...   (run by bench/mime.sh)
 */
#include <dirent.h>
#include <gmime/gmime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mime/render.h"

extern _Thread_local uint64_t mime_profile_html_ns;

struct msgs {
    char **data;
    size_t *len;
    size_t n, alloc, bytes;
};

static void load_file(struct msgs *m, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size <= 0) {
        fclose(f);
        return;
    }
    char *buf = malloc((size_t)sb.st_size);
    size_t n = buf ? fread(buf, 1, (size_t)sb.st_size, f) : 0;
    fclose(f);
    if (!buf || n == 0) {
        free(buf);
        return;
    }
    if (m->n == m->alloc) {
        m->alloc = m->alloc ? m->alloc * 2 : 1024;
        m->data = realloc(m->data, m->alloc * sizeof *m->data);
        m->len = realloc(m->len, m->alloc * sizeof *m->len);
        if (!m->data || !m->len)
            exit(1);
    }
    m->data[m->n] = buf;
    m->len[m->n++] = n;
    m->bytes += n;
}

static void load_dir(struct msgs *m, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        load_file(m, dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "PROVENANCE.txt"))
            continue;
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode))
            load_dir(m, path);
        else if (S_ISREG(sb.st_mode))
            load_file(m, path);
    }
    closedir(d);
}

/* CPU time of this thread: on a shared machine, waiting for a core is
 * not the renderer's cost; wall time is printed too. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double run_render(const struct msgs *m, size_t *text_bytes, double *html_s)
{
    mime_profile_html_ns = 0;
    *text_bytes = 0;
    double t0 = now();
    for (size_t i = 0; i < m->n; i++) {
        char *text;
        size_t tl;
        if (mime_render(m->data[i], m->len[i], NULL, &text, &tl, NULL, NULL) != ENGINE_OK) {
            fprintf(stderr, "mime_bench: message %zu failed\n", i);
            exit(1);
        }
        *text_bytes += tl;
        free(text);
    }
    double t = now() - t0;
    *html_s = (double)mime_profile_html_ns * 1e-9;
    return t;
}

static double run_parse(const struct msgs *m)
{
    double t0 = now();
    for (size_t i = 0; i < m->n; i++) {
        GMimeStream *s = g_mime_stream_mem_new_with_buffer(m->data[i], m->len[i]);
        GMimeParser *p = g_mime_parser_new_with_stream(s);
        GMimeMessage *msg = g_mime_parser_construct_message(p, NULL);
        if (msg)
            g_object_unref(msg);
        g_object_unref(p);
        g_object_unref(s);
    }
    return now() - t0;
}

int main(int argc, char **argv)
{
    int rounds = 3, first = 1;
    if (argc > 2 && !strcmp(argv[1], "-r")) {
        rounds = atoi(argv[2]);
        first = 3;
    }
    if (first >= argc || rounds < 1) {
        fprintf(stderr, "usage: mime_bench [-r ROUNDS] DIR...\n");
        return 2;
    }
    struct msgs m = {0};
    for (int i = first; i < argc; i++)
        load_dir(&m, argv[i]);
    if (m.n == 0) {
        fprintf(stderr, "mime_bench: no messages\n");
        return 1;
    }
    /* warm-up: GMime/libxml2 initialisation, iconv modules, caches */
    size_t tb;
    double hs;
    run_render(&m, &tb, &hs);
    double best = 1e30, best_html = 0, best_parse = 1e30, best_wall = 1e30;
    for (int r = 0; r < rounds; r++) {
        double w0 = wall();
        double t = run_render(&m, &tb, &hs);
        if (wall() - w0 < best_wall)
            best_wall = wall() - w0;
        if (t < best) {
            best = t;
            best_html = hs;
        }
        double p = run_parse(&m);
        if (p < best_parse)
            best_parse = p;
    }
    double mb = (double)m.bytes / 1e6;
    printf("messages: %zu, raw bytes: %zu (%.1f MB), rendered text: %zu bytes; best of %d rounds, 1 thread,\n"
           "thread CPU time (wall time of the best render round: %.3f s, %.1f MB/s)\n",
           m.n, m.bytes, mb, tb, rounds, best_wall, mb / best_wall);
    printf("mime_render:        %8.3f s  %9.0f messages/s  %7.1f MB/s\n", best, (double)m.n / best, mb / best);
    printf("  of which HTML:    %8.3f s  (%.1f%% of the render time)\n", best_html, 100.0 * best_html / best);
    printf("GMime parse alone:  %8.3f s  %9.0f messages/s  %7.1f MB/s\n", best_parse, (double)m.n / best_parse,
           mb / best_parse);
    printf("render / parse-alone time ratio: %.2f\n", best / best_parse);
    printf("{\"messages\":%zu,\"bytes\":%zu,\"render_s\":%.4f,\"msgs_per_s\":%.0f,\"mb_per_s\":%.2f,"
           "\"html_share\":%.4f,\"parse_s\":%.4f,\"parse_mb_per_s\":%.2f}\n",
           m.n, m.bytes, best, (double)m.n / best, mb / best, best_html / best, best_parse, mb / best_parse);
    for (size_t i = 0; i < m.n; i++)
        free(m.data[i]);
    free(m.data);
    free(m.len);
    return 0;
}
