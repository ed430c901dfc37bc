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
 * Added (special) tokens are never matched in the text.
 */
#include "config.h"
#include "engine/tokenizer.h"
#include "engine/bpe.h"
#include "engine/pretokenizer.h"
#include "engine/utf8.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        uint32_t cp;
        int bad = 0;
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

static engine_status load_vocab(tokenizer *tok, const cJSON *model, const char *path,
                                engine_err *err)
{
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsObject(vocab))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.vocab is missing or not an object", path);
    if (!cJSON_IsArray(merges))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.merges is missing or not an array", path);
    tok->bpe = bpe_new((size_t)cJSON_GetArraySize(vocab), (size_t)cJSON_GetArraySize(merges));
    if (!tok->bpe)
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for the vocabulary", path);

    uint8_t buf[1024];
    for (const cJSON *e = vocab->child; e; e = e->next) {
        size_t klen = strlen(e->string);
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > INT32_MAX - 1 ||
            e->valuedouble != (double)(int32_t)e->valuedouble)
            return engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.vocab[\"%.64s\"] is not a valid id",
                               path, e->string);
        long n = klen <= sizeof buf ? bytelevel_decode(e->string, klen, buf) : -1;
        if (n < 0)
            return engine_fail(err, ENGINE_ERR_FORMAT,
                               "%s: model.vocab key \"%.64s\" is not a byte-level token", path,
                               e->string);
        int rc = bpe_add_token(tok->bpe, buf, (size_t)n, (int32_t)e->valuedouble);
        if (rc == -1)
            return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for the vocabulary", path);
        if (rc)
            return engine_fail(err, ENGINE_ERR_FORMAT,
                               "%s: model.vocab[\"%.64s\"]: duplicate token or id %d", path,
                               e->string, (int)e->valuedouble);
    }
    if (!bpe_has_all_bytes(tok->bpe))
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: model.vocab lacks a token for some byte (not byte-level BPE)", path);

    int32_t rank = 0;
    uint8_t lb[1024], rb[1024];
    for (const cJSON *e = merges->child; e; e = e->next, rank++) {
        const char *l = NULL, *r = NULL;
        size_t ll = 0, rl = 0;
        if (cJSON_IsString(e)) { /* "left right" */
            const char *sp = strchr(e->valuestring, ' ');
            if (sp && !strchr(sp + 1, ' ')) {
                l = e->valuestring;
                ll = (size_t)(sp - l);
                r = sp + 1;
                rl = strlen(r);
            }
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) &&
                   cJSON_IsString(e->child->next)) { /* ["left", "right"] */
            l = e->child->valuestring;
            ll = strlen(l);
            r = e->child->next->valuestring;
            rl = strlen(r);
        }
        if (!l)
            return engine_fail(err, ENGINE_ERR_FORMAT,
                               "%s: model.merges[%d] is neither \"a b\" nor [\"a\", \"b\"]", path, rank);
        long ln = ll <= sizeof lb ? bytelevel_decode(l, ll, lb) : -1;
        long rn = rl <= sizeof rb ? bytelevel_decode(r, rl, rb) : -1;
        if (ln < 0 || rn < 0 || ln + rn > (long)sizeof buf)
            return engine_fail(err, ENGINE_ERR_FORMAT, "%s: model.merges[%d] is not byte-level",
                               path, rank);
        int32_t a = bpe_lookup(tok->bpe, lb, (size_t)ln), b = bpe_lookup(tok->bpe, rb, (size_t)rn);
        memcpy(buf, lb, (size_t)ln);
        memcpy(buf + ln, rb, (size_t)rn);
        int32_t m = bpe_lookup(tok->bpe, buf, (size_t)(ln + rn));
        if (a < 0 || b < 0 || m < 0)
            return engine_fail(err, ENGINE_ERR_FORMAT,
                               "%s: model.merges[%d] (\"%.64s\") uses a token not in model.vocab",
                               path, rank, l);
        if (bpe_add_merge(tok->bpe, a, b, m, rank))
            return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory for the merges", path);
    }
    return ENGINE_OK;
}

static engine_status load_model(tokenizer *tok, const cJSON *root, const char *path,
                                engine_err *err)
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
    engine_status st = load_vocab(tok, model, path, err);
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
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > INT32_MAX - 1 ||
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

static engine_status read_file(const char *path, char **buf, size_t *len, engine_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return engine_fail(err, ENGINE_ERR_IO, "%s: %s", path, strerror(errno));
    char *b = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 1 << 20;
            char *nb = realloc(b, cap + 1);
            if (!nb) {
                free(b);
                fclose(f);
                return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
            }
            b = nb;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return engine_fail(err, ENGINE_ERR_IO, "%s: read error", path);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return ENGINE_OK;
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
    engine_status st = read_file(path, &text, &len, err);
    if (st)
        return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= text && at <= text + len ? (long)(at - text) : -1;
        free(text);
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: not valid JSON (near byte %ld)", path, off);
    }
    free(text);
    tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) {
        cJSON_Delete(root);
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
    }
    if (!cJSON_IsObject(root))
        st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: not a JSON object", path);
    if (!st)
        st = load_model(tok, root, path, err);
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
