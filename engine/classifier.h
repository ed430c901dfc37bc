/*
 * classifier: the engine's public, thread-safe call. Text in; label,
 * probabilities, spam score, token count and elapsed time out. Any number
 * of threads may call classifier_classify() at once; one scheduler runs the
 * work (serially or batched) on the backend so that cores are never
 * oversubscribed. A full queue answers ENGINE_ERR_OVERLOAD at once; a
 * caller's deadline answers ENGINE_ERR_TIMEOUT.
 *
 * Batching: the scheduler packs the requests waiting in the queue, in
 * order, into one forward pass of at most batch_tokens tokens (a request
 * longer than that runs alone). Requests that arrive while a pass runs
 * wait for the next one, so under load batches form without any waiting.
 * A batch that still has room is held back, for at most batch_wait_ms,
 * only while another request is known to be on its way: a caller inside
 * classifier_classify() that is still tokenizing (or one announced with
 * classifier_announce()). It starts as soon as that request arrives and
 * fills it, no announced request is left, or the time is up. A message
 * alone, with no other caller inside the classifier, is never held.
 *
 * Ownership: the classifier owns its model, tokenizer and backend; a
 * result is a caller-owned value. classifier_free() waits for work in
 * flight to finish; callers must have returned before it is called.
 */
#ifndef LLMSPAM_ENGINE_CLASSIFIER_H
#define LLMSPAM_ENGINE_CLASSIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine/llama_config.h"
#include "engine/status.h"

/* max_tokens when neither the caller nor the model says. */
#define CLASSIFIER_DEFAULT_MAX_TOKENS 512

/* the most compute threads one classifier runs (classifier_new refuses more) */
#define CLASSIFIER_MAX_THREADS 1024

typedef struct classifier_options {
    int threads;          /* compute threads; 0 = number of cores; at most CLASSIFIER_MAX_THREADS */
    size_t max_tokens;    /* truncation, BOS included; 0: the model's own
                           * (tokenizer_config.json model_max_length), else
                           * CLASSIFIER_DEFAULT_MAX_TOKENS */
    size_t queue_length;  /* requests waiting at most; 0 = 64 */
    const char *device;   /* "cpu", "auto", "cuda", "cuda:N"; NULL = "cpu" */
    const char *spam_label; /* id2label name scored as spam; NULL = "spam" */
    size_t batch_tokens;  /* most tokens in one forward pass; 0 = the backend's
                           * capacity (CUDA: 64 x max_tokens up to 32768, at
                           * least max_tokens; CPU: max_tokens); at most 2^20.
                           * Also sizes the CUDA backend's buffers. */
    double batch_wait_ms; /* longest hold of a batch with room for an announced
                           * request, 0 .. 60000; 0 = never hold; 1 by default */
    bool ids_only;        /* the caller passes its own token ids, never text:
                           * the tokenizer's ids need not fit the embedding
                           * (test checkpoints with a cut vocabulary) */
} classifier_options;

/* The scheduler's counters since classifier_new() (classifier_get_stats()). */
typedef struct classifier_stats {
    uint64_t forwards;      /* backend forward passes started */
    uint64_t requests;      /* requests in them */
    uint64_t tokens;        /* tokens in them */
    uint64_t waits;         /* batches held back for an announced request */
    uint64_t wait_timeouts; /* of those, started because batch_wait_ms passed */
    double wait_ms;         /* time spent holding batches, in all */
    int largest_batch;      /* most requests in one forward pass */
    int largest_tokens;     /* most tokens in one forward pass */
    int batch_tokens;       /* the limit in force: batch_tokens capped by the
                             * backend's capacity */
} classifier_stats;

typedef struct classify_result {
    int label;                      /* argmax index into id2label */
    int num_labels;
    float probs[LLAMA_MAX_LABELS];  /* softmax, sigmoid or the raw value */
    float logits[LLAMA_MAX_LABELS];
    float spam_score;               /* probs[spam label] (regression: the value) */
    int tokens;                     /* ids fed to the model, BOS included */
    double ms;                      /* wall time in the call, queueing included */
} classify_result;

typedef struct classifier classifier;

/* Defaults for every field. */
void classifier_options_init(classifier_options *opt);

/* Load the model directory (checkpoint + tokenizer.json) and start the
 * scheduler. */
engine_status classifier_new(const char *model_dir, const classifier_options *opt,
                             classifier **out, engine_err *err);
void classifier_free(classifier *c);

/* Classify text[0..len). timeout_ms <= 0 means no deadline. */
engine_status classifier_classify(classifier *c, const char *text, size_t len,
                                  double timeout_ms, classify_result *res, engine_err *err);

/* Token ids directly (tests, benchmarks). */
engine_status classifier_classify_ids(classifier *c, const int32_t *ids, size_t n,
                                      double timeout_ms, classify_result *res, engine_err *err);

const llama_config *classifier_config(const classifier *c);
/* Tests: while held, the scheduler starts no new work (requests queue up,
 * time out or overload as usual). */
void classifier_hold(classifier *c, bool hold);
/* Requests waiting in the queue now. */
size_t classifier_queued(classifier *c);
/* The truncation length in force (max_tokens as resolved at load). */
size_t classifier_max_tokens(const classifier *c);
/* Count n more requests (n < 0: fewer) as being on their way, as a caller
 * that is tokenizing counts, so that a batch with room may wait for them
 * (batch_wait_ms). Each announcement must be withdrawn (n = -1) once its
 * request is queued or will not come. For tests, and for callers that know
 * of work ahead. */
void classifier_announce(classifier *c, int n);
/* A snapshot of the scheduler's counters. */
void classifier_get_stats(classifier *c, classifier_stats *out);
/* What loading the checkpoint warned about (unknown tensors...), "" if
 * nothing; for the caller to log once. */
const char *classifier_warnings(const classifier *c);

/* The backend in use, e.g. "cpu" or "cuda:0", and why it was chosen. */
const char *classifier_device(const classifier *c);

/* The CPU GEMM path of the CPU backend ("avx512_bf16", "avx512", "avx2",
 * "portable"; see gemm.h), or "none" when the model runs on another
 * device. Static. */
const char *classifier_cpu_path(const classifier *c);

#endif
