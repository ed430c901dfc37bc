/*
 * postprocessor: the "post_processor" of a tokenizer.json as the special
 * ids it puts around a single text: TemplateProcessing's "single" template
 * (Llama 3: <|begin_of_text|> before; SmolLM2's: nothing), ByteLevel
 * (offsets only: no ids), null (nothing), or a Sequence of those. Other
 * kinds (RobertaProcessing, BertProcessing, ...) are refused, naming them.
 *
 * Immutable once loaded; postproc_free(NULL) is harmless.
 */
#ifndef LLMSPAM_ENGINE_POSTPROCESSOR_H
#define LLMSPAM_ENGINE_POSTPROCESSOR_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "engine/status.h"

typedef struct postproc postproc;

/* pp: the "post_processor" value (NULL or null: adds nothing). */
engine_status postproc_load(const cJSON *pp, const char *path, postproc **out, engine_err *err);
void postproc_free(postproc *p);

/* The ids before and after the text (borrowed from p), *n their count. */
const int32_t *postproc_prefix(const postproc *p, size_t *n);
const int32_t *postproc_suffix(const postproc *p, size_t *n);

#endif
