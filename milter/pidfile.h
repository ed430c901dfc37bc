/*
 * pidfile: the process id file, locked. pidfile_lock() opens (or creates)
 * the file, takes an exclusive flock(2) on it and writes our pid; the
 * descriptor stays open, so the lock lasts exactly as long as this
 * process. Only a running llmspam-milter can hold it: a pidfile left by a
 * crash, even one whose pid now belongs to some other process, is not
 * locked and is simply taken over. Start-up calls it first, before the
 * model is loaded and the socket made, so a refused start touches
 * nothing.
 *
 * Ownership: one pidfile per process (module state); nothing to free.
 */
#ifndef LLMSPAM_MILTER_PIDFILE_H
#define LLMSPAM_MILTER_PIDFILE_H

#include <stddef.h>

/* path "" or NULL: nothing to do (0). 0 when locked and written, with
 * *stale set to the pid a leftover file named (0 when the file was new or
 * empty); -1 with the reason in err (another daemon holds the lock: its
 * pid is named). */
int pidfile_lock(const char *path, long *stale, char *err, size_t errlen);
/* Remove the file if it still holds our pid, and drop the lock. 0 or -1
 * with the reason in err. */
int pidfile_remove(const char *path, char *err, size_t errlen);

#endif
