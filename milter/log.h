/*
 * log: the daemon's one logging module. Fixed severities (err, warning,
 * notice, info, debug = syslog's), syslog always except in offline modes,
 * stderr as well with -f. Every line about a message starts with its queue
 * id ("QUEUEID: ..."), and each message gets one key=value summary line
 * (scan.h formats it) at info.
 *
 * Security: text from the message (addresses, the queue id an MTA sends)
 * is passed through log_sanitize() by callers before it is logged, so a
 * client cannot inject fake log lines with CR/LF or control characters.
 *
 * Thread-safe: any thread may log; the level may change at reload.
 */
#ifndef LLMSPAM_MILTER_LOG_H
#define LLMSPAM_MILTER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* ident: program name (borrowed for the life of the process). */
void log_open(const char *ident, int facility, bool to_syslog, bool to_stderr, int level);
void log_close(void);
void log_set_level(int level);
int log_get_level(void);

/* A process-wide line (start-up, reload, shutdown). */
void log_proc(int severity, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line about one message: "QID: ...". qid NULL or "" prints "NOQUEUE". */
void log_msg(int severity, const char *qid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copy src into dst (len bytes, NUL included) replacing control characters,
 * blanks and non-ASCII bytes with '?', so one value stays one token. */
void log_sanitize(char *dst, size_t len, const char *src);

/* "err", "warning", ... */
const char *log_severity_name(int severity);

#endif
