/*
 * tokjson: see tokjson.h. model.vocab and model.merges hold some 100k-400k
 * small values; cJSON would allocate a node and a string for each, most of
 * the load time. A scanner locates those two values in the text; cJSON
 * parses the rest, with the two blanked out. Any syntax trouble sends the
 * whole file to cJSON, which then reports it.
 */
#include "config.h"
#include "engine/tokjson.h"
#include "engine/file.h"
#include "engine/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Llama 3's is 9 MB; a file past this is refused before it fills memory. */
#define TOKJSON_MAX_FILE (256 << 20)

void tokjson_ws(tokjson_cursor *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static int js_hex4(const char *p, const char *end, unsigned *v)
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

/* The string at j->p (a '"'), decoded into out[0..cap) when out is given.
 * Returns 0, 1 when it did not fit (scanned anyway), -1 on bad syntax. */
int tokjson_string(tokjson_cursor *j, char *out, size_t cap, size_t *n)
{
    size_t k = 0;
    int over = 0;
    if (j->p >= j->end || *j->p != '"')
        return -1;
    j->p++;
    for (;;) {
        /* a run of plain bytes, copied at once */
        const char *s = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20)
            j->p++;
        size_t run = (size_t)(j->p - s);
        if (out && run) {
            if (k + run > cap)
                over = 1;
            else
                memcpy(out + k, s, run);
        }
        k += run;
        if (j->p >= j->end || (unsigned char)*j->p < 0x20)
            return -1;
        if (*j->p++ == '"') {
            if (n)
                *n = k;
            return over;
        }
        if (j->p >= j->end) /* after a backslash */
            return -1;
        uint8_t tmp[4];
        size_t tl = 1;
        char e = *j->p++;
        unsigned cp;
        switch (e) {
        case '"': case '\\': case '/': tmp[0] = (uint8_t)e; break;
        case 'b': tmp[0] = '\b'; break;
        case 'f': tmp[0] = '\f'; break;
        case 'n': tmp[0] = '\n'; break;
        case 'r': tmp[0] = '\r'; break;
        case 't': tmp[0] = '\t'; break;
        case 'u':
            if (js_hex4(j->p, j->end, &cp))
                return -1;
            j->p += 4;
            if (cp >= 0xD800 && cp < 0xDC00) {
                unsigned lo;
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
                    js_hex4(j->p + 2, j->end, &lo) || lo < 0xDC00 || lo >= 0xE000)
                    return -1;
                j->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                return -1;
            }
            tl = utf8_put(cp, tmp);
            break;
        default:
            return -1;
        }
        if (out) {
            if (k + tl > cap)
                over = 1;
            else
                memcpy(out + k, tmp, tl);
        }
        k += tl;
    }
}

/* Step over the string at j->p without decoding it: the closing quote is
 * the first one after an even number of backslashes. What is skipped is
 * checked later (by load_vocab, or by cJSON). */
static int js_skip_string(tokjson_cursor *j)
{
    const char *p = j->p + 1;
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(j->end - p));
        if (!q)
            return -1;
        size_t bs = 0;
        while (q[-1 - (ptrdiff_t)bs] == '\\') /* stops at the opening quote */
            bs++;
        p = q + 1;
        if (!(bs & 1)) {
            j->p = p;
            return 0;
        }
    }
}

static int js_skip(tokjson_cursor *j, int depth)
{
    tokjson_ws(j);
    if (j->p >= j->end || depth > 100)
        return -1;
    char c = *j->p;
    if (c == '"')
        return js_skip_string(j);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        tokjson_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            tokjson_ws(j);
            if (c == '{') {
                if (j->p >= j->end || *j->p != '"' || js_skip_string(j))
                    return -1;
                tokjson_ws(j);
                if (j->p >= j->end || *j->p++ != ':')
                    return -1;
            }
            if (js_skip(j, depth + 1))
                return -1;
            tokjson_ws(j);
            if (j->p >= j->end)
                return -1;
            char d = *j->p++;
            if (d == close)
                return 0;
            if (d != ',')
                return -1;
        }
    }
    const char *s = j->p;
    while (j->p < j->end && (isalnum((unsigned char)*j->p) || *j->p == '-' || *j->p == '+' || *j->p == '.'))
        j->p++;
    return j->p > s ? 0 : -1;
}

/* Locate the values of model.vocab and model.merges. Returns 0, or -1 when
 * the text is not plain enough to tell (cJSON will judge it). */
static int find_model_spans(const char *text, size_t len, tokjson_span *vocab, tokjson_span *merges)
{
    tokjson_cursor j = {text, text + len};
    vocab->s = vocab->e = merges->s = merges->e = NULL;
    tokjson_ws(&j);
    if (j.p >= j.end || *j.p++ != '{')
        return -1;
    for (;;) {
        char key[16];
        size_t kl;
        tokjson_ws(&j);
        if (j.p < j.end && *j.p == '}')
            return 0;
        int rc = tokjson_string(&j, key, sizeof key, &kl);
        if (rc < 0)
            return -1;
        tokjson_ws(&j);
        if (j.p >= j.end || *j.p++ != ':')
            return -1;
        tokjson_ws(&j);
        if (rc == 0 && kl == 5 && !memcmp(key, "model", 5) && j.p < j.end && *j.p == '{') {
            j.p++;
            for (;;) {
                tokjson_ws(&j);
                if (j.p < j.end && *j.p == '}') {
                    j.p++;
                    break;
                }
                int r2 = tokjson_string(&j, key, sizeof key, &kl);
                if (r2 < 0)
                    return -1;
                tokjson_ws(&j);
                if (j.p >= j.end || *j.p++ != ':')
                    return -1;
                tokjson_ws(&j);
                tokjson_span *sp = r2 ? NULL
                           : kl == 5 && !memcmp(key, "vocab", 5)  ? vocab
                           : kl == 6 && !memcmp(key, "merges", 6) ? merges : NULL;
                const char *s = j.p;
                if (js_skip(&j, 1))
                    return -1;
                if (sp && !sp->s) {
                    sp->s = s;
                    sp->e = j.p;
                }
                tokjson_ws(&j);
                if (j.p < j.end && *j.p == ',') {
                    j.p++;
                    continue;
                }
                if (j.p < j.end && *j.p == '}') {
                    j.p++;
                    break;
                }
                return -1;
            }
        } else if (js_skip(&j, 0)) {
            return -1;
        }
        tokjson_ws(&j);
        if (j.p < j.end && *j.p == ',') {
            j.p++;
            continue;
        }
        if (j.p < j.end && *j.p == '}')
            return 0;
        return -1;
    }
}

int tokjson_int(tokjson_cursor *j, long *v)
{
    const char *s = j->p;
    int neg = 0;
    if (j->p < j->end && *j->p == '-') {
        neg = 1;
        j->p++;
    }
    long x = 0;
    int digits = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9' && digits < 12) {
        x = x * 10 + (*j->p++ - '0');
        digits++;
    }
    if (!digits || (j->p < j->end && strchr(".eE0123456789", *j->p)))
        return (j->p = s), -1;
    *v = neg ? -x : x;
    return 0;
}

/* After an element: ',' (returns 1) or the closing character (returns 0). */
int tokjson_next(tokjson_cursor *j, char close)
{
    tokjson_ws(j);
    if (j->p < j->end && *j->p == ',') {
        j->p++;
        return 1;
    }
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 0;
    }
    return -1;
}

engine_status tokjson_read(const char *path, tokjson *out, engine_err *err)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    engine_status st = file_read(path, TOKJSON_MAX_FILE, 0, &text, &len, err);
    if (st)
        return st;
    /* cJSON gets the text with model.vocab and model.merges blanked out
     * (bpe_load reads them from the text); or all of it when the scanner
     * could not find them, to report what is wrong. */
    tokjson_span vs, ms;
    cJSON *root = NULL;
    if (find_model_spans(text, len, &vs, &ms) == 0) {
        tokjson_span cut[2] = {vs, ms};
        if (cut[0].s > cut[1].s || !cut[0].s) {
            cut[0] = ms;
            cut[1] = vs;
        }
        char *rest = malloc(len + 1);
        if (!rest) {
            free(text);
            return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
        }
        size_t k = 0;
        const char *from = text;
        for (int i = 0; i < 2; i++) {
            if (!cut[i].s)
                continue;
            memcpy(rest + k, from, (size_t)(cut[i].s - from));
            k += (size_t)(cut[i].s - from);
            rest[k++] = *cut[i].s == '{' ? '{' : '[';
            rest[k++] = *cut[i].s == '{' ? '}' : ']';
            from = cut[i].e;
        }
        memcpy(rest + k, from, (size_t)(text + len - from));
        k += (size_t)(text + len - from);
        root = cJSON_ParseWithLength(rest, k);
        free(rest);
    } else {
        vs.s = vs.e = ms.s = ms.e = NULL;
        root = cJSON_ParseWithLength(text, len);
    }
    if (!root) {
        free(text);
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: not valid JSON", path);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        free(text);
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: not a JSON object", path);
    }
    out->text = text;
    out->len = len;
    out->root = root;
    out->vocab = vs;
    out->merges = ms;
    return ENGINE_OK;
}

void tokjson_free(tokjson *j)
{
    if (!j)
        return;
    cJSON_Delete(j->root);
    free(j->text);
    memset(j, 0, sizeof *j);
}
