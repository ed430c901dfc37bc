/*
 * tokjson: reads a tokenizer.json for the loader. The file is read whole
 * (not mapped: a file truncated while mapped would kill the process with
 * SIGBUS); model.vocab and model.merges are located by a fast scanner and
 * left as spans of the text, to be read by bpe_load with the cursor
 * functions below; everything else is parsed by cJSON.
 *
 * tokjson_read fills a caller's tokjson, which then owns text and root;
 * tokjson_free releases them (and is harmless on a zeroed or freed one).
 */
#ifndef LLMSPAM_ENGINE_TOKJSON_H
#define LLMSPAM_ENGINE_TOKJSON_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "engine/status.h"

typedef struct {
    const char *s, *e; /* the value's text; NULL when absent */
} tokjson_span;

typedef struct {
    char *text;              /* the file */
    size_t len;
    cJSON *root;             /* the file, vocab and merges blanked out when found */
    tokjson_span vocab, merges; /* model.vocab, model.merges in text */
} tokjson;

engine_status tokjson_read(const char *path, tokjson *out, engine_err *err);
void tokjson_free(tokjson *j);

/* A cursor over a span, for reading vocab and merges entry by entry. */
typedef struct {
    const char *p, *end;
} tokjson_cursor;

void tokjson_ws(tokjson_cursor *j);
/* The string at j->p (a '"'), decoded into out[0..cap) when out is given.
 * Returns 0, 1 when it did not fit (scanned anyway), -1 on bad syntax. */
int tokjson_string(tokjson_cursor *j, char *out, size_t cap, size_t *n);
/* An integer (no fraction or exponent); 0, or -1 leaving j where it was. */
int tokjson_int(tokjson_cursor *j, long *v);
/* After an element: ',' (returns 1), the closing character (0), else -1. */
int tokjson_next(tokjson_cursor *j, char close);

#endif
