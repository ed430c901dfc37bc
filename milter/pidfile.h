/*
 * pidfile: write the process id file (start-up step 4, while privileged)
 * and remove it at shutdown. The file is created with O_EXCL after removing
 * a stale one only if the process it names is gone, so two daemons with the
 * same pidfile do not both start.
 */
#ifndef LLMSPAM_MILTER_PIDFILE_H
#define LLMSPAM_MILTER_PIDFILE_H

#include <stddef.h>

/* path "" or NULL: nothing to do. 0 or -1 with the reason in err. */
int pidfile_write(const char *path, char *err, size_t errlen);
/* Remove it if it still holds our pid. 0 or -1 with the reason in err. */
int pidfile_remove(const char *path, char *err, size_t errlen);

#endif
