/*
 * checkpoint: a model directory as save_pretrained writes it, opened and
 * validated before any tensor is used: config.json (llama_config), then
 * model.safetensors or model.safetensors.index.json with its shards,
 * memory-mapped. Every required tensor must be present with the shape the
 * config implies and a dtype of BF16, F16 or F32; offsets lie inside the
 * file and tensors do not overlap. Unknown tensors are reported once as a
 * warning (checkpoint_warnings). Nothing is copied: tensors point into the
 * mapping until checkpoint_release() drops their pages.
 *
 * Ownership: the checkpoint owns the mappings and the config; pointers it
 * returns live until checkpoint_free().
 */
#ifndef LLMSPAM_ENGINE_CHECKPOINT_H
#define LLMSPAM_ENGINE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include "engine/llama_config.h"
#include "engine/status.h"

typedef enum tensor_dtype { TENSOR_BF16, TENSOR_F16, TENSOR_F32 } tensor_dtype;

typedef struct tensor_view {
    const char *name;      /* transformers name, e.g. "model.layers.3.mlp.up_proj.weight" */
    tensor_dtype dtype;
    int ndim;              /* 1 or 2 */
    int64_t shape[2];      /* row-major: shape[0] rows of shape[1] */
    const void *data;      /* into the read-only mapping */
    size_t nbytes;
} tensor_view;

typedef struct checkpoint checkpoint;

/* Open and validate the model directory dir. */
engine_status checkpoint_open(const char *dir, checkpoint **out, engine_err *err);
void checkpoint_free(checkpoint *ck);

const llama_config *checkpoint_config(const checkpoint *ck);
/* The validated tensor called name, or NULL if the checkpoint has none. */
const tensor_view *checkpoint_tensor(const checkpoint *ck, const char *name);
/* Copy a tensor into dst as bf16 (converting F16/F32), n = rows*cols elements. */
void checkpoint_copy_bf16(const tensor_view *t, uint16_t *dst);
/* Tell the kernel the tensor's pages are no longer needed (peak RSS stays
 * near one copy of the weights while they are reordered). */
void checkpoint_release(checkpoint *ck, const tensor_view *t);
/* Warnings collected while opening (unknown tensors...), "" if none. */
const char *checkpoint_warnings(const checkpoint *ck);
/* The path of the tokenizer.json in the directory (may not exist). */
const char *checkpoint_tokenizer_path(const checkpoint *ck);

#endif
