/*
 * offline: the daemon's two offline modes. -n checks the config and the
 * model (and the users, groups and metrics spec it names) and exits 0 or
 * 78; -t MESSAGE runs one message file through the pipeline the daemon
 * runs (scan_message, then the same list of actions, actions.h) and
 * prints the decision, the list, and the summary line.
 *
 * Security: run by an admin from a shell, as whoever started it; nothing
 * is bound, written or dropped. The message file is untrusted and read up
 * to max_message_bytes, as the daemon would.
 */
#include "config.h"
#include "milter/offline.h"

#include <errno.h>
#include <stdbool.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "milter/actions.h"
#include "milter/headers.h"
#include "milter/llmspam_conf.h"
#include "milter/metrics.h"
#include "milter/privs.h"
#include "milter/runtime.h"
#include "milter/scan.h"

/* ---- -n ------------------------------------------------------------- */

int offline_check(const char *path)
{
    milter_config *c = milter_config_read(path, stderr);
    if (!c)
        return EX_CONFIG;
    int bad = 0;
    char err[1024];
    /* started as root the daemon refuses these; checked as root, so must -n */
    if (geteuid() == 0 && privs_check_root(c->user, c->allow_root, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", path, err);
        bad++;
    } else if (c->user[0] && !getpwnam(c->user)) {
        fprintf(stderr, "%s: user: no user named '%s'\n", path, c->user);
        bad++;
    }
    if (c->group[0] && !getgrnam(c->group)) {
        fprintf(stderr, "%s: group: no group named '%s'\n", path, c->group);
        bad++;
    }
    if (c->socket_group[0] && !getgrnam(c->socket_group)) {
        fprintf(stderr, "%s: socket_group: no group named '%s'\n", path, c->socket_group);
        bad++;
    }
    if (c->metrics[0] && !metrics_spec_ok(c->metrics, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", path, err);
        bad++;
    }
    runtime *rt = runtime_build(c, err, sizeof err);
    if (!rt) {
        fprintf(stderr, "%s\n", err);
        bad++;
    } else {
        const char *warn = classifier_warnings(runtime_classifier(rt));
        if (warn[0])
            fprintf(stderr, "%s: warning: %s\n", runtime_config(rt)->model, warn);
        if (!bad)
            printf("%s: OK (model %s on %s)\n", path, runtime_config(rt)->model,
                   classifier_device(runtime_classifier(rt)));
        runtime_free(rt);
    }
    return bad ? EX_CONFIG : 0;
}

/* ---- -t ------------------------------------------------------------- */

/* Names of the message's header fields, for the forged-header removal. */
static void note_headers(headers_spoof *sp, const char *raw, size_t len, char **subject, bool *lost)
{
    const char *p = raw, *end = raw + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t n = (size_t)(le - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n == 0)
            break; /* end of the header */
        if (p[0] != ' ' && p[0] != '\t') {
            const char *colon = memchr(p, ':', n);
            if (colon && colon > p) {
                char name[256];
                size_t k = (size_t)(colon - p) < sizeof name - 1 ? (size_t)(colon - p) : sizeof name - 1;
                memcpy(name, p, k);
                name[k] = '\0';
                headers_spoof_note(sp, name);
                if (!*subject && !*lost && !strcasecmp(name, "Subject")) {
                    /* the whole folded value, as libmilter gives the daemon */
                    const char *v = colon + 1, *ve = p + n;
                    while (nl && nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t')) {
                        const char *next = memchr(nl + 1, '\n', (size_t)(end - nl - 1));
                        ve = next ? next : end;
                        if (ve > nl + 1 && ve[-1] == '\r')
                            ve--;
                        nl = next;
                    }
                    *subject = strndup(v, (size_t)(ve - v));
                    *lost = !*subject; /* as the daemon: then no rewrite */
                    /* the MTA hands the milter LF line ends */
                    char *w = *subject;
                    for (const char *q = *subject; q && *q; q++)
                        if (!(q[0] == '\r' && q[1] == '\n'))
                            *w++ = *q;
                    if (w)
                        *w = '\0';
                }
            }
        }
        p = nl ? nl + 1 : end;
    }
}

int offline_test(const char *cfgpath, const char *msgpath)
{
    milter_config *c = milter_config_read(cfgpath, stderr);
    if (!c)
        return EX_CONFIG;
    char err[1024];
    runtime *rt = runtime_build(c, err, sizeof err);
    if (!rt) {
        fprintf(stderr, "%s\n", err);
        return EX_CONFIG;
    }
    c = NULL;
    const milter_config *cfg = runtime_config(rt);
    FILE *f = fopen(msgpath, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", msgpath, strerror(errno));
        runtime_free(rt);
        return EX_NOINPUT;
    }
    size_t cap = (size_t)cfg->max_message_bytes;
    char *raw = malloc(cap + 1);
    size_t len = raw ? fread(raw, 1, cap, f) : 0;
    size_t seen = len;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        seen += n;
    fclose(f);
    if (!raw) {
        fprintf(stderr, "out of memory\n");
        runtime_free(rt);
        return EX_SOFTWARE;
    }

    headers_spoof *sp = headers_spoof_new(cfg->header_prefix);
    char *subject = NULL;
    bool lost = false;
    if (sp)
        note_headers(sp, raw, len, &subject, &lost);
    scan_result r;
    if (headers_spoof_overflow(sp)) /* as the daemon, before any scan */
        scan_refuse(&r, POLICY_TEMPFAIL, "forged_headers");
    else
        scan_message(rt, raw, len, seen > len, &r);
    printf("decision: %s\n", policy_action_name(r.v.action));
    if (r.v.verdict != r.v.action)
        printf("verdict: %s (mode %s)\n", policy_action_name(r.v.verdict), milter_mode_name(cfg->mode));
    if (r.classified)
        printf("score: %.6f\nlabel: %s\ntokens: %d\n", r.score, r.label, r.tokens);
    actions_list *l = actions_build(&r, cfg->subject_prefix, sp, subject, lost);
    if (!l)
        fprintf(stderr, "out of memory listing the header changes\n");
    actions_print(l, stdout);
    actions_free(l);
    free(subject);
    headers_spoof_free(sp);
    if (r.detail[0])
        printf("detail: %s\n", r.detail);
    char line[1024];
    scan_envelope env = {"", "", seen, seen > len};
    scan_summary(&r, &env, runtime_policy(rt), line, sizeof line);
    printf("log: TEST: %s\n", line);
    free(raw);
    runtime_free(rt);
    return 0;
}
