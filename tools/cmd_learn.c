/*
 * cmd_learn: "llmspam learn": put misfiled (or any labelled) mail into the
 * learn store of llmspam.conf's learn_dir, for train/ --learn-dir and
 * llmspam eval --learn-dir. Inputs: message files, directories of them,
 * maildirs (cur/ and new/), mbox files; or, with --id, the ids the milter
 * stamped into PREFIX-Id (keep_recent). One line per message says what
 * happened; a bad input is reported and skipped, never half-stored.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "milter/llmspam_conf.h"
#include "milter/learnstore.h"
#include "tools/commands.h"
#include "tools/files.h"

#ifndef LLMSPAM_SYSCONFDIR
#define LLMSPAM_SYSCONFDIR "/etc"
#endif

/* a message larger than this is refused, not stored in part */
#define LEARN_MAX_BYTES (64u << 20)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: llmspam learn (--spam | --ham) [--config FILE] [--learn-dir DIR] PATH...\n"
            "       llmspam learn (--spam | --ham) [--config FILE] [--learn-dir DIR] --id ID...\n"
            "\n"
            "Store each message with the label given in the learn store (learn_dir of\n"
            "llmspam.conf): DIR/spam/ and DIR/ham/, one raw message per file. A message\n"
            "already stored (same Message-ID or same body) with the same label is left\n"
            "alone; with the other label it is moved (a flip, logged in DIR/learn.log).\n"
            "A PATH is a message file, a directory of message files, a maildir (cur/\n"
            "and new/) or an mbox (a file whose first line starts \"From \").\n"
            "\n"
            "  --spam, --ham        the label of every message named\n"
            "  --id                 the arguments are ids from the X-Spam-Id header of\n"
            "                       delivered mail, kept by the milter (keep_recent)\n"
            "  --config FILE        llmspam.conf to read learn_dir from\n"
            "                       (default %s/llmspam.conf; built-in default if absent)\n"
            "  --learn-dir DIR      the store, instead of the config's learn_dir\n"
            "  -h, --help           this text\n"
            "\n"
            "Then: python3 train/train.py ... --learn-dir DIR, and\n"
            "llmspam eval --model NEW --learn-dir DIR (see llmspam(1)).\n"
            "Exit status: 0 every message stored (or already there), 1 some failed, 2 usage.\n",
            LLMSPAM_SYSCONFDIR);
}

typedef struct tally {
    const char *dir;
    bool spam;
    unsigned stored, flipped, unchanged, failed;
} tally;

static void fail(tally *t, const char *what, const char *why)
{
    fprintf(stderr, "llmspam learn: %s: %s\n", what, why);
    t->failed++;
}

static void learn_one(tally *t, const char *raw, size_t len, const char *source)
{
    learnstore_result r;
    char err[1024];
    if (learnstore_put(t->dir, raw, len, t->spam, source, &r, err, sizeof err) < 0) {
        fail(t, source, err);
        return;
    }
    const char *label = t->spam ? "spam" : "ham";
    const char *mid = r.msgid[0] ? r.msgid : "(no Message-ID)";
    switch (r.outcome) {
    case LEARNSTORE_STORED:
        printf("stored %s %s %s %s\n", label, r.key, mid, source);
        t->stored++;
        break;
    case LEARNSTORE_UNCHANGED:
        printf("unchanged %s %s %s %s (already stored%s)\n", label, r.key, mid, source,
               r.matched_msgid ? ", same Message-ID" : "");
        t->unchanged++;
        break;
    case LEARNSTORE_FLIPPED:
        printf("flipped %s->%s %s %s %s\n", t->spam ? "ham" : "spam", label, r.key, mid, source);
        t->flipped++;
        break;
    }
}

static void learn_file(tally *t, const char *path)
{
    size_t len = 0;
    char *raw = tools_read_file(path, false, LEARN_MAX_BYTES + 1, &len);
    if (!raw) {
        fail(t, path, strerror(errno));
        return;
    }
    if (len > LEARN_MAX_BYTES) {
        fail(t, path, "larger than 64 MiB, not stored");
        free(raw);
        return;
    }
    learn_one(t, raw, len, path);
    free(raw);
}

/* An mbox: messages start after "From " lines; ">From " lines (mboxrd,
 * mboxo) lose one '>'. */
static void learn_mbox(tally *t, const char *path, char *raw, size_t len)
{
    size_t n = 0, i = 0;
    while (i < len) {
        /* i is at a "From " line: skip it */
        const char *nl = memchr(raw + i, '\n', len - i);
        size_t start = nl ? (size_t)(nl - raw) + 1 : len;
        size_t end = start;
        while (end < len) {
            if (!strncmp(raw + end, "From ", 5) && (end == start || raw[end - 1] == '\n'))
                break;
            const char *e = memchr(raw + end, '\n', len - end);
            end = e ? (size_t)(e - raw) + 1 : len;
        }
        /* unescape in place into a copy */
        char *msg = malloc(end - start + 1);
        if (!msg) {
            fail(t, path, "out of memory");
            return;
        }
        size_t m = 0;
        for (size_t p = start; p < end;) {
            const char *e = memchr(raw + p, '\n', end - p);
            size_t le = e ? (size_t)(e - raw) + 1 : end;
            size_t q = p;
            while (q < le && raw[q] == '>')
                q++;
            if (q > p && le - q >= 5 && !strncmp(raw + q, "From ", 5))
                p++;
            memcpy(msg + m, raw + p, le - p);
            m += le - p;
            p = le;
        }
        /* the separating empty line before the next From belongs to mbox */
        if (m >= 1 && msg[m - 1] == '\n' && end < len)
            m--;
        char source[4200];
        snprintf(source, sizeof source, "%s#%zu", path, ++n);
        learn_one(t, msg, m, source);
        free(msg);
        i = end;
    }
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void learn_dir_files(tally *t, const char *dir)
{
    char **paths;
    size_t n;
    if (!tools_dir_files(dir, &paths, &n)) {
        fail(t, dir, strerror(errno));
        return;
    }
    if (n == 0)
        fprintf(stderr, "llmspam learn: %s: no message files\n", dir);
    for (size_t i = 0; i < n; i++)
        learn_file(t, paths[i]);
    tools_dir_files_free(paths, n);
}

static void learn_path(tally *t, const char *path)
{
    if (is_dir(path)) {
        char cur[4200], new_[4200];
        snprintf(cur, sizeof cur, "%s/cur", path);
        snprintf(new_, sizeof new_, "%s/new", path);
        if (is_dir(cur) || is_dir(new_)) { /* a maildir */
            if (is_dir(cur))
                learn_dir_files(t, cur);
            if (is_dir(new_))
                learn_dir_files(t, new_);
        } else {
            learn_dir_files(t, path);
        }
        return;
    }
    size_t len = 0;
    char *raw = tools_read_file(path, false, LEARN_MAX_BYTES + 1, &len);
    if (!raw) {
        fail(t, path, strerror(errno));
        return;
    }
    if (len > LEARN_MAX_BYTES)
        fail(t, path, "larger than 64 MiB, not stored");
    else if (len >= 5 && !strncmp(raw, "From ", 5))
        learn_mbox(t, path, raw, len);
    else
        learn_one(t, raw, len, path);
    free(raw);
}

static void learn_id(tally *t, const char *id)
{
    char p[4200];
    if (!learnstore_recent_path(t->dir, id, p, sizeof p)) {
        fail(t, id, "not an id (12 hex digits, from the X-Spam-Id header)");
        return;
    }
    struct stat st;
    if (stat(p, &st) < 0) {
        fail(t, id, errno == ENOENT ? "not among the kept recent mail (keep_recent off, or it aged out)"
                                    : strerror(errno));
        return;
    }
    learn_file(t, p);
}

int cmd_learn(int argc, char **argv)
{
    int label = -1;
    bool ids = false;
    const char *config = NULL, *dir = NULL;
    int first = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--spam") || !strcmp(a, "--ham")) {
            int l = !strcmp(a, "--spam");
            if (label >= 0 && label != l) {
                fprintf(stderr, "llmspam learn: give --spam or --ham, not both\n");
                return 2;
            }
            label = l;
        } else if (!strcmp(a, "--id")) {
            ids = true;
        } else if (!strcmp(a, "--config") || !strcmp(a, "-c") || !strcmp(a, "--learn-dir")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "llmspam learn: %s needs a value\n", a);
                return 2;
            }
            if (!strcmp(a, "--learn-dir"))
                dir = argv[++i];
            else
                config = argv[++i];
        } else if (!strcmp(a, "--")) {
            first = i + 1;
            break;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "llmspam learn: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else {
            first = i;
            break;
        }
    }
    if (label < 0 || first >= argc) {
        fprintf(stderr, "llmspam learn: give --spam or --ham and at least one %s\n", ids ? "ID" : "PATH");
        usage(stderr);
        return 2;
    }
    for (int i = first; i < argc; i++)
        if (!strcmp(argv[i], "--spam") || !strcmp(argv[i], "--ham") || !strcmp(argv[i], "--id")) {
            fprintf(stderr, "llmspam learn: options go before the paths (%s)\n", argv[i]);
            return 2;
        }

    milter_config *c = NULL;
    if (!dir) {
        const char *path = config ? config : LLMSPAM_SYSCONFDIR "/llmspam.conf";
        struct stat st;
        char *errs = NULL;
        if (!config && stat(path, &st) < 0 && errno == ENOENT)
            c = milter_config_defaults();
        else
            c = milter_config_load(path, &errs);
        if (!c) {
            fprintf(stderr, "%s", errs ? errs : "llmspam learn: out of memory\n");
            free(errs);
            return 1;
        }
        free(errs);
        dir = c->learn_dir;
    }
    tally t = {dir, label == 1, 0, 0, 0, 0};
    for (int i = first; i < argc; i++) {
        if (ids)
            learn_id(&t, argv[i]);
        else
            learn_path(&t, argv[i]);
    }
    printf("learn: %u stored, %u flipped, %u unchanged, %u failed (%s)\n", t.stored, t.flipped, t.unchanged,
           t.failed, dir);
    fflush(stdout);
    int rc = t.failed ? 1 : 0;
    if (ferror(stdout))
        rc = 1;
    milter_config_free(c);
    return rc;
}
