/*
 * policy: the decision table. A spam score (or a failure to get one) and
 * the configured thresholds and mode give exactly one action. Pure
 * functions, no I/O: the callbacks apply the action, the log reports it.
 *
 *   enforce: score >= reject_threshold              -> reject (5xx)
 *            score >= tempfail_threshold (and under
 *            reject_threshold)                      -> tempfail (4xx)
 *            score >= tag_threshold                 -> tag (X-Spam-Flag: YES)
 *            otherwise                              -> accept (headers, Flag absent)
 *   tag:     reject and tempfail become tag.
 *   monitor: every verdict becomes accept without any header change; the
 *            log still shows the verdict enforce would have given.
 *   no text: empty_text (accept, tag, reject) instead of a score.
 *
 * No path discards mail: there is no "discard" action at all.
 */
#ifndef LLMSPAM_MILTER_POLICY_H
#define LLMSPAM_MILTER_POLICY_H

#include <stdbool.h>

#include "milter/llmspam_conf.h"

typedef enum policy_action {
    POLICY_ACCEPT,   /* deliver (with our headers unless monitor) */
    POLICY_TAG,      /* deliver flagged as spam */
    POLICY_TEMPFAIL, /* 4xx */
    POLICY_REJECT,   /* 5xx */
    POLICY_SKIP,     /* not scanned on purpose (trusted, authenticated) */
    POLICY_ERROR     /* not scanned because something failed */
} policy_action;

/* Why a message was skipped or not classified (POLICY_SKIP, POLICY_ERROR). */
typedef enum policy_failure {
    POLICY_FAIL_ERROR,    /* extraction or engine error */
    POLICY_FAIL_TIMEOUT,  /* classify_timeout passed */
    POLICY_FAIL_OVERLOAD  /* the engine queue was full */
} policy_failure;

typedef struct policy {
    double tag;        /* tag_threshold */
    double tempfail;   /* MILTER_THRESHOLD_OFF or 0..1 */
    double reject;     /* MILTER_THRESHOLD_OFF or 0..1 */
    milter_mode mode;
    milter_failaction on_error, on_timeout, on_overload;
    milter_emptyaction on_empty; /* empty_text */
} policy;

typedef struct policy_verdict {
    policy_action action;   /* what is done to the mail */
    policy_action verdict;  /* what enforce mode would do (== action there) */
    bool spam;              /* score >= tag threshold */
    bool headers;           /* add our headers (false in monitor mode) */
    bool flag;              /* X-Spam-Flag: YES and the subject rewrite */
} policy_verdict;

/* The policy of a config (copies the numbers). */
void policy_from_config(policy *p, const milter_config *c);

/* A classified message. */
policy_verdict policy_decide(const policy *p, double score);

/* A message that could not be classified: on_error / on_timeout /
 * on_overload -> accept (action POLICY_ERROR, with the "not classified"
 * header unless monitor) or tempfail. */
policy_verdict policy_on_failure(const policy *p, policy_failure why);

/* A message with no text to classify: empty_text gives the verdict
 * (accept, tag or reject: never a score), then the mode applies as for a
 * score (tag: reject becomes tag; monitor: accept, no headers). */
policy_verdict policy_on_empty(const policy *p);

/* "accept", "tag", "tempfail", "reject", "skip", "error". */
const char *policy_action_name(policy_action a);
/* "error", "timeout", "overload". */
const char *policy_failure_name(policy_failure f);

#endif
