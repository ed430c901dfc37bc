/*
 * llmspam: the command line. Dispatches "llmspam COMMAND ..." to the
 * cmd_COMMAND function of tools/cmd_COMMAND.c; see llmspam(1).
 */
#include "config.h"
#include "tools/commands.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"version", cmd_version, "print the version"},
    {"extract", cmd_extract, "print the rendering of messages (the text the model reads)"},
    {"classify", cmd_classify, "classify a text (or token ids) with a model"},
    {"eval", cmd_eval, "score labelled mail: metrics, ROC AUC and thresholds"},
    {"bench", cmd_bench, "measure the forward pass against the machine's bf16 peak"},
    {"tokenize", cmd_tokenize, "print the token ids of texts (JSON lines in and out)"},
    {"mkmodel", cmd_mkmodel, "write a checkpoint with deterministic random weights"},
    {"learn", cmd_learn, "store misfiled mail with its label for the next training"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: llmspam COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nSee llmspam(1).\n");
}

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("llmspam %s\n", PACKAGE_VERSION);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))
        return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "llmspam: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
