/*
 * socketspec: parse the milter socket syntax; remove a stale unix socket;
 * set the socket's mode and group. See socketspec.h for the security rules.
 */
#include "config.h"
#include "milter/socketspec.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static bool fail(char *err, size_t errlen, const char *msg, const char *text)
{
    snprintf(err, errlen, "%s: '%s'", msg, text);
    return false;
}

static bool parse_port_host(const char *rest, const char *text, socketspec *out,
                            char *err, size_t errlen)
{
    char *end;
    errno = 0;
    if (*rest < '0' || *rest > '9')
        return fail(err, errlen, "expected PORT@HOST", text);
    unsigned long port = strtoul(rest, &end, 10);
    if (errno || port < 1 || port > 65535)
        return fail(err, errlen, "port out of range 1..65535", text);
    out->port = (unsigned)port;
    if (*end == '\0')
        return true;
    if (*end != '@')
        return fail(err, errlen, "expected PORT@HOST", text);
    end++;
    size_t n = strlen(end);
    if (n == 0 || n >= sizeof out->host)
        return fail(err, errlen, "bad host", text);
    for (const char *p = end; *p; p++)
        if (*p <= ' ' || *p == '@' || *p == '/')
            return fail(err, errlen, "bad character in host", text);
    memcpy(out->host, end, n + 1);
    return true;
}

bool socketspec_parse(const char *text, socketspec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *path = NULL;
    if (!strncmp(text, "unix:", 5))
        path = text + 5;
    else if (!strncmp(text, "local:", 6))
        path = text + 6;
    else if (text[0] == '/')
        path = text;
    if (path) {
        size_t n = strlen(path);
        if (n == 0 || path[0] != '/')
            return fail(err, errlen, "a unix socket needs an absolute path", text);
        if (n >= sizeof out->path)
            return fail(err, errlen, "unix socket path too long", text);
        out->family = SOCKETSPEC_UNIX;
        memcpy(out->path, path, n + 1);
        return true;
    }
    if (!strncmp(text, "inet:", 5)) {
        out->family = SOCKETSPEC_INET;
        return parse_port_host(text + 5, text, out, err, errlen);
    }
    if (!strncmp(text, "inet6:", 6)) {
        out->family = SOCKETSPEC_INET6;
        return parse_port_host(text + 6, text, out, err, errlen);
    }
    return fail(err, errlen, "expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST", text);
}

void socketspec_format(const socketspec *s, char *buf, size_t len)
{
    switch (s->family) {
    case SOCKETSPEC_UNIX:
        snprintf(buf, len, "unix:%s", s->path);
        break;
    case SOCKETSPEC_INET:
    case SOCKETSPEC_INET6:
        snprintf(buf, len, "%s:%u%s%s", s->family == SOCKETSPEC_INET ? "inet" : "inet6",
                 s->port, s->host[0] ? "@" : "", s->host);
        break;
    }
}

int socketspec_remove_stale(const socketspec *s, char *err, size_t errlen)
{
    if (s->family != SOCKETSPEC_UNIX)
        return 0;
    struct stat st;
    if (lstat(s->path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket", s->path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, s->path, strlen(s->path) + 1);
    int rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
    int saved = errno;
    close(fd);
    if (rc == 0) {
        snprintf(err, errlen, "%s: another process listens on this socket", s->path);
        return -1;
    }
    if (saved != ECONNREFUSED) {
        snprintf(err, errlen, "%s: cannot tell whether it is in use: %s", s->path, strerror(saved));
        return -1;
    }
    if (unlink(s->path) < 0 && errno != ENOENT) {
        snprintf(err, errlen, "%s: cannot remove stale socket: %s", s->path, strerror(errno));
        return -1;
    }
    return 1;
}

int socketspec_set_access(const socketspec *s, mode_t mode, const char *group,
                          char *err, size_t errlen)
{
    if (s->family != SOCKETSPEC_UNIX)
        return 0;
    if (group && *group) {
        struct group *gr = getgrnam(group);
        if (!gr) {
            snprintf(err, errlen, "socket_group: no group named '%s'", group);
            return -1;
        }
        if (chown(s->path, (uid_t)-1, gr->gr_gid) < 0) {
            snprintf(err, errlen, "%s: chgrp %s: %s", s->path, group, strerror(errno));
            return -1;
        }
    }
    if (chmod(s->path, mode) < 0) {
        snprintf(err, errlen, "%s: chmod %o: %s", s->path, (unsigned)mode, strerror(errno));
        return -1;
    }
    return 0;
}
