/*
 * render: raw message -> the rendering (see render.h and llmspam.conf(5)).
 * GMime parses; this module walks the MIME tree (depth and part count
 * bounded), picks the text of each part, decodes its transfer encoding
 * and charset, and streams it into a capped mime_text buffer. Every GMime
 * object lives only for one call, so calls on many threads never share one.
 */
#include "config.h"
#include "mime/render.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/charset.h"
#include "mime/html.h"
#include "mime/text.h"

#ifdef MIME_PROFILE
/* bench/mime_bench builds this file with MIME_PROFILE to time the HTML
 * conversion; the library proper has no such counter. */
#include <time.h>
_Thread_local uint64_t mime_profile_html_ns;
static uint64_t mime_profile_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

#define MAX_HEADER_NAMES 32
#define SCRATCH 16384
#define MAX_REPARSES 4 /* texts parsed again as MIME, per message */

void mime_options_default(mime_options *o)
{
    o->headers = MIME_DEFAULT_HEADERS;
    o->max_text_bytes = MIME_DEFAULT_MAX_TEXT_BYTES;
    o->max_depth = MIME_DEFAULT_MAX_DEPTH;
    o->max_parts = MIME_DEFAULT_MAX_PARTS;
    o->cut = false;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void gmime_drop_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
    (void)domain, (void)level, (void)msg, (void)data; /* never print for hostile mail */
}

static void global_init(void)
{
    g_mime_init();
    g_log_set_handler("gmime", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                      gmime_drop_log, NULL);
    mime_html_global_init();
}

struct ctx {
    mime_options o;
    char names[MAX_HEADER_NAMES][64];
    size_t n_names;
    mime_text *t;
    mime_flags f;
    GMimeParserOptions *popts;
    bool plain_seen, html_seen, nomem;
    unsigned reparses;      /* prologues parsed again, bounded */
    char scratch[SCRATCH];
};

static void parse_header_names(struct ctx *c, const char *list)
{
    const char *p = list;
    while (*p && c->n_names < MAX_HEADER_NAMES) {
        while (*p == ',' || *p == ' ' || *p == '\t' || *p == ':')
            p++;
        size_t n = strcspn(p, ", \t:");
        if (n == 0)
            break;
        if (n < sizeof c->names[0]) {
            memcpy(c->names[c->n_names], p, n);
            c->names[c->n_names][n] = '\0';
            c->n_names++;
        }
        p += n;
    }
}

static void on_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer data)
{
    struct ctx *c = data;
    (void)offset, (void)item;
    c->f.parse_defects++;
    if (code == GMIME_CRIT_NESTING_OVERFLOW)
        c->f.depth_exceeded = true;
}

static void put(struct ctx *c, const char *s, size_t n, bool oneline)
{
    if (!mime_text_put(c->t, s, n, oneline))
        c->nomem = true;
}

/* The charset of the first text part under obj (depth-first, a few
 * parts at most), or NULL. */
static const char *first_charset(GMimeObject *obj, unsigned depth, unsigned *budget)
{
    if (!obj || depth > 8 || *budget == 0)
        return NULL;
    (*budget)--;
    if (GMIME_IS_MULTIPART(obj)) {
        int n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
        for (int i = 0; i < n; i++) {
            const char *cs = first_charset(g_mime_multipart_get_part(GMIME_MULTIPART(obj), i), depth + 1, budget);
            if (cs)
                return cs;
        }
        return NULL;
    }
    if (GMIME_IS_PART(obj))
        return g_mime_object_get_content_type_parameter(obj, "charset");
    return NULL;
}

/* The configured headers of msg, one line each: "Name: decoded value".
 * Raw 8-bit header text is read as UTF-8, else in the charset of the
 * message's first text part, else as windows-1252. */
static void render_headers(struct ctx *c, GMimeMessage *m)
{
    GMimeObject *msg = GMIME_OBJECT(m);
    GMimeHeaderList *hl = g_mime_object_get_header_list(msg);
    if (!hl)
        return;
    unsigned budget = 16;
    char buf[64];
    const char *cs = first_charset(g_mime_message_get_mime_part(m), 0, &budget);
    const char *fallback[] = {"UTF-8", cs ? mime_charset_iconv_name(cs, buf, sizeof buf) : NULL,
                              "windows-1252", NULL};
    if (!fallback[1] || !strcmp(fallback[1], "UTF-8"))
        fallback[1] = "windows-1252";
    g_mime_parser_options_set_fallback_charsets(c->popts, fallback);
    for (size_t i = 0; i < c->n_names; i++) {
        GMimeHeader *h = g_mime_header_list_get_header(hl, c->names[i]);
        const char *raw = h ? g_mime_header_get_raw_value(h) : NULL;
        if (!raw)
            continue;
        char *dec = g_mime_utils_header_decode_text(c->popts, raw);
        if (!dec)
            continue;
        mime_text_break(c->t, 1);
        put(c, c->names[i], strlen(c->names[i]), true);
        put(c, ":", 1, true);
        put(c, " ", 1, true);
        put(c, dec, strlen(dec), true);
        g_free(dec);
        mime_text_break(c->t, 1);
    }
}

/* The encoded content of a leaf part: zero-copy when the parser kept it as
 * a window of our memory stream. *tofree is set when a copy was made. */
static void part_content(GMimePart *p, const char **data, size_t *len,
                         GMimeContentEncoding *enc, char **tofree, size_t cap)
{
    *data = NULL;
    *len = 0;
    *tofree = NULL;
    *enc = GMIME_CONTENT_ENCODING_DEFAULT;
    GMimeDataWrapper *w = g_mime_part_get_content(p);
    if (!w)
        return;
    *enc = g_mime_data_wrapper_get_encoding(w);
    GMimeStream *s = g_mime_data_wrapper_get_stream(w);
    if (!s)
        return;
    if (GMIME_IS_STREAM_MEM(s) && GMIME_STREAM_MEM(s)->buffer) {
        GByteArray *b = GMIME_STREAM_MEM(s)->buffer;
        gint64 start = s->bound_start, end = s->bound_end;
        if (end < 0 || end > (gint64)b->len)
            end = b->len;
        if (start < 0 || start > end)
            start = end;
        *data = (const char *)b->data + start;
        *len = (size_t)(end - start);
        if (*len > cap)
            *len = cap;
        return;
    }
    /* Some other stream: read a bounded copy. */
    if (cap > ((size_t)1 << 26))
        cap = (size_t)1 << 26;
    char *buf = malloc(cap ? cap : 1);
    if (!buf)
        return;
    size_t n = 0;
    if (g_mime_stream_reset(s) == 0)
        while (n < cap) {
            ssize_t r = g_mime_stream_read(s, buf + n, cap - n);
            if (r <= 0)
                break;
            n += (size_t)r;
        }
    *data = buf;
    *len = n;
    *tofree = buf;
}

/* GMime's uudecoder starts after the "begin MODE NAME" line; skip to it
 * (nothing to decode without one). */
static void uu_begin(GMimeEncoding *st, const char **in, size_t *len)
{
    const char *p = *in, *end = *in + *len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (end - p >= 6 && !memcmp(p, "begin ", 6)) {
            p = nl ? nl + 1 : end;
            st->state |= GMIME_UUDECODE_STATE_BEGIN;
            break;
        }
        p = nl ? nl + 1 : end;
    }
    *len = (size_t)(end - p);
    *in = p;
}

static bool is_decoded(GMimeContentEncoding enc)
{
    return enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
           enc == GMIME_CONTENT_ENCODING_UUENCODE;
}

/* Decode the transfer encoding; *out is in itself or a malloc'd buffer. */
static bool decode(GMimeContentEncoding enc, const char *in, size_t len, const char **out,
                   size_t *outlen, char **tofree)
{
    *tofree = NULL;
    if (!is_decoded(enc)) {
        *out = in;
        *outlen = len;
        return true;
    }
    GMimeEncoding st;
    g_mime_encoding_init_decode(&st, enc);
    if (enc == GMIME_CONTENT_ENCODING_UUENCODE)
        uu_begin(&st, &in, &len);
    char *buf = malloc(g_mime_encoding_outlen(&st, len) + 16);
    if (!buf)
        return false;
    *outlen = g_mime_encoding_flush(&st, in, len, buf);
    *out = buf;
    *tofree = buf;
    return true;
}

/* Decoded size of an attachment, counted through a fixed scratch buffer. */
static size_t decoded_size(struct ctx *c, GMimeContentEncoding enc, const char *in, size_t len)
{
    if (!is_decoded(enc) || len == 0)
        return len;
    GMimeEncoding st;
    g_mime_encoding_init_decode(&st, enc);
    if (enc == GMIME_CONTENT_ENCODING_UUENCODE)
        uu_begin(&st, &in, &len);
    size_t total = 0, chunk = SCRATCH / 2; /* outlen(chunk) stays under SCRATCH */
    while (len > chunk) {
        total += g_mime_encoding_step(&st, in, chunk, c->scratch);
        in += chunk;
        len -= chunk;
    }
    total += g_mime_encoding_flush(&st, in, len, c->scratch);
    return total;
}

static void lower(char *dst, size_t dstsz, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < dstsz; i++)
        dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] + 32 : src[i]);
    dst[i] = '\0';
}

static void attachment_line(struct ctx *c, GMimeObject *obj, const char *type,
                            const char *subtype)
{
    c->f.has_attachments = true;
    if (mime_text_full(c->t))
        return;
    size_t size = 0;
    if (GMIME_IS_PART(obj)) {
        const char *data;
        size_t len;
        GMimeContentEncoding enc;
        char *tofree;
        part_content(GMIME_PART(obj), &data, &len, &enc, &tofree, SIZE_MAX);
        size = decoded_size(c, enc, data, len);
        free(tofree);
    }
    const char *name = GMIME_IS_PART(obj) ? g_mime_part_get_filename(GMIME_PART(obj)) : NULL;
    char ty[160];
    snprintf(ty, sizeof ty, "%s/%s", type, subtype);
    lower(ty, sizeof ty, ty);
    mime_text_break(c->t, 1);
    put(c, "[attachment: ", 13, true);
    if (name && *name) {
        put(c, name, strlen(name), true);
        put(c, " ", 1, true);
    }
    char tail[200];
    int n = snprintf(tail, sizeof tail, "(%s, %zu bytes)]", ty, size);
    put(c, tail, (size_t)n < sizeof tail ? (size_t)n : sizeof tail - 1, true);
    mime_text_break(c->t, 1);
}

static void reparse(struct ctx *c, const char *pro, size_t len, unsigned depth);
static bool looks_multipart(const char *s, size_t n);

/* The next line of s[*pos..n): sets *line, *len (without the newline). */
static bool next_line(const char *s, size_t n, size_t *pos, const char **line, size_t *len)
{
    if (*pos >= n)
        return false;
    const char *p = s + *pos, *nl = memchr(p, '\n', n - *pos);
    *line = p;
    *len = nl ? (size_t)(nl - p) : n - *pos;
    *pos += *len + (nl ? 1 : 0);
    if (*len && p[*len - 1] == '\r')
        (*len)--;
    return true;
}

/* "begin MODE NAME": MODE is three or four octal digits. */
static bool uu_begin_line(const char *l, size_t n, const char **name, size_t *name_len)
{
    if (n < 11 || memcmp(l, "begin ", 6))
        return false;
    size_t i = 6, d = 0;
    while (i < n && l[i] >= '0' && l[i] <= '7' && d < 4) {
        i++;
        d++;
    }
    if (d < 3 || i >= n || l[i] != ' ')
        return false;
    *name = l + i + 1;
    *name_len = n - i - 1;
    return *name_len > 0;
}

/* ---- bounds on header blocks ------------------------------------------ */

static bool line_is_blank(const char *l, size_t n)
{
    return n == 0 || (n == 1 && l[0] == '\r');
}

/* The prefix of a cut message without its last line when that line is
 * inside the header block and only the start of a field name (no colon):
 * GMime drops the whole message for such a line. */
static size_t drop_partial_field(const char *raw, size_t len)
{
    size_t pos = 0, last = 0;
    const char *l;
    size_t n;
    while (true) {
        last = pos;
        if (!next_line(raw, len, &pos, &l, &n))
            return len; /* ends with a newline: nothing partial */
        if (line_is_blank(l, n))
            return len; /* the header block ended: the cut is in the body */
        if (pos == len && raw[len - 1] != '\n')
            break;      /* l is the last, unterminated line */
    }
    if (l[0] == ' ' || l[0] == '\t' || memchr(l, ':', n))
        return len; /* a continuation or a field with its colon: keep it */
    return last;
}

/* Whether a header line l starts "Content-Type:" and names message/...,
 * so that a header block follows its blank line. */
static bool declares_message(const char *l, size_t n)
{
    if (n < 13 || strncasecmp(l, "content-type:", 13))
        return false;
    for (size_t i = 13; i + 8 <= n && i < 256; i++)
        if (!strncasecmp(l + i, "message/", 8))
            return true;
    return false;
}

/* Header blocks as GMime will see them: the message's own, one after each
 * line starting with "--" (a boundary, or what might be one) and one after
 * a message/ part's header. In them, a field longer than
 * MIME_MAX_HEADER_BYTES is cut to that many bytes and a newline, and its
 * remaining bytes are skipped. Returns the number of fields cut; with out
 * set, writes the result there (at most len bytes). in_header: raw starts
 * with a header block (else with body text). One pass, O(len). */
static size_t cap_fields(const char *raw, size_t len, bool in_header, char *out, size_t *outlen)
{
    size_t pos = 0, o = 0, cuts = 0;
    bool message_next = false;
    size_t field = 0;  /* bytes of the current field so far */
    bool skipping = false;
    const char *l;
    size_t n;
    while (true) {
        size_t start = pos;
        if (!next_line(raw, len, &pos, &l, &n))
            break;
        size_t whole = pos - start; /* with its newline */
        bool keep_whole = true;
        if (in_header) {
            if (line_is_blank(l, n)) {
                in_header = message_next;
                message_next = false;
                skipping = false;
            } else {
                bool cont = l[0] == ' ' || l[0] == '\t';
                if (!cont) {
                    field = 0;
                    skipping = false;
                    if (declares_message(l, n))
                        message_next = true;
                }
                if (skipping) {
                    keep_whole = false;
                } else if (field + whole > MIME_MAX_HEADER_BYTES) {
                    size_t take = MIME_MAX_HEADER_BYTES > field ? MIME_MAX_HEADER_BYTES - field : 0;
                    if (out) {
                        memcpy(out + o, raw + start, take);
                        out[o + take] = '\n';
                    }
                    o += take + 1;
                    cuts++;
                    skipping = true;
                    keep_whole = false;
                }
                field += whole;
            }
        } else if (n >= 2 && l[0] == '-' && l[1] == '-') {
            in_header = true;
            field = 0;
            skipping = false;
        }
        if (keep_whole) {
            if (out)
                memcpy(out + o, raw + start, whole);
            o += whole;
        }
    }
    if (outlen)
        *outlen = o;
    return cuts;
}

/* raw with its over-long header fields cut, as a new array; NULL when
 * there are none (the common case: the caller keeps reading raw in place)
 * or out of memory (then raw is parsed as it is). */
static bool starts_with_header(const char *raw, size_t len);

static GByteArray *capped_copy(struct ctx *c, const char *raw, size_t len)
{
    bool head = starts_with_header(raw, len);
    if (len <= MIME_MAX_HEADER_BYTES || cap_fields(raw, len, head, NULL, NULL) == 0)
        return NULL;
    GByteArray *a = g_byte_array_sized_new((guint)len);
    if (!a)
        return NULL;
    size_t n = 0;
    size_t cuts = cap_fields(raw, len, head, (char *)a->data, &n);
    g_byte_array_set_size(a, (guint)n);
    c->f.parse_defects += (unsigned)cuts;
    return a;
}

/* Text with uuencoded blocks ("begin 644 NAME" ... "end") inline: the
 * blocks become attachment lines, the text around them is rendered. */
static void put_text_uu(struct ctx *c, const char *s, size_t n)
{
    if (n == 0)
        return;
    size_t pos = 0, from = 0;
    const char *l, *name;
    size_t ll, name_len;
    while (next_line(s, n, &pos, &l, &ll)) {
        if (!uu_begin_line(l, ll, &name, &name_len))
            continue;
        size_t start = (size_t)(l - s), p2 = pos, bytes = 0;
        bool end = false;
        while (next_line(s, n, &p2, &l, &ll)) {
            if (ll == 3 && !memcmp(l, "end", 3)) {
                end = true;
                break;
            }
            if (ll > 0)
                bytes += (size_t)((l[0] - ' ') & 63);
        }
        if (!end)
            break;
        put(c, s + from, start - from, false);
        c->f.has_attachments = true;
        char tail[64];
        int k = snprintf(tail, sizeof tail, " (uuencoded, %zu bytes)]", bytes);
        mime_text_break(c->t, 1);
        put(c, "[attachment: ", 13, true);
        put(c, name, name_len, true);
        put(c, tail, (size_t)k, true);
        mime_text_break(c->t, 1);
        from = pos = p2;
    }
    put(c, s + from, n - from, false);
}

/* A text leaf: transfer-decode, convert to UTF-8, then text or HTML. */
static void text_part(struct ctx *c, GMimePart *p, bool html, unsigned depth)
{
    if (mime_text_full(c->t))
        return;
    /* Input bounds: text shrinks or grows little on its way out; HTML
     * markup is mostly dropped, so it may be much larger than its text. */
    size_t cap = c->o.max_text_bytes * (html ? 64 : 8) + 4096;
    const char *enc_data, *dec, *utf8;
    size_t enc_len, dec_len, utf8_len;
    GMimeContentEncoding enc;
    char *free1, *free2;
    bool owned;
    part_content(p, &enc_data, &enc_len, &enc, &free1, cap * 2);
    if (!enc_data) { /* no content at all */
        enc_data = "";
        enc_len = 0;
    }
    if (!decode(enc, enc_data, enc_len, &dec, &dec_len, &free2)) {
        free(free1);
        c->nomem = true;
        return;
    }
    if (dec_len > cap)
        dec_len = cap;
    if (!html && c->reparses < MAX_REPARSES && looks_multipart(dec, dec_len)) {
        reparse(c, dec, dec_len, depth);
        free(free2);
        free(free1);
        return;
    }
    const char *cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(p), "charset");
    if (!mime_charset_to_utf8(cs, dec, dec_len, &utf8, &utf8_len, &owned, &c->f.parse_defects)) {
        c->nomem = true;
    } else {
        mime_text_break(c->t, 2);
        if (html) {
#ifdef MIME_PROFILE
            uint64_t t0 = mime_profile_now();
#endif
            if (!mime_html_render(utf8, utf8_len, c->t))
                c->nomem = true;
#ifdef MIME_PROFILE
            mime_profile_html_ns += mime_profile_now() - t0;
#endif
            c->html_seen = true;
        } else {
            put_text_uu(c, utf8, utf8_len);
            c->plain_seen = true;
        }
        mime_text_break(c->t, 2);
        if (owned)
            free((char *)utf8);
    }
    free(free2);
    free(free1);
}

static void render_object(struct ctx *c, GMimeObject *obj, unsigned depth);

static void render_message(struct ctx *c, GMimeMessage *msg, unsigned depth)
{
    render_headers(c, msg);
    mime_text_break(c->t, 2);
    GMimeObject *body = g_mime_message_get_mime_part(msg);
    if (body)
        render_object(c, body, depth);
}

static bool type_is(GMimeObject *obj, const char *type, const char *subtype)
{
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    return ct && g_mime_content_type_is_type(ct, type, subtype);
}

static bool is_attachment(GMimeObject *obj)
{
    GMimeContentDisposition *d = g_mime_object_get_content_disposition(obj);
    return d && g_mime_content_disposition_is_attachment(d);
}

static void render_alternative(struct ctx *c, GMimeMultipart *mp, unsigned depth)
{
    int n = g_mime_multipart_get_count(mp);
    size_t before = mime_text_len(c->t);
    for (int i = 0; i < n; i++) {
        GMimeObject *ch = g_mime_multipart_get_part(mp, i);
        if (GMIME_IS_PART(ch) && type_is(ch, "text", "plain") && !is_attachment(ch)) {
            render_object(c, ch, depth);
            if (mime_text_len(c->t) != before)
                return;
            break; /* an empty text/plain: fall back to the richer part */
        }
    }
    /* RFC 2046: the last alternative is the richest; take the last one
     * that can give text. */
    for (int i = n - 1; i >= 0; i--) {
        GMimeObject *ch = g_mime_multipart_get_part(mp, i);
        if (GMIME_IS_MULTIPART(ch) || GMIME_IS_MESSAGE_PART(ch) ||
            (GMIME_IS_PART(ch) && type_is(ch, "text", "*") && !is_attachment(ch) &&
             !type_is(ch, "text", "plain"))) {
            render_object(c, ch, depth);
            return;
        }
    }
    if (n > 0 && mime_text_len(c->t) == before)
        render_object(c, g_mime_multipart_get_part(mp, 0), depth);
}

/* A multipart whose boundary never opens keeps everything in its
 * prologue (badmime: a missing or conflicting boundary). Parse that text
 * again: as a multipart when it starts with a "--boundary" line, else as
 * one MIME part. */
static void reparse(struct ctx *c, const char *pro, size_t len, unsigned depth)
{
    if (c->reparses >= MAX_REPARSES || mime_text_full(c->t))
        return;
    c->reparses++;
    c->f.parse_defects++;
    while (len && (*pro == '\r' || *pro == '\n' || *pro == ' ' || *pro == '\t')) {
        pro++;
        len--;
    }
    GByteArray *capped = capped_copy(c, pro, len);
    if (capped) {
        pro = (const char *)capped->data;
        len = capped->len;
    }
    GMimeStream *stream;
    size_t bl = 0;
    if (len > 2 && pro[0] == '-' && pro[1] == '-') {
        while (2 + bl < len && !strchr("\r\n \t\"", pro[2 + bl]))
            bl++;
        if (bl > 70)
            bl = 0;
    }
    if (bl) {
        GByteArray *a = g_byte_array_sized_new((guint)(len + bl + 64));
        static const char head[] = "Content-Type: multipart/mixed; boundary=\"";
        g_byte_array_append(a, (const guint8 *)head, sizeof head - 1);
        g_byte_array_append(a, (const guint8 *)pro + 2, (guint)bl);
        g_byte_array_append(a, (const guint8 *)"\"\n\n", 3);
        /* the first boundary line alone: text after it would hide it */
        g_byte_array_append(a, (const guint8 *)pro, (guint)(bl + 2));
        g_byte_array_append(a, (const guint8 *)"\n", 1);
        const char *nl = memchr(pro, '\n', len);
        if (nl)
            g_byte_array_append(a, (const guint8 *)nl + 1, (guint)(len - (size_t)(nl + 1 - pro)));
        stream = g_mime_stream_mem_new_with_byte_array(a);
    } else if (starts_with_header(pro, len)) {
        stream = g_mime_stream_mem_new_with_buffer(pro, len);
    } else { /* plain text: an empty header block first */
        GByteArray *a = g_byte_array_sized_new((guint)len + 1);
        g_byte_array_append(a, (const guint8 *)"\n", 1);
        g_byte_array_append(a, (const guint8 *)pro, (guint)len);
        stream = g_mime_stream_mem_new_with_byte_array(a);
    }
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeObject *part = g_mime_parser_construct_part(parser, c->popts);
    if (part) {
        render_object(c, part, depth + 1);
        g_object_unref(part);
    }
    g_object_unref(parser);
    g_object_unref(stream);
    if (capped)
        g_byte_array_free(capped, TRUE);
}

/* A multipart whose boundary never opens keeps everything in its
 * prologue (badmime: a missing or conflicting boundary). Parse that text
 * again: as a multipart when it starts with a "--boundary" line, else as
 * one MIME part. */
static void render_prologue(struct ctx *c, GMimeMultipart *mp, unsigned depth)
{
    const char *pro = g_mime_multipart_get_prologue(mp);
    if (pro && *pro)
        reparse(c, pro, strlen(pro), depth);
}

/* Text that is really a multipart body whose Content-Type was lost
 * (conflicting headers): blank lines, a "--boundary" line, a header line. */
static bool looks_multipart(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == '\r' || s[i] == '\n' || s[i] == ' ' || s[i] == '\t'))
        i++;
    if (n - i < 4 || s[i] != '-' || s[i + 1] != '-' || s[i + 2] == '-' || s[i + 2] <= ' ')
        return false;
    const char *nl = memchr(s + i, '\n', n - i);
    if (!nl || nl - (s + i) > 80)
        return false;
    size_t j = (size_t)(nl - s) + 1, k = j;
    while (k < n && k - j < 40 && ((s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= 'a' && s[k] <= 'z') || s[k] == '-'))
        k++;
    return k > j && k < n && s[k] == ':';
}

/* "Content-Type: text plain" and the like: GMime falls back to
 * application/octet-stream; the sender meant text. */
static bool malformed_text_type(GMimeObject *obj, bool *html)
{
    const char *raw = g_mime_object_get_header(obj, "Content-Type");
    if (!raw)
        return false;
    while (*raw == ' ' || *raw == '\t')
        raw++;
    if (strncasecmp(raw, "text", 4) || raw[4] == '/')
        return false;
    *html = strcasestr(raw, "html") != NULL;
    return true;
}

static void render_object(struct ctx *c, GMimeObject *obj, unsigned depth)
{
    if (c->nomem)
        return;
    if (depth > c->o.max_depth) {
        c->f.depth_exceeded = true;
        return;
    }
    if (c->f.n_parts >= c->o.max_parts) {
        c->f.parts_exceeded = true;
        return;
    }
    c->f.n_parts++;
    if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (m) {
            mime_text_break(c->t, 2);
            render_message(c, m, depth + 1);
        }
        return;
    }
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        if (n == 0) {
            render_prologue(c, mp, depth);
            return;
        }
        if (type_is(obj, "multipart", "alternative")) {
            render_alternative(c, mp, depth + 1);
            return;
        }
        for (int i = 0; i < n && !c->nomem; i++)
            render_object(c, g_mime_multipart_get_part(mp, i), depth + 1);
        return;
    }
    if (!GMIME_IS_PART(obj))
        return;
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    const char *type = ct ? g_mime_content_type_get_media_type(ct) : NULL;
    const char *subtype = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
    if (!type)
        type = "application";
    if (!subtype)
        subtype = "octet-stream";
    bool html = false;
    if (!strcasecmp(type, "text") && !is_attachment(obj))
        text_part(c, GMIME_PART(obj), !strcasecmp(subtype, "html"), depth);
    else if (!strcasecmp(type, "application") && !strcasecmp(subtype, "octet-stream") &&
             !is_attachment(obj) && malformed_text_type(obj, &html))
        text_part(c, GMIME_PART(obj), html, depth);
    else
        attachment_line(c, obj, type, subtype);
}

/* The milter caps the message size; this caps what GMime builds from it:
 * the prefix up to the line where boundary-like lines ("--...") or
 * Content-Type headers pass four times max_parts (memory for parts). */
static size_t bounded_prefix(const char *raw, size_t len, unsigned max_parts, bool *cut)
{
    size_t limit = (size_t)max_parts * 4 + 16, dashes = 0, ctypes = 0;
    const char *p = raw, *end = raw + len;
    *cut = false;
    while (p < end) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            dashes++;
        else if (end - p >= 13 && (p[0] == 'c' || p[0] == 'C') && !strncasecmp(p, "content-type:", 13))
            ctypes++;
        if (dashes > limit || ctypes > limit) {
            *cut = true;
            return (size_t)(p - raw);
        }
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        p = nl + 1;
    }
    return len;
}

/* Whether the message starts with a header line ("Name:" or an mbox
 * "From " line); GMime would otherwise drop body-only text as a broken
 * header. */
static bool starts_with_header(const char *raw, size_t len)
{
    if (len == 0 || raw[0] == '\n' || raw[0] == '\r' || (len >= 5 && !memcmp(raw, "From ", 5)))
        return true;
    size_t i = 0;
    while (i < len && raw[i] > ' ' && raw[i] < 127 && raw[i] != ':')
        i++;
    if (i == 0)
        return false;
    while (i < len && (raw[i] == ' ' || raw[i] == '\t'))
        i++;
    return i < len && raw[i] == ':';
}

engine_status mime_render(const char *raw, size_t len, const mime_options *opt,
                          char **text, size_t *text_len, mime_flags *flags,
                          engine_err *err)
{
    if (text)
        *text = NULL;
    if (text_len)
        *text_len = 0;
    if (flags)
        memset(flags, 0, sizeof *flags);
    if (!text || (!raw && len > 0))
        return engine_fail(err, ENGINE_ERR_ARG, "mime_render: %s", !text ? "text is NULL" : "raw is NULL");
    pthread_once(&init_once, global_init);

    struct ctx *c = calloc(1, sizeof *c);
    if (!c)
        return engine_fail(err, ENGINE_ERR_NOMEM, "mime_render: out of memory");
    mime_options_default(&c->o);
    if (opt) {
        if (opt->headers)
            c->o.headers = opt->headers;
        if (opt->max_text_bytes)
            c->o.max_text_bytes = opt->max_text_bytes;
        if (opt->max_depth)
            c->o.max_depth = opt->max_depth;
        if (opt->max_parts)
            c->o.max_parts = opt->max_parts;
        c->o.cut = opt->cut;
    }
    parse_header_names(c, c->o.headers);
    c->t = mime_text_new(c->o.max_text_bytes);

    bool cut = false;
    size_t n = raw ? bounded_prefix(raw, len, c->o.max_parts, &cut) : 0;
    if (n > G_MAXUINT - 1) { /* GByteArray lengths are guint */
        n = G_MAXUINT - 1;
        cut = true;
    }
    c->f.parts_exceeded = cut;
    if (c->o.cut && raw && starts_with_header(raw, n))
        n = drop_partial_field(raw, n);
    GByteArray *capped = raw ? capped_copy(c, raw, n) : NULL;
    if (capped) {
        raw = (const char *)capped->data;
        n = capped->len;
    }

    /* Zero copy: GMime reads our bytes in place and never writes to them
     * while parsing; the array is not owned, so it is not freed. */
    GByteArray *arr = NULL;
    GMimeStream *stream;
    if (starts_with_header(raw, n)) {
        arr = g_byte_array_new_take((guint8 *)(raw ? raw : ""), n);
        stream = g_mime_stream_mem_new_with_byte_array(arr);
        g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
    } else { /* no header at all: all of it is body */
        c->f.parse_defects++;
        GByteArray *copy = g_byte_array_sized_new((guint)n + 1);
        g_byte_array_append(copy, (const guint8 *)"\n", 1);
        g_byte_array_append(copy, (const guint8 *)raw, (guint)n);
        stream = g_mime_stream_mem_new_with_byte_array(copy); /* owns copy */
    }
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    c->popts = g_mime_parser_options_new();
    const char *fallback[] = {"UTF-8", "windows-1252", NULL};
    g_mime_parser_options_set_fallback_charsets(c->popts, fallback);
    g_mime_parser_options_set_rfc2047_compliance_mode(c->popts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(c->popts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_address_compliance_mode(c->popts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_warning_callback(c->popts, on_warning, c);

    if (c->t) {
        GMimeMessage *msg = g_mime_parser_construct_message(parser, c->popts);
        if (msg) {
            render_message(c, msg, 0);
            g_object_unref(msg);
        } else {
            c->f.parse_defects++;
        }
    }
    g_object_unref(parser);
    g_object_unref(stream);
    if (arr)
        g_byte_array_free(arr, FALSE);
    if (capped)
        g_byte_array_free(capped, TRUE);
    g_mime_parser_options_free(c->popts);

    engine_status st = ENGINE_OK;
    bool truncated = false;
    size_t out_len = 0;
    char *out = c->nomem ? NULL : mime_text_take(c->t, &out_len, &truncated);
    if (c->nomem)
        mime_text_free(c->t);
    if (!out) {
        st = engine_fail(err, ENGINE_ERR_NOMEM, "mime_render: out of memory rendering the message");
    } else {
        c->f.truncated = truncated;
        c->f.html_only = c->html_seen && !c->plain_seen;
        *text = out;
        if (text_len)
            *text_len = out_len;
        if (flags)
            *flags = c->f;
    }
    free(c);
    return st;
}
