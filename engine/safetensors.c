/*
 * safetensors: map a .safetensors file and validate its header before any
 * tensor is used (see safetensors.h). The file is untrusted: every length
 * and offset is checked against the file size with overflow-safe
 * arithmetic, so a hostile header yields an error, never a read outside the
 * mapping.
 */
#include "config.h"
#include "engine/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_MAX_BYTES 1024

struct safetensors_file {
    char *path;
    void *map;
    size_t map_len;
    safetensors_tensor *tensors; /* sorted by name */
    size_t count;
};

size_t safetensors_dtype_size(tensor_dtype d)
{
    return d == TENSOR_F32 ? 4 : 2;
}

const char *safetensors_dtype_name(tensor_dtype d)
{
    switch (d) {
    case TENSOR_BF16: return "BF16";
    case TENSOR_F16: return "F16";
    case TENSOR_F32: return "F32";
    }
    return "?";
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const safetensors_tensor *)a)->name, ((const safetensors_tensor *)b)->name);
}

/* Tensor pointers ordered by where their data starts. */
static int by_offset(const void *a, const void *b)
{
    const safetensors_tensor *x = *(const safetensors_tensor *const *)a;
    const safetensors_tensor *y = *(const safetensors_tensor *const *)b;
    const char *px = x->data, *py = y->data;
    return px < py ? -1 : px > py ? 1 : 0;
}

/* A JSON number that is an exact integer in [0, max]. */
static bool get_u64(const cJSON *v, uint64_t max, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    /* doubles represent integers exactly up to 2^53: enough for any file */
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d || (uint64_t)d > max)
        return false;
    *out = (uint64_t)d;
    return true;
}

/* Validate one header entry into t; data_size is the data area's length. */
static engine_status parse_tensor(const char *path, const cJSON *e, const char *data,
                                  uint64_t data_size, safetensors_tensor *t, engine_err *err)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: tensor %s: entry is not an object", path,
                           name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dt))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: tensor %s: \"dtype\" missing", path, name);
    if (!strcmp(dt->valuestring, "BF16"))
        t->dtype = TENSOR_BF16;
    else if (!strcmp(dt->valuestring, "F16"))
        t->dtype = TENSOR_F16;
    else if (!strcmp(dt->valuestring, "F32"))
        t->dtype = TENSOR_F32;
    else
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: tensor %s: dtype %.16s is not supported (BF16, F16 or F32)", path,
                           name, dt->valuestring);

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!cJSON_IsArray(shape))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: tensor %s: \"shape\" missing", path, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > SAFETENSORS_MAX_DIMS)
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: tensor %s: %d dimensions", path, name,
                           ndim);
    uint64_t elems = 1;
    const cJSON *d;
    int i = 0;
    cJSON_ArrayForEach(d, shape) {
        uint64_t v;
        /* every dimension <= data_size bounds the product's growth */
        if (!get_u64(d, data_size, &v))
            return engine_fail(err, ENGINE_ERR_FORMAT,
                               "%s: tensor %s: shape[%d] is negative, fractional or larger than the file", path,
                               name, i);
        if (v && elems > data_size / v)
            return engine_fail(err, ENGINE_ERR_FORMAT,
                               "%s: tensor %s: shape holds more elements than the file", path,
                               name);
        elems *= v;
        t->shape[i++] = (int64_t)v;
    }
    t->ndim = ndim;

    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    uint64_t b, en;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: tensor %s: \"data_offsets\" is not [begin, end]",
                           path, name);
    if (!get_u64(cJSON_GetArrayItem(off, 0), UINT64_MAX, &b) ||
        !get_u64(cJSON_GetArrayItem(off, 1), UINT64_MAX, &en) || b > en)
        return engine_fail(err, ENGINE_ERR_FORMAT,
                           "%s: tensor %s: \"data_offsets\" are not integers begin <= end", path,
                           name);
    if (en > data_size)
        return engine_fail(err, ENGINE_ERR_FORMAT,
                           "%s: tensor %s: data_offsets [%llu, %llu] run past the end of the file "
                           "(data area %llu bytes): truncated?",
                           path, name, (unsigned long long)b, (unsigned long long)en,
                           (unsigned long long)data_size);
    size_t es = safetensors_dtype_size(t->dtype);
    if (en - b != elems * es)
        return engine_fail(err, ENGINE_ERR_FORMAT,
                           "%s: tensor %s: %llu bytes at data_offsets but shape x %s needs %llu",
                           path, name, (unsigned long long)(en - b), dt->valuestring,
                           (unsigned long long)(elems * es));
    t->data = data + b;
    t->nbytes = (size_t)(en - b);
    if ((uintptr_t)t->data % es)
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "%s: tensor %s: data not aligned to its %zu-byte elements", path, name,
                           es);
    return ENGINE_OK;
}

static engine_status parse_header(safetensors_file *f, const char *hdr, size_t hlen,
                                  const char *data, uint64_t data_size, engine_err *err)
{
    const char *path = f->path;
    if (memchr(hdr, '\0', hlen))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: header: invalid JSON (a NUL byte)", path);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, false);
    if (!root)
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: header: invalid JSON near byte %zu", path,
                           end && end >= hdr && end <= hdr + hlen ? (size_t)(end - hdr) : (size_t)0);
    engine_status st = ENGINE_OK;
    /* the writer pads with blanks; anything else after the object is wrong */
    for (const char *q = end; q && q < hdr + hlen; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            st = engine_fail(err, ENGINE_ERR_FORMAT,
                             "%s: header: invalid JSON (bytes after the object at %zu)", path,
                             (size_t)(q - hdr));
            goto out;
        }
    if (!cJSON_IsObject(root)) {
        st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: header: not a JSON object", path);
        goto out;
    }
    size_t n = (size_t)cJSON_GetArraySize(root);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors) {
        st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (!e->string) {
            st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: header: entry without a name", path);
            goto out;
        }
        if (!strcmp(e->string, "__metadata__"))
            continue;
        size_t nl = strlen(e->string);
        if (nl == 0 || nl > NAME_MAX_BYTES) {
            st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: header: a tensor name of %zu bytes", path,
                             nl);
            goto out;
        }
        safetensors_tensor *t = &f->tensors[f->count];
        char *name = strdup(e->string);
        if (!name) {
            st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
        t->name = name;
        f->count++;
        if ((st = parse_tensor(path, e, data, data_size, t, err)))
            goto out;
    }
    qsort(f->tensors, f->count, sizeof *f->tensors, by_name);
    for (size_t i = 1; i < f->count; i++)
        if (!strcmp(f->tensors[i - 1].name, f->tensors[i].name)) {
            st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: tensor %s: listed twice", path,
                             f->tensors[i].name);
            goto out;
        }

    /* no overlap: sorted by start, each begins at or after the previous end */
    if (f->count > 1) {
        const safetensors_tensor **order = malloc(f->count * sizeof *order);
        if (!order) {
            st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
        for (size_t i = 0; i < f->count; i++)
            order[i] = &f->tensors[i];
        qsort(order, f->count, sizeof *order, by_offset);
        const safetensors_tensor *prev = NULL;
        for (size_t i = 0; i < f->count && st == ENGINE_OK; i++) {
            const safetensors_tensor *t = order[i];
            if (t->nbytes == 0)
                continue;
            if (prev && (const char *)t->data < (const char *)prev->data + prev->nbytes)
                st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: tensors %s and %s overlap", path,
                                 prev->name, t->name);
            prev = t;
        }
        free(order);
    }
out:
    cJSON_Delete(root);
    return st;
}

engine_status safetensors_open(const char *path, safetensors_file **out, engine_err *err)
{
    if (!path || !out)
        return engine_fail(err, ENGINE_ERR_ARG, "safetensors_open: NULL argument");
    *out = NULL;
    safetensors_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
    }
    engine_status st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = engine_fail(err, ENGINE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        st = engine_fail(err, ENGINE_ERR_IO, "%s: not a regular file", path);
        goto fail;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8) {
        close(fd);
        st = engine_fail(err, ENGINE_ERR_FORMAT,
                         "%s: truncated: %llu bytes, too short for the 8-byte header length", path,
                         (unsigned long long)size);
        goto fail;
    }
    if (size > SIZE_MAX) {
        close(fd);
        st = engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: too large to map", path);
        goto fail;
    }
    f->map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        st = engine_fail(err, ENGINE_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        goto fail;
    }
    f->map_len = (size_t)size;

    const unsigned char *p = f->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | p[i];
    if (hlen > size - 8) {
        st = engine_fail(err, ENGINE_ERR_FORMAT,
                         "%s: header length %llu is larger than the file (%llu bytes): truncated "
                         "or not safetensors",
                         path, (unsigned long long)hlen, (unsigned long long)size);
        goto fail;
    }
    if (hlen > SAFETENSORS_MAX_HEADER || hlen < 2) {
        st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: header length %llu is implausible", path,
                         (unsigned long long)hlen);
        goto fail;
    }
    const char *hdr = (const char *)p + 8;
    if ((st = parse_header(f, hdr, (size_t)hlen, hdr + hlen, size - 8 - hlen, err)))
        goto fail;
    *out = f;
    return ENGINE_OK;
fail:
    safetensors_free(f);
    return st;
}

void safetensors_free(safetensors_file *f)
{
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->map_len);
    for (size_t i = 0; i < f->count; i++)
        free((char *)f->tensors[i].name);
    free(f->tensors);
    free(f->path);
    free(f);
}

const char *safetensors_path(const safetensors_file *f)
{
    return f->path;
}

size_t safetensors_count(const safetensors_file *f)
{
    return f->count;
}

const safetensors_tensor *safetensors_at(const safetensors_file *f, size_t i)
{
    return i < f->count ? &f->tensors[i] : NULL;
}

const safetensors_tensor *safetensors_find(const safetensors_file *f, const char *name)
{
    safetensors_tensor key = {.name = name};
    return bsearch(&key, f->tensors, f->count, sizeof *f->tensors, by_name);
}
