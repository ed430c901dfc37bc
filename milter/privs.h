/*
 * privs: the privilege drop (start-up step 5): setgid, initgroups, setuid,
 * in that order, then a check that root cannot be regained. Runs after the
 * socket is open, the model is read and the pidfile is written.
 *
 * Security: when started as root with an empty `user`, or with user root,
 * the daemon refuses to go on unless allow_root says so. Started as an
 * ordinary user there is nothing to drop; a different configured user is
 * then an error, since the daemon cannot become it.
 */
#ifndef LLMSPAM_MILTER_PRIVS_H
#define LLMSPAM_MILTER_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

/* The refusal the drop makes when started as root (what -n checks): an
 * empty or uid-0 user without allow_root, or no such user. 0 or -1. */
int privs_check_root(const char *user, bool allow_root, char *err, size_t errlen);

/* 0 on success (with what was done in note), -1 with the reason in err. */
int privs_drop(const char *user, const char *group, bool allow_root,
               char *note, size_t notelen, char *err, size_t errlen);

/* Before the drop: give path (the pidfile, the unix socket) to user, so
 * that the daemon can remove it at shutdown from a sticky or user-owned
 * directory. Nothing to do when not root or user is empty. 0 or -1. */
int privs_handover(const char *user, const char *path, char *err, size_t errlen);

#endif
