/*
 * render: raw RFC 822 bytes -> the rendering, the one UTF-8 text the
 * classifier reads (DESIGN.md "The rendering"; format in llmspam.conf(5)).
 * The milter, `llmspam extract` and the training pipeline all call
 * mime_render(), so training and serving never disagree.
 *
 * Mail is hostile: every size is bounded (MIME depth, part count, decoded
 * bytes, output bytes, header field length), parse problems are counted
 * in the flags instead of being printed, and a message over a bound is
 * rendered on its prefix.
 *
 * Thread safety: mime_render() may be called from many threads at once;
 * the first call initialises GMime and libxml2 once (pthread_once) and
 * silences GMime's GLib log domain; each call silences libxml2's generic
 * error handler of the calling thread. No GMime or libxml2 type appears in
 * this header.
 */
#ifndef LLMSPAM_MIME_RENDER_H
#define LLMSPAM_MIME_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/status.h"

#define MIME_DEFAULT_HEADERS "Subject,From"
#define MIME_DEFAULT_MAX_TEXT_BYTES 65536
#define MIME_DEFAULT_MAX_DEPTH 32
#define MIME_DEFAULT_MAX_PARTS 1000
/* A header field (its first line and continuation lines) longer than this
 * is cut to its first MIME_MAX_HEADER_BYTES bytes before parsing: the
 * parser's cost per header grows many times faster than its length. */
#define MIME_MAX_HEADER_BYTES (256 * 1024)

/* Caller-owned options; a zero field (or NULL) means its default. */
typedef struct mime_options {
    /* Header names to render, in order, separated by commas and/or spaces
     * (e.g. "Subject, From, To"); matched case-insensitively; a name that
     * is absent from the message renders nothing. NULL: MIME_DEFAULT_HEADERS.
     * Borrowed for the duration of the call only. */
    const char *headers;
    size_t max_text_bytes; /* output cap in bytes, cut on a UTF-8 boundary */
    unsigned max_depth;    /* deeper MIME parts are ignored (depth_exceeded) */
    unsigned max_parts;    /* parts after this many are ignored (parts_exceeded) */
    /* raw is only the first bytes of a longer message (the caller's
     * max_message_bytes cut it): when the cut falls inside the header
     * block, a last line that is only the start of a field name is
     * dropped, so the complete headers before it still render. Messages
     * that were not cut render exactly as without it. */
    bool cut;
} mime_options;

/* Fill o with the defaults above. */
void mime_options_default(mime_options *o);

/* What the renderer noticed; filled on ENGINE_OK (zeroed on error). */
typedef struct mime_flags {
    bool html_only;        /* body text came only from HTML (no text/plain rendered) */
    bool has_attachments;  /* at least one [attachment: ...] line */
    bool truncated;        /* output cut at max_text_bytes */
    bool depth_exceeded;   /* parts deeper than max_depth were ignored */
    bool parts_exceeded;   /* parts after max_parts were ignored */
    unsigned parse_defects; /* malformed MIME, header, charset or encoding
                               problems seen (GMime's warnings included);
                               broken HTML is normal and not counted */
    unsigned n_parts;      /* MIME parts visited (the message itself counts 1) */
} mime_flags;

/*
 * Render raw message bytes (headers and body, CRLF or LF; need not be
 * NUL-terminated; the caller caps len at its max_message_bytes) into
 * *text: a NUL-terminated, valid UTF-8 string of *text_len bytes
 * (text_len may be NULL), owned by the caller (free()). opt may be NULL
 * (defaults); flags may be NULL. Malformed mail is not an error: it renders
 * what can be recovered and counts parse_defects. Errors: ENGINE_ERR_ARG
 * (raw NULL with len > 0, text NULL), ENGINE_ERR_NOMEM; then *text = NULL
 * and err (may be NULL) says why.
 */
engine_status mime_render(const char *raw, size_t len, const mime_options *opt,
                          char **text, size_t *text_len, mime_flags *flags,
                          engine_err *err);

#endif
