/*
 * files: the input files of the command-line tools: a whole file (a
 * message, a text) read into memory, the message files of a directory,
 * and the messages of an mbox.
 * The caller owns what is returned (free(); tools_dir_files_free()).
 */
#ifndef LLMSPAM_TOOLS_FILES_H
#define LLMSPAM_TOOLS_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The bytes of path (standard input for "-" when dash_is_stdin), at most
 * max of them when max > 0, NUL-terminated past *len: engine/file.h's
 * reader with the errno interface the commands print. NULL with errno set
 * (the open's or the read's errno, EIO when it gave none, ENOMEM). */
char *tools_read_file(const char *path, bool dash_is_stdin, size_t max, size_t *len);

/* The paths "dir/name" of the regular files of dir whose names do not
 * start with '.', sorted by name, in *paths[0..*n). false with errno set
 * when dir cannot be read or memory runs out (nothing is returned then). */
bool tools_dir_files(const char *dir, char ***paths, size_t *n);
void tools_dir_files_free(char **paths, size_t n);

/* The messages of an mbox read from f: a message starts after a "From "
 * line at the start of the input or of a line (that envelope line is not
 * part of it) and ends where the next one starts; bytes before the first
 * such line belong to none. each(arg, n, off, len) gets the n-th message
 * (from 1) as a byte range of the input; its false stops the walk. false
 * with errno when reading fails (EIO) or each returned false (its errno). */
typedef bool (*tools_mbox_fn)(void *arg, size_t n, long long off, long long len);
bool tools_mbox_split(FILE *f, tools_mbox_fn each, void *arg);

#endif
