/*
 * safetensors: one .safetensors file, memory-mapped read-only, with its
 * header validated before any tensor is touched (an engine-internal module;
 * checkpoint.c is its user).
 *
 * Format: an 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "BF16", "shape": [r, c], "data_offsets": [b, e]}, ...,
 * "__metadata__": {...}}, then the data area; offsets are relative to it.
 * Checked: N fits the file, the header is a JSON object, each dtype is
 * BF16, F16 or F32, each shape has at most SAFETENSORS_MAX_DIMS
 * non-negative dimensions, e - b = product(shape) * element size, offsets
 * lie inside the data area, start aligned to the element size, and no two
 * tensors overlap. __metadata__ is ignored.
 *
 * Ownership: the safetensors_file owns the mapping, the names and the
 * tensor table; everything it returns lives until safetensors_free().
 */
#ifndef LLMSPAM_ENGINE_SAFETENSORS_H
#define LLMSPAM_ENGINE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "engine/checkpoint.h" /* tensor_dtype */
#include "engine/status.h"

#define SAFETENSORS_MAX_DIMS 8
#define SAFETENSORS_MAX_HEADER (100u << 20) /* the format's own limit */

typedef struct safetensors_tensor {
    const char *name;
    tensor_dtype dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    const void *data; /* into the mapping */
    size_t nbytes;
} safetensors_tensor;

typedef struct safetensors_file safetensors_file;

/* Map and validate path. Errors name the file and the tensor. */
engine_status safetensors_open(const char *path, safetensors_file **out, engine_err *err);
void safetensors_free(safetensors_file *f);

const char *safetensors_path(const safetensors_file *f);
size_t safetensors_count(const safetensors_file *f);
/* Tensors in name order. */
const safetensors_tensor *safetensors_at(const safetensors_file *f, size_t i);
/* The tensor called name, or NULL. */
const safetensors_tensor *safetensors_find(const safetensors_file *f, const char *name);

/* Bytes per element of a dtype (2 or 4), and its safetensors name. */
size_t safetensors_dtype_size(tensor_dtype d);
const char *safetensors_dtype_name(tensor_dtype d);

#endif
