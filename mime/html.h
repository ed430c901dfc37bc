/*
 * html: HTML -> text for the rendering, through libxml2's HTML parser (a
 * real, error-recovering HTML parser) in SAX mode. Chosen over gumbo by
 * bench/mime_html_parsers.c on the corpus HTML (1210 parts, 9.4 MB): libxml2
 * SAX 80.6 MB/s, libxml2 tree + walk 39.6 MB/s, gumbo tree + walk 18.1 MB/s
 * (4.5x slower); all three recover 3.4-3.6 MB of text. script, style,
 * head, template and comments are dropped; block elements become line breaks; entities are
 * decoded by the parser; a link becomes "text <url>" when its text differs
 * from its URL; elements hidden with the hidden attribute or an inline
 * style of display:none, visibility:hidden or font-size:0 are skipped.
 * Internal to mime/.
 */
#ifndef LLMSPAM_MIME_HTML_H
#define LLMSPAM_MIME_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include "mime/text.h"

/* Once per process, before any thread calls mime_html_render(). */
void mime_html_global_init(void);

/* Render len bytes of UTF-8 HTML into t (SAX: no tree is built, so the
 * nesting depth of the HTML costs no memory). Returns false on ENOMEM. */
bool mime_html_render(const char *html, size_t len, mime_text *t);

#endif
