/*
 * sha256: SHA-256 (FIPS 180-4) of a buffer or a file, for the model's
 * identity in the metrics and the learn store's body hash. Incremental:
 * init, update any number of times, final.
 *
 * Ownership: sha256_ctx is a caller-owned value; nothing here allocates.
 */
#ifndef LLMSPAM_MILTER_SHA256_H
#define LLMSPAM_MILTER_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t bytes;
    unsigned char buf[64];
    size_t fill;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, unsigned char out[32]);

/* The lowercase hex digest (64 characters + NUL) of data[0..len). */
void sha256_hex(const void *data, size_t len, char hex[65]);

/* Of a file's contents; 0, or -1 with errno set (hex then ""). */
int sha256_file_hex(const char *path, char hex[65]);

#endif
