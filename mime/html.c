/*
 * html: HTML -> text with libxml2's HTML parser in SAX mode (see html.h):
 * no document tree is built, the text streams straight into mime_text, so
 * nesting depth costs neither stack nor memory. The parser runs with error
 * recovery and its error reports switched off (mail HTML is almost never
 * valid); input is already UTF-8 (the charset module converted it), so any
 * <meta charset> inside is ignored.
 */
#include "config.h"
#include "mime/html.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { EL_INLINE = 0, EL_SKIP, EL_LINE, EL_PARA, EL_CELL, EL_BR, EL_LINK, EL_PRE };

struct el { const char *name; unsigned char kind; };

/* Sorted by name for bsearch. */
static const struct el elements[] = {
    {"a", EL_LINK}, {"address", EL_LINE}, {"article", EL_LINE}, {"aside", EL_LINE},
    {"blockquote", EL_PARA}, {"body", EL_LINE}, {"br", EL_BR}, {"caption", EL_LINE},
    {"center", EL_LINE}, {"dd", EL_LINE}, {"details", EL_LINE}, {"dialog", EL_LINE},
    {"dir", EL_LINE}, {"div", EL_LINE}, {"dl", EL_PARA}, {"dt", EL_LINE},
    {"fieldset", EL_LINE}, {"figcaption", EL_LINE}, {"figure", EL_LINE}, {"footer", EL_LINE},
    {"form", EL_LINE}, {"frameset", EL_LINE}, {"h1", EL_PARA}, {"h2", EL_PARA},
    {"h3", EL_PARA}, {"h4", EL_PARA}, {"h5", EL_PARA}, {"h6", EL_PARA},
    {"head", EL_SKIP}, {"header", EL_LINE}, {"hr", EL_LINE}, {"html", EL_LINE},
    {"li", EL_LINE}, {"main", EL_LINE}, {"menu", EL_LINE}, {"nav", EL_LINE},
    {"ol", EL_PARA}, {"option", EL_LINE}, {"p", EL_PARA}, {"pre", EL_PRE},
    {"script", EL_SKIP}, {"section", EL_LINE}, {"style", EL_SKIP}, {"summary", EL_LINE},
    {"table", EL_PARA}, {"td", EL_CELL}, {"template", EL_SKIP}, {"th", EL_CELL},
    {"title", EL_SKIP}, {"tr", EL_LINE}, {"ul", EL_PARA},
};

static int el_cmp(const void *k, const void *e)
{
    return strcmp(k, ((const struct el *)e)->name);
}

static unsigned el_kind(const xmlChar *name)
{
    const struct el *e = bsearch(name, elements, sizeof elements / sizeof elements[0],
                                 sizeof elements[0], el_cmp);
    return e ? e->kind : EL_INLINE;
}

void mime_html_global_init(void)
{
    xmlInitParser();
}

struct walk {
    mime_text *t;
    unsigned skip;        /* >0: inside a dropped or hidden element */
    unsigned pre;         /* open <pre> elements */
    bool link;            /* an <a href> is open */
    size_t link_start;    /* text length when it opened */
    size_t href_len;
    char href[2048];
};

static const char *attr(const xmlChar **atts, const char *name)
{
    for (size_t i = 0; atts && atts[i]; i += 2)
        if (!strcmp((const char *)atts[i], name))
            return atts[i + 1] ? (const char *)atts[i + 1] : "";
    return NULL;
}

/* Inline style or attribute that hides the element's text. */
static bool hidden(const xmlChar **atts)
{
    if (attr(atts, "hidden"))
        return true;
    const char *style = attr(atts, "style");
    if (!style)
        return false;
    char s[512];
    size_t k = 0;
    for (const char *p = style; *p && k + 1 < sizeof s; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            s[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    s[k] = '\0';
    if (strstr(s, "display:none") || strstr(s, "visibility:hidden"))
        return true;
    for (const char *f = s; (f = strstr(f, "font-size:0")) != NULL; f++) {
        char c = f[11];
        if (c != '.' && (c < '0' || c > '9'))
            return true;
    }
    return false;
}

/* Trim ASCII whitespace; returns the start, sets *n. */
static const char *trim(const char *s, size_t *n)
{
    size_t len = *n;
    while (len && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    *n = len;
    return s;
}

static void link_open(struct walk *w, const char *href)
{
    size_t hn = strlen(href);
    href = trim(href, &hn);
    if (hn == 0 || href[0] == '#')
        return;
    if (hn > sizeof w->href)
        hn = sizeof w->href;
    memcpy(w->href, href, hn);
    w->href_len = hn;
    w->link = true;
    w->link_start = mime_text_len(w->t);
}

/* "text <url>" unless the text is the URL (or the mailto: address). */
static void link_close(struct walk *w)
{
    w->link = false;
    if (mime_text_full(w->t))
        return;
    const char *href = w->href;
    size_t hn = w->href_len;
    size_t tn = mime_text_len(w->t) - w->link_start;
    const char *text = trim(mime_text_data(w->t) + w->link_start, &tn);
    const char *h = href;
    size_t hl = hn;
    if (hl > 7 && !strncasecmp(h, "mailto:", 7)) {
        h += 7;
        hl -= 7;
    }
    if ((tn == hn && !memcmp(text, href, hn)) || (tn == hl && !memcmp(text, h, hl)))
        return;
    mime_text_put(w->t, " <", 2, true);
    mime_text_put(w->t, href, hn, true);
    mime_text_put(w->t, ">", 1, true);
}

static void on_start(void *ctx, const xmlChar *name, const xmlChar **atts)
{
    struct walk *w = ctx;
    if (w->skip) {
        w->skip++;
        return;
    }
    unsigned k = el_kind(name);
    if (k == EL_SKIP || (atts && hidden(atts))) {
        w->skip = 1;
        return;
    }
    switch (k) {
    case EL_LINE:
        mime_text_break(w->t, 1);
        break;
    case EL_PARA:
        mime_text_break(w->t, 2);
        break;
    case EL_PRE:
        mime_text_break(w->t, 2);
        w->pre++;
        break;
    case EL_CELL:
        mime_text_put(w->t, " ", 1, true);
        break;
    case EL_BR:
        mime_text_put(w->t, "\n", 1, false);
        break;
    case EL_LINK: {
        const char *href = attr(atts, "href");
        if (w->link)
            link_close(w);
        if (href)
            link_open(w, href);
        break;
    }
    }
}

static void on_end(void *ctx, const xmlChar *name)
{
    struct walk *w = ctx;
    if (w->skip) {
        w->skip--;
        return;
    }
    switch (el_kind(name)) {
    case EL_LINE:
        mime_text_break(w->t, 1);
        break;
    case EL_PRE:
        if (w->pre)
            w->pre--;
        /* fall through */
    case EL_PARA:
        mime_text_break(w->t, 2);
        break;
    case EL_CELL:
        mime_text_put(w->t, " ", 1, true);
        break;
    case EL_LINK:
        if (w->link)
            link_close(w);
        break;
    }
}

static void on_text(void *ctx, const xmlChar *ch, int len)
{
    struct walk *w = ctx;
    if (!w->skip && len > 0)
        mime_text_put(w->t, (const char *)ch, (size_t)len, w->pre == 0);
}

static void quiet(void *ctx, const char *msg, ...)
{
    (void)ctx, (void)msg;
}

bool mime_html_render(const char *html, size_t len, mime_text *t)
{
    if (len > INT_MAX)
        len = INT_MAX;
    /* libxml2 reports some input errors through its generic handler,
     * which is per thread: silence it here, where the parsing happens. */
    xmlSetGenericErrorFunc(NULL, quiet);
    xmlSetStructuredErrorFunc(NULL, NULL);
    htmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.startElement = on_start;
    sax.endElement = on_end;
    sax.characters = on_text;
    sax.cdataBlock = on_text;
    sax.ignorableWhitespace = on_text;
    struct walk w = {.t = t};
    /* The pull parser, as htmlReadMemory() uses it, with our SAX handler
     * in place of the tree builder (the push parser loses text after
     * </html>). */
    htmlParserCtxtPtr ctxt = htmlCreateMemoryParserCtxt(html, (int)len);
    if (!ctxt)
        return len == 0;
    xmlSAXHandler *tree_builder = (xmlSAXHandler *)ctxt->sax;
    ctxt->sax = (xmlSAXHandler *)&sax;
    ctxt->userData = &w;
    htmlCtxtUseOptions(ctxt, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                 HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC | HTML_PARSE_NODEFDTD);
    xmlCharEncodingHandlerPtr utf8 = xmlFindCharEncodingHandler("UTF-8");
    if (utf8)
        xmlSwitchToEncoding(ctxt, utf8);
    mime_text_break(t, 1);
    htmlParseDocument(ctxt);
    if (w.link)
        link_close(&w);
    mime_text_break(t, 1);
    ctxt->sax = (htmlSAXHandler *)tree_builder;
    if (ctxt->myDoc) /* none expected: our handler builds no tree */
        xmlFreeDoc(ctxt->myDoc);
    htmlFreeParserCtxt(ctxt);
    return true;
}
