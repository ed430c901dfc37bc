/*
 * tokenizer: loads a Hugging Face tokenizer.json of the Llama 3 kind
 * (model BPE over GPT-2 byte-level symbols, pre_tokenizer Sequence[Split,
 * ByteLevel], post_processor TemplateProcessing) and encodes untrusted text
 * with it. Anything else the file asks for (another model, a normalizer,
 * another pre-tokenizer or post-processor) is a load error naming it.
 *
 * Encoding splits the text lazily, one pre-token at a time, and BPE-encodes
 * each on its own: pre-tokens never interact after the split, and the
 * matcher looks ahead as far as the regex would, so the ids produced before
 * stopping at max_tokens are those of encoding everything.
 * Added (special) tokens are never matched in the text. "truncation" and
 * "padding" in the file are ignored: the caller's max_tokens decides.
 *
 * Cost: linear in the text up to the point where max_tokens ids are known,
 * except that the pre-token in progress is encoded whole: one "word" of n
 * bytes (a letter, punctuation or whitespace run) costs O(n log n) time and
 * about 60n bytes. Callers bound the text (the milter's max text bytes).
 * The PCRE2 fallback (a Split pattern other than Llama 3's) first copies
 * text with ill-formed UTF-8 whole, replaced, since PCRE2 needs valid UTF-8.
 */
#include "config.h"
#include "engine/tokenizer.h"
#include "engine/file.h"
#include "engine/bpe.h"
#include "engine/pretokenizer.h"
#include "engine/utf8.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ids above this are refused: a vocabulary of 16M tokens is already far
 * beyond any model, and tables are sized by the largest id. */
#define TOKENIZER_MAX_ID ((1 << 24) - 1)
/* Llama 3's is 9 MB; a file past this is refused before it fills memory. */
#define TOKENIZER_MAX_FILE (256 << 20)

typedef struct {
    int32_t id;
    char *content;
    size_t len;
} added_token;

struct tokenizer {
    bpe *bpe;
    pretok *pre;
    int32_t prefix[8], suffix[8]; /* ids the post-processor adds */
    size_t n_prefix, n_suffix;
    added_token *added;
    size_t n_added;
    size_t vocab_size;
};

/* ---------------------------------------------------------------- byte level */

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
 * the other 68 bytes for U+0100.. in byte order. unicode_byte inverts it. */
static int16_t unicode_byte[324];

static void bytelevel_init(void)
{
    int n = 0;
    for (int i = 0; i < 324; i++)
        unicode_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        unicode_byte[printable ? b : 256 + n++] = (int16_t)b;
    }
}

/* Decode a byte-level token string into raw bytes (out has room for len);
 * returns the byte count or -1 if a character is not a byte-level one. */
static long bytelevel_decode(const char *s, size_t len, uint8_t *out)
{
    size_t i = 0, n = 0;
    while (i < len) {
        uint32_t cp = (uint8_t)s[i];
        int bad = 0;
        if (cp < 0x80)
            i++;
        else
            i += utf8_next((const uint8_t *)s + i, len - i, &cp, &bad);
        if (bad || cp >= 324 || unicode_byte[cp] < 0)
            return -1;
        out[n++] = (uint8_t)unicode_byte[cp];
    }
    return (long)n;
}

/* ---------------------------------------------------------------- loading */

static const char *type_of(const cJSON *obj)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static bool is_false_or_absent(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return !v || cJSON_IsFalse(v) || cJSON_IsNull(v);
}

/* ---------------------------------------------------------------- fast JSON */

/* model.vocab and model.merges hold some 400k small values; cJSON would
 * allocate a node and a string for each, most of the load time. This scanner
 * reads those two straight from the text; cJSON parses the rest, with the
 * two values blanked out. Any syntax trouble sends the whole file to cJSON,
 * which then reports it. */

typedef struct {
    const char *p, *end;
} js;

typedef struct {
    const char *s, *e; /* NULL when absent */
} span;

static void js_ws(js *j)
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
static int js_string(js *j, char *out, size_t cap, size_t *n)
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
static int js_skip_string(js *j)
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

static int js_skip(js *j, int depth)
{
    js_ws(j);
    if (j->p >= j->end || depth > 100)
        return -1;
    char c = *j->p;
    if (c == '"')
        return js_skip_string(j);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        js_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            js_ws(j);
            if (c == '{') {
                if (j->p >= j->end || *j->p != '"' || js_skip_string(j))
                    return -1;
                js_ws(j);
                if (j->p >= j->end || *j->p++ != ':')
                    return -1;
            }
            if (js_skip(j, depth + 1))
                return -1;
            js_ws(j);
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
static int find_model_spans(const char *text, size_t len, span *vocab, span *merges)
{
    js j = {text, text + len};
    vocab->s = vocab->e = merges->s = merges->e = NULL;
    js_ws(&j);
    if (j.p >= j.end || *j.p++ != '{')
        return -1;
    for (;;) {
        char key[16];
        size_t kl;
        js_ws(&j);
        if (j.p < j.end && *j.p == '}')
            return 0;
        int rc = js_string(&j, key, sizeof key, &kl);
        if (rc < 0)
            return -1;
        js_ws(&j);
        if (j.p >= j.end || *j.p++ != ':')
            return -1;
        js_ws(&j);
        if (rc == 0 && kl == 5 && !memcmp(key, "model", 5) && j.p < j.end && *j.p == '{') {
            j.p++;
            for (;;) {
                js_ws(&j);
                if (j.p < j.end && *j.p == '}') {
                    j.p++;
                    break;
                }
                int r2 = js_string(&j, key, sizeof key, &kl);
                if (r2 < 0)
                    return -1;
                js_ws(&j);
                if (j.p >= j.end || *j.p++ != ':')
                    return -1;
                js_ws(&j);
                span *sp = r2 ? NULL
                           : kl == 5 && !memcmp(key, "vocab", 5)  ? vocab
                           : kl == 6 && !memcmp(key, "merges", 6) ? merges : NULL;
                const char *s = j.p;
                if (js_skip(&j, 1))
                    return -1;
                if (sp && !sp->s) {
                    sp->s = s;
                    sp->e = j.p;
                }
                js_ws(&j);
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
        js_ws(&j);
        if (j.p < j.end && *j.p == ',') {
            j.p++;
            continue;
        }
        if (j.p < j.end && *j.p == '}')
            return 0;
        return -1;
    }
}

static int js_int(js *j, long *v)
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
static int js_next(js *j, char close)
{
    js_ws(j);
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

typedef struct {
    uint32_t off;       /* left then right bytes, in the pass's arena */
    uint16_t ll, rl;
    uint32_t hl, hr, hm; /* hashes of left, right, left+right */
    int32_t a, b, m;     /* their ids */
} merge_rec;

static engine_status load_vocab(tokenizer *tok, span vs, span ms, const char *path, engine_err *err)
{
    if (!vs.s || *vs.s != '{')
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.vocab is missing or not an object", path);
    if (!ms.s || *ms.s != '[')
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.merges is missing or not an array", path);
    /* Two passes, so that the inserts can prefetch: parse and hash every
     * entry, then insert them into a table sized for their number. */
    typedef struct {
        uint32_t off, len, hash;
        int32_t id;
    } vocab_rec;
    vocab_rec *vrec = NULL;
    uint8_t *vbytes = NULL;
    size_t nv = 0, vrec_cap = 0, nvb = 0, vb_cap = 0;
    engine_status vst = ENGINE_OK;
    char key[1024];
    js j = {vs.s + 1, vs.e};
    js_ws(&j);
    int more = j.p < j.end && *j.p == '}' ? 0 : 1;
    for (; more == 1; nv++) {
        size_t kl;
        long id;
        js_ws(&j);
        int rc = js_string(&j, key, sizeof key, &kl);
        js_ws(&j);
        if (rc || j.p >= j.end || *j.p++ != ':') {
            vst = engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.vocab entry %zu: bad or overlong key", path, nv);
            goto vout;
        }
        js_ws(&j);
        if (js_int(&j, &id) || id < 0 || id > TOKENIZER_MAX_ID) {
            vst = engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.vocab[\"%.*s\"] is not a valid id", path,
                              (int)(kl < 64 ? kl : 64), key);
            goto vout;
        }
        if (nv == vrec_cap || nvb + kl > vb_cap) {
            /* first sized from the text (Llama 3: 23 bytes an entry) */
            vrec_cap = vrec_cap ? 2 * vrec_cap : (size_t)(vs.e - vs.s) / 16 + 64;
            vb_cap = vb_cap ? 2 * vb_cap : (size_t)(vs.e - vs.s) / 2 + 4096;
            vocab_rec *nr = realloc(vrec, vrec_cap * sizeof *vrec);
            if (nr)
                vrec = nr;
            uint8_t *nb = realloc(vbytes, vb_cap);
            if (nb)
                vbytes = nb;
            if (!nr || !nb) {
                vst = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for the vocabulary", path);
                goto vout;
            }
        }
        long n = bytelevel_decode(key, kl, vbytes + nvb);
        if (n < 0) {
            vst = engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.vocab key \"%.*s\" is not a byte-level token",
                              path, (int)(kl < 64 ? kl : 64), key);
            goto vout;
        }
        vrec[nv] = (vocab_rec){(uint32_t)nvb, (uint32_t)n, bpe_hash(vbytes + nvb, (size_t)n), (int32_t)id};
        nvb += (size_t)n;
        if ((more = js_next(&j, '}')) < 0) {
            vst = engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.vocab entry %zu: bad syntax", path, nv);
            goto vout;
        }
    }
    tok->bpe = bpe_new(nv, 16);
    if (!tok->bpe) {
        vst = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for the vocabulary", path);
        goto vout;
    }
    enum { VAHEAD = 12 };
    for (size_t i = 0; i < nv; i++) {
        if (i + VAHEAD < nv)
            bpe_prefetch(tok->bpe, vrec[i + VAHEAD].hash);
        int rc = bpe_add_token_hashed(tok->bpe, vbytes + vrec[i].off, vrec[i].len, vrec[i].id, vrec[i].hash);
        if (rc == -1) {
            vst = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for the vocabulary", path);
            goto vout;
        }
        if (rc) {
            vst = engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.vocab entry %zu: duplicate token or id %d",
                              path, i, (int)vrec[i].id);
            goto vout;
        }
    }
vout:
    free(vrec);
    free(vbytes);
    if (vst)
        return vst;
    if (!bpe_has_all_bytes(tok->bpe))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: model.vocab lacks a token for some byte (not byte-level BPE)", path);

    /* Merges in three passes so that the hash-table look-ups, which miss
     * the cache, can be prefetched some entries ahead: parse and hash, look
     * up the three tokens, insert. */
    merge_rec *rec = NULL;
    uint8_t *bytes = NULL;
    size_t nrec = 0, rec_cap = 0, nbytes = 0, bytes_cap = 0;
    engine_status st = ENGINE_OK;
    char m[2048];
    j = (js){ms.s + 1, ms.e};
    js_ws(&j);
    more = j.p < j.end && *j.p == ']' ? 0 : 1;
    for (; more == 1; nrec++) {
        const char *l = NULL, *r = NULL;
        size_t ll = 0, rl = 0, n;
        int rank = (int)nrec;
        js_ws(&j);
        if (nrec >= INT32_MAX) {
            st = engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: model.merges: too many", path);
            goto out;
        }
        if (j.p < j.end && *j.p == '"') { /* "left right" */
            if (js_string(&j, m, sizeof m, &n) == 0) {
                const char *sp = memchr(m, ' ', n);
                if (sp && !memchr(sp + 1, ' ', n - (size_t)(sp + 1 - m))) {
                    l = m;
                    ll = (size_t)(sp - m);
                    r = sp + 1;
                    rl = n - ll - 1;
                }
            }
        } else if (j.p < j.end && *j.p == '[') { /* ["left", "right"] */
            j.p++;
            js_ws(&j);
            if (js_string(&j, m, 1024, &ll) == 0 && js_next(&j, ']') == 1) {
                js_ws(&j);
                if (js_string(&j, m + 1024, 1024, &rl) == 0 && js_next(&j, ']') == 0) {
                    l = m;
                    r = m + 1024;
                }
            }
        }
        if (!l) {
            st = engine_fail(err, ENGINE_ERR_FORMAT,
                             "%s: model.merges[%d] is neither \"a b\" nor [\"a\", \"b\"]", path, rank);
            goto out;
        }
        if (nrec == rec_cap || nbytes + ll + rl > bytes_cap) {
            /* first sized from the text (Llama 3: 18 bytes a merge) */
            rec_cap = rec_cap ? 2 * rec_cap : (size_t)(ms.e - ms.s) / 14 + 64;
            bytes_cap = bytes_cap ? 2 * bytes_cap : (size_t)(ms.e - ms.s) / 2 + 4096;
            merge_rec *nr = realloc(rec, rec_cap * sizeof *rec);
            if (nr)
                rec = nr;
            uint8_t *nb = realloc(bytes, bytes_cap);
            if (nb)
                bytes = nb;
            if (!nr || !nb) {
                st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for the merges", path);
                goto out;
            }
        }
        uint8_t *at = bytes + nbytes;
        long ln = bytelevel_decode(l, ll, at);
        long rn = ln < 0 ? -1 : bytelevel_decode(r, rl, at + ln);
        if (ln < 0 || rn < 0) {
            st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.merges[%d] is not byte-level", path, rank);
            goto out;
        }
        rec[nrec] = (merge_rec){(uint32_t)nbytes, (uint16_t)ln, (uint16_t)rn,
                                bpe_hash(at, (size_t)ln), bpe_hash(at + ln, (size_t)rn),
                                bpe_hash(at, (size_t)(ln + rn)), -1, -1, -1};
        nbytes += (size_t)(ln + rn);
        if ((more = js_next(&j, ']')) < 0) {
            st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.merges[%d]: bad syntax", path, rank);
            goto out;
        }
    }
    enum { AHEAD = 12 };
    for (size_t i = 0; i < nrec; i++) {
        if (i + AHEAD < nrec) {
            bpe_prefetch(tok->bpe, rec[i + AHEAD].hl);
            bpe_prefetch(tok->bpe, rec[i + AHEAD].hr);
            bpe_prefetch(tok->bpe, rec[i + AHEAD].hm);
        }
        merge_rec *e = &rec[i];
        const uint8_t *at = bytes + e->off;
        e->a = bpe_lookup_hashed(tok->bpe, at, e->ll, e->hl);
        e->b = bpe_lookup_hashed(tok->bpe, at + e->ll, e->rl, e->hr);
        e->m = bpe_lookup_hashed(tok->bpe, at, (size_t)e->ll + e->rl, e->hm);
        if (e->a < 0 || e->b < 0 || e->m < 0) {
            st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.merges[%zu] uses a token not in model.vocab",
                             path, i);
            goto out;
        }
    }
    if (bpe_reserve_merges(tok->bpe, nrec)) {
        st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for the merges", path);
        goto out;
    }
    for (size_t i = 0; i < nrec; i++) {
        if (i + AHEAD < nrec)
            bpe_prefetch_merge(tok->bpe, rec[i + AHEAD].a, rec[i + AHEAD].b);
        if (bpe_add_merge(tok->bpe, rec[i].a, rec[i].b, rec[i].m, (int32_t)i)) {
            st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for the merges", path);
            goto out;
        }
    }
out:
    free(rec);
    free(bytes);
    return st;
}

static engine_status load_model(tokenizer *tok, const cJSON *root, span vs, span ms,
                                const char *path, engine_err *err)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: no \"model\" object", path);
    const char *type = type_of(model);
    if (!type || strcmp(type, "BPE"))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: model.type \"%s\" is not supported (only BPE)",
                           path, type ? type : "(missing)");
    static const char *const must_be_null[] = {"dropout", "continuing_subword_prefix",
                                               "end_of_word_suffix"};
    for (size_t i = 0; i < sizeof must_be_null / sizeof *must_be_null; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, must_be_null[i]);
        if (v && !cJSON_IsNull(v))
            return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: model.%s is set; not supported",
                               path, must_be_null[i]);
    }
    if (!is_false_or_absent(model, "byte_fallback"))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: model.byte_fallback is not supported", path);
    engine_status st = load_vocab(tok, vs, ms, path, err);
    if (st)
        return st;
    const cJSON *im = cJSON_GetObjectItemCaseSensitive(model, "ignore_merges");
    if (im && !cJSON_IsBool(im))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.ignore_merges is not a boolean", path);
    bpe_set_ignore_merges(tok->bpe, cJSON_IsTrue(im));
    return ENGINE_OK;
}

static engine_status bytelevel_pre_ok(const cJSON *p, const char *path, engine_err *err)
{
    if (!is_false_or_absent(p, "add_prefix_space"))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: pre_tokenizer ByteLevel with add_prefix_space is not supported", path);
    const cJSON *ur = cJSON_GetObjectItemCaseSensitive(p, "use_regex");
    if (!cJSON_IsFalse(ur))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: pre_tokenizer ByteLevel must have use_regex false", path);
    return ENGINE_OK;
}

static engine_status load_pretokenizer(tokenizer *tok, const cJSON *root, const char *path,
                                       unsigned flags, engine_err *err)
{
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (norm && !cJSON_IsNull(norm))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: normalizer \"%s\" is not supported",
                           path, type_of(norm) ? type_of(norm) : "?");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const char *type = pre ? type_of(pre) : NULL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
    if (!type || strcmp(type, "Sequence") || !cJSON_IsArray(list) || cJSON_GetArraySize(list) != 2)
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: pre_tokenizer \"%s\" is not supported (only Sequence[Split, ByteLevel])",
                           path, type ? type : "(missing)");
    const cJSON *split = list->child, *bl = list->child->next;
    const char *st = type_of(split), *bt = type_of(bl);
    if (!st || strcmp(st, "Split") || !bt || strcmp(bt, "ByteLevel"))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: pre_tokenizer Sequence[%s, %s] is not supported (only [Split, ByteLevel])",
                           path, st ? st : "?", bt ? bt : "?");
    engine_status s = bytelevel_pre_ok(bl, path, err);
    if (s)
        return s;
    const cJSON *beh = cJSON_GetObjectItemCaseSensitive(split, "behavior");
    if (!cJSON_IsString(beh) || strcmp(beh->valuestring, "Isolated"))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: pre_tokenizer Split behavior \"%s\" is not supported (only Isolated)",
                           path, cJSON_IsString(beh) ? beh->valuestring : "?");
    if (!is_false_or_absent(split, "invert"))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: pre_tokenizer Split invert is not supported", path);
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(split, "pattern");
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
    if (!cJSON_IsString(re))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: pre_tokenizer Split pattern must be {\"Regex\": ...}", path);
    return pretok_new(re->valuestring, flags & TOKENIZER_FORCE_PCRE2, path, &tok->pre, err);
}

static engine_status special_ids(const cJSON *tp, const char *name, int32_t *out, size_t *n,
                                 const char *path, engine_err *err)
{
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(tp, "special_tokens");
    const cJSON *ent = cJSON_GetObjectItemCaseSensitive(sp, name);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(ent, "ids");
    if (!cJSON_IsArray(ids))
        return engine_fail(err, ENGINE_ERR_FORMAT,
                           "%s: post_processor special_tokens[\"%.64s\"].ids is missing", path, name);
    for (const cJSON *e = ids->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > INT32_MAX)
            return engine_fail(err, ENGINE_ERR_FORMAT,
                               "%s: post_processor special_tokens[\"%.64s\"] has a bad id", path, name);
        if (*n >= 8)
            return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                               "%s: post_processor adds more than 8 special ids", path);
        out[(*n)++] = (int32_t)e->valuedouble;
    }
    return ENGINE_OK;
}

static engine_status load_template(tokenizer *tok, const cJSON *tp, const char *path, engine_err *err)
{
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(tp, "single");
    if (!cJSON_IsArray(single))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: post_processor TemplateProcessing has no \"single\"", path);
    bool seen_seq = false;
    for (const cJSON *e = single->child; e; e = e->next) {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(e, "Sequence");
        const cJSON *spt = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(spt, "id");
        if (seq) {
            if (seen_seq)
                return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                                   "%s: post_processor template repeats the sequence", path);
            seen_seq = true;
        } else if (cJSON_IsString(id)) {
            engine_status s = seen_seq ? special_ids(tp, id->valuestring, tok->suffix, &tok->n_suffix, path, err)
                                       : special_ids(tp, id->valuestring, tok->prefix, &tok->n_prefix, path, err);
            if (s)
                return s;
        } else {
            return engine_fail(err, ENGINE_ERR_FORMAT,
                               "%s: post_processor template item is neither Sequence nor SpecialToken", path);
        }
    }
    if (!seen_seq)
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: post_processor template has no Sequence", path);
    return ENGINE_OK;
}

static engine_status load_postprocessor(tokenizer *tok, const cJSON *pp, const char *path,
                                        int depth, engine_err *err)
{
    if (!pp || cJSON_IsNull(pp))
        return ENGINE_OK;
    const char *type = type_of(pp);
    if (type && !strcmp(type, "ByteLevel"))
        return ENGINE_OK; /* only adjusts offsets; ids are unchanged */
    if (type && !strcmp(type, "TemplateProcessing")) {
        if (tok->n_prefix || tok->n_suffix)
            return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: two TemplateProcessing post-processors", path);
        return load_template(tok, pp, path, err);
    }
    if (type && !strcmp(type, "Sequence") && depth == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pp, "processors");
        if (!cJSON_IsArray(list))
            return engine_fail(err, ENGINE_ERR_FORMAT, "%s: post_processor Sequence has no processors", path);
        for (const cJSON *e = list->child; e; e = e->next) {
            engine_status s = load_postprocessor(tok, e, path, 1, err);
            if (s)
                return s;
        }
        return ENGINE_OK;
    }
    return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: post_processor \"%s\" is not supported", path,
                       type ? type : "(no type)");
}

static engine_status load_added(tokenizer *tok, const cJSON *root, const char *path, engine_err *err)
{
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!added || cJSON_IsNull(added))
        return ENGINE_OK;
    if (!cJSON_IsArray(added))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: added_tokens is not an array", path);
    size_t n = (size_t)cJSON_GetArraySize(added);
    tok->added = calloc(n ? n : 1, sizeof *tok->added);
    if (!tok->added)
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
    for (const cJSON *e = added->child; e; e = e->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        const cJSON *special = cJSON_GetObjectItemCaseSensitive(e, "special");
        size_t i = tok->n_added;
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > TOKENIZER_MAX_ID ||
            !cJSON_IsString(content))
            return engine_fail(err, ENGINE_ERR_FORMAT, "%s: added_tokens[%zu] lacks an id or content", path, i);
        /* A non-special added token would be cut out of message text by the
         * reference even with split_special_tokens; llmspam never does that. */
        if (!cJSON_IsTrue(special))
            return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                               "%s: added_tokens[%zu] \"%.64s\" is not special; not supported", path, i,
                               content->valuestring);
        tok->added[i].id = (int32_t)id->valuedouble;
        tok->added[i].len = strlen(content->valuestring);
        tok->added[i].content = strdup(content->valuestring);
        if (!tok->added[i].content)
            return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
        tok->n_added++;
        if ((size_t)tok->added[i].id + 1 > tok->vocab_size)
            tok->vocab_size = (size_t)tok->added[i].id + 1;
    }
    return ENGINE_OK;
}

static const added_token *find_added(const tokenizer *tok, int32_t id)
{
    for (size_t i = 0; i < tok->n_added; i++)
        if (tok->added[i].id == id)
            return &tok->added[i];
    return NULL;
}

engine_status tokenizer_load_flags(const char *path, unsigned flags, tokenizer **out, engine_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!path || !out)
        return engine_fail(err, ENGINE_ERR_ARG, "tokenizer_load: no path");
    *out = NULL;
    pthread_once(&once, bytelevel_init);
    char *text = NULL;
    size_t len = 0;
    engine_status st = file_read(path, TOKENIZER_MAX_FILE, 0, &text, &len, err);
    if (st)
        return st;
    /* cJSON gets the text with model.vocab and model.merges blanked out
     * (they are read from text by load_vocab); or all of it when the scanner
     * could not find them, to report what is wrong. */
    span vs, ms;
    cJSON *root = NULL;
    if (find_model_spans(text, len, &vs, &ms) == 0) {
        span cut[2] = {vs, ms};
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
    tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) {
        cJSON_Delete(root);
        free(text);
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
    }
    if (!cJSON_IsObject(root))
        st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: not a JSON object", path);
    if (!st)
        st = load_model(tok, root, vs, ms, path, err);
    if (!st)
        st = load_pretokenizer(tok, root, path, flags, err);
    if (!st)
        st = load_postprocessor(tok, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), path, 0, err);
    if (!st) {
        tok->vocab_size = (size_t)bpe_id_end(tok->bpe);
        st = load_added(tok, root, path, err);
    }
    for (size_t i = 0; !st && i < tok->n_prefix + tok->n_suffix; i++) {
        int32_t id = i < tok->n_prefix ? tok->prefix[i] : tok->suffix[i - tok->n_prefix];
        size_t l;
        if (!find_added(tok, id) && !bpe_token(tok->bpe, id, &l))
            st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: post_processor adds id %d, which is no token",
                             path, (int)id);
    }
    cJSON_Delete(root);
    free(text);
    if (st) {
        tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return ENGINE_OK;
}

engine_status tokenizer_load(const char *path, tokenizer **out, engine_err *err)
{
    return tokenizer_load_flags(path, 0, out, err);
}

void tokenizer_free(tokenizer *tok)
{
    if (!tok)
        return;
    bpe_free(tok->bpe);
    pretok_free(tok->pre);
    for (size_t i = 0; i < tok->n_added; i++)
        free(tok->added[i].content);
    free(tok->added);
    free(tok);
}

/* ---------------------------------------------------------------- encoding */

/* text with each ill-formed subpart replaced by U+FFFD (EF BF BD). */
static size_t sanitize(const uint8_t *s, size_t len, uint8_t *out)
{
    size_t i = 0, n = 0;
    while (i < len) {
        uint32_t cp;
        int bad = 0;
        size_t k = utf8_next(s + i, len - i, &cp, &bad);
        if (bad)
            n += utf8_put(UTF8_REPLACEMENT, out + n);
        else {
            memcpy(out + n, s + i, k);
            n += k;
        }
        i += k;
    }
    return n;
}

static bool has_invalid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        int bad = 0;
        i += utf8_next(s + i, len - i, &cp, &bad);
        if (bad)
            return true;
    }
    return false;
}

engine_status tokenizer_encode(const tokenizer *tok, const char *text, size_t len,
                               size_t max_tokens, bool add_special,
                               int32_t *ids, size_t *n_ids, engine_err *err)
{
    if (n_ids)
        *n_ids = 0;
    if (!tok || !n_ids || (!text && len) || (!ids && max_tokens))
        return engine_fail(err, ENGINE_ERR_ARG, "tokenizer_encode: bad arguments");
    size_t n = 0;
    if (add_special)
        for (size_t i = 0; i < tok->n_prefix && n < max_tokens; i++)
            ids[n++] = tok->prefix[i];

    const uint8_t *s = (const uint8_t *)text;
    uint8_t *clean = NULL, *word = NULL;
    size_t word_cap = 0;
    pretok_match *m = NULL;
    bpe_scratch *scratch = NULL;
    engine_status st = ENGINE_OK;
    if (n >= max_tokens || len == 0)
        goto suffix;

    if (pretok_needs_valid_utf8(tok->pre) && has_invalid(s, len)) {
        /* The PCRE2 path needs valid UTF-8: a replaced copy, at most 3x. */
        if (len > SIZE_MAX / 3 || !(clean = malloc(3 * len))) {
            st = engine_fail(err, ENGINE_ERR_NOMEM, "tokenizer_encode: out of memory");
            goto out;
        }
        len = sanitize(s, len, clean);
        s = clean;
    }
    if ((st = pretok_match_new(tok->pre, &m, err)))
        goto out;
    if (!(scratch = bpe_scratch_new())) {
        st = engine_fail(err, ENGINE_ERR_NOMEM, "tokenizer_encode: out of memory");
        goto out;
    }
    size_t pos = 0;
    while (pos < len && n < max_tokens) {
        bool bad;
        size_t end = pretok_next(tok->pre, m, s, len, pos, &bad);
        const uint8_t *w = s + pos;
        size_t wl = end - pos;
        if (bad) {
            if (wl > (SIZE_MAX - 16) / 3) {
                st = engine_fail(err, ENGINE_ERR_NOMEM, "tokenizer_encode: out of memory");
                goto out;
            }
            if (3 * wl > word_cap) {
                uint8_t *nw = realloc(word, 3 * wl + 16);
                if (!nw) {
                    st = engine_fail(err, ENGINE_ERR_NOMEM, "tokenizer_encode: out of memory");
                    goto out;
                }
                word = nw;
                word_cap = 3 * wl + 16;
            }
            wl = sanitize(w, wl, word);
            w = word;
        }
        const int32_t *wi;
        long k = bpe_encode_word(tok->bpe, scratch, w, wl, &wi);
        if (k < 0) {
            st = engine_fail(err, ENGINE_ERR_NOMEM, "tokenizer_encode: out of memory");
            goto out;
        }
        for (long i = 0; i < k && n < max_tokens; i++)
            ids[n++] = wi[i];
        pos = end;
    }
suffix:
    if (add_special)
        for (size_t i = 0; i < tok->n_suffix && n < max_tokens; i++)
            ids[n++] = tok->suffix[i];
out:
    pretok_match_free(m);
    bpe_scratch_free(scratch);
    free(clean);
    free(word);
    *n_ids = st ? 0 : n;
    return st;
}

/* ---------------------------------------------------------------- the rest */

engine_status tokenizer_decode(const tokenizer *tok, const int32_t *ids, size_t n,
                               char **out, size_t *out_len, engine_err *err)
{
    if (!tok || !out || (!ids && n))
        return engine_fail(err, ENGINE_ERR_ARG, "tokenizer_decode: bad arguments");
    *out = NULL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const added_token *a = find_added(tok, ids[i]);
        size_t l = 0;
        if (a)
            l = a->len;
        else if (!bpe_token(tok->bpe, ids[i], &l))
            return engine_fail(err, ENGINE_ERR_ARG, "tokenizer_decode: id %d is not a token", (int)ids[i]);
        total += l;
    }
    char *buf = malloc(total + 1);
    if (!buf)
        return engine_fail(err, ENGINE_ERR_NOMEM, "tokenizer_decode: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const added_token *a = find_added(tok, ids[i]);
        size_t l;
        const uint8_t *b = a ? (const uint8_t *)a->content : bpe_token(tok->bpe, ids[i], &l);
        if (a)
            l = a->len;
        memcpy(buf + k, b, l);
        k += l;
    }
    buf[k] = 0;
    *out = buf;
    if (out_len)
        *out_len = k;
    return ENGINE_OK;
}

int32_t tokenizer_bos_id(const tokenizer *tok)
{
    return tok && tok->n_prefix ? tok->prefix[0] : -1;
}

size_t tokenizer_vocab_size(const tokenizer *tok)
{
    return tok ? tok->vocab_size : 0;
}

bool tokenizer_builtin_pretokenizer(const tokenizer *tok)
{
    return tok && pretok_is_builtin(tok->pre);
}
