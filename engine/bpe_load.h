/*
 * bpe_load: the "model" object of a tokenizer.json (BPE over GPT-2
 * byte-level symbols) into a bpe: vocabulary and merges, with the
 * byte-to-unicode mapping undone. Accepted: continuing_subword_prefix and
 * end_of_word_suffix null or "" (the same to the reference), dropout null,
 * ignore_merges, byte_fallback false. A byte with no token is allowed when
 * there is no unk_token: the reference then drops that byte before merging
 * (bpe_encode_word does the same). Anything else is refused, naming it.
 *
 * On success *out is the caller's, to bpe_free.
 */
#ifndef LLMSPAM_ENGINE_BPE_LOAD_H
#define LLMSPAM_ENGINE_BPE_LOAD_H

#include <cjson/cJSON.h>
#include "engine/bpe.h"
#include "engine/status.h"
#include "engine/tokjson.h"

/* The model's options only (no vocabulary), so a loader can refuse an
 * unsupported model before reading the rest. */
engine_status bpe_load_check(const cJSON *model, const char *path, engine_err *err);

/* model: the cJSON "model" object; vocab, merges: its two values in the
 * file's text (tokjson). path names the file in messages. */
engine_status bpe_load(const cJSON *model, tokjson_span vocab, tokjson_span merges, const char *path,
                       bpe **out, engine_err *err);

#endif
