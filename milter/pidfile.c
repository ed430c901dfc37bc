/*
 * pidfile: create, check for a live owner, remove.
 */
#include "config.h"
#include "milter/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long read_pid(const char *path)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

int pidfile_write(const char *path, char *err, size_t errlen)
{
    if (!path || !*path)
        return 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd >= 0) {
            char buf[32];
            int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
            if (write(fd, buf, (size_t)n) != n) {
                snprintf(err, errlen, "%s: write: %s", path, strerror(errno));
                close(fd);
                unlink(path);
                return -1;
            }
            close(fd);
            return 0;
        }
        if (errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
        long pid = read_pid(path);
        if (pid > 0 && pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
            snprintf(err, errlen, "%s: process %ld is running", path, pid);
            return -1;
        }
        if (unlink(path) < 0 && errno != ENOENT) {
            snprintf(err, errlen, "%s: cannot remove stale pidfile: %s", path, strerror(errno));
            return -1;
        }
    }
    snprintf(err, errlen, "%s: cannot create", path);
    return -1;
}

int pidfile_remove(const char *path, char *err, size_t errlen)
{
    if (!path || !*path)
        return 0;
    if (read_pid(path) != (long)getpid())
        return 0;
    if (unlink(path) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
