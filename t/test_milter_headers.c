/*
 * test_milter_headers: our SpamAssassin-compatible headers, the X-Spam-Level
 * stars, the removal list for forged headers (names, 1-based indexes,
 * highest first) and the Subject rewrite.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "milter/headers.h"
#include "t/lib/tap.h"

#include <stdio.h>

static const char *get(const headers_set *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (!strcmp(h->h[i].name, name))
            return h->h[i].value;
    return NULL;
}

static void test_build(void)
{
    headers_set h;
    headers_build(&h, "X-Spam", 0.9731, 0.5, true, "tiny-model", 412);
    tap_ok(get(&h, "X-Spam-Flag") && !strcmp(get(&h, "X-Spam-Flag"), "YES"), "flagged: X-Spam-Flag: YES");
    tap_ok(get(&h, "X-Spam-Status") &&
               !strcmp(get(&h, "X-Spam-Status"), "Yes, score=0.973 required=0.500 model=tiny-model tokens=412"),
           "X-Spam-Status Yes, as SpamAssassin writes it: %s", get(&h, "X-Spam-Status"));
    tap_ok(get(&h, "X-Spam-Score") && !strcmp(get(&h, "X-Spam-Score"), "0.973"), "X-Spam-Score");
    tap_ok(get(&h, "X-Spam-Level") && !strcmp(get(&h, "X-Spam-Level"), "*********"), "X-Spam-Level: 9 stars");

    headers_build(&h, "X-Junk", 0.02, 0.5, false, "a b;c\n", 7);
    tap_ok(!get(&h, "X-Junk-Flag"), "not flagged: no Flag header");
    tap_ok(get(&h, "X-Junk-Status") &&
               !strcmp(get(&h, "X-Junk-Status"), "No, score=0.020 required=0.500 model=a_b_c_ tokens=7"),
           "prefix and model name sanitised: %s", get(&h, "X-Junk-Status"));
    tap_ok(get(&h, "X-Junk-Level") && !strcmp(get(&h, "X-Junk-Level"), ""), "zero stars is an empty Level");

    headers_build_unclassified(&h, "X-Spam", "timeout");
    tap_ok(h.n == 1 && !strcmp(h.h[0].name, "X-Spam-Unclassified") && !strcmp(h.h[0].value, "timeout"),
           "unclassified header");

    static const struct { double s; int stars; } lv[] = {
        {0, 0}, {0.05, 0}, {0.1, 1}, {0.3, 3}, {0.29999, 2}, {0.7, 7}, {0.999, 9}, {1.0, 10}, {-1, 0}, {2, 10}};
    for (size_t i = 0; i < sizeof lv / sizeof lv[0]; i++)
        tap_ok(headers_level_stars(lv[i].s) == lv[i].stars, "level(%g) = %d", lv[i].s, lv[i].stars);
}

static void test_spoof(void)
{
    static const char *arriving[] = {
        "Received", "X-Spam-Flag", "Subject", "x-spam-status", "X-Spam-Flag", "X-Spamming-Tool",
        "X-Spam", "From", "X-SPAM-FLAG", "X-Spam-Level", "X-Spam-Score-Extra",
    };
    headers_spoof *s = headers_spoof_new("X-Spam");
    for (size_t i = 0; i < sizeof arriving / sizeof arriving[0]; i++)
        headers_spoof_note(s, arriving[i]);
    /* X-Spam-Flag x3 (case-insensitive), x-spam-status, X-Spam, X-Spam-Level,
     * X-Spam-Score-Extra; not X-Spamming-Tool, Received, Subject, From */
    tap_ok(headers_spoof_count(s) == 7, "7 forged headers to remove (%zu)", headers_spoof_count(s));
    int flag_idx[4] = {0}, nflag = 0, last = 1000;
    bool order_ok = true, others_ok = true;
    for (size_t i = 0; i < headers_spoof_count(s); i++) {
        const char *name;
        int idx;
        headers_spoof_get(s, i, &name, &idx);
        if (idx > last)
            order_ok = false;
        last = idx;
        if (!strcasecmp(name, "X-Spam-Flag")) {
            if (nflag < 4)
                flag_idx[nflag++] = idx;
        } else if (idx != 1) {
            others_ok = false;
        }
        if (!strcasecmp(name, "X-Spamming-Tool"))
            others_ok = false;
    }
    tap_ok(nflag == 3 && flag_idx[0] == 3 && flag_idx[1] == 2 && flag_idx[2] == 1,
           "X-Spam-Flag removed as occurrences 3, 2, 1");
    tap_ok(order_ok, "removals come highest index first");
    tap_ok(others_ok, "single ones at index 1, look-alike names kept");
    headers_spoof_free(s);
    headers_spoof_free(NULL);

    s = headers_spoof_new("X-Spam");
    headers_spoof_note(s, "Subject");
    tap_ok(headers_spoof_count(s) == 0, "a clean message has nothing to remove");
    headers_spoof_free(s);

    /* the bound: past HEADERS_SPOOF_MAX of ours a note fails, others still pass */
    s = headers_spoof_new("X-Spam");
    bool under = true;
    for (int i = 0; i < HEADERS_SPOOF_MAX; i++) {
        char name[32];
        snprintf(name, sizeof name, "X-Spam-%d", i % 7 ? i : 0);
        under = under && headers_spoof_note(s, name);
    }
    tap_ok(under && !headers_spoof_overflow(s) && headers_spoof_count(s) == HEADERS_SPOOF_MAX,
           "%d of our headers are all noted", HEADERS_SPOOF_MAX);
    tap_ok(headers_spoof_note(s, "Received") && !headers_spoof_overflow(s),
           "past the bound, a header not ours is still fine");
    tap_ok(!headers_spoof_note(s, "X-Spam-Flag") && headers_spoof_overflow(s) &&
               headers_spoof_count(s) == HEADERS_SPOOF_MAX,
           "one more of ours fails and says overflow");
    headers_spoof_free(s);

    tap_ok(headers_is_ours("X-Spam", "x-spam-virus") && headers_is_ours("X-Spam", "X-Spam") &&
               !headers_is_ours("X-Spam", "X-Spammer") && !headers_is_ours("X-Spam", "X-Spa"),
           "headers_is_ours matches the prefix and PREFIX-*");
}

static void test_subject(void)
{
    char *s = headers_subject_rewrite("[SPAM]", " Cheap pills");
    tap_ok(s && !strcmp(s, "[SPAM] Cheap pills"), "subject rewrite: '%s'", s);
    free(s);
    s = headers_subject_rewrite("[SPAM]", "[SPAM] Cheap pills");
    tap_ok(s && !strcmp(s, "[SPAM] Cheap pills"), "prefix not stacked: '%s'", s);
    free(s);
    s = headers_subject_rewrite("[SPAM]", NULL);
    tap_ok(s && !strcmp(s, "[SPAM]"), "no Subject: the prefix alone");
    free(s);
    s = headers_subject_rewrite("[SPAM]", "a\r\n b");
    tap_ok(s && !strchr(s, '\r') && !strchr(s, '\n'), "CR/LF removed from the subject");
    free(s);
}

int main(void)
{
    test_build();
    test_spoof();
    test_subject();
    return tap_done();
}
