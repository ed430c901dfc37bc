/*
 * html: HTML -> text with libxml2's HTML parser (see html.h). The parser
 * runs with error recovery and with its error reports switched off (mail
 * HTML is almost never valid); input is already UTF-8 (the charset module
 * converted it), so any <meta charset> inside is ignored.
 */
#include "mime/html.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
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

/* Inline style or attribute that hides the element's text. */
static bool hidden(xmlNode *n)
{
    for (xmlAttr *a = n->properties; a; a = a->next) {
        const char *an = (const char *)a->name;
        if (!strcmp(an, "hidden"))
            return true;
        if (strcmp(an, "style") || !a->children || !a->children->content)
            continue;
        char s[512];
        size_t k = 0;
        for (const char *p = (const char *)a->children->content; *p && k + 1 < sizeof s; p++)
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
    }
    return false;
}

struct walk {
    mime_text *t;
    xmlNode *link;       /* the outermost open <a href>, or NULL */
    size_t link_start;   /* text length when it opened */
    unsigned pre;        /* open <pre> elements */
};

static const char *link_href(xmlNode *n)
{
    for (xmlAttr *a = n->properties; a; a = a->next)
        if (!strcmp((const char *)a->name, "href") && a->children && a->children->content)
            return (const char *)a->children->content;
    return NULL;
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

static void link_close(struct walk *w)
{
    const char *href = link_href(w->link);
    w->link = NULL;
    if (!href || mime_text_full(w->t))
        return;
    size_t hn = strlen(href);
    href = trim(href, &hn);
    if (hn == 0 || href[0] == '#')
        return;
    if (hn > 2048)
        hn = 2048;
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
    char buf[2048 + 3];
    buf[0] = '<';
    memcpy(buf + 1, href, hn);
    buf[hn + 1] = '>';
    mime_text_put(w->t, " ", 1, true);
    mime_text_put(w->t, buf, hn + 2, true);
}

/* Returns whether to descend into n. */
static bool enter(struct walk *w, xmlNode *n)
{
    switch (n->type) {
    case XML_TEXT_NODE:
    case XML_CDATA_SECTION_NODE:
        if (n->content)
            mime_text_put(w->t, (const char *)n->content, strlen((const char *)n->content), w->pre == 0);
        return false;
    case XML_ELEMENT_NODE:
        break;
    default: /* comments, processing instructions, DTD */
        return false;
    }
    unsigned k = el_kind(n->name);
    if (k == EL_SKIP || hidden(n))
        return false;
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
    case EL_LINK:
        if (!w->link && link_href(n)) {
            w->link = n;
            w->link_start = mime_text_len(w->t);
        }
        break;
    }
    return true;
}

static void leave(struct walk *w, xmlNode *n)
{
    if (n->type != XML_ELEMENT_NODE)
        return;
    switch (el_kind(n->name)) {
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
        if (w->link == n)
            link_close(w);
        break;
    }
}

bool mime_html_render(const char *html, size_t len, mime_text *t)
{
    if (len > INT_MAX)
        len = INT_MAX;
    htmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
                                    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                        HTML_PARSE_NONET | HTML_PARSE_COMPACT | HTML_PARSE_IGNORE_ENC |
                                        HTML_PARSE_NODEFDTD);
    if (!doc) /* nothing the parser could recover, e.g. empty */
        return true;
    struct walk w = {.t = t};
    mime_text_break(t, 1);
    xmlNode *n = doc->children;
    while (n && !mime_text_full(t)) {
        bool in = enter(&w, n);
        if (in && n->children) {
            n = n->children;
            continue;
        }
        if (in)
            leave(&w, n);
        while (n && !n->next) {
            n = n->parent;
            if (!n || n == (xmlNode *)doc) {
                n = NULL;
                break;
            }
            leave(&w, n);
        }
        if (n)
            n = n->next;
    }
    mime_text_break(t, 1);
    xmlFreeDoc(doc);
    return true;
}
