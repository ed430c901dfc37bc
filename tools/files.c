/* files: see files.h. */
#include "config.h"
#include "tools/files.h"

#include "engine/file.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *tools_read_file(const char *path, bool dash_is_stdin, size_t max, size_t *len)
{
    bool is_stdin = dash_is_stdin && !strcmp(path, "-");
    char *buf = NULL;
    engine_err err;
    engine_status st = is_stdin ? file_read_stream(stdin, "-", max, FILE_READ_PREFIX, &buf, len, &err)
                                : file_read(path, max, FILE_READ_PREFIX, &buf, len, &err);
    return st == ENGINE_OK ? buf : NULL; /* errno says why */
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

bool tools_mbox_split(FILE *f, tools_mbox_fn each, void *arg)
{
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t r;
    long long pos = 0, start = -1;
    bool ok = true;
    while (ok && (r = getline(&line, &cap, f)) != -1) {
        if (r >= 5 && !memcmp(line, "From ", 5)) {
            if (start >= 0)
                ok = each(arg, ++n, start, pos - start);
            start = pos + r;
        }
        pos += r;
    }
    if (ok && start >= 0)
        ok = each(arg, ++n, start, pos - start);
    int e = errno;
    bool bad = ok && ferror(f);
    free(line);
    errno = bad ? EIO : e;
    return ok && !bad;
}
