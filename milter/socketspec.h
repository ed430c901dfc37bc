/*
 * socketspec: the milter socket syntax that Sendmail, Postfix and OpenDKIM
 * share: "unix:/path" (also "local:/path" or a bare "/path"),
 * "inet:PORT@HOST" and "inet6:PORT@HOST" (HOST optional: all addresses).
 *
 * Security: the unix socket is created by libmilter while still privileged
 * (start-up step 3); socketspec_remove_stale() removes an existing socket
 * file only when nothing accepts connections on it, and never removes a
 * file that is not a socket, so a typo cannot delete a regular file or
 * steal a running daemon's socket.
 *
 * Ownership: socketspec is a plain value; nothing here allocates.
 */
#ifndef LLMSPAM_MILTER_SOCKETSPEC_H
#define LLMSPAM_MILTER_SOCKETSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef enum socketspec_family {
    SOCKETSPEC_UNIX,
    SOCKETSPEC_INET,
    SOCKETSPEC_INET6
} socketspec_family;

typedef struct socketspec {
    socketspec_family family;
    char path[108];   /* unix: the socket file (sizeof sun_path) */
    unsigned port;    /* inet, inet6: 1..65535 */
    char host[256];   /* inet, inet6: "" means every address */
} socketspec;

/* Parse text; false with a one-line reason in err on a syntax error. */
bool socketspec_parse(const char *text, socketspec *out, char *err, size_t errlen);

/* The libmilter connection string for s ("unix:/p", "inet:25@h", ...). */
void socketspec_format(const socketspec *s, char *buf, size_t len);

/* unix only (others: 0). 0 when the path is free, 1 when a stale socket
 * was there and was removed (the caller logs it); -1 with a reason in err
 * when a daemon listens there, the file is not a socket, or it cannot be
 * removed. */
int socketspec_remove_stale(const socketspec *s, char *err, size_t errlen);

/* unix only (others: 0). chmod to mode, and chgrp to group unless group is
 * NULL or "". -1 with a reason in err on failure. */
int socketspec_set_access(const socketspec *s, mode_t mode, const char *group,
                          char *err, size_t errlen);

#endif
