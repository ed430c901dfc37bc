/*
 * learnstore: the learn store, a directory of raw messages and their
 * labels, written by "llmspam learn" and read by train/ (--learn-dir) and
 * "llmspam eval --learn-dir"; and the milter's store of recently scored
 * mail (keep_recent), which "llmspam learn --id" copies from.
 *
 *   DIR/spam/KEY.eml, DIR/ham/KEY.eml  one message each, as given; the
 *                                      directory is the label
 *   DIR/ids/MIDKEY                     a Message-ID seen: holds its KEY
 *   DIR/learn.log                      one line per store and label flip
 *   DIR/recent/ID.eml                  the milter's recent mail (X-Spam-Id)
 *   DIR/tmp/                           files being written (recent/ has its own
 *                                      dot files: the milter's user may not
 *                                      own tmp/)
 *
 * KEY is the first 16 hex digits of the sha256 of the body (line ends
 * normalized to LF), MIDKEY those of the Message-ID. A message is the same
 * as a stored one when its body hash or its Message-ID matches: the same
 * label again changes nothing, the other label moves it (a flip, logged).
 *
 * Nothing stored is lost: every file of the labelled part is written
 * under tmp/, flushed to disk and renamed into place, so a full disk or a crash leaves the store
 * as it was (and at worst a file in tmp/); a flip is one rename. Writers
 * of the labelled part hold an exclusive flock on DIR/.lock.
 *
 * Ownership: nothing returned here needs freeing; errors go to err.
 */
#ifndef LLMSPAM_MILTER_LEARNSTORE_H
#define LLMSPAM_MILTER_LEARNSTORE_H

#include <stdbool.h>
#include <stddef.h>

#define LEARNSTORE_KEY_LEN 16
#define LEARNSTORE_ID_LEN 12

typedef enum learnstore_outcome {
    LEARNSTORE_STORED,    /* new message, stored with its label */
    LEARNSTORE_UNCHANGED, /* already stored with this label */
    LEARNSTORE_FLIPPED    /* was stored with the other label: moved */
} learnstore_outcome;

typedef struct learnstore_result {
    learnstore_outcome outcome;
    char key[LEARNSTORE_KEY_LEN + 1];
    char msgid[256];      /* the Message-ID, "" when none */
    bool matched_msgid;   /* found by its Message-ID, not its body */
} learnstore_result;

/* 0 when raw[0..len) starts with a header field ("Name: value"); -1 with
 * the reason otherwise (no headers, binary data). */
int learnstore_check_message(const char *raw, size_t len, char *err, size_t errlen);

/* Store raw[0..len) as spam or ham in dir (created if missing). source
 * names the input in the log. 0 with *out filled, or -1 with the reason
 * (the store then is unchanged). */
int learnstore_put(const char *dir, const char *raw, size_t len, bool spam, const char *source,
                   learnstore_result *out, char *err, size_t errlen);

/* ---- recent mail (the milter) ---- */

/* A new random id of LEARNSTORE_ID_LEN hex digits. */
void learnstore_new_id(char id[LEARNSTORE_ID_LEN + 1]);

/* Keep raw[0..len) as dir/recent/ID.eml; then, now and then, remove kept
 * mail older than max_age_s and the oldest past keep files. 0 or -1. */
int learnstore_keep_recent(const char *dir, const char *id, const char *raw, size_t len, long keep,
                           double max_age_s, char *err, size_t errlen);

/* Remove now what learnstore_keep_recent removes now and then. */
void learnstore_prune_recent(const char *dir, long keep, double max_age_s);

/* The path of recent mail ID in buf; false when id is not an id. */
bool learnstore_recent_path(const char *dir, const char *id, char *buf, size_t len);

#endif
