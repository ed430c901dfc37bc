/*
 * test_tokenizer: the tokenizer against the committed outputs of Hugging
 * Face tokenizers (t/data/tokenizer/, made by t/ref/make_tokenizer_refs.py),
 * with and without BOS, truncated at many max_tokens (early stopping must
 * equal encode-all-then-truncate), decoding, and load errors.
 *
 *   t/test_tokenizer                      unit tests + t/data/tokenizer/{edge,random}.tsv
 *   t/test_tokenizer [--corpus DIR] FILE...   check fixture files only
 *
 * Fixture lines: ESCAPED-BYTES TAB IDS-WITH-SPECIAL TAB IDS-WITHOUT, or
 * NAME TAB IDS-WITHOUT (corpus sample: the text is the decoded ids, and the
 * file DIR/NAME when --corpus is given).
 */
#include "config.h"
#include "engine/tokenizer.h"
#include "t/lib/tap.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *srcdir(void)
{
    const char *d = getenv("top_srcdir");
    return d && *d ? d : ".";
}

typedef struct {
    int32_t *v;
    size_t n, cap;
} idvec;

static void push(idvec *a, int32_t x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
        if (!a->v)
            abort();
    }
    a->v[a->n++] = x;
}

static void parse_ids(const char *s, const char *end, idvec *out)
{
    out->n = 0;
    while (s < end) {
        char *e;
        long v = strtol(s, &e, 10);
        if (e == s)
            break;
        push(out, (int32_t)v);
        s = e;
        while (s < end && *s == ' ')
            s++;
    }
}

/* Undo the \xHH escaping of the fixture. */
static size_t unescape(const char *s, const char *end, char *out)
{
    size_t n = 0;
    while (s < end) {
        if (*s == '\\' && end - s >= 4 && s[1] == 'x') {
            char hex[3] = {s[2], s[3], 0};
            out[n++] = (char)strtol(hex, NULL, 16);
            s += 4;
        } else {
            out[n++] = *s++;
        }
    }
    return n;
}

static int failures_shown;

static bool same(const int32_t *a, size_t na, const int32_t *b, size_t nb, const char *what,
                 const char *name)
{
    if (na == nb && (na == 0 || !memcmp(a, b, na * sizeof *a)))
        return true;
    if (failures_shown++ < 20) {
        size_t i = 0;
        while (i < na && i < nb && a[i] == b[i])
            i++;
        tap_diag("%s %s: %zu ids, want %zu; first difference at %zu (%d vs %d)", name, what, na, nb,
                 i, i < na ? a[i] : -1, i < nb ? b[i] : -1);
    }
    return false;
}

/* Encode at full length and at several truncations; compare to want. */
static bool check_one(const tokenizer *tok, const char *text, size_t len, bool special,
                      const idvec *want, const char *name)
{
    size_t cap = want->n + 8;
    int32_t *ids = malloc(cap * sizeof *ids);
    size_t n;
    engine_err err;
    bool ok = true;
    if (tokenizer_encode(tok, text, len, cap, special, ids, &n, &err)) {
        tap_diag("%s: %s", name, err.msg);
        free(ids);
        return false;
    }
    ok &= same(ids, n, want->v, want->n, special ? "(special)" : "(plain)", name);
    size_t cuts[] = {0, 1, 2, 3, 7, want->n / 3, want->n / 2, want->n > 0 ? want->n - 1 : 0, want->n};
    for (size_t c = 0; c < sizeof cuts / sizeof *cuts && ok; c++) {
        size_t m = cuts[c] < want->n ? cuts[c] : want->n;
        for (size_t i = 0; i < cap; i++)
            ids[i] = -7;
        if (tokenizer_encode(tok, text, len, m, special, ids, &n, &err))
            ok = false;
        else
            ok &= same(ids, n, want->v, m, "(truncated)", name) && ids[m] == -7 &&
                  (m == 0 || ids[m - 1] == want->v[m - 1]);
    }
    free(ids);
    return ok;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            b = realloc(b, cap *= 2);
    }
    fclose(f);
    *len = n;
    return b;
}

/* Check every line of a fixture file; returns the number of bad lines. */
static void check_fixture(const tokenizer *tok, const char *path, const char *corpus, const char *label)
{
    size_t flen;
    char *data = read_all(path, &flen);
    if (!tap_ok(data != NULL, "%s: fixture %s readable", label, path))
        return;
    size_t lines = 0, bad = 0, bytes = 0, corpus_checked = 0;
    idvec with = {0}, without = {0};
    char *p = data, *end = data + flen;
    int32_t bos = tokenizer_bos_id(tok);
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        char *t1 = memchr(p, '\t', (size_t)(nl - p));
        char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(nl - t1 - 1)) : NULL;
        char name[64];
        snprintf(name, sizeof name, "%s line %zu", label, lines + 1);
        lines++;
        if (!t1) {
            bad++;
            tap_diag("%s: malformed", name);
            p = nl + 1;
            continue;
        }
        if (t2) { /* escaped text, ids with special, ids without */
            char *text = malloc((size_t)(t1 - p) + 1);
            size_t len = unescape(p, t1, text);
            parse_ids(t1 + 1, t2, &with);
            parse_ids(t2 + 1, nl, &without);
            bool ok = check_one(tok, text, len, true, &with, name) &&
                      check_one(tok, text, len, false, &without, name);
            bytes += len;
            bad += !ok;
            free(text);
        } else { /* corpus sample: name, ids without special */
            parse_ids(t1 + 1, nl, &without);
            with.n = 0;
            if (bos >= 0)
                push(&with, bos);
            for (size_t i = 0; i < without.n; i++)
                push(&with, without.v[i]);
            char *text = NULL;
            size_t len = 0;
            engine_err err;
            bool ok = tokenizer_decode(tok, without.v, without.n, &text, &len, &err) == ENGINE_OK;
            ok = ok && check_one(tok, text, len, true, &with, name) &&
                 check_one(tok, text, len, false, &without, name);
            free(text);
            if (corpus) { /* the message bytes themselves */
                char fpath[4096];
                snprintf(fpath, sizeof fpath, "%s/%.*s", corpus, (int)(t1 - p), p);
                size_t rl;
                char *raw = read_all(fpath, &rl);
                if (raw) {
                    ok = ok && check_one(tok, raw, rl, true, &with, name) &&
                         check_one(tok, raw, rl, false, &without, name);
                    corpus_checked++;
                    bytes += rl;
                } else {
                    ok = false;
                    tap_diag("%s: cannot read %s", name, fpath);
                }
                free(raw);
            }
            bad += !ok;
        }
        p = nl + 1;
    }
    tap_ok(lines > 0 && bad == 0, "%s: %zu of %zu cases identical to the reference (%zu bytes%s)",
           label, lines - bad, lines, bytes, corpus_checked ? ", corpus files read" : "");
    free(with.v);
    free(without.v);
    free(data);
}

/* ---------------------------------------------------------------- units */

static const char *tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* Write json to a temporary file and try to load it; returns the status. */
static engine_status load_json(const char *json, engine_err *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/test_tokenizer.%ld.json", tmpdir(), (long)getpid());
    FILE *f = fopen(path, "w");
    if (!f)
        return ENGINE_ERR_IO;
    fputs(json, f);
    fclose(f);
    tokenizer *t = NULL;
    engine_status st = tokenizer_load(path, &t, err);
    tokenizer_free(t);
    remove(path);
    return st;
}

#define MINI_HEAD "{\"normalizer\":null,"
#define MINI_PRE                                                                          \
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","   \
    "\"pattern\":{\"Regex\":\"\\\\s+|\\\\w+|[^\\\\s\\\\w]+\"},\"behavior\":\"Isolated\"," \
    "\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"              \
    "\"trim_offsets\":true,\"use_regex\":false}]},"

static void unit_load_errors(void)
{
    engine_err err;
    struct {
        const char *json;
        engine_status want;
        const char *needle;
    } cases[] = {
        {"{", ENGINE_ERR_FORMAT, "not valid JSON"},
        {"[]", ENGINE_ERR_FORMAT, "not a JSON object"},
        {"{}", ENGINE_ERR_FORMAT, "\"model\""},
        {"{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}", ENGINE_ERR_UNSUPPORTED, "WordPiece"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", ENGINE_ERR_UNSUPPORTED, "byte"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"x\"},\"merges\":[]}}", ENGINE_ERR_FORMAT, "model.vocab"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"\\u0001\":0},\"merges\":[]}}", ENGINE_ERR_FORMAT,
         "byte-level"},
        {"{\"model\":{\"type\":\"BPE\",\"dropout\":0.1,\"vocab\":{},\"merges\":[]}}", ENGINE_ERR_UNSUPPORTED,
         "dropout"},
        {"{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", ENGINE_ERR_UNSUPPORTED, "Unigram"},
        {"{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"vocab\":{},\"merges\":[]}}",
         ENGINE_ERR_UNSUPPORTED, "byte_fallback"},
        {"{\"model\":{\"type\":\"BPE\",\"continuing_subword_prefix\":\"##\",\"vocab\":{},\"merges\":[]}}",
         ENGINE_ERR_UNSUPPORTED, "continuing_subword_prefix"},
        {"{\"model\":{\"type\":\"BPE\",\"end_of_word_suffix\":\"</w>\",\"vocab\":{},\"merges\":[]}}",
         ENGINE_ERR_UNSUPPORTED, "end_of_word_suffix"},
        {"{\"normalizer\":{\"type\":\"NFC\"},\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}",
         ENGINE_ERR_UNSUPPORTED, "normalizer \"NFC\""},
        {"{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"_\"},"
         "\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}",
         ENGINE_ERR_UNSUPPORTED, "Metaspace"},
        {"{\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}",
         ENGINE_ERR_UNSUPPORTED, "\"Whitespace\""},
        {"{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"ByteLevel\"},"
         "{\"type\":\"Digits\"}]},\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}",
         ENGINE_ERR_UNSUPPORTED, "ByteLevel must be last"},
        {"{\"pre_tokenizer\":{\"type\":\"Digits\",\"individual_digits\":true},"
         "\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}",
         ENGINE_ERR_UNSUPPORTED, "no ByteLevel"},
        {"{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"use_regex\":1},"
         "\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}",
         ENGINE_ERR_FORMAT, "use_regex"},
        {"{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"unk_token\":\"a\","
         "\"vocab\":{\"a\":0},\"merges\":[]}}",
         ENGINE_ERR_UNSUPPORTED, "unk_token"},
        {"{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"post_processor\":{\"type\":\"RobertaProcessing\"},"
         "\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}",
         ENGINE_ERR_UNSUPPORTED, "RobertaProcessing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        err.msg[0] = 0;
        engine_status st = load_json(cases[i].json, &err);
        tap_ok(st == cases[i].want && strstr(err.msg, cases[i].needle) && strstr(err.msg, ".json"),
               "load error %zu: %s -> %s (%s)", i, cases[i].json, engine_status_name(st), err.msg);
    }
    tokenizer *t = NULL;
    tap_ok(tokenizer_load("/nonexistent/tokenizer.json", &t, &err) == ENGINE_ERR_IO &&
               strstr(err.msg, "/nonexistent/tokenizer.json") && !t,
           "missing file: io error naming it (%s)", err.msg);
    tokenizer_free(NULL); /* harmless: a crash here fails the program */
}

/* A generated byte-level file: vocab = the 256 bytes + a few merges; checks
 * the other pieces of the loader (pair-form merges, ignore_merges off,
 * PCRE2 for a pattern that is not Llama 3's, suffix specials). */
static void unit_mini(void)
{
    /* Byte-level strings of all 256 bytes, as JSON \\u escapes. */
    char *json = malloc(1 << 16);
    size_t n = 0;
    n += (size_t)sprintf(json + n, MINI_HEAD "\"model\":{\"type\":\"BPE\",\"ignore_merges\":false,\"vocab\":{");
    int extra = 256;
    for (int b = 0; b < 256; b++) {
        /* the inverse of GPT-2's bytes_to_unicode, written out */
        static int k;
        int cp = ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) ? b : 256 + k++;
        n += (size_t)sprintf(json + n, "\"\\u%04x\":%d,", cp, b);
    }
    /* "ab" = 256, "abc" = 257 (but merged from "a"+"bc"? no: "ab"+"c") */
    n += (size_t)sprintf(json + n, "\"ab\":%d,\"abc\":%d,\"bc\":%d},", extra, extra + 1, extra + 2);
    n += (size_t)sprintf(json + n, "\"merges\":[[\"b\",\"c\"],\"a b\",[\"ab\",\"c\"]]},");
    n += (size_t)sprintf(json + n, MINI_PRE);
    n += (size_t)sprintf(json + n,
                         "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":["
                         "{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\"}},"
                         "{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],\"special_tokens\":{"
                         "\"<s>\":{\"id\":\"<s>\",\"ids\":[300]},\"</s>\":{\"id\":\"</s>\",\"ids\":[301]}}},"
                         "\"added_tokens\":[{\"id\":300,\"content\":\"<s>\",\"special\":true},"
                         "{\"id\":301,\"content\":\"</s>\",\"special\":true}]}");
    char path[512];
    snprintf(path, sizeof path, "%s/test_tokenizer_mini.%ld.json", tmpdir(), (long)getpid());
    FILE *f = fopen(path, "w");
    fputs(json, f);
    fclose(f);
    free(json);
    tokenizer *t = NULL;
    engine_err err;
    engine_status st = tokenizer_load(path, &t, &err);
    remove(path);
    if (!tap_ok(st == ENGINE_OK, "mini tokenizer loads (%s)", st ? err.msg : "ok"))
        return;
    tap_ok(!tokenizer_builtin_pretokenizer(t), "mini tokenizer: its own regex runs on PCRE2");
    tap_ok(tokenizer_bos_id(t) == 300 && tokenizer_vocab_size(t) == 302, "mini: bos 300, 302 ids");
    int32_t ids[16];
    size_t k;
    /* "abc": merges b+c (rank 0) first, then a+bc has no merge: [a, bc].
     * With ignore_merges false the vocab entry "abc" is not used directly. */
    st = tokenizer_encode(t, "abc abc", 7, 16, true, ids, &k, &err);
    tap_ok(st == ENGINE_OK && k == 7 && ids[0] == 300 && ids[1] == 'a' && ids[2] == 258 &&
               ids[3] == ' ' && ids[4] == 'a' && ids[5] == 258 && ids[6] == 301,
           "mini: rank order, pair-form merges, prefix and suffix specials (%zu ids)", k);
    st = tokenizer_encode(t, "abc abc", 7, 6, true, ids, &k, &err);
    tap_ok(st == ENGINE_OK && k == 6 && ids[5] == 258, "mini: truncation drops the suffix");
    st = tokenizer_encode(t, "ab\xff", 3, 16, false, ids, &k, &err);
    tap_ok(st == ENGINE_OK && k == 4 && ids[0] == 256 && ids[1] == 0xEF && ids[3] == 0xBD,
           "mini: PCRE2 path replaces invalid UTF-8 (%zu ids)", k);
    tokenizer_free(t);
}

static void unit_llama(const tokenizer *tok, const tokenizer *tok_pcre2)
{
    tap_ok(tokenizer_builtin_pretokenizer(tok), "Llama 3 regex recognised: built-in matcher");
    tap_ok(tokenizer_bos_id(tok) == 128000, "BOS is 128000");
    tap_ok(tokenizer_vocab_size(tok) == 128256, "128256 ids");
    int32_t ids[64];
    size_t n;
    engine_err err;
    tap_ok(tokenizer_encode(tok, "", 0, 64, true, ids, &n, &err) == ENGINE_OK && n == 1 && ids[0] == 128000,
           "empty text with special: just BOS");
    tap_ok(tokenizer_encode(tok, NULL, 0, 64, false, ids, &n, &err) == ENGINE_OK && n == 0,
           "NULL empty text: no ids");
    tap_ok(tokenizer_encode(tok, "hello", 5, 0, true, NULL, &n, &err) == ENGINE_OK && n == 0,
           "max_tokens 0: no ids");
    tap_ok(tokenizer_encode(tok, NULL, 5, 64, true, ids, &n, &err) == ENGINE_ERR_ARG,
           "NULL text with a length: argument error");
    const char *bos = "<|begin_of_text|>";
    engine_status st = tokenizer_encode(tok, bos, strlen(bos), 64, false, ids, &n, &err);
    tap_ok(st == ENGINE_OK && n == 7 && ids[0] == 27 && ids[6] == 29,
           "special-token text is ordinary text (%zu ids)", n);
    char *out;
    size_t len;
    int32_t dec[] = {128000, 9906, 1917};
    tap_ok(tokenizer_decode(tok, dec, 3, &out, &len, &err) == ENGINE_OK && len == 28 &&
               !strcmp(out, "<|begin_of_text|>Hello world"),
           "decode BOS + Hello world");
    free(out);
    int32_t bad[] = {5, 999999};
    tap_ok(tokenizer_decode(tok, bad, 2, &out, &len, &err) == ENGINE_ERR_ARG && strstr(err.msg, "999999"),
           "decode rejects an unknown id (%s)", err.msg);

    /* The PCRE2 path agrees on ASCII text (PCRE2's Unicode tables may be a
     * different Unicode version than the reference's, so not beyond). */
    const char *ascii[] = {"Hello, world! It's   a  test.\r\n\r\n  x\t\ty 12345 I'LL we'Re",
                           "  \n \n  trailing   ", "a!!!\n\n?? 'd 's'x\x01\x7f 99999999"};
    for (size_t i = 0; i < sizeof ascii / sizeof *ascii; i++) {
        int32_t a[64], b[64];
        size_t na = 0, nb = 0;
        engine_status sa = tokenizer_encode(tok, ascii[i], strlen(ascii[i]), 64, true, a, &na, &err);
        engine_status sb = tokenizer_encode(tok_pcre2, ascii[i], strlen(ascii[i]), 64, true, b, &nb, &err);
        tap_ok(sa == ENGINE_OK && sb == ENGINE_OK && na > 0 && na == nb && !memcmp(a, b, na * sizeof *a),
               "built-in and PCRE2 agree on ASCII case %zu", i);
    }
}

static bool encodes_to(const tokenizer *tok, const char *text, size_t len, bool special,
                       const int32_t *want, size_t nwant)
{
    int32_t ids[64];
    size_t n;
    engine_err err;
    return tokenizer_encode(tok, text, len, 64, special, ids, &n, &err) == ENGINE_OK && n == nwant &&
           !memcmp(ids, want, n * sizeof *ids);
}

/* The built-in matchers and PCRE2 agree on ASCII text (PCRE2's Unicode
 * tables may be a different Unicode version than the reference's, e.g. on
 * U+180E, so not beyond). */
static void agree_ascii(const tokenizer *tok, const tokenizer *tok_pcre2, const char *label)
{
    const char *ascii[] = {"Hello, world! It's   a  test.\r\n\r\n  x\t\ty 12345 I'LL we'Re they've",
                           "  \n \n  trailing   ", "a!!!\n\n?? 'd 's'x\x01\x7f 99999999 ''ll \t\tb 'S",
                           "x1 2  3\t4\r\n5'6'' 'll 'M 're've'd 't's ! ? \v\f end "};
    for (size_t i = 0; i < sizeof ascii / sizeof *ascii; i++) {
        int32_t a[64], b[64];
        size_t na = 0, nb = 0;
        engine_err err;
        engine_status sa = tokenizer_encode(tok, ascii[i], strlen(ascii[i]), 64, true, a, &na, &err);
        engine_status sb = tokenizer_encode(tok_pcre2, ascii[i], strlen(ascii[i]), 64, true, b, &nb, &err);
        tap_ok(sa == ENGINE_OK && sb == ENGINE_OK && na > 0 && na == nb && !memcmp(a, b, na * sizeof *a),
               "%s: built-in matchers and PCRE2 agree on ASCII case %zu", label, i);
    }
}

/* SmolLM2 (t/data/tokenizer/smollm2, from train/smollm2_tokenizer.py):
 * Digits + ByteLevel's GPT-2 regex, no BOS, 21 bytes without a token. Ids
 * from Hugging Face tokenizers 0.23.3. */
static void unit_smollm2(const tokenizer *tok, const tokenizer *tok_pcre2)
{
    tap_ok(tokenizer_builtin_pretokenizer(tok) && !tokenizer_builtin_pretokenizer(tok_pcre2),
           "SmolLM2: built-in matchers; PCRE2 when forced");
    tap_ok(tokenizer_bos_id(tok) == -1, "SmolLM2: the post-processor adds no BOS");
    tap_ok(tokenizer_vocab_size(tok) == 49152, "SmolLM2: 49152 ids");
    int dropped = 0;
    for (int b = 0; b < 256; b++)
        dropped += tokenizer_drops_byte(tok, (uint8_t)b);
    tap_ok(dropped == 21 && tokenizer_drops_byte(tok, 0x04) && tokenizer_drops_byte(tok, 0xff) &&
               !tokenizer_drops_byte(tok, 'a'),
           "SmolLM2: 21 bytes have no token (%d)", dropped);
    int32_t ids[64];
    size_t n;
    engine_err err;
    tap_ok(tokenizer_encode(tok, "", 0, 64, true, ids, &n, &err) == ENGINE_OK && n == 0,
           "SmolLM2: empty text with special: no ids");
    /* "2024" -> 2 0 2 4, each digit alone (ids of "0".."9" are 32..41) */
    const int32_t digits[] = {34, 32, 34, 36};
    tap_ok(encodes_to(tok, "2024", 4, true, digits, 4), "SmolLM2: digits one by one");
    /* "in 2024": "in", " " alone (the digit split comes first), digits */
    const int32_t in2024[] = {254, 216, 34, 32, 34, 36};
    tap_ok(encodes_to(tok, "in 2024", 7, false, in2024, 6), "SmolLM2: the space before digits is its own token");
    /* "!\x04!" is "!!": a byte with no token is dropped before merging */
    int32_t a[64], b[64];
    size_t na, nb;
    tap_ok(tokenizer_encode(tok, "!\x04!", 3, 64, false, a, &na, &err) == ENGINE_OK &&
               tokenizer_encode(tok, "!!", 2, 64, false, b, &nb, &err) == ENGINE_OK && na == 1 && nb == 1 &&
               a[0] == b[0],
           "SmolLM2: a dropped byte joins its neighbours");
    const char *im = "<|im_start|>";
    engine_status st = tokenizer_encode(tok, im, strlen(im), 64, true, ids, &n, &err);
    tap_ok(st == ENGINE_OK && n > 1 && ids[0] != 1, "SmolLM2: special-token text is ordinary text (%zu ids)", n);
    int32_t dec[] = {1, 19556};
    char *out;
    size_t len;
    tap_ok(tokenizer_decode(tok, dec, 2, &out, &len, &err) == ENGINE_OK && !strncmp(out, "<|im_start|>", 12),
           "SmolLM2: decode an added token to its text");
    free(out);
    agree_ascii(tok, tok_pcre2, "SmolLM2");
}

/* A tokenizer file under t/data/tokenizer (NULL when it does not load). */
static tokenizer *load_fixture(const char *name, unsigned flags)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/t/data/tokenizer/%s", srcdir(), name);
    tokenizer *t = NULL;
    engine_err err;
    if (!tap_ok(tokenizer_load_flags(path, flags, &t, &err) == ENGINE_OK, "load %s%s", name,
                flags ? " (PCRE2 forced)" : ""))
        tap_diag("%s", err.msg);
    return t;
}

static void check_fixture_dir(const tokenizer *tok, const char *dir)
{
    char path[4096];
    const char *files[] = {"edge.tsv", "random.tsv"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/t/data/tokenizer/%s/%s", srcdir(), dir, files[i]);
        char label[128];
        snprintf(label, sizeof label, "%s %s", dir, files[i]);
        check_fixture(tok, path, NULL, label);
    }
}

static void unit_other_tokenizers(void)
{
    tokenizer *smol = load_fixture("smollm2/tokenizer.json", 0);
    tokenizer *smol_pcre2 = load_fixture("smollm2/tokenizer.json", TOKENIZER_FORCE_PCRE2);
    if (smol && smol_pcre2)
        unit_smollm2(smol, smol_pcre2);
    if (smol) {
        check_fixture_dir(smol, "smollm2");
        tap_ok(encodes_to(smol, "x", 1, true, (const int32_t[]){104}, 1), "SmolLM2: \"x\" is 104");
    }
    tokenizer_free(smol);
    tokenizer_free(smol_pcre2);

    tokenizer *g = load_fixture("gpt2/tokenizer.json", 0);
    tokenizer *gp = load_fixture("gpt2/tokenizer.json", TOKENIZER_FORCE_PCRE2);
    if (g) {
        tap_ok(tokenizer_bos_id(g) == -1, "gpt2 fixture: a ByteLevel post-processor adds no BOS");
        check_fixture_dir(g, "gpt2");
    }
    if (g && gp)
        agree_ascii(g, gp, "gpt2 fixture");
    tokenizer_free(g);
    tokenizer_free(gp);

    tokenizer *pre = load_fixture("gpt2-prefix/tokenizer.json", 0);
    if (pre) {
        tap_ok(tokenizer_bos_id(pre) == 0, "gpt2-prefix fixture: TemplateProcessing adds <s> (0)");
        check_fixture_dir(pre, "gpt2-prefix");
    }
    tokenizer_free(pre);

    char path[4096];
    snprintf(path, sizeof path, "%s/t/data/tokenizer/metaspace/tokenizer.json", srcdir());
    tokenizer *ms = NULL;
    engine_err err;
    engine_status st = tokenizer_load(path, &ms, &err);
    tap_ok(st == ENGINE_ERR_UNSUPPORTED && !ms && strstr(err.msg, "SentencePiece") && strstr(err.msg, "metaspace"),
           "a SentencePiece-style tokenizer.json is refused, naming the feature (%s)", err.msg);
}

/* Threads share one tokenizer: each encodes the same texts many times and
 * must get the single-threaded ids every time. */
static const char *const thread_texts[] = {
    "Hello, world! It's   a  test.\r\n\r\n  x\t\ty 12345 I'LL we'Re",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd caf\xe9 \xff\xfe  end  ",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
};
typedef struct {
    const tokenizer *tok;
    int32_t want[3][64];
    size_t nwant[3];
    int bad;
} thread_job;

static void *thread_run(void *arg)
{
    thread_job *job = arg;
    for (int r = 0; r < 300; r++)
        for (int i = 0; i < 3; i++) {
            int32_t ids[64];
            size_t n;
            engine_err err;
            if (tokenizer_encode(job->tok, thread_texts[i], strlen(thread_texts[i]), 64, true, ids, &n, &err) ||
                n != job->nwant[i] || memcmp(ids, job->want[i], n * sizeof *ids))
                job->bad++;
        }
    return NULL;
}

static void unit_threads(const tokenizer *tok)
{
    thread_job jobs[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        jobs[t].tok = tok;
        jobs[t].bad = 0;
        for (int i = 0; i < 3; i++) {
            engine_err err;
            tokenizer_encode(tok, thread_texts[i], strlen(thread_texts[i]), 64, true, jobs[t].want[i],
                             &jobs[t].nwant[i], &err);
        }
    }
    int started = 0;
    for (int t = 0; t < 4; t++)
        started += pthread_create(&th[t], NULL, thread_run, &jobs[t]) == 0;
    int bad = 0;
    for (int t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        bad += jobs[t].bad;
    }
    tap_ok(started == 4 && bad == 0, "4 threads on one tokenizer: 3600 encodings, %d differ", bad);
}

/* Early stopping reads no further than it needs: the text's tail lies on
 * pages that fault when touched, and the call must still return the
 * truncated ids (a 64 MB "text" costs what its first page costs). */
static void unit_early_stop(const tokenizer *tok)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), tail = 64u << 20;
    char *m = mmap(NULL, page + tail, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        tap_skip("mmap failed");
        return;
    }
    for (size_t i = 0; i < page; i++)
        m[i] = "Hello world, it's a test!\n"[i % 26];
    int guarded = mprotect(m + page, tail, PROT_NONE) == 0;
    int32_t ids[64], want[64];
    size_t n, nw;
    engine_err err;
    tokenizer_encode(tok, m, page, 64, true, want, &nw, &err); /* the first page alone */
    engine_status st = tokenizer_encode(tok, m, page + tail, 64, true, ids, &n, &err);
    tap_ok(guarded && st == ENGINE_OK && n == 64 && nw == 64 && !memcmp(ids, want, sizeof ids),
           "max_tokens 64 on a 64 MB text reads only its start");
    munmap(m, page + tail);
}

int main(int argc, char **argv)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/models/tokenizer/tokenizer.json", srcdir());
    const char *corpus = NULL, *tokpath = path;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--tokenizer"))
            tokpath = argv[i + 1];
    tokenizer *tok = NULL, *tok_pcre2 = NULL;
    engine_err err;
    if (!tap_ok(tokenizer_load(tokpath, &tok, &err) == ENGINE_OK, "load %s", tokpath)) {
        tap_diag("%s", err.msg);
        return tap_done();
    }
    int files = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--corpus") && i + 1 < argc) {
            corpus = argv[++i];
            continue;
        }
        if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
            i++;
            continue;
        }
        check_fixture(tok, argv[i], corpus, argv[i]);
        files++;
    }
    if (!files) {
        tap_ok(tokenizer_load_flags(path, TOKENIZER_FORCE_PCRE2, &tok_pcre2, &err) == ENGINE_OK,
               "load with PCRE2 forced");
        unit_llama(tok, tok_pcre2);
        unit_threads(tok);
        unit_early_stop(tok);
        unit_load_errors();
        unit_mini();
        snprintf(path, sizeof path, "%s/t/data/tokenizer/edge.tsv", srcdir());
        check_fixture(tok, path, NULL, "edge cases");
        snprintf(path, sizeof path, "%s/t/data/tokenizer/random.tsv", srcdir());
        check_fixture(tok, path, NULL, "random mixes");
        tokenizer_free(tok_pcre2);
        unit_other_tokenizers();
    }
    tokenizer_free(tok);
    return tap_done();
}
