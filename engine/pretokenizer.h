/*
 * pretokenizer: splits text into pre-tokens with the Split regex of a
 * tokenizer.json (behaviour Isolated: matches and the gaps between them are
 * pre-tokens). The Llama 3 pattern is recognised and run by a hand-written
 * matcher whose character classes were probed from the reference (Hugging
 * Face tokenizers / Oniguruma) code point by code point; any other pattern
 * is compiled with PCRE2 (UTF, UCP).
 *
 * The built-in matcher reads raw, untrusted bytes and treats each maximal
 * ill-formed UTF-8 subpart as one U+FFFD. The PCRE2 path needs valid UTF-8
 * (pretok_needs_valid_utf8). A pretok is immutable and may be shared by
 * threads; a pretok_match holds one caller's scratch state.
 */
#ifndef LLMSPAM_ENGINE_PRETOKENIZER_H
#define LLMSPAM_ENGINE_PRETOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine/status.h"

/* The Llama 3 Split regex, exactly as tokenizer.json spells it. */
extern const char pretok_llama3_pattern[];

typedef struct pretok pretok;
typedef struct pretok_match pretok_match;

/* Compile pattern (NUL-terminated). force_pcre2 skips the built-in matcher
 * (tests compare both). where names the file for error messages. */
engine_status pretok_new(const char *pattern, bool force_pcre2, const char *where,
                         pretok **out, engine_err *err);
void pretok_free(pretok *p);
bool pretok_is_builtin(const pretok *p);
bool pretok_needs_valid_utf8(const pretok *p);

/* Per-caller scratch; NULL is a valid result for the built-in matcher.
 * The caller owns it and frees it with pretok_match_free. */
engine_status pretok_match_new(const pretok *p, pretok_match **out, engine_err *err);
void pretok_match_free(pretok_match *m);

/* The pre-token starting at text[pos] (pos < len): returns its end offset
 * (> pos). *bad is set to true when it contains ill-formed UTF-8, which
 * stands for U+FFFD. Lookahead reads as far as the regex needs, so splitting
 * a long text lazily gives exactly the splits of splitting all of it. */
size_t pretok_next(const pretok *p, pretok_match *m, const uint8_t *text, size_t len,
                   size_t pos, bool *bad);

/* Generated tables (pretokenizer_classes.c): 2-bit classes per code point. */
enum { PRETOK_OTHER = 0, PRETOK_LETTER = 1, PRETOK_NUMBER = 2, PRETOK_SPACE = 3 };
extern const uint8_t pretok_class_index[0x1100];
extern const uint8_t pretok_class_blocks[][64];
/* Zero-terminated: the code points alternative 1 accepts for s|t|m|d, for
 * the r or v of 're 've, for their e, and for each l of 'll. */
extern const uint32_t pretok_fold_stmd[], pretok_fold_rv[], pretok_fold_e[], pretok_fold_l[];

static inline unsigned pretok_class(uint32_t cp)
{
    if (cp > 0x10FFFF)
        return PRETOK_OTHER;
    return (pretok_class_blocks[pretok_class_index[cp >> 8]][(cp & 255) >> 2] >> ((cp & 3) * 2)) & 3;
}

#endif
