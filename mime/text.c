/*
 * text: the capped output buffer of the rendering with the whitespace
 * rules of llmspam.conf(5) applied as text streams in (see text.h).
 * Separators (one space, one or two newlines) are held back until the next
 * visible character, which trims lines and the end of the text for free.
 */
#include "config.h"
#include "mime/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mime_text {
    char *buf;
    size_t len, alloc, cap;
    unsigned pending_nl;  /* newlines seen since the last visible character */
    bool pending_space;   /* a blank seen since the last visible character */
    bool full, truncated, nomem;
};

mime_text *mime_text_new(size_t cap)
{
    mime_text *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cap = cap;
    t->alloc = cap < 4096 ? cap + 1 : 4096;
    t->buf = malloc(t->alloc);
    if (!t->buf) {
        free(t);
        return NULL;
    }
    return t;
}

void mime_text_free(mime_text *t)
{
    if (!t)
        return;
    free(t->buf);
    free(t);
}

bool mime_text_full(const mime_text *t) { return t->full; }
size_t mime_text_len(const mime_text *t) { return t->len; }
const char *mime_text_data(const mime_text *t) { return t->buf; }

void mime_text_break(mime_text *t, unsigned lines)
{
    if (t->pending_nl < lines)
        t->pending_nl = lines;
}

static bool reserve(mime_text *t, size_t need)
{
    if (t->len + need + 1 <= t->alloc)
        return true;
    size_t a = t->alloc;
    while (a < t->len + need + 1)
        a *= 2;
    if (a > t->cap + 1)
        a = t->cap + 1;
    char *b = realloc(t->buf, a);
    if (!b) {
        t->nomem = true;
        return false;
    }
    t->buf = b;
    t->alloc = a;
    return true;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0)
            return 0; /* surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90)
            return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

/* Emit a run of visible, valid UTF-8 after the held-back separator. */
static void emit(mime_text *t, const char *s, size_t n)
{
    char sep[2];
    size_t seplen = 0;
    if (t->len > 0) {
        if (t->pending_nl) {
            seplen = t->pending_nl > 2 ? 2 : t->pending_nl;
            sep[0] = sep[1] = '\n';
        } else if (t->pending_space) {
            seplen = 1;
            sep[0] = ' ';
        }
    }
    t->pending_nl = 0;
    t->pending_space = false;
    if (t->len + seplen + n > t->cap) {
        t->full = t->truncated = true;
        if (t->len + seplen >= t->cap)
            return;
        size_t room = t->cap - t->len - seplen;
        while (room > 0 && ((unsigned char)s[room] & 0xC0) == 0x80)
            room--; /* cut before a continuation byte: a UTF-8 boundary */
        n = room;
        if (n == 0)
            return;
    }
    if (!reserve(t, seplen + n))
        return;
    memcpy(t->buf + t->len, sep, seplen);
    memcpy(t->buf + t->len + seplen, s, n);
    t->len += seplen + n;
    if (t->len == t->cap)
        t->full = true;
}

bool mime_text_put(mime_text *t, const char *str, size_t n, bool oneline)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n && !t->full && !t->nomem) {
        unsigned c = s[i];
        if (c == '\n') {
            if (oneline)
                t->pending_space = true;
            else {
                t->pending_nl++;
                t->pending_space = false;
            }
            i++;
            continue;
        }
        if (c == ' ' || c == '\t') {
            t->pending_space = true;
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7F) { /* other C0 controls (\r included), DEL */
            i++;
            continue;
        }
        if (c == 0xC2 && i + 1 < n && s[i + 1] == 0xA0) { /* no-break space */
            t->pending_space = true;
            i += 2;
            continue;
        }
        size_t j = i;
        while (j < n) {
            unsigned d = s[j];
            if (d < 0x80) {
                if (d <= 0x20 || d == 0x7F)
                    break;
                j++;
                continue;
            }
            if (d == 0xC2 && j + 1 < n && s[j + 1] == 0xA0)
                break;
            size_t l = utf8_seq(s + j, n - j);
            if (l == 0)
                break;
            j += l;
        }
        if (j > i) {
            emit(t, (const char *)s + i, j - i);
            i = j;
        } else { /* an invalid byte */
            emit(t, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    return !t->nomem;
}

char *mime_text_take(mime_text *t, size_t *len, bool *truncated)
{
    if (!t || t->nomem || !reserve(t, 0)) {
        mime_text_free(t);
        return NULL;
    }
    char *s = t->buf;
    s[t->len] = '\0';
    if (len)
        *len = t->len;
    if (truncated)
        *truncated = t->truncated;
    free(t);
    return s;
}
