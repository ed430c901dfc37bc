/*
 * mkmodel: "llmspam mkmodel" writes a complete LlamaForSequenceClassification
 * checkpoint with deterministic random weights: config.json as transformers'
 * save_pretrained writes it (so AutoModelForSequenceClassification loads
 * it), model.safetensors, and a copy of a tokenizer.json. The same
 * arguments give byte-identical files, so a sha256 pins a generated model:
 * the parity fixtures (t/ref/) record the one they were made from.
 *
 * Weights are drawn per tensor from a splitmix64 stream seeded by the seed
 * and the tensor's name, shaped into an approximate normal (the sum of four
 * 16-bit uniforms) with only integer and basic IEEE arithmetic, so every
 * platform produces the same bits. Scales keep activations O(1): each
 * projection has std 1/sqrt(fan_in), norms are 1 + noise; the score is a
 * tenth of that, so logits are ~0.1 (see build_tensors). The file is
 * written tensor by tensor in chunks; the 2.5 GB llama-3.2-1b preset is
 * never held in memory.
 */
#include "config.h"
#include "tools/commands.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/checkpoint.h"
#include "engine/llama_config.h"

typedef enum { W_BF16, W_F16, W_F32 } wdtype;

typedef struct mkargs {
    long long layers, hidden, intermediate, heads, kv_heads, head_dim, vocab, max_pos;
    bool head_dim_set;
    bool rope_llama3;
    long long pad_token_id; /* -1: null */
    const char *problem_type; /* NULL: not written */
    char labels[LLAMA_MAX_LABELS][LLAMA_LABEL_MAX];
    int num_labels;
    wdtype dtype;
    uint64_t seed;
    const char *tokenizer;
    const char *outdir;
} mkargs;

static void mkmodel_usage(FILE *out)
{
    fprintf(out,
        "usage: llmspam mkmodel --preset tiny|llama-3.2-1b [OPTIONS] --tokenizer FILE OUTDIR\n"
        "\n"
        "Write a LlamaForSequenceClassification checkpoint with deterministic random\n"
        "weights into OUTDIR (created if missing): config.json as transformers'\n"
        "save_pretrained writes it, model.safetensors, and a copy of tokenizer.json.\n"
        "The same arguments always give byte-identical files. The weights classify\n"
        "nothing; the model exists to test and benchmark the engine (its parity\n"
        "with transformers, its speed, its memory).\n"
        "\n"
        "presets:\n"
        "  tiny          hidden 64, intermediate 128, 2 layers, 4 heads, 2 KV heads,\n"
        "                head_dim 16; vocabulary and rope as llama-3.2-1b\n"
        "  llama-3.2-1b  the shapes of Llama-3.2-1B: hidden 2048, intermediate 8192,\n"
        "                16 layers, 32 heads, 8 KV heads, head_dim 64, vocab 128256,\n"
        "                rope_theta 500000 with llama3 scaling (factor 32, low 1,\n"
        "                high 4, original 8192), 131072 positions, tied embeddings,\n"
        "                rms_norm_eps 1e-5 (2.5 GB in bf16)\n"
        "\n"
        "options (each overrides the preset):\n"
        "  --layers N          num_hidden_layers\n"
        "  --hidden N          hidden_size\n"
        "  --intermediate N    intermediate_size\n"
        "  --heads N           num_attention_heads (must divide hidden)\n"
        "  --kv-heads N        num_key_value_heads (must divide heads)\n"
        "  --head-dim N        head_dim (default hidden/heads; must be even)\n"
        "  --vocab N           vocab_size\n"
        "  --max-pos N         max_position_embeddings\n"
        "  --rope llama3|none  llama3 rope scaling, or none (rope_type default)\n"
        "  --pad-token-id N|none\n"
        "                      pad_token_id (default none, written as null)\n"
        "  --problem-type single_label_classification|multi_label_classification|regression\n"
        "                      problem_type (default: not written; transformers then\n"
        "                      treats 1 label as regression, more as single-label)\n"
        "  --labels A,B,...    id2label names in order (default ham,spam; at most %d)\n"
        "  --dtype bf16|f16|f32\n"
        "                      tensor dtype in model.safetensors (default bf16)\n"
        "  --seed S            the weights' seed, an unsigned 64-bit integer (default 1)\n"
        "  --tokenizer FILE    the tokenizer.json to copy into OUTDIR (required)\n"
        "  -h, --help          this help\n"
        "\n"
        "The written directory is then opened and validated as llmspam loads models.\n"
        "Exit status: 0 written, 1 failure, 2 usage.\n",
        LLAMA_MAX_LABELS);
}

/* ---- deterministic weights --------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* An approximately standard normal: the sum of four 16-bit uniforms,
 * centred and scaled (exact integer work, one IEEE division). */
static double gauss(uint64_t *s)
{
    uint64_t r = splitmix64(s);
    long sum = (long)(r & 0xffff) + (long)((r >> 16) & 0xffff) + (long)((r >> 32) & 0xffff) +
               (long)(r >> 48);
    /* mean 4 * 65535/2, variance 4 * (65536^2 - 1)/12 */
    return ((double)sum - 131070.0) / 37837.23596;
}

static uint64_t name_seed(uint64_t seed, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    uint64_t s = seed ^ h;
    return splitmix64(&s);
}

static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* float -> IEEE half, round to nearest even (finite inputs of modest size). */
static uint16_t to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    int exp = (int)((u >> 23) & 0xff) - 127 + 15;
    uint32_t man = u & 0x7fffffu;
    if ((u & 0x7fffffffu) == 0)
        return sign;
    if (exp >= 31)
        return sign | 0x7c00u;
    if (exp <= 0) { /* subnormal half */
        if (exp < -10)
            return sign;
        man |= 0x800000u;
        int shift = 14 - exp;
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return sign | (uint16_t)half;
    }
    uint32_t half = (uint32_t)exp << 10 | man >> 13, rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1)))
        half++; /* may carry into the exponent, which is right */
    return sign | (uint16_t)half;
}

typedef enum { INIT_NORMAL, INIT_NORM } init_kind;

typedef struct wtensor {
    char name[96];
    int ndim;
    long long shape[2];
    init_kind init;
    double std;
    uint64_t begin, end;
} wtensor;

static size_t wsize(wdtype d)
{
    return d == W_F32 ? 4 : 2;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const wtensor *)a)->name, ((const wtensor *)b)->name);
}

static bool write_tensor(FILE *f, const wtensor *t, wdtype dt, uint64_t seed)
{
    enum { CHUNK = 1 << 16 };
    static unsigned char buf[CHUNK * 4];
    uint64_t s = name_seed(seed, t->name);
    long long n = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
    size_t es = wsize(dt);
    for (long long done = 0; done < n;) {
        long long k = n - done < CHUNK ? n - done : CHUNK;
        for (long long i = 0; i < k; i++) {
            double z = gauss(&s);
            float v = (float)(t->init == INIT_NORM ? 1.0 + t->std * z : t->std * z);
            if (dt == W_BF16) {
                uint16_t h = to_bf16(v);
                memcpy(buf + 2 * i, &h, 2); /* little-endian host (x86-64, arm64) */
            } else if (dt == W_F16) {
                uint16_t h = to_f16(v);
                memcpy(buf + 2 * i, &h, 2);
            } else {
                memcpy(buf + 4 * i, &v, 4);
            }
        }
        if (fwrite(buf, es, (size_t)k, f) != (size_t)k)
            return false;
        done += k;
    }
    return true;
}

/* ---- config.json --------------------------------------------------------- */

/* A double as Python's repr writes it: the shortest digits that read back
 * the same, positional for exponents -4..15 (with ".0" on integers),
 * scientific otherwise: 1e-05, 500000.0, 0.02. */
static void fmt_double(char *buf, size_t n, double v)
{
    int p = 1;
    for (; p < 17; p++) {
        snprintf(buf, n, "%.*e", p - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    snprintf(buf, n, "%.*e", p - 1, v);
    int exp = atoi(strchr(buf, 'e') + 1);
    if (exp < -4 || exp >= 16)
        return;
    snprintf(buf, n, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, v);
    if (!strchr(buf, '.'))
        strncat(buf, ".0", n - strlen(buf) - 1);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static const char *dtype_torch(wdtype d)
{
    return d == W_BF16 ? "bfloat16" : d == W_F16 ? "float16" : "float32";
}

static bool write_config(const char *path, const mkargs *a)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    char num[64];
    long long head_dim = a->head_dim_set ? a->head_dim : a->hidden / (a->heads ? a->heads : 1);
    fprintf(f, "{\n  \"architectures\": [\n    \"LlamaForSequenceClassification\"\n  ],\n");
    fprintf(f, "  \"attention_bias\": false,\n  \"attention_dropout\": 0.0,\n");
    /* Llama 3's ids; null where the vocabulary is too small to hold them */
    if (a->vocab > 128000)
        fprintf(f, "  \"bos_token_id\": 128000,\n");
    else
        fprintf(f, "  \"bos_token_id\": null,\n");
    fprintf(f, "  \"dtype\": \"%s\",\n", dtype_torch(a->dtype));
    if (a->vocab > 128001)
        fprintf(f, "  \"eos_token_id\": 128001,\n");
    else
        fprintf(f, "  \"eos_token_id\": null,\n");
    fprintf(f, "  \"head_dim\": %lld,\n  \"hidden_act\": \"silu\",\n  \"hidden_size\": %lld,\n",
            head_dim, a->hidden);
    fprintf(f, "  \"id2label\": {\n");
    for (int i = 0; i < a->num_labels; i++) {
        fprintf(f, "    \"%d\": ", i);
        json_string(f, a->labels[i]);
        fprintf(f, "%s\n", i + 1 < a->num_labels ? "," : "");
    }
    fprintf(f, "  },\n  \"initializer_range\": 0.02,\n  \"intermediate_size\": %lld,\n",
            a->intermediate);
    fprintf(f, "  \"label2id\": {\n");
    for (int i = 0; i < a->num_labels; i++) {
        fprintf(f, "    ");
        json_string(f, a->labels[i]);
        fprintf(f, ": %d%s\n", i, i + 1 < a->num_labels ? "," : "");
    }
    fprintf(f, "  },\n  \"max_position_embeddings\": %lld,\n", a->max_pos);
    fprintf(f, "  \"mlp_bias\": false,\n  \"model_type\": \"llama\",\n");
    fprintf(f, "  \"num_attention_heads\": %lld,\n  \"num_hidden_layers\": %lld,\n", a->heads,
            a->layers);
    fprintf(f, "  \"num_key_value_heads\": %lld,\n", a->kv_heads);
    if (a->pad_token_id >= 0)
        fprintf(f, "  \"pad_token_id\": %lld,\n", a->pad_token_id);
    else
        fprintf(f, "  \"pad_token_id\": null,\n");
    fprintf(f, "  \"pretraining_tp\": 1,\n");
    if (a->problem_type)
        fprintf(f, "  \"problem_type\": \"%s\",\n", a->problem_type);
    fmt_double(num, sizeof num, 1e-5);
    fprintf(f, "  \"rms_norm_eps\": %s,\n", num);
    fmt_double(num, sizeof num, 500000.0);
    if (a->rope_llama3)
        fprintf(f,
                "  \"rope_parameters\": {\n    \"factor\": 32.0,\n    \"high_freq_factor\": 4.0,\n"
                "    \"low_freq_factor\": 1.0,\n    \"original_max_position_embeddings\": 8192,\n"
                "    \"rope_theta\": %s,\n    \"rope_type\": \"llama3\"\n  },\n",
                num);
    else
        fprintf(f, "  \"rope_parameters\": {\n    \"rope_theta\": %s,\n    \"rope_type\": \"default\"\n  },\n",
                num);
    fprintf(f, "  \"tie_word_embeddings\": true,\n  \"use_cache\": true,\n  \"vocab_size\": %lld\n}\n",
            a->vocab);
    return fclose(f) == 0;
}

/* ---- model.safetensors ---------------------------------------------------- */

static int build_tensors(const mkargs *a, const llama_config *c, wtensor **out)
{
    int n = 3 + 9 * c->num_layers, k = 0;
    wtensor *t = calloc((size_t)n, sizeof *t);
    if (!t)
        return -1;
    long long h = c->hidden_size, q = (long long)c->num_heads * c->head_dim,
              kv = (long long)c->num_kv_heads * c->head_dim, in = c->intermediate_size;
#define T(nm_fmt, layer, nd, r, cc, kind, sd)                                         \
    do {                                                                               \
        snprintf(t[k].name, sizeof t[k].name, nm_fmt, layer);                          \
        t[k].ndim = nd;                                                                \
        t[k].shape[0] = r;                                                             \
        t[k].shape[1] = cc;                                                            \
        t[k].init = kind;                                                              \
        t[k].std = sd;                                                                 \
        k++;                                                                           \
    } while (0)
    T("model.embed_tokens.weight%.0d", 0, 2, (long long)c->vocab_size, h, INIT_NORMAL, 1.0);
    for (int l = 0; l < c->num_layers; l++) {
        T("model.layers.%d.self_attn.q_proj.weight", l, 2, q, h, INIT_NORMAL, 1 / sqrt((double)h));
        T("model.layers.%d.self_attn.k_proj.weight", l, 2, kv, h, INIT_NORMAL, 1 / sqrt((double)h));
        T("model.layers.%d.self_attn.v_proj.weight", l, 2, kv, h, INIT_NORMAL, 1 / sqrt((double)h));
        T("model.layers.%d.self_attn.o_proj.weight", l, 2, h, q, INIT_NORMAL, 1 / sqrt((double)q));
        T("model.layers.%d.mlp.gate_proj.weight", l, 2, in, h, INIT_NORMAL, 1 / sqrt((double)h));
        T("model.layers.%d.mlp.up_proj.weight", l, 2, in, h, INIT_NORMAL, 1 / sqrt((double)h));
        T("model.layers.%d.mlp.down_proj.weight", l, 2, h, in, INIT_NORMAL, 1 / sqrt((double)in));
        T("model.layers.%d.input_layernorm.weight", l, 1, h, 0, INIT_NORM, 0.1);
        T("model.layers.%d.post_attention_layernorm.weight", l, 1, h, 0, INIT_NORM, 0.1);
    }
    T("model.norm.weight%.0d", 0, 1, h, 0, INIT_NORM, 0.1);
    /* score at a tenth of 1/sqrt(h): logits ~0.1. Rounding the activations
     * to bf16 before each GEMM (what the engine does) moves these logits by
     * up to ~1e-3 against transformers' float32, half the parity tolerance
     * (2e-3 absolute); a semantic error still moves them by ~0.1. */
    T("score.weight%.0d", 0, 2, (long long)c->num_labels, h, INIT_NORMAL, 0.1 / sqrt((double)h));
#undef T
    (void)a;
    qsort(t, (size_t)k, sizeof *t, by_name);
    *out = t;
    return k;
}

static bool write_safetensors(const char *path, const mkargs *a, const llama_config *c,
                              long long *params, uint64_t *bytes)
{
    wtensor *t = NULL;
    int n = build_tensors(a, c, &t);
    if (n < 0)
        return false;
    size_t es = wsize(a->dtype);
    const char *dn = a->dtype == W_BF16 ? "BF16" : a->dtype == W_F16 ? "F16" : "F32";
    uint64_t off = 0;
    *params = 0;
    size_t cap = 256 + (size_t)n * 200, len = 0;
    char *hdr = malloc(cap);
    bool ok = hdr != NULL;
    if (ok)
        len += (size_t)snprintf(hdr, cap, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; ok && i < n; i++) {
        long long e = t[i].shape[0] * (t[i].ndim == 2 ? t[i].shape[1] : 1);
        t[i].begin = off;
        t[i].end = off + (uint64_t)e * es;
        off = t[i].end;
        *params += e;
        len += (size_t)snprintf(hdr + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld",
                                t[i].name, dn, t[i].shape[0]);
        if (t[i].ndim == 2)
            len += (size_t)snprintf(hdr + len, cap - len, ",%lld", t[i].shape[1]);
        len += (size_t)snprintf(hdr + len, cap - len, "],\"data_offsets\":[%llu,%llu]}",
                                (unsigned long long)t[i].begin, (unsigned long long)t[i].end);
    }
    if (ok) {
        len += (size_t)snprintf(hdr + len, cap - len, "}");
        while (len % 8) /* tensors start 8-byte aligned, as the reference writer does */
            hdr[len++] = ' ';
    }
    FILE *f = ok ? fopen(path, "wb") : NULL;
    ok = f != NULL;
    if (ok) {
        unsigned char lb[8];
        for (int i = 0; i < 8; i++)
            lb[i] = (unsigned char)((uint64_t)len >> (8 * i));
        ok = fwrite(lb, 1, 8, f) == 8 && fwrite(hdr, 1, len, f) == len;
        for (int i = 0; ok && i < n; i++)
            ok = write_tensor(f, &t[i], a->dtype, a->seed);
        ok = (fclose(f) == 0) && ok;
    }
    *bytes = 8 + len + off;
    free(hdr);
    free(t);
    return ok;
}

static bool copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return false;
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return false;
    }
    char buf[1 << 16];
    size_t n;
    bool ok = true;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    ok = ok && !ferror(in);
    fclose(in);
    return (fclose(out) == 0) && ok;
}

/* mkdir -p: OUTDIR and any missing parents. */
static bool mkdir_p(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return false;
    bool ok = true;
    for (char *q = p + 1; ok && *q; q++)
        if (*q == '/') {
            *q = '\0';
            ok = mkdir(p, 0755) == 0 || errno == EEXIST;
            *q = '/';
        }
    ok = ok && (mkdir(p, 0755) == 0 || errno == EEXIST);
    free(p);
    return ok;
}

/* ---- arguments ------------------------------------------------------------ */

static bool parse_ll(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_labels(const char *s, mkargs *a)
{
    a->num_labels = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= LLAMA_LABEL_MAX || a->num_labels >= LLAMA_MAX_LABELS)
            return false;
        memcpy(a->labels[a->num_labels], p, len);
        a->labels[a->num_labels][len] = '\0';
        for (int i = 0; i < a->num_labels; i++)
            if (!strcmp(a->labels[i], a->labels[a->num_labels]))
                return false;
        a->num_labels++;
        if (!comma)
            return true;
        p = comma + 1;
    }
}

static bool set_preset(const char *name, mkargs *a)
{
    /* both presets share Llama 3.2's vocabulary and rope */
    a->vocab = 128256;
    a->max_pos = 131072;
    a->rope_llama3 = true;
    if (!strcmp(name, "llama-3.2-1b")) {
        a->hidden = 2048;
        a->intermediate = 8192;
        a->layers = 16;
        a->heads = 32;
        a->kv_heads = 8;
        a->head_dim = 64;
    } else if (!strcmp(name, "tiny")) {
        a->hidden = 64;
        a->intermediate = 128;
        a->layers = 2;
        a->heads = 4;
        a->kv_heads = 2;
        a->head_dim = 16;
    } else {
        return false;
    }
    a->head_dim_set = true;
    return true;
}

int cmd_mkmodel(int argc, char **argv)
{
    enum { O_LAYERS = 256, O_HIDDEN, O_INTER, O_HEADS, O_KV, O_HEAD_DIM, O_VOCAB, O_MAXPOS,
           O_ROPE, O_PAD, O_PROBLEM, O_LABELS, O_DTYPE, O_SEED, O_TOK, O_PRESET };
    static const struct option opts[] = {
        {"preset", required_argument, NULL, O_PRESET},
        {"layers", required_argument, NULL, O_LAYERS},
        {"hidden", required_argument, NULL, O_HIDDEN},
        {"intermediate", required_argument, NULL, O_INTER},
        {"heads", required_argument, NULL, O_HEADS},
        {"kv-heads", required_argument, NULL, O_KV},
        {"head-dim", required_argument, NULL, O_HEAD_DIM},
        {"vocab", required_argument, NULL, O_VOCAB},
        {"max-pos", required_argument, NULL, O_MAXPOS},
        {"rope", required_argument, NULL, O_ROPE},
        {"pad-token-id", required_argument, NULL, O_PAD},
        {"problem-type", required_argument, NULL, O_PROBLEM},
        {"labels", required_argument, NULL, O_LABELS},
        {"dtype", required_argument, NULL, O_DTYPE},
        {"seed", required_argument, NULL, O_SEED},
        {"tokenizer", required_argument, NULL, O_TOK},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* options may come in any order: collect them, apply the preset first */
    const char *preset = NULL;
    const char *ov[O_PRESET - O_LAYERS] = {NULL};
    mkargs a;
    memset(&a, 0, sizeof a);
    a.pad_token_id = -1;
    a.seed = 1;
    parse_labels("ham,spam", &a);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            mkmodel_usage(stdout);
            return 0;
        }
        if (c == O_PRESET)
            preset = optarg;
        else if (c >= O_LAYERS && c < O_PRESET)
            ov[c - O_LAYERS] = optarg;
        else {
            mkmodel_usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || !preset) {
        fprintf(stderr, "llmspam mkmodel: %s\n",
                !preset ? "--preset is required" : "exactly one OUTDIR is required");
        mkmodel_usage(stderr);
        return 2;
    }
    a.outdir = argv[optind];
    if (!set_preset(preset, &a)) {
        fprintf(stderr, "llmspam mkmodel: --preset %s: expected tiny or llama-3.2-1b\n", preset);
        return 2;
    }
    static const char *const names[] = {"layers", "hidden", "intermediate", "heads", "kv-heads",
                                        "head-dim", "vocab", "max-pos"};
    long long *fields[] = {&a.layers, &a.hidden, &a.intermediate, &a.heads,
                           &a.kv_heads, &a.head_dim, &a.vocab, &a.max_pos};
    for (int i = 0; i < 8; i++)
        if (ov[i] && !parse_ll(ov[i], 1, 1LL << 30, fields[i])) {
            fprintf(stderr, "llmspam mkmodel: --%s %s: expected a positive integer\n", names[i],
                    ov[i]);
            return 2;
        }
    /* a new --hidden or --heads without --head-dim means hidden/heads */
    if ((ov[O_HIDDEN - O_LAYERS] || ov[O_HEADS - O_LAYERS]) && !ov[O_HEAD_DIM - O_LAYERS])
        a.head_dim_set = false;
    const char *s;
    if ((s = ov[O_ROPE - O_LAYERS])) {
        if (!strcmp(s, "llama3"))
            a.rope_llama3 = true;
        else if (!strcmp(s, "none"))
            a.rope_llama3 = false;
        else {
            fprintf(stderr, "llmspam mkmodel: --rope %s: expected llama3 or none\n", s);
            return 2;
        }
    }
    if ((s = ov[O_PAD - O_LAYERS]) && strcmp(s, "none") != 0 &&
        !parse_ll(s, 0, 1LL << 30, &a.pad_token_id)) {
        fprintf(stderr, "llmspam mkmodel: --pad-token-id %s: expected an id or none\n", s);
        return 2;
    }
    if ((s = ov[O_PROBLEM - O_LAYERS])) {
        if (strcmp(s, "single_label_classification") && strcmp(s, "multi_label_classification") &&
            strcmp(s, "regression")) {
            fprintf(stderr, "llmspam mkmodel: --problem-type %s: unknown\n", s);
            return 2;
        }
        a.problem_type = s;
    }
    if ((s = ov[O_LABELS - O_LAYERS]) && !parse_labels(s, &a)) {
        fprintf(stderr,
                "llmspam mkmodel: --labels %s: expected 1 to %d distinct non-empty names "
                "separated by commas\n",
                s, LLAMA_MAX_LABELS);
        return 2;
    }
    if ((s = ov[O_DTYPE - O_LAYERS])) {
        if (!strcmp(s, "bf16"))
            a.dtype = W_BF16;
        else if (!strcmp(s, "f16"))
            a.dtype = W_F16;
        else if (!strcmp(s, "f32"))
            a.dtype = W_F32;
        else {
            fprintf(stderr, "llmspam mkmodel: --dtype %s: expected bf16, f16 or f32\n", s);
            return 2;
        }
    }
    if ((s = ov[O_SEED - O_LAYERS])) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-') {
            fprintf(stderr, "llmspam mkmodel: --seed %s: expected an unsigned integer\n", s);
            return 2;
        }
        a.seed = v;
    }
    a.tokenizer = ov[O_TOK - O_LAYERS];
    if (!a.tokenizer) {
        fprintf(stderr, "llmspam mkmodel: --tokenizer FILE is required\n");
        return 2;
    }

    if (!mkdir_p(a.outdir)) {
        fprintf(stderr, "llmspam mkmodel: %s: %s\n", a.outdir, strerror(errno));
        return 1;
    }
    size_t plen = strlen(a.outdir) + 64;
    char *cfg_path = malloc(plen), *st_path = malloc(plen), *tmp_path = malloc(plen),
         *tok_path = malloc(plen);
    int rc = 1;
    if (!cfg_path || !st_path || !tmp_path || !tok_path)
        goto out;
    snprintf(cfg_path, plen, "%s/config.json", a.outdir);
    snprintf(st_path, plen, "%s/model.safetensors", a.outdir);
    snprintf(tmp_path, plen, "%s/model.safetensors.tmp", a.outdir);
    snprintf(tok_path, plen, "%s/tokenizer.json", a.outdir);
    if (!write_config(cfg_path, &a)) {
        fprintf(stderr, "llmspam mkmodel: %s: cannot write: %s\n", cfg_path, strerror(errno));
        goto out;
    }
    /* the loader's own checks decide whether the shapes make a valid model */
    llama_config lc;
    engine_err err;
    if (llama_config_load(cfg_path, &lc, &err) != ENGINE_OK) {
        fprintf(stderr, "llmspam mkmodel: the options make an invalid model: %s\n", err.msg);
        unlink(cfg_path);
        rc = 2;
        goto out;
    }
    long long params = 0;
    uint64_t bytes = 0;
    if (!write_safetensors(tmp_path, &a, &lc, &params, &bytes) || rename(tmp_path, st_path) != 0) {
        fprintf(stderr, "llmspam mkmodel: %s: cannot write: %s\n", st_path, strerror(errno));
        unlink(tmp_path);
        goto out;
    }
    if (!copy_file(a.tokenizer, tok_path)) {
        fprintf(stderr, "llmspam mkmodel: cannot copy %s to %s: %s\n", a.tokenizer, tok_path,
                strerror(errno));
        goto out;
    }
    checkpoint *ck = NULL;
    if (checkpoint_open(a.outdir, &ck, &err) != ENGINE_OK) {
        fprintf(stderr, "llmspam mkmodel: the written model does not load: %s\n", err.msg);
        goto out;
    }
    checkpoint_free(ck);
    printf("%s: %lld parameters, %llu bytes of %s weights, %d layers, hidden %d, %d labels\n",
           a.outdir, params, (unsigned long long)bytes, dtype_torch(a.dtype), lc.num_layers,
           lc.hidden_size, lc.num_labels);
    rc = 0;
out:
    free(cfg_path);
    free(st_path);
    free(tmp_path);
    free(tok_path);
    return rc;
}
