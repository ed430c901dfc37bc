/*
 * cmd_classify: "llmspam classify": run the classifier on a message file
 * or stdin, rendered by mime_render() exactly as the milter renders it (or
 * on plain text with --text, or token ids with --ids), and print the label,
 * the probability of each label, the token count and the time taken.
 */
#include "config.h"
#include "tools/commands.h"
#include "tools/files.h"
#include "engine/classifier.h"
#include "engine/cpu_isa.h"
#include "mime/render.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_MAX (64u << 20) /* bytes read from the input at most */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: llmspam classify --model DIR [--json] [--text | --ids] [--headers LIST]\n"
            "                        [--max-tokens N] [--threads T] [--device DEV] [FILE|-]\n"
            "\n"
            "Classify the message in FILE (or stdin when FILE is - or absent) with the\n"
            "sequence classifier in DIR (config.json, model.safetensors, tokenizer.json).\n"
            "The message (raw RFC 822, CRLF or LF) is rendered to text exactly as\n"
            "llmspam-milter and llmspam extract render it (see llmspam.conf(5)).\n"
            "\n"
            "  --model DIR       the checkpoint directory (required)\n"
            "  --json            print {\"label\", \"score\", \"probs\", \"logits\", \"tokens\", \"ms\",\n"
            "                    \"device\", \"cpu_path\"}\n"
            "  --text            the input is already text (e.g. llmspam extract's output):\n"
            "                    classify it as it is, without MIME rendering\n"
            "  --ids             the input is token ids separated by white space, not text\n"
            "                    (no BOS is added; ids after the pooled token are dropped)\n"
            "  --headers LIST    headers rendered into the text (default \"Subject,From\")\n"
            "  --max-tokens N    truncate to N tokens, BOS included (default 0: the model's\n"
            "                    tokenizer_config.json model_max_length, else 512)\n"
            "  --threads T       compute threads (default: every core)\n"
            "  --device DEV      cpu (default), auto, cuda or cuda:N; the JSON output names\n"
            "                    the backend chosen, and for auto why\n"
            "  -h, --help        this text\n"
            "\n"
            "score is the probability of the label named \"spam\" (the last label when\n"
            "there is none; the raw value for a regression model).\n");
}

static int parse_ids(const char *text, int32_t **ids, size_t *n)
{
    size_t cap = 1024;
    *n = 0;
    *ids = malloc(cap * sizeof **ids);
    const char *p = text;
    while (*ids) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')
            p++;
        if (!*p)
            return 0;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            fprintf(stderr, "llmspam classify: bad token id near \"%.16s\"\n", p);
            return -1;
        }
        p = end;
        if (*n == cap) {
            int32_t *ni = realloc(*ids, cap * 2 * sizeof **ids);
            if (!ni)
                break;
            *ids = ni;
            cap *= 2;
        }
        (*ids)[(*n)++] = (int32_t)v;
    }
    fprintf(stderr, "llmspam classify: out of memory\n");
    return -1;
}

/* Replace the raw message in *text by its rendering (the milter's text). */
static int render_message(const char *path, const mime_options *mopt, char **text, size_t *len)
{
    char *rendered = NULL;
    size_t rlen = 0;
    engine_err err;
    if (mime_render(*text, *len, mopt, &rendered, &rlen, NULL, &err)) {
        fprintf(stderr, "llmspam classify: %s: %s\n", path, err.msg);
        return -1;
    }
    free(*text);
    *text = rendered;
    *len = rlen;
    return 0;
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

int cmd_classify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"ids", no_argument, NULL, 'i'},
        {"text", no_argument, NULL, 'T'},
        {"headers", required_argument, NULL, 'H'},
        {"max-tokens", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'},
        {"device", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL;
    int json = 0, as_ids = 0, as_text = 0;
    mime_options mopt;
    mime_options_default(&mopt);
    classifier_options opt;
    classifier_options_init(&opt);
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "m:jiTH:n:t:d:h", opts, NULL)) != -1) {
        char *end;
        long v;
        switch (ch) {
        case 'm': model = optarg; break;
        case 'j': json = 1; break;
        case 'i': as_ids = 1; break;
        case 'T': as_text = 1; break;
        case 'H': mopt.headers = optarg; break;
        case 'n':
            v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 131072) {
                fprintf(stderr, "llmspam classify: --max-tokens must be 1..131072\n");
                return 2;
            }
            opt.max_tokens = (size_t)v;
            break;
        case 't':
            v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > CLASSIFIER_MAX_THREADS) {
                fprintf(stderr, "llmspam classify: --threads must be 1..%d\n", CLASSIFIER_MAX_THREADS);
                return 2;
            }
            opt.threads = (int)v;
            break;
        case 'd': opt.device = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model || argc - optind > 1 || (as_ids && as_text)) {
        usage(stderr);
        return 2;
    }
    const char *path = optind < argc ? argv[optind] : "-";
    size_t len = 0;
    char *text = tools_read_file(path, true, INPUT_MAX, &len);
    if (!text) {
        fprintf(stderr, "llmspam classify: %s: %s\n", path, strerror(errno));
        return 1;
    }
    int32_t *ids = NULL;
    size_t nids = 0;
    if (as_ids && parse_ids(text, &ids, &nids)) {
        free(text);
        free(ids);
        return 1;
    }
    if (!as_ids && !as_text && render_message(path, &mopt, &text, &len)) {
        free(text);
        return 1;
    }
    classifier *c;
    engine_err err;
    if (classifier_new(model, &opt, &c, &err)) {
        fprintf(stderr, "llmspam classify: %s\n", err.msg);
        free(text);
        free(ids);
        return 1;
    }
    if (cpu_isa_cap_error())
        fprintf(stderr, "llmspam classify: warning: %s\n", cpu_isa_cap_error());
    if (classifier_warnings(c)[0])
        fprintf(stderr, "llmspam classify: %s: warning: %s\n", model, classifier_warnings(c));
    classify_result r;
    engine_status st = as_ids ? classifier_classify_ids(c, ids, nids, 0, &r, &err)
                              : classifier_classify(c, text, len, 0, &r, &err);
    int rc = 0;
    if (st) {
        fprintf(stderr, "llmspam classify: %s: %s\n", path, err.msg);
        rc = 1;
    } else {
        const llama_config *cfg = classifier_config(c);
        if (json) {
            printf("{\"label\":");
            json_string(cfg->id2label[r.label]);
            printf(",\"score\":%.6g,\"probs\":{", r.spam_score);
            for (int i = 0; i < r.num_labels; i++) {
                printf(i ? "," : "");
                json_string(cfg->id2label[i]);
                printf(":%.6g", r.probs[i]);
            }
            printf("},\"logits\":[");
            for (int i = 0; i < r.num_labels; i++)
                printf("%s%.7g", i ? "," : "", r.logits[i]);
            printf("],\"tokens\":%d,\"ms\":%.1f,\"device\":", r.tokens, r.ms);
            json_string(classifier_device(c));
            printf(",\"cpu_path\":");
            json_string(classifier_cpu_path(c));
            printf("}\n");
        } else {
            printf("%s %.4f\n", cfg->id2label[r.label], r.spam_score);
            for (int i = 0; i < r.num_labels; i++)
                printf("  %-16s p=%.6f logit=%.6f\n", cfg->id2label[i], r.probs[i], r.logits[i]);
            printf("  tokens=%d ms=%.1f device=%s cpu_path=%s\n", r.tokens, r.ms, classifier_device(c),
                   classifier_cpu_path(c));
        }
    }
    classifier_free(c);
    free(text);
    free(ids);
    return rc;
}
