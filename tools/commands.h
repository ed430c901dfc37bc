/*
 * commands: the llmspam subcommands. Each lives in its own tools/cmd_NAME.c
 * and is listed once in the table in tools/llmspam.c. A command gets argv
 * with argv[0] = its name and returns the process exit status
 * (0 ok, 1 failure, 2 usage, as sysexits-minded tools do).
 */
#ifndef LLMSPAM_TOOLS_COMMANDS_H
#define LLMSPAM_TOOLS_COMMANDS_H

#include <stdint.h>

int cmd_version(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_mkmodel(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_learn(int argc, char **argv);
/* llmspam bench --device: tools/bench_device.c */
struct llama_config;
/* The deterministic pseudo-random ids of benchmark message m (m = -1: the
 * CPU bench's one message), BOS first where the vocabulary has it; pad ids
 * are avoided so the whole message is pooled over. */
void bench_message_ids(const struct llama_config *cfg, long m, long tokens, int32_t *ids);
/* Timings (tools/bench_device.c): sort n of them ascending; the q-quantile
 * (0..1) of a sorted set, nearest rank (q 0.5: the median, p50). */
void bench_sort_times(double *v, int n);
double bench_quantile(const double *sorted, int n, double q);
int bench_device(const char *model_dir, const char *device, long tokens, long batch, long threads,
                 long runs, int json);

#endif
