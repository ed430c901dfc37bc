/*
 * llama_config: config.json of a LlamaForSequenceClassification checkpoint,
 * parsed with cJSON and checked key by key (see llama_config.h).
 *
 * Both layouts transformers writes are read: the Llama 3 one (top-level
 * rope_theta and rope_scaling with rope_type or the older type) and the
 * transformers 5 one (rope_parameters holding rope_theta and rope_type).
 * Keys absent from the file take transformers' defaults. Every number has a
 * bound, so a hostile config cannot make the engine size absurd buffers;
 * the tensors must then match these shapes (checkpoint.c).
 */
#include "config.h"
#include "engine/llama_config.h"
#include "engine/file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_MAX_BYTES (1 << 20) /* a real config.json is ~1 KB */

/* Upper bounds: well above any Llama that fits a mail server, low enough
 * that products of them stay far from overflow. */
#define MAX_HIDDEN (1 << 16)
#define MAX_INTERMEDIATE (1 << 18)
#define MAX_LAYERS 512
#define MAX_HEADS 1024
#define MAX_HEAD_DIM 1024
#define MAX_VOCAB (1 << 22)
#define MAX_POSITIONS (1 << 24)

/* The parse state: the file name and a prefix ("rope_scaling.") for keys
 * inside a nested object, so each message names the full key. */
typedef struct parse {
    const char *path;
    const char *prefix;
    engine_err *err;
} parse;

static bool is_null_or_absent(const cJSON *v)
{
    return v == NULL || cJSON_IsNull(v);
}

/* An integer key in [lo, hi]. Absent or null: *out = def, or an error when
 * required. */
static engine_status get_int(const parse *p, const cJSON *obj, const char *key, bool required,
                             long long def, long long lo, long long hi, long long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (is_null_or_absent(v)) {
        if (required)
            return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"%s%s\" is missing", p->path,
                               p->prefix, key);
        *out = def;
        return ENGINE_OK;
    }
    if (!cJSON_IsNumber(v))
        return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"%s%s\" is not a number", p->path,
                           p->prefix, key);
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d))
        return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"%s%s\" is not an integer",
                           p->path, p->prefix, key);
    if (d < (double)lo || d > (double)hi)
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                           "%s: key \"%s%s\" is %.17g, outside [%lld, %lld]", p->path, p->prefix,
                           key, d, lo, hi);
    *out = (long long)d;
    return ENGINE_OK;
}

static engine_status get_int32(const parse *p, const cJSON *obj, const char *key, bool required,
                               long long def, long long lo, long long hi, int *out)
{
    long long v = 0;
    engine_status st = get_int(p, obj, key, required, def, lo, hi, &v);
    if (st == ENGINE_OK)
        *out = (int)v;
    return st;
}

/* A number in the open-closed range (lo, hi]. */
static engine_status get_real(const parse *p, const cJSON *obj, const char *key, bool required,
                              double def, double lo, double hi, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (is_null_or_absent(v)) {
        if (required)
            return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"%s%s\" is missing", p->path,
                               p->prefix, key);
        *out = def;
        return ENGINE_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"%s%s\" is not a finite number",
                           p->path, p->prefix, key);
    if (!(v->valuedouble > lo && v->valuedouble <= hi))
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                           "%s: key \"%s%s\" is %.17g, outside (%g, %g]", p->path, p->prefix, key,
                           v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return ENGINE_OK;
}

static engine_status get_bool(const parse *p, const cJSON *obj, const char *key, bool def,
                              bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (is_null_or_absent(v)) {
        *out = def;
        return ENGINE_OK;
    }
    if (!cJSON_IsBool(v))
        return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"%s%s\" is not true or false",
                           p->path, p->prefix, key);
    *out = cJSON_IsTrue(v);
    return ENGINE_OK;
}

/* A string key; *out = NULL when absent or null. */
static engine_status get_string(const parse *p, const cJSON *obj, const char *key,
                                const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (is_null_or_absent(v))
        return ENGINE_OK;
    if (!cJSON_IsString(v) || !v->valuestring)
        return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"%s%s\" is not a string", p->path,
                           p->prefix, key);
    *out = v->valuestring;
    return ENGINE_OK;
}

static engine_status check_architecture(const parse *p, const cJSON *root)
{
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    if (is_null_or_absent(arch))
        return engine_fail(p->err, ENGINE_ERR_FORMAT,
                           "%s: key \"architectures\" is missing (expected "
                           "[\"LlamaForSequenceClassification\"])",
                           p->path);
    if (!cJSON_IsArray(arch))
        return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"architectures\" is not a list",
                           p->path);
    const cJSON *a;
    const char *first = NULL;
    cJSON_ArrayForEach(a, arch) {
        if (!cJSON_IsString(a))
            return engine_fail(p->err, ENGINE_ERR_FORMAT,
                               "%s: key \"architectures\" holds a non-string", p->path);
        if (!strcmp(a->valuestring, "LlamaForSequenceClassification"))
            return ENGINE_OK;
        if (!first)
            first = a->valuestring;
    }
    return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                       "%s: key \"architectures\" is [\"%.64s\"%s]: llmspam runs only "
                       "LlamaForSequenceClassification",
                       p->path, first ? first : "", first ? ", ..." : "");
}

/* rope: rope_parameters (transformers 5) or rope_theta + rope_scaling. */
static engine_status parse_rope(const parse *p, const cJSON *root, llama_config *cfg)
{
    engine_status st;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "rope_parameters");
    const char *objkey = "rope_parameters";
    double theta = 10000.0; /* transformers' default_theta */

    /* the older layout's top-level rope_theta; rope_parameters' one wins */
    if ((st = get_real(p, root, "rope_theta", false, theta, 1.0, 1e12, &theta)))
        return st;
    if (is_null_or_absent(params)) {
        params = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
        objkey = "rope_scaling";
    } else if (!cJSON_IsObject(params)) {
        return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"rope_parameters\" is not an object",
                           p->path);
    } else {
        parse q = {p->path, "rope_parameters.", p->err};
        if ((st = get_real(&q, params, "rope_theta", false, theta, 1.0, 1e12, &theta)))
            return st;
    }
    cfg->rope_theta = theta;
    cfg->rope_llama3 = false;
    cfg->rope_factor = 1.0;
    cfg->rope_low_freq_factor = 1.0;
    cfg->rope_high_freq_factor = 1.0;
    cfg->rope_original_max_pos = cfg->max_position_embeddings;

    if (is_null_or_absent(params))
        return ENGINE_OK;
    if (!cJSON_IsObject(params))
        return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"%s\" is not an object or null",
                           p->path, objkey);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%s.", objkey);
    parse q = {p->path, prefix, p->err};
    const char *type = NULL, *typekey = "rope_type";
    if ((st = get_string(&q, params, "rope_type", &type)))
        return st;
    if (!type) {
        typekey = "type";
        if ((st = get_string(&q, params, "type", &type)))
            return st;
    }
    if (!type)
        return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"%s.rope_type\" is missing",
                           p->path, objkey);
    double partial = 1.0;
    if ((st = get_real(&q, params, "partial_rotary_factor", false, 1.0, 0.0, 1.0, &partial)))
        return st;
    if (partial != 1.0)
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                           "%s: key \"%s.partial_rotary_factor\" is %g: only 1 is supported",
                           p->path, objkey, partial);
    if (!strcmp(type, "default"))
        return ENGINE_OK;
    if (strcmp(type, "llama3") != 0)
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                           "%s: key \"%s.%s\" is \"%.64s\": llmspam supports \"llama3\", "
                           "\"default\" or no rope scaling",
                           p->path, objkey, typekey, type);
    cfg->rope_llama3 = true;
    if ((st = get_real(&q, params, "factor", true, 0, 0.0, 1e6, &cfg->rope_factor)) ||
        (st = get_real(&q, params, "low_freq_factor", true, 0, 0.0, 1e6,
                       &cfg->rope_low_freq_factor)) ||
        (st = get_real(&q, params, "high_freq_factor", true, 0, 0.0, 1e6,
                       &cfg->rope_high_freq_factor)))
        return st;
    /* transformers falls back to max_position_embeddings when absent */
    if ((st = get_int32(&q, params, "original_max_position_embeddings", false,
                        cfg->max_position_embeddings, 1, MAX_POSITIONS,
                        &cfg->rope_original_max_pos)))
        return st;
    /* the smoothing divides by high - low */
    if (!(cfg->rope_high_freq_factor > cfg->rope_low_freq_factor))
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                           "%s: key \"%s.high_freq_factor\" (%g) must exceed low_freq_factor (%g)",
                           p->path, objkey, cfg->rope_high_freq_factor, cfg->rope_low_freq_factor);
    return ENGINE_OK;
}

/* The decimal key of id2label: "0", "17"; no sign, no leading zeros. */
static int label_key_index(const char *s, int n)
{
    if (!s || !*s || (s[0] == '0' && s[1]) || strlen(s) > 4)
        return -1;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v < n ? v : -1;
}

/* True when label2id is transformers' default map LABEL_i -> i, which
 * from_pretrained(..., id2label=...) without label2id leaves behind. */
static bool label2id_is_default(const cJSON *l2i)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, l2i) {
        char want[32];
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > LLAMA_MAX_LABELS)
            return false;
        snprintf(want, sizeof want, "LABEL_%d", (int)e->valuedouble);
        if (!e->string || strcmp(e->string, want) != 0)
            return false;
    }
    return true;
}

static engine_status parse_labels(const parse *p, const cJSON *root, llama_config *cfg)
{
    engine_status st;
    const cJSON *i2l = cJSON_GetObjectItemCaseSensitive(root, "id2label");
    int declared = -1;
    const cJSON *nl = cJSON_GetObjectItemCaseSensitive(root, "num_labels");
    if (!is_null_or_absent(nl)) {
        if ((st = get_int32(p, root, "num_labels", true, 0, 1, LLAMA_MAX_LABELS, &declared)))
            return st;
    }

    if (is_null_or_absent(i2l)) {
        /* transformers' default: num_labels (2) labels called LABEL_i */
        cfg->num_labels = declared > 0 ? declared : 2;
        for (int i = 0; i < cfg->num_labels; i++)
            snprintf(cfg->id2label[i], LLAMA_LABEL_MAX, "LABEL_%d", i);
    } else {
        if (!cJSON_IsObject(i2l))
            return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"id2label\" is not an object",
                               p->path);
        int n = cJSON_GetArraySize(i2l);
        if (n < 1 || n > LLAMA_MAX_LABELS)
            return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                               "%s: key \"id2label\" has %d labels, outside [1, %d]", p->path, n,
                               LLAMA_MAX_LABELS);
        bool seen[LLAMA_MAX_LABELS] = {false};
        const cJSON *e;
        cJSON_ArrayForEach(e, i2l) {
            int k = label_key_index(e->string, n);
            if (k < 0 || seen[k])
                return engine_fail(p->err, ENGINE_ERR_FORMAT,
                                   "%s: key \"id2label\": key \"%.32s\" is not one of 0..%d, "
                                   "each once",
                                   p->path, e->string ? e->string : "", n - 1);
            if (!cJSON_IsString(e) || !e->valuestring[0])
                return engine_fail(p->err, ENGINE_ERR_FORMAT,
                                   "%s: key \"id2label.%s\" is not a non-empty string", p->path,
                                   e->string);
            if (strlen(e->valuestring) >= LLAMA_LABEL_MAX)
                return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                                   "%s: key \"id2label.%s\" is longer than %d bytes", p->path,
                                   e->string, LLAMA_LABEL_MAX - 1);
            seen[k] = true;
            strcpy(cfg->id2label[k], e->valuestring);
        }
        cfg->num_labels = n;
        if (declared > 0 && declared != n)
            return engine_fail(p->err, ENGINE_ERR_FORMAT,
                               "%s: key \"num_labels\" is %d but id2label has %d labels", p->path,
                               declared, n);
    }
    for (int i = 0; i < cfg->num_labels; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(cfg->id2label[i], cfg->id2label[j]))
                return engine_fail(p->err, ENGINE_ERR_FORMAT,
                                   "%s: key \"id2label\": label \"%s\" appears twice", p->path,
                                   cfg->id2label[i]);

    const cJSON *l2i = cJSON_GetObjectItemCaseSensitive(root, "label2id");
    if (!is_null_or_absent(l2i)) {
        if (!cJSON_IsObject(l2i))
            return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"label2id\" is not an object",
                               p->path);
        if (!label2id_is_default(l2i) || cJSON_GetArraySize(l2i) == 0) {
            if (cJSON_GetArraySize(l2i) != cfg->num_labels)
                return engine_fail(p->err, ENGINE_ERR_FORMAT,
                                   "%s: key \"label2id\" has %d entries but id2label has %d",
                                   p->path, cJSON_GetArraySize(l2i), cfg->num_labels);
            const cJSON *e;
            cJSON_ArrayForEach(e, l2i) {
                int idx = llama_config_label_index(cfg, e->string ? e->string : "");
                if (idx < 0 || !cJSON_IsNumber(e) || e->valuedouble != (double)idx)
                    return engine_fail(p->err, ENGINE_ERR_FORMAT,
                                       "%s: key \"label2id.%.64s\" disagrees with id2label",
                                       p->path, e->string ? e->string : "");
            }
        }
        /* else: the untouched default LABEL_i map; id2label is what counts */
    }

    const char *pt = NULL;
    if ((st = get_string(p, root, "problem_type", &pt)))
        return st;
    if (!pt)
        cfg->problem = cfg->num_labels == 1 ? LLAMA_REGRESSION : LLAMA_SINGLE_LABEL;
    else if (!strcmp(pt, "single_label_classification"))
        cfg->problem = LLAMA_SINGLE_LABEL;
    else if (!strcmp(pt, "multi_label_classification"))
        cfg->problem = LLAMA_MULTI_LABEL;
    else if (!strcmp(pt, "regression"))
        cfg->problem = LLAMA_REGRESSION;
    else
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                           "%s: key \"problem_type\" is \"%.64s\": expected "
                           "single_label_classification, multi_label_classification or "
                           "regression",
                           p->path, pt);
    return ENGINE_OK;
}

static engine_status parse_config(const parse *p, const cJSON *root, llama_config *cfg)
{
    engine_status st;
    const char *s;

    if (!cJSON_IsObject(root))
        return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: not a JSON object", p->path);
    if ((st = check_architecture(p, root)))
        return st;
    if ((st = get_string(p, root, "model_type", &s)))
        return st;
    if (s && strcmp(s, "llama") != 0)
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                           "%s: key \"model_type\" is \"%.64s\", not \"llama\"", p->path, s);

    if ((st = get_int32(p, root, "hidden_size", true, 0, 1, MAX_HIDDEN, &cfg->hidden_size)) ||
        (st = get_int32(p, root, "intermediate_size", true, 0, 1, MAX_INTERMEDIATE,
                        &cfg->intermediate_size)) ||
        (st = get_int32(p, root, "num_hidden_layers", true, 0, 1, MAX_LAYERS, &cfg->num_layers)) ||
        (st = get_int32(p, root, "num_attention_heads", true, 0, 1, MAX_HEADS, &cfg->num_heads)))
        return st;
    /* transformers refuses a hidden size that the heads do not divide */
    if (cfg->hidden_size % cfg->num_heads)
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                           "%s: key \"num_attention_heads\" (%d) does not divide hidden_size (%d)",
                           p->path, cfg->num_heads, cfg->hidden_size);
    if ((st = get_int32(p, root, "num_key_value_heads", false, cfg->num_heads, 1, cfg->num_heads,
                        &cfg->num_kv_heads)))
        return st;
    if (cfg->num_heads % cfg->num_kv_heads)
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                           "%s: key \"num_key_value_heads\" (%d) does not divide "
                           "num_attention_heads (%d)",
                           p->path, cfg->num_kv_heads, cfg->num_heads);
    if ((st = get_int32(p, root, "head_dim", false, cfg->hidden_size / cfg->num_heads, 1,
                        MAX_HEAD_DIM, &cfg->head_dim)))
        return st;
    if (cfg->head_dim % 2) /* RoPE rotates pairs */
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED, "%s: key \"head_dim\" (%d) is odd",
                           p->path, cfg->head_dim);
    if ((long long)cfg->num_heads * cfg->head_dim > MAX_HIDDEN * 4LL)
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                           "%s: key \"head_dim\": num_attention_heads * head_dim = %lld is too "
                           "large",
                           p->path, (long long)cfg->num_heads * cfg->head_dim);

    double eps = 0;
    if ((st = get_real(p, root, "rms_norm_eps", true, 0, 0.0, 0.1, &eps)))
        return st;
    cfg->rms_norm_eps = (float)eps;
    if ((st = get_int32(p, root, "max_position_embeddings", true, 0, 1, MAX_POSITIONS,
                        &cfg->max_position_embeddings)) ||
        (st = get_int32(p, root, "vocab_size", true, 0, 1, MAX_VOCAB, &cfg->vocab_size)))
        return st;
    if ((st = parse_rope(p, root, cfg)))
        return st;
    if ((st = get_bool(p, root, "tie_word_embeddings", false, &cfg->tie_word_embeddings)))
        return st;

    /* pad_token_id: the pooled token is the rightmost one that is not it */
    if ((st = get_int32(p, root, "pad_token_id", false, -1, 0, cfg->vocab_size - 1,
                        &cfg->pad_token_id)))
        return st;

    bool bias = false;
    if ((st = get_bool(p, root, "attention_bias", false, &bias)))
        return st;
    if (bias)
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                           "%s: key \"attention_bias\" is true: llmspam supports no biases",
                           p->path);
    if ((st = get_bool(p, root, "mlp_bias", false, &bias)))
        return st;
    if (bias)
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                           "%s: key \"mlp_bias\" is true: llmspam supports no biases", p->path);
    if ((st = get_string(p, root, "hidden_act", &s)))
        return st;
    if (s && strcmp(s, "silu") != 0)
        return engine_fail(p->err, ENGINE_ERR_UNSUPPORTED,
                           "%s: key \"hidden_act\" is \"%.64s\": only \"silu\" is supported",
                           p->path, s);

    /* dtype (transformers 5) or torch_dtype (4.x): informational only, the
     * tensors carry their own dtype */
    if ((st = get_string(p, root, "dtype", &s)))
        return st;
    if (!s && (st = get_string(p, root, "torch_dtype", &s)))
        return st;
    cfg->torch_dtype[0] = '\0';
    if (s) {
        if (strlen(s) >= sizeof cfg->torch_dtype)
            return engine_fail(p->err, ENGINE_ERR_FORMAT, "%s: key \"dtype\" \"%.32s\" is too long",
                               p->path, s);
        strcpy(cfg->torch_dtype, s);
    }
    return parse_labels(p, root, cfg);
}

engine_status llama_config_load(const char *path, llama_config *cfg, engine_err *err)
{
    if (!path || !cfg)
        return engine_fail(err, ENGINE_ERR_ARG, "llama_config_load: NULL argument");
    size_t len = 0;
    char *text = NULL;
    engine_status st = file_read(path, CONFIG_MAX_BYTES, 0, &text, &len, err);
    if (st)
        return st;
    if (memchr(text, '\0', len)) {
        free(text);
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: invalid JSON (a NUL byte)", path);
    }
    /* len + 1: the NUL file_read appended; nothing but blanks may follow */
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, true);
    if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        st = engine_fail(err, ENGINE_ERR_FORMAT, "%s: invalid JSON near byte %zu", path, at);
        free(text);
        return st;
    }
    memset(cfg, 0, sizeof *cfg);
    parse p = {path, "", err};
    st = parse_config(&p, root, cfg);
    cJSON_Delete(root);
    free(text);
    return st;
}

int llama_config_label_index(const llama_config *cfg, const char *name)
{
    if (!cfg || !name)
        return -1;
    for (int i = 0; i < cfg->num_labels && i < LLAMA_MAX_LABELS; i++)
        if (!strcmp(cfg->id2label[i], name))
            return i;
    return -1;
}

/* transformers writes a huge placeholder (about 1e30) when a tokenizer has
 * no length of its own: anything above this is "none". */
#define MODEL_MAX_LENGTH_LIMIT (1 << 20)

engine_status llama_config_model_max_length(const char *path, size_t *out, engine_err *err)
{
    *out = 0;
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT)
        return ENGINE_OK; /* the file is optional */
    size_t len = 0;
    char *text = NULL;
    engine_status st = file_read(path, CONFIG_MAX_BYTES, 0, &text, &len, err);
    if (st)
        return st;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, true);
    free(text);
    if (!root)
        return engine_fail(err, ENGINE_ERR_FORMAT, "%s: invalid JSON", path);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "model_max_length");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1)) {
            cJSON_Delete(root);
            return engine_fail(err, ENGINE_ERR_FORMAT, "%s: model_max_length must be a positive number", path);
        }
        if (v->valuedouble <= MODEL_MAX_LENGTH_LIMIT)
            *out = (size_t)v->valuedouble;
    }
    cJSON_Delete(root);
    return ENGINE_OK;
}
