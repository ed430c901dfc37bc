/*
 * extract: "llmspam extract" prints the rendering of messages, the exact
 * text the classifier reads (mime_render()). With --json, one JSON object
 * per line, which the training pipeline reads, so training sees what the
 * milter sees. Inputs: message files (or - for stdin), an mbox, a maildir.
 */
#include "config.h"
#include "tools/commands.h"
#include "tools/files.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "milter/llmspam_conf.h"
#include "mime/render.h"

struct extract {
    mime_options opt;
    bool json;
    size_t max_message_bytes; /* 0: whole file */
    size_t count;             /* messages printed so far */
    bool many;                /* label plain output with ==> name <== */
    int failures;
};

static void extract_usage(FILE *out)
{
    fprintf(out,
        "usage: llmspam extract [OPTIONS] FILE...\n"
        "       llmspam extract [OPTIONS] --mbox FILE\n"
        "       llmspam extract [OPTIONS] --maildir DIR\n"
        "\n"
        "Print the rendering of each message: the UTF-8 text the classifier reads\n"
        "(configured headers, a blank line, then the body text; see llmspam.conf(5)).\n"
        "FILE is one raw RFC 822 message (CRLF or LF); - reads standard input.\n"
        "\n"
        "options:\n"
        "  --json                  one JSON object per message and line:\n"
        "                          {\"file\":...,\"text\":...,\"flags\":{...}}\n"
        "  --headers LIST          headers to render, comma-separated\n"
        "                          (default \"%s\")\n"
        "  --max-text-bytes N      cap the text at N bytes, or with k, M or G (default %d)\n"
        "  --max-message-bytes N   render only the first N bytes of each message,\n"
        "                          as the milter does (default: all of it); N as in\n"
        "                          llmspam.conf: bytes, or with k, M or G (1M)\n"
        "  --mbox FILE             read the messages of an mbox (\"From \" lines);\n"
        "                          each is named FILE#N (N from 1)\n"
        "  --maildir DIR           read DIR/cur and DIR/new (or DIR's files)\n"
        "  -h, --help              this help\n"
        "\n"
        "flags: html_only, has_attachments, truncated, depth_exceeded,\n"
        "parts_exceeded, parse_defects (count), parts (MIME parts visited).\n"
        "Exit status: 0 all rendered, 1 a file could not be read or rendered, 2 usage.\n",
        MIME_DEFAULT_HEADERS, MIME_DEFAULT_MAX_TEXT_BYTES);
}

/* a positive size as llmspam.conf writes them (64k, 1M), as the config keys
   these options mirror */
static bool size_option(const char *name, const char *arg, size_t *out)
{
    long b;
    if (!milter_config_parse_size(arg, &b) || b <= 0) {
        fprintf(stderr, "llmspam extract: %s: '%s' is not a size (bytes, or with k, M, G)\n", name, arg);
        return false;
    }
    *out = (size_t)b;
    return true;
}

static void emit(struct extract *x, const char *name, const char *raw, size_t len)
{
    mime_options opt = x->opt;
    if (x->max_message_bytes && len > x->max_message_bytes) {
        len = x->max_message_bytes;
        opt.cut = true; /* as the milter renders a message over its cap */
    }
    char *text = NULL;
    size_t text_len = 0;
    mime_flags f;
    engine_err err;
    engine_status st = mime_render(raw, len, &opt, &text, &text_len, &f, &err);
    if (st != ENGINE_OK) {
        fprintf(stderr, "llmspam extract: %s: %s\n", name, err.msg);
        x->failures++;
        return;
    }
    if (x->json) {
        cJSON *o = cJSON_CreateObject(), *fl = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", name);
        cJSON_AddStringToObject(o, "text", text);
        cJSON_AddBoolToObject(fl, "html_only", f.html_only);
        cJSON_AddBoolToObject(fl, "has_attachments", f.has_attachments);
        cJSON_AddBoolToObject(fl, "truncated", f.truncated);
        cJSON_AddBoolToObject(fl, "depth_exceeded", f.depth_exceeded);
        cJSON_AddBoolToObject(fl, "parts_exceeded", f.parts_exceeded);
        cJSON_AddNumberToObject(fl, "parse_defects", f.parse_defects);
        cJSON_AddNumberToObject(fl, "parts", f.n_parts);
        cJSON_AddItemToObject(o, "flags", fl);
        char *line = cJSON_PrintUnformatted(o);
        if (line) {
            puts(line);
            cJSON_free(line);
        } else {
            fprintf(stderr, "llmspam extract: %s: out of memory\n", name);
            x->failures++;
        }
        cJSON_Delete(o);
    } else {
        if (x->many)
            printf("%s==> %s <==\n", x->count ? "\n" : "", name);
        fwrite(text, 1, text_len, stdout);
        putchar('\n');
    }
    x->count++;
    free(text);
}

static void do_file(struct extract *x, const char *path)
{
    size_t len;
    char *raw = tools_read_file(path, true, 0, &len);
    if (!raw) {
        fprintf(stderr, "llmspam extract: %s: %s\n", path, strerror(errno));
        x->failures++;
        return;
    }
    emit(x, path, raw, len);
    free(raw);
}

/* mbox: the messages tools_mbox_split finds, each rendered. */
typedef struct {
    struct extract *x;
    const char *path, *raw;
} mbox_walk;

static bool mbox_each(void *arg, size_t n, long long off, long long len)
{
    mbox_walk *w = arg;
    char name[4096];
    snprintf(name, sizeof name, "%s#%zu", w->path, n);
    emit(w->x, name, w->raw + off, (size_t)len);
    return true;
}

static void do_mbox(struct extract *x, const char *path)
{
    size_t len;
    char *raw = tools_read_file(path, true, 0, &len);
    FILE *f = raw && len ? fmemopen(raw, len, "rb") : NULL;
    if (!raw || (len && !f)) {
        fprintf(stderr, "llmspam extract: %s: %s\n", path, strerror(errno));
        x->failures++;
        free(raw);
        return;
    }
    mbox_walk w = {x, path, raw};
    if (f && !tools_mbox_split(f, mbox_each, &w)) {
        fprintf(stderr, "llmspam extract: %s: %s\n", path, strerror(errno));
        x->failures++;
    }
    if (f)
        fclose(f);
    free(raw);
}

/* The regular files of dir, sorted by name, each rendered. */
static bool do_dir(struct extract *x, const char *dir)
{
    char **paths;
    size_t n;
    if (!tools_dir_files(dir, &paths, &n))
        return false;
    for (size_t i = 0; i < n; i++)
        do_file(x, paths[i]);
    tools_dir_files_free(paths, n);
    return true;
}

static void do_maildir(struct extract *x, const char *dir)
{
    char sub[8192];
    bool any = false;
    snprintf(sub, sizeof sub, "%s/cur", dir);
    any |= do_dir(x, sub);
    snprintf(sub, sizeof sub, "%s/new", dir);
    any |= do_dir(x, sub);
    if (!any && !do_dir(x, dir)) {
        fprintf(stderr, "llmspam extract: %s: %s\n", dir, strerror(errno));
        x->failures++;
    }
}

int cmd_extract(int argc, char **argv)
{
    enum { O_JSON = 256, O_HEADERS, O_MAXTEXT, O_MAXMSG, O_MBOX, O_MAILDIR };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, O_JSON},
        {"headers", required_argument, NULL, O_HEADERS},
        {"max-text-bytes", required_argument, NULL, O_MAXTEXT},
        {"max-message-bytes", required_argument, NULL, O_MAXMSG},
        {"mbox", required_argument, NULL, O_MBOX},
        {"maildir", required_argument, NULL, O_MAILDIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct extract x = {0};
    mime_options_default(&x.opt);
    const char *mbox = NULL, *maildir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_JSON:
            x.json = true;
            break;
        case O_HEADERS:
            x.opt.headers = optarg;
            break;
        case O_MAXTEXT:
            if (!size_option("--max-text-bytes", optarg, &x.opt.max_text_bytes))
                return 2;
            break;
        case O_MAXMSG:
            if (!size_option("--max-message-bytes", optarg, &x.max_message_bytes))
                return 2;
            break;
        case O_MBOX:
            mbox = optarg;
            break;
        case O_MAILDIR:
            maildir = optarg;
            break;
        case 'h':
            extract_usage(stdout);
            return 0;
        default:
            extract_usage(stderr);
            return 2;
        }
    }
    int nfiles = argc - optind;
    if ((mbox != NULL) + (maildir != NULL) + (nfiles > 0) != 1) {
        fprintf(stderr, "llmspam extract: give FILE..., or --mbox FILE, or --maildir DIR\n");
        extract_usage(stderr);
        return 2;
    }
    x.many = nfiles > 1 || mbox || maildir;
    if (mbox)
        do_mbox(&x, mbox);
    else if (maildir)
        do_maildir(&x, maildir);
    else
        for (int i = optind; i < argc; i++)
            do_file(&x, argv[i]);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "llmspam extract: standard output: %s\n", strerror(errno));
        return 1;
    }
    return x.failures ? 1 : 0;
}
