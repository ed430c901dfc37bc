/*
 * tap: a minimal Test Anything Protocol emitter for the C unit tests.
 * Tests call tap_ok() per check and return tap_done() from main(); the plan
 * is printed at the end, so table-driven tests need not count in advance.
 * tap_skip_all() ends the program with exit 77 and a SKIP plan.
 */
#ifndef LLMSPAM_TAP_H
#define LLMSPAM_TAP_H

#include <stdbool.h>

/* Record one check; returns cond so callers can chain diagnostics. */
bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A diagnostic line ("# ..."), shown in the test log. */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Skip one check with a reason (counts as passed for the plan). */
void tap_skip(const char *reason);
/* Skip the whole test program: prints "1..0 # SKIP reason" and exits 77. */
_Noreturn void tap_skip_all(const char *reason);
/* Print the plan; returns the exit status for main(): 0, or 1 on any failure. */
int tap_done(void);

#endif
