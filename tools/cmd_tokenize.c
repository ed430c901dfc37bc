/*
 * cmd_tokenize: "llmspam tokenize": JSON lines {"text": "..."} on stdin, one
 * line {"ids": [...]} per input line on stdout, in order, with the model's
 * tokenizer.json (engine/tokenizer.h). For debugging, for the training
 * pipeline's parity checks, and for tests.
 *
 * The JSON reader is a small one of its own: cJSON ends strings at NUL, and
 * "\u0000" in a message is text like any other.
 */
#include "config.h"
#include "engine/tokenizer.h"
#include "engine/utf8.h"
#include "tools/commands.h"
#include "tools/files.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char tokenize_usage[] =
    "usage: llmspam tokenize [--model DIR | --tokenizer FILE] [--no-special]\n"
    "                        [--max-tokens N] [--time] [FILE...]\n"
    "\n"
    "Read JSON lines {\"text\": \"...\"} on standard input and write one line\n"
    "{\"ids\": [...]} per input line, in order: the token ids the model's\n"
    "tokenizer.json gives, identical to Hugging Face tokenizers. Other members of\n"
    "an input object are ignored. With FILE arguments, the bytes of each file\n"
    "are one text instead (one output line per file).\n"
    "\n"
    "Special-token strings in the text (<|begin_of_text|>, <|eot_id|>, ...) are\n"
    "ordinary text, as with transformers' split_special_tokens=True. Ill-formed\n"
    "UTF-8 becomes U+FFFD, one per maximal ill-formed subpart; NUL is text.\n"
    "\n"
    "  --model DIR       use DIR/tokenizer.json (a saved model directory)\n"
    "  --tokenizer FILE  use this tokenizer.json\n"
    "                    (default: " LLMSPAM_DATADIR "/model/tokenizer.json)\n"
    "  --no-special      do not add what the post-processor adds (BOS)\n"
    "  --max-tokens N    keep the first N ids, BOS included (stops early: the\n"
    "                    cost follows N, not the text length); 0 = all\n"
    "  --time            report on stderr the load time and the encoding\n"
    "                    throughput (text bytes per second, this thread only),\n"
    "                    by the clock and in CPU time\n"
    "  -h, --help        this text\n"
    "\n"
    "Exit status: 0 ok, 1 a bad input line or tokenizer, 2 usage.\n";

/* ---------------------------------------------------------------- JSON */

typedef struct {
    const char *p, *end;
    char *buf; /* the decoded "text" */
    size_t len, cap;
    int found;
} jreader;

static int put(jreader *r, const char *s, size_t n)
{
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < r->len + n)
            cap *= 2;
        char *b = realloc(r->buf, cap);
        if (!b)
            return -1;
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, s, n);
    r->len += n;
    return 0;
}

static void skip_ws(jreader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n'))
        r->p++;
}

static int hex4(const char *p, const char *end, unsigned *v)
{
    if (end - p < 4)
        return -1;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (d > 15)
            return -1;
        *v = *v << 4 | d;
    }
    return 0;
}

static int put_cp(jreader *r, unsigned cp)
{
    uint8_t b[4];
    size_t n = utf8_put(cp, b);
    return put(r, (const char *)b, n);
}

/* A string at r->p ('"'); decoded into r->buf when keep. Lone surrogates
 * become U+FFFD. */
static int read_string(jreader *r, int keep)
{
    r->p++;
    while (r->p < r->end) {
        const char *s = r->p;
        while (r->p < r->end && *r->p != '"' && *r->p != '\\' && (unsigned char)*r->p >= 0x20)
            r->p++;
        if (keep && put(r, s, (size_t)(r->p - s)))
            return -1;
        if (r->p >= r->end || (unsigned char)*r->p < 0x20)
            return -1;
        if (*r->p == '"') {
            r->p++;
            return 0;
        }
        if (++r->p >= r->end) /* backslash */
            return -1;
        char c = *r->p++, o;
        unsigned cp;
        switch (c) {
        case '"': o = '"'; break;
        case '\\': o = '\\'; break;
        case '/': o = '/'; break;
        case 'b': o = '\b'; break;
        case 'f': o = '\f'; break;
        case 'n': o = '\n'; break;
        case 'r': o = '\r'; break;
        case 't': o = '\t'; break;
        case 'u':
            if (hex4(r->p, r->end, &cp))
                return -1;
            r->p += 4;
            if (cp >= 0xD800 && cp < 0xDC00) {
                unsigned lo;
                if (r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u' &&
                    !hex4(r->p + 2, r->end, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                    r->p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else {
                    cp = 0xFFFD;
                }
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                cp = 0xFFFD;
            }
            if (keep && put_cp(r, cp))
                return -1;
            continue;
        default:
            return -1;
        }
        if (keep && put(r, &o, 1))
            return -1;
    }
    return -1;
}

static int skip_value(jreader *r, int depth);

static int skip_container(jreader *r, int depth, char close, int is_object)
{
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    for (;;) {
        skip_ws(r);
        if (is_object) {
            if (r->p >= r->end || *r->p != '"' || read_string(r, 0))
                return -1;
            skip_ws(r);
            if (r->p >= r->end || *r->p++ != ':')
                return -1;
        }
        if (skip_value(r, depth + 1))
            return -1;
        skip_ws(r);
        if (r->p >= r->end)
            return -1;
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p++ == close)
            return 0;
        return -1;
    }
}

static int skip_value(jreader *r, int depth)
{
    skip_ws(r);
    if (r->p >= r->end || depth > 64)
        return -1;
    switch (*r->p) {
    case '"': return read_string(r, 0);
    case '{': return skip_container(r, depth, '}', 1);
    case '[': return skip_container(r, depth, ']', 0);
    default: break;
    }
    static const char *const lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lits[i]);
        if ((size_t)(r->end - r->p) >= n && !memcmp(r->p, lits[i], n)) {
            r->p += n;
            return 0;
        }
    }
    const char *s = r->p;
    while (r->p < r->end && strchr("+-0123456789.eE", *r->p))
        r->p++;
    return r->p > s ? 0 : -1;
}

/* Parse one line: an object whose "text" member is a string. */
static int parse_line(jreader *r, const char *line, size_t n)
{
    r->p = line;
    r->end = line + n;
    r->len = 0;
    r->found = 0;
    skip_ws(r);
    if (r->p >= r->end || *r->p++ != '{')
        return -1;
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
    } else {
        for (;;) {
            skip_ws(r);
            if (r->p >= r->end || *r->p != '"')
                return -1;
            const char *k = r->p;
            if (read_string(r, 0))
                return -1;
            int is_text = r->p - k == 6 && !memcmp(k, "\"text\"", 6);
            skip_ws(r);
            if (r->p >= r->end || *r->p++ != ':')
                return -1;
            skip_ws(r);
            if (is_text) {
                if (r->found || r->p >= r->end || *r->p != '"')
                    return -1;
                if (read_string(r, 1))
                    return -1;
                r->found = 1;
            } else if (skip_value(r, 1)) {
                return -1;
            }
            skip_ws(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                continue;
            }
            if (r->p < r->end && *r->p == '}') {
                r->p++;
                break;
            }
            return -1;
        }
    }
    skip_ws(r);
    return r->p == r->end && r->found ? 0 : -1;
}

/* ---------------------------------------------------------------- command */

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

int cmd_tokenize(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"tokenizer", required_argument, NULL, 't'},
        {"no-special", no_argument, NULL, 'n'},
        {"max-tokens", required_argument, NULL, 'x'},
        {"time", no_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *file = NULL;
    int special = 1, timing = 0, c;
    size_t max_tokens = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 't': file = optarg; break;
        case 'n': special = 0; break;
        case 'T': timing = 1; break;
        case 'x': {
            char *e;
            errno = 0;
            unsigned long long v = strtoull(optarg, &e, 10);
            if (errno || *e || !*optarg || optarg[0] == '-' || v > (1ULL << 40)) {
                fprintf(stderr, "llmspam tokenize: --max-tokens: not a count: %s\n", optarg);
                return 2;
            }
            max_tokens = (size_t)v;
            break;
        }
        case 'h': fputs(tokenize_usage, stdout); return 0;
        default: fputs(tokenize_usage, stderr); return 2;
        }
    }
    if (model && file) {
        fputs(tokenize_usage, stderr);
        return 2;
    }
    char path[4096];
    if (model)
        snprintf(path, sizeof path, "%s/tokenizer.json", model);
    else
        snprintf(path, sizeof path, "%s", file ? file : LLMSPAM_DATADIR "/model/tokenizer.json");

    tokenizer *tok = NULL;
    engine_err err;
    double t0 = now_s(), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    if (tokenizer_load(path, &tok, &err)) {
        fprintf(stderr, "llmspam tokenize: %s\n", err.msg);
        return 1;
    }
    /* CPU time too: on a shared machine the wall time counts waiting. */
    double t_load = now_s() - t0, c_load = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0, t_enc = 0, c_enc = 0;
    size_t bytes = 0;

    jreader r = {0};
    char *line = NULL;
    size_t line_cap = 0, lineno = 0, id_cap = 0;
    int32_t *ids = NULL;
    ssize_t n;
    int rc = 0, fi = optind;
    for (;;) {
        char where[4200];
        if (fi < argc) { /* a file's bytes are the text */
            snprintf(where, sizeof where, "%s", argv[fi]);
            size_t got;
            char *data = tools_read_file(argv[fi++], false, 0, &got);
            if (!data) {
                fprintf(stderr, "llmspam tokenize: %s: %s\n", where, strerror(errno));
                rc = 1;
                break;
            }
            free(r.buf);
            r.buf = data;
            r.len = r.cap = got;
            lineno++;
        } else if (optind < argc) {
            break;
        } else {
            if ((n = getline(&line, &line_cap, stdin)) <= 0)
                break;
            lineno++;
            snprintf(where, sizeof where, "stdin line %zu", lineno);
            if (parse_line(&r, line, (size_t)n)) {
                fprintf(stderr, "llmspam tokenize: %s: not a JSON object with a string \"text\"\n", where);
                rc = 1;
                break;
            }
        }
        /* An ill-formed byte may become three (U+FFFD), each at most one id. */
        size_t want = max_tokens ? max_tokens : 3 * r.len + 16;
        if (want > id_cap) {
            int32_t *ni = realloc(ids, want * sizeof *ids);
            if (!ni) {
                fprintf(stderr, "llmspam tokenize: %s: out of memory\n", where);
                rc = 1;
                break;
            }
            ids = ni;
            id_cap = want;
        }
        size_t k;
        double t1 = now_s(), c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        if (tokenizer_encode(tok, r.buf, r.len, want, special, ids, &k, &err)) {
            fprintf(stderr, "llmspam tokenize: %s: %s\n", where, err.msg);
            rc = 1;
            break;
        }
        t_enc += now_s() - t1;
        c_enc += clock_s(CLOCK_THREAD_CPUTIME_ID) - c1;
        bytes += r.len;
        fputs("{\"ids\": [", stdout);
        for (size_t i = 0; i < k; i++)
            printf(i ? ", %d" : "%d", (int)ids[i]);
        fputs("]}\n", stdout);
    }
    if (fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, "llmspam tokenize: write error\n");
        rc = 1;
    }
    if (timing)
        fprintf(stderr,
                "load_ms=%.1f load_cpu_ms=%.1f texts=%zu bytes=%zu encode_ms=%.3f encode_cpu_ms=%.3f "
                "MB_per_s=%.2f cpu_MB_per_s=%.2f\n",
                t_load * 1e3, c_load * 1e3, lineno, bytes, t_enc * 1e3, c_enc * 1e3,
                t_enc > 0 ? bytes / t_enc / 1e6 : 0.0, c_enc > 0 ? bytes / c_enc / 1e6 : 0.0);
    free(line);
    free(ids);
    free(r.buf);
    tokenizer_free(tok);
    return rc;
}
