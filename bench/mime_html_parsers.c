/*
 * mime_html_parsers: the benchmark behind the choice of libxml2 as the HTML
 * parser of the rendering (mime/html.c). It pulls every text/html part out
 * of the messages given (transfer-decoded and converted to UTF-8 as the
 * renderer does), then times, in one run, on the same inputs, in thread CPU
 * time: libxml2's HTML parser building a tree plus a walk over its text,
 * libxml2 in SAX mode (what mime/html.c does), and gumbo plus a walk.
 * Not built by make (gumbo is not a dependency of llmspam); build with:
 *   cc -O2 -I. bench/mime_html_parsers.c mime/charset.c \
 *      $(pkg-config --cflags --libs gmime-3.0 libxml-2.0 gumbo) -o mime_html_parsers
 *   ./mime_html_parsers ../shared/corpus/spamassassin/ham ../shared/corpus/spamassassin/spam
 */
#include <dirent.h>
#include <gmime/gmime.h>
#include <gumbo.h>
#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mime/charset.h"

static char **docs;
static size_t *lens, ndocs, total;

static void add_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    (void)parent, (void)data;
    if (!GMIME_IS_PART(part))
        return;
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    if (!ct || !g_mime_content_type_is_type(ct, "text", "html"))
        return;
    GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(part));
    if (!w)
        return;
    GMimeStream *mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(w, mem); /* transfer-decoded */
    GByteArray *b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    const char *out;
    size_t outlen;
    bool owned;
    unsigned defects = 0;
    if (mime_charset_to_utf8(g_mime_object_get_content_type_parameter(part, "charset"), (const char *)b->data,
                             b->len, &out, &outlen, &owned, &defects) && outlen > 0) {
        docs = realloc(docs, (ndocs + 1) * sizeof *docs);
        lens = realloc(lens, (ndocs + 1) * sizeof *lens);
        docs[ndocs] = malloc(outlen);
        memcpy(docs[ndocs], out, outlen);
        lens[ndocs++] = outlen;
        total += outlen;
    }
    if (owned)
        free((char *)out);
    g_object_unref(mem);
}

static void load(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            load(p);
        }
        if (d)
            closedir(d);
        return;
    }
    GMimeStream *s = g_mime_stream_file_open(path, "rb", NULL);
    if (!s)
        return;
    GMimeParser *p = g_mime_parser_new_with_stream(s);
    GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
    if (m) {
        g_mime_message_foreach(m, add_part, NULL);
        g_object_unref(m);
    }
    g_object_unref(p);
    g_object_unref(s);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static size_t text_bytes;

static void walk_xml(xmlNode *n)
{
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE && n->content)
            text_bytes += strlen((const char *)n->content);
        if (n->children)
            walk_xml(n->children);
    }
}

static void walk_gumbo(const GumboNode *n)
{
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE) {
        text_bytes += strlen(n->v.text.text);
        return;
    }
    if (n->type != GUMBO_NODE_ELEMENT && n->type != GUMBO_NODE_DOCUMENT)
        return;
    const GumboVector *c = n->type == GUMBO_NODE_ELEMENT ? &n->v.element.children : &n->v.document.children;
    for (unsigned i = 0; i < c->length; i++)
        walk_gumbo(c->data[i]);
}

static void on_chars(void *ctx, const xmlChar *ch, int len)
{
    (void)ctx, (void)ch;
    text_bytes += (size_t)len;
}

static void quiet(void *ctx, const char *msg, ...)
{
    (void)ctx, (void)msg;
}

int main(int argc, char **argv)
{
    g_mime_init();
    xmlInitParser();
    xmlSetGenericErrorFunc(NULL, quiet);
    for (int i = 1; i < argc; i++)
        load(argv[i]);
    if (!ndocs) {
        fprintf(stderr, "usage: mime_html_parsers DIR|FILE... (no text/html part found)\n");
        return 1;
    }
    const int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                     HTML_PARSE_COMPACT | HTML_PARSE_IGNORE_ENC | HTML_PARSE_NODEFDTD;
    double best[3] = {1e30, 1e30, 1e30};
    size_t text[3] = {0};
    for (int round = 0; round < 5; round++) {
        text_bytes = 0;
        double t0 = now();
        for (size_t i = 0; i < ndocs; i++) {
            htmlDocPtr doc = htmlReadMemory(docs[i], (int)lens[i], NULL, "UTF-8", opts);
            if (doc) {
                walk_xml(doc->children);
                xmlFreeDoc(doc);
            }
        }
        double t = now() - t0;
        best[0] = t < best[0] ? t : best[0];
        text[0] = text_bytes;

        text_bytes = 0;
        t0 = now();
        for (size_t i = 0; i < ndocs; i++) {
            htmlSAXHandler sax;
            memset(&sax, 0, sizeof sax);
            sax.characters = on_chars;
            htmlParserCtxtPtr c = htmlCreateMemoryParserCtxt(docs[i], (int)lens[i]);
            if (!c)
                continue;
            htmlSAXHandlerPtr tree = c->sax;
            c->sax = &sax;
            c->userData = NULL;
            htmlCtxtUseOptions(c, opts);
            xmlSwitchToEncoding(c, xmlFindCharEncodingHandler("UTF-8"));
            htmlParseDocument(c);
            c->sax = tree;
            htmlFreeParserCtxt(c);
        }
        t = now() - t0;
        best[1] = t < best[1] ? t : best[1];
        text[1] = text_bytes;

        text_bytes = 0;
        t0 = now();
        for (size_t i = 0; i < ndocs; i++) {
            GumboOutput *o = gumbo_parse_with_options(&kGumboDefaultOptions, docs[i], lens[i]);
            walk_gumbo(o->root);
            gumbo_destroy_output(&kGumboDefaultOptions, o);
        }
        t = now() - t0;
        best[2] = t < best[2] ? t : best[2];
        text[2] = text_bytes;
    }
    static const char *const names[] = {"libxml2 tree + walk", "libxml2 SAX", "gumbo tree + walk"};
    printf("%zu text/html parts, %.1f MB of UTF-8 HTML; best of 5 rounds, thread CPU time\n", ndocs, total / 1e6);
    for (int k = 0; k < 3; k++)
        printf("%-20s %7.3f s  %6.1f MB/s  text %zu bytes  (%.2fx libxml2 SAX time)\n", names[k], best[k],
               total / 1e6 / best[k], text[k], best[k] / best[1]);
    return 0;
}
