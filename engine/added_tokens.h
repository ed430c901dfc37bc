/*
 * added_tokens: the "added_tokens" of a tokenizer.json (Llama 3's
 * <|begin_of_text|>..., SmolLM2's <|im_start|>...): id and text of each. They
 * are never matched in message text (special-token strings there are text,
 * as with split_special_tokens=True); they matter for decoding, for the
 * vocabulary size and for the ids a post-processor adds. A token not marked
 * special is refused: the reference would cut it out of text even then.
 *
 * Immutable once loaded; added_tokens_free(NULL) is harmless.
 */
#ifndef LLMSPAM_ENGINE_ADDED_TOKENS_H
#define LLMSPAM_ENGINE_ADDED_TOKENS_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "engine/status.h"

typedef struct added_tokens added_tokens;

/* list: the "added_tokens" value (NULL or null: none). max_id bounds ids. */
engine_status added_tokens_load(const cJSON *list, int32_t max_id, const char *path,
                                added_tokens **out, engine_err *err);
void added_tokens_free(added_tokens *a);

/* The text of id (borrowed), *len its length; NULL when id is not one. */
const char *added_tokens_find(const added_tokens *a, int32_t id, size_t *len);
/* One more than the largest id (0 when none). */
size_t added_tokens_id_end(const added_tokens *a);

#endif
