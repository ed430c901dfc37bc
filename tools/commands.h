/*
 * commands: the llmspam subcommands. Each lives in its own tools/cmd_NAME.c
 * and is listed once in the table in tools/llmspam.c. A command gets argv
 * with argv[0] = its name and returns the process exit status
 * (0 ok, 1 failure, 2 usage, as sysexits-minded tools do).
 */
#ifndef LLMSPAM_TOOLS_COMMANDS_H
#define LLMSPAM_TOOLS_COMMANDS_H

int cmd_version(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_mkmodel(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
/* llmspam bench --device: tools/bench_device.c */
int bench_device(const char *model_dir, const char *device, long tokens, long batch, long threads,
                 long runs, int json);

#endif
