/*
 * actions: scan result + noted headers -> the list of changes and the
 * reply, in the order the end-of-message callback applies them.
 */
#include "config.h"
#include "milter/actions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct actions_list {
    actions_item *v;
    size_t n, cap;
    bool subject_lost;
    size_t removed;
    char *subject;         /* the rewritten Subject, owned */
    char reply[512], reply_text[512];
};

/* "550 5.7.1 text" -> its three parts (buffers of 4, 16, len). */
static void split_reply(const char *reply, char code[4], char xcode[16], char *text, size_t len)
{
    /* llmspam_conf.c checked the shape: "DDD D.D.D text" */
    memcpy(code, reply, 3);
    code[3] = '\0';
    const char *x = reply + 4;
    size_t xn = strcspn(x, " ");
    if (xn > 15)
        xn = 15;
    memcpy(xcode, x, xn);
    xcode[xn] = '\0';
    const char *t = x + xn;
    while (*t == ' ')
        t++;
    snprintf(text, len, "%s", t);
}

static actions_item *push(actions_list *l, actions_kind kind)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        actions_item *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    actions_item *it = &l->v[l->n++];
    memset(it, 0, sizeof *it);
    it->kind = kind;
    return it;
}

actions_list *actions_build(const scan_result *r, const char *subject_prefix, headers_spoof *spoof,
                            const char *subject, bool subject_lost)
{
    actions_list *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    actions_item *it;
    if (r->v.headers) {
        /* forged look-alikes first, so that ours are the only ones left */
        for (size_t i = 0; spoof && i < headers_spoof_count(spoof); i++) {
            if (!(it = push(l, ACTIONS_REMOVE_HEADER)))
                goto oom;
            headers_spoof_get(spoof, i, &it->name, &it->index);
            l->removed++;
        }
        for (size_t i = 0; i < r->headers.n; i++) {
            if (!(it = push(l, ACTIONS_ADD_HEADER)))
                goto oom;
            it->name = r->headers.h[i].name;
            it->value = r->headers.h[i].value;
        }
        if (r->rewrite_subject && subject_lost) {
            l->subject_lost = true; /* a rewrite would add a second Subject */
        } else if (r->rewrite_subject) {
            if (!(l->subject = headers_subject_rewrite(subject_prefix, subject)) ||
                !(it = push(l, subject ? ACTIONS_CHANGE_HEADER : ACTIONS_ADD_HEADER)))
                goto oom;
            it->name = "Subject";
            it->index = 1;
            it->value = l->subject;
        }
    }
    if ((r->v.action == POLICY_REJECT || r->v.action == POLICY_TEMPFAIL) && r->reply[0]) {
        if (!(it = push(l, ACTIONS_SET_REPLY)))
            goto oom;
        snprintf(l->reply, sizeof l->reply, "%s", r->reply);
        split_reply(l->reply, it->code, it->xcode, l->reply_text, sizeof l->reply_text);
        it->reply = l->reply;
        it->value = l->reply_text;
    }
    return l;
oom:
    actions_free(l);
    return NULL;
}

void actions_free(actions_list *l)
{
    if (!l)
        return;
    free(l->v);
    free(l->subject);
    free(l);
}

size_t actions_count(const actions_list *l)
{
    return l ? l->n : 0;
}

const actions_item *actions_get(const actions_list *l, size_t i)
{
    return l && i < l->n ? &l->v[i] : NULL;
}

size_t actions_removed(const actions_list *l)
{
    return l ? l->removed : 0;
}

bool actions_subject_lost(const actions_list *l)
{
    return l && l->subject_lost;
}

void actions_print(const actions_list *l, FILE *out)
{
    for (size_t i = 0; i < actions_count(l); i++) {
        const actions_item *it = &l->v[i];
        switch (it->kind) {
        case ACTIONS_REMOVE_HEADER:
            fprintf(out, "remove header: %s[%d]\n", it->name, it->index);
            break;
        case ACTIONS_ADD_HEADER:
            fprintf(out, "add header: %s: %s\n", it->name, it->value);
            break;
        case ACTIONS_CHANGE_HEADER:
            fprintf(out, "change header: %s: %s\n", it->name, it->value);
            break;
        case ACTIONS_SET_REPLY:
            fprintf(out, "reply: %s\n", it->reply);
            break;
        }
    }
}
