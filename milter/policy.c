/*
 * policy: score -> action, and failure -> action. See policy.h for the
 * table; this file is that table and nothing else.
 */
#include "config.h"
#include "milter/policy.h"

void policy_from_config(policy *p, const milter_config *c)
{
    p->tag = c->tag_threshold;
    p->tempfail = c->tempfail_threshold;
    p->reject = c->reject_threshold;
    p->mode = (milter_mode)c->mode;
    p->on_error = (milter_failaction)c->on_error;
    p->on_timeout = (milter_failaction)c->on_timeout;
    p->on_overload = (milter_failaction)c->on_overload;
    p->on_empty = (milter_emptyaction)c->empty_text;
}

static policy_verdict with_mode(const policy *p, policy_verdict v);

policy_verdict policy_decide(const policy *p, double score)
{
    policy_verdict v = {0};
    v.spam = score >= p->tag;
    if (p->reject >= 0 && score >= p->reject)
        v.verdict = POLICY_REJECT;
    else if (p->tempfail >= 0 && score >= p->tempfail)
        v.verdict = POLICY_TEMPFAIL;
    else if (v.spam)
        v.verdict = POLICY_TAG;
    else
        v.verdict = POLICY_ACCEPT;
    return with_mode(p, v);
}

policy_verdict policy_on_empty(const policy *p)
{
    policy_verdict v = {0};
    v.verdict = p->on_empty == MILTER_EMPTY_REJECT ? POLICY_REJECT
                : p->on_empty == MILTER_EMPTY_TAG  ? POLICY_TAG
                                                   : POLICY_ACCEPT;
    v.spam = v.verdict != POLICY_ACCEPT;
    return with_mode(p, v);
}

/* The mode turns the verdict into the action. */
static policy_verdict with_mode(const policy *p, policy_verdict v)
{
    switch (p->mode) {
    case MILTER_MODE_ENFORCE:
        v.action = v.verdict;
        break;
    case MILTER_MODE_TAG:
        v.action = v.spam ? POLICY_TAG : POLICY_ACCEPT;
        break;
    case MILTER_MODE_MONITOR:
        v.action = POLICY_ACCEPT;
        break;
    }
    v.headers = p->mode != MILTER_MODE_MONITOR &&
                (v.action == POLICY_ACCEPT || v.action == POLICY_TAG);
    v.flag = v.headers && v.spam;
    return v;
}

policy_verdict policy_on_failure(const policy *p, policy_failure why)
{
    policy_verdict v = {0};
    milter_failaction fa = why == POLICY_FAIL_TIMEOUT ? p->on_timeout
                           : why == POLICY_FAIL_OVERLOAD ? p->on_overload
                                                         : p->on_error;
    v.verdict = fa == MILTER_FAIL_TEMPFAIL ? POLICY_TEMPFAIL : POLICY_ERROR;
    /* monitor mode never changes mail, failures included */
    v.action = p->mode == MILTER_MODE_MONITOR ? POLICY_ERROR : v.verdict;
    v.headers = v.action == POLICY_ERROR && p->mode != MILTER_MODE_MONITOR;
    return v;
}

const char *policy_action_name(policy_action a)
{
    switch (a) {
    case POLICY_ACCEPT: return "accept";
    case POLICY_TAG: return "tag";
    case POLICY_TEMPFAIL: return "tempfail";
    case POLICY_REJECT: return "reject";
    case POLICY_SKIP: return "skip";
    case POLICY_ERROR: return "error";
    }
    return "?";
}

const char *policy_failure_name(policy_failure f)
{
    switch (f) {
    case POLICY_FAIL_ERROR: return "error";
    case POLICY_FAIL_TIMEOUT: return "timeout";
    case POLICY_FAIL_OVERLOAD: return "overload";
    }
    return "?";
}
