/*
 * test_checkpoint: llama_config, safetensors and checkpoint on checkpoints
 * built here in a temporary directory. Table-driven: each case breaks one
 * thing in an otherwise valid tiny model and checks the status and that the
 * message names the file and the key or tensor. Positive cases: F16/F32
 * conversion to bf16, a sharded checkpoint, the unknown-tensor warning,
 * both rope layouts, labels and problem types.
 */
#include "config.h"
#include "engine/checkpoint.h"
#include "engine/llama_config.h"
#include "engine/safetensors.h"
#include "t/lib/tap.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a tiny model: hidden 8, intermediate 16, 2 layers, 2 heads of 4, 1 KV head, vocab 32 */

#define MAXT 48

typedef struct tspec {
    char name[96];
    char dtype[8];
    int ndim;
    long long shape[3];
    bool fixed_off; /* use off[] as written, not the computed offsets */
    long long off[2];
} tspec;

typedef struct model {
    char config[4096];
    tspec t[MAXT];
    int n;
    char header_override[256]; /* non-empty: the header text instead */
    long long hlen_override;   /* >= 0: this header length instead */
    long long truncate_to;     /* >= 0: cut the file to this many bytes */
    long long cut_tail;        /* > 0: drop this many bytes from the end */
} model;

static const char *base_config =
    "{\n"
    "  \"architectures\": [\"LlamaForSequenceClassification\"],\n"
    "  \"model_type\": \"llama\",\n"
    "  \"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 2,\n"
    "  \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"head_dim\": 4,\n"
    "  \"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0,\n"
    "  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 32.0, \"low_freq_factor\": 1.0,\n"
    "                   \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192},\n"
    "  \"max_position_embeddings\": 131072, \"vocab_size\": 32, \"tie_word_embeddings\": true,\n"
    "  \"torch_dtype\": \"bfloat16\", \"pad_token_id\": null, \"attention_bias\": false,\n"
    "  \"mlp_bias\": false, \"hidden_act\": \"silu\",\n"
    "  \"id2label\": {\"0\": \"ham\", \"1\": \"spam\"}, \"label2id\": {\"ham\": 0, \"spam\": 1}\n"
    "}\n";

static void add(model *m, const char *name, int ndim, long long r, long long c)
{
    tspec *t = &m->t[m->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    strcpy(t->dtype, "BF16");
    t->ndim = ndim;
    t->shape[0] = r;
    t->shape[1] = c;
}

static void model_init(model *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->config, sizeof m->config, "%s", base_config);
    m->hlen_override = -1;
    m->truncate_to = -1;
    add(m, "model.embed_tokens.weight", 2, 32, 8);
    for (int l = 0; l < 2; l++) {
        char nm[96];
#define L(suffix, nd, r, c) \
    (snprintf(nm, sizeof nm, "model.layers.%d." suffix, l), add(m, nm, nd, r, c))
        L("self_attn.q_proj.weight", 2, 8, 8);
        L("self_attn.k_proj.weight", 2, 4, 8);
        L("self_attn.v_proj.weight", 2, 4, 8);
        L("self_attn.o_proj.weight", 2, 8, 8);
        L("mlp.gate_proj.weight", 2, 16, 8);
        L("mlp.up_proj.weight", 2, 16, 8);
        L("mlp.down_proj.weight", 2, 8, 16);
        L("input_layernorm.weight", 1, 8, 0);
        L("post_attention_layernorm.weight", 1, 8, 0);
#undef L
    }
    add(m, "model.norm.weight", 1, 8, 0);
    add(m, "score.weight", 2, 2, 8);
}

static tspec *tensor(model *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->t[i].name, name))
            return &m->t[i];
    return NULL;
}

static size_t esize(const char *dtype)
{
    if (!strcmp(dtype, "F32"))
        return 4;
    if (!strcmp(dtype, "I64"))
        return 8;
    return 2;
}

static long long elems(const tspec *t)
{
    long long n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= t->shape[d];
    return n;
}

/* Known bit patterns and what bf16 they must become (0xffff: any NaN). */
static const uint32_t f32_in[] = {0x3f800000, 0x3f808000, 0x3f818000, 0x3f808001, 0x7fc00001,
                                  0xff800000, 0x7f7fffff, 0x00000001, 0x80000000, 0xbf7fffff,
                                  0x7f800001};
static const uint16_t f32_out[] = {0x3f80, 0x3f80, 0x3f82, 0x3f81, 0xffff, 0xff80,
                                   0x7f80, 0x0000, 0x8000, 0xbf80, 0xffff};
static const uint16_t f16_in[] = {0x3c00, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0x3c01,
                                  0x3555, 0x0200, 0x8000, 0x7bff, 0x83ff};
static const uint16_t f16_out[] = {0x3f80, 0x3380, 0x7f80, 0xff80, 0xffff, 0x3f80,
                                   0x3eab, 0x3800, 0x8000, 0x4780, 0xb880};
#define NPAT (sizeof f32_in / sizeof f32_in[0])

/* Element i of any tensor: pattern i % NPAT. */
static void put_elem(FILE *f, const char *dtype, long long i)
{
    size_t k = (size_t)(i % (long long)NPAT);
    unsigned char b[8] = {0};
    if (!strcmp(dtype, "F32")) {
        memcpy(b, &f32_in[k], 4);
        fwrite(b, 1, 4, f);
    } else if (!strcmp(dtype, "F16")) {
        memcpy(b, &f16_in[k], 2);
        fwrite(b, 1, 2, f);
    } else if (!strcmp(dtype, "BF16")) {
        uint16_t v = (uint16_t)(0x3f00 + k);
        memcpy(b, &v, 2);
        fwrite(b, 1, 2, f);
    } else {
        fwrite(b, 1, esize(dtype), f);
    }
}

static bool write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    fputs(text, f);
    return fclose(f) == 0;
}

/* Write tensors [from, to) of m as a safetensors file. */
static bool write_st(const char *path, model *m, int from, int to)
{
    char *hdr = malloc(65536);
    size_t len = 0;
    long long off = 0;
    len += (size_t)sprintf(hdr + len, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = from; i < to; i++) {
        tspec *t = &m->t[i];
        long long nb = elems(t) * (long long)esize(t->dtype);
        long long b = t->fixed_off ? t->off[0] : off, e = t->fixed_off ? t->off[1] : off + nb;
        len += (size_t)sprintf(hdr + len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name,
                               t->dtype);
        for (int d = 0; d < t->ndim; d++)
            len += (size_t)sprintf(hdr + len, "%s%lld", d ? "," : "", t->shape[d]);
        len += (size_t)sprintf(hdr + len, "],\"data_offsets\":[%lld,%lld]}", b, e);
        off += nb;
    }
    len += (size_t)sprintf(hdr + len, "}");
    if (m->header_override[0])
        len = (size_t)sprintf(hdr, "%s", m->header_override);
    while (len % 8)
        hdr[len++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(hdr);
        return false;
    }
    uint64_t hl = m->hlen_override >= 0 ? (uint64_t)m->hlen_override : len;
    unsigned char lb[8];
    for (int i = 0; i < 8; i++)
        lb[i] = (unsigned char)(hl >> (8 * i));
    fwrite(lb, 1, 8, f);
    fwrite(hdr, 1, len, f);
    for (int i = from; i < to; i++)
        for (long long k = 0; k < elems(&m->t[i]); k++)
            put_elem(f, m->t[i].dtype, k);
    free(hdr);
    bool ok = fclose(f) == 0;
    if (ok && m->truncate_to >= 0)
        ok = truncate(path, m->truncate_to) == 0;
    struct stat sb;
    if (ok && m->cut_tail > 0 && stat(path, &sb) == 0)
        ok = truncate(path, sb.st_size - m->cut_tail) == 0;
    return ok;
}

static char tmproot[200];
static int dircount;

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

/* A fresh directory under the test's temporary root. */
static void new_dir(char *out, size_t n)
{
    snprintf(out, n, "%s/m%d", tmproot, dircount++);
    mkdir(out, 0700);
}

static bool write_model(const char *dir, model *m)
{
    char p[512];
    snprintf(p, sizeof p, "%s/config.json", dir);
    if (!write_text(p, m->config))
        return false;
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    return write_st(p, m, 0, m->n);
}

/* Replace the first occurrence of from by to in the config text. */
static void cfg_sub(model *m, const char *from, const char *to)
{
    char *p = strstr(m->config, from);
    if (!p) {
        tap_diag("cfg_sub: \"%s\" not in the config", from);
        return;
    }
    char rest[4096];
    snprintf(rest, sizeof rest, "%s", p + strlen(from));
    snprintf(p, sizeof m->config - (size_t)(p - m->config), "%s%s", to, rest);
}

/* ---- the failure table ------------------------------------------------ */

static void m_truncated(model *m) { m->cut_tail = 100; }
static void m_tiny_file(model *m) { m->truncate_to = 5; }
static void m_hlen_big(model *m) { m->hlen_override = 1LL << 40; }
static void m_offset_past_eof(model *m)
{
    tspec *t = tensor(m, "model.norm.weight");
    t->fixed_off = true;
    t->off[0] = 1 << 20;
    t->off[1] = (1 << 20) + 16;
}
static void m_wrong_shape(model *m)
{
    tspec *t = tensor(m, "model.layers.1.self_attn.k_proj.weight");
    t->shape[0] = 8; /* [8, 4]: the same bytes, transposed */
    t->shape[1] = 4;
}
static void m_wrong_shape_1d(model *m)
{
    tspec *t = tensor(m, "model.layers.0.input_layernorm.weight");
    t->ndim = 2;
    t->shape[0] = 1;
    t->shape[1] = 8;
}
static void m_bytes_mismatch(model *m)
{
    tspec *t = tensor(m, "model.norm.weight");
    t->fixed_off = true;
    t->off[0] = 0;
    t->off[1] = 14;
}
static void m_i64(model *m) { strcpy(tensor(m, "model.norm.weight")->dtype, "I64"); }
static void m_missing(model *m)
{
    tspec *t = tensor(m, "model.layers.1.mlp.down_proj.weight");
    *t = m->t[--m->n];
}
static void m_bad_config_json(model *m) { cfg_sub(m, "\"silu\",", "\"silu\",,"); }
static void m_config_trailing(model *m) { strcat(m->config, "x"); }
static void m_bad_header_json(model *m)
{
    strcpy(m->header_override, "{\"model.norm.weight\": {\"dtype\": \"BF16\", ");
}
static void m_header_trailing(model *m) { strcpy(m->header_override, "{} {}"); }
static void m_header_array(model *m) { strcpy(m->header_override, "[1, 2]"); }
static void m_arch(model *m)
{
    cfg_sub(m, "LlamaForSequenceClassification", "LlamaForCausalLM");
}
static void m_no_arch(model *m)
{
    cfg_sub(m, "\"architectures\": [\"LlamaForSequenceClassification\"],", "");
}
static void m_model_type(model *m) { cfg_sub(m, "\"model_type\": \"llama\"", "\"model_type\": \"mistral\""); }
static void m_rope_yarn(model *m) { cfg_sub(m, "\"rope_type\": \"llama3\"", "\"rope_type\": \"yarn\""); }
static void m_rope_type_old(model *m) { cfg_sub(m, "\"rope_type\": \"llama3\"", "\"type\": \"linear\""); }
static void m_rope_params_dynamic(model *m)
{
    cfg_sub(m, "\"rope_scaling\": {\"rope_type\": \"llama3\"",
            "\"rope_parameters\": {\"rope_type\": \"dynamic\"");
}
static void m_rope_no_factor(model *m) { cfg_sub(m, "\"factor\": 32.0,", ""); }
static void m_rope_high_low(model *m) { cfg_sub(m, "\"high_freq_factor\": 4.0", "\"high_freq_factor\": 1.0"); }
static void m_overlap(model *m)
{
    tspec *t = tensor(m, "model.norm.weight");
    t->fixed_off = true; /* the first 16 bytes: embed_tokens' */
    t->off[0] = 0;
    t->off[1] = 16;
}
static void m_attn_bias(model *m) { cfg_sub(m, "\"attention_bias\": false", "\"attention_bias\": true"); }
static void m_mlp_bias(model *m) { cfg_sub(m, "\"mlp_bias\": false", "\"mlp_bias\": true"); }
static void m_gelu(model *m) { cfg_sub(m, "\"silu\"", "\"gelu\""); }
static void m_kv_divide(model *m) { cfg_sub(m, "\"num_key_value_heads\": 1", "\"num_key_value_heads\": 3"); }
static void m_heads_divide(model *m) { cfg_sub(m, "\"num_attention_heads\": 2", "\"num_attention_heads\": 3"); }
static void m_head_dim_odd(model *m) { cfg_sub(m, "\"head_dim\": 4", "\"head_dim\": 5"); }
static void m_no_hidden(model *m) { cfg_sub(m, "\"hidden_size\": 8,", ""); }
static void m_huge_hidden(model *m) { cfg_sub(m, "\"hidden_size\": 8", "\"hidden_size\": 1e9"); }
static void m_huge_vocab(model *m) { cfg_sub(m, "\"vocab_size\": 32", "\"vocab_size\": 4294967296"); }
static void m_frac_layers(model *m) { cfg_sub(m, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 2.5"); }
static void m_neg_eps(model *m) { cfg_sub(m, "\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": -1"); }
static void m_string_layers(model *m) { cfg_sub(m, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": \"2\""); }
static void m_pad_oob(model *m) { cfg_sub(m, "\"pad_token_id\": null", "\"pad_token_id\": 32"); }
static void m_num_labels(model *m) { cfg_sub(m, "\"hidden_act\"", "\"num_labels\": 3, \"hidden_act\""); }
static void m_label2id(model *m) { cfg_sub(m, "\"spam\": 1}", "\"spam\": 0}"); }
static void m_label_key(model *m) { cfg_sub(m, "\"1\": \"spam\"", "\"01\": \"spam\""); }
static void m_label_dup(model *m) { cfg_sub(m, "\"1\": \"spam\"", "\"1\": \"ham\""); }
static void m_problem(model *m) { cfg_sub(m, "\"hidden_act\"", "\"problem_type\": \"ranking\", \"hidden_act\""); }
static void m_too_many_labels(model *m)
{
    char buf[2048] = "\"id2label\": {";
    for (int i = 0; i < LLAMA_MAX_LABELS + 1; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s\"%d\": \"l%d\"", i ? ", " : "",
                 i, i);
    strcat(buf, "}, \"old_id2label\": {");
    cfg_sub(m, "\"id2label\": {", buf);
    cfg_sub(m, "\"label2id\": {\"ham\": 0, \"spam\": 1}", "\"label2id\": null");
}
static void m_score_shape(model *m)
{
    /* three labels in the config, a two-row score in the file */
    cfg_sub(m, "\"1\": \"spam\"}", "\"1\": \"spam\", \"2\": \"phish\"}");
    cfg_sub(m, "\"spam\": 1}", "\"spam\": 1, \"phish\": 2}");
}
static void m_dup_tensor(model *m)
{
    /* the same name twice in the header (JSON allows it; we do not) */
    tspec *t = &m->t[m->n++];
    *t = *tensor(m, "model.norm.weight");
}
static void m_shape_neg(model *m) { tensor(m, "model.norm.weight")->shape[0] = -8; }

typedef struct fcase {
    const char *desc;
    void (*mutate)(model *m);
    engine_status want;
    const char *file;  /* a substring of the message: the file at fault */
    const char *what;  /* and the key or tensor */
} fcase;

static const fcase fails[] = {
    {"truncated file", m_truncated, ENGINE_ERR_FORMAT, "model.safetensors", "past the end"},
    {"file shorter than the length field", m_tiny_file, ENGINE_ERR_FORMAT, "model.safetensors", "truncated"},
    {"header length larger than the file", m_hlen_big, ENGINE_ERR_FORMAT, "model.safetensors", "header length"},
    {"offset past EOF", m_offset_past_eof, ENGINE_ERR_FORMAT, "model.safetensors", "model.norm.weight"},
    {"wrong shape", m_wrong_shape, ENGINE_ERR_FORMAT, "model.safetensors", "model.layers.1.self_attn.k_proj.weight"},
    {"2-D norm weight", m_wrong_shape_1d, ENGINE_ERR_FORMAT, "model.safetensors", "model.layers.0.input_layernorm.weight"},
    {"bytes disagree with the shape", m_bytes_mismatch, ENGINE_ERR_FORMAT, "model.safetensors", "model.norm.weight"},
    {"wrong dtype I64", m_i64, ENGINE_ERR_UNSUPPORTED, "model.safetensors", "model.norm.weight"},
    {"negative dimension", m_shape_neg, ENGINE_ERR_FORMAT, "model.safetensors", "model.norm.weight"},
    {"missing tensor", m_missing, ENGINE_ERR_FORMAT, "model.safetensors", "model.layers.1.mlp.down_proj.weight"},
    {"duplicate tensor", m_dup_tensor, ENGINE_ERR_FORMAT, "model.safetensors", "model.norm.weight"},
    {"overlapping tensors", m_overlap, ENGINE_ERR_FORMAT, "model.safetensors", "overlap"},
    {"invalid JSON in config.json", m_bad_config_json, ENGINE_ERR_FORMAT, "config.json", "invalid JSON"},
    {"trailing garbage in config.json", m_config_trailing, ENGINE_ERR_FORMAT, "config.json", "invalid JSON"},
    {"invalid JSON in the header", m_bad_header_json, ENGINE_ERR_FORMAT, "model.safetensors", "invalid JSON"},
    {"trailing garbage in the header", m_header_trailing, ENGINE_ERR_FORMAT, "model.safetensors", "invalid JSON"},
    {"header not an object", m_header_array, ENGINE_ERR_FORMAT, "model.safetensors", "object"},
    {"unsupported architecture", m_arch, ENGINE_ERR_UNSUPPORTED, "config.json", "architectures"},
    {"no architectures", m_no_arch, ENGINE_ERR_FORMAT, "config.json", "architectures"},
    {"model_type not llama", m_model_type, ENGINE_ERR_UNSUPPORTED, "config.json", "model_type"},
    {"unknown rope type", m_rope_yarn, ENGINE_ERR_UNSUPPORTED, "config.json", "rope_scaling.rope_type"},
    {"unknown rope type (old key)", m_rope_type_old, ENGINE_ERR_UNSUPPORTED, "config.json", "rope_scaling.type"},
    {"unknown rope type (rope_parameters)", m_rope_params_dynamic, ENGINE_ERR_UNSUPPORTED, "config.json", "rope_parameters.rope_type"},
    {"llama3 rope without factor", m_rope_no_factor, ENGINE_ERR_FORMAT, "config.json", "rope_scaling.factor"},
    {"llama3 rope high <= low", m_rope_high_low, ENGINE_ERR_UNSUPPORTED, "config.json", "high_freq_factor"},
    {"attention_bias true", m_attn_bias, ENGINE_ERR_UNSUPPORTED, "config.json", "attention_bias"},
    {"mlp_bias true", m_mlp_bias, ENGINE_ERR_UNSUPPORTED, "config.json", "mlp_bias"},
    {"hidden_act gelu", m_gelu, ENGINE_ERR_UNSUPPORTED, "config.json", "hidden_act"},
    {"kv heads do not divide heads", m_kv_divide, ENGINE_ERR_UNSUPPORTED, "config.json", "num_key_value_heads"},
    {"heads do not divide hidden", m_heads_divide, ENGINE_ERR_UNSUPPORTED, "config.json", "num_attention_heads"},
    {"odd head_dim", m_head_dim_odd, ENGINE_ERR_UNSUPPORTED, "config.json", "head_dim"},
    {"hidden_size missing", m_no_hidden, ENGINE_ERR_FORMAT, "config.json", "hidden_size"},
    {"hidden_size absurd", m_huge_hidden, ENGINE_ERR_UNSUPPORTED, "config.json", "hidden_size"},
    {"vocab_size absurd", m_huge_vocab, ENGINE_ERR_UNSUPPORTED, "config.json", "vocab_size"},
    {"fractional num_hidden_layers", m_frac_layers, ENGINE_ERR_FORMAT, "config.json", "num_hidden_layers"},
    {"string num_hidden_layers", m_string_layers, ENGINE_ERR_FORMAT, "config.json", "num_hidden_layers"},
    {"negative rms_norm_eps", m_neg_eps, ENGINE_ERR_UNSUPPORTED, "config.json", "rms_norm_eps"},
    {"pad_token_id outside the vocabulary", m_pad_oob, ENGINE_ERR_UNSUPPORTED, "config.json", "pad_token_id"},
    {"num_labels disagrees with id2label", m_num_labels, ENGINE_ERR_FORMAT, "config.json", "num_labels"},
    {"label2id disagrees with id2label", m_label2id, ENGINE_ERR_FORMAT, "config.json", "label2id"},
    {"id2label key not an index", m_label_key, ENGINE_ERR_FORMAT, "config.json", "id2label"},
    {"id2label label twice", m_label_dup, ENGINE_ERR_FORMAT, "config.json", "id2label"},
    {"too many labels", m_too_many_labels, ENGINE_ERR_UNSUPPORTED, "config.json", "id2label"},
    {"unknown problem_type", m_problem, ENGINE_ERR_UNSUPPORTED, "config.json", "problem_type"},
    {"score rows disagree with num_labels", m_score_shape, ENGINE_ERR_FORMAT, "model.safetensors", "score.weight"},
};

static void expect_fail(const char *desc, const char *dir, engine_status want, const char *file,
                        const char *what)
{
    checkpoint *ck = (checkpoint *)1;
    engine_err err = {{0}};
    engine_status st = checkpoint_open(dir, &ck, &err);
    tap_ok(st == want && ck == NULL, "%s: status %s (want %s)", desc, engine_status_name(st),
           engine_status_name(want));
    tap_ok(strstr(err.msg, file) && strstr(err.msg, what), "%s: message names %s and %s: %s",
           desc, file, what, err.msg);
    if (st == ENGINE_OK)
        checkpoint_free(ck);
}

/* ---- positive cases ----------------------------------------------------- */

static checkpoint *open_ok(const char *desc, const char *dir)
{
    checkpoint *ck = NULL;
    engine_err err = {{0}};
    engine_status st = checkpoint_open(dir, &ck, &err);
    if (!tap_ok(st == ENGINE_OK && ck, "%s: opens", desc))
        tap_diag("%s", err.msg);
    return st == ENGINE_OK ? ck : NULL;
}

static void test_valid(void)
{
    model m;
    char dir[300];
    model_init(&m);
    add(&m, "lm_head.weight", 2, 32, 8);
    new_dir(dir, sizeof dir);
    write_model(dir, &m);
    checkpoint *ck = open_ok("valid model with lm_head", dir);
    if (!ck)
        return;
    const llama_config *c = checkpoint_config(ck);
    tap_ok(c->hidden_size == 8 && c->intermediate_size == 16 && c->num_layers == 2 &&
               c->num_heads == 2 && c->num_kv_heads == 1 && c->head_dim == 4 &&
               c->vocab_size == 32 && c->max_position_embeddings == 131072,
           "config: sizes");
    tap_ok(c->rope_llama3 && c->rope_theta == 500000.0 && c->rope_factor == 32.0 &&
               c->rope_low_freq_factor == 1.0 && c->rope_high_freq_factor == 4.0 &&
               c->rope_original_max_pos == 8192,
           "config: llama3 rope (legacy rope_scaling layout)");
    tap_ok(fabsf(c->rms_norm_eps - 1e-5f) < 1e-12f && c->tie_word_embeddings &&
               c->pad_token_id == -1 && !strcmp(c->torch_dtype, "bfloat16"),
           "config: eps, tie, pad null -> -1, torch_dtype");
    tap_ok(c->num_labels == 2 && !strcmp(c->id2label[0], "ham") && !strcmp(c->id2label[1], "spam") &&
               c->problem == LLAMA_SINGLE_LABEL && llama_config_label_index(c, "spam") == 1 &&
               llama_config_label_index(c, "nope") == -1,
           "config: labels, single-label by default");
    tap_ok(strstr(checkpoint_warnings(ck), "lm_head.weight") &&
               strstr(checkpoint_warnings(ck), "1 unknown tensor"),
           "unknown tensor warning: %s", checkpoint_warnings(ck));
    const tensor_view *t = checkpoint_tensor(ck, "model.layers.1.mlp.down_proj.weight");
    tap_ok(t && t->ndim == 2 && t->shape[0] == 8 && t->shape[1] == 16 &&
               t->dtype == TENSOR_BF16 && t->nbytes == 256,
           "tensor view: shape, dtype, bytes");
    tap_ok(checkpoint_tensor(ck, "model.layers.2.mlp.down_proj.weight") == NULL,
           "no tensor for a name not in the file");
    if (t) {
        uint16_t buf[128], again[128];
        checkpoint_copy_bf16(t, buf);
        bool same = true;
        for (int i = 0; i < 128; i++)
            same &= buf[i] == (uint16_t)(0x3f00 + i % (int)NPAT);
        tap_ok(same, "bf16 copied as is");
        checkpoint_release(ck, t);
        checkpoint_copy_bf16(t, again); /* pages come back from the file */
        tap_ok(!memcmp(buf, again, sizeof buf), "data still readable after release");
    }
    const char *tp = checkpoint_tokenizer_path(ck);
    tap_ok(tp && strstr(tp, dir) && strstr(tp, "tokenizer.json"), "tokenizer path: %s", tp);
    checkpoint_free(ck);
    checkpoint_free(NULL);
}

static void test_conversion(const char *dtype)
{
    model m;
    char dir[300], desc[64];
    model_init(&m);
    for (int i = 0; i < m.n; i++)
        strcpy(m.t[i].dtype, dtype);
    new_dir(dir, sizeof dir);
    write_model(dir, &m);
    snprintf(desc, sizeof desc, "%s checkpoint", dtype);
    checkpoint *ck = open_ok(desc, dir);
    if (!ck)
        return;
    bool f32 = !strcmp(dtype, "F32");
    const uint16_t *want = f32 ? f32_out : f16_out;
    const tensor_view *t = checkpoint_tensor(ck, "model.embed_tokens.weight");
    tap_ok(t && t->dtype == (f32 ? TENSOR_F32 : TENSOR_F16), "%s: dtype reported", dtype);
    uint16_t out[256];
    checkpoint_copy_bf16(t, out);
    int bad = 0;
    for (int i = 0; i < 256; i++) {
        uint16_t w = want[i % NPAT], g = out[i];
        bool ok = w == 0xffff ? ((g & 0x7f80) == 0x7f80 && (g & 0x7f)) : g == w;
        if (!ok && bad++ < 4)
            tap_diag("%s element %d: got %04x want %04x", dtype, i, g, w);
    }
    tap_ok(bad == 0, "%s -> bf16: round to nearest even, NaN, inf, subnormal, -0", dtype);
    checkpoint_free(ck);
}

static void test_sharded(void)
{
    model m;
    char dir[300], p[512];
    model_init(&m);
    int half = m.n / 2;
    new_dir(dir, sizeof dir);
    snprintf(p, sizeof p, "%s/config.json", dir);
    write_text(p, m.config);
    snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
    write_st(p, &m, 0, half);
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
    write_st(p, &m, half, m.n);
    char *idx = malloc(16384);
    size_t len = (size_t)sprintf(idx, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
    for (int i = 0; i < m.n; i++)
        len += (size_t)sprintf(idx + len, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"",
                               i ? ", " : "", m.t[i].name, i < half ? 1 : 2);
    strcpy(idx + len, "}}");
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    write_text(p, idx);
    checkpoint *ck = open_ok("sharded via index.json", dir);
    if (ck) {
        tap_ok(checkpoint_tensor(ck, "model.embed_tokens.weight") &&
                   checkpoint_tensor(ck, "score.weight") && !checkpoint_warnings(ck)[0],
               "sharded: tensors from both shards, no warning");
        checkpoint_free(ck);
    }

    /* the index lies about a tensor's shard */
    char *lie = strdup(idx);
    char *q = strstr(lie, "\"score.weight\": \"model-00002");
    if (q)
        q[strlen("\"score.weight\": \"model-0000")] = '1';
    write_text(p, lie);
    expect_fail("index names the wrong shard", dir, ENGINE_ERR_FORMAT,
                "model.safetensors.index.json", "score.weight");
    free(lie);

    /* a shard outside the directory */
    char *esc = strdup(idx);
    q = strstr(esc, "model-00002-of-00002");
    if (q)
        memcpy(q, "../../etc/passwd.sa", 19);
    write_text(p, esc);
    expect_fail("shard name with a path", dir, ENGINE_ERR_FORMAT,
                "model.safetensors.index.json", "weight_map");
    free(esc);

    write_text(p, "{\"weight_map\": [}");
    expect_fail("index invalid JSON", dir, ENGINE_ERR_FORMAT, "model.safetensors.index.json",
                "invalid JSON");
    /* a shard itself broken: the message names the shard */
    write_text(p, idx);
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
    m.cut_tail = 2;
    write_st(p, &m, half, m.n);
    expect_fail("truncated shard", dir, ENGINE_ERR_FORMAT, "model-00002-of-00002.safetensors",
                "past the end");
    free(idx);
}

static void test_dirs(void)
{
    char dir[300], p[512];
    new_dir(dir, sizeof dir);
    expect_fail("empty directory", dir, ENGINE_ERR_IO, dir, "config.json");
    snprintf(p, sizeof p, "%s/nonexistent", dir);
    expect_fail("nonexistent directory", p, ENGINE_ERR_IO, p, "model directory");
    snprintf(p, sizeof p, "%s/config.json", dir);
    model m;
    model_init(&m);
    write_text(p, m.config);
    expect_fail("config.json but no weights", dir, ENGINE_ERR_IO, dir, "model.safetensors");
    expect_fail("a file, not a directory", p, ENGINE_ERR_IO, p, "directory");
}

/* Config-only checks: defaults and the other layouts. */
static bool load_cfg(const char *text, llama_config *c, engine_err *err)
{
    char dir[300], p[512];
    new_dir(dir, sizeof dir);
    snprintf(p, sizeof p, "%s/config.json", dir);
    write_text(p, text);
    return llama_config_load(p, c, err) == ENGINE_OK;
}

static void test_config_variants(void)
{
    model m;
    llama_config c;
    engine_err err = {{0}};

    /* transformers 5: rope_parameters holding rope_theta, dtype not torch_dtype */
    model_init(&m);
    cfg_sub(&m, "\"rope_theta\": 500000.0,", "");
    cfg_sub(&m, "\"rope_scaling\": {\"rope_type\": \"llama3\",",
            "\"rope_parameters\": {\"rope_type\": \"llama3\", \"rope_theta\": 250000.0,");
    cfg_sub(&m, "\"torch_dtype\"", "\"dtype\"");
    tap_ok(load_cfg(m.config, &c, &err) && c.rope_llama3 && c.rope_theta == 250000.0 &&
               c.rope_factor == 32.0 && !strcmp(c.torch_dtype, "bfloat16"),
           "rope_parameters layout (transformers 5) %s", err.msg);

    /* no scaling: rope_scaling null, rope_type default; head_dim absent */
    model_init(&m);
    cfg_sub(&m, "\"head_dim\": 4,", "");
    cfg_sub(&m, "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 32.0, \"low_freq_factor\": 1.0,\n"
                "                   \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}",
            "\"rope_scaling\": null");
    cfg_sub(&m, "\"pad_token_id\": null", "\"pad_token_id\": 7");
    tap_ok(load_cfg(m.config, &c, &err) && !c.rope_llama3 && c.head_dim == 4 &&
               c.pad_token_id == 7,
           "rope_scaling null, head_dim = hidden/heads, pad_token_id 7 %s", err.msg);
    model_init(&m);
    cfg_sub(&m, "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 32.0, \"low_freq_factor\": 1.0,\n"
                "                   \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}",
            "\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 10000.0}");
    cfg_sub(&m, "\"num_key_value_heads\": 1,", "");
    tap_ok(load_cfg(m.config, &c, &err) && !c.rope_llama3 && c.rope_theta == 10000.0 &&
               c.num_kv_heads == 2,
           "rope_type default; num_key_value_heads absent = heads %s", err.msg);

    /* labels and problem types */
    model_init(&m);
    cfg_sub(&m, "\"id2label\": {\"0\": \"ham\", \"1\": \"spam\"}, \"label2id\": {\"ham\": 0, \"spam\": 1}",
            "\"id2label\": {\"0\": \"score\"}, \"label2id\": {\"score\": 0}");
    tap_ok(load_cfg(m.config, &c, &err) && c.num_labels == 1 && c.problem == LLAMA_REGRESSION,
           "one label: regression %s", err.msg);
    model_init(&m);
    cfg_sub(&m, "\"hidden_act\"", "\"problem_type\": \"multi_label_classification\", \"hidden_act\"");
    tap_ok(load_cfg(m.config, &c, &err) && c.problem == LLAMA_MULTI_LABEL,
           "multi_label_classification %s", err.msg);
    model_init(&m);
    cfg_sub(&m, "\"id2label\": {\"0\": \"ham\", \"1\": \"spam\"}, \"label2id\": {\"ham\": 0, \"spam\": 1}",
            "\"num_labels\": 3");
    tap_ok(load_cfg(m.config, &c, &err) && c.num_labels == 3 && !strcmp(c.id2label[2], "LABEL_2"),
           "num_labels without id2label: LABEL_i %s", err.msg);
    model_init(&m);
    cfg_sub(&m, "\"label2id\": {\"ham\": 0, \"spam\": 1}", "\"label2id\": {\"LABEL_0\": 0, \"LABEL_1\": 1}");
    tap_ok(load_cfg(m.config, &c, &err) && !strcmp(c.id2label[1], "spam"),
           "transformers' default label2id left beside a real id2label is accepted %s", err.msg);
    model_init(&m);
    cfg_sub(&m, "\"1\": \"spam\"}", "\"1\": \"spam\", \"2\": \"phish\"}");
    cfg_sub(&m, "\"spam\": 1}", "\"spam\": 1, \"phish\": 2}");
    tap_ok(load_cfg(m.config, &c, &err) && c.num_labels == 3 && c.problem == LLAMA_SINGLE_LABEL &&
               llama_config_label_index(&c, "phish") == 2,
           "three labels %s", err.msg);
    tap_ok(llama_config_load("/nonexistent/config.json", &c, &err) == ENGINE_ERR_IO &&
               strstr(err.msg, "/nonexistent/config.json"),
           "missing config.json: %s", err.msg);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tmproot, sizeof tmproot, "%s/llmspam-ck-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmproot))
        tap_skip_all("cannot make a temporary directory");

    for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
        model m;
        char dir[300];
        model_init(&m);
        fails[i].mutate(&m);
        new_dir(dir, sizeof dir);
        if (!write_model(dir, &m)) {
            tap_ok(false, "%s: could not write the checkpoint", fails[i].desc);
            continue;
        }
        expect_fail(fails[i].desc, dir, fails[i].want, fails[i].file, fails[i].what);
    }
    test_valid();
    test_conversion("F16");
    test_conversion("F32");
    test_sharded();
    test_dirs();
    test_config_variants();

    char dir[300];
    for (int i = 0; i < dircount; i++) {
        snprintf(dir, sizeof dir, "%s/m%d", tmproot, i);
        rm_tree(dir);
    }
    rmdir(tmproot);
    return tap_done();
}
