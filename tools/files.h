/*
 * files: the input files of the command-line tools: a whole file (a
 * message, a text) read into memory, and the message files of a directory.
 * The caller owns what is returned (free(); tools_dir_files_free()).
 */
#ifndef LLMSPAM_TOOLS_FILES_H
#define LLMSPAM_TOOLS_FILES_H

#include <stdbool.h>
#include <stddef.h>

/* The bytes of path (standard input for "-" when dash_is_stdin), at most
 * max of them when max > 0, NUL-terminated past *len. NULL with errno set
 * (the open's or the read's errno, EIO when it gave none, ENOMEM). */
char *tools_read_file(const char *path, bool dash_is_stdin, size_t max, size_t *len);

/* The paths "dir/name" of the regular files of dir whose names do not
 * start with '.', sorted by name, in *paths[0..*n). false with errno set
 * when dir cannot be read or memory runs out (nothing is returned then). */
bool tools_dir_files(const char *dir, char ***paths, size_t *n);
void tools_dir_files_free(char **paths, size_t n);

#endif
