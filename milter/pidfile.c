/*
 * pidfile: lock, write, remove.
 */
#include "config.h"
#include "milter/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int lock_fd = -1;

/* The pid written in the open file fd, 0 when none. */
static long fd_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long pid = strtol(buf, NULL, 10);
    return pid > 0 ? pid : 0;
}

int pidfile_lock(const char *path, long *stale, char *err, size_t errlen)
{
    *stale = 0;
    if (!path || !*path)
        return 0;
    /* O_NOFOLLOW: never write through a planted symlink */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    /* flock, not fcntl: an fcntl lock would go with the first close() of
     * any descriptor of the file in this process */
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        long pid = fd_pid(fd);
        close(fd);
        if (e == EWOULDBLOCK) {
            if (pid)
                snprintf(err, errlen, "%s: llmspam-milter (pid %ld) is running", path, pid);
            else
                snprintf(err, errlen, "%s: locked by a running llmspam-milter", path);
        } else {
            snprintf(err, errlen, "%s: flock: %s", path, strerror(e));
        }
        return -1;
    }
    long old = fd_pid(fd);
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        snprintf(err, errlen, "%s: write: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    *stale = old != (long)getpid() ? old : 0;
    lock_fd = fd;
    return 0;
}

int pidfile_remove(const char *path, char *err, size_t errlen)
{
    if (!path || !*path || lock_fd < 0)
        return 0;
    int rc = 0;
    /* unlink only the file we hold, and only while it names us */
    struct stat a, b;
    if (fd_pid(lock_fd) == (long)getpid() && fstat(lock_fd, &a) == 0 && lstat(path, &b) == 0 &&
        a.st_dev == b.st_dev && a.st_ino == b.st_ino && unlink(path) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    close(lock_fd);
    lock_fd = -1;
    return rc;
}
