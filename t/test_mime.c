/*
 * test_mime: mime_render() API, flags, options and bounds, with messages
 * generated here (hostile nesting, part floods, size caps on a UTF-8
 * boundary) and the committed fixtures of t/data/mime; and the same
 * results from many threads at once.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/render.h"
#include "t/lib/tap.h"

/* A growable byte buffer for building messages. */
struct buf {
    char *p;
    size_t n, a;
};

static void add(struct buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->a) {
        b->a = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->a);
        if (!b->p)
            abort();
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void adds(struct buf *b, const char *s) { add(b, s, strlen(s)); }

static bool utf8_clean(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F)
                return false;
            i++;
            continue;
        }
        size_t l = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (!l || c > 0xF4 || i + l > n)
            return false;
        for (size_t k = 1; k < l; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        i += l;
    }
    return true;
}

/* Render with options; returns the text (caller frees) or NULL. */
static char *render(const char *raw, size_t len, const mime_options *o, mime_flags *f, size_t *tl)
{
    char *text = NULL;
    size_t l = 0;
    engine_err err;
    engine_status st = mime_render(raw, len, o, &text, &l, f, &err);
    if (st != ENGINE_OK) {
        tap_diag("mime_render: %s", err.msg);
        return NULL;
    }
    if (tl)
        *tl = l;
    return text;
}

static char *render_s(const char *raw, mime_flags *f)
{
    return render(raw, strlen(raw), NULL, f, NULL);
}

static void test_api(void)
{
    char *text = (char *)1;
    engine_err err;
    tap_ok(mime_render("x", 1, NULL, NULL, NULL, NULL, &err) == ENGINE_ERR_ARG, "text NULL -> ENGINE_ERR_ARG");
    tap_ok(mime_render(NULL, 5, NULL, &text, NULL, NULL, &err) == ENGINE_ERR_ARG && text == NULL,
           "raw NULL with len -> ENGINE_ERR_ARG, *text NULL (%s)", err.msg);
    mime_flags f;
    size_t l = 99;
    text = NULL;
    tap_ok(mime_render(NULL, 0, NULL, &text, &l, &f, NULL) == ENGINE_OK && text && l == 0 && !*text,
           "empty input renders the empty text");
    free(text);

    mime_options o;
    mime_options_default(&o);
    tap_ok(o.max_text_bytes == 65536 && o.max_depth == 32 && o.max_parts == 1000 &&
           !strcmp(o.headers, "Subject,From"), "defaults: 64 KiB, depth 32, 1000 parts, Subject,From");

    text = render_s("Subject: hello\nFrom: a@b.example\nTo: c@d.example\n\nbody\n", &f);
    tap_ok(text && !strcmp(text, "Subject: hello\nFrom: a@b.example\n\nbody"), "default rendering: [%s]", text);
    tap_ok(f.n_parts == 1 && !f.html_only && !f.has_attachments && !f.truncated && !f.parse_defects,
           "flags of a plain message (parts %u, defects %u)", f.n_parts, f.parse_defects);
    free(text);

    const char *m = "subject: s\nTO: t@x.example\nX-Mailer: =?utf-8?q?M=C3=BCtt?=\n\nb\n";
    o.headers = "x-mailer, To Cc";
    text = render(m, strlen(m), &o, &f, NULL);
    tap_ok(text && !strcmp(text, "x-mailer: Mütt\nTo: t@x.example\n\nb"),
           "header list: order kept, case-insensitive, absent skipped, RFC 2047 decoded: [%s]", text);
    free(text);

    text = render_s("Subject: a\r\n  folded\r\n\tsubject\r\n\r\nline 1\r\nline 2\r\n", &f);
    char *lf = render_s("Subject: a\n  folded\n\tsubject\n\nline 1\nline 2\n", NULL);
    tap_ok(text && lf && !strcmp(text, lf) && !strcmp(text, "Subject: a folded subject\n\nline 1\nline 2"),
           "CRLF and LF render the same, folded header on one line: [%s]", text);
    free(text);
    free(lf);

    const char nul[] = "Subject: n\n\nbefore\0after\n";
    text = render(nul, sizeof nul - 1, NULL, &f, &l);
    tap_ok(text && l == strlen(text) && strstr(text, "beforeafter"), "NUL inside the body is removed");
    free(text);

    text = render_s("Subject: <|begin_of_text|>\n\n<|eot_id|> text\n", &f);
    tap_ok(text && strstr(text, "Subject: <|begin_of_text|>") && strstr(text, "<|eot_id|> text"),
           "special-token strings stay ordinary text");
    free(text);

    text = render_s("Subject: bad \xff\xfe utf8\nContent-Type: text/plain; charset=utf-8\n\nx \xc3\x28 y\n", &f);
    tap_ok(text && utf8_clean(text, strlen(text)) && strstr(text, "x \xef\xbf\xbd( y"),
           "invalid UTF-8 becomes U+FFFD: [%s]", text);
    free(text);
}

static void test_bounds(void)
{
    mime_flags f;
    size_t l;

    /* Nesting far past max_depth, multipart and message/rfc822 alike. */
    struct buf b = {0};
    adds(&b, "Subject: deep\n");
    for (int i = 0; i < 5000; i++) {
        char line[128];
        snprintf(line, sizeof line, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i);
        adds(&b, line);
    }
    adds(&b, "Content-Type: text/plain\n\ndeepest text\n");
    char *text = render(b.p, b.n, NULL, &f, &l);
    tap_ok(text && f.depth_exceeded && !strstr(text, "deepest text") && f.n_parts <= 1000,
           "5000 nested multiparts: depth_exceeded, deep text ignored (parts %u)", f.n_parts);
    free(text);
    b.n = 0;
    adds(&b, "Subject: deep rfc822\n");
    for (int i = 0; i < 20000; i++)
        adds(&b, "Content-Type: message/rfc822\n\nSubject: inner\n");
    adds(&b, "\ninnermost\n");
    text = render(b.p, b.n, NULL, &f, &l);
    tap_ok(text && (f.depth_exceeded || f.parts_exceeded) && utf8_clean(text, l),
           "20000 nested message/rfc822: bounded (depth_exceeded %d, parts_exceeded %d, parts %u)",
           f.depth_exceeded, f.parts_exceeded, f.n_parts);
    free(text);

    mime_options o;
    mime_options_default(&o);
    o.max_depth = 3;
    b.n = 0;
    adds(&b, "Subject: d\nContent-Type: multipart/mixed; boundary=a\n\n--a\n"
             "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
             "Content-Type: multipart/mixed; boundary=c\n\n--c\n"
             "Content-Type: text/plain\n\nat depth three\n--c--\n--b--\n--a--\n");
    text = render(b.p, b.n, &o, &f, NULL);
    tap_ok(text && strstr(text, "at depth three") && !f.depth_exceeded, "max_depth 3 renders depth 3");
    free(text);
    o.max_depth = 2;
    text = render(b.p, b.n, &o, &f, NULL);
    tap_ok(text && !strstr(text, "at depth three") && f.depth_exceeded, "max_depth 2 ignores it, flagged");
    free(text);

    /* A flood of parts. */
    b.n = 0;
    adds(&b, "Subject: parts\nContent-Type: multipart/mixed; boundary=p\n\n");
    for (int i = 0; i < 20000; i++) {
        char part[96];
        snprintf(part, sizeof part, "--p\nContent-Type: text/plain\n\npart %d\n", i);
        adds(&b, part);
    }
    adds(&b, "--p--\n");
    text = render(b.p, b.n, NULL, &f, &l);
    tap_ok(text && f.parts_exceeded && f.n_parts == 1000 && strstr(text, "part 998") && !strstr(text, "part 999\n"),
           "20000 parts: 1000 visited, parts_exceeded (parts %u)", f.n_parts);
    free(text);

    /* The text cap falls on a UTF-8 boundary. */
    b.n = 0;
    adds(&b, "Subject: big\nContent-Type: text/plain; charset=utf-8\n\n");
    for (int i = 0; i < 100000; i++)
        adds(&b, "\xc3\xa9");
    adds(&b, "\n");
    text = render(b.p, b.n, NULL, &f, &l);
    tap_ok(text && f.truncated && l <= 65536 && l > 65000 && utf8_clean(text, l),
           "200 KB of text: truncated at %zu <= 65536 bytes, valid UTF-8", l);
    free(text);
    o = (mime_options){.max_text_bytes = 30};
    b.n = 0;
    adds(&b, "Subject: emoji\n\n\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\n");
    /* "Subject: emoji\n\n" is 16 bytes; 14 left hold three 4-byte emoji. */
    text = render(b.p, b.n, &o, &f, &l);
    tap_ok(text && f.truncated && l == 28 && utf8_clean(text, l), "cap 30 cuts before a split emoji (len %zu)", l);
    free(text);
    o.max_text_bytes = 28;
    text = render(b.p, b.n, &o, &f, &l);
    tap_ok(text && f.truncated && l == 28, "cap exactly at a boundary: all 28 bytes used (len %zu)", l);
    free(text);

    /* A 2 MB header, a 2 MB single line, a 4 MB base64 attachment. */
    b.n = 0;
    adds(&b, "Subject: ");
    for (int i = 0; i < 200000; i++)
        adds(&b, "spam spam ");
    adds(&b, "\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\n");
    for (int i = 0; i < 200000; i++)
        adds(&b, "x123456789");
    adds(&b, "\n--q\nContent-Type: application/octet-stream; name=big.bin\nContent-Transfer-Encoding: base64\n\n");
    for (int i = 0; i < 70000; i++)
        adds(&b, "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n");
    adds(&b, "--q--\n");
    o = (mime_options){0};
    text = render(b.p, b.n, &o, &f, &l);
    tap_ok(text && f.truncated && l <= 65536 && f.has_attachments, "huge header, line and attachment: capped, flagged");
    free(text);
    free(b.p);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    struct buf b = {0};
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, fp)) > 0)
        add(&b, chunk, r);
    fclose(fp);
    if (!b.p)
        add(&b, "", 0);
    *len = b.n;
    return b.p;
}

static char *fixture(const char *name, size_t *len)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/t/data/mime/%s", top ? top : ".", name);
    return slurp(path, len);
}

static void test_flags(void)
{
    static const struct {
        const char *name;
        bool html_only, has_attachments;
        unsigned min_parts;
        const char *contains;
    } cases[] = {
        {"corpus-html-only-spam.eml", true, false, 1, "Click Here Now ! <http://free4pornlovers.com/simply-amateur/>"},
        {"authored-attachments.eml", false, true, 7, "[attachment: invoice.zip (application/zip, 1024 bytes)]"},
        {"authored-forwarded-rfc822.eml", false, false, 4, "Subject: the original \xe2\x9c\x93"},
        {"authored-alternative-nested-related.eml", false, false, 2, "The plain text version."},
        {"sa-utf16.eml", false, true, 3, "Shenzhen Powstar Technology Limited"},
        {"sa-mime8-crispin-torture.eml", false, true, 12, "[attachment: (audio/basic, 144 bytes)]"},
        {"authored-html-only-links-hidden.eml", true, false, 1, "Click here <http://spam.example/buy?id=1>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        char *raw = fixture(cases[i].name, &len);
        if (!raw) {
            tap_ok(false, "%s: cannot read the fixture", cases[i].name);
            continue;
        }
        mime_flags f;
        char *text = render(raw, len, NULL, &f, NULL);
        tap_ok(text && f.html_only == cases[i].html_only && f.has_attachments == cases[i].has_attachments &&
                   f.n_parts >= cases[i].min_parts && strstr(text, cases[i].contains),
               "%s: html_only %d, has_attachments %d, parts %u", cases[i].name, f.html_only,
               f.has_attachments, f.n_parts);
        free(text);
        free(raw);
    }
    size_t len;
    char *raw = fixture("authored-html-only-links-hidden.eml", &len);
    char *text = raw ? render(raw, len, NULL, NULL, NULL) : NULL;
    tap_ok(text && !strstr(text, "hidden by") && !strstr(text, "hidden attribute") && !strstr(text, "dropped") && !strstr(text, "Title") &&
               strstr(text, "small but visible") && strstr(text, "visit http://www.example.com/.") &&
               strstr(text, "Write to sales@example.com.") && !strstr(text, "#top"),
           "HTML: hidden/script/style/head/comments dropped, same-URL links not repeated");
    free(text);
    free(raw);
}

/* Many threads render every fixture; each must match the serial result. */
struct job {
    char **raw;
    size_t *len;
    char **want;
    size_t n;
    int mismatches;
};

/* A prefix cut inside the header block (mime_options.cut), and header
 * fields over MIME_MAX_HEADER_BYTES. */
static void test_header_bounds(void)
{
    mime_flags f;
    size_t l;
    /* 1. cut in the middle of a field name: the headers before it render
     * with cut; without it (a whole message ending so) nothing changes */
    const char *pfx = "Subject: hello\nFrom: Alice <a@example.com>\nX-Pad-1: x\nX-Pa";
    mime_options o = {0};
    char *plain = render(pfx, strlen(pfx), &o, &f, &l);
    o.cut = true;
    char *cut = render(pfx, strlen(pfx), &o, &f, &l);
    tap_ok(cut && !strcmp(cut, "Subject: hello\nFrom: Alice <a@example.com>"),
           "cut inside a field name: the headers before it render ('%s')", cut ? cut : "(null)");
    tap_ok(plain && !strcmp(plain, ""), "the same bytes as a whole message render as before ('%s')",
           plain ? plain : "(null)");
    free(plain);
    free(cut);
    /* a cut in the body, or after a field's colon, is rendered as without cut */
    const char *cases[] = {"Subject: hi\nFrom: b\n\nbody text, cut here", "Subject: hi\nFrom: b\nX-Pad: x",
                           "Subject: hi\nFrom: b\n\tcontinued"};
    for (size_t i = 0; i < 3; i++) {
        o.cut = false;
        char *a = render(cases[i], strlen(cases[i]), &o, &f, &l);
        o.cut = true;
        char *b = render(cases[i], strlen(cases[i]), &o, &f, &l);
        tap_ok(a && b && !strcmp(a, b), "cut case %zu renders as without cut ('%s')", i, b ? b : "(null)");
        free(a);
        free(b);
    }

    /* 2. header fields: one just under the bound renders in full; one over
     * it is cut to the bound, in the message and in a MIME part */
    struct buf b = {0};
    adds(&b, "From: Alice <a@example.com>\nSubject: ");
    size_t under = MIME_MAX_HEADER_BYTES - strlen("Subject: ") - 1;
    for (size_t i = 0; i < under; i++)
        adds(&b, "x");
    adds(&b, "\n\nbody\n");
    o = (mime_options){.max_text_bytes = 1 << 20};
    char *t = render(b.p, b.n, &o, &f, &l);
    tap_ok(t && l == strlen("From: Alice <a@example.com>\nSubject: ") + under + strlen("\n\nbody") &&
               f.parse_defects == 0,
           "a field of just under MIME_MAX_HEADER_BYTES renders whole (%zu bytes, %u defects)", l,
           f.parse_defects);
    free(t);
    b.n = 0;
    adds(&b, "From: Alice <a@example.com>\nSubject: ");
    for (size_t i = 0; i < 3 * (size_t)MIME_MAX_HEADER_BYTES / 10; i++)
        adds(&b, "word word ");
    adds(&b, "\n\tand a continuation line\nX-After: kept\n\nthe body\n");
    t = render(b.p, b.n, &o, &f, &l);
    const char *body = t ? strstr(t, "\n\nthe body") : NULL;
    tap_ok(t && body && (size_t)(body - t) < MIME_MAX_HEADER_BYTES + 64 && !strstr(t, "continuation") &&
               f.parse_defects == 1,
           "a 3x longer Subject is cut at the bound, the body still renders (%zu bytes, %u defects)", l,
           f.parse_defects);
    free(t);
    b.n = 0;
    adds(&b, "Subject: parts\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\nX-Huge: ");
    for (size_t i = 0; i < 3 * (size_t)MIME_MAX_HEADER_BYTES / 10; i++)
        adds(&b, "word word ");
    adds(&b, "\n\nthe part's text\n--q--\n");
    t = render(b.p, b.n, &o, &f, &l);
    tap_ok(t && !strcmp(t, "Subject: parts\n\nthe part's text") && f.parse_defects == 1,
           "an over-long part header is cut; the part renders ('%.40s', %u defects)", t ? t : "(null)",
           f.parse_defects);
    free(t);
    free(b.p);
}

static void *worker(void *arg)
{
    struct job *j = arg;
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < j->n; i++) {
            char *text = NULL;
            if (mime_render(j->raw[i], j->len[i], NULL, &text, NULL, NULL, NULL) != ENGINE_OK ||
                strcmp(text, j->want[i]))
                j->mismatches++;
            free(text);
        }
    return NULL;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_threads(void)
{
    const char *top = getenv("top_srcdir");
    char dirpath[4096];
    snprintf(dirpath, sizeof dirpath, "%s/t/data/mime", top ? top : ".");
    DIR *d = opendir(dirpath);
    if (!d) {
        tap_ok(false, "open %s", dirpath);
        return;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".eml") && (names[n] = malloc(l + 1)) != NULL)
            memcpy(names[n++], e->d_name, l + 1);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_name);
    char *raw[256], *want[256];
    size_t len[256];
    bool clean = true;
    for (size_t i = 0; i < n; i++) {
        raw[i] = fixture(names[i], &len[i]);
        size_t tl = 0;
        want[i] = raw[i] ? render(raw[i], len[i], NULL, NULL, &tl) : NULL;
        if (!want[i] || !utf8_clean(want[i], tl) || tl > 65536) {
            clean = false;
            tap_diag("%s: not rendered or not clean UTF-8", names[i]);
        }
    }
    tap_ok(n >= 40 && clean, "%zu fixtures render to clean UTF-8 within the cap", n);
    if (!clean)
        return;
    enum { T = 8 };
    pthread_t th[T];
    struct job jobs[T];
    for (int t = 0; t < T; t++) {
        jobs[t] = (struct job){raw, len, want, n, 0};
        pthread_create(&th[t], NULL, worker, &jobs[t]);
    }
    int bad = 0;
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        bad += jobs[t].mismatches;
    }
    tap_ok(bad == 0, "%d threads x 3 rounds x %zu fixtures match the serial renderings (%d mismatches)", T, n, bad);
    for (size_t i = 0; i < n; i++) {
        free(raw[i]);
        free(want[i]);
        free(names[i]);
    }
}

int main(void)
{
    test_api();
    test_bounds();
    test_flags();
    test_header_bounds();
    test_threads();
    return tap_done();
}
