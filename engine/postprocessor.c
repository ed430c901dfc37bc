/*
 * postprocessor: see postprocessor.h.
 */
#include "config.h"
#include "engine/postprocessor.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* More would be no template in use (Llama 3 adds 1). */
#define POSTPROC_MAX 8

struct postproc {
    int32_t prefix[POSTPROC_MAX], suffix[POSTPROC_MAX];
    size_t n_prefix, n_suffix;
    bool templated;
};

static const char *type_of(const cJSON *obj)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static engine_status special_ids(const cJSON *tp, const char *name, int32_t *out, size_t *n,
                                 const char *path, engine_err *err)
{
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(tp, "special_tokens");
    const cJSON *ent = cJSON_GetObjectItemCaseSensitive(sp, name);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(ent, "ids");
    if (!cJSON_IsArray(ids))
        return engine_fail(err, ENGINE_ERR_FORMAT,
                           "%s: post_processor special_tokens[\"%.64s\"].ids is missing", path, name);
    for (const cJSON *e = ids->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > INT32_MAX)
            return engine_fail(err, ENGINE_ERR_FORMAT,
                               "%s: post_processor special_tokens[\"%.64s\"] has a bad id", path, name);
        if (*n >= POSTPROC_MAX)
            return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                               "%s: post_processor adds more than %d special ids", path,
                               POSTPROC_MAX);
        out[(*n)++] = (int32_t)e->valuedouble;
    }
    return ENGINE_OK;
}

static engine_status load_template(postproc *p, const cJSON *tp, const char *path, engine_err *err)
{
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(tp, "single");
    if (!cJSON_IsArray(single))
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: post_processor TemplateProcessing has no \"single\"", path);
    bool seen_seq = false;
    for (const cJSON *e = single->child; e; e = e->next) {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(e, "Sequence");
        const cJSON *spt = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(spt, "id");
        if (seq) {
            if (seen_seq)
                return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                                   "%s: post_processor template repeats the sequence", path);
            seen_seq = true;
        } else if (cJSON_IsString(id)) {
            engine_status s = seen_seq ? special_ids(tp, id->valuestring, p->suffix, &p->n_suffix, path, err)
                                       : special_ids(tp, id->valuestring, p->prefix, &p->n_prefix, path, err);
            if (s)
                return s;
        } else {
            return engine_fail(err, ENGINE_ERR_FORMAT,
                               "%s: post_processor template item is neither Sequence nor SpecialToken", path);
        }
    }
    if (!seen_seq)
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: post_processor template has no Sequence", path);
    return ENGINE_OK;
}

static engine_status load_one(postproc *p, const cJSON *pp, const char *path, int depth,
                              engine_err *err)
{
    if (!pp || cJSON_IsNull(pp))
        return ENGINE_OK;
    const char *type = type_of(pp);
    if (type && !strcmp(type, "ByteLevel"))
        return ENGINE_OK; /* only adjusts offsets; ids are unchanged */
    if (type && !strcmp(type, "TemplateProcessing")) {
        if (p->templated)
            return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: two TemplateProcessing post-processors", path);
        p->templated = true;
        return load_template(p, pp, path, err);
    }
    if (type && !strcmp(type, "Sequence") && depth == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pp, "processors");
        if (!cJSON_IsArray(list))
            return engine_fail(err, ENGINE_ERR_FORMAT, "%s: post_processor Sequence has no processors", path);
        for (const cJSON *e = list->child; e; e = e->next) {
            engine_status s = load_one(p, e, path, 1, err);
            if (s)
                return s;
        }
        return ENGINE_OK;
    }
    return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "%s: post_processor \"%s\" is not supported", path,
                       type ? type : "(no type)");
}

engine_status postproc_load(const cJSON *pp, const char *path, postproc **out, engine_err *err)
{
    *out = NULL;
    postproc *p = calloc(1, sizeof *p);
    if (!p)
        return engine_fail(err, ENGINE_ERR_NOMEM, "%s: out of memory", path);
    engine_status st = load_one(p, pp, path, 0, err);
    if (st) {
        free(p);
        return st;
    }
    *out = p;
    return ENGINE_OK;
}

void postproc_free(postproc *p)
{
    free(p);
}

const int32_t *postproc_prefix(const postproc *p, size_t *n)
{
    *n = p->n_prefix;
    return p->prefix;
}

const int32_t *postproc_suffix(const postproc *p, size_t *n)
{
    *n = p->n_suffix;
    return p->suffix;
}
