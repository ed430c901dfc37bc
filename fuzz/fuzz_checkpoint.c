/*
 * fuzz_checkpoint: libFuzzer target for checkpoint_open() on untrusted
 * model directories. Byte 0 of the input picks the file the rest becomes;
 * the other files of the directory are valid (a one-layer model, hidden 8):
 *   0: config.json
 *   1: model.safetensors
 *   2: model.safetensors.index.json (beside two valid shards)
 * Besides crashes, leaks and UB, it traps when a contract breaks:
 *   - a failure without a message, or one that does not name the file
 *     (every message starts with the path of the file at fault, or the
 *     directory when a file is missing);
 *   - a success where a required tensor is missing, has a shape other than
 *     the config's, or bytes other than shape x element size (and every
 *     byte of every required tensor is read, so a view outside the mapping
 *     crashes).
 * FUZZ_WRITE_SEEDS=DIR writes one valid input per mode into DIR and exits
 * (fuzz/corpus/checkpoint was made so); FUZZ_VERBOSE=1 prints each status.
 */
#include "config.h"
#include "engine/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char config_json[] =
    "{\"architectures\": [\"LlamaForSequenceClassification\"], \"model_type\": \"llama\",\n"
    " \"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1,\n"
    " \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"head_dim\": 4,\n"
    " \"rms_norm_eps\": 1e-05, \"max_position_embeddings\": 64, \"vocab_size\": 16,\n"
    " \"rope_parameters\": {\"rope_type\": \"llama3\", \"rope_theta\": 500000.0, \"factor\": 32.0,\n"
    "   \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192},\n"
    " \"pad_token_id\": 3, \"attention_bias\": false, \"mlp_bias\": false, \"hidden_act\": \"silu\",\n"
    " \"dtype\": \"bfloat16\", \"id2label\": {\"0\": \"ham\", \"1\": \"spam\"},\n"
    " \"label2id\": {\"ham\": 0, \"spam\": 1}, \"problem_type\": \"single_label_classification\"}\n";

static const struct {
    const char *name;
    int ndim, rows, cols;
} tensors[] = {
    {"model.embed_tokens.weight", 2, 16, 8},
    {"model.layers.0.input_layernorm.weight", 1, 8, 0},
    {"model.layers.0.mlp.down_proj.weight", 2, 8, 16},
    {"model.layers.0.mlp.gate_proj.weight", 2, 16, 8},
    {"model.layers.0.mlp.up_proj.weight", 2, 16, 8},
    {"model.layers.0.post_attention_layernorm.weight", 1, 8, 0},
    {"model.layers.0.self_attn.k_proj.weight", 2, 4, 8},
    {"model.layers.0.self_attn.o_proj.weight", 2, 8, 8},
    {"model.layers.0.self_attn.q_proj.weight", 2, 8, 8},
    {"model.layers.0.self_attn.v_proj.weight", 2, 4, 8},
    {"model.norm.weight", 1, 8, 0},
    {"score.weight", 2, 2, 8},
};
#define NT (int)(sizeof tensors / sizeof tensors[0])
#define SPLIT 6 /* shard 1 holds tensors [0, SPLIT) */

static char dirs[3][128];

/* A valid safetensors image of tensors [from, to) (F32 from `f32at` on). */
static size_t build_st(unsigned char *out, size_t cap, int from, int to, int f32at)
{
    char hdr[4096];
    size_t len = (size_t)snprintf(hdr, sizeof hdr, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0;
    for (int i = from; i < to; i++) {
        size_t es = i >= f32at ? 4 : 2;
        size_t nb = (size_t)tensors[i].rows * (tensors[i].ndim == 2 ? (size_t)tensors[i].cols : 1) * es;
        len += (size_t)snprintf(hdr + len, sizeof hdr - len,
                                ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%d%s%.0d],\"data_offsets\":[%zu,%zu]}",
                                tensors[i].name, es == 4 ? "F32" : "BF16", tensors[i].rows,
                                tensors[i].ndim == 2 ? "," : "", tensors[i].ndim == 2 ? tensors[i].cols : 0,
                                off, off + nb);
        off += nb;
    }
    len += (size_t)snprintf(hdr + len, sizeof hdr - len, "}");
    while (len % 8)
        hdr[len++] = ' ';
    if (8 + len + off > cap)
        return 0;
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)len >> (8 * i));
    memcpy(out + 8, hdr, len);
    for (size_t i = 0; i < off; i++)
        out[8 + len + i] = (unsigned char)(i * 37 + 11);
    return 8 + len + off;
}

static size_t build_index(char *out, size_t cap)
{
    size_t len = (size_t)snprintf(out, cap, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
    for (int i = 0; i < NT && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"",
                                i ? ", " : "", tensors[i].name, i < SPLIT ? 1 : 2);
    if (len < cap)
        len += (size_t)snprintf(out + len, cap - len, "}}\n");
    return len < cap ? len : 0;
}

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_checkpoint: cannot write %s\n", path);
        exit(1);
    }
}

static void write_seeds(const char *dir)
{
    static unsigned char buf[1 << 16];
    char name[16];
    buf[0] = 0;
    memcpy(buf + 1, config_json, sizeof config_json - 1);
    write_file(dir, "seed-config", buf, sizeof config_json);
    buf[0] = 1;
    size_t n = build_st(buf + 1, sizeof buf - 1, 0, NT, 9);
    write_file(dir, "seed-safetensors", buf, n + 1);
    buf[0] = 2;
    n = build_index((char *)buf + 1, sizeof buf - 1);
    snprintf(name, sizeof name, "seed-index");
    write_file(dir, name, buf, n + 1);
}

/* Remove the three directories when libFuzzer exits. */
static void cleanup(void)
{
    static const char *const names[] = {"config.json", "model.safetensors",
                                        "model.safetensors.index.json",
                                        "model-00001-of-00002.safetensors",
                                        "model-00002-of-00002.safetensors"};
    char path[256];
    for (int m = 0; m < 3; m++) {
        if (!dirs[m][0])
            continue;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", dirs[m], names[i]);
            unlink(path);
        }
        rmdir(dirs[m]);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *seeds = getenv("FUZZ_WRITE_SEEDS");
    if (seeds) {
        write_seeds(seeds);
        exit(0);
    }
    struct stat sb;
    const char *base = stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp";
    static unsigned char st[1 << 16];
    char idx[4096];
    atexit(cleanup);
    for (int m = 0; m < 3; m++) {
        snprintf(dirs[m], sizeof dirs[m], "%s/fuzz-ck-%d-%d", base, (int)getpid(), m);
        if (mkdir(dirs[m], 0700) != 0) {
            perror(dirs[m]);
            exit(1);
        }
        if (m != 0)
            write_file(dirs[m], "config.json", config_json, sizeof config_json - 1);
        if (m == 0) {
            size_t n = build_st(st, sizeof st, 0, NT, NT);
            write_file(dirs[m], "model.safetensors", st, n);
        }
        if (m == 2) {
            size_t n = build_st(st, sizeof st, 0, SPLIT, NT);
            write_file(dirs[m], "model-00001-of-00002.safetensors", st, n);
            n = build_st(st, sizeof st, SPLIT, NT, NT);
            write_file(dirs[m], "model-00002-of-00002.safetensors", st, n);
            n = build_index(idx, sizeof idx);
            (void)n;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const files[3] = {"config.json", "model.safetensors",
                                          "model.safetensors.index.json"};
    if (size < 1)
        return 0;
    int mode = data[0] % 3;
    write_file(dirs[mode], files[mode], data + 1, size - 1);

    checkpoint *ck = NULL;
    engine_err err;
    memset(&err, 0, sizeof err);
    engine_status st = checkpoint_open(dirs[mode], &ck, &err);
    if (getenv("FUZZ_VERBOSE")) /* run one input: see what the loader says */
        fprintf(stderr, "mode %d: %s %s\n", mode, engine_status_name(st), err.msg);
    if (st != ENGINE_OK) {
        if (ck || !err.msg[0] || !strstr(err.msg, dirs[mode])) {
            fprintf(stderr, "contract: failure %s without a message naming the file: \"%s\"\n",
                    engine_status_name(st), err.msg);
            abort();
        }
        return 0;
    }
    static uint16_t out[1 << 15];
    for (int i = 0; i < NT; i++) {
        const tensor_view *t = checkpoint_tensor(ck, tensors[i].name);
        size_t elems = (size_t)tensors[i].rows * (tensors[i].ndim == 2 ? (size_t)tensors[i].cols : 1);
        size_t es = t && t->dtype == TENSOR_F32 ? 4 : 2;
        if (!t || t->ndim != tensors[i].ndim || t->shape[0] != tensors[i].rows ||
            (t->ndim == 2 && t->shape[1] != tensors[i].cols) || t->nbytes != elems * es ||
            elems > sizeof out / sizeof out[0]) {
            fprintf(stderr, "contract: opened, but tensor %s is wrong\n", tensors[i].name);
            abort();
        }
        checkpoint_copy_bf16(t, out);
        checkpoint_release(ck, t);
    }
    if (strlen(checkpoint_warnings(ck)) >= 1024)
        abort();
    checkpoint_free(ck);
    return 0;
}
