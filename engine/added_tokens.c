/*
 * added_tokens: see added_tokens.h. A few hundred tokens at most (Llama 3:
 * 256), kept sorted by id and found by binary search.
 */
#include "config.h"
#include "engine/added_tokens.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t id;
    size_t pos; /* in the file's list: the first entry for an id wins */
    char *content;
    size_t len;
} entry;

struct added_tokens {
    entry *e; /* sorted by id, one per id */
    size_t n;
};

static int by_id(const void *x, const void *y)
{
    const entry *a = x, *b = y;
    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

engine_status added_tokens_load(const cJSON *list, int32_t max_id, const char *path,
                                added_tokens **out, engine_err *err)
{
    *out = NULL;
    added_tokens *a = calloc(1, sizeof *a);
    if (!a)
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
    if (!list || cJSON_IsNull(list)) {
        *out = a;
        return ENGINE_OK;
    }
    if (!cJSON_IsArray(list)) {
        free(a);
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: added_tokens is not an array", path);
    }
    engine_status st = ENGINE_OK;
    size_t n = (size_t)cJSON_GetArraySize(list), i = 0;
    if (!(a->e = calloc(n ? n : 1, sizeof *a->e))) {
        st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    for (const cJSON *e = list->child; e; e = e->next, i++) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        const cJSON *special = cJSON_GetObjectItemCaseSensitive(e, "special");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > max_id ||
            id->valuedouble != (double)(int32_t)id->valuedouble || !cJSON_IsString(content)) {
            st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: added_tokens[%zu] lacks an id or content", path, i);
            goto out;
        }
        /* A non-special added token would be cut out of message text by the
         * reference even with split_special_tokens; llmspam never does that. */
        if (!cJSON_IsTrue(special)) {
            st = engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                             "%s: added_tokens[%zu] \"%.64s\" is not special; not supported", path, i,
                             content->valuestring);
            goto out;
        }
        entry *t = &a->e[a->n];
        t->id = (int32_t)id->valuedouble;
        t->pos = i;
        t->len = strlen(content->valuestring);
        if (!(t->content = strdup(content->valuestring))) {
            st = engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
        a->n++;
    }
    qsort(a->e, a->n, sizeof *a->e, by_id);
    size_t k = 0;
    for (size_t j = 0; j < a->n; j++) {
        if (k && a->e[k - 1].id == a->e[j].id) {
            free(a->e[j].content);
            continue;
        }
        a->e[k++] = a->e[j];
    }
    a->n = k;
out:
    if (st) {
        added_tokens_free(a);
        return st;
    }
    *out = a;
    return ENGINE_OK;
}

void added_tokens_free(added_tokens *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->e[i].content);
    free(a->e);
    free(a);
}

const char *added_tokens_find(const added_tokens *a, int32_t id, size_t *len)
{
    if (!a)
        return NULL;
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->e[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == a->n || a->e[lo].id != id)
        return NULL;
    *len = a->e[lo].len;
    return a->e[lo].content;
}

size_t added_tokens_id_end(const added_tokens *a)
{
    return a && a->n ? (size_t)a->e[a->n - 1].id + 1 : 0;
}
