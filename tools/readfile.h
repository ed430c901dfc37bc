/*
 * readfile: read a whole input file (a message, a text) into memory for the
 * command-line tools. The caller owns the returned buffer (free()).
 */
#ifndef LLMSPAM_TOOLS_READFILE_H
#define LLMSPAM_TOOLS_READFILE_H

#include <stdbool.h>
#include <stddef.h>

/* The bytes of path (standard input for "-" when dash_is_stdin), at most
 * max of them when max > 0, NUL-terminated past *len. NULL with errno set
 * (the open's errno, EIO on a read error, ENOMEM). */
char *tools_read_file(const char *path, bool dash_is_stdin, size_t max, size_t *len);

#endif
