/*
 * file: the engine's one whole-file reader (config.json, tokenizer.json,
 * model.safetensors.index.json; the command line's messages and texts
 * through tools/files.h). The bytes are read, not mapped: a file cut short
 * while mapped would kill the process with SIGBUS. Sizes are bounded: more
 * than max bytes is an error, or with FILE_READ_PREFIX the first max.
 *
 * Ownership: *buf is the caller's (free()); it is NUL-terminated past
 * *len so that text parsers may read it as a string. On failure nothing
 * is returned, err names the file, and errno says why (ENOMEM, EFBIG for
 * a file over max, else the open's or the read's errno).
 */
#ifndef LLMSPAM_ENGINE_FILE_H
#define LLMSPAM_ENGINE_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "engine/status.h"

#define FILE_READ_PREFIX 1u /* over max: the first max bytes, not an error */

/* path's bytes; max 0 = no bound. */
engine_status file_read(const char *path, size_t max, unsigned flags, char **buf, size_t *len,
                        engine_err *err);

/* The same from an open stream (standard input); name is for messages. */
engine_status file_read_stream(FILE *f, const char *name, size_t max, unsigned flags, char **buf,
                               size_t *len, engine_err *err);

#endif
