/*
 * bpe_load: see bpe_load.h. The vocabulary and the merges are read straight
 * from the text of the file (tokjson spans), in passes that let the
 * hash-table inserts prefetch: about 400k entries load in tens of ms.
 */
#include "config.h"
#include "engine/bpe_load.h"
#include "engine/utf8.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Ids above this are refused: a vocabulary of 16M tokens is already far
 * beyond any model, and tables are sized by the largest id. */
#define BPE_LOAD_MAX_ID ((1 << 24) - 1)

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

typedef struct {
    uint32_t off;       /* left then right bytes, in the pass's arena */
    uint16_t ll, rl;
    uint32_t hl, hr, hm; /* hashes of left, right, left+right */
    int32_t a, b, m;     /* their ids */
} merge_rec;

static engine_status load_vocab(bpe **out, tokjson_span vs, tokjson_span ms, const char *path, engine_err *err)
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
    bpe *b = NULL;
    vocab_rec *vrec = NULL;
    uint8_t *vbytes = NULL;
    size_t nv = 0, vrec_cap = 0, nvb = 0, vb_cap = 0;
    engine_status vst = ENGINE_OK;
    /* A string decodes to no more bytes than its JSON text: buffers the
     * size of the span hold any token (only what is used is touched). */
    size_t kcap = (size_t)(vs.e - vs.s) > (size_t)(ms.e - ms.s) ? (size_t)(vs.e - vs.s) : (size_t)(ms.e - ms.s);
    char *key = malloc(2 * kcap + 2);
    if (!key)
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for the vocabulary", path);
    tokjson_cursor j = {vs.s + 1, vs.e};
    tokjson_ws(&j);
    int more = j.p < j.end && *j.p == '}' ? 0 : 1;
    for (; more == 1; nv++) {
        size_t kl;
        long id;
        tokjson_ws(&j);
        int rc = tokjson_string(&j, key, kcap, &kl);
        tokjson_ws(&j);
        if (rc || j.p >= j.end || *j.p++ != ':') {
            vst = engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.vocab entry %zu: bad key", path, nv);
            goto vout;
        }
        tokjson_ws(&j);
        if (tokjson_int(&j, &id) || id < 0 || id > BPE_LOAD_MAX_ID) {
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
        if ((more = tokjson_next(&j, '}')) < 0) {
            vst = engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.vocab entry %zu: bad syntax", path, nv);
            goto vout;
        }
    }
    b = *out = bpe_new(nv, 16);
    if (!b) {
        vst = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for the vocabulary", path);
        goto vout;
    }
    enum { VAHEAD = 12 };
    for (size_t i = 0; i < nv; i++) {
        if (i + VAHEAD < nv)
            bpe_prefetch(b, vrec[i + VAHEAD].hash);
        int rc = bpe_add_token_hashed(b, vbytes + vrec[i].off, vrec[i].len, vrec[i].id, vrec[i].hash);
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
    if (vst) {
        free(key);
        return vst;
    }

    /* Merges in three passes so that the hash-table look-ups, which miss
     * the cache, can be prefetched some entries ahead: parse and hash, look
     * up the three tokens, insert. */
    merge_rec *rec = NULL;
    uint8_t *bytes = NULL;
    size_t nrec = 0, rec_cap = 0, nbytes = 0, bytes_cap = 0;
    engine_status st = ENGINE_OK;
    char *m = key; /* left in m[0..kcap], right in m[kcap + 1..] */
    j = (tokjson_cursor){ms.s + 1, ms.e};
    tokjson_ws(&j);
    more = j.p < j.end && *j.p == ']' ? 0 : 1;
    for (; more == 1; nrec++) {
        const char *l = NULL, *r = NULL;
        size_t ll = 0, rl = 0, n;
        int rank = (int)nrec;
        tokjson_ws(&j);
        if (nrec >= INT32_MAX) {
            st = engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: model.merges: too many", path);
            goto out;
        }
        if (j.p < j.end && *j.p == '"') { /* "left right" */
            if (tokjson_string(&j, m, kcap, &n) == 0) {
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
            tokjson_ws(&j);
            if (tokjson_string(&j, m, kcap, &ll) == 0 && tokjson_next(&j, ']') == 1) {
                tokjson_ws(&j);
                if (tokjson_string(&j, m + kcap + 1, kcap, &rl) == 0 && tokjson_next(&j, ']') == 0) {
                    l = m;
                    r = m + kcap + 1;
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
        if (ln > UINT16_MAX || rn > UINT16_MAX) {
            st = engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: model.merges[%d]: a token over 64 KB", path, rank);
            goto out;
        }
        rec[nrec] = (merge_rec){(uint32_t)nbytes, (uint16_t)ln, (uint16_t)rn,
                                bpe_hash(at, (size_t)ln), bpe_hash(at + ln, (size_t)rn),
                                bpe_hash(at, (size_t)(ln + rn)), -1, -1, -1};
        nbytes += (size_t)(ln + rn);
        if ((more = tokjson_next(&j, ']')) < 0) {
            st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.merges[%d]: bad syntax", path, rank);
            goto out;
        }
    }
    enum { AHEAD = 12 };
    for (size_t i = 0; i < nrec; i++) {
        if (i + AHEAD < nrec) {
            bpe_prefetch(b, rec[i + AHEAD].hl);
            bpe_prefetch(b, rec[i + AHEAD].hr);
            bpe_prefetch(b, rec[i + AHEAD].hm);
        }
        merge_rec *e = &rec[i];
        const uint8_t *at = bytes + e->off;
        e->a = bpe_lookup_hashed(b, at, e->ll, e->hl);
        e->b = bpe_lookup_hashed(b, at + e->ll, e->rl, e->hr);
        e->m = bpe_lookup_hashed(b, at, (size_t)e->ll + e->rl, e->hm);
        if (e->a < 0 || e->b < 0 || e->m < 0) {
            st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.merges[%zu] uses a token not in model.vocab",
                             path, i);
            goto out;
        }
    }
    if (bpe_reserve_merges(b, nrec)) {
        st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for the merges", path);
        goto out;
    }
    for (size_t i = 0; i < nrec; i++) {
        if (i + AHEAD < nrec)
            bpe_prefetch_merge(b, rec[i + AHEAD].a, rec[i + AHEAD].b);
        if (bpe_add_merge(b, rec[i].a, rec[i].b, rec[i].m, (int32_t)i)) {
            st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for the merges", path);
            goto out;
        }
    }
out:
    free(rec);
    free(bytes);
    free(key);
    return st;
}

static const char *type_of(const cJSON *obj)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* null, absent or "" (which the reference treats as no prefix/suffix). */
static bool no_string(const cJSON *model, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, key);
    return !v || cJSON_IsNull(v) || (cJSON_IsString(v) && !v->valuestring[0]);
}

engine_status bpe_load_check(const cJSON *model, const char *path, engine_err *err)
{
    if (!cJSON_IsObject(model))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: no \"model\" object", path);
    const char *type = type_of(model);
    if (!type || strcmp(type, "BPE"))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: model.type \"%s\" is not supported (only byte-level BPE)", path,
                           type ? type : "(missing)");
    const cJSON *bf = cJSON_GetObjectItemCaseSensitive(model, "byte_fallback");
    if (bf && !cJSON_IsNull(bf) && !cJSON_IsFalse(bf))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: model.byte_fallback (SentencePiece-style <0xNN> tokens) is not supported", path);
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (dropout && !cJSON_IsNull(dropout) && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: model.dropout is set; not supported", path);
    static const char *const no_affix[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (size_t i = 0; i < sizeof no_affix / sizeof *no_affix; i++)
        if (!no_string(model, no_affix[i]))
            return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: model.%s is set; not supported", path,
                               no_affix[i]);
    const cJSON *im = cJSON_GetObjectItemCaseSensitive(model, "ignore_merges");
    if (im && !cJSON_IsBool(im) && !cJSON_IsNull(im))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.ignore_merges is not a boolean", path);
    return ENGINE_OK;
}

engine_status bpe_load(const cJSON *model, tokjson_span vocab, tokjson_span merges, const char *path,
                       bpe **out, engine_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    *out = NULL;
    engine_status st = bpe_load_check(model, path, err);
    if (st)
        return st;
    pthread_once(&once, bytelevel_init);
    bpe *b = NULL;
    st = load_vocab(&b, vocab, merges, path, err);
    if (!st && !bpe_has_all_bytes(b) && !no_string(model, "unk_token"))
        /* Without an unk token the reference drops a byte that has no token;
         * with one it would put the unk token there (not done here). */
        st = engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                         "%s: model.vocab lacks a token for some byte and model.unk_token is set; "
                         "not supported", path);
    if (st) {
        bpe_free(b);
        return st;
    }
    bpe_set_ignore_merges(b, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges")));
    *out = b;
    return ENGINE_OK;
}
