/*
 * test_milter_policy: the score -> action table and the failure actions,
 * for every mode, at and around each threshold.
 */
#include "config.h"

#include "milter/policy.h"
#include "t/lib/tap.h"

#define OFF MILTER_THRESHOLD_OFF

struct row {
    double tag, tempfail, reject;
    milter_mode mode;
    double score;
    policy_action action, verdict;
    bool headers, flag;
};

static const struct row rows[] = {
    /* enforce, full table: tag .5, tempfail .7, reject .9 */
    {.5, .7, .9, MILTER_MODE_ENFORCE, 0.00, POLICY_ACCEPT, POLICY_ACCEPT, true, false},
    {.5, .7, .9, MILTER_MODE_ENFORCE, 0.49, POLICY_ACCEPT, POLICY_ACCEPT, true, false},
    {.5, .7, .9, MILTER_MODE_ENFORCE, 0.50, POLICY_TAG, POLICY_TAG, true, true},
    {.5, .7, .9, MILTER_MODE_ENFORCE, 0.69, POLICY_TAG, POLICY_TAG, true, true},
    {.5, .7, .9, MILTER_MODE_ENFORCE, 0.70, POLICY_TEMPFAIL, POLICY_TEMPFAIL, false, false},
    {.5, .7, .9, MILTER_MODE_ENFORCE, 0.89, POLICY_TEMPFAIL, POLICY_TEMPFAIL, false, false},
    {.5, .7, .9, MILTER_MODE_ENFORCE, 0.90, POLICY_REJECT, POLICY_REJECT, false, false},
    {.5, .7, .9, MILTER_MODE_ENFORCE, 1.00, POLICY_REJECT, POLICY_REJECT, false, false},
    /* no tempfail band, no reject */
    {.5, OFF, OFF, MILTER_MODE_ENFORCE, 0.99, POLICY_TAG, POLICY_TAG, true, true},
    {.5, OFF, .8, MILTER_MODE_ENFORCE, 0.79, POLICY_TAG, POLICY_TAG, true, true},
    {.5, OFF, .8, MILTER_MODE_ENFORCE, 0.80, POLICY_REJECT, POLICY_REJECT, false, false},
    /* tempfail band open to the top when reject is off */
    {.5, .7, OFF, MILTER_MODE_ENFORCE, 1.00, POLICY_TEMPFAIL, POLICY_TEMPFAIL, false, false},
    /* tag mode: never reject nor tempfail */
    {.5, .7, .9, MILTER_MODE_TAG, 0.95, POLICY_TAG, POLICY_REJECT, true, true},
    {.5, .7, .9, MILTER_MODE_TAG, 0.75, POLICY_TAG, POLICY_TEMPFAIL, true, true},
    {.5, .7, .9, MILTER_MODE_TAG, 0.20, POLICY_ACCEPT, POLICY_ACCEPT, true, false},
    /* monitor mode: nothing changes, the verdict is still known */
    {.5, .7, .9, MILTER_MODE_MONITOR, 0.95, POLICY_ACCEPT, POLICY_REJECT, false, false},
    {.5, .7, .9, MILTER_MODE_MONITOR, 0.60, POLICY_ACCEPT, POLICY_TAG, false, false},
    {.5, .7, .9, MILTER_MODE_MONITOR, 0.10, POLICY_ACCEPT, POLICY_ACCEPT, false, false},
    /* tag at 0: everything is flagged */
    {0, OFF, OFF, MILTER_MODE_ENFORCE, 0.0, POLICY_TAG, POLICY_TAG, true, true},
};

struct frow {
    milter_mode mode;
    milter_failaction on;
    policy_action action;
    bool headers;
};

static const struct frow frows[] = {
    {MILTER_MODE_ENFORCE, MILTER_FAIL_ACCEPT, POLICY_ERROR, true},
    {MILTER_MODE_ENFORCE, MILTER_FAIL_TEMPFAIL, POLICY_TEMPFAIL, false},
    {MILTER_MODE_TAG, MILTER_FAIL_TEMPFAIL, POLICY_TEMPFAIL, false},
    {MILTER_MODE_MONITOR, MILTER_FAIL_TEMPFAIL, POLICY_ERROR, false},
    {MILTER_MODE_MONITOR, MILTER_FAIL_ACCEPT, POLICY_ERROR, false},
};

int main(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        policy p = {r->tag, r->tempfail, r->reject, r->mode, 0, 0, 0, MILTER_EMPTY_ACCEPT};
        policy_verdict v = policy_decide(&p, r->score);
        tap_ok(v.action == r->action && v.verdict == r->verdict && v.headers == r->headers &&
                   v.flag == r->flag,
               "%s score %.2f (tag %.2f tempfail %.2f reject %.2f) -> %s/%s headers=%d flag=%d",
               milter_mode_name(r->mode), r->score, r->tag, r->tempfail, r->reject,
               policy_action_name(v.action), policy_action_name(v.verdict), v.headers, v.flag);
    }
    /* every failure reason uses its own key */
    for (size_t i = 0; i < sizeof frows / sizeof frows[0]; i++) {
        const struct frow *f = &frows[i];
        for (int why = POLICY_FAIL_ERROR; why <= POLICY_FAIL_OVERLOAD; why++) {
            policy p = {.5, OFF, OFF, f->mode, MILTER_FAIL_ACCEPT, MILTER_FAIL_ACCEPT, MILTER_FAIL_ACCEPT,
                        MILTER_EMPTY_ACCEPT};
            if (why == POLICY_FAIL_ERROR)
                p.on_error = f->on;
            else if (why == POLICY_FAIL_TIMEOUT)
                p.on_timeout = f->on;
            else
                p.on_overload = f->on;
            policy_verdict v = policy_on_failure(&p, (policy_failure)why);
            tap_ok(v.action == f->action && v.headers == f->headers && !v.flag,
                   "%s on_%s=%s -> %s headers=%d", milter_mode_name(f->mode),
                   policy_failure_name((policy_failure)why), milter_failaction_name(f->on),
                   policy_action_name(v.action), v.headers);
        }
    }
    /* no text: empty_text, then the mode; never a score */
    static const struct erow {
        milter_mode mode;
        milter_emptyaction on;
        policy_action action, verdict;
        bool headers, flag;
    } erows[] = {
        {MILTER_MODE_ENFORCE, MILTER_EMPTY_ACCEPT, POLICY_ACCEPT, POLICY_ACCEPT, true, false},
        {MILTER_MODE_ENFORCE, MILTER_EMPTY_TAG, POLICY_TAG, POLICY_TAG, true, true},
        {MILTER_MODE_ENFORCE, MILTER_EMPTY_REJECT, POLICY_REJECT, POLICY_REJECT, false, false},
        {MILTER_MODE_TAG, MILTER_EMPTY_REJECT, POLICY_TAG, POLICY_REJECT, true, true},
        {MILTER_MODE_MONITOR, MILTER_EMPTY_TAG, POLICY_ACCEPT, POLICY_TAG, false, false},
    };
    for (size_t i = 0; i < sizeof erows / sizeof erows[0]; i++) {
        const struct erow *e = &erows[i];
        /* thresholds that any score would cross: they must not matter */
        policy p = {0, 0, 0, e->mode, MILTER_FAIL_ACCEPT, MILTER_FAIL_ACCEPT, MILTER_FAIL_ACCEPT, e->on};
        policy_verdict v = policy_on_empty(&p);
        tap_ok(v.action == e->action && v.verdict == e->verdict && v.headers == e->headers && v.flag == e->flag,
               "%s empty_text=%d -> %s/%s headers=%d flag=%d", milter_mode_name(e->mode), (int)e->on,
               policy_action_name(v.action), policy_action_name(v.verdict), v.headers, v.flag);
    }
    /* the defaults: on_overload tempfails, the others accept */
    milter_config *c = milter_config_defaults();
    policy p;
    policy_from_config(&p, c);
    tap_ok(policy_on_failure(&p, POLICY_FAIL_OVERLOAD).action == POLICY_TEMPFAIL, "default on_overload tempfails");
    tap_ok(policy_on_failure(&p, POLICY_FAIL_TIMEOUT).action == POLICY_ERROR, "default on_timeout accepts");
    tap_ok(policy_on_failure(&p, POLICY_FAIL_ERROR).action == POLICY_ERROR, "default on_error accepts");
    tap_ok(policy_on_empty(&p).action == POLICY_ACCEPT, "default empty_text accepts");
    milter_config_free(c);
    return tap_done();
}
