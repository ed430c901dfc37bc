/*
 * pretokenizer: see pretokenizer.h. The built-in matchers follow their
 * regex alternative by alternative, in order, with the backtracking each one
 * implies worked out by hand (comments at each step). Llama 3:
 *
 *   1 (?i:'s|'t|'re|'ve|'m|'ll|'d)   2 [^\r\n\p{L}\p{N}]?\p{L}+   3 \p{N}{1,3}
 *   4 ' ?[^\s\p{L}\p{N}]+[\r\n]*'     5 \s*[\r\n]+   6 \s+(?!\S)   7 \s+
 *
 * GPT-2 (ByteLevel's use_regex):
 *
 *   1 's|'t|'re|'ve|'m|'ll|'d   2 ' ?\p{L}+'   3 ' ?\p{N}+'   4 ' ?[^\s\p{L}\p{N}]+'
 *   5 \s+(?!\S)   6 \s+
 *
 * In both every code point matches some alternative, so Isolated splitting
 * has no gaps and no match is empty. Stages nest: a pretok_match keeps the
 * current piece of each splitting stage, and the last stage (ByteLevel)
 * cuts pre-tokens out of the innermost piece.
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

const char pretok_gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* Splitting stages before ByteLevel; more would be no tokenizer in use. */
#define PRETOK_MAX_STAGES 8

typedef enum {
    STAGE_LLAMA3,      /* Split, the Llama 3 regex, built-in */
    STAGE_PCRE2,       /* Split, any regex, on PCRE2 */
    STAGE_DIGITS,      /* Digits, individual_digits true */
    STAGE_DIGIT_RUNS,  /* Digits, individual_digits false */
} stage_kind;

typedef struct {
    stage_kind kind;
    pcre2_code *re; /* STAGE_PCRE2 */
} stage;

struct pretok {
    stage st[PRETOK_MAX_STAGES];
    size_t n;
    /* the ByteLevel stage: regex GPT-2 (built-in, or gpt2_re on PCRE2), or no split */
    bool bl_regex, bl_prefix;
    pcre2_code *gpt2_re;
};

struct pretok_match {
    /* the current piece of each stage, [start, end), and whether it holds
     * ill-formed UTF-8; valid when end > 0 */
    size_t start[PRETOK_MAX_STAGES], end[PRETOK_MAX_STAGES];
    bool bad[PRETOK_MAX_STAGES];
    bool whole_bad; /* no stage and no regex: the whole text's */
    size_t lead_done; /* 1 + the start of the last piece given its prefix space; 0: none */
    pcre2_match_data *md[PRETOK_MAX_STAGES + 1];
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

/* The GPT-2 regex from pos; with lead, a space stands before text[pos]
 * (ByteLevel's add_prefix_space), and the result may be pos: the space
 * alone. */
static size_t gpt2_next(const uint8_t *s, size_t len, size_t pos, bool lead, bool *badp)
{
    int bad = 0;
    cpinfo c0, c1 = {0, PRETOK_OTHER, pos, 0};
    if (lead)
        c0 = (cpinfo){' ', PRETOK_SPACE, pos, 0};
    else
        c0 = at(s, len, pos);
    bool have1 = c0.next < len;
    if (have1)
        c1 = at(s, len, c0.next);

    /* 1: contractions, ASCII and case-sensitive. */
    if (c0.cp == '\'' && !lead && have1) {
        if (c1.cp == 's' || c1.cp == 't' || c1.cp == 'm' || c1.cp == 'd') {
            *badp = false;
            return c1.next;
        }
        if (c1.next < len && (c1.cp == 'r' || c1.cp == 'v' || c1.cp == 'l')) {
            uint8_t c2 = s[c1.next];
            if ((c1.cp != 'l' && c2 == 'e') || (c1.cp == 'l' && c2 == 'l')) {
                *badp = false;
                return c1.next + 1;
            }
        }
    }

    /* 2, 3, 4: an optional space, then a run of letters, numbers or
     * "other". The space is taken only when such a run follows it. */
    if (c0.cp == ' ' && have1 && c1.cls != PRETOK_SPACE) {
        bad |= c1.bad;
        size_t end = run_of(s, len, c1.next, c1.cls, &bad);
        *badp = bad;
        return end;
    }
    if (c0.cls != PRETOK_SPACE) {
        bad |= c0.bad;
        size_t end = run_of(s, len, c0.next, c0.cls, &bad);
        *badp = bad;
        return end;
    }

    /* Whitespace (never ill-formed): the run, and where its last code
     * point starts; k counts its code points, the prefix space included. */
    *badp = false;
    size_t end = c0.next, last_start = pos, k = 1;
    while (end < len) {
        cpinfo c = at(s, len, end);
        if (c.cls != PRETOK_SPACE)
            break;
        last_start = end;
        end = c.next;
        k++;
    }
    /* 5: the whole run at the end of the piece, else all but its last code
     * point (which then leads the next pre-token). */
    if (end == len)
        return end;
    if (k >= 2)
        return last_start;
    /* 6: a single whitespace code point before non-whitespace. */
    return end;
}

/* ---------------------------------------------------------------- Digits */

static bool in_sorted(const uint32_t *set, uint32_t cp)
{
    for (; *set && *set <= cp; set++)
        if (*set == cp)
            return true;
    return false;
}

/* Rust's char::is_numeric, as the Digits pre-tokenizer asks it. */
static inline bool is_numeric(const cpinfo *c)
{
    bool n = c->cls == PRETOK_NUMBER;
    if (c->cp >= pretok_digits_diff[0] && pretok_digits_diff[0] && in_sorted(pretok_digits_diff, c->cp))
        n = !n;
    return n;
}

static size_t digits_next(const uint8_t *s, size_t len, size_t pos, bool runs, bool *badp)
{
    int bad = 0;
    cpinfo c = at(s, len, pos);
    bool num = is_numeric(&c);
    bad |= c.bad;
    size_t end = c.next;
    if (num && !runs) {
        *badp = bad;
        return end;
    }
    while (end < len) {
        if (s[end] < 0x80) {
            /* ASCII: numeric exactly when a digit */
            if ((s[end] >= '0' && s[end] <= '9') != num)
                break;
            end++;
            continue;
        }
        cpinfo d = at(s, len, end);
        if (is_numeric(&d) != num)
            break;
        bad |= d.bad;
        end = d.next;
    }
    *badp = bad;
    return end;
}

/* ---------------------------------------------------------------- PCRE2 */

/* The piece text[lo..hi) on its own, as the reference runs a regex: the
 * match from pos, or the gap before the next non-empty match as one
 * pre-token. Empty matches split nothing: search on past them. */
static size_t pcre2_next(const pcre2_code *re, pcre2_match_data *md, const uint8_t *s, size_t lo,
                         size_t hi, size_t pos)
{
    const uint8_t *sub = s + lo;
    size_t len = hi - lo, from = pos - lo, at0 = from;
    while (from < len) {
        int rc = pcre2_match(re, sub, len, from, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc < 0)
            return hi;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] > ov[0])
            return lo + (ov[0] > at0 ? ov[0] : ov[1]);
        from = ov[0] + 1;
        while (from < len && (sub[from] & 0xC0) == 0x80)
            from++;
    }
    return hi;
}

/* ---------------------------------------------------------------- loading */

static engine_status compile(const char *pattern, const char *what, const char *where,
                             pcre2_code **out, engine_err *err)
{
    int ec;
    PCRE2_SIZE eo;
    *out = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                         PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &ec, &eo, NULL);
    if (!*out) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: pre_tokenizer %s regex at offset %zu: %s",
                           where, what, (size_t)eo, (const char *)msg);
    }
    /* JIT is an optimisation only; the interpreter gives the same matches. */
    (void)pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE);
    return ENGINE_OK;
}

static const char *type_of(const cJSON *obj)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* A boolean option: absent or null reads as dflt; anything else but a
 * boolean is a format error. */
static engine_status get_bool(const cJSON *obj, const char *key, bool dflt, const char *what,
                              const char *where, bool *out, engine_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        *out = dflt;
        return ENGINE_OK;
    }
    if (!cJSON_IsBool(v))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: pre_tokenizer %s.%s is not a boolean", where, what, key);
    *out = cJSON_IsTrue(v);
    return ENGINE_OK;
}

static engine_status add_stage(pretok *p, const cJSON *e, unsigned flags, bool *seen_bl,
                               const char *where, int depth, engine_err *err)
{
    const char *type = type_of(e);
    engine_status st;
    if (!type)
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: pre_tokenizer without a \"type\"", where);
    if (*seen_bl)
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: pre_tokenizer \"%s\" after ByteLevel is not supported (ByteLevel must be last)",
                           where, type);
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(e, "pretokenizers");
        if (!cJSON_IsArray(list))
            return engine_fail(err, ENGINE_ERR_FORMAT, "%s: pre_tokenizer Sequence has no \"pretokenizers\"", where);
        if (depth > 4)
            return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: pre_tokenizer Sequences nested too deep", where);
        /* Stages apply one after the other: a nested Sequence is its items. */
        for (const cJSON *c = list->child; c; c = c->next)
            if ((st = add_stage(p, c, flags, seen_bl, where, depth + 1, err)))
                return st;
        return ENGINE_OK;
    }
    if (!strcmp(type, "ByteLevel")) {
        if ((st = get_bool(e, "use_regex", true, "ByteLevel", where, &p->bl_regex, err)) ||
            (st = get_bool(e, "add_prefix_space", true, "ByteLevel", where, &p->bl_prefix, err)))
            return st;
        *seen_bl = true;
        if (p->bl_regex && (flags & PRETOK_FORCE_PCRE2) && !p->bl_prefix)
            return compile(pretok_gpt2_pattern, "ByteLevel", where, &p->gpt2_re, err);
        return ENGINE_OK;
    }
    if (p->n == PRETOK_MAX_STAGES)
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: pre_tokenizer has more than %d stages", where,
                           PRETOK_MAX_STAGES);
    stage *sg = &p->st[p->n];
    if (!strcmp(type, "Digits")) {
        bool individual;
        if ((st = get_bool(e, "individual_digits", false, "Digits", where, &individual, err)))
            return st;
        sg->kind = individual ? STAGE_DIGITS : STAGE_DIGIT_RUNS;
        p->n++;
        return ENGINE_OK;
    }
    if (!strcmp(type, "Split")) {
        const cJSON *beh = cJSON_GetObjectItemCaseSensitive(e, "behavior");
        if (!cJSON_IsString(beh) || strcmp(beh->valuestring, "Isolated"))
            return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                               "%s: pre_tokenizer Split behavior \"%s\" is not supported (only Isolated)",
                               where, cJSON_IsString(beh) ? beh->valuestring : "?");
        bool invert;
        if ((st = get_bool(e, "invert", false, "Split", where, &invert, err)))
            return st;
        if (invert)
            return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: pre_tokenizer Split invert is not supported", where);
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(e, "pattern");
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
        if (!cJSON_IsString(re))
            return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                               "%s: pre_tokenizer Split pattern must be {\"Regex\": ...}", where);
        if (!(flags & PRETOK_FORCE_PCRE2) && !strcmp(re->valuestring, pretok_llama3_pattern)) {
            sg->kind = STAGE_LLAMA3;
        } else {
            sg->kind = STAGE_PCRE2;
            if ((st = compile(re->valuestring, "Split", where, &sg->re, err)))
                return st;
        }
        p->n++;
        return ENGINE_OK;
    }
    if (!strcmp(type, "Metaspace"))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: pre_tokenizer Metaspace (SentencePiece-style) is not supported; "
                           "only byte-level BPE", where);
    return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                       "%s: pre_tokenizer \"%s\" is not supported (Split, Digits, ByteLevel, Sequence)",
                       where, type);
}

engine_status pretok_from_json(const cJSON *pre, unsigned flags, const char *where,
                               pretok **out, engine_err *err)
{
    *out = NULL;
    pthread_once(&ascii_once, ascii_init);
    if (!pre || cJSON_IsNull(pre))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: pre_tokenizer is null; not supported (byte-level BPE needs ByteLevel)", where);
    pretok *p = calloc(1, sizeof *p);
    if (!p)
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", where);
    bool seen_bl = false;
    engine_status st = add_stage(p, pre, flags, &seen_bl, where, 0, err);
    if (!st && !seen_bl)
        st = engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                         "%s: pre_tokenizer has no ByteLevel stage; not supported (only byte-level BPE)", where);
    if (st) {
        pretok_free(p);
        return st;
    }
    *out = p;
    return ENGINE_OK;
}

void pretok_free(pretok *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        pcre2_code_free(p->st[i].re);
    pcre2_code_free(p->gpt2_re);
    free(p);
}

bool pretok_is_builtin(const pretok *p)
{
    return !pretok_needs_valid_utf8(p);
}

bool pretok_needs_valid_utf8(const pretok *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->st[i].re)
            return true;
    return p->gpt2_re != NULL;
}

bool pretok_adds_prefix_space(const pretok *p)
{
    return p->bl_prefix;
}

engine_status pretok_match_new(const pretok *p, pretok_match **out, engine_err *err)
{
    pretok_match *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return engine_fail(err, ENGINE_ERR_NOMEM, "pre-tokenizer: out of memory");
    for (size_t i = 0; i <= p->n; i++) {
        const pcre2_code *re = i < p->n ? p->st[i].re : p->gpt2_re;
        if (re && !(m->md[i] = pcre2_match_data_create_from_pattern(re, NULL))) {
            pretok_match_free(m);
            return engine_fail(err, ENGINE_ERR_NOMEM, "pre-tokenizer: out of memory");
        }
    }
    *out = m;
    return ENGINE_OK;
}

void pretok_match_free(pretok_match *m)
{
    if (!m)
        return;
    for (size_t i = 0; i <= PRETOK_MAX_STAGES; i++)
        pcre2_match_data_free(m->md[i]);
    free(m);
}

static bool any_invalid(const uint8_t *s, size_t lo, size_t hi)
{
    while (lo < hi) {
        if (s[lo] < 0x80) {
            lo++;
            continue;
        }
        cpinfo c = at(s, hi, lo);
        if (c.bad)
            return true;
        lo = c.next;
    }
    return false;
}

size_t pretok_next(const pretok *p, pretok_match *m, const uint8_t *text, size_t len,
                   size_t pos, bool *bad, bool *lead)
{
    /* The piece of each stage that holds pos: kept while pos is inside it,
     * else the stage's next piece from pos within its parent's. */
    size_t lo = 0, hi = len;
    bool piece_bad = false;
    if (p->n == 0 && !p->bl_regex && pos == 0)
        m->whole_bad = any_invalid(text, 0, len);
    piece_bad = m->whole_bad;
    for (size_t i = 0; i < p->n; i++) {
        if (!(pos >= m->start[i] && pos < m->end[i])) {
            const stage *sg = &p->st[i];
            size_t e;
            bool b = false;
            switch (sg->kind) {
            case STAGE_LLAMA3:
                e = llama3_next(text, hi, pos, &b);
                break;
            case STAGE_PCRE2:
                e = pcre2_next(sg->re, m->md[i], text, lo, hi, pos);
                break;
            case STAGE_DIGITS:
            case STAGE_DIGIT_RUNS:
            default:
                e = digits_next(text, hi, pos, sg->kind == STAGE_DIGIT_RUNS, &b);
                break;
            }
            m->start[i] = pos;
            m->end[i] = e;
            m->bad[i] = b;
        }
        lo = m->start[i];
        hi = m->end[i];
        piece_bad = m->bad[i];
    }
    /* ByteLevel: the prefix space once per piece that does not start with one. */
    *lead = p->bl_prefix && pos == lo && text[lo] != ' ' && m->lead_done != lo + 1;
    if (*lead)
        m->lead_done = lo + 1;
    if (!p->bl_regex) {
        *bad = piece_bad;
        return hi;
    }
    if (p->gpt2_re) {
        *bad = false;
        return pcre2_next(p->gpt2_re, m->md[p->n], text, lo, hi, pos);
    }
    return gpt2_next(text, hi, pos, *lead, bad);
}
