/*
 * llama_config: config.json of a transformers LlamaForSequenceClassification
 * checkpoint, parsed and checked. Every hyperparameter llmspam needs is read
 * and bounded here; anything unsupported (bias, another activation, an
 * unknown rope type) is an error naming the key, never silently ignored.
 */
#ifndef LLMSPAM_ENGINE_LLAMA_CONFIG_H
#define LLMSPAM_ENGINE_LLAMA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "engine/status.h"

#define LLAMA_MAX_LABELS 64
#define LLAMA_LABEL_MAX 64 /* bytes of a label name, NUL included */

typedef enum llama_problem {
    LLAMA_REGRESSION,            /* num_labels 1: the raw value */
    LLAMA_SINGLE_LABEL,          /* softmax over the labels */
    LLAMA_MULTI_LABEL            /* sigmoid per label */
} llama_problem;

typedef struct llama_config {
    int hidden_size;             /* 2048 for Llama-3.2-1B */
    int intermediate_size;       /* 8192 */
    int num_layers;              /* num_hidden_layers, 16 */
    int num_heads;               /* num_attention_heads, 32 */
    int num_kv_heads;            /* num_key_value_heads, 8 */
    int head_dim;                /* 64; hidden/heads when absent */
    float rms_norm_eps;          /* 1e-5 */
    double rope_theta;           /* 500000 */
    bool rope_llama3;            /* rope_scaling.rope_type == "llama3" */
    double rope_factor;          /* 32 */
    double rope_low_freq_factor; /* 1 */
    double rope_high_freq_factor;/* 4 */
    int rope_original_max_pos;   /* 8192 */
    int max_position_embeddings; /* 131072 */
    int vocab_size;              /* 128256 */
    bool tie_word_embeddings;
    int pad_token_id;            /* -1 when null or absent */
    int num_labels;
    llama_problem problem;
    char id2label[LLAMA_MAX_LABELS][LLAMA_LABEL_MAX];
    char torch_dtype[16];        /* "bfloat16", "float32", ... ("" when absent) */
} llama_config;

/* Parse and check path (a config.json). On failure cfg is unspecified and
 * err names the file and the key. */
engine_status llama_config_load(const char *path, llama_config *cfg, engine_err *err);

/* The model's own truncation length: model_max_length of the optional
 * tokenizer_config.json at path (what transformers' tokenizer truncates to
 * with truncation=True). *out is 0 when the file is absent, the key is
 * missing or null, or it holds transformers' "no limit" placeholder. */
engine_status llama_config_model_max_length(const char *path, size_t *out, engine_err *err);

/* The label index whose id2label name is name (case-sensitive), or -1. */
int llama_config_label_index(const llama_config *cfg, const char *name);

#endif
