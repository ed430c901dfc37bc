/*
 * scan: render, classify, decide; and the summary line.
 */
#include "config.h"
#include "milter/scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "milter/log.h"
#include "mime/render.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void fail(const runtime *rt, scan_result *out, policy_failure why, const char *detail)
{
    const milter_config *c = runtime_config(rt);
    out->v = policy_on_failure(runtime_policy(rt), why);
    out->reason = policy_failure_name(why);
    snprintf(out->detail, sizeof out->detail, "%s", detail ? detail : "");
    if (out->v.headers)
        headers_build_unclassified(&out->headers, c->header_prefix, out->reason);
    if (out->v.action == POLICY_TEMPFAIL)
        snprintf(out->reply, sizeof out->reply, "%s", c->tempfail_reply);
}

/* No text: the model would read BOS alone, and its score for that says
 * nothing about the message; empty_text decides instead. */
static void empty(const runtime *rt, scan_result *out)
{
    const milter_config *c = runtime_config(rt);
    out->v = policy_on_empty(runtime_policy(rt));
    out->reason = "empty";
    if (out->v.headers)
        headers_build_unscored(&out->headers, c->header_prefix, out->reason, out->v.flag);
    out->rewrite_subject = out->v.flag && c->subject_prefix[0];
    if (out->v.action == POLICY_REJECT)
        snprintf(out->reply, sizeof out->reply, "%s", c->reject_reply);
}

void scan_message(const runtime *rt, const char *raw, size_t len, bool cut, scan_result *out)
{
    const milter_config *c = runtime_config(rt);
    memset(out, 0, sizeof *out);
    double t0 = now_ms();

    mime_options mo;
    mime_options_default(&mo);
    mo.headers = c->render_headers;
    mo.max_text_bytes = (size_t)c->max_text_bytes;
    mo.cut = cut;
    char *text = NULL;
    size_t tlen = 0;
    engine_err err = {{0}};
    engine_status st = mime_render(raw, len, &mo, &text, &tlen, &out->render, &err);
    if (st != ENGINE_OK) {
        out->ms = now_ms() - t0;
        fail(rt, out, POLICY_FAIL_ERROR, err.msg[0] ? err.msg : engine_status_name(st));
        return;
    }
    if (tlen == 0) {
        free(text);
        out->ms = now_ms() - t0;
        empty(rt, out);
        return;
    }
    classify_result res;
    memset(&res, 0, sizeof res);
    st = classifier_classify(runtime_classifier(rt), text, tlen, c->classify_timeout * 1000.0, &res, &err);
    free(text);
    out->ms = now_ms() - t0;
    if (st != ENGINE_OK) {
        policy_failure why = st == ENGINE_ERR_TIMEOUT    ? POLICY_FAIL_TIMEOUT
                             : st == ENGINE_ERR_OVERLOAD ? POLICY_FAIL_OVERLOAD
                                                         : POLICY_FAIL_ERROR;
        fail(rt, out, why, err.msg[0] ? err.msg : engine_status_name(st));
        return;
    }
    out->classified = true;
    out->score = res.spam_score;
    out->tokens = res.tokens;
    const llama_config *lc = classifier_config(runtime_classifier(rt));
    if (lc && res.label >= 0 && res.label < lc->num_labels)
        snprintf(out->label, sizeof out->label, "%s", lc->id2label[res.label]);
    out->v = policy_decide(runtime_policy(rt), out->score);
    if (out->v.headers)
        headers_build(&out->headers, c->header_prefix, out->score, c->tag_threshold, out->v.flag,
                      runtime_model_name(rt), out->tokens);
    out->rewrite_subject = out->v.flag && c->subject_prefix[0];
    if (out->v.action == POLICY_REJECT)
        snprintf(out->reply, sizeof out->reply, "%s", c->reject_reply);
    else if (out->v.action == POLICY_TEMPFAIL)
        snprintf(out->reply, sizeof out->reply, "%s", c->tempfail_reply);
}

void scan_refuse(scan_result *out, policy_action action, const char *reason)
{
    memset(out, 0, sizeof *out);
    out->v.action = out->v.verdict = action;
    out->reason = reason;
}

void scan_skip(scan_result *out, const char *reason)
{
    scan_refuse(out, POLICY_SKIP, reason);
}

void scan_summary(const scan_result *r, const scan_envelope *env, const policy *p,
                  char *buf, size_t len)
{
    char from[300], ip[80];
    log_sanitize(from, sizeof from, env && env->from ? env->from : "");
    log_sanitize(ip, sizeof ip, env && env->ip ? env->ip : "");
    size_t off = 0;
#define ADD(...)                                                              \
    do {                                                                      \
        if (off < len) {                                                      \
            int n_ = snprintf(buf + off, len - off, __VA_ARGS__);             \
            off += n_ > 0 ? (size_t)n_ : 0;                                   \
        }                                                                     \
    } while (0)
    ADD("action=%s", policy_action_name(r->v.action));
    if (r->reason)
        ADD(" reason=%s", r->reason);
    /* a verdict the mode did not carry out, failures' (on_error, on_timeout) too */
    if (r->v.verdict != r->v.action)
        ADD(" verdict=%s mode=%s", policy_action_name(r->v.verdict), milter_mode_name(p ? (int)p->mode : 0));
    if (r->classified) {
        ADD(" label=%s score=%.3f tokens=%d", r->label[0] ? r->label : "?", r->score, r->tokens);
        /* what an admin investigating a verdict wants to know about the text */
        if (r->render.html_only)
            ADD(" html_only=yes");
        if (r->render.truncated)
            ADD(" text_truncated=yes");
        if (r->render.depth_exceeded || r->render.parts_exceeded)
            ADD(" mime_bounds=exceeded");
        if (r->render.parse_defects)
            ADD(" mime_defects=%u", r->render.parse_defects);
    }
    if (r->v.action != POLICY_SKIP)
        ADD(" ms=%.0f", r->ms);
    if (env) {
        ADD(" size=%zu", env->size);
        if (env->truncated)
            ADD(" truncated=yes");
        /* MAIL FROM arrives as "<a@b>" (or bare): print it as <a@b> */
        char *f = from;
        size_t fn = strlen(f);
        if (fn >= 2 && f[0] == '<' && f[fn - 1] == '>') {
            f[fn - 1] = '\0';
            f++;
        }
        ADD(" from=<%s> ip=%s", f, ip[0] ? ip : "unknown");
    }
#undef ADD
}
