/*
 * bpe: a byte-level BPE model: the vocabulary (token bytes -> id, after the
 * GPT-2 byte-to-unicode mapping has been undone) and the ranked merges
 * ((left id, right id) -> rank, merged id), both in open-addressing hash
 * tables, and the encoding of one pre-token into ids.
 *
 * Built once by the tokenizer loader (bpe_add_token, then bpe_add_merge),
 * immutable afterwards; bpe_encode_word is thread-safe given one
 * bpe_scratch per thread.
 */
#ifndef LLMSPAM_ENGINE_BPE_H
#define LLMSPAM_ENGINE_BPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bpe bpe;

/* Sized for about n_tokens tokens and n_merges merges (both may grow). */
bpe *bpe_new(size_t n_tokens, size_t n_merges);
void bpe_free(bpe *b);

/* Returns 0, or -1 when out of memory, -2 when id or bytes are already used. */
int bpe_add_token(bpe *b, const uint8_t *bytes, size_t len, int32_t id);
/* The same with h = bpe_hash(bytes, len) computed ahead (see bpe_prefetch). */
int bpe_add_token_hashed(bpe *b, const uint8_t *bytes, size_t len, int32_t id, uint32_t h);
/* Merge left+right (ids) into merged with the given rank (lower first).
 * Returns 0, -1 when out of memory; a pair seen before keeps its first rank. */
int bpe_add_merge(bpe *b, int32_t left, int32_t right, int32_t merged, int32_t rank);
void bpe_set_ignore_merges(bpe *b, bool on);
/* Make room for n merges in all (0, or -1 when out of memory). */
int bpe_reserve_merges(bpe *b, size_t n);

/* The id of a token's bytes, or -1. */
int32_t bpe_lookup(const bpe *b, const uint8_t *bytes, size_t len);
/* The same with h = bpe_hash(bytes, len) computed ahead; bpe_prefetch(h)
 * and bpe_prefetch_merge start the memory loads early, so a loader can
 * overlap the cache misses of many look-ups. */
uint32_t bpe_hash(const uint8_t *bytes, size_t len);
int32_t bpe_lookup_hashed(const bpe *b, const uint8_t *bytes, size_t len, uint32_t h);
void bpe_prefetch(const bpe *b, uint32_t h);
void bpe_prefetch_merge(const bpe *b, int32_t left, int32_t right);
/* The bytes of id (borrowed from b), or NULL when id is not a token. */
const uint8_t *bpe_token(const bpe *b, int32_t id, size_t *len);
/* One more than the largest id. */
int32_t bpe_id_end(const bpe *b);
/* True when every single byte is a token (byte-level BPE needs it). */
bool bpe_has_all_bytes(const bpe *b);

/* Per-thread working memory for bpe_encode_word; grows with the longest
 * pre-token seen. bpe_scratch_free(NULL) is harmless. */
typedef struct bpe_scratch bpe_scratch;
bpe_scratch *bpe_scratch_new(void);
void bpe_scratch_free(bpe_scratch *s);

/* Encode one pre-token. On success returns the number of ids and points
 * *ids at them (inside s, valid until the next call); -1 when out of memory.
 * Bytes that are not tokens are dropped, as the reference does without an
 * unknown token. */
long bpe_encode_word(const bpe *b, bpe_scratch *s, const uint8_t *word, size_t len,
                     const int32_t **ids);

#endif
