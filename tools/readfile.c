/* readfile: see readfile.h. */
#include "tools/readfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tools_read_file(const char *path, bool dash_is_stdin, size_t max, size_t *len)
{
    bool is_stdin = dash_is_stdin && !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    if (max && cap > max)
        cap = max;
    char *buf = malloc(cap + 1);
    int err = buf ? 0 : ENOMEM;
    while (buf) {
        if (n == cap) {
            if (max && cap >= max)
                break;
            size_t ncap = max && cap * 2 > max ? max : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                err = ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    if (!err && ferror(f))
        err = EIO;
    if (!is_stdin)
        fclose(f);
    if (err) {
        free(buf);
        errno = err;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}
