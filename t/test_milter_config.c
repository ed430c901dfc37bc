/*
 * test_milter_config: the llmspam.conf parser. Every error names file:line;
 * each kind of error is one row of the table below. The sample config and
 * the man page must name every key of the table in milter/llmspam_conf.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter/llmspam_conf.h"
#include "milter/socketspec.h"
#include "t/lib/tap.h"

static milter_config *parse(const char *text, char **errs)
{
    return milter_config_parse("test.conf", text, strlen(text), errs);
}

struct bad {
    const char *text;
    const char *expect; /* substring of the error text, file:line included */
};

static const struct bad bad[] = {
    {"bogus = 1\n", "test.conf:1: unknown key 'bogus'"},
    {"\n\nthreads 4\n", "test.conf:3: expected 'key = value'"},
    {" = 4\n", "test.conf:1: missing key before '='"},
    {"threads = 2\nthreads = 3\n", "test.conf:2: threads is already set on line 1"},
    {"threads = four\n", "test.conf:1: threads: not an integer: 'four'"},
    {"threads = 4x\n", "test.conf:1: threads: not an integer"},
    {"threads = 5000\n", "test.conf:1: threads: 5000 out of range 0..1024"},
    {"threads = -1\n", "test.conf:1: threads: -1 out of range"},
    {"max_tokens = 131073\n", "test.conf:1: max_tokens: 131073 out of range 0..131072"},
    {"threads =\n", "test.conf:1: threads: empty value"},
    {"batch_tokens = -1\n", "test.conf:1: batch_tokens: -1 out of range 0..1048576"},
    {"batch_tokens = 1048577\n", "test.conf:1: batch_tokens: 1048577 out of range 0..1048576"},
    {"batch_tokens = 4k\n", "test.conf:1: batch_tokens: not an integer: '4k'"},
    {"batch_wait_ms = -0.5\n", "test.conf:1: batch_wait_ms: -0.5 out of range 0..1000"},
    {"batch_wait_ms = 1000.5\n", "test.conf:1: batch_wait_ms: 1000.5 out of range 0..1000"},
    {"batch_wait_ms = soon\n", "test.conf:1: batch_wait_ms: not a number: 'soon'"},
    {"batch_wait_ms = inf\n", "test.conf:1: batch_wait_ms: not a number"},
    {"max_message_bytes = 12q\n", "test.conf:1: max_message_bytes: not a size"},
    {"max_message_bytes = 10\n", "test.conf:1: max_message_bytes: 10 out of range"},
    {"max_message_bytes = 2G\n", "test.conf:1: max_message_bytes: 2G out of range"},
    {"classify_timeout = soon\n", "test.conf:1: classify_timeout: not a number: 'soon'"},
    {"classify_timeout = 0\n", "test.conf:1: classify_timeout: 0 out of range"},
    {"classify_timeout = nan\n", "test.conf:1: classify_timeout: not a number"},
    {"tag_threshold = 1.5\n", "test.conf:1: tag_threshold: 1.5 out of range 0..1"},
    {"reject_threshold = maybe\n", "test.conf:1: reject_threshold: not a number"},
    {"skip_authenticated = perhaps\n", "test.conf:1: skip_authenticated: expected yes or no"},
    {"mode = loud\n", "test.conf:1: mode: 'loud' is not one of: enforce tag monitor"},
    {"on_timeout = discard\n", "test.conf:1: on_timeout: 'discard' is not one of: accept tempfail"},
    {"syslog_facility = kern\n", "test.conf:1: syslog_facility: 'kern' is not one of"},
    {"log_level = loud\n", "test.conf:1: log_level: 'loud' is not one of"},
    {"socket_mode = 0999\n", "test.conf:1: socket_mode: not an octal mode"},
    {"socket_mode = 01777\n", "test.conf:1: socket_mode: 01777 out of range"},
    {"socket = tcp:25\n", "test.conf:1: socket: expected unix:/path"},
    {"socket = unix:relative\n", "test.conf:1: socket: a unix socket needs an absolute path"},
    {"socket = inet:99999@localhost\n", "test.conf:1: socket: port out of range"},
    {"socket = inet:25@\n", "test.conf:1: socket: bad host"},
    {"trusted_networks = 10.0.0.0/33\n", "test.conf:1: trusted_networks: prefix length over 32"},
    {"trusted_networks = 10.1.0.0/8\n", "test.conf:1: trusted_networks: host bits set"},
    {"trusted_networks = example.org\n", "test.conf:1: trusted_networks: not an IPv4 or IPv6 address"},
    {"reject_reply = 450 4.7.1 no\n", "test.conf:1: reject_reply: the reply code must be 5xx"},
    {"reject_reply = go away\n", "test.conf:1: reject_reply: expected 'CODE X.Y.Z text'"},
    {"reject_reply = 550 4.7.1 mixed\n", "test.conf:1: reject_reply: expected an enhanced status code 5.X.Y"},
    {"reject_reply = 550 5.7.1\n", "test.conf:1: reject_reply: expected 'CODE 5.Y.Z text' with a text"},
    {"reject_reply = 550 5.7.1 100%\n", "test.conf:1: reject_reply: '%' is not allowed"},
    {"tempfail_reply = 550 5.7.1 no\n", "test.conf:1: tempfail_reply: the reply code must be 4xx"},
    {"header_prefix = X Spam\n", "test.conf:1: header_prefix: not a header name"},
    {"header_prefix = X-Spam:\n", "test.conf:1: header_prefix: not a header name"},
    {"header_prefix = X-" "012345678901234567890123456789012345678901234567890123456789012\n",
     "test.conf:1: header_prefix: longer than 64 characters"},
    {"render_headers = Subject;From:\n", "test.conf:1: render_headers: not a list of header names"},
    {"subject_prefix = a\x01" "b\n", "test.conf:1: subject_prefix: control character"},
    {"tag_threshold = 0.8\nreject_threshold = 0.5\n", "test.conf:2: reject_threshold (0.5) is below tag_threshold (0.8)"},
    {"tag_threshold = 0.8\ntempfail_threshold = 0.5\n", "test.conf:2: tempfail_threshold (0.5) is below tag_threshold (0.8)"},
    {"reject_threshold = 0.8\ntempfail_threshold = 0.9\n", "test.conf:2: tempfail_threshold (0.9) must be below reject_threshold (0.8)"},
    {"tempfail_threshold = 0.9\nreject_threshold = 0.9\n", "test.conf:2: tempfail_threshold (0.9) must be below reject_threshold"},
};

static void test_errors(void)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *errs = NULL;
        milter_config *c = parse(bad[i].text, &errs);
        bool ok = c == NULL && errs && strstr(errs, bad[i].expect);
        if (!tap_ok(ok, "error: %s", bad[i].expect))
            tap_diag("got: %s", errs ? errs : "(no error)");
        milter_config_free(c);
        free(errs);
    }

    /* NUL byte, reported with its line */
    {
        static const char text[] = "threads = 1\nmode = e\0nforce\n";
        char *errs = NULL;
        milter_config *c = milter_config_parse("test.conf", text, sizeof text - 1, &errs);
        tap_ok(!c && errs && strstr(errs, "test.conf:2: NUL byte"), "error: NUL byte names its line");
        free(errs);
    }
    /* an over-long line */
    {
        size_t n = 5000;
        char *text = malloc(n + 32);
        memcpy(text, "# ok\nsubject_prefix = ", 22);
        memset(text + 22, 'a', n);
        strcpy(text + 22 + n, "\n");
        char *errs = NULL;
        milter_config *c = parse(text, &errs);
        tap_ok(!c && errs && strstr(errs, "test.conf:2: line longer than"), "error: long line names its line");
        free(errs);
        free(text);
    }
    /* every error in one pass, each with its own line */
    {
        char *errs = NULL;
        milter_config *c = parse("threads = x\n# fine\nbogus = 1\nmode = loud\n", &errs);
        tap_ok(!c && errs && strstr(errs, "test.conf:1:") && strstr(errs, "test.conf:3:") &&
                   strstr(errs, "test.conf:4:"),
               "all errors are reported in one pass");
        free(errs);
    }
    /* many errors: capped, with a count */
    {
        char text[8192] = "";
        for (int i = 0; i < 80; i++)
            strcat(text, "nope = 1\n");
        char *errs = NULL;
        milter_config *c = parse(text, &errs);
        tap_ok(!c && errs && strstr(errs, "30 more errors not shown"), "errors are capped with a count");
        free(errs);
    }
    /* a missing file */
    {
        char *errs = NULL;
        milter_config *c = milter_config_load("/nonexistent/llmspam.conf", &errs);
        tap_ok(!c && errs && strstr(errs, "/nonexistent/llmspam.conf: No such file"), "missing file is named");
        free(errs);
    }
}

static void test_values(void)
{
    char *errs = NULL;
    milter_config *c = parse(
        "# a comment\r\n"
        "   # an indented comment\n"
        "\n"
        "socket = inet:8891@127.0.0.1\r\n"
        "socket_mode=0600\n"
        "threads = 4\n"
        "batch_tokens = 16384\n"
        "batch_wait_ms = 0.25\n"
        "max_message_bytes = 512k\n"
        "classify_timeout = 2.5\n"
        "tag_threshold = 0.4\n"
        "tempfail_threshold = 0.6\n"
        "reject_threshold = 0.9\n"
        "mode = tag\n"
        "skip_authenticated = no\n"
        "subject_prefix = \"[SPAM] \"\n"
        "reject_reply = 554 5.7.1 Spam: no thanks\n"
        "trusted_networks = none\n"
        "on_overload = accept\n"
        "log_level = debug\n"
        "\tuser\t=\tmail",
        &errs);
    if (!tap_ok(c != NULL, "a valid file parses"))
        tap_diag("%s", errs ? errs : "");
    free(errs);
    if (!c)
        return;
    tap_ok(!strcmp(c->socket, "inet:8891@127.0.0.1"), "string value, CRLF stripped");
    tap_ok(c->socket_mode == 0600, "octal mode");
    tap_ok(c->threads == 4, "integer");
    tap_ok(c->batch_tokens == 16384 && c->batch_wait_ms == 0.25, "batch_tokens and batch_wait_ms (a fraction of a ms)");
    tap_ok(c->max_message_bytes == 512 * 1024, "size with k suffix");
    tap_ok(c->classify_timeout == 2.5, "seconds");
    tap_ok(c->tag_threshold == 0.4 && c->tempfail_threshold == 0.6 && c->reject_threshold == 0.9,
           "thresholds");
    tap_ok(c->mode == MILTER_MODE_TAG, "enum");
    tap_ok(!c->skip_authenticated, "bool");
    tap_ok(!strcmp(c->subject_prefix, "[SPAM] "), "quotes keep blanks");
    tap_ok(!strcmp(c->reject_reply, "554 5.7.1 Spam: no thanks"), "reply with a colon");
    tap_ok(!strcmp(c->trusted_networks, "none"), "empty network list");
    tap_ok(c->on_overload == MILTER_FAIL_ACCEPT, "failure action");
    tap_ok(!strcmp(c->user, "mail"), "tabs around '=' and no final newline");
    tap_ok(c->max_tokens == 0 && c->on_error == MILTER_FAIL_ACCEPT, "unset keys keep defaults");

    /* -e output parses back to the same effective config */
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    milter_config_print(c, f);
    fclose(f);
    milter_config *c2 = parse(out, &errs);
    tap_ok(c2 != NULL, "-e output parses");
    if (!c2)
        tap_diag("%s", errs ? errs : "");
    free(errs);
    if (c2) {
        char *out2 = NULL;
        size_t len2 = 0;
        f = open_memstream(&out2, &len2);
        milter_config_print(c2, f);
        fclose(f);
        tap_ok(!strcmp(out, out2), "-e output round-trips");
        free(out2);

        const char *names[8];
        size_t n = milter_config_fixed_changes(c, c2, names, 8);
        tap_ok(n == 0, "no restart-only change between equal configs");
    }
    milter_config *d = milter_config_defaults();
    const char *names[8];
    size_t n = milter_config_fixed_changes(d, c, names, 8);
    bool has_socket = false, has_threads = false;
    for (size_t i = 0; i < n && i < 8; i++) {
        has_socket |= !strcmp(names[i], "socket");
        has_threads |= !strcmp(names[i], "threads");
    }
    tap_ok(has_socket && !has_threads, "socket needs a restart, threads does not (%zu changes)", n);
    for (size_t i = 0; i < milter_config_key_count(); i++) {
        const char *k = milter_config_key_name(i);
        if (!strcmp(k, "batch_tokens") || !strcmp(k, "batch_wait_ms"))
            tap_ok(milter_config_key_reloadable(i), "%s takes effect on reload", k);
    }
    milter_config_free(d);
    milter_config_free(c2);
    milter_config_free(c);
    free(out);
}

static void test_defaults(void)
{
    milter_config *d = milter_config_defaults();
    tap_ok(d != NULL, "every built-in default parses");
    if (!d)
        return;
    tap_ok(d->max_tokens == 0, "max_tokens default 0 (the model's own)");
    tap_ok(d->batch_tokens == 0, "batch_tokens default 0 (the device's own size)");
    tap_ok(d->batch_wait_ms > 0 && d->batch_wait_ms <= 2, "batch_wait_ms default small (%g ms)", d->batch_wait_ms);
    {
        char *e2 = NULL;
        milter_config *z = parse("batch_tokens = 0\nbatch_wait_ms = 0\n", &e2);
        tap_ok(z && z->batch_tokens == 0 && z->batch_wait_ms == 0, "batch_tokens = 0 and batch_wait_ms = 0 are allowed");
        milter_config_free(z);
        free(e2);
        z = parse("batch_tokens = 1048576\nbatch_wait_ms = 1000\n", &e2);
        tap_ok(z && z->batch_tokens == 1048576 && z->batch_wait_ms == 1000, "the upper bounds are allowed");
        milter_config_free(z);
        free(e2);
    }
    tap_ok(d->classify_timeout < 300, "classify_timeout default below Postfix's 300 s");
    tap_ok(!strcmp(d->spam_label, "spam"), "spam_label default spam");
    tap_ok(!strcmp(d->reject_reply, "550 5.7.1 Message rejected as spam"), "reject_reply default");
    tap_ok(d->skip_authenticated, "skip_authenticated default yes");
    tap_ok(d->on_error == MILTER_FAIL_ACCEPT && d->on_timeout == MILTER_FAIL_ACCEPT &&
               d->on_overload == MILTER_FAIL_TEMPFAIL,
           "failure policy defaults");
    tap_ok(!strcmp(d->header_prefix, "X-Spam"), "header_prefix default X-Spam");
    milter_config_free(d);
    milter_config_free(NULL); /* harmless: a crash here fails the program */
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    return buf;
}

/* conf/llmspam.conf: every key as "# key = ..."; uncommented, it parses;
 * it is exactly what -S prints. man/llmspam.conf.5: ".B key" per key. */
static void test_docs(void)
{
    const char *top = getenv("top_srcdir");
    if (!top)
        top = ".";
    char path[4096];
    snprintf(path, sizeof path, "%s/conf/llmspam.conf", top);
    char *sample = slurp(path);
    snprintf(path, sizeof path, "%s/man/llmspam.conf.5", top);
    char *man = slurp(path);
    if (!tap_ok(sample != NULL, "conf/llmspam.conf is readable") ||
        !tap_ok(man != NULL, "man/llmspam.conf.5 is readable")) {
        free(sample);
        free(man);
        return;
    }
    for (size_t i = 0; i < milter_config_key_count(); i++) {
        const char *k = milter_config_key_name(i);
        char pat[256];
        snprintf(pat, sizeof pat, "\n# %s = ", k);
        tap_ok(strstr(sample, pat) != NULL, "sample config has key %s", k);
        snprintf(pat, sizeof pat, "\n.B %s\n", k);
        tap_ok(strstr(man, pat) != NULL, "llmspam.conf(5) documents key %s", k);
    }
    /* uncomment the "# key = value" lines: the result must parse */
    size_t len = strlen(sample);
    char *un = malloc(len + 1);
    size_t j = 0;
    for (const char *p = sample; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        size_t kl = n > 2 && p[0] == '#' && p[1] == ' ' ? strspn(p + 2, "abcdefghijklmnopqrstuvwxyz_") : 0;
        size_t skip = kl > 0 && !strncmp(p + 2 + kl, " = ", 3) ? 2 : 0;
        memcpy(un + j, p + skip, n - skip);
        j += n - skip;
        p += n;
    }
    un[j] = '\0';
    char *errs = NULL;
    milter_config *c = parse(un, &errs);
    if (!tap_ok(c != NULL, "the sample config, uncommented, parses"))
        tap_diag("%s", errs ? errs : "");
    free(errs);
    milter_config *d = milter_config_defaults();
    tap_ok(c && d && c->tag_threshold == d->tag_threshold && c->max_tokens == d->max_tokens &&
               !strcmp(c->socket, d->socket) && !strcmp(c->reject_reply, d->reject_reply) &&
               !strcmp(c->trusted_networks, d->trusted_networks),
           "the sample shows the built-in defaults");
    /* and it is exactly the generated sample, but for the model path */
    char *gen = NULL;
    size_t gl = 0;
    FILE *f = open_memstream(&gen, &gl);
    milter_config_print_sample(f);
    fclose(f);
    const char *ms = strstr(sample, "\n# model = "), *mg = strstr(gen, "\n# model = ");
    bool same = ms && mg && (size_t)(ms - sample) == (size_t)(mg - gen) &&
                !memcmp(sample, gen, (size_t)(ms - sample)) &&
                !strcmp(strchr(ms + 1, '\n'), strchr(mg + 1, '\n'));
    if (!tap_ok(same, "conf/llmspam.conf is what 'llmspam-milter -S' prints (regenerate it)"))
        tap_diag("regenerate: ./llmspam-milter -S > conf/llmspam.conf");
    free(gen);
    milter_config_free(c);
    milter_config_free(d);
    free(un);
    free(sample);
    free(man);
}

/* The size syntax that llmspam extract --max-message-bytes reuses. */
static void test_sizes(void)
{
    long b = 0;
    tap_ok(milter_config_parse_size("1M", &b) && b == 1048576, "size 1M");
    tap_ok(milter_config_parse_size("64k", &b) && b == 65536, "size 64k");
    tap_ok(milter_config_parse_size("2G", &b) && b == 2147483648L, "size 2G");
    tap_ok(milter_config_parse_size("4096", &b) && b == 4096, "size in bytes");
    tap_ok(!milter_config_parse_size("1x", &b) && !milter_config_parse_size("", &b) &&
               !milter_config_parse_size("M", &b) && !milter_config_parse_size("-1k", &b) &&
               !milter_config_parse_size("99999999999999999999G", &b),
           "bad sizes are refused");
}

/* SIGHUP's guard against a half-written file. */
static void test_reload_check(void)
{
    char *errs = NULL, why[512];
    milter_config *run = parse("threads = 2\nmode = tag\n", &errs);
    free(errs);
    milter_config *empty = parse("", &errs);
    free(errs);
    milter_config *comments = parse("# nothing but a comment\n\n", &errs);
    free(errs);
    milter_config *cut = parse("threads = 2\nmode = ta", &errs); /* mid-save: "ta" is not a mode */
    free(errs);
    milter_config *cut2 = parse("threads = 2\nmode = tag", &errs); /* valid, but the newline is missing */
    free(errs);
    milter_config *fewer = parse("threads = 2\n", &errs);
    free(errs);
    if (!tap_ok(run && empty && comments && !cut && cut2 && fewer, "the reload fixtures parse as expected"))
        goto out;
    tap_ok(run->keys_set == 2 && empty->keys_set == 0 && comments->keys_set == 0 && fewer->keys_set == 1,
           "keys_set counts the keys a file sets");
    tap_ok(!milter_config_reload_check(run, empty, why, sizeof why) && strstr(why, "sets no key"),
           "reload from an empty file is refused: %s", why);
    tap_ok(!milter_config_reload_check(run, comments, why, sizeof why), "reload from comments only is refused");
    tap_ok(!milter_config_reload_check(run, cut2, why, sizeof why) && strstr(why, "no newline"),
           "reload from a file without its final newline is refused: %s", why);
    tap_ok(milter_config_reload_check(run, fewer, why, sizeof why), "a complete file with fewer keys reloads");
    tap_ok(milter_config_reload_check(run, run, why, sizeof why), "the same file reloads");
    tap_ok(milter_config_reload_check(empty, comments, why, sizeof why),
           "from all defaults, an empty file may replace an empty one");
out:
    milter_config_free(run);
    milter_config_free(empty);
    milter_config_free(comments);
    milter_config_free(cut);
    milter_config_free(cut2);
    milter_config_free(fewer);
}

int main(void)
{
    test_errors();
    test_values();
    test_defaults();
    test_docs();
    test_sizes();
    test_reload_check();
    return tap_done();
}
