/* files: see files.h. */
#include "tools/files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
        errno = 0;
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0) {
            if (ferror(f)) /* keep the reason (e.g. EISDIR) */
                err = errno ? errno : EIO;
            break;
        }
        n += got;
    }
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

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void tools_dir_files_free(char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

bool tools_dir_files(const char *dir, char ***paths, size_t *n)
{
    *paths = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return false;
    char **v = NULL;
    size_t k = 0, cap = 0;
    int err = 0;
    struct dirent *e;
    while (!err && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path = NULL;
        struct stat sb;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) {
            err = ENOMEM;
            break;
        }
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            free(path);
            continue;
        }
        if (k == cap) {
            cap = cap ? 2 * cap : 256;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                free(path);
                err = ENOMEM;
                break;
            }
            v = nv;
        }
        v[k++] = path;
    }
    closedir(d);
    if (err) {
        tools_dir_files_free(v, k);
        errno = err;
        return false;
    }
    if (k)
        qsort(v, k, sizeof *v, cmp_str);
    *paths = v;
    *n = k;
    return true;
}
