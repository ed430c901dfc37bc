/*
 * tokenizer: the model's tokenizer.json (byte-level BPE as used by Llama 3),
 * giving exactly the ids of Hugging Face tokenizers. Message text is
 * untrusted: special-token strings inside it are ordinary text
 * (split_special_tokens=True), and invalid UTF-8 becomes U+FFFD.
 *
 * A loaded tokenizer is immutable; tokenizer_encode is thread-safe on it.
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
 * equals encode-everything-then-truncate. *n_ids gets the count. */
engine_status tokenizer_encode(const tokenizer *tok, const char *text, size_t len,
                               size_t max_tokens, bool add_special,
                               int32_t *ids, size_t *n_ids, engine_err *err);

#endif
