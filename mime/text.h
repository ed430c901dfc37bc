/*
 * text: the output buffer of the rendering, and its whitespace rules.
 * Everything the renderer emits passes through mime_text_put(), which
 *   - turns invalid UTF-8 into U+FFFD (so the result is always valid UTF-8),
 *   - removes NUL, the other C0 controls except \n and \t (\r included) and DEL,
 *   - turns runs of spaces, tabs and U+00A0 into one space,
 *   - trims each line and keeps at most one blank line in a row,
 *   - stops at the byte cap, cut on a UTF-8 boundary (then "truncated").
 * Internal to mime/.
 */
#ifndef LLMSPAM_MIME_TEXT_H
#define LLMSPAM_MIME_TEXT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mime_text mime_text;

/* A new empty buffer that holds at most cap bytes of text; NULL on ENOMEM. */
mime_text *mime_text_new(size_t cap);
void mime_text_free(mime_text *t);

/* Append n bytes of (ideally UTF-8) text. oneline: newlines count as
 * spaces (header values, attachment names). Returns false on ENOMEM. */
bool mime_text_put(mime_text *t, const char *s, size_t n, bool oneline);
static inline bool mime_text_puts(mime_text *t, const char *s, bool oneline);

/* Ask for a line break (lines = 1) or a blank line (lines = 2) before the
 * next text; never more than one blank line results. */
void mime_text_break(mime_text *t, unsigned lines);

/* The cap was reached: later text is dropped. */
bool mime_text_full(const mime_text *t);
/* The bytes emitted so far (not NUL-terminated before mime_text_take). */
size_t mime_text_len(const mime_text *t);
const char *mime_text_data(const mime_text *t);

/* Hand the text to the caller (NUL-terminated, malloc'd, caller frees) and
 * free t. *truncated: whether the cap cut anything. NULL on ENOMEM. */
char *mime_text_take(mime_text *t, size_t *len, bool *truncated);

#include <string.h>
static inline bool mime_text_puts(mime_text *t, const char *s, bool oneline)
{
    return mime_text_put(t, s, strlen(s), oneline);
}

#endif
