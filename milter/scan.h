/*
 * scan: one message through the whole pipeline: raw bytes -> mime_render()
 * -> classifier -> policy -> the headers to add and the SMTP reply; and the
 * message's one key=value summary line. The eom callback and the offline
 * `llmspam-milter -t` both call scan_message(), so a test of -t tests what
 * the daemon does.
 *
 * Security: the message is untrusted; it is bounded by the caller
 * (max_message_bytes) and by mime_render's own limits. Every failure maps
 * to on_error / on_timeout / on_overload; nothing is dropped.
 *
 * Ownership: scan_result is a caller-owned value; it borrows nothing.
 */
#ifndef LLMSPAM_MILTER_SCAN_H
#define LLMSPAM_MILTER_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/llama_config.h"
#include "milter/headers.h"
#include "mime/render.h"
#include "milter/policy.h"
#include "milter/runtime.h"

typedef struct scan_result {
    policy_verdict v;          /* v.action is what happens to the mail */
    const char *reason;        /* skip/error/failure reason, or NULL */
    bool classified;
    double score;              /* spam probability (classified only) */
    char label[LLAMA_LABEL_MAX]; /* argmax label name */
    int tokens;
    double ms;                 /* render + classify, queueing included */
    headers_set headers;       /* to add (empty unless v.headers) */
    bool rewrite_subject;      /* flagged and subject_prefix set */
    char reply[512];           /* "550 5.7.1 text" for reject/tempfail, else "" */
    char detail[256];          /* the error message behind a failure */
    mime_flags render;         /* what the rendering noticed (logged when notable) */
} scan_result;

/* The message and where it came from, for the summary line. */
typedef struct scan_envelope {
    const char *from;          /* MAIL FROM, as the MTA gave it (may be NULL) */
    const char *ip;            /* client address (may be NULL) */
    size_t size;               /* bytes the MTA sent (headers + body) */
    bool truncated;            /* scanned on a prefix of max_message_bytes */
} scan_envelope;

/* Classify raw[0..len) under rt and decide; cut: raw is the first
 * max_message_bytes of a longer message (mime_options.cut). Never fails: a
 * failure is a result (v.action tempfail or error, with reason). A message
 * whose rendering is empty never reaches the model: empty_text decides
 * (reason "empty"). */
void scan_message(const runtime *rt, const char *raw, size_t len, bool cut, scan_result *out);

/* A message not scanned on purpose (reason "trusted", "authenticated"). */
void scan_skip(scan_result *out, const char *reason);

/* A message refused before it was collected (POLICY_TEMPFAIL, reason
 * "shutdown"): no headers, the MTA's own reply. */
void scan_refuse(scan_result *out, policy_action action, const char *reason);

/* "action=tag label=spam score=0.973 tokens=412 ms=38 size=5120
 * from=<a@b> ip=192.0.2.1" (+ verdict=, reason=, truncated=yes, and
 * html_only=yes, text_truncated=yes, mime_bounds=exceeded, mime_defects=N
 * where the rendering noticed them). */
void scan_summary(const scan_result *r, const scan_envelope *env, const policy *p,
                  char *buf, size_t len);


#endif
