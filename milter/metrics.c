/*
 * metrics: atomics for the mail path, one thread for the scrapes, and the
 * text exposition format written into a buffer the thread owns.
 */
#include "config.h"
#include "milter/metrics.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "engine/classifier.h"
#include "milter/policy.h"
#include "milter/sha256.h"
#include "milter/socketspec.h"

typedef _Atomic unsigned long long counter;

/* ---- what the mail path records ------------------------------------- */

#define N_ACTIONS 6 /* policy_action: accept tag tempfail reject skip error */
static const char *const action_names[N_ACTIONS] = {"accept", "tag", "tempfail", "reject", "skipped", "error"};
static counter messages[N_ACTIONS];

#define N_FAILURES 3 /* policy_failure: error timeout overload */
static counter failures[N_FAILURES];
static counter reloads_ok, reloads_failed;
static counter tokens_total;

/* Labels: an append-only table the main thread fills from each model's
 * id2label; the mail path finds its label by name without a lock. */
#define MAX_LABELS 32
static struct {
    char name[LLAMA_LABEL_MAX];
    counter n;
} labels[MAX_LABELS];
static _Atomic size_t n_labels;
static counter label_other;

typedef struct histogram {
    const char *name, *help;
    const double *le;     /* upper bounds, ascending */
    size_t n;
    counter bucket[24];   /* per bucket (not cumulative); [n] = over the last bound */
    counter sum_micro;    /* sum of observations, in millionths */
} histogram;

static const double score_le[] = {0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1};
static const double time_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
#define NB(a) (sizeof a / sizeof a[0])

static histogram h_score = {"llmspam_score", "Spam score of the classified messages.", score_le, NB(score_le), {0}, 0};
static histogram h_classify = {"llmspam_classify_duration_seconds",
                               "Rendering and classification of one message, waiting for the model included.",
                               time_le, NB(time_le), {0}, 0};
static histogram h_hold = {"llmspam_eom_hold_duration_seconds",
                           "How long the MTA waited at end of data for the milter's answer.",
                           time_le, NB(time_le), {0}, 0};

static void observe(histogram *h, double v)
{
    size_t i = 0;
    while (i < h->n && v > h->le[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    if (v > 0)
        atomic_fetch_add_explicit(&h->sum_micro, (unsigned long long)(v * 1e6 + 0.5), memory_order_relaxed);
}

double metrics_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void metrics_message(const scan_result *r, double hold_s)
{
    unsigned a = (unsigned)r->v.action;
    if (a < N_ACTIONS)
        atomic_fetch_add_explicit(&messages[a], 1, memory_order_relaxed);
    if (r->v.action != POLICY_SKIP && !r->classified && r->reason) {
        for (int f = 0; f < N_FAILURES; f++)
            if (!strcmp(r->reason, policy_failure_name((policy_failure)f)))
                atomic_fetch_add_explicit(&failures[f], 1, memory_order_relaxed);
    }
    if (r->classified) {
        size_t n = atomic_load_explicit(&n_labels, memory_order_acquire);
        size_t i = 0;
        while (i < n && strcmp(labels[i].name, r->label))
            i++;
        atomic_fetch_add_explicit(i < n ? &labels[i].n : &label_other, 1, memory_order_relaxed);
        if (r->tokens > 0)
            atomic_fetch_add_explicit(&tokens_total, (unsigned long long)r->tokens, memory_order_relaxed);
        observe(&h_score, r->score);
    }
    if (r->v.action != POLICY_SKIP)
        observe(&h_classify, r->ms / 1e3);
    if (hold_s >= 0)
        observe(&h_hold, hold_s);
}

void metrics_reload(bool ok)
{
    atomic_fetch_add_explicit(ok ? &reloads_ok : &reloads_failed, 1, memory_order_relaxed);
}

/* ---- what the main thread sets -------------------------------------- */

static pthread_mutex_t info_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char name[256];
    char path[4096];
    char sha256[65];
    char device[512];
    bool hash_pending;
} info;
static time_t start_time;

static void add_label(const char *name)
{
    size_t n = atomic_load_explicit(&n_labels, memory_order_relaxed);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(labels[i].name, name))
            return;
    if (n == MAX_LABELS)
        return; /* counted as "other" */
    snprintf(labels[n].name, sizeof labels[n].name, "%s", name);
    atomic_store_explicit(&n_labels, n + 1, memory_order_release);
}

void metrics_set_runtime(const runtime *rt)
{
    const llama_config *lc = classifier_config(runtime_classifier(rt));
    for (int i = 0; lc && i < lc->num_labels; i++)
        add_label(lc->id2label[i]);
    pthread_mutex_lock(&info_mu);
    if (!start_time)
        start_time = time(NULL);
    snprintf(info.name, sizeof info.name, "%s", runtime_model_name(rt));
    snprintf(info.path, sizeof info.path, "%s", runtime_config(rt)->model);
    snprintf(info.device, sizeof info.device, "%s", classifier_device(runtime_classifier(rt)));
    /* hashed again even for the same path: a reload may follow new files */
    info.hash_pending = true;
    pthread_mutex_unlock(&info_mu);
}

/* The thread hashes the model's weights outside the lock. */
static void hash_model(void)
{
    char path[4096 + 32];
    pthread_mutex_lock(&info_mu);
    bool pending = info.hash_pending;
    info.hash_pending = false;
    snprintf(path, sizeof path, "%s/model.safetensors", info.path);
    pthread_mutex_unlock(&info_mu);
    if (!pending)
        return;
    char hex[65];
    if (sha256_file_hex(path, hex) < 0)
        snprintf(hex, sizeof hex, "unreadable");
    pthread_mutex_lock(&info_mu);
    /* keep it only if no newer model arrived meanwhile */
    char now[4096 + 32];
    snprintf(now, sizeof now, "%s/model.safetensors", info.path);
    if (!info.hash_pending && !strcmp(now, path))
        memcpy(info.sha256, hex, sizeof hex);
    pthread_mutex_unlock(&info_mu);
}

/* ---- the exposition text -------------------------------------------- */

typedef struct outbuf {
    char *p;
    size_t len, cap;
    bool failed;
} outbuf;

__attribute__((format(printf, 2, 3)))
static void out(outbuf *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n;
        char *q = realloc(o->p, cap);
        if (!q) {
            o->failed = true;
            return;
        }
        o->p = q;
        o->cap = cap;
    }
}

/* A label value with \, " and newline escaped, as the format asks. */
static void escape(char *dst, size_t len, const char *src)
{
    size_t j = 0;
    for (; *src && j + 3 < len; src++) {
        if (*src == '\\' || *src == '"') {
            dst[j++] = '\\';
            dst[j++] = *src;
        } else if (*src == '\n') {
            dst[j++] = '\\';
            dst[j++] = 'n';
        } else {
            dst[j++] = *src;
        }
    }
    dst[j] = '\0';
}

static unsigned long long get(counter *c) { return atomic_load_explicit(c, memory_order_relaxed); }

static void family(outbuf *o, const char *name, const char *type, const char *help)
{
    out(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_histogram(outbuf *o, histogram *h)
{
    family(o, h->name, "histogram", h->help);
    unsigned long long cum = 0;
    for (size_t i = 0; i < h->n; i++) {
        cum += get(&h->bucket[i]);
        out(o, "%s_bucket{le=\"%g\"} %llu\n", h->name, h->le[i], cum);
    }
    cum += get(&h->bucket[h->n]);
    out(o, "%s_bucket{le=\"+Inf\"} %llu\n", h->name, cum);
    out(o, "%s_sum %.6f\n%s_count %llu\n", h->name, (double)get(&h->sum_micro) / 1e6, h->name, cum);
}

/* The device in use: its kind ("cpu", "cuda:0") and the engine's words
 * about it. HOOK: when the engine names its CPU code path (the gemm
 * module's cpu_path), add it here as a third label. */
static void compute_labels(const char *device, char *kind, size_t klen, char *detail, size_t dlen)
{
    size_t n = strcspn(device, " ");
    snprintf(kind, klen, "%.*s", (int)n, device);
    const char *d = device + n;
    while (*d == ' ')
        d++;
    if (*d == '(') {
        snprintf(detail, dlen, "%s", d + 1);
        size_t m = strlen(detail);
        if (m && detail[m - 1] == ')')
            detail[m - 1] = '\0';
    } else {
        snprintf(detail, dlen, "%s", d);
    }
}

static void render(outbuf *o)
{
    family(o, "llmspam_messages_total", "counter",
           "Messages by what was done to them (skipped: trusted or authenticated; error: not classified, accepted).");
    for (int a = 0; a < N_ACTIONS; a++)
        out(o, "llmspam_messages_total{action=\"%s\"} %llu\n", action_names[a], get(&messages[a]));

    family(o, "llmspam_messages_by_label_total", "counter", "Classified messages by the model's label.");
    size_t nl = atomic_load_explicit(&n_labels, memory_order_acquire);
    for (size_t i = 0; i < nl; i++) {
        char v[2 * LLAMA_LABEL_MAX + 4];
        escape(v, sizeof v, labels[i].name);
        out(o, "llmspam_messages_by_label_total{label=\"%s\"} %llu\n", v, get(&labels[i].n));
    }
    if (get(&label_other))
        out(o, "llmspam_messages_by_label_total{label=\"other\"} %llu\n", get(&label_other));

    family(o, "llmspam_classify_failures_total", "counter",
           "Messages not classified, by reason (error, timeout, overload).");
    for (int f = 0; f < N_FAILURES; f++)
        out(o, "llmspam_classify_failures_total{reason=\"%s\"} %llu\n", policy_failure_name((policy_failure)f),
            get(&failures[f]));

    family(o, "llmspam_reloads_total", "counter", "SIGHUP reloads by result.");
    out(o, "llmspam_reloads_total{result=\"ok\"} %llu\n", get(&reloads_ok));
    out(o, "llmspam_reloads_total{result=\"failed\"} %llu\n", get(&reloads_failed));

    family(o, "llmspam_tokens_total", "counter", "Tokens fed to the model (BOS included).");
    out(o, "llmspam_tokens_total %llu\n", get(&tokens_total));

    write_histogram(o, &h_score);
    write_histogram(o, &h_classify);
    write_histogram(o, &h_hold);

    /* gauges: in flight first, then the queue through a short reference */
    int inflight = runtime_in_flight();
    size_t queued = 0;
    runtime *rt = runtime_acquire();
    if (rt) {
        queued = classifier_queued(runtime_classifier(rt));
        runtime_release(rt);
    }
    family(o, "llmspam_messages_in_flight", "gauge", "Messages between MAIL FROM and their end.");
    out(o, "llmspam_messages_in_flight %d\n", inflight);
    family(o, "llmspam_queue_depth", "gauge", "Messages waiting for the model.");
    out(o, "llmspam_queue_depth %zu\n", queued);

    char name[2 * 256], path[2 * 4096], sha[65], device[512], kind[512], detail[512];
    char ekind[1024], edetail[1024];
    time_t started;
    pthread_mutex_lock(&info_mu);
    escape(name, sizeof name, info.name);
    escape(path, sizeof path, info.path);
    memcpy(sha, info.sha256, sizeof sha);
    memcpy(device, info.device, sizeof device);
    started = start_time;
    pthread_mutex_unlock(&info_mu);
    compute_labels(device, kind, sizeof kind, detail, sizeof detail);
    escape(ekind, sizeof ekind, kind);
    escape(edetail, sizeof edetail, detail);

    family(o, "llmspam_model_info", "gauge", "The model in use (sha256 of model.safetensors).");
    out(o, "llmspam_model_info{name=\"%s\",path=\"%s\",sha256=\"%s\"} 1\n", name, path, sha);
    family(o, "llmspam_compute_info", "gauge", "The compute device in use and the engine's description of it.");
    out(o, "llmspam_compute_info{device=\"%s\",detail=\"%s\"} 1\n", ekind, edetail);
    family(o, "llmspam_build_info", "gauge", "The llmspam version.");
    out(o, "llmspam_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
    family(o, "llmspam_start_time_seconds", "gauge", "When the daemon started, in seconds since the epoch.");
    out(o, "llmspam_start_time_seconds %lld\n", (long long)started);
}

/* ---- the server ----------------------------------------------------- */

struct metrics_server {
    int fd;
    pthread_t thread;
    bool running;
    _Atomic bool stop;
};

bool metrics_spec_ok(const char *spec, char *err, size_t errlen)
{
    socketspec s;
    if (!socketspec_parse(spec, &s, err, errlen))
        return false;
    if (s.family == SOCKETSPEC_UNIX) {
        snprintf(err, errlen, "metrics: a unix socket cannot be scraped; use inet:PORT@HOST");
        return false;
    }
    return true;
}

metrics_server *metrics_listen(const char *spec, char *err, size_t errlen)
{
    socketspec s;
    if (!metrics_spec_ok(spec, err, errlen))
        return NULL;
    socketspec_parse(spec, &s, err, errlen);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = s.family == SOCKETSPEC_INET6 ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%u", s.port);
    int gai = getaddrinfo(s.host[0] ? s.host : NULL, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "metrics %s: %s", spec, gai_strerror(gai));
        return NULL;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0) {
        snprintf(err, errlen, "metrics %s: %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return NULL;
    }
    freeaddrinfo(res);
    metrics_server *m = calloc(1, sizeof *m);
    if (!m) {
        close(fd);
        snprintf(err, errlen, "metrics: out of memory");
        return NULL;
    }
    m->fd = fd;
    return m;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void reply(int fd, const char *status, const char *type, const char *body, size_t len, bool head)
{
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, type, len);
    send_all(fd, hdr, (size_t)n);
    if (!head)
        send_all(fd, body, len);
}

static void serve(int fd)
{
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char req[4096];
    size_t len = 0;
    while (len < sizeof req - 1) {
        ssize_t r = recv(fd, req + len, sizeof req - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    req[len] = '\0';
    const char *text = "text/plain; charset=utf-8";
    bool get = !strncmp(req, "GET ", 4), head = !strncmp(req, "HEAD ", 5);
    if (!get && !head) {
        static const char m[] = "only GET\n";
        reply(fd, "405 Method Not Allowed", text, m, sizeof m - 1, false);
        return;
    }
    const char *path = req + (get ? 4 : 5);
    size_t plen = strcspn(path, " ?\r\n");
    if (plen != 8 || strncmp(path, "/metrics", 8)) {
        static const char m[] = "llmspam-milter: the metrics are at /metrics\n";
        reply(fd, "404 Not Found", text, m, sizeof m - 1, head);
        return;
    }
    outbuf o = {malloc(16384), 0, 16384, false};
    if (!o.p) {
        static const char m[] = "out of memory\n";
        reply(fd, "503 Service Unavailable", text, m, sizeof m - 1, head);
        return;
    }
    render(&o);
    if (o.failed) {
        static const char m[] = "out of memory\n";
        reply(fd, "503 Service Unavailable", text, m, sizeof m - 1, head);
    } else {
        reply(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", o.p, o.len, head);
    }
    free(o.p);
}

static void *metrics_thread(void *arg)
{
    metrics_server *m = arg;
    while (!atomic_load(&m->stop)) {
        hash_model();
        struct pollfd p = {m->fd, POLLIN, 0};
        int n = poll(&p, 1, 500);
        if (n <= 0)
            continue;
        int c = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        serve(c);
        close(c);
    }
    return NULL;
}

int metrics_start(metrics_server *m, char *err, size_t errlen)
{
    int rc = pthread_create(&m->thread, NULL, metrics_thread, m);
    if (rc != 0) {
        snprintf(err, errlen, "metrics: cannot start the thread: %s", strerror(rc));
        return -1;
    }
    m->running = true;
    return 0;
}

void metrics_stop(metrics_server *m)
{
    if (!m)
        return;
    atomic_store(&m->stop, true);
    if (m->running)
        pthread_join(m->thread, NULL);
    close(m->fd);
    free(m);
}
