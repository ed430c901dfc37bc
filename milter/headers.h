/*
 * headers: the SpamAssassin-compatible headers llmspam adds, the removal
 * of look-alike headers that arrived with the message, and the Subject
 * rewrite. No libmilter here: the callbacks apply what this module lists.
 *
 *   X-Spam-Flag: YES                          (only when flagged)
 *   X-Spam-Status: Yes, score=0.973 required=0.500 model=NAME tokens=412
 *   X-Spam-Score: 0.973
 *   X-Spam-Level: *********                   (one '*' per 0.1)
 *   X-Spam-Unclassified: timeout              (on_* = accept failures;
 *                                              "empty": no text, empty_text)
 *
 * Security: every arriving header whose name is the prefix or starts with
 * "PREFIX-" (case-insensitive) is removed before ours are added, so that a
 * sender cannot forge a verdict that sieve or procmail rules would trust.
 * Values put into headers come from the config and numbers, never from
 * the message, except the rewritten Subject (its CR/LF are replaced).
 *
 * Ownership: headers_set is a caller-owned value. headers_spoof is opaque,
 * from headers_spoof_new(), freed with headers_spoof_free().
 */
#ifndef LLMSPAM_MILTER_HEADERS_H
#define LLMSPAM_MILTER_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

#define HEADERS_MAX 6
#define HEADERS_NAME_MAX 128
/* header_prefix's longest: with the longest suffix ("-Unclassified") it
 * stays under HEADERS_NAME_MAX, so no name is cut into another's. */
#define HEADERS_PREFIX_MAX 64
#define HEADERS_VALUE_MAX 512

typedef struct headers_set {
    size_t n;
    struct {
        char name[HEADERS_NAME_MAX];
        char value[HEADERS_VALUE_MAX];
    } h[HEADERS_MAX];
} headers_set;

/* The headers of a classified message. required is tag_threshold; model a
 * short name (control characters and blanks are replaced). */
void headers_build(headers_set *out, const char *prefix, double score, double required,
                   bool flag, const char *model, int tokens);

/* The header of a message that was not classified (reason: "timeout"...). */
void headers_build_unclassified(headers_set *out, const char *prefix, const char *reason);
/* Same, with X-Spam-Flag: YES first when flag (empty_text = tag). */
void headers_build_unscored(headers_set *out, const char *prefix, const char *reason, bool flag);

/* Number of '*' in X-Spam-Level for a score (floor of score*10, 0..10). */
int headers_level_stars(double score);

/* Whether an arriving header name is one of ours (to be removed). */
bool headers_is_ours(const char *prefix, const char *name);

/* Tracks arriving headers so ours can be removed by (name, index): libmilter
 * addresses a header as the index-th (1-based) occurrence of its name. */
typedef struct headers_spoof headers_spoof;

headers_spoof *headers_spoof_new(const char *prefix);
void headers_spoof_free(headers_spoof *s);
/* At most this many of our headers are tracked for removal. */
#define HEADERS_SPOOF_MAX 1000
/* Note one arriving header; false when out of memory or when it is one of
 * ours past HEADERS_SPOOF_MAX (then headers_spoof_overflow() is true): the
 * forged header could not be removed, so the message must not pass. */
bool headers_spoof_note(headers_spoof *s, const char *name);
bool headers_spoof_overflow(const headers_spoof *s);
/* Removals, in the order they must be applied (highest index first per
 * name, so earlier removals do not renumber later ones). */
size_t headers_spoof_count(const headers_spoof *s);
void headers_spoof_get(headers_spoof *s, size_t i, const char **name, int *index);

/* New Subject for flagged mail: "PREFIX original" (original may be NULL);
 * caller frees. NULL when out of memory. CR and LF become spaces. */
char *headers_subject_rewrite(const char *prefix, const char *original);

#endif
