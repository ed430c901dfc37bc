/*
 * pretokenizer: splits text into pre-tokens as a tokenizer.json's
 * "pre_tokenizer" says, for byte-level BPE. The kinds understood, alone or in
 * a Sequence, applied one after the other as Hugging Face tokenizers does
 * (each stage splits the pieces of the one before; a regex sees one piece
 * only, so its lookahead stops at the piece's end):
 *
 *   Split      behavior Isolated, pattern {"Regex": ...}: the Llama 3 pattern
 *              runs on a hand-written matcher; any other on PCRE2 (UTF, UCP);
 *   Digits     individual_digits true (each numeric code point alone) or
 *              false (runs of them);
 *   ByteLevel  last, once: use_regex true splits with the GPT-2 regex
 *              (hand-written matcher), false adds no split; add_prefix_space
 *              puts a space before each piece that does not start with one.
 *
 * The hand-written matchers' character classes were probed from the
 * reference (Oniguruma, Rust's is_numeric) code point by code point
 * (pretokenizer_classes.c). They read raw, untrusted bytes and treat each
 * maximal ill-formed UTF-8 subpart as one U+FFFD. PCRE2 needs valid UTF-8
 * (pretok_needs_valid_utf8). A pretok is immutable and may be shared by
 * threads; a pretok_match holds one caller's state for one text.
 */
#ifndef LLMSPAM_ENGINE_PRETOKENIZER_H
#define LLMSPAM_ENGINE_PRETOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "engine/status.h"

/* The Llama 3 Split regex and the GPT-2 regex of ByteLevel, exactly as
 * tokenizer.json and the reference spell them. */
extern const char pretok_llama3_pattern[];
extern const char pretok_gpt2_pattern[];

typedef struct pretok pretok;
typedef struct pretok_match pretok_match;

/* Run every regex, the built-in ones too, on PCRE2 (tests compare both;
 * a ByteLevel with add_prefix_space keeps its built-in matcher). */
#define PRETOK_FORCE_PCRE2 1u

/* Build from the "pre_tokenizer" value of a tokenizer.json (NULL or null is
 * refused: byte-level BPE needs a ByteLevel stage). An unsupported kind or
 * option is ENGINE_ERR_UNSUPPORTED naming it; where names the file. */
engine_status pretok_from_json(const cJSON *pre, unsigned flags, const char *where,
                               pretok **out, engine_err *err);
void pretok_free(pretok *p);
/* No regex runs on PCRE2. */
bool pretok_is_builtin(const pretok *p);
bool pretok_needs_valid_utf8(const pretok *p);
/* ByteLevel's add_prefix_space is on. */
bool pretok_adds_prefix_space(const pretok *p);

/* State for splitting one text from position 0; the caller owns it. */
engine_status pretok_match_new(const pretok *p, pretok_match **out, engine_err *err);
void pretok_match_free(pretok_match *m);

/* The pre-token at text[pos] (pos < len, pos the previous call's return, or
 * 0 on a new match): returns its end. *lead is set when the pre-token is a
 * space (the prefix space) followed by text[pos..end); end == pos then
 * means the space alone. *bad is set when text[pos..end) contains
 * ill-formed UTF-8, which stands for U+FFFD. Lookahead reads as far as the
 * regex needs, so splitting a long text lazily gives exactly the splits of
 * splitting all of it. */
size_t pretok_next(const pretok *p, pretok_match *m, const uint8_t *text, size_t len,
                   size_t pos, bool *bad, bool *lead);

/* Generated tables (pretokenizer_classes.c): 2-bit classes per code point. */
enum { PRETOK_OTHER = 0, PRETOK_LETTER = 1, PRETOK_NUMBER = 2, PRETOK_SPACE = 3 };
extern const uint8_t pretok_class_index[0x1100];
extern const uint8_t pretok_class_blocks[][64];
/* Zero-terminated: the code points alternative 1 accepts for s|t|m|d, for
 * the r or v of 're 've, for their e, and for each l of 'll. */
extern const uint32_t pretok_fold_stmd[], pretok_fold_rv[], pretok_fold_e[], pretok_fold_l[];
/* Zero-terminated, ascending: where Digits' is_numeric differs from \p{N}. */
extern const uint32_t pretok_digits_diff[];

static inline unsigned pretok_class(uint32_t cp)
{
    if (cp > 0x10FFFF)
        return PRETOK_OTHER;
    return (pretok_class_blocks[pretok_class_index[cp >> 8]][(cp & 255) >> 2] >> ((cp & 3) * 2)) & 3;
}

#endif
