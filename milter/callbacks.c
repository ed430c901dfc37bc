/*
 * callbacks: libmilter glue. Protocol steps asked for in negotiate: connect,
 * MAIL FROM, headers, end of headers, body, end of message, abort, close;
 * with no reply per header, and SMFIS_SKIP once
 * the buffer is full when the MTA supports it.
 */
#include "config.h"
#include "milter/callbacks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <libmilter/mfapi.h>

#include "milter/actions.h"
#include "milter/cidr.h"
#include "milter/headers.h"
#include "milter/learnstore.h"
#include "milter/log.h"
#include "milter/metrics.h"
#include "milter/msgbuf.h"
#include "milter/runtime.h"
#include "milter/scan.h"

typedef struct session {
    /* connection */
    unsigned long proto;     /* negotiated protocol flags */
    char ip[64];
    bool have_addr;
    struct sockaddr_storage addr;
    /* message (reset by msg_reset) */
    runtime *rt;
    msgbuf *mb;
    headers_spoof *spoof;
    char *subject;           /* first Subject value */
    bool subject_lost;       /* strdup of the Subject failed: no rewrite */
    char from[256];
    const char *skip;        /* skip reason or NULL */
    const char *refuse;      /* why the message is tempfailed at its end, or NULL */
    bool in_message;
} session;

static session *get(SMFICTX *ctx)
{
    return smfi_getpriv(ctx);
}

static void msg_reset(session *s)
{
    msgbuf_free(s->mb);
    headers_spoof_free(s->spoof);
    free(s->subject);
    runtime_release(s->rt);
    s->mb = NULL;
    s->spoof = NULL;
    s->subject = NULL;
    s->subject_lost = false;
    s->rt = NULL;
    s->skip = NULL;
    s->refuse = NULL;
    s->from[0] = '\0';
    s->in_message = false;
}

static const char *qid(SMFICTX *ctx)
{
    const char *q = smfi_getsymval(ctx, "{i}");
    if (!q)
        q = smfi_getsymval(ctx, "i");
    return q;
}

static session *ensure(SMFICTX *ctx)
{
    session *s = get(ctx);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return NULL;
        smfi_setpriv(ctx, s);
    }
    return s;
}

static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
    (void)f2;
    (void)f3;
    session *s = ensure(ctx);
    if (!s)
        return SMFIS_TEMPFAIL;
    unsigned long need = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
    if ((f0 & need) != need) {
        log_proc(LOG_ERR, "the MTA does not allow adding and changing headers (actions 0x%lx)", f0);
        return SMFIS_REJECT;
    }
    *pf0 = need;
    if (f0 & SMFIF_SETSYMLIST) {
        *pf0 |= SMFIF_SETSYMLIST;
        smfi_setsymlist(ctx, SMFIM_ENVFROM, "{auth_authen} {i}");
        smfi_setsymlist(ctx, SMFIM_EOH, "{i}");
        smfi_setsymlist(ctx, SMFIM_EOM, "{i}");
    }
    /* steps we do not need, and no reply per header (always "continue");
     * connect and MAIL keep their replies: MAIL can tempfail (shutdown) */
    unsigned long want = SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NOUNKNOWN | SMFIP_NODATA |
                         SMFIP_NR_HDR | SMFIP_SKIP;
    s->proto = f1 & want;
    *pf1 = s->proto;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

static sfsistat reply_continue(const session *s, unsigned long noreply_flag)
{
    return (s->proto & noreply_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    (void)host;
    session *s = ensure(ctx);
    if (!s)
        return SMFIS_TEMPFAIL;
    s->ip[0] = '\0';
    s->have_addr = false;
    if (sa && sa->sa_family == AF_INET) {
        memcpy(&s->addr, sa, sizeof(struct sockaddr_in));
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, s->ip, sizeof s->ip);
        s->have_addr = true;
    } else if (sa && sa->sa_family == AF_INET6) {
        memcpy(&s->addr, sa, sizeof(struct sockaddr_in6));
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr, s->ip, sizeof s->ip);
        s->have_addr = true;
    }
    return SMFIS_CONTINUE;
}

static void log_result(SMFICTX *ctx, session *s, const scan_result *r)
{
    char line[1024];
    scan_envelope env = {s->from, s->ip, s->mb ? msgbuf_seen(s->mb) : 0,
                         s->mb ? msgbuf_truncated(s->mb) : false};
    scan_summary(r, &env, s->rt ? runtime_policy(s->rt) : NULL, line, sizeof line);
    log_msg(LOG_INFO, qid(ctx), "%s", line);
    if (r->detail[0])
        log_msg(LOG_WARNING, qid(ctx), "not classified: %s", r->detail);
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
    session *s = get(ctx);
    if (!s)
        return SMFIS_TEMPFAIL;
    msg_reset(s);
    s->in_message = true;
    s->rt = runtime_acquire();
    if (!s->rt) { /* shutting down: let the MTA retry */
        scan_result r;
        scan_refuse(&r, POLICY_TEMPFAIL, "shutdown");
        snprintf(s->from, sizeof s->from, "%s", argv && argv[0] ? argv[0] : "");
        log_result(ctx, s, &r);
        s->from[0] = '\0';
        s->in_message = false;
        return SMFIS_TEMPFAIL;
    }
    const milter_config *c = runtime_config(s->rt);
    snprintf(s->from, sizeof s->from, "%s", argv && argv[0] ? argv[0] : "");
    const char *auth = smfi_getsymval(ctx, "{auth_authen}");
    if (s->have_addr && cidr_list_match(runtime_trusted(s->rt), (struct sockaddr *)&s->addr))
        s->skip = "trusted";
    else if (c->skip_authenticated && auth && *auth)
        s->skip = "authenticated";
    if (!s->skip) {
        s->mb = msgbuf_new((size_t)c->max_message_bytes);
        s->spoof = headers_spoof_new(c->header_prefix);
        if (!s->mb || !s->spoof) {
            log_msg(LOG_ERR, qid(ctx), "out of memory for a new message");
            msg_reset(s);
            return SMFIS_TEMPFAIL;
        }
    }
    return SMFIS_CONTINUE;
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
    session *s = get(ctx);
    if (!s || !s->mb)
        return s ? reply_continue(s, SMFIP_NR_HDR) : SMFIS_CONTINUE;
    /* every header is noted for spoof removal, past the size cap too; one
     * that cannot be removed must not reach the mailbox, so the message is
     * tempfailed, at its end: the MTA may not be reading replies to headers
     * (SMFIP_NR_HDR) */
    if (!headers_spoof_note(s->spoof, name) && !s->refuse) {
        bool over = headers_spoof_overflow(s->spoof);
        s->refuse = over ? "forged_headers" : "nomem";
        if (over)
            log_msg(LOG_WARNING, qid(ctx), "more than %d %s-* headers arrived", HEADERS_SPOOF_MAX,
                    runtime_config(s->rt)->header_prefix);
        else
            log_msg(LOG_WARNING, qid(ctx), "out of memory noting the headers");
    }
    if (!s->subject && !s->subject_lost && !strcasecmp(name, "Subject")) {
        s->subject = strdup(value);
        /* without it a rewrite would add a second Subject: skip the rewrite */
        s->subject_lost = !s->subject;
    }
    msgbuf_add_header(s->mb, name, value);
    return reply_continue(s, SMFIP_NR_HDR);
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
    session *s = get(ctx);
    if (!s || !s->rt)
        return SMFIS_CONTINUE;
    if (s->skip) {
        scan_result r;
        scan_skip(&r, s->skip);
        metrics_message(&r, -1);
        log_result(ctx, s, &r);
        msg_reset(s);
        return SMFIS_ACCEPT;
    }
    msgbuf_end_headers(s->mb);
    return SMFIS_CONTINUE;
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    session *s = get(ctx);
    if (!s || !s->mb)
        return SMFIS_CONTINUE;
    bool more = msgbuf_add_body(s->mb, chunk, len);
    /* once full, the MTA may skip the rest; sizes past that point are
     * then unknown, so size= is what was seen */
    if (!more && (s->proto & SMFIP_SKIP))
        return SMFIS_SKIP;
    return SMFIS_CONTINUE;
}

/* Apply the decision's list of actions (actions.h) to the message;
 * returns the reply for eom. */
static sfsistat apply(SMFICTX *ctx, session *s, scan_result *r)
{
    const milter_config *c = runtime_config(s->rt);
    actions_list *l = actions_build(r, c->subject_prefix, s->spoof, s->subject, s->subject_lost);
    if (!l)
        log_msg(LOG_WARNING, qid(ctx), "out of memory listing the header changes: none applied");
    for (size_t i = 0; i < actions_count(l); i++) {
        const actions_item *it = actions_get(l, i);
        char n[HEADERS_NAME_MAX];
        switch (it->kind) {
        case ACTIONS_REMOVE_HEADER:
            if (smfi_chgheader(ctx, (char *)it->name, it->index, NULL) != MI_SUCCESS) {
                log_sanitize(n, sizeof n, it->name);
                log_msg(LOG_WARNING, qid(ctx), "could not remove forged header %s", n);
            }
            break;
        case ACTIONS_ADD_HEADER:
            if (smfi_addheader(ctx, (char *)it->name, (char *)it->value) != MI_SUCCESS) {
                if (!strcmp(it->name, "Subject"))
                    log_msg(LOG_WARNING, qid(ctx), "could not rewrite the Subject");
                else
                    log_msg(LOG_WARNING, qid(ctx), "could not add header %s", it->name);
            }
            break;
        case ACTIONS_CHANGE_HEADER:
            if (smfi_chgheader(ctx, (char *)it->name, it->index, (char *)it->value) != MI_SUCCESS)
                log_msg(LOG_WARNING, qid(ctx), "could not rewrite the Subject");
            break;
        case ACTIONS_SET_REPLY:
            if (smfi_setreply(ctx, (char *)it->code, (char *)it->xcode, (char *)it->value) != MI_SUCCESS)
                log_msg(LOG_WARNING, qid(ctx), "could not set the reply %s", it->reply);
            break;
        }
    }
    if (actions_removed(l))
        log_msg(LOG_NOTICE, qid(ctx), "removed %zu arriving %s-* header(s)", actions_removed(l),
                c->header_prefix);
    if (actions_subject_lost(l))
        log_msg(LOG_WARNING, qid(ctx), "out of memory noting the Subject: not rewritten");
    actions_free(l);
    if (r->v.action == POLICY_REJECT || r->v.action == POLICY_TEMPFAIL)
        return r->v.action == POLICY_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
    return SMFIS_CONTINUE;
}

/* keep_recent: a copy of delivered mail under an id that the added
 * PREFIX-Id header carries, for "llmspam learn --id". */
static void keep_recent(SMFICTX *ctx, session *s, const scan_result *r)
{
    const milter_config *c = runtime_config(s->rt);
    if (c->keep_recent <= 0 || !r->v.headers ||
        (r->v.action != POLICY_ACCEPT && r->v.action != POLICY_TAG && r->v.action != POLICY_ERROR))
        return;
    char id[LEARNSTORE_ID_LEN + 1], err[512], name[HEADERS_NAME_MAX + 8];
    learnstore_new_id(id);
    if (learnstore_keep_recent(c->learn_dir, id, msgbuf_data(s->mb), msgbuf_len(s->mb), c->keep_recent,
                               c->keep_recent_age, err, sizeof err) < 0) {
        log_msg(LOG_WARNING, qid(ctx), "keep_recent: %s", err);
        return;
    }
    snprintf(name, sizeof name, "%s-Id", c->header_prefix);
    if (smfi_addheader(ctx, name, id) != MI_SUCCESS)
        log_msg(LOG_WARNING, qid(ctx), "could not add header %s", name);
    else
        log_msg(LOG_DEBUG, qid(ctx), "kept as %s (%s)", id, name);
}

static sfsistat cb_eom(SMFICTX *ctx)
{
    session *s = get(ctx);
    if (!s || !s->rt || !s->mb) {
        if (s)
            msg_reset(s);
        return SMFIS_CONTINUE;
    }
    double t0 = metrics_now();
    scan_result r;
    if (!s->refuse && msgbuf_oom(s->mb)) { /* not the size cap: a prefix by accident */
        log_msg(LOG_WARNING, qid(ctx), "out of memory buffering the message");
        s->refuse = "nomem";
    }
    if (s->refuse) {
        scan_refuse(&r, POLICY_TEMPFAIL, s->refuse);
        log_result(ctx, s, &r);
        msg_reset(s);
        return SMFIS_TEMPFAIL;
    }
    scan_message(s->rt, msgbuf_data(s->mb), msgbuf_len(s->mb), msgbuf_truncated(s->mb), &r);
    sfsistat rc = apply(ctx, s, &r);
    keep_recent(ctx, s, &r);
    metrics_message(&r, metrics_now() - t0);
    log_result(ctx, s, &r);
    msg_reset(s);
    return rc;
}

static sfsistat cb_abort(SMFICTX *ctx)
{
    session *s = get(ctx);
    if (s) {
        if (s->in_message)
            log_msg(LOG_DEBUG, qid(ctx), "message aborted by the MTA");
        msg_reset(s);
    }
    return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
    session *s = get(ctx);
    if (s) {
        msg_reset(s);
        free(s);
        smfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

int callbacks_register(const char *name)
{
    static struct smfiDesc desc;
    memset(&desc, 0, sizeof desc);
    desc.xxfi_name = (char *)name;
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
    desc.xxfi_connect = cb_connect;
    desc.xxfi_envfrom = cb_envfrom;
    desc.xxfi_header = cb_header;
    desc.xxfi_eoh = cb_eoh;
    desc.xxfi_body = cb_body;
    desc.xxfi_eom = cb_eom;
    desc.xxfi_abort = cb_abort;
    desc.xxfi_close = cb_close;
    desc.xxfi_negotiate = cb_negotiate;
    return smfi_register(desc);
}
