/*
 * tokenizer: the model's tokenizer.json (byte-level BPE as Llama-architecture
 * checkpoints ship it: Llama 3's Split + ByteLevel, SmolLM2's Digits +
 * ByteLevel with the GPT-2 regex, ...), giving exactly the ids of Hugging
 * Face tokenizers. Message text is untrusted: special-token strings inside
 * it are ordinary text (split_special_tokens=True), invalid UTF-8 becomes
 * U+FFFD, and a byte the vocabulary has no token for is dropped, as the
 * reference does. Other shapes (Metaspace, byte_fallback, normalizers,
 * WordPiece, Unigram) are refused at load with a message naming them.
 *
 * A loaded tokenizer is immutable; tokenizer_encode is thread-safe on it.
 * tokenizer_load reads the whole file (the caller keeps path); the
 * tokenizer owns everything it allocates; tokenizer_free(NULL) is harmless.
 */
#ifndef LLMSPAM_ENGINE_TOKENIZER_H
#define LLMSPAM_ENGINE_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine/status.h"

typedef struct tokenizer tokenizer;

engine_status tokenizer_load(const char *path, tokenizer **out, engine_err *err);
void tokenizer_free(tokenizer *tok);

/* Encode text[0..len) into ids[0..max_tokens), stopping as soon as
 * max_tokens ids are known (BOS counts when add_special is true). The result
 * equals encode-everything-then-truncate. *n_ids gets the count. text may
 * hold any bytes (NUL included); ids is the caller's. The cost follows
 * max_tokens, not len, except within one very long pre-token (see
 * tokenizer.c). */
engine_status tokenizer_encode(const tokenizer *tok, const char *text, size_t len,
                               size_t max_tokens, bool add_special,
                               int32_t *ids, size_t *n_ids, engine_err *err);

/* As tokenizer_load; TOKENIZER_FORCE_PCRE2 runs the Split and ByteLevel
 * regexes with PCRE2 even where a built-in matcher applies (tests compare
 * both). */
#define TOKENIZER_FORCE_PCRE2 1u
engine_status tokenizer_load_flags(const char *path, unsigned flags, tokenizer **out,
                                   engine_err *err);

/* The bytes ids[0..n) stand for, concatenated (special tokens as their
 * text), NUL-terminated for convenience. *out is the caller's, to free().
 * An id that is not a token is ENGINE_ERR_ARG. */
engine_status tokenizer_decode(const tokenizer *tok, const int32_t *ids, size_t n,
                               char **out, size_t *out_len, engine_err *err);

/* The first id the post-processor puts before the text (Llama 3: BOS,
 * <|begin_of_text|> = 128000), or -1 when it adds none (SmolLM2). */
int32_t tokenizer_bos_id(const tokenizer *tok);
/* One more than the largest id, added tokens included. */
size_t tokenizer_vocab_size(const tokenizer *tok);
/* Whether no pre-tokenizer regex runs on PCRE2 (built-in matchers only). */
bool tokenizer_builtin_pretokenizer(const tokenizer *tok);
/* Whether byte has no token, so that encoding drops it (SmolLM2: 21 of
 * them; tests and the fuzzer need to know). */
bool tokenizer_drops_byte(const tokenizer *tok, uint8_t byte);

#endif
