/*
 * offline: `llmspam-milter -n` (check the config and the model) and
 * `llmspam-milter -t MESSAGE` (one message through the daemon's pipeline,
 * printed). Both print to stdout/stderr and return an exit status
 * (sysexits.h); the daemon's start-up is main.c.
 */
#ifndef LLMSPAM_MILTER_OFFLINE_H
#define LLMSPAM_MILTER_OFFLINE_H

/* -n: 0 when config and model are good, EX_CONFIG (78) otherwise. */
int offline_check(const char *cfgpath);

/* -t: 0, EX_CONFIG, EX_NOINPUT (no such message) or EX_SOFTWARE. */
int offline_test(const char *cfgpath, const char *msgpath);

#endif
