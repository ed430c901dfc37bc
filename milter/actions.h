/*
 * actions: the one decision of what to do to a message, as a list. A scan
 * result and the headers noted while the message arrived become, in the
 * order they must be applied: remove these arriving PREFIX-* headers, add
 * these headers, change (or add) the Subject, set this SMTP reply. The
 * end-of-message callback applies the list through smfi_*; the offline
 * `llmspam-milter -t` prints it (actions_print), so a test of -t tests
 * what the daemon does. No libmilter here.
 *
 * Security: header values come from the scan result (config and numbers)
 * except the rewritten Subject, whose CR/LF headers_subject_rewrite()
 * replaced; names and indexes of removals come from headers_spoof.
 *
 * Ownership: actions_build() returns a list owned by the caller
 * (actions_free()). Its items borrow names and values from the scan
 * result and the headers_spoof given, which must outlive the list; the
 * rewritten Subject and the reply belong to the list.
 */
#ifndef LLMSPAM_MILTER_ACTIONS_H
#define LLMSPAM_MILTER_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "milter/headers.h"
#include "milter/scan.h"

typedef enum actions_kind {
    ACTIONS_REMOVE_HEADER, /* name, index: the index-th arriving name */
    ACTIONS_ADD_HEADER,    /* name, value */
    ACTIONS_CHANGE_HEADER, /* name, index, value */
    ACTIONS_SET_REPLY      /* code, xcode, value (the text), and reply: the whole */
} actions_kind;

typedef struct actions_item {
    actions_kind kind;
    const char *name;
    int index;
    const char *value;
    char code[4], xcode[16];
    const char *reply;     /* ACTIONS_SET_REPLY: "550 5.7.1 text" */
} actions_item;

typedef struct actions_list actions_list;

/* The list for r. spoof: the arriving headers (may be NULL: none noted);
 * subject: the first arriving Subject value (NULL: none); subject_lost:
 * noting the Subject failed, so no rewrite (actions_subject_lost() says
 * so). NULL only when out of memory. */
actions_list *actions_build(const scan_result *r, const char *subject_prefix, headers_spoof *spoof,
                            const char *subject, bool subject_lost);
void actions_free(actions_list *l);

size_t actions_count(const actions_list *l);
const actions_item *actions_get(const actions_list *l, size_t i);
/* How many of the items are removals of arriving headers. */
size_t actions_removed(const actions_list *l);
/* The Subject was to be rewritten but its value was not noted. */
bool actions_subject_lost(const actions_list *l);

/* One line per item: "remove header: NAME[I]", "add header: NAME: VALUE",
 * "change header: NAME: VALUE", "reply: CODE X.Y.Z text". */
void actions_print(const actions_list *l, FILE *out);

#endif
