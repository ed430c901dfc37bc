/*
 * headers: our X-Spam-* headers, removal of forged ones, Subject rewrite.
 */
#include "config.h"
#include "milter/headers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void add(headers_set *out, const char *prefix, const char *suffix, const char *value)
{
    if (out->n >= HEADERS_MAX)
        return;
    snprintf(out->h[out->n].name, HEADERS_NAME_MAX, "%s-%s", prefix, suffix);
    snprintf(out->h[out->n].value, HEADERS_VALUE_MAX, "%s", value);
    out->n++;
}

int headers_level_stars(double score)
{
    if (!(score > 0))
        return 0;
    /* the epsilon keeps 0.3 (0.29999...) at three stars */
    int n = (int)floor(score * 10.0 + 1e-9);
    return n > 10 ? 10 : n;
}

/* A header-safe short token: printable, no blanks or ';'. */
static void safe_token(char *dst, size_t len, const char *src)
{
    size_t j = 0;
    for (size_t i = 0; src && src[i] && j + 1 < len; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[j++] = (ch > ' ' && ch < 127 && ch != ';') ? (char)ch : '_';
    }
    dst[j] = '\0';
    if (j == 0 && len > 1)
        snprintf(dst, len, "unknown");
}

void headers_build(headers_set *out, const char *prefix, double score, double required,
                   bool flag, const char *model, int tokens)
{
    char v[HEADERS_VALUE_MAX], m[128];
    out->n = 0;
    if (score < 0)
        score = 0;
    if (flag)
        add(out, prefix, "Flag", "YES");
    safe_token(m, sizeof m, model);
    snprintf(v, sizeof v, "%s, score=%.3f required=%.3f model=%s tokens=%d",
             flag ? "Yes" : "No", score, required, m, tokens);
    add(out, prefix, "Status", v);
    snprintf(v, sizeof v, "%.3f", score);
    add(out, prefix, "Score", v);
    int stars = headers_level_stars(score);
    memset(v, '*', (size_t)stars);
    v[stars] = '\0';
    add(out, prefix, "Level", v);
}

void headers_build_unscored(headers_set *out, const char *prefix, const char *reason, bool flag)
{
    char r[64];
    out->n = 0;
    if (flag)
        add(out, prefix, "Flag", "YES");
    safe_token(r, sizeof r, reason);
    add(out, prefix, "Unclassified", r);
}

void headers_build_unclassified(headers_set *out, const char *prefix, const char *reason)
{
    headers_build_unscored(out, prefix, reason, false);
}

bool headers_is_ours(const char *prefix, const char *name)
{
    size_t n = strlen(prefix);
    return !strncasecmp(name, prefix, n) && (name[n] == '\0' || name[n] == '-');
}

/* ---- spoof tracking ---------------------------------------------------- */

typedef struct seen {
    char *name;   /* as it arrived */
    int count;    /* occurrences so far */
} seen;

typedef struct removal {
    size_t seen;  /* index into seen[] */
    int index;    /* 1-based occurrence */
} removal;

struct headers_spoof {
    char *prefix;
    seen *seen;
    size_t nseen, capseen;
    removal *rm;
    size_t nrm, caprm;
    bool sorted;
    bool overflow;
};

/* Bound: HEADERS_SPOOF_MAX removals, so that the name lookup below (linear)
 * and the removals at end of message stay small whatever the MTA let
 * through; no real message carries that many of our headers. */

headers_spoof *headers_spoof_new(const char *prefix)
{
    headers_spoof *s = calloc(1, sizeof *s);
    if (!s || !(s->prefix = strdup(prefix))) {
        free(s);
        return NULL;
    }
    return s;
}

void headers_spoof_free(headers_spoof *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nseen; i++)
        free(s->seen[i].name);
    free(s->seen);
    free(s->rm);
    free(s->prefix);
    free(s);
}

bool headers_spoof_note(headers_spoof *s, const char *name)
{
    if (!headers_is_ours(s->prefix, name))
        return true;
    if (s->nrm >= HEADERS_SPOOF_MAX) {
        s->overflow = true;
        return false;
    }
    size_t i;
    for (i = 0; i < s->nseen; i++)
        if (!strcasecmp(s->seen[i].name, name))
            break;
    if (i == s->nseen) {
        if (s->nseen == s->capseen) {
            size_t cap = s->capseen ? s->capseen * 2 : 4;
            seen *t = realloc(s->seen, cap * sizeof *t);
            if (!t)
                return false;
            s->seen = t;
            s->capseen = cap;
        }
        if (!(s->seen[i].name = strdup(name)))
            return false;
        s->seen[i].count = 0;
        s->nseen++;
    }
    if (s->nrm == s->caprm) {
        size_t cap = s->caprm ? s->caprm * 2 : 4;
        removal *t = realloc(s->rm, cap * sizeof *t);
        if (!t)
            return false;
        s->rm = t;
        s->caprm = cap;
    }
    s->seen[i].count++;
    s->rm[s->nrm].seen = i;
    s->rm[s->nrm].index = s->seen[i].count;
    s->nrm++;
    s->sorted = false;
    return true;
}

bool headers_spoof_overflow(const headers_spoof *s)
{
    return s && s->overflow;
}

size_t headers_spoof_count(const headers_spoof *s)
{
    return s ? s->nrm : 0;
}

static int by_index_desc(const void *a, const void *b)
{
    const removal *x = a, *y = b;
    if (x->index != y->index)
        return y->index - x->index;
    return (x->seen > y->seen) - (x->seen < y->seen);
}

void headers_spoof_get(headers_spoof *s, size_t i, const char **name, int *index)
{
    if (!s->sorted) {
        qsort(s->rm, s->nrm, sizeof *s->rm, by_index_desc);
        s->sorted = true;
    }
    *name = s->seen[s->rm[i].seen].name;
    *index = s->rm[i].index;
}

char *headers_subject_rewrite(const char *prefix, const char *original)
{
    if (!original)
        original = "";
    while (*original == ' ' || *original == '\t')
        original++;
    /* already marked (a resent or looped message): do not stack prefixes */
    if (*prefix && !strncmp(original, prefix, strlen(prefix)))
        prefix = "";
    size_t n = strlen(prefix) + 1 + strlen(original) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    snprintf(s, n, "%s%s%s", prefix, *prefix && *original ? " " : "", original);
    for (char *p = s; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    return s;
}
