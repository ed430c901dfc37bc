/*
 * checkpoint: open a model directory (config.json + model.safetensors, or
 * model.safetensors.index.json and its shards) and check that every tensor
 * the config implies is there with the right shape (see checkpoint.h).
 *
 * Like transformers, a single model.safetensors wins over an index. Shard
 * names from the index are plain file names inside the directory (no '/'),
 * so a hostile index cannot make us open files elsewhere.
 */
#include "config.h"
#include "engine/checkpoint.h"
#include "engine/file.h"
#include "engine/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SHARDS 4096
#define INDEX_MAX_BYTES (64u << 20)
#define WARNINGS_MAX 1024

typedef struct ck_tensor {
    tensor_view view;
    const safetensors_file *file;
} ck_tensor;

struct checkpoint {
    char *dir;
    char *tokenizer_path;
    llama_config config;
    safetensors_file **files;
    size_t nfiles;
    ck_tensor *tensors; /* sorted by name */
    size_t ntensors;
    char *warnings;
};

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int ck_by_name(const void *a, const void *b)
{
    return strcmp(((const ck_tensor *)a)->view.name, ((const ck_tensor *)b)->view.name);
}

static engine_status add_file(checkpoint *ck, const char *path, engine_err *err)
{
    safetensors_file *f = NULL;
    engine_status st = safetensors_open(path, &f, err);
    if (st)
        return st;
    safetensors_file **nf = realloc(ck->files, (ck->nfiles + 1) * sizeof *nf);
    if (!nf) {
        safetensors_free(f);
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
    }
    ck->files = nf;
    ck->files[ck->nfiles++] = f;
    return ENGINE_OK;
}

/* A shard name from the index: a plain *.safetensors file in the directory. */
static bool shard_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 12 && n < 256 && !strchr(s, '/') && s[0] != '.' &&
           !strcmp(s + n - 12, ".safetensors");
}

static engine_status open_sharded(checkpoint *ck, const char *index_path, cJSON **map_out,
                                  engine_err *err)
{
    engine_status st = ENGINE_OK;
    char *text = NULL;
    size_t len = 0;
    if ((st = file_read(index_path, INDEX_MAX_BYTES, 0, &text, &len, err)))
        return st;
    cJSON *root = memchr(text, '\0', len) ? NULL : cJSON_ParseWithLengthOpts(text, len + 1, NULL, true);
    free(text);
    if (!root)
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: invalid JSON", index_path);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        cJSON_Delete(root);
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: key \"weight_map\" missing or not an object",
                           index_path);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, wm) {
        if (!cJSON_IsString(e) || !shard_name_ok(e->valuestring)) {
            st = engine_fail(err, ENGINE_ERR_FORMAT,
                             "%s: key \"weight_map.%.128s\": not a *.safetensors file name in the "
                             "model directory",
                             index_path, e->string);
            break;
        }
        bool seen = false;
        for (size_t i = 0; i < ck->nfiles && !seen; i++) {
            const char *p = safetensors_path(ck->files[i]);
            const char *base = strrchr(p, '/');
            seen = !strcmp(base ? base + 1 : p, e->valuestring);
        }
        if (seen)
            continue;
        if (ck->nfiles >= MAX_SHARDS) {
            st = engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: more than %d shards", index_path,
                             MAX_SHARDS);
            break;
        }
        char *sp = path_join(ck->dir, e->valuestring);
        if (!sp) {
            st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", index_path);
            break;
        }
        st = add_file(ck, sp, err);
        free(sp);
        if (st)
            break;
    }
    if (st == ENGINE_OK && ck->nfiles == 0)
        st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: key \"weight_map\" is empty", index_path);
    if (st)
        cJSON_Delete(root);
    else
        *map_out = root;
    return st;
}

/* Gather every tensor of every file into one sorted table. */
static engine_status build_table(checkpoint *ck, const cJSON *index_root, const char *index_path,
                                 engine_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < ck->nfiles; i++)
        total += safetensors_count(ck->files[i]);
    ck->tensors = calloc(total ? total : 1, sizeof *ck->tensors);
    if (!ck->tensors)
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", ck->dir);
    for (size_t i = 0; i < ck->nfiles; i++)
        for (size_t j = 0; j < safetensors_count(ck->files[i]); j++) {
            const safetensors_tensor *s = safetensors_at(ck->files[i], j);
            ck_tensor *t = &ck->tensors[ck->ntensors++];
            t->file = ck->files[i];
            t->view.name = s->name;
            t->view.dtype = s->dtype;
            t->view.ndim = s->ndim;
            for (int d = 0; d < 2 && d < s->ndim; d++)
                t->view.shape[d] = s->shape[d];
            t->view.data = s->data;
            t->view.nbytes = s->nbytes;
        }
    qsort(ck->tensors, ck->ntensors, sizeof *ck->tensors, ck_by_name);
    for (size_t i = 1; i < ck->ntensors; i++)
        if (!strcmp(ck->tensors[i].view.name, ck->tensors[i - 1].view.name))
            return engine_fail(err, ENGINE_ERR_FORMAT, "%s: tensor %s is in %s and in %s", ck->dir,
                               ck->tensors[i].view.name, safetensors_path(ck->tensors[i].file),
                               safetensors_path(ck->tensors[i - 1].file));
    if (index_root) {
        /* the index must tell the truth about where each tensor lives */
        const cJSON *wm = cJSON_GetObjectItemCaseSensitive(index_root, "weight_map");
        const cJSON *e;
        cJSON_ArrayForEach(e, wm) {
            ck_tensor key = {.view.name = e->string};
            const ck_tensor *t = bsearch(&key, ck->tensors, ck->ntensors, sizeof key, ck_by_name);
            const char *p = t ? safetensors_path(t->file) : NULL;
            const char *base = p ? strrchr(p, '/') : NULL;
            if (!t || strcmp(base ? base + 1 : p, e->valuestring) != 0)
                return engine_fail(err, ENGINE_ERR_FORMAT,
                                   "%s: tensor %.200s: the index places it in %s, which lacks it",
                                   index_path, e->string, e->valuestring);
        }
    }
    return ENGINE_OK;
}

static const ck_tensor *find(const checkpoint *ck, const char *name)
{
    ck_tensor key = {.view.name = name};
    return bsearch(&key, ck->tensors, ck->ntensors, sizeof key, ck_by_name);
}

/* Check one required tensor; mark it used. */
static engine_status require(checkpoint *ck, bool *used, const char *where, const char *name,
                             int ndim, int64_t rows, int64_t cols, engine_err *err)
{
    const ck_tensor *t = find(ck, name);
    if (!t)
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: tensor %s is missing", where, name);
    used[t - ck->tensors] = true;
    const char *file = safetensors_path(t->file);
    bool ok = t->view.ndim == ndim && t->view.shape[0] == rows &&
              (ndim == 1 || t->view.shape[1] == cols);
    if (!ok) {
        char got[96] = "[", want[64];
        const safetensors_tensor *s = safetensors_find(t->file, name);
        for (int d = 0; s && d < s->ndim; d++) {
            size_t l = strlen(got);
            snprintf(got + l, sizeof got - l, "%s%lld", d ? ", " : "", (long long)s->shape[d]);
        }
        strncat(got, "]", sizeof got - strlen(got) - 1);
        if (ndim == 1)
            snprintf(want, sizeof want, "[%lld]", (long long)rows);
        else
            snprintf(want, sizeof want, "[%lld, %lld]", (long long)rows, (long long)cols);
        return engine_fail(err, ENGINE_ERR_FORMAT,
                           "%s: tensor %s: shape %s, but config.json implies %s", file, name, got,
                           want);
    }
    return ENGINE_OK;
}

static engine_status check_tensors(checkpoint *ck, const char *where, engine_err *err)
{
    const llama_config *c = &ck->config;
    int64_t h = c->hidden_size, q = (int64_t)c->num_heads * c->head_dim,
            kv = (int64_t)c->num_kv_heads * c->head_dim, in = c->intermediate_size;
    bool *used = calloc(ck->ntensors ? ck->ntensors : 1, sizeof *used);
    if (!used)
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", ck->dir);
    engine_status st;
    char name[128];
    if ((st = require(ck, used, where, "model.embed_tokens.weight", 2, c->vocab_size, h, err)) ||
        (st = require(ck, used, where, "model.norm.weight", 1, h, 0, err)) ||
        (st = require(ck, used, where, "score.weight", 2, c->num_labels, h, err)))
        goto out;
    for (int l = 0; l < c->num_layers; l++) {
        static const struct {
            const char *suffix;
            int ndim;
            int rows, cols; /* 0 hidden, 1 q, 2 kv, 3 intermediate */
        } per_layer[] = {
            {"self_attn.q_proj.weight", 2, 1, 0},  {"self_attn.k_proj.weight", 2, 2, 0},
            {"self_attn.v_proj.weight", 2, 2, 0},  {"self_attn.o_proj.weight", 2, 0, 1},
            {"mlp.gate_proj.weight", 2, 3, 0},     {"mlp.up_proj.weight", 2, 3, 0},
            {"mlp.down_proj.weight", 2, 0, 3},     {"input_layernorm.weight", 1, 0, 0},
            {"post_attention_layernorm.weight", 1, 0, 0},
        };
        const int64_t dims[4] = {h, q, kv, in};
        for (size_t i = 0; i < sizeof per_layer / sizeof per_layer[0]; i++) {
            snprintf(name, sizeof name, "model.layers.%d.%s", l, per_layer[i].suffix);
            if ((st = require(ck, used, where, name, per_layer[i].ndim, dims[per_layer[i].rows],
                              dims[per_layer[i].cols], err)))
                goto out;
        }
    }
    /* one warning listing the tensors nothing uses (lm_head.weight...) */
    size_t unknown = 0;
    for (size_t i = 0; i < ck->ntensors; i++)
        unknown += !used[i];
    ck->warnings = calloc(1, WARNINGS_MAX);
    if (!ck->warnings) {
        st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", ck->dir);
        goto out;
    }
    if (unknown) {
        size_t len = (size_t)snprintf(ck->warnings, WARNINGS_MAX, "%s: ignoring %zu unknown tensor%s:",
                                      where, unknown, unknown > 1 ? "s" : "");
        size_t listed = 0;
        for (size_t i = 0; i < ck->ntensors && len < WARNINGS_MAX; i++) {
            if (used[i])
                continue;
            const char *nm = ck->tensors[i].view.name;
            if (len + strlen(nm) + 32 >= WARNINGS_MAX) {
                snprintf(ck->warnings + len, WARNINGS_MAX - len, " ... (%zu more)",
                         unknown - listed);
                break;
            }
            len += (size_t)snprintf(ck->warnings + len, WARNINGS_MAX - len, " %s", nm);
            listed++;
        }
    }
out:
    free(used);
    return st;
}

engine_status checkpoint_open(const char *dir, checkpoint **out, engine_err *err)
{
    if (!dir || !out)
        return engine_fail(err, ENGINE_ERR_ARG, "checkpoint_open: NULL argument");
    *out = NULL;
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return engine_fail(err, ENGINE_ERR_IO, "%s: cannot open model directory: %s", dir,
                           strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return engine_fail(err, ENGINE_ERR_IO, "%s: not a directory (expected a model directory)",
                           dir);
    checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck || !(ck->dir = strdup(dir))) {
        free(ck);
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", dir);
    }
    engine_status st;
    char *cfg = path_join(dir, "config.json");
    char *single = path_join(dir, "model.safetensors");
    char *index = path_join(dir, "model.safetensors.index.json");
    ck->tokenizer_path = path_join(dir, "tokenizer.json");
    cJSON *index_root = NULL;
    if (!cfg || !single || !index || !ck->tokenizer_path) {
        st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", dir);
        goto out;
    }
    if (!file_exists(cfg)) {
        st = engine_fail(err, ENGINE_ERR_IO, "%s: missing: not a model directory?", cfg);
        goto out;
    }
    if ((st = llama_config_load(cfg, &ck->config, err)))
        goto out;
    const char *where;
    if (file_exists(single)) {
        where = single;
        st = add_file(ck, single, err);
    } else if (file_exists(index)) {
        where = index;
        st = open_sharded(ck, index, &index_root, err);
    } else {
        st = engine_fail(err, ENGINE_ERR_IO,
                         "%s: neither model.safetensors nor model.safetensors.index.json is there",
                         dir);
        goto out;
    }
    if (st || (st = build_table(ck, index_root, index, err)) ||
        (st = check_tensors(ck, where, err)))
        goto out;
out:
    cJSON_Delete(index_root);
    free(cfg);
    free(single);
    free(index);
    if (st)
        checkpoint_free(ck);
    else
        *out = ck;
    return st;
}

void checkpoint_free(checkpoint *ck)
{
    if (!ck)
        return;
    for (size_t i = 0; i < ck->nfiles; i++)
        safetensors_free(ck->files[i]);
    free(ck->files);
    free(ck->tensors);
    free(ck->warnings);
    free(ck->tokenizer_path);
    free(ck->dir);
    free(ck);
}

const llama_config *checkpoint_config(const checkpoint *ck)
{
    return &ck->config;
}

const tensor_view *checkpoint_tensor(const checkpoint *ck, const char *name)
{
    const ck_tensor *t = find(ck, name);
    return t ? &t->view : NULL;
}

const char *checkpoint_warnings(const checkpoint *ck)
{
    return ck->warnings ? ck->warnings : "";
}

const char *checkpoint_tokenizer_path(const checkpoint *ck)
{
    return ck->tokenizer_path;
}

/* f32 -> bf16, round to nearest even; NaN stays a (quiet) NaN. */
static uint16_t f32_bits_to_bf16(uint32_t u)
{
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* f16 -> f32 bits, exact (subnormals, infinities and NaN included). */
static uint32_t f16_to_f32_bits(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f)
        return sign | 0x7f800000u | (man << 13) | (man ? 0x00400000u : 0);
    if (exp == 0) {
        if (!man)
            return sign;
        /* subnormal: normalise the mantissa */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400u));
        return sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ffu) << 13;
    }
    return sign | (exp + 127 - 15) << 23 | man << 13;
}

void checkpoint_copy_bf16(const tensor_view *t, uint16_t *dst)
{
    const unsigned char *src = t->data;
    switch (t->dtype) {
    case TENSOR_BF16:
        memcpy(dst, src, t->nbytes);
        break;
    case TENSOR_F16:
        for (size_t i = 0; i < t->nbytes / 2; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = f32_bits_to_bf16(f16_to_f32_bits(h));
        }
        break;
    case TENSOR_F32:
        for (size_t i = 0; i < t->nbytes / 4; i++) {
            uint32_t u;
            memcpy(&u, src + 4 * i, 4);
            dst[i] = f32_bits_to_bf16(u);
        }
        break;
    }
}

void checkpoint_release(checkpoint *ck, const tensor_view *t)
{
    (void)ck;
    if (!t || !t->nbytes)
        return;
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096;
    uintptr_t b = (uintptr_t)t->data, e = b + t->nbytes;
    /* only pages wholly inside the tensor: neighbours may still be in use */
    uintptr_t pb = (b + page - 1) & ~(page - 1), pe = e & ~(page - 1);
    if (pe > pb)
        madvise((void *)pb, pe - pb, MADV_DONTNEED);
}
