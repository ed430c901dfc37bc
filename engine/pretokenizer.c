/*
 * pretokenizer: see pretokenizer.h. The built-in matcher follows the Llama 3
 * regex alternative by alternative, in order, with the backtracking each one
 * implies worked out by hand (comments at each step):
 *
 *   1 (?i:'s|'t|'re|'ve|'m|'ll|'d)   2 [^\r\n\p{L}\p{N}]?\p{L}+   3 \p{N}{1,3}
 *   4 ' ?[^\s\p{L}\p{N}]+[\r\n]*'     5 \s*[\r\n]+   6 \s+(?!\S)   7 \s+
 *
 * Every code point matches one of 2, 3, 4 or 7, so Isolated splitting has
 * no gaps and no match is empty.
 */
#include "config.h"
#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/pretokenizer.h"
#include "engine/utf8.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const char pretok_llama3_pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

struct pretok {
    pcre2_code *re; /* NULL: the built-in Llama 3 matcher */
};

struct pretok_match {
    pcre2_match_data *md;
};

/* ---------------------------------------------------------------- built-in */

/* Class of each ASCII byte, from the generated table (filled once: ASCII
 * lookups are the hot path and skip the two-stage table). */
static unsigned char ascii_class[128];
static pthread_once_t ascii_once = PTHREAD_ONCE_INIT;

static void ascii_init(void)
{
    for (uint32_t c = 0; c < 128; c++)
        ascii_class[c] = (unsigned char)pretok_class(c);
}

/* One decoded code point: cp, its class, and where the next one starts. */
typedef struct {
    uint32_t cp;
    unsigned cls;
    size_t next;
    int bad;
} cpinfo;

static inline cpinfo at(const uint8_t *s, size_t len, size_t pos)
{
    cpinfo c;
    c.bad = 0;
    if (s[pos] < 0x80) {
        c.cp = s[pos];
        c.cls = ascii_class[c.cp];
        c.next = pos + 1;
        return c;
    }
    c.next = pos + utf8_next(s + pos, len - pos, &c.cp, &c.bad);
    c.cls = pretok_class(c.cp);
    return c;
}

static bool folds_to(const uint32_t *set, uint32_t cp)
{
    for (; *set; set++)
        if (*set == cp)
            return true;
    return false;
}

static inline bool is_crlf(uint32_t cp)
{
    return cp == '\r' || cp == '\n';
}

/* Extend over code points of class cls from pos; returns the end. */
static inline size_t run_of(const uint8_t *s, size_t len, size_t pos, unsigned cls, int *bad)
{
    while (pos < len) {
        if (s[pos] < 0x80) {
            if (ascii_class[s[pos]] != cls)
                break;
            pos++;
            continue;
        }
        cpinfo c = at(s, len, pos);
        if (c.cls != cls)
            break;
        *bad |= c.bad;
        pos = c.next;
    }
    return pos;
}

static size_t llama3_next(const uint8_t *s, size_t len, size_t pos, bool *badp)
{
    int bad = 0;
    cpinfo c0 = at(s, len, pos);
    bad |= c0.bad;
    cpinfo c1 = {0, PRETOK_OTHER, c0.next, 0};
    bool have1 = c0.next < len;
    if (have1)
        c1 = at(s, len, c0.next);

    /* 1: contractions, case-insensitively as the reference folds them. */
    if (c0.cp == '\'' && have1) {
        if (folds_to(pretok_fold_stmd, c1.cp)) {
            *badp = c1.bad;
            return c1.next;
        }
        if (c1.next < len) {
            cpinfo c2 = at(s, len, c1.next);
            if ((folds_to(pretok_fold_rv, c1.cp) && folds_to(pretok_fold_e, c2.cp)) ||
                (folds_to(pretok_fold_l, c1.cp) && folds_to(pretok_fold_l, c2.cp))) {
                *badp = c1.bad | c2.bad;
                return c2.next;
            }
        }
    }

    /* 2: a letter run, optionally led by one code point that is not CR, LF,
     * letter or number (the optional part is tried first but can only
     * succeed when a letter follows it). */
    if (c0.cls == PRETOK_LETTER) {
        size_t end = run_of(s, len, c0.next, PRETOK_LETTER, &bad);
        *badp = bad;
        return end;
    }
    if (c0.cls != PRETOK_NUMBER && !is_crlf(c0.cp) && have1 && c1.cls == PRETOK_LETTER) {
        bad |= c1.bad;
        size_t end = run_of(s, len, c1.next, PRETOK_LETTER, &bad);
        *badp = bad;
        return end;
    }

    /* 3: one to three numbers. */
    if (c0.cls == PRETOK_NUMBER) {
        size_t end = c0.next;
        for (int k = 1; k < 3 && end < len; k++) {
            cpinfo c = at(s, len, end);
            if (c.cls != PRETOK_NUMBER)
                break;
            bad |= c.bad;
            end = c.next;
        }
        *badp = bad;
        return end;
    }

    /* 4: an optional space, a run of "other", then any CR/LF. Without an
     * "other" after it the space is left to the whitespace alternatives. */
    if (c0.cp == ' ' && have1 && c1.cls == PRETOK_OTHER) {
        c0 = c1;
    }
    if (c0.cls == PRETOK_OTHER) {
        bad |= c0.bad;
        size_t end = run_of(s, len, c0.next, PRETOK_OTHER, &bad);
        while (end < len && (s[end] == '\r' || s[end] == '\n'))
            end++;
        *badp = bad;
        return end;
    }

    /* c0 is whitespace. Scan the whole run; note the end of its last CR/LF
     * and where its last code point starts. */
    size_t end = c0.next, last_start = pos, crlf_end = is_crlf(c0.cp) ? c0.next : 0;
    while (end < len) {
        cpinfo c = at(s, len, end);
        if (c.cls != PRETOK_SPACE)
            break;
        last_start = end;
        if (is_crlf(c.cp))
            crlf_end = c.next;
        end = c.next;
    }
    /* Whitespace is never ill-formed, so bad stays 0 from here. */
    *badp = false;
    /* 5: \s* backs off to the last CR/LF of the run. */
    if (crlf_end)
        return crlf_end;
    /* 6: the whole run at the end of text, else all but its last code point
     * (which then leads the next pre-token). */
    if (end == len)
        return end;
    if (last_start > pos)
        return last_start;
    /* 7: a single whitespace code point before non-whitespace. */
    return end;
}

/* ---------------------------------------------------------------- PCRE2 */

static size_t pcre2_next(const pretok *p, pretok_match *m, const uint8_t *s, size_t len,
                         size_t pos)
{
    /* The match from pos, or the gap before the next non-empty match as one
     * pre-token. Empty matches split nothing: search on past them. */
    size_t from = pos;
    while (from < len) {
        int rc = pcre2_match(p->re, s, len, from, PCRE2_NO_UTF_CHECK, m->md, NULL);
        if (rc < 0)
            return len;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
        if (ov[1] > ov[0])
            return ov[0] > pos ? ov[0] : ov[1];
        from = ov[0] + 1;
        while (from < len && (s[from] & 0xC0) == 0x80)
            from++;
    }
    return len;
}

/* ---------------------------------------------------------------- API */

engine_status pretok_new(const char *pattern, bool force_pcre2, const char *where,
                         pretok **out, engine_err *err)
{
    *out = NULL;
    pthread_once(&ascii_once, ascii_init);
    pretok *p = calloc(1, sizeof *p);
    if (!p)
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", where);
    if (force_pcre2 || strcmp(pattern, pretok_llama3_pattern) != 0) {
        int ec;
        PCRE2_SIZE eo;
        p->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                              PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &ec, &eo, NULL);
        if (!p->re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ec, msg, sizeof msg);
            free(p);
            return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                               "%s: pre_tokenizer Split regex at offset %zu: %s", where,
                               (size_t)eo, (const char *)msg);
        }
        /* JIT is an optimisation only; the interpreter gives the same matches. */
        (void)pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE);
    }
    *out = p;
    return ENGINE_OK;
}

void pretok_free(pretok *p)
{
    if (!p)
        return;
    pcre2_code_free(p->re);
    free(p);
}

bool pretok_is_builtin(const pretok *p)
{
    return p->re == NULL;
}

bool pretok_needs_valid_utf8(const pretok *p)
{
    return p->re != NULL;
}

engine_status pretok_match_new(const pretok *p, pretok_match **out, engine_err *err)
{
    *out = NULL;
    if (!p->re)
        return ENGINE_OK;
    pretok_match *m = calloc(1, sizeof *m);
    if (!m || !(m->md = pcre2_match_data_create_from_pattern(p->re, NULL))) {
        free(m);
        return engine_fail(err, ENGINE_ERR_NOMEM, "pre-tokenizer: out of memory");
    }
    *out = m;
    return ENGINE_OK;
}

void pretok_match_free(pretok_match *m)
{
    if (!m)
        return;
    pcre2_match_data_free(m->md);
    free(m);
}

size_t pretok_next(const pretok *p, pretok_match *m, const uint8_t *text, size_t len,
                   size_t pos, bool *bad)
{
    if (!p->re)
        return llama3_next(text, len, pos, bad);
    *bad = false;
    return pcre2_next(p, m, text, len, pos);
}
