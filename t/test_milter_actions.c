/*
 * test_milter_actions: the list of changes a decision makes (what the eom
 * callback applies and -t prints): forged headers removed first, ours
 * added, the Subject changed or added, the reply split for smfi_setreply;
 * nothing at all in monitor mode; no Subject rewrite when it was not noted.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter/actions.h"
#include "t/lib/tap.h"

static void flagged(scan_result *r)
{
    memset(r, 0, sizeof *r);
    r->v.action = r->v.verdict = POLICY_TAG;
    r->v.headers = r->v.flag = r->v.spam = true;
    r->classified = true;
    headers_build(&r->headers, "X-Spam", 0.97, 0.5, true, "m", 12);
    r->rewrite_subject = true;
}

static char *printed(const actions_list *l)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    actions_print(l, f);
    fclose(f);
    return buf;
}

static void test_tag(void)
{
    scan_result r;
    flagged(&r);
    headers_spoof *sp = headers_spoof_new("X-Spam");
    headers_spoof_note(sp, "From");
    headers_spoof_note(sp, "X-Spam-Flag");
    headers_spoof_note(sp, "x-spam-flag");
    headers_spoof_note(sp, "Subject");
    actions_list *l = actions_build(&r, "[SPAM]", sp, " hello", false);
    tap_ok(l != NULL, "tag: a list");
    size_t n = actions_count(l);
    tap_ok(n == 2 + r.headers.n + 1, "tag: 2 removals, %zu headers, the Subject (%zu items)", r.headers.n, n);
    const actions_item *a = actions_get(l, 0), *b = actions_get(l, 1);
    tap_ok(a && b && a->kind == ACTIONS_REMOVE_HEADER && b->kind == ACTIONS_REMOVE_HEADER &&
               a->index == 2 && b->index == 1,
           "tag: the forged headers first, highest index first");
    tap_ok(actions_removed(l) == 2, "tag: two removals counted");
    const actions_item *h = actions_get(l, 2);
    tap_ok(h && h->kind == ACTIONS_ADD_HEADER && !strcmp(h->name, r.headers.h[0].name) &&
               !strcmp(h->value, r.headers.h[0].value),
           "tag: then ours, as headers_build made them");
    const actions_item *s = actions_get(l, n - 1);
    tap_ok(s && s->kind == ACTIONS_CHANGE_HEADER && !strcmp(s->name, "Subject") && s->index == 1 &&
               strstr(s->value, "[SPAM]") && strstr(s->value, "hello"),
           "tag: the Subject changed last: %s", s ? s->value : "(none)");
    tap_ok(actions_get(l, n) == NULL, "tag: nothing past the end");
    char *p = printed(l);
    const char *want = "remove header: X-Spam-Flag[2]\nremove header: X-Spam-Flag[1]\nadd header: X-Spam-";
    tap_ok(p && !strncmp(p, want, strlen(want)), "tag: printed as -t prints it");
    if (p && strncmp(p, want, strlen(want)))
        tap_diag("printed:\n%s", p);
    tap_ok(p && strstr(p, "\nchange header: Subject: [SPAM]"), "tag: the Subject line printed");
    free(p);
    actions_free(l);
    /* no Subject arrived: one is added */
    l = actions_build(&r, "[SPAM]", sp, NULL, false);
    s = actions_get(l, actions_count(l) - 1);
    tap_ok(s && s->kind == ACTIONS_ADD_HEADER && !strcmp(s->name, "Subject"), "tag without a Subject: one is added");
    actions_free(l);
    /* the Subject could not be noted: no rewrite, and it says so */
    l = actions_build(&r, "[SPAM]", sp, NULL, true);
    s = actions_get(l, actions_count(l) - 1);
    tap_ok(l && actions_subject_lost(l) && s && strcmp(s->name, "Subject"),
           "Subject not noted: no rewrite, actions_subject_lost");
    actions_free(l);
    headers_spoof_free(sp);
}

static void test_reply(void)
{
    scan_result r;
    flagged(&r);
    r.v.action = POLICY_REJECT;
    r.rewrite_subject = false;
    snprintf(r.reply, sizeof r.reply, "550 5.7.1 Message rejected as spam");
    actions_list *l = actions_build(&r, "", NULL, NULL, false);
    const actions_item *it = actions_get(l, actions_count(l) - 1);
    tap_ok(it && it->kind == ACTIONS_SET_REPLY && !strcmp(it->code, "550") && !strcmp(it->xcode, "5.7.1") &&
               !strcmp(it->value, "Message rejected as spam") && !strcmp(it->reply, r.reply),
           "reject: the reply last, split into code, enhanced code and text");
    char *p = printed(l);
    tap_ok(p && strstr(p, "\nreply: 550 5.7.1 Message rejected as spam\n"), "reject: printed as -t prints it");
    free(p);
    actions_free(l);
}

static void test_monitor(void)
{
    scan_result r;
    flagged(&r);
    r.v.action = POLICY_ACCEPT;
    r.v.headers = false; /* monitor: the mail is not changed at all */
    headers_spoof *sp = headers_spoof_new("X-Spam");
    headers_spoof_note(sp, "X-Spam-Flag");
    actions_list *l = actions_build(&r, "[SPAM]", sp, "x", false);
    tap_ok(l && actions_count(l) == 0 && actions_removed(l) == 0, "monitor: an empty list");
    actions_free(l);
    headers_spoof_free(sp);
    actions_free(NULL);
    tap_ok(actions_count(NULL) == 0 && actions_get(NULL, 0) == NULL, "NULL list: empty, freeing it harmless");
}

int main(void)
{
    test_tag();
    test_reply();
    test_monitor();
    return tap_done();
}
