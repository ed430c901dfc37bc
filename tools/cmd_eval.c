/*
 * cmd_eval: "llmspam eval": score labelled mail with a model through the
 * full pipeline the milter runs (mime_render -> tokenizer -> classifier)
 * and report what an administrator needs to set the thresholds: the
 * confusion counts and precision/recall/F1/FPR at tag_threshold, the ROC
 * AUC, and the threshold that keeps the false-positive rate at or under
 * 0.1%, 0.5% and 1% with the recall there. Optional: --json, an SVG plot
 * (ROC curve and score histograms), and one "path label score" line per
 * message. Spam is the positive class; score >= threshold is spam, the
 * milter's rule.
 */
#include "config.h"
#include "tools/commands.h"
#include "tools/files.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "engine/classifier.h"
#include "mime/render.h"
#include "milter/llmspam_conf.h"

#define EVAL_HIST_BINS 50

static const double eval_fpr_targets[] = {0.001, 0.005, 0.01};
#define EVAL_N_TARGETS (sizeof eval_fpr_targets / sizeof eval_fpr_targets[0])

static void usage(FILE *out)
{
    milter_config *d = milter_config_defaults(); /* the defaults shown */
    if (!d) {
        fputs("llmspam eval: out of memory\n", out);
        return;
    }
    fprintf(out,
            "usage: llmspam eval [--model DIR] --spam PATH... --ham PATH...\n"
            "                    [--spam-list FILE] [--ham-list FILE] [--root DIR]\n"
            "                    [--config FILE | --tag-threshold X] [--json]\n"
            "                    [--plot FILE.svg] [--scores FILE] [--threads T]\n"
            "                    [--max-tokens N] [--learn-dir DIR]\n"
            "\n"
            "Run every message through the milter's pipeline (render, tokenize,\n"
            "classify) and report, spam being the positive class and a score at or\n"
            "over the threshold counting as spam:\n"
            "  TP, FP, TN, FN, precision, recall, F1 and FPR at tag_threshold;\n"
            "  the ROC AUC;\n"
            "  the threshold at which the false-positive rate is at most 0.1%%, 0.5%%\n"
            "  and 1%%, with the recall there (values to copy into llmspam.conf).\n"
            "\n"
            "A PATH is a message file, a directory of message files, a maildir\n"
            "(cur/ and new/) or an mbox (a file whose first line starts \"From \").\n"
            "Files in a directory or a list are one message each.\n"
            "\n"
            "  --model DIR          the classifier (default: the config's model)\n"
            "  --spam PATH...       spam; the paths up to the next option\n"
            "  --ham PATH...        ham; likewise\n"
            "  --spam-list FILE     spam: one message file per line, relative to --root\n"
            "  --ham-list FILE      ham: likewise (train/ writes dev-spam.txt, dev-ham.txt)\n"
            "  --root DIR           where list entries are relative to (default: .)\n"
            "  --learn-dir DIR      also the learn store of llmspam learn: DIR/spam, DIR/ham\n"
            "  --config FILE        read tag_threshold, model, max_tokens,\n"
            "                       max_message_bytes, max_text_bytes, render_headers\n"
            "                       and spam_label from an llmspam.conf\n"
            "  --tag-threshold X    the threshold to report at (default %g)\n"
            "  --max-tokens N       tokens per message, BOS included (default: the config's\n"
            "                       max_tokens; %ld = the model's own length)\n"
            "  --threads T          compute threads (default: every core)\n"
            "  --json               print the results as one JSON object\n"
            "  --plot FILE.svg      draw the ROC curve and the score histograms\n"
            "  --scores FILE        write one \"path label score\" line per message\n"
            "  -h, --help           this text\n"
            "\n"
            "A progress bar (count, rate, ETA) goes to standard error when it is a\n"
            "terminal. Exit status: 0 ok, 1 a message or the model failed, 2 usage.\n",
            d->tag_threshold, d->max_tokens);
    milter_config_free(d);
}

/* ------------------------------------------------------------ inputs */

typedef struct {
    char *name; /* path, or "mbox#N" */
    bool spam;
    /* mbox messages: the mbox and the byte range; path files: off = -1 */
    long long off, len;
    char *mbox;
    float score;
    bool ok;
} eval_msg;

typedef struct {
    eval_msg *v;
    size_t n, cap;
} eval_set;

static bool set_push(eval_set *s, const char *name, bool spam, const char *mbox, long long off,
                     long long len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        eval_msg *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return false;
        s->v = v;
        s->cap = cap;
    }
    eval_msg *m = &s->v[s->n];
    memset(m, 0, sizeof *m);
    m->name = strdup(name);
    m->mbox = mbox ? strdup(mbox) : NULL;
    if (!m->name || (mbox && !m->mbox)) {
        free(m->name);
        free(m->mbox);
        return false;
    }
    m->spam = spam;
    m->off = off;
    m->len = len;
    s->n++;
    return true;
}

static void set_free(eval_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].mbox);
    }
    free(s->v);
}

/* The regular files of dir, sorted by name. false: dir unreadable. */
static bool add_dir(eval_set *s, const char *dir, bool spam)
{
    char **paths;
    size_t n;
    if (!tools_dir_files(dir, &paths, &n))
        return false;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++)
        ok = set_push(s, paths[i], spam, NULL, -1, 0);
    tools_dir_files_free(paths, n);
    if (!ok)
        errno = ENOMEM;
    return ok;
}

/* An mbox (tools_mbox_split): each message is a byte range of the file. */
typedef struct {
    eval_set *s;
    const char *path;
    bool spam;
} mbox_walk;

static bool mbox_each(void *arg, size_t n, long long off, long long len)
{
    mbox_walk *w = arg;
    char name[8192];
    snprintf(name, sizeof name, "%s#%zu", w->path, n);
    if (set_push(w->s, name, w->spam, w->path, off, len))
        return true;
    errno = ENOMEM;
    return false;
}

static bool add_mbox(eval_set *s, const char *path, bool spam)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    mbox_walk w = {s, path, spam};
    bool ok = tools_mbox_split(f, mbox_each, &w);
    int e = errno;
    fclose(f);
    errno = e;
    return ok;
}

static bool is_mbox(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char head[5];
    bool yes = fread(head, 1, 5, f) == 5 && !memcmp(head, "From ", 5);
    fclose(f);
    return yes;
}

/* A PATH of the command line: a directory, a maildir, an mbox or one
 * message. Only a file named here can be an mbox; files found in a
 * directory or a list are single messages, even when they begin with an
 * envelope "From " line (the renderer skips it). */
static bool add_path(eval_set *s, const char *path, bool spam, bool may_be_mbox)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return false;
    if (S_ISDIR(sb.st_mode)) {
        char cur[8192], nw[8192];
        struct stat a, b;
        snprintf(cur, sizeof cur, "%s/cur", path);
        snprintf(nw, sizeof nw, "%s/new", path);
        if (stat(cur, &a) == 0 && S_ISDIR(a.st_mode) && stat(nw, &b) == 0 && S_ISDIR(b.st_mode))
            return add_dir(s, cur, spam) && add_dir(s, nw, spam);
        return add_dir(s, path, spam);
    }
    if (!S_ISREG(sb.st_mode)) {
        errno = EINVAL;
        return false;
    }
    if (may_be_mbox && is_mbox(path))
        return add_mbox(s, path, spam);
    return set_push(s, path, spam, NULL, -1, 0) || (errno = ENOMEM, false);
}

/* A list file: one path per line, relative to root unless absolute. */
static bool add_list(eval_set *s, const char *list, const char *root, bool spam)
{
    FILE *f = fopen(list, "r");
    if (!f)
        return false;
    char *line = NULL;
    size_t cap = 0;
    ssize_t r;
    bool ok = true;
    while (ok && (r = getline(&line, &cap, f)) != -1) {
        while (r > 0 && (line[r - 1] == '\n' || line[r - 1] == '\r'))
            line[--r] = '\0';
        if (r == 0 || line[0] == '#')
            continue;
        char path[8192];
        int w = line[0] == '/' || !root ? snprintf(path, sizeof path, "%s", line)
                                        : snprintf(path, sizeof path, "%s/%s", root, line);
        if (w < 0 || (size_t)w >= sizeof path) {
            errno = ENAMETOOLONG;
            ok = false;
        } else if (!add_path(s, path, spam, false)) {
            fprintf(stderr, "llmspam eval: %s: %s: %s\n", list, path, strerror(errno));
            ok = false;
        }
    }
    free(line);
    fclose(f);
    return ok;
}

/* Up to cap bytes of a message; NULL with errno on failure. */
static char *read_message(const eval_msg *m, size_t cap, size_t *len)
{
    FILE *f = fopen(m->mbox ? m->mbox : m->name, "rb");
    if (!f)
        return NULL;
    size_t want = cap;
    if (m->mbox) {
        if (fseeko(f, (off_t)m->off, SEEK_SET) != 0) {
            fclose(f);
            return NULL;
        }
        if ((unsigned long long)m->len < want)
            want = (size_t)m->len;
    }
    char *buf = malloc(want + 1);
    if (!buf) {
        fclose(f);
        errno = ENOMEM;
        return NULL;
    }
    size_t n = fread(buf, 1, want, f);
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    *len = n;
    return buf;
}

/* ------------------------------------------------------------ config */

/* What eval takes from llmspam.conf (the milter's table, milter/llmspam_conf.h:
 * the same parser and defaults), with the command line's overrides. */
typedef struct {
    double tag;
    size_t max_tokens, max_message_bytes, max_text_bytes;
    const char *headers, *spam_label, *model;
} eval_conf;

static void conf_from(eval_conf *c, const milter_config *mc, bool from_file)
{
    c->tag = mc->tag_threshold;
    c->max_tokens = (size_t)mc->max_tokens;
    c->max_message_bytes = (size_t)mc->max_message_bytes;
    c->max_text_bytes = (size_t)mc->max_text_bytes;
    c->headers = mc->render_headers;
    /* without a file the model is --model's and any label name may do */
    c->spam_label = from_file ? mc->spam_label : NULL;
    c->model = from_file ? mc->model : NULL;
}

static bool parse_threshold(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0.0 && v <= 1.0))
        return false;
    *out = v;
    return true;
}

/* ------------------------------------------------------------ metrics */

typedef struct {
    size_t n_spam, n_ham, tp, fp, tn, fn;
    double precision, recall, f1, fpr, auc;
    double thr[EVAL_N_TARGETS], thr_recall[EVAL_N_TARGETS], thr_fpr[EVAL_N_TARGETS];
} eval_metrics;

static int cmp_float_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* Counts at threshold t over scores sorted descending: how many are >= t. */
static size_t count_at_least(const float *desc, size_t n, double t)
{
    size_t lo = 0, hi = n; /* first index with desc[i] < t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((double)desc[mid] >= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* AUC = P(score of a random spam > score of a random ham), ties half:
 * a merge over both lists sorted descending. */
static double roc_auc(const float *spam, size_t ns, const float *ham, size_t nh)
{
    if (!ns || !nh)
        return NAN;
    double wins = 0;
    size_t j = 0; /* hams strictly above the current spam score */
    for (size_t i = 0; i < ns;) {
        float v = spam[i];
        size_t ie = i;
        while (ie < ns && spam[ie] == v)
            ie++;
        while (j < nh && ham[j] > v)
            j++;
        size_t je = j;
        while (je < nh && ham[je] == v)
            je++;
        /* (ie - i) spams at v: beat every ham below v, tie with those at v */
        wins += (double)(ie - i) * ((double)(nh - je) + 0.5 * (double)(je - j));
        i = ie;
    }
    return wins / ((double)ns * (double)nh);
}

static void compute_metrics(const float *spam, size_t ns, const float *ham, size_t nh, double tag,
                            eval_metrics *m)
{
    memset(m, 0, sizeof *m);
    m->n_spam = ns;
    m->n_ham = nh;
    m->tp = count_at_least(spam, ns, tag);
    m->fn = ns - m->tp;
    m->fp = count_at_least(ham, nh, tag);
    m->tn = nh - m->fp;
    m->precision = m->tp + m->fp ? (double)m->tp / (double)(m->tp + m->fp) : 0;
    m->recall = ns ? (double)m->tp / (double)ns : 0;
    m->f1 = m->precision + m->recall > 0
                ? 2 * m->precision * m->recall / (m->precision + m->recall)
                : 0;
    m->fpr = nh ? (double)m->fp / (double)nh : 0;
    m->auc = roc_auc(spam, ns, ham, nh);
    for (size_t k = 0; k < EVAL_N_TARGETS; k++) {
        /* Allow at most floor(target * nh) ham at or over the threshold:
         * the threshold sits just above the next ham score, rounded up to
         * a multiple of 1e-6 so that it can be copied as printed. */
        size_t allowed = (size_t)floor(eval_fpr_targets[k] * (double)nh + 1e-9);
        double t = 0.0;
        if (allowed < nh) {
            t = ceil(((double)ham[allowed] + 1e-12) * 1e6) / 1e6;
            if (t <= (double)ham[allowed])
                t += 1e-6;
        }
        m->thr[k] = t;
        m->thr_recall[k] = ns ? (double)count_at_least(spam, ns, t) / (double)ns : 0;
        m->thr_fpr[k] = nh ? (double)count_at_least(ham, nh, t) / (double)nh : 0;
    }
}

/* ------------------------------------------------------------ output */

static void print_text(const eval_metrics *m, double tag, double rate, size_t errors)
{
    printf("messages: %zu spam, %zu ham", m->n_spam, m->n_ham);
    if (errors)
        printf(" (%zu not scored)", errors);
    printf("; %.1f messages/s\n", rate);
    printf("at tag_threshold %g:\n", tag);
    printf("  TP %zu  FP %zu  TN %zu  FN %zu\n", m->tp, m->fp, m->tn, m->fn);
    printf("  precision %.4f  recall %.4f  F1 %.4f  FPR %.4f%%\n", m->precision, m->recall, m->f1,
           100 * m->fpr);
    printf("ROC AUC %.5f\n", m->auc);
    printf("thresholds (spam when score >= threshold):\n");
    printf("  %-10s %-10s %-10s %s\n", "max FPR", "threshold", "recall", "FPR");
    for (size_t k = 0; k < EVAL_N_TARGETS; k++)
        printf("  %-10s %-10.6f %-10.4f %.4f%%\n",
               k == 0 ? "0.1%" : k == 1 ? "0.5%" : "1%", m->thr[k], m->thr_recall[k],
               100 * m->thr_fpr[k]);
}

static bool print_json(const eval_metrics *m, double tag, double rate, size_t errors)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *t = cJSON_CreateArray();
    if (!o || !t) {
        cJSON_Delete(o);
        cJSON_Delete(t);
        return false;
    }
    cJSON_AddNumberToObject(o, "n_spam", (double)m->n_spam);
    cJSON_AddNumberToObject(o, "n_ham", (double)m->n_ham);
    cJSON_AddNumberToObject(o, "tp", (double)m->tp);
    cJSON_AddNumberToObject(o, "fp", (double)m->fp);
    cJSON_AddNumberToObject(o, "tn", (double)m->tn);
    cJSON_AddNumberToObject(o, "fn", (double)m->fn);
    cJSON_AddNumberToObject(o, "precision", m->precision);
    cJSON_AddNumberToObject(o, "recall", m->recall);
    cJSON_AddNumberToObject(o, "f1", m->f1);
    cJSON_AddNumberToObject(o, "fpr", m->fpr);
    if (isnan(m->auc))
        cJSON_AddNullToObject(o, "auc");
    else
        cJSON_AddNumberToObject(o, "auc", m->auc);
    cJSON_AddNumberToObject(o, "threshold", tag);
    for (size_t k = 0; k < EVAL_N_TARGETS; k++) {
        cJSON *e = cJSON_CreateObject();
        if (!e)
            break;
        cJSON_AddNumberToObject(e, "max_fpr", eval_fpr_targets[k]);
        cJSON_AddNumberToObject(e, "threshold", m->thr[k]);
        cJSON_AddNumberToObject(e, "recall", m->thr_recall[k]);
        cJSON_AddNumberToObject(e, "fpr", m->thr_fpr[k]);
        cJSON_AddItemToArray(t, e);
    }
    cJSON_AddItemToObject(o, "thresholds", t);
    cJSON_AddNumberToObject(o, "errors", (double)errors);
    cJSON_AddNumberToObject(o, "messages_per_second", rate);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        return false;
    puts(s);
    cJSON_free(s);
    return true;
}

/* The SVG: left, the ROC curve (FPR on x, recall on y); right, the score
 * histograms of both classes on a log count scale, with tag_threshold. */
static bool write_plot(const char *path, const float *spam, size_t ns, const float *ham, size_t nh,
                       const eval_metrics *m, double tag)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    const double W = 360, H = 300, L = 50, T = 30; /* one panel, its margins */
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            2 * (W + L) + 20, H + T + 50);
    /* ROC panel */
    double x0 = L, y0 = T;
    fprintf(f, "<text x=\"%.0f\" y=\"18\">ROC (AUC %.4f)</text>\n", x0, m->auc);
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
               "stroke=\"black\"/>\n", x0, y0, W, H);
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#bbb\" "
               "stroke-dasharray=\"4\"/>\n", x0, y0 + H, x0 + W, y0);
    fprintf(f, "<polyline fill=\"none\" stroke=\"#c00\" stroke-width=\"1.5\" points=\"");
    /* Walk the thresholds downwards through both sorted lists. */
    size_t i = 0, j = 0;
    fprintf(f, "%.1f,%.1f", x0, y0 + H);
    while (i < ns || j < nh) {
        float v = i < ns && (j >= nh || spam[i] >= ham[j]) ? spam[i] : ham[j];
        while (i < ns && spam[i] == v)
            i++;
        while (j < nh && ham[j] == v)
            j++;
        double fx = nh ? (double)j / (double)nh : 0, ty = ns ? (double)i / (double)ns : 0;
        fprintf(f, " %.1f,%.1f", x0 + fx * W, y0 + H - ty * H);
    }
    fprintf(f, "\"/>\n");
    for (int k = 0; k <= 4; k++) {
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%.2f</text>\n",
                x0 + k * W / 4, y0 + H + 14, k / 4.0);
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.2f</text>\n", x0 - 4,
                y0 + H - k * H / 4 + 4, k / 4.0);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">false-positive rate</text>\n",
            x0 + W / 2, y0 + H + 30);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" transform=\"rotate(-90 %.0f "
               "%.0f)\">recall</text>\n", x0 - 34, y0 + H / 2, x0 - 34, y0 + H / 2);
    /* Histogram panel */
    size_t hs[EVAL_HIST_BINS] = {0}, hh[EVAL_HIST_BINS] = {0}, top = 1;
    for (size_t k = 0; k < ns; k++)
        hs[spam[k] >= 1.0f ? EVAL_HIST_BINS - 1 : (size_t)(fmaxf(spam[k], 0) * EVAL_HIST_BINS)]++;
    for (size_t k = 0; k < nh; k++)
        hh[ham[k] >= 1.0f ? EVAL_HIST_BINS - 1 : (size_t)(fmaxf(ham[k], 0) * EVAL_HIST_BINS)]++;
    for (size_t b = 0; b < EVAL_HIST_BINS; b++)
        top = hs[b] > top ? hs[b] : hh[b] > top ? hh[b] : top;
    double lmax = log10((double)top + 1);
    x0 = 2 * L + W + 20;
    fprintf(f, "<text x=\"%.0f\" y=\"18\">scores (log count): "
               "<tspan fill=\"#06c\">ham %zu</tspan>, <tspan fill=\"#c00\">spam %zu</tspan></text>\n",
            x0, nh, ns);
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
               "stroke=\"black\"/>\n", x0, y0, W, H);
    double bw = W / EVAL_HIST_BINS;
    for (size_t b = 0; b < EVAL_HIST_BINS; b++) {
        double a = log10((double)hh[b] + 1) / lmax * H, c = log10((double)hs[b] + 1) / lmax * H;
        if (hh[b])
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#06c\" "
                       "fill-opacity=\"0.5\"><title>ham %zu</title></rect>\n",
                    x0 + b * bw, y0 + H - a, bw, a, hh[b]);
        if (hs[b])
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#c00\" "
                       "fill-opacity=\"0.5\"><title>spam %zu</title></rect>\n",
                    x0 + b * bw, y0 + H - c, bw, c, hs[b]);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"black\" "
               "stroke-dasharray=\"3\"/>\n", x0 + tag * W, y0, x0 + tag * W, y0 + H);
    fprintf(f, "<text x=\"%.1f\" y=\"%.0f\">tag %.2f</text>\n", x0 + tag * W + 3, y0 + 12, tag);
    for (int k = 0; k <= 4; k++)
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%.2f</text>\n",
                x0 + k * W / 4, y0 + H + 14, k / 4.0);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">spam score</text>\n",
            x0 + W / 2, y0 + H + 30);
    fprintf(f, "</svg>\n");
    bool ok = !ferror(f);
    return fclose(f) == 0 && ok;
}

/* ------------------------------------------------------------ progress */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(size_t done, size_t total, double t0, bool final)
{
    double el = now_s() - t0, rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    int width = 30, fill = total ? (int)((double)width * (double)done / (double)total) : width;
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu %.1f msg/s ETA %d:%02d ", fill,
            "##############################", width - fill, "", done, total, rate,
            (int)eta / 60, (int)eta % 60);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

/* ------------------------------------------------------------ main */

static int fail_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "llmspam eval: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    usage(stderr);
    return 2;
}

int cmd_eval(int argc, char **argv)
{
    eval_conf conf = {0};
    milter_config *mconf = NULL;
    const char *model = NULL, *config = NULL, *plot = NULL, *scores = NULL, *root = NULL;
    const char *spam_list = NULL, *ham_list = NULL, *learn_dir = NULL;
    char learn_sub[2][4200];
    bool json = false, tag_given = false;
    double tag_arg = 0;
    size_t max_tokens_arg = 0;
    int threads = 0;
    /* --spam and --ham take the paths up to the next option. */
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    bool *is_spam = calloc((size_t)argc + 1, sizeof *is_spam);
    size_t npaths = 0;
    int mode = -1, rc = 2;
    eval_set set = {0};
    if (!paths || !is_spam) {
        free(paths);
        free(is_spam);
        fprintf(stderr, "llmspam eval: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VAL()                                                        \
    do {                                                                  \
        if (!val) {                                                       \
            rc = fail_usage("option needs a value", a);                   \
            goto out;                                                     \
        }                                                                 \
        i++;                                                              \
        mode = -1;                                                        \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "--spam")) {
            mode = 1;
        } else if (!strcmp(a, "--ham")) {
            mode = 0;
        } else if (!strcmp(a, "--json")) {
            json = true;
            mode = -1;
        } else if (!strcmp(a, "--model")) {
            NEED_VAL();
            model = val;
        } else if (!strcmp(a, "--config")) {
            NEED_VAL();
            config = val;
        } else if (!strcmp(a, "--plot")) {
            NEED_VAL();
            plot = val;
        } else if (!strcmp(a, "--scores")) {
            NEED_VAL();
            scores = val;
        } else if (!strcmp(a, "--root")) {
            NEED_VAL();
            root = val;
        } else if (!strcmp(a, "--learn-dir")) {
            NEED_VAL();
            learn_dir = val;
        } else if (!strcmp(a, "--spam-list")) {
            NEED_VAL();
            spam_list = val;
        } else if (!strcmp(a, "--ham-list")) {
            NEED_VAL();
            ham_list = val;
        } else if (!strcmp(a, "--tag-threshold")) {
            NEED_VAL();
            if (!parse_threshold(val, &tag_arg)) {
                rc = fail_usage("--tag-threshold must be a number in [0, 1]", val);
                goto out;
            }
            tag_given = true;
        } else if (!strcmp(a, "--max-tokens")) {
            NEED_VAL();
            long mt = 0; /* digits with an optional k/M/G, as llmspam.conf writes sizes */
            if (!milter_config_parse_size(val, &mt) || mt == 0) {
                rc = fail_usage("--max-tokens must be a positive number", val);
                goto out;
            }
            max_tokens_arg = (size_t)mt;
        } else if (!strcmp(a, "--threads")) {
            NEED_VAL();
            char *end;
            long t = strtol(val, &end, 10);
            if (*end || end == val || t < 0 || t > CLASSIFIER_MAX_THREADS) {
                rc = fail_usage("--threads must be a number in [0, 1024]", val);
                goto out;
            }
            threads = (int)t;
        } else if (a[0] == '-' && a[1]) {
            rc = fail_usage("unknown option", a);
            goto out;
        } else if (mode < 0) {
            rc = fail_usage("a path must follow --spam or --ham", a);
            goto out;
        } else {
            paths[npaths] = a;
            is_spam[npaths++] = mode == 1;
        }
#undef NEED_VAL
    }
    if (config && tag_given) {
        rc = fail_usage("give --config or --tag-threshold, not both", NULL);
        goto out;
    }
    char *conf_errs = NULL;
    mconf = config ? milter_config_load(config, &conf_errs) : milter_config_defaults();
    if (!mconf) {
        fprintf(stderr, "%s", conf_errs ? conf_errs : "llmspam eval: out of memory\n");
        free(conf_errs);
        rc = 1;
        goto out;
    }
    free(conf_errs);
    conf_from(&conf, mconf, config != NULL);
    if (tag_given)
        conf.tag = tag_arg;
    if (max_tokens_arg)
        conf.max_tokens = max_tokens_arg;
    if (!model)
        model = conf.model;
    if (!model) {
        rc = fail_usage("--model is required", NULL);
        goto out;
    }

    rc = 1;
    if (learn_dir) {
        /* the store's two label directories; a label not learned yet is absent */
        for (int sp = 0; sp < 2; sp++) {
            snprintf(learn_sub[sp], sizeof learn_sub[sp], "%s/%s", learn_dir, sp ? "spam" : "ham");
            struct stat lst;
            if (stat(learn_sub[sp], &lst) == 0 && !add_path(&set, learn_sub[sp], sp == 1, false)) {
                fprintf(stderr, "llmspam eval: %s: %s\n", learn_sub[sp], strerror(errno));
                goto out;
            }
        }
    }
    for (size_t k = 0; k < npaths; k++)
        if (!add_path(&set, paths[k], is_spam[k], true)) {
            fprintf(stderr, "llmspam eval: %s: %s\n", paths[k], strerror(errno));
            goto out;
        }
    if ((spam_list && !add_list(&set, spam_list, root, true)) ||
        (ham_list && !add_list(&set, ham_list, root, false))) {
        if (errno)
            fprintf(stderr, "llmspam eval: %s\n", strerror(errno));
        goto out;
    }
    size_t want_spam = 0;
    for (size_t k = 0; k < set.n; k++)
        want_spam += set.v[k].spam;
    if (want_spam == 0 || want_spam == set.n) {
        fprintf(stderr, "llmspam eval: need both spam and ham messages (got %zu spam, %zu ham)\n",
                want_spam, set.n - want_spam);
        rc = 2;
        goto out;
    }

    classifier_options copt;
    classifier_options_init(&copt);
    copt.threads = threads;
    copt.max_tokens = conf.max_tokens;
    if (conf.spam_label)
        copt.spam_label = conf.spam_label;
    classifier *cl = NULL;
    engine_err err;
    if (classifier_new(model, &copt, &cl, &err) != ENGINE_OK) {
        fprintf(stderr, "llmspam eval: %s\n", err.msg);
        goto out;
    }
    mime_options mopt;
    mime_options_default(&mopt);
    if (conf.headers)
        mopt.headers = conf.headers;
    if (conf.max_text_bytes)
        mopt.max_text_bytes = conf.max_text_bytes;

    bool tty = isatty(STDERR_FILENO);
    size_t errors = 0;
    double t0 = now_s(), last = 0;
    for (size_t k = 0; k < set.n; k++) {
        eval_msg *m = &set.v[k];
        size_t len = 0;
        char *raw = read_message(m, conf.max_message_bytes, &len);
        if (!raw) {
            fprintf(stderr, "%sllmspam eval: %s: %s\n", tty ? "\n" : "", m->name, strerror(errno));
            errors++;
            continue;
        }
        char *text = NULL;
        size_t tlen = 0;
        classify_result res;
        if (mime_render(raw, len, &mopt, &text, &tlen, NULL, &err) != ENGINE_OK ||
            classifier_classify(cl, text, tlen, 0, &res, &err) != ENGINE_OK) {
            fprintf(stderr, "%sllmspam eval: %s: %s\n", tty ? "\n" : "", m->name, err.msg);
            errors++;
        } else {
            m->score = res.spam_score;
            m->ok = true;
        }
        free(text);
        free(raw);
        if (tty && (now_s() - last > 0.2 || k + 1 == set.n)) {
            last = now_s();
            progress(k + 1, set.n, t0, k + 1 == set.n);
        }
    }
    double elapsed = now_s() - t0;
    classifier_free(cl);

    float *spam = malloc((set.n + 1) * sizeof *spam), *ham = malloc((set.n + 1) * sizeof *ham);
    if (!spam || !ham) {
        free(spam);
        free(ham);
        fprintf(stderr, "llmspam eval: out of memory\n");
        goto out;
    }
    size_t ns = 0, nh = 0;
    for (size_t k = 0; k < set.n; k++)
        if (set.v[k].ok) {
            if (set.v[k].spam)
                spam[ns++] = set.v[k].score;
            else
                ham[nh++] = set.v[k].score;
        }
    qsort(spam, ns, sizeof *spam, cmp_float_desc);
    qsort(ham, nh, sizeof *ham, cmp_float_desc);
    eval_metrics met;
    compute_metrics(spam, ns, ham, nh, conf.tag, &met);
    double rate = elapsed > 0 ? (double)(ns + nh) / elapsed : 0;

    bool ok = errors == 0;
    if (scores) {
        FILE *f = fopen(scores, "w");
        if (!f) {
            fprintf(stderr, "llmspam eval: %s: %s\n", scores, strerror(errno));
            ok = false;
        } else {
            for (size_t k = 0; k < set.n; k++)
                if (set.v[k].ok)
                    fprintf(f, "%s %s %.9g\n", set.v[k].name, set.v[k].spam ? "spam" : "ham",
                            (double)set.v[k].score);
            if (ferror(f) | (fclose(f) != 0)) {
                fprintf(stderr, "llmspam eval: %s: write error\n", scores);
                ok = false;
            }
        }
    }
    if (plot && !write_plot(plot, spam, ns, ham, nh, &met, conf.tag)) {
        fprintf(stderr, "llmspam eval: %s: %s\n", plot, strerror(errno));
        ok = false;
    }
    if (json)
        ok &= print_json(&met, conf.tag, rate, errors);
    else
        print_text(&met, conf.tag, rate, errors);
    if (fflush(stdout) != 0)
        ok = false;
    free(spam);
    free(ham);
    rc = ok ? 0 : 1;
out:
    set_free(&set);
    free(paths);
    free(is_spam);
    milter_config_free(mconf);
    return rc;
}
