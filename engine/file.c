/*
 * file: see file.h. One buffer, sized from fstat when the input is a
 * regular file and grown by doubling otherwise (pipes, standard input).
 */
#include "config.h"
#include "engine/file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

engine_status file_read_stream(FILE *f, const char *name, size_t max, unsigned flags, char **buf,
                               size_t *len, engine_err *err)
{
    size_t cap = 65536, n = 0;
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
        (unsigned long long)sb.st_size < SIZE_MAX / 4)
        cap = (size_t)sb.st_size + 1; /* +1: the end is seen without a second grow */
    if (max && cap > max + 1)
        cap = max + 1;
    char *b = malloc(cap + 1);
    if (!b) {
        errno = ENOMEM;
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", name);
    }
    for (;;) {
        if (n == cap) {
            size_t ncap = cap * 2;
            char *nb = ncap > cap ? realloc(b, ncap + 1) : NULL;
            if (!nb) {
                free(b);
                errno = ENOMEM;
                return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", name);
            }
            b = nb;
            cap = ncap;
        }
        errno = 0;
        size_t got = fread(b + n, 1, cap - n, f);
        if (got == 0) {
            if (ferror(f)) { /* keep the reason (EISDIR for a directory) */
                int e = errno ? errno : EIO;
                free(b);
                errno = e;
                return engine_fail(err, ENGINE_ERR_IO, "%s: %s", name, strerror(e));
            }
            break;
        }
        n += got;
        if (max && n > max) {
            if (flags & FILE_READ_PREFIX) {
                n = max;
                break;
            }
            free(b);
            errno = EFBIG;
            return engine_fail(err, ENGINE_ERR_FORMAT, "%s: larger than %zu bytes", name, max);
        }
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return ENGINE_OK;
}

engine_status file_read(const char *path, size_t max, unsigned flags, char **buf, size_t *len,
                        engine_err *err)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        int e = errno;
        engine_status st = engine_fail(err, ENGINE_ERR_IO, "%s: %s", path, strerror(e));
        errno = e;
        return st;
    }
    engine_status st = file_read_stream(f, path, max, flags, buf, len, err);
    int e = errno;
    fclose(f);
    errno = e;
    return st;
}
