/*
 * llmspam_conf: the one table of llmspam.conf keys and the parser it drives.
 * To add a key: one line in keys[] (and the field in milter_config); the
 * parser, -n, -e and -S follow. The tests check that conf/llmspam.conf and
 * man/llmspam.conf.5 name every key of this table.
 */
#include "config.h"
#include "milter/llmspam_conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "engine/classifier.h"
#include "milter/cidr.h"
#include "milter/headers.h"
#include "milter/socketspec.h"

#ifndef LLMSPAM_DATADIR
#define LLMSPAM_DATADIR "/usr/local/share/llmspam"
#endif

#define STR_(x) #x
#define STR(x) STR_(x) /* a number macro as the text the table holds */

#define CONFIG_MAX_FILE (1024 * 1024)
#define CONFIG_MAX_LINE 4096
#define CONFIG_MAX_ERRORS 50

typedef enum key_type {
    T_STRING,    /* any text without control characters */
    T_INT,       /* decimal integer within [min, max] */
    T_SIZE,      /* bytes, optional k/M/G suffix (1024-based), within [min, max] */
    T_SECONDS,   /* decimal seconds within [min, max] */
    T_FRACTION,  /* number within [min, max] */
    T_OPTFRAC,   /* "off" or a number within [min, max] */
    T_BOOL,      /* yes/no, true/false, on/off, 1/0 */
    T_ENUM,      /* one of choices */
    T_OCTAL,     /* file mode, octal, within [min, max] */
    T_SOCKET,    /* socketspec syntax */
    T_NETLIST,   /* cidr list syntax */
    T_REPLY,     /* SMTP reply "CODE X.Y.Z text", CODE within [min, max] */
    T_HDRNAME,   /* a header field name (RFC 5322 ftext) */
    T_HDRLIST    /* header names separated by commas and/or blanks */
} key_type;

typedef struct choice {
    const char *name;
    int value;
} choice;

#define F_EMPTY_OK 1u /* the empty value is allowed (and means "none") */

typedef struct config_key {
    const char *name;
    key_type type;
    size_t offset;
    const char *def;        /* default, written as in the file */
    double min, max;
    const choice *choices;  /* T_ENUM: NULL-terminated */
    unsigned flags;
    bool reloadable;
    const char *group;      /* heading in the sample file */
    const char *doc;        /* one line */
} config_key;

static const choice facilities[] = {
    {"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}, {NULL, 0}};
static const choice levels[] = {
    {"err", LOG_ERR}, {"warning", LOG_WARNING}, {"notice", LOG_NOTICE},
    {"info", LOG_INFO}, {"debug", LOG_DEBUG}, {NULL, 0}};
static const choice modes[] = {
    {"enforce", MILTER_MODE_ENFORCE}, {"tag", MILTER_MODE_TAG},
    {"monitor", MILTER_MODE_MONITOR}, {NULL, 0}};
static const choice emptyactions[] = {
    {"accept", MILTER_EMPTY_ACCEPT}, {"tag", MILTER_EMPTY_TAG}, {"reject", MILTER_EMPTY_REJECT}, {NULL, 0}};
static const choice failactions[] = {
    {"accept", MILTER_FAIL_ACCEPT}, {"tempfail", MILTER_FAIL_TEMPFAIL}, {NULL, 0}};

#define O(f) offsetof(milter_config, f)
#define G_PROC "socket and process"
#define G_MODEL "model and engine"
#define G_SCAN "what is scanned"
#define G_DECIDE "decision"
#define G_HDR "headers and replies"
#define G_SKIP "skips"
#define G_FAIL "failure policy"
#define G_MON "monitoring"
#define G_LEARN "learning"

/* name, type, field, default, min, max, choices, flags, reloadable, group, doc */
static const config_key keys[] = {
    {"socket", T_SOCKET, O(socket), "unix:/run/llmspam/llmspam.sock", 0, 0, NULL, 0, false, G_PROC,
     "where the MTA connects: unix:/path, inet:PORT@HOST or inet6:PORT@HOST"},
    {"socket_mode", T_OCTAL, O(socket_mode), "0660", 0, 0777, NULL, 0, false, G_PROC,
     "permissions of a unix socket"},
    {"socket_group", T_STRING, O(socket_group), "", 0, 0, NULL, F_EMPTY_OK, false, G_PROC,
     "group of a unix socket, e.g. postfix (empty: unchanged)"},
    {"pidfile", T_STRING, O(pidfile), "/run/llmspam/llmspam-milter.pid", 0, 0, NULL, F_EMPTY_OK, false, G_PROC,
     "process id file, written before the privilege drop (empty: none)"},
    {"user", T_STRING, O(user), "llmspam", 0, 0, NULL, F_EMPTY_OK, false, G_PROC,
     "user to run as after start-up (empty: stay as started)"},
    {"group", T_STRING, O(group), "", 0, 0, NULL, F_EMPTY_OK, false, G_PROC,
     "group to run as (empty: the user's primary group)"},
    {"allow_root", T_BOOL, O(allow_root), "no", 0, 0, NULL, 0, false, G_PROC,
     "allow running on as root after start-up"},
    {"syslog_facility", T_ENUM, O(syslog_facility), "mail", 0, 0, facilities, 0, false, G_PROC,
     "syslog facility: mail, daemon, user, local0 .. local7"},
    {"log_level", T_ENUM, O(log_level), "info", 0, 0, levels, 0, true, G_PROC,
     "lowest severity logged: err, warning, notice, info, debug"},
    {"milter_timeout", T_INT, O(milter_timeout), "600", 1, 86400, NULL, 0, false, G_PROC,
     "seconds libmilter waits for the MTA before closing a connection"},

    {"model", T_STRING, O(model), LLMSPAM_DATADIR "/model", 0, 0, NULL, 0, true, G_MODEL,
     "classifier directory (config.json, model.safetensors, tokenizer.json)"},
    {"device", T_STRING, O(device), "cpu", 0, 0, NULL, 0, true, G_MODEL,
     "compute device: cpu, auto, cuda or cuda:N"},
    {"threads", T_INT, O(threads), "0", 0, 1024, NULL, 0, true, G_MODEL,
     "compute threads (0: one per core)"},
    {"max_tokens", T_INT, O(max_tokens), "0", 0, 131072, NULL, 0, true, G_MODEL,
     "tokens fed to the model per message, BOS included; longer text is cut "
     "(0: the model's own model_max_length from tokenizer_config.json, else "
     STR(CLASSIFIER_DEFAULT_MAX_TOKENS) ")"},
    {"queue_length", T_INT, O(queue_length), "64", 1, 100000, NULL, 0, true, G_MODEL,
     "messages waiting for the model at most; more get on_overload"},
    {"batch_tokens", T_INT, O(batch_tokens), "0", 0, 1048576, NULL, 0, true, G_MODEL,
     "most tokens of packed messages in one forward pass (0: the device's own; CPU: max_tokens)"},
    {"batch_wait_ms", T_FRACTION, O(batch_wait_ms), "1", 0, 1000, NULL, 0, true, G_MODEL,
     "ms a batch with room waits for a message still being tokenized (0: never)"},
    {"classify_timeout", T_SECONDS, O(classify_timeout), "120", 0.001, 3600, NULL, 0, true, G_MODEL,
     "seconds a message may wait and run in the model; then on_timeout"},

    {"max_message_bytes", T_SIZE, O(max_message_bytes), "1M", 1024, 1073741824.0, NULL, 0, true, G_SCAN,
     "bytes of a message collected; larger mail is scanned on this prefix"},
    {"max_text_bytes", T_SIZE, O(max_text_bytes), "64k", 256, 67108864.0, NULL, 0, true, G_SCAN,
     "bytes of rendered text passed to the tokenizer"},
    {"render_headers", T_HDRLIST, O(render_headers), "Subject, From", 0, 0, NULL, F_EMPTY_OK, true, G_SCAN,
     "headers rendered into the text the model reads (must match training)"},
    {"spam_label", T_STRING, O(spam_label), "spam", 0, 0, NULL, 0, true, G_SCAN,
     "the model's label (id2label) whose probability is the spam score"},
    {"empty_text", T_ENUM, O(empty_text), "accept", 0, 0, emptyactions, 0, true, G_SCAN,
     "a message with no text at all is not given to the model: accept, tag or reject it"},

    {"tag_threshold", T_FRACTION, O(tag_threshold), "0.35", 0, 1, NULL, 0, true, G_DECIDE,
     "score at or over which the message is flagged spam (X-Spam-Flag: YES)"},
    {"tempfail_threshold", T_OPTFRAC, O(tempfail_threshold), "off", 0, 1, NULL, 0, true, G_DECIDE,
     "score at or over which (and under reject_threshold) mail is tempfailed (off: never)"},
    {"reject_threshold", T_OPTFRAC, O(reject_threshold), "off", 0, 1, NULL, 0, true, G_DECIDE,
     "score at or over which mail is rejected with reject_reply (off: never)"},
    {"mode", T_ENUM, O(mode), "enforce", 0, 0, modes, 0, true, G_DECIDE,
     "enforce: act; tag: headers only, never reject; monitor: log only"},

    {"header_prefix", T_HDRNAME, O(header_prefix), "X-Spam", 0, 0, NULL, 0, true, G_HDR,
     "prefix of the added headers; arriving PREFIX-* headers are removed"},
    {"subject_prefix", T_STRING, O(subject_prefix), "", 0, 0, NULL, F_EMPTY_OK, true, G_HDR,
     "text put before the Subject of spam, e.g. [SPAM] (empty: no rewrite)"},
    {"reject_reply", T_REPLY, O(reject_reply), "550 5.7.1 Message rejected as spam", 500, 599, NULL, 0, true, G_HDR,
     "SMTP reply for rejected mail: 5xx code, enhanced code, text"},
    {"tempfail_reply", T_REPLY, O(tempfail_reply), "451 4.7.1 Message deferred, try again later", 400, 499, NULL, 0, true, G_HDR,
     "SMTP reply for tempfailed mail: 4xx code, enhanced code, text"},

    {"skip_authenticated", T_BOOL, O(skip_authenticated), "yes", 0, 0, NULL, 0, true, G_SKIP,
     "do not scan mail from SMTP-authenticated senders ({auth_authen})"},
    {"trusted_networks", T_NETLIST, O(trusted_networks), "127.0.0.0/8, ::1/128", 0, 0, NULL, F_EMPTY_OK, true, G_SKIP,
     "clients in these IPv4/IPv6 networks are not scanned (none: scan all)"},

    {"on_error", T_ENUM, O(on_error), "accept", 0, 0, failactions, 0, true, G_FAIL,
     "when the message cannot be classified: accept (with a header) or tempfail"},
    {"on_timeout", T_ENUM, O(on_timeout), "accept", 0, 0, failactions, 0, true, G_FAIL,
     "when classify_timeout passes: accept (with a header) or tempfail"},
    {"on_overload", T_ENUM, O(on_overload), "tempfail", 0, 0, failactions, 0, true, G_FAIL,
     "when queue_length messages already wait: accept (with a header) or tempfail"},

    {"metrics", T_SOCKET, O(metrics), "", 0, 0, NULL, F_EMPTY_OK, false, G_MON,
     "serve Prometheus metrics at /metrics, e.g. inet:9712@127.0.0.1 (empty: off)"},

    {"learn_dir", T_STRING, O(learn_dir), "/var/lib/llmspam", 0, 0, NULL, 0, true, G_LEARN,
     "the learn store of llmspam learn, and recent/ for keep_recent"},
    {"keep_recent", T_INT, O(keep_recent), "0", 0, 1000000, NULL, 0, true, G_LEARN,
     "stamp delivered mail with PREFIX-Id and keep this many for learn --id (0: off)"},
    {"keep_recent_age", T_SECONDS, O(keep_recent_age), "604800", 60, 31536000, NULL, 0, true, G_LEARN,
     "seconds kept mail is kept at most"},
};
#define NKEYS (sizeof keys / sizeof keys[0])

/* ---- errors ---------------------------------------------------------- */

typedef struct errbuf {
    char *text;
    size_t len, cap;
    int count;
} errbuf;

__attribute__((format(printf, 2, 3)))
static void errf(errbuf *e, const char *fmt, ...)
{
    e->count++;
    if (e->count > CONFIG_MAX_ERRORS)
        return;
    char line[CONFIG_MAX_LINE + 512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    if (e->len + (size_t)n + 2 > e->cap) {
        size_t cap = (e->cap ? e->cap * 2 : 1024) + (size_t)n + 2;
        char *t = realloc(e->text, cap);
        if (!t)
            return;
        e->text = t;
        e->cap = cap;
    }
    memcpy(e->text + e->len, line, (size_t)n);
    e->len += (size_t)n;
    e->text[e->len++] = '\n';
    e->text[e->len] = '\0';
}

/* ---- values ---------------------------------------------------------- */

#define FIELD(c, k, T) ((T *)(void *)((char *)(c) + (k)->offset))
#define CFIELD(c, k, T) ((const T *)(const void *)((const char *)(c) + (k)->offset))

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool parse_long(const char *s, int base, long *out)
{
    char *end;
    errno = 0;
    if (!*s || (!isdigit((unsigned char)*s) && *s != '-'))
        return false;
    long v = strtol(s, &end, base);
    if (*end || errno)
        return false;
    *out = v;
    return true;
}

bool milter_config_parse_size(const char *text, long *bytes)
{
    char num[64];
    size_t n = strlen(text);
    long mult = 1;
    if (n == 0 || n >= sizeof num)
        return false;
    memcpy(num, text, n + 1);
    switch (num[n - 1]) {
    case 'k': case 'K': mult = 1024L; break;
    case 'm': case 'M': mult = 1024L * 1024; break;
    case 'g': case 'G': mult = 1024L * 1024 * 1024; break;
    default: break;
    }
    if (mult > 1)
        num[n - 1] = '\0';
    long x;
    if (!parse_long(num, 10, &x) || x < 0 || x > LONG_MAX / mult)
        return false;
    *bytes = x * mult;
    return true;
}

static bool header_char(int ch)
{
    return ch > ' ' && ch < 127 && ch != ':';
}

/* "550 5.7.1 text": code within [min,max], enhanced code of the same class. */
static bool check_reply(const char *v, double min, double max, char *why, size_t len)
{
    if (!(isdigit((unsigned char)v[0]) && isdigit((unsigned char)v[1]) &&
          isdigit((unsigned char)v[2]) && v[3] == ' ')) {
        snprintf(why, len, "expected 'CODE X.Y.Z text', e.g. '%d %d.7.1 text'", (int)min, (int)min / 100);
        return false;
    }
    int code = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    if (code < min || code > max) {
        snprintf(why, len, "the reply code must be %dxx", (int)min / 100);
        return false;
    }
    const char *x = v + 4;
    if (x[0] != v[0] || x[1] != '.') {
        snprintf(why, len, "expected an enhanced status code %c.X.Y after the reply code", v[0]);
        return false;
    }
    const char *p = x + 2;
    int parts = 0;
    for (;;) {
        size_t n = strspn(p, "0123456789");
        if (n == 0 || n > 3)
            break;
        p += n;
        parts++;
        if (*p != '.')
            break;
        p++;
    }
    if (parts != 2 || *p != ' ' || p[1] == '\0') {
        snprintf(why, len, "expected 'CODE %c.Y.Z text' with a text", v[0]);
        return false;
    }
    if (strchr(v, '%')) {
        snprintf(why, len, "'%%' is not allowed in a reply");
        return false;
    }
    return true;
}

/* Set key k of c from v. false with why filled on a bad value. */
static bool set_value(const config_key *k, milter_config *c, const char *v, char *why, size_t len)
{
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < ' ' && *p != '\t') {
            snprintf(why, len, "control character in the value");
            return false;
        }
    if (!*v && !(k->flags & F_EMPTY_OK)) {
        snprintf(why, len, "empty value");
        return false;
    }
    switch (k->type) {
    case T_STRING:
    case T_SOCKET:
    case T_NETLIST:
    case T_REPLY:
    case T_HDRNAME:
    case T_HDRLIST: {
        if (k->type == T_SOCKET) {
            socketspec s;
            if (*v && !socketspec_parse(v, &s, why, len))
                return false;
        } else if (k->type == T_NETLIST) {
            cidr_list *l = cidr_list_parse(v, why, len);
            if (!l)
                return false;
            cidr_list_free(l);
        } else if (k->type == T_REPLY) {
            if (!check_reply(v, k->min, k->max, why, len))
                return false;
        } else if (k->type == T_HDRNAME) {
            if (strlen(v) > HEADERS_PREFIX_MAX) {
                snprintf(why, len, "longer than %d characters", HEADERS_PREFIX_MAX);
                return false;
            }
            for (const char *p = v; *p; p++)
                if (!header_char((unsigned char)*p)) {
                    snprintf(why, len, "not a header name: '%s'", v);
                    return false;
                }
        } else if (k->type == T_HDRLIST) {
            for (const char *p = v; *p; p++)
                if (!header_char((unsigned char)*p) && *p != ' ' && *p != '\t') {
                    snprintf(why, len, "not a list of header names: '%s'", v);
                    return false;
                }
        }
        char *dup = strdup(v);
        if (!dup) {
            snprintf(why, len, "out of memory");
            return false;
        }
        char **f = FIELD(c, k, char *);
        free(*f);
        *f = dup;
        return true;
    }
    case T_INT:
    case T_OCTAL: {
        long x;
        if (!parse_long(v, k->type == T_OCTAL ? 8 : 10, &x)) {
            snprintf(why, len, k->type == T_OCTAL ? "not an octal mode: '%s'" : "not an integer: '%s'", v);
            return false;
        }
        if (x < k->min || x > k->max) {
            if (k->type == T_OCTAL)
                snprintf(why, len, "%s out of range %04o..%04o", v, (unsigned)k->min, (unsigned)k->max);
            else
                snprintf(why, len, "%ld out of range %.0f..%.0f", x, k->min, k->max);
            return false;
        }
        if (k->type == T_OCTAL)
            *FIELD(c, k, int) = (int)x;
        else
            *FIELD(c, k, long) = x;
        return true;
    }
    case T_SIZE: {
        long x;
        if (!milter_config_parse_size(v, &x)) {
            snprintf(why, len, "not a size (bytes, or with k, M, G): '%s'", v);
            return false;
        }
        double bytes = (double)x;
        if (bytes < k->min || bytes > k->max) {
            snprintf(why, len, "%s out of range %.0f..%.0f bytes", v, k->min, k->max);
            return false;
        }
        *FIELD(c, k, long) = (long)bytes;
        return true;
    }
    case T_SECONDS:
    case T_FRACTION:
    case T_OPTFRAC: {
        double x;
        if (k->type == T_OPTFRAC && (!strcmp(v, "off") || !strcmp(v, "none"))) {
            *FIELD(c, k, double) = MILTER_THRESHOLD_OFF;
            return true;
        }
        if (!parse_double(v, &x)) {
            snprintf(why, len, "not a number: '%s'", v);
            return false;
        }
        if (x < k->min || x > k->max) {
            snprintf(why, len, "%s out of range %g..%g", v, k->min, k->max);
            return false;
        }
        *FIELD(c, k, double) = x;
        return true;
    }
    case T_BOOL: {
        static const char *yes[] = {"yes", "true", "on", "1"};
        static const char *no[] = {"no", "false", "off", "0"};
        for (size_t i = 0; i < 4; i++) {
            if (!strcasecmp(v, yes[i])) {
                *FIELD(c, k, bool) = true;
                return true;
            }
            if (!strcasecmp(v, no[i])) {
                *FIELD(c, k, bool) = false;
                return true;
            }
        }
        snprintf(why, len, "expected yes or no: '%s'", v);
        return false;
    }
    case T_ENUM: {
        for (const choice *ch = k->choices; ch->name; ch++)
            if (!strcmp(v, ch->name)) {
                *FIELD(c, k, int) = ch->value;
                return true;
            }
        size_t off = (size_t)snprintf(why, len, "'%s' is not one of:", v);
        for (const choice *ch = k->choices; ch->name && off < len; ch++)
            off += (size_t)snprintf(why + off, len - off, " %s", ch->name);
        return false;
    }
    }
    snprintf(why, len, "internal: unknown type");
    return false;
}

static const char *choice_name(const choice *chs, int value)
{
    for (const choice *ch = chs; ch->name; ch++)
        if (ch->value == value)
            return ch->name;
    return "?";
}

static void format_value(const config_key *k, const milter_config *c, char *buf, size_t len)
{
    switch (k->type) {
    case T_STRING:
    case T_SOCKET:
    case T_NETLIST:
    case T_REPLY:
    case T_HDRNAME:
    case T_HDRLIST: {
        const char *s = *CFIELD(c, k, char *);
        if (!s)
            s = "";
        size_t n = strlen(s);
        if (n == 0 || s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t' || s[0] == '"')
            snprintf(buf, len, "\"%s\"", s);
        else
            snprintf(buf, len, "%s", s);
        return;
    }
    case T_INT:
        snprintf(buf, len, "%ld", *CFIELD(c, k, long));
        return;
    case T_OCTAL:
        snprintf(buf, len, "%04o", (unsigned)*CFIELD(c, k, int));
        return;
    case T_SIZE: {
        long b = *CFIELD(c, k, long);
        if (b && b % (1024L * 1024 * 1024) == 0)
            snprintf(buf, len, "%ldG", b / (1024L * 1024 * 1024));
        else if (b && b % (1024L * 1024) == 0)
            snprintf(buf, len, "%ldM", b / (1024L * 1024));
        else if (b && b % 1024 == 0)
            snprintf(buf, len, "%ldk", b / 1024);
        else
            snprintf(buf, len, "%ld", b);
        return;
    }
    case T_SECONDS:
    case T_FRACTION:
    case T_OPTFRAC: {
        double d = *CFIELD(c, k, double);
        if (k->type == T_OPTFRAC && d < 0)
            snprintf(buf, len, "off");
        else
            snprintf(buf, len, "%g", d);
        return;
    }
    case T_BOOL:
        snprintf(buf, len, "%s", *CFIELD(c, k, bool) ? "yes" : "no");
        return;
    case T_ENUM:
        snprintf(buf, len, "%s", choice_name(k->choices, *CFIELD(c, k, int)));
        return;
    }
    snprintf(buf, len, "?");
}

/* ---- whole config ---------------------------------------------------- */

void milter_config_free(milter_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        const config_key *k = &keys[i];
        if (k->type == T_STRING || k->type == T_SOCKET || k->type == T_NETLIST ||
            k->type == T_REPLY || k->type == T_HDRNAME || k->type == T_HDRLIST)
            free(*FIELD(c, k, char *));
    }
    free(c->path);
    free(c);
}

static milter_config *with_defaults(const char *name, errbuf *e)
{
    milter_config *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(name))) {
        free(c);
        errf(e, "%s: out of memory", name);
        return NULL;
    }
    for (size_t i = 0; i < NKEYS; i++) {
        char why[256];
        if (!set_value(&keys[i], c, keys[i].def, why, sizeof why)) {
            /* A bad built-in default is a programming error; the unit test
             * catches it, but it still reads as a message, not a crash. */
            errf(e, "%s: built-in default of %s: %s", name, keys[i].name, why);
            milter_config_free(c);
            return NULL;
        }
    }
    return c;
}

milter_config *milter_config_defaults(void)
{
    errbuf e = {0};
    milter_config *c = with_defaults("(defaults)", &e);
    free(e.text);
    return c;
}

static const config_key *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].name, name))
            return &keys[i];
    return NULL;
}

/* Cross-key rules; line numbers point at the key that breaks the rule. */
static void check_whole(const milter_config *c, const char *name, const int *lines, errbuf *e)
{
    size_t it = (size_t)(find_key("tag_threshold") - keys);
    size_t itf = (size_t)(find_key("tempfail_threshold") - keys);
    size_t ir = (size_t)(find_key("reject_threshold") - keys);
    double tag = c->tag_threshold, tf = c->tempfail_threshold, rj = c->reject_threshold;
    if (tf >= 0 && tf < tag)
        errf(e, "%s:%d: tempfail_threshold (%g) is below tag_threshold (%g)", name,
             lines[itf] ? lines[itf] : lines[it], tf, tag);
    if (rj >= 0 && rj < tag)
        errf(e, "%s:%d: reject_threshold (%g) is below tag_threshold (%g)", name,
             lines[ir] ? lines[ir] : lines[it], rj, tag);
    if (rj >= 0 && tf >= 0 && tf >= rj)
        errf(e, "%s:%d: tempfail_threshold (%g) must be below reject_threshold (%g): the tempfail band is [tempfail_threshold, reject_threshold)",
             name, lines[itf] > lines[ir] ? lines[itf] : lines[ir], tf, rj);
}

milter_config *milter_config_parse(const char *name, const char *text, size_t len, char **errors)
{
    errbuf e = {0};
    int lines[NKEYS] = {0};
    milter_config *c = NULL;
    if (errors)
        *errors = NULL;
    if (len > CONFIG_MAX_FILE) {
        errf(&e, "%s: larger than %d bytes", name, CONFIG_MAX_FILE);
        goto out;
    }
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int lineno = 1;
        for (const char *q = text; q < nul; q++)
            lineno += *q == '\n';
        errf(&e, "%s:%d: NUL byte in the file", name, lineno);
        goto out;
    }
    c = with_defaults(name, &e);
    if (!c)
        goto out;
    c->last_line_cut = len > 0 && text[len - 1] != '\n';
    const char *p = text, *end = text + len;
    for (int lineno = 1; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t n = (size_t)(le - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n > CONFIG_MAX_LINE) {
            errf(&e, "%s:%d: line longer than %d bytes", name, lineno, CONFIG_MAX_LINE);
            p = nl ? nl + 1 : end;
            continue;
        }
        char line[CONFIG_MAX_LINE + 1];
        memcpy(line, p, n);
        line[n] = '\0';
        p = nl ? nl + 1 : end;

        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            errf(&e, "%s:%d: expected 'key = value'", name, lineno);
            continue;
        }
        char *ke = eq;
        while (ke > s && (ke[-1] == ' ' || ke[-1] == '\t'))
            ke--;
        *ke = '\0';
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vn = strlen(v);
        while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
            v[--vn] = '\0';
        if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
            v[vn - 1] = '\0';
            v++;
        }
        if (*s == '\0') {
            errf(&e, "%s:%d: missing key before '='", name, lineno);
            continue;
        }
        const config_key *k = find_key(s);
        if (!k) {
            errf(&e, "%s:%d: unknown key '%.64s'", name, lineno, s);
            continue;
        }
        size_t ki = (size_t)(k - keys);
        if (lines[ki]) {
            errf(&e, "%s:%d: %s is already set on line %d", name, lineno, k->name, lines[ki]);
            continue;
        }
        lines[ki] = lineno;
        c->keys_set++;
        char why[512];
        if (!set_value(k, c, v, why, sizeof why))
            errf(&e, "%s:%d: %s: %s", name, lineno, k->name, why);
    }
    if (e.count == 0)
        check_whole(c, name, lines, &e);
out:
    if (e.count > CONFIG_MAX_ERRORS) {
        int more = e.count - CONFIG_MAX_ERRORS;
        e.count = 0; /* errf() drops lines past the cap: let the summary through */
        errf(&e, "%s: %d more errors not shown", name, more);
    }
    if (e.count) {
        milter_config_free(c);
        if (errors)
            *errors = e.text;
        else
            free(e.text);
        return NULL;
    }
    free(e.text);
    return c;
}

milter_config *milter_config_load(const char *path, char **errors)
{
    errbuf e = {0};
    if (errors)
        *errors = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        errf(&e, "%s: %s", path, strerror(errno));
        goto fail;
    }
    char *buf = malloc(CONFIG_MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        errf(&e, "%s: out of memory", path);
        goto fail;
    }
    size_t n = fread(buf, 1, CONFIG_MAX_FILE + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        errf(&e, "%s: read error", path);
        goto fail;
    }
    milter_config *c = milter_config_parse(path, buf, n, errors);
    free(buf);
    return c;
fail:
    if (errors)
        *errors = e.text;
    else
        free(e.text);
    return NULL;
}

milter_config *milter_config_read(const char *path, FILE *err)
{
    char *errs = NULL;
    milter_config *c = milter_config_load(path, &errs);
    if (!c)
        fprintf(err, "%s", errs ? errs : "out of memory\n");
    free(errs);
    return c;
}

void milter_config_print(const milter_config *c, FILE *out)
{
    char buf[CONFIG_MAX_LINE + 8];
    for (size_t i = 0; i < NKEYS; i++) {
        format_value(&keys[i], c, buf, sizeof buf);
        fprintf(out, "%s = %s\n", keys[i].name, buf);
    }
}

void milter_config_print_sample(FILE *out)
{
    fprintf(out,
            "# llmspam.conf: configuration of llmspam-milter(8); see llmspam.conf(5).\n"
            "#\n"
            "# Every key is shown commented out at its built-in default. Syntax:\n"
            "# \"key = value\", one per line; a line starting with # is a comment.\n"
            "# Keys marked (reload) take effect on SIGHUP (systemctl reload\n"
            "# llmspam-milter); the others need a restart. Check a changed file with\n"
            "# \"llmspam-milter -n\"; print what is in effect with \"llmspam-milter -e\".\n"
            "#\n"
            "# This file is generated from the key table by \"llmspam-milter -S\".\n");
    const char *group = NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        const config_key *k = &keys[i];
        if (!group || strcmp(group, k->group)) {
            group = k->group;
            fprintf(out, "\n# ---- %s ----\n", group);
        }
        fprintf(out, "\n# %s%s\n# %s = %s\n", k->doc, k->reloadable ? " (reload)" : "", k->name, k->def[0] ? k->def : "\"\"");
    }
}

size_t milter_config_key_count(void)
{
    return NKEYS;
}

const char *milter_config_key_name(size_t i)
{
    return i < NKEYS ? keys[i].name : NULL;
}

bool milter_config_key_reloadable(size_t i)
{
    return i < NKEYS && keys[i].reloadable;
}

size_t milter_config_fixed_changes(const milter_config *a, const milter_config *b,
                                   const char **names, size_t max)
{
    size_t n = 0;
    char va[CONFIG_MAX_LINE + 8], vb[CONFIG_MAX_LINE + 8];
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].reloadable)
            continue;
        format_value(&keys[i], a, va, sizeof va);
        format_value(&keys[i], b, vb, sizeof vb);
        if (strcmp(va, vb)) {
            if (n < max)
                names[n] = keys[i].name;
            n++;
        }
    }
    return n;
}

bool milter_config_reload_check(const milter_config *running, const milter_config *next,
                                char *why, size_t whylen)
{
    if (next->last_line_cut) {
        snprintf(why, whylen, "%s: the last line has no newline: the file may be half-written", next->path);
        return false;
    }
    if (next->keys_set == 0 && running && running->keys_set > 0) {
        snprintf(why, whylen, "%s sets no key (empty, or cut short?) where the running one set %zu: "
                 "it would put every key back to its default", next->path, running->keys_set);
        return false;
    }
    return true;
}

const char *milter_mode_name(int mode)
{
    return choice_name(modes, mode);
}

const char *milter_failaction_name(int fa)
{
    return choice_name(failactions, fa);
}
