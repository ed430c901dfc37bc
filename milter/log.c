/*
 * log: syslog + optional stderr, fixed severities, queue id per message.
 */
#include "config.h"
#include "milter/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_ident = "llmspam-milter";
static bool log_syslog;
static bool log_stderr;
static atomic_int log_level = LOG_INFO;

void log_open(const char *ident, int facility, bool to_syslog, bool to_stderr, int level)
{
    log_ident = ident;
    log_syslog = to_syslog;
    log_stderr = to_stderr;
    atomic_store(&log_level, level);
    if (to_syslog)
        openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

void log_close(void)
{
    if (log_syslog)
        closelog();
    log_syslog = false;
}

void log_set_level(int level)
{
    atomic_store(&log_level, level);
}

int log_get_level(void)
{
    return atomic_load(&log_level);
}

const char *log_severity_name(int severity)
{
    switch (severity) {
    case LOG_EMERG:
    case LOG_ALERT:
    case LOG_CRIT:
    case LOG_ERR: return "err";
    case LOG_WARNING: return "warning";
    case LOG_NOTICE: return "notice";
    case LOG_INFO: return "info";
    default: return "debug";
    }
}

static void emit(int severity, const char *line)
{
    if (severity > atomic_load(&log_level))
        return;
    if (log_syslog)
        syslog(severity, "%s", line);
    if (log_stderr)
        fprintf(stderr, "%s[%ld]: %s: %s\n", log_ident, (long)getpid(),
                log_severity_name(severity), line);
}

void log_proc(int severity, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    emit(severity, line);
}

void log_msg(int severity, const char *qid, const char *fmt, ...)
{
    char line[2048], q[64];
    log_sanitize(q, sizeof q, qid && *qid ? qid : "NOQUEUE");
    int n = snprintf(line, sizeof line, "%s: ", q);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    emit(severity, line);
}

void log_sanitize(char *dst, size_t len, const char *src)
{
    size_t j = 0;
    if (len == 0)
        return;
    for (size_t i = 0; src && src[i] && j + 1 < len; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[j++] = (ch > ' ' && ch < 127) ? (char)ch : '?';
    }
    dst[j] = '\0';
}
