/*
 * tokenizer: a Hugging Face tokenizer.json of the byte-level BPE kind that
 * Llama-architecture checkpoints ship (Llama 3: Split + ByteLevel and a BOS
 * template; SmolLM2 and GPT-2 style: Digits and/or ByteLevel with its
 * regex, no BOS), giving the reference's ids for untrusted text. This file
 * puts the parts together and runs the encoder pipeline; the parts are
 * tokjson (the file), bpe_load + bpe (the model), pretokenizer,
 * postprocessor and added_tokens. A normalizer is refused, naming it.
 *
 * Encoding splits the text lazily, one pre-token at a time, and BPE-encodes
 * each on its own: pre-tokens never interact after the split, and the
 * matchers look ahead as far as the regex would, so the ids produced before
 * stopping at max_tokens are those of encoding everything.
 * Added (special) tokens are never matched in the text. "truncation" and
 * "padding" in the file are ignored: the caller's max_tokens decides.
 *
 * Cost: linear in the text up to the point where max_tokens ids are known,
 * except that the pre-token in progress is encoded whole: one "word" of n
 * bytes (a letter, punctuation or whitespace run) costs O(n log n) time and
 * about 60n bytes. Callers bound the text (the milter's max text bytes).
 * The PCRE2 path (a Split pattern other than Llama 3's) first copies text
 * with ill-formed UTF-8 whole, replaced, since PCRE2 needs valid UTF-8.
 */
#include "config.h"
#include "engine/tokenizer.h"
#include "engine/added_tokens.h"
#include "engine/bpe.h"
#include "engine/bpe_load.h"
#include "engine/postprocessor.h"
#include "engine/pretokenizer.h"
#include "engine/tokjson.h"
#include "engine/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The largest id a file may use (tables are sized by it). */
#define TOKENIZER_MAX_ID ((1 << 24) - 1)

struct tokenizer {
    bpe *bpe;
    pretok *pre;
    postproc *post;
    added_tokens *added;
    size_t vocab_size;
    bool drops[256]; /* bytes with no token: the reference drops them */
};

static const char *type_of(const cJSON *obj)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

engine_status tokenizer_load_flags(const char *path, unsigned flags, tokenizer **out, engine_err *err)
{
    if (!path || !out)
        return engine_fail(err, ENGINE_ERR_ARG, "tokenizer_load: no path");
    *out = NULL;
    tokjson j;
    engine_status st = tokjson_read(path, &j, err);
    if (st)
        return st;
    tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) {
        tokjson_free(&j);
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
    }
    /* The cheap checks first, so an unsupported shape is named before the
     * vocabulary is read (a SentencePiece vocabulary is no byte-level one).
     * A missing pre-tokenizer is reported after the vocabulary, whose
     * errors say more. */
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j.root, "model");
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(j.root, "normalizer");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(j.root, "pre_tokenizer");
    unsigned pflags = flags & TOKENIZER_FORCE_PCRE2 ? PRETOK_FORCE_PCRE2 : 0;
    bool have_pre = pre && !cJSON_IsNull(pre);
    st = bpe_load_check(model, path, err);
    if (!st && norm && !cJSON_IsNull(norm))
        st = engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: normalizer \"%s\" is not supported",
                         path, type_of(norm) ? type_of(norm) : "?");
    if (!st && have_pre)
        st = pretok_from_json(pre, pflags, path, &tok->pre, err);
    if (!st)
        st = postproc_load(cJSON_GetObjectItemCaseSensitive(j.root, "post_processor"), path, &tok->post, err);
    if (!st)
        st = bpe_load(model, j.vocab, j.merges, path, &tok->bpe, err);
    if (!st && !have_pre)
        st = pretok_from_json(pre, pflags, path, &tok->pre, err);
    if (!st)
        st = added_tokens_load(cJSON_GetObjectItemCaseSensitive(j.root, "added_tokens"), TOKENIZER_MAX_ID,
                               path, &tok->added, err);
    if (!st) {
        size_t a = added_tokens_id_end(tok->added), b = (size_t)bpe_id_end(tok->bpe);
        tok->vocab_size = a > b ? a : b;
        for (int c = 0; c < 256; c++) {
            uint8_t byte = (uint8_t)c;
            tok->drops[c] = bpe_lookup(tok->bpe, &byte, 1) < 0;
        }
        for (int k = 0; k < 2 && !st; k++) {
            size_t n;
            const int32_t *ids = k ? postproc_suffix(tok->post, &n) : postproc_prefix(tok->post, &n);
            for (size_t i = 0; i < n && !st; i++) {
                size_t l;
                if (!added_tokens_find(tok->added, ids[i], &l) && !bpe_token(tok->bpe, ids[i], &l))
                    st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: post_processor adds id %d, which is no token",
                                     path, (int)ids[i]);
            }
        }
    }
    tokjson_free(&j);
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
    postproc_free(tok->post);
    added_tokens_free(tok->added);
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
    size_t n = 0, n_prefix, n_suffix;
    const int32_t *prefix = postproc_prefix(tok->post, &n_prefix);
    const int32_t *suffix = postproc_suffix(tok->post, &n_suffix);
    if (add_special)
        for (size_t i = 0; i < n_prefix && n < max_tokens; i++)
            ids[n++] = prefix[i];

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
        bool bad, lead;
        size_t end = pretok_next(tok->pre, m, s, len, pos, &bad, &lead);
        const uint8_t *w = s + pos;
        size_t wl = end - pos;
        if (bad || lead) {
            /* a copy: the prefix space, then the text with U+FFFD for
             * ill-formed subparts (at most 3 bytes for each) */
            if (wl > (SIZE_MAX - 16) / 3) {
                st = engine_fail(err, ENGINE_ERR_NOMEM, "tokenizer_encode: out of memory");
                goto out;
            }
            if (3 * wl + 1 > word_cap) {
                uint8_t *nw = realloc(word, 3 * wl + 16);
                if (!nw) {
                    st = engine_fail(err, ENGINE_ERR_NOMEM, "tokenizer_encode: out of memory");
                    goto out;
                }
                word = nw;
                word_cap = 3 * wl + 16;
            }
            size_t k = 0;
            if (lead)
                word[k++] = ' ';
            if (bad)
                k += sanitize(w, wl, word + k);
            else
                memcpy(word + k, w, wl), k += wl;
            w = word;
            wl = k;
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
        for (size_t i = 0; i < n_suffix && n < max_tokens; i++)
            ids[n++] = suffix[i];
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
        size_t l = 0;
        if (!added_tokens_find(tok->added, ids[i], &l) && !bpe_token(tok->bpe, ids[i], &l))
            return engine_fail(err, ENGINE_ERR_ARG, "tokenizer_decode: id %d is not a token", (int)ids[i]);
        total += l;
    }
    char *buf = malloc(total + 1);
    if (!buf)
        return engine_fail(err, ENGINE_ERR_NOMEM, "tokenizer_decode: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        const char *a = added_tokens_find(tok->added, ids[i], &l);
        const uint8_t *b = a ? (const uint8_t *)a : bpe_token(tok->bpe, ids[i], &l);
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
    size_t n;
    const int32_t *p = tok ? postproc_prefix(tok->post, &n) : NULL;
    return p && n ? p[0] : -1;
}

size_t tokenizer_vocab_size(const tokenizer *tok)
{
    return tok ? tok->vocab_size : 0;
}

bool tokenizer_builtin_pretokenizer(const tokenizer *tok)
{
    return tok && pretok_is_builtin(tok->pre);
}

bool tokenizer_drops_byte(const tokenizer *tok, uint8_t byte)
{
    return tok && tok->drops[byte];
}
