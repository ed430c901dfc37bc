/*
 * llmspam_conf: /etc/llmspam.conf. One declarative table (llmspam_conf.c) holds every
 * key's name, type, default, bounds, reloadable flag and one-line doc; it
 * drives the parser, `llmspam-milter -n` (check), `-e` (effective config)
 * and the sample conf/llmspam.conf (`-S`). The syntax is "key = value"
 * lines; a line whose first non-blank character is '#' is a comment.
 *
 * Security: the file is read while privileged (start-up step 1) and again
 * on SIGHUP after the privilege drop; it is trusted for content but still
 * parsed with bounds (line length, file size, NUL bytes, every value range)
 * so a broken file is an error naming file:line, never a crash.
 *
 * Ownership: milter_config_load()/_parse() return a config owned by the
 * caller (milter_config_free()); its strings belong to it. The error text
 * they return is caller-owned too (free()). A loaded config is immutable:
 * reload builds a new one (runtime.h).
 */
#ifndef LLMSPAM_MILTER_LLMSPAM_CONF_H
#define LLMSPAM_MILTER_LLMSPAM_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum milter_mode {
    MILTER_MODE_ENFORCE,  /* headers, reject, tempfail as configured */
    MILTER_MODE_TAG,      /* headers only: reject and tempfail become tag */
    MILTER_MODE_MONITOR   /* log only; the mail is not changed at all */
} milter_mode;

typedef enum milter_failaction {
    MILTER_FAIL_ACCEPT,   /* deliver with a header saying it was not classified */
    MILTER_FAIL_TEMPFAIL  /* 4xx: the MTA keeps the message and retries */
} milter_failaction;

/* empty_text: what happens to a message with no text to classify. */
typedef enum milter_emptyaction {
    MILTER_EMPTY_ACCEPT,  /* deliver unscored, with "PREFIX-Unclassified: empty" */
    MILTER_EMPTY_TAG,     /* deliver flagged as spam, unscored */
    MILTER_EMPTY_REJECT   /* 5xx reject_reply */
} milter_emptyaction;

/* Threshold keys that can be switched off hold this value. */
#define MILTER_THRESHOLD_OFF (-1.0)

typedef struct milter_config {
    char *path;                 /* the file it came from ("(defaults)") */
    /* socket and process */
    char *socket;
    int socket_mode;
    char *socket_group;         /* "" = leave as created */
    char *pidfile;              /* "" = none */
    char *user;                 /* "" = stay as started */
    char *group;                /* "" = the user's primary group */
    bool allow_root;
    int syslog_facility;        /* LOG_MAIL, ... */
    int log_level;              /* LOG_ERR .. LOG_DEBUG */
    long milter_timeout;        /* libmilter I/O timeout, seconds */
    /* model and engine */
    char *model;
    char *device;
    long threads;
    long max_tokens;
    long queue_length;
    long batch_tokens;          /* 0 = the backend's capacity */
    double batch_wait_ms;
    double classify_timeout;    /* seconds */
    /* what is scanned */
    long max_message_bytes;
    long max_text_bytes;
    char *render_headers;
    char *spam_label;
    int empty_text;             /* milter_emptyaction */
    /* decision */
    double tag_threshold;
    double tempfail_threshold;  /* MILTER_THRESHOLD_OFF or 0..1 */
    double reject_threshold;    /* MILTER_THRESHOLD_OFF or 0..1 */
    int mode;                   /* milter_mode */
    /* headers and replies */
    char *header_prefix;
    char *subject_prefix;       /* "" = the subject is not rewritten */
    char *reject_reply;
    char *tempfail_reply;
    /* skips */
    bool skip_authenticated;
    char *trusted_networks;
    /* failure policy */
    int on_error, on_timeout, on_overload; /* milter_failaction */
    /* monitoring */
    char *metrics;              /* "" = off; else inet:PORT@HOST (metrics.h) */
    /* learning (learnstore.h) */
    char *learn_dir;
    long keep_recent;           /* 0 = no X-Spam-Id, nothing kept */
    double keep_recent_age;     /* seconds */
    /* the file itself, for milter_config_reload_check() */
    size_t keys_set;            /* keys the file sets */
    bool last_line_cut;         /* the text does not end with a newline */
} milter_config;

/* Read and check path. On any problem: NULL, and *errors (when errors is not
 * NULL) holds one "FILE:LINE: message" line per problem (caller frees). */
milter_config *milter_config_load(const char *path, char **errors);

/* milter_config_load(), with the problems (or "out of memory") written to
 * err: for the command lines (-n, -e, -t, the daemon's start-up). */
milter_config *milter_config_read(const char *path, FILE *err);

/* Same for text already in memory; name is used in the messages. */
milter_config *milter_config_parse(const char *name, const char *text, size_t len,
                                   char **errors);

/* The defaults alone (never NULL except out of memory). */
milter_config *milter_config_defaults(void);

void milter_config_free(milter_config *c);

/* `-e`: every key as "key = value", table order. */
void milter_config_print(const milter_config *c, FILE *out);

/* `-S`: the sample file: every key commented out at its default, with its
 * doc line, grouped. conf/llmspam.conf is this output. */
void milter_config_print_sample(FILE *out);

/* Number of keys, and the i-th key's name (NULL past the end). */
size_t milter_config_key_count(void);
const char *milter_config_key_name(size_t i);
bool milter_config_key_reloadable(size_t i);

/* Keys that differ between a and b and need a restart to take effect;
 * writes up to max names into names (static strings), returns the count. */
size_t milter_config_fixed_changes(const milter_config *a, const milter_config *b,
                                   const char **names, size_t max);

/* SIGHUP's guard against a half-written file: a reload is refused when the
 * new file's last line has no newline (cut mid-save), or when it sets no
 * key at all while the running one set some (empty or truncated to
 * nothing): either would silently put keys back to their defaults. true
 * when next may replace running; else false with the reason in why. */
bool milter_config_reload_check(const milter_config *running, const milter_config *next,
                                char *why, size_t whylen);

/* A size as the config writes it: bytes, or with a k, M or G suffix
 * (1024-based), e.g. "1M". false on bad syntax or overflow. */
bool milter_config_parse_size(const char *text, long *bytes);

/* Name of an enum value as written in the file ("enforce", "tempfail"). */
const char *milter_mode_name(int mode);
const char *milter_failaction_name(int fa);

#endif
