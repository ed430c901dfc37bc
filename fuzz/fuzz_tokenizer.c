/*
 * fuzz_tokenizer: libFuzzer target for the tokenizer on untrusted text.
 * Input: byte 0 picks max_tokens and add_special, the rest is the text
 * (any bytes). Besides crashes, leaks and UB, it traps when a contract
 * breaks:
 *   - a truncated encoding is not a prefix of the full one (early stopping
 *     must equal encode-all-then-truncate);
 *   - encode(decode(ids)) != ids (decoding gives the text with U+FFFD for
 *     ill-formed UTF-8, which must encode to the same ids), checked unless
 *     the text holds a byte the vocabulary has no token for (SmolLM2 has
 *     21): dropping it changes the text, so its neighbours may split or
 *     merge differently on the way back;
 *   - on ASCII text, the built-in matchers (Llama 3's Split, ByteLevel's
 *     GPT-2 regex, Digits) and PCRE2 running the same regexes disagree
 *     (their Unicode tables may differ beyond ASCII, where the reference
 *     fixtures judge instead).
 * The tokenizer.json is $TOKENIZER_JSON, else models/tokenizer/tokenizer.json
 * (t/data/tokenizer/smollm2/tokenizer.json is SmolLM2's).
 */
#include "config.h"
#include "engine/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tokenizer *tok, *tok_pcre2;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *path = getenv("TOKENIZER_JSON");
    if (!path)
        path = "models/tokenizer/tokenizer.json";
    engine_err err;
    if (tokenizer_load(path, &tok, &err) ||
        tokenizer_load_flags(path, TOKENIZER_FORCE_PCRE2, &tok_pcre2, &err)) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg);
        exit(1);
    }
    return 0;
}

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool special = data[0] & 1;
    size_t max_tokens = data[0] >> 1; /* 0..127: small, so truncation is hit */
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    engine_err err;

    /* Every byte yields at most 3 ids (U+FFFD is 3 bytes), plus specials. */
    size_t cap = 3 * len + 8;
    int32_t *full = malloc(cap * sizeof *full), *cut = malloc((max_tokens + 1) * sizeof *cut);
    size_t nf, nc;
    check(full && cut);
    check(tokenizer_encode(tok, text, len, cap, special, full, &nf, &err) == ENGINE_OK);
    check(nf < cap);
    check(tokenizer_encode(tok, text, len, max_tokens, special, cut, &nc, &err) == ENGINE_OK);
    check(nc == (nf < max_tokens ? nf : max_tokens));
    check(nc == 0 || !memcmp(cut, full, nc * sizeof *cut));

    /* Round trip through decode (without specials, whose text is text). */
    size_t skip = special && tokenizer_bos_id(tok) >= 0 && nf > 0 ? 1 : 0;
    char *dec;
    size_t dl;
    check(tokenizer_decode(tok, full + skip, nf - skip, &dec, &dl, &err) == ENGINE_OK);
    size_t acap = 3 * dl + 8 > cap ? 3 * dl + 8 : cap;
    int32_t *again = malloc(acap * sizeof *again);
    size_t na;
    check(again != NULL);
    bool drops = false;
    for (size_t i = 0; i < len && !drops; i++)
        drops = tokenizer_drops_byte(tok, data[1 + i]);
    check(tokenizer_encode(tok, dec, dl, acap, false, again, &na, &err) == ENGINE_OK);
    if (!drops)
        check(na == nf - skip && (na == 0 || !memcmp(again, full + skip, na * sizeof *again)));

    bool ascii = true;
    for (size_t i = 0; i < len && ascii; i++)
        ascii = data[1 + i] < 0x80;
    if (ascii) {
        check(tokenizer_encode(tok_pcre2, text, len, cap, special, again, &na, &err) == ENGINE_OK);
        check(na == nf && (na == 0 || !memcmp(again, full, na * sizeof *again)));
    }
    free(dec);
    free(again);
    free(full);
    free(cut);
    return 0;
}
