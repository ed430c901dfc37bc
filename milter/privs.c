/*
 * privs: drop root to the configured user and group.
 */
#include "config.h"
#include "milter/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int privs_check_root(const char *user, bool allow_root, char *err, size_t errlen)
{
    if (!user || !*user) {
        if (!allow_root) {
            snprintf(err, errlen, "refusing to run as root: set user (or allow_root = yes)");
            return -1;
        }
        return 0;
    }
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errlen, "user: no user named '%s'", user);
        return -1;
    }
    if (pw->pw_uid == 0 && !allow_root) {
        snprintf(err, errlen, "refusing to run as root: user '%s' is uid 0 (allow_root = yes permits it)", user);
        return -1;
    }
    return 0;
}

int privs_drop(const char *user, const char *group, bool allow_root,
               char *note, size_t notelen, char *err, size_t errlen)
{
    uid_t uid = getuid(), euid = geteuid();
    snprintf(note, notelen, "no privilege change");
    if (euid != 0) {
        if (user && *user) {
            struct passwd *pw = getpwnam(user);
            if (!pw) {
                snprintf(err, errlen, "user: no user named '%s'", user);
                return -1;
            }
            if (pw->pw_uid != euid) {
                snprintf(err, errlen, "user: running as uid %ld, not root, so cannot become '%s'",
                         (long)euid, user);
                return -1;
            }
        }
        snprintf(note, notelen, "running as uid %ld (not started as root)", (long)uid);
        return 0;
    }
    if (privs_check_root(user, allow_root, err, errlen) < 0)
        return -1;
    struct passwd *pw = user && *user ? getpwnam(user) : NULL;
    if (!pw || pw->pw_uid == 0) {
        snprintf(note, notelen, "running as root (allow_root = yes)");
        return 0;
    }
    gid_t gid = pw->pw_gid;
    if (group && *group) {
        struct group *gr = getgrnam(group);
        if (!gr) {
            snprintf(err, errlen, "group: no group named '%s'", group);
            return -1;
        }
        gid = gr->gr_gid;
    }
    if (setgid(gid) < 0) {
        snprintf(err, errlen, "setgid(%ld): %s", (long)gid, strerror(errno));
        return -1;
    }
    if (initgroups(pw->pw_name, gid) < 0) {
        snprintf(err, errlen, "initgroups(%s): %s", pw->pw_name, strerror(errno));
        return -1;
    }
    if (setuid(pw->pw_uid) < 0) {
        snprintf(err, errlen, "setuid(%ld): %s", (long)pw->pw_uid, strerror(errno));
        return -1;
    }
    /* a correct drop cannot be undone */
    if (setuid(0) == 0 || geteuid() == 0) {
        snprintf(err, errlen, "root privileges could be regained after setuid(%ld)", (long)pw->pw_uid);
        return -1;
    }
    snprintf(note, notelen, "running as user %s (uid %ld, gid %ld)", pw->pw_name,
             (long)pw->pw_uid, (long)gid);
    return 0;
}

int privs_handover(const char *user, const char *path, char *err, size_t errlen)
{
    if (geteuid() != 0 || !user || !*user || !path || !*path)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errlen, "user: no user named '%s'", user);
        return -1;
    }
    if (lchown(path, pw->pw_uid, (gid_t)-1) < 0) {
        snprintf(err, errlen, "%s: chown %s: %s", path, user, strerror(errno));
        return -1;
    }
    return 0;
}
