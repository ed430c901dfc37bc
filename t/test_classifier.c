/*
 * test_classifier: the classifier API on a tiny generated checkpoint
 * (llmspam mkmodel --preset tiny, made at test time): results are
 * deterministic; many concurrent callers get the results of serial calls;
 * a full queue answers ENGINE_ERR_OVERLOAD at once; a deadline passing in
 * the queue answers ENGINE_ERR_TIMEOUT; bad ids and empty input are
 * ENGINE_ERR_ARG (empty text is BOS alone); trailing pad tokens do not
 * change the result; probabilities follow the problem type. And the whole
 * forward pass with the portable kernels agrees with the AVX-512 one, a
 * packed batch with lone calls, and a cancel callback stops a running pass
 * between layers. Batching: queued requests are packed into forward passes
 * of at most batch_tokens (counted by the scheduler's own counters); a lone
 * request is never held for batch_wait_ms, an announced one is waited for,
 * and the wait ends when the time is up; the bounds are checked.
 */
#include "config.h"
#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "engine/classifier.h"
#include "engine/forward.h"
#include "engine/kernels.h"
#include "t/lib/tap.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAD 7
#define NSEQ 6
static const int seq_len[NSEQ] = {1, 5, 16, 33, 100, 250};
static int32_t *seqs[NSEQ];
static classify_result serial[NSEQ];
static classifier *clf;

static int mkmodel(const char *dir, const char *extra)
{
    const char *llmspam = getenv("LLMSPAM"), *src = getenv("top_srcdir");
    if (!llmspam || !src)
        return -1;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "'%s' mkmodel --preset tiny --seed 5 %s --tokenizer '%s/models/tokenizer/tokenizer.json' "
             "'%s' >/dev/null", llmspam, extra, src, dir);
    return system(cmd);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool same(const classify_result *a, const classify_result *b, double tol)
{
    if (a->num_labels != b->num_labels || a->tokens != b->tokens)
        return false;
    for (int i = 0; i < a->num_labels; i++)
        if (fabs(a->logits[i] - b->logits[i]) > tol)
            return false;
    return true;
}

typedef struct worker {
    int id, bad, errors;
} worker;

static void *run_worker(void *p)
{
    worker *w = p;
    for (int i = 0; i < 12; i++) {
        int s = (w->id * 7 + i) % NSEQ;
        classify_result r;
        engine_err err;
        if (classifier_classify_ids(clf, seqs[s], (size_t)seq_len[s], 0, &r, &err) != ENGINE_OK) {
            w->errors++;
            continue;
        }
        /* batched rows may take another GEMM kernel than a lone row:
         * allow the last bf16 rounding to land either side */
        if (!same(&r, &serial[s], 2e-3))
            w->bad++;
    }
    return NULL;
}

/* Cancels on its second call (before layer 1). */
static int cancel_second(void *ctx)
{
    int *calls = ctx;
    return ++*calls >= 2;
}

typedef struct waiter {
    engine_status st;
} waiter;

static void *run_waiter(void *p)
{
    waiter *w = p;
    classify_result r;
    w->st = classifier_classify_ids(clf, seqs[2], (size_t)seq_len[2], 0, &r, NULL);
    return NULL;
}

typedef struct submitter {
    int seq;
    bool text;       /* classifier_classify on a text instead of ids */
    engine_status st;
    classify_result r;
    volatile int done;
} submitter;

static void *run_submitter(void *p)
{
    submitter *s = p;
    if (s->text)
        s->st = classifier_classify(clf, "Cheap pills, buy now!", 21, 0, &s->r, NULL);
    else
        s->st = classifier_classify_ids(clf, seqs[s->seq], (size_t)seq_len[s->seq], 0, &s->r, NULL);
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Wait (up to 20 s) until n requests are queued; a hang fails the test. */
static bool until_queued(size_t n)
{
    for (int i = 0; i < 20000 && classifier_queued(clf) < n; i++)
        usleep(1000);
    return classifier_queued(clf) >= n;
}

static bool until_waits(uint64_t n)
{
    classifier_stats st;
    for (int i = 0; i < 20000; i++) {
        classifier_get_stats(clf, &st);
        if (st.waits >= n)
            return true;
        usleep(1000);
    }
    return false;
}

/* A classifier of mdir with the default options but one thread. */
static engine_status open_one_thread(const char *mdir, classifier **c, engine_err *err)
{
    classifier_options opt;
    classifier_options_init(&opt);
    opt.threads = 1;
    return classifier_new(mdir, &opt, c, err);
}

/* max_tokens 0 takes the model's own length from tokenizer_config.json:
 * model_max_length, transformers' "none" placeholder, no file, bad JSON */
static void test_model_max_tokens(const char *mdir)
{
    static const struct {
        const char *json; /* NULL: no file */
        engine_status st;
        size_t want;
    } cases[] = {
        {"{\"model_max_length\": 48}", ENGINE_OK, 48},
        {"{\"model_max_length\": 1000000000000000019884624838656}", ENGINE_OK, CLASSIFIER_DEFAULT_MAX_TOKENS},
        {"{\"model_max_length\": null}", ENGINE_OK, CLASSIFIER_DEFAULT_MAX_TOKENS},
        {"{\"bos_token\": \"<s>\"}", ENGINE_OK, CLASSIFIER_DEFAULT_MAX_TOKENS},
        {NULL, ENGINE_OK, CLASSIFIER_DEFAULT_MAX_TOKENS},
        {"{\"model_max_length\": \"long\"}", ENGINE_ERR_FORMAT, 0},
        {"{\"model_max_length\": 48", ENGINE_ERR_FORMAT, 0},
    };
    char path[4300];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", mdir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unlink(path);
        if (cases[i].json) {
            FILE *f = fopen(path, "w");
            if (!f || fputs(cases[i].json, f) == EOF || fclose(f) != 0) {
                tap_ok(false, "cannot write %s", path);
                return;
            }
        }
        classifier *c = NULL;
        engine_err err = {0};
        engine_status st = open_one_thread(mdir, &c, &err);
        if (cases[i].st == ENGINE_OK)
            tap_ok(st == ENGINE_OK && classifier_max_tokens(c) == cases[i].want,
                   "max_tokens 0 with tokenizer_config.json %s: %zu (want %zu)",
                   cases[i].json ? cases[i].json : "absent", c ? classifier_max_tokens(c) : 0, cases[i].want);
        else
            tap_ok(st == cases[i].st && strstr(err.msg, "tokenizer_config.json"),
                   "tokenizer_config.json %s is refused naming the file: %s", cases[i].json, err.msg);
        classifier_free(c);
    }
    /* an explicit max_tokens wins over the model's */
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("{\"model_max_length\": 48}", f);
        fclose(f);
    }
    classifier_options opt;
    classifier_options_init(&opt);
    opt.threads = 1;
    opt.max_tokens = 100;
    classifier *c = NULL;
    engine_err err = {0};
    tap_ok(classifier_new(mdir, &opt, &c, &err) == ENGINE_OK && classifier_max_tokens(c) == 100,
           "an explicit max_tokens wins over model_max_length");
    classifier_free(c);
    unlink(path);
}

/* A tokenizer with ids past the embedding is refused at load, naming both
 * files, not on every message. */
static void test_vocab_mismatch(const char *dir)
{
    char small[4200];
    snprintf(small, sizeof small, "%s/small-vocab", dir);
    if (!tap_ok(mkmodel(small, "--vocab 1000") == 0, "llmspam mkmodel --vocab 1000"))
        return;
    classifier *c = NULL;
    engine_err err = {0};
    engine_status st = open_one_thread(small, &c, &err);
    tap_ok(st == ENGINE_ERR_FORMAT && !c && strstr(err.msg, "tokenizer.json") &&
               strstr(err.msg, "vocab_size 1000"),
           "a 128256-id tokenizer on a 1000-row embedding is refused at load: %s", err.msg);
    classifier_free(c);
    classifier_options opt;
    classifier_options_init(&opt);
    opt.threads = 1;
    opt.ids_only = true;
    c = NULL;
    st = classifier_new(small, &opt, &c, &err);
    tap_ok(st == ENGINE_OK, "with ids_only (the caller's own ids) it loads: %s", st == ENGINE_OK ? "ok" : err.msg);
    classifier_free(c);
}

/* batch_tokens, batch_wait_ms: packing and waiting, told by the counters */
static void test_batching(const char *mdir, classifier_options opt)
{
    engine_err err;
    classifier_stats st;
    classify_result r;

    /* batch_tokens 40: five queued 16-token requests run as 2 + 2 + 1 */
    opt.batch_tokens = 40;
    opt.batch_wait_ms = 0;
    clf = NULL;
    if (!tap_ok(classifier_new(mdir, &opt, &clf, &err) == ENGINE_OK, "classifier_new with batch_tokens 40"))
        return;
    classifier_get_stats(clf, &st);
    tap_ok(st.batch_tokens == 40 && st.forwards == 0, "batch_tokens 40 is the limit in force (%d)", st.batch_tokens);
    classifier_hold(clf, true);
    pthread_t th[5];
    submitter sub[5];
    for (int i = 0; i < 5; i++) {
        sub[i] = (submitter){.seq = 2};
        pthread_create(&th[i], NULL, run_submitter, &sub[i]);
    }
    bool queued = until_queued(5);
    classifier_hold(clf, false);
    int good = 0;
    for (int i = 0; i < 5; i++) {
        pthread_join(th[i], NULL);
        good += sub[i].st == ENGINE_OK && same(&sub[i].r, &serial[2], 2e-3);
    }
    classifier_get_stats(clf, &st);
    tap_ok(queued && good == 5 && st.forwards == 3 && st.requests == 5 && st.largest_batch == 2 &&
               st.largest_tokens == 32 && st.tokens == 80,
           "5 x 16 tokens under batch_tokens 40: 3 forward passes of at most 2 (%llu passes, largest %d "
           "requests / %d tokens, %d of 5 as alone)",
           (unsigned long long)st.forwards, st.largest_batch, st.largest_tokens, good);
    /* a request longer than batch_tokens still runs, alone */
    tap_ok(classifier_classify_ids(clf, seqs[4], (size_t)seq_len[4], 0, &r, &err) == ENGINE_OK &&
               same(&r, &serial[4], 2e-3),
           "a 100-token request runs alone under batch_tokens 40");
    classifier_free(clf);

    /* batch_tokens 0: the backend's capacity (max_tokens on the CPU); all 5 in one pass */
    opt.batch_tokens = 0;
    clf = NULL;
    if (!tap_ok(classifier_new(mdir, &opt, &clf, &err) == ENGINE_OK, "classifier_new with batch_tokens 0"))
        return;
    classifier_hold(clf, true);
    for (int i = 0; i < 5; i++) {
        sub[i] = (submitter){.seq = 2};
        pthread_create(&th[i], NULL, run_submitter, &sub[i]);
    }
    queued = until_queued(5);
    classifier_hold(clf, false);
    good = 0;
    for (int i = 0; i < 5; i++) {
        pthread_join(th[i], NULL);
        good += sub[i].st == ENGINE_OK && same(&sub[i].r, &serial[2], 2e-3);
    }
    classifier_get_stats(clf, &st);
    tap_ok(queued && good == 5 && st.batch_tokens == (int)opt.max_tokens && st.forwards == 1 &&
               st.largest_batch == 5,
           "batch_tokens 0 packs up to the CPU's max_tokens (%d): 5 requests in %llu pass", st.batch_tokens,
           (unsigned long long)st.forwards);
    classifier_free(clf);

    /* batch_wait_ms 60 s (the longest), so that a hold cannot end by time
     * below: a lone request is not held, by ids or by text */
    opt.batch_wait_ms = 60001;
    clf = NULL;
    tap_ok(classifier_new(mdir, &opt, &clf, &err) == ENGINE_ERR_ARG, "batch_wait_ms 60001 is out of range: %s",
           err.msg);
    opt.batch_wait_ms = 60000;
    if (!tap_ok(classifier_new(mdir, &opt, &clf, &err) == ENGINE_OK, "classifier_new with batch_wait_ms 60000"))
        return;
    engine_status s1 = classifier_classify_ids(clf, seqs[3], (size_t)seq_len[3], 0, &r, &err);
    engine_status s2 = classifier_classify(clf, "Cheap pills, buy now!", 21, 0, &r, &err);
    classifier_get_stats(clf, &st);
    tap_ok(s1 == ENGINE_OK && s2 == ENGINE_OK && st.forwards == 2 && st.waits == 0 && st.wait_ms == 0,
           "a lone request (ids, then text) is never held: %llu holds in %llu passes (last call %.1f ms)",
           (unsigned long long)st.waits, (unsigned long long)st.forwards, r.ms);
    /* one announced: the queued request is held until the other one comes */
    classifier_announce(clf, 1);
    sub[0] = (submitter){.seq = 1};
    pthread_create(&th[0], NULL, run_submitter, &sub[0]);
    bool held = until_waits(1);
    bool still = !__atomic_load_n(&sub[0].done, __ATOMIC_ACQUIRE);
    sub[1] = (submitter){.seq = 2};
    pthread_create(&th[1], NULL, run_submitter, &sub[1]);
    bool both = until_queued(2);
    classifier_announce(clf, -1); /* the announced one has come */
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    classifier_get_stats(clf, &st);
    tap_ok(held && still && both && sub[0].st == ENGINE_OK && sub[1].st == ENGINE_OK && st.forwards == 3 &&
               st.largest_batch == 2 && st.waits == 1 && st.wait_timeouts == 0 &&
               same(&sub[0].r, &serial[1], 2e-3) && same(&sub[1].r, &serial[2], 2e-3),
           "with one request announced, the first is held and both run in one pass (%llu passes, largest %d)",
           (unsigned long long)st.forwards, st.largest_batch);
    classifier_free(clf);

    /* the hold ends when batch_wait_ms is up, though the announced one never comes */
    opt.batch_wait_ms = 20;
    clf = NULL;
    if (!tap_ok(classifier_new(mdir, &opt, &clf, &err) == ENGINE_OK, "classifier_new with batch_wait_ms 20"))
        return;
    classifier_announce(clf, 1);
    s1 = classifier_classify_ids(clf, seqs[1], (size_t)seq_len[1], 0, &r, &err);
    classifier_get_stats(clf, &st);
    tap_ok(s1 == ENGINE_OK && st.forwards == 1 && st.waits == 1 && st.wait_timeouts == 1 && st.wait_ms >= 19,
           "a request announced but never sent: the hold ends after batch_wait_ms (%.1f ms held)", st.wait_ms);
    classifier_announce(clf, -1);
    /* a full batch is never held: a 256-token request fills the CPU's 256 */
    int32_t full[256];
    for (int i = 0; i < 256; i++)
        full[i] = 1000 + i;
    classifier_announce(clf, 1);
    s1 = classifier_classify_ids(clf, full, 256, 0, &r, &err);
    classifier_announce(clf, -1);
    classifier_get_stats(clf, &st);
    tap_ok(s1 == ENGINE_OK && st.forwards == 2 && st.waits == 1,
           "a batch without room is not held, even with a request announced");
    classifier_free(clf);
    clf = NULL;

    opt.batch_wait_ms = -1;
    tap_ok(classifier_new(mdir, &opt, &clf, &err) == ENGINE_ERR_ARG && !clf, "batch_wait_ms -1 is ENGINE_ERR_ARG");
    opt.batch_wait_ms = 0;
    opt.batch_tokens = (1u << 20) + 1;
    tap_ok(classifier_new(mdir, &opt, &clf, &err) == ENGINE_ERR_ARG && !clf, "batch_tokens 2^20+1 is ENGINE_ERR_ARG: %s",
           err.msg);
    classifier_options d;
    classifier_options_init(&d);
    tap_ok(d.batch_tokens == 0 && d.batch_wait_ms > 0 && d.batch_wait_ms <= 2,
           "defaults: batch_tokens 0, batch_wait_ms %g", d.batch_wait_ms);
}

int main(void)
{
    char dir[] = "/tmp/llmspam-test-classifier-XXXXXX";
    if (!mkdtemp(dir))
        tap_skip_all("cannot make a temporary directory");
    char mdir[4200];
    snprintf(mdir, sizeof mdir, "%s/m", dir);
    char extra[64];
    snprintf(extra, sizeof extra, "--pad-token-id %d", PAD);
    if (!tap_ok(mkmodel(mdir, extra) == 0, "llmspam mkmodel writes the tiny model"))
        return tap_done();

    classifier_options opt;
    classifier_options_init(&opt);
    opt.threads = 2;
    opt.max_tokens = 256;
    opt.queue_length = 64;
    engine_err err;
    engine_status st = classifier_new(mdir, &opt, &clf, &err);
    tap_ok(st == ENGINE_OK, "classifier_new on a tiny model: %s", clf ? classifier_device(clf) : err.msg);
    if (!clf)
        return tap_done();
    /* a copy: the classifier (and its config) is freed and remade below */
    static llama_config cfg_copy;
    cfg_copy = *classifier_config(clf);
    const llama_config *cfg = &cfg_copy;

    unsigned s = 12345;
    for (int i = 0; i < NSEQ; i++) {
        seqs[i] = malloc((size_t)seq_len[i] * sizeof(int32_t));
        for (int j = 0; j < seq_len[i]; j++) {
            s = s * 1103515245u + 12345u;
            seqs[i][j] = (int32_t)((s >> 8) % (unsigned)cfg->vocab_size);
            if (seqs[i][j] == PAD)
                seqs[i][j] = PAD + 1;
        }
        seqs[i][0] = 128000;
    }

    /* serial, twice: deterministic */
    int ok = 1, det = 1, probs_ok = 1;
    for (int i = 0; i < NSEQ; i++) {
        classify_result again;
        ok &= classifier_classify_ids(clf, seqs[i], (size_t)seq_len[i], 0, &serial[i], &err) == ENGINE_OK;
        ok &= classifier_classify_ids(clf, seqs[i], (size_t)seq_len[i], 0, &again, &err) == ENGINE_OK;
        det &= memcmp(serial[i].logits, again.logits, sizeof again.logits) == 0;
        double sum = 0;
        for (int j = 0; j < serial[i].num_labels; j++)
            sum += serial[i].probs[j];
        probs_ok &= fabs(sum - 1) < 1e-5 && serial[i].tokens == seq_len[i] &&
                    isfinite(serial[i].logits[0]) &&
                    serial[i].spam_score == serial[i].probs[llama_config_label_index(cfg, "spam")];
    }
    tap_ok(ok, "serial calls succeed");
    tap_ok(det, "the same input gives bit-identical logits");
    tap_ok(probs_ok, "softmax probabilities sum to 1; spam_score is p(spam); tokens counted");

    /* concurrency: 16 threads x 12 calls, against the serial results */
    pthread_t th[16];
    worker w[16];
    for (int i = 0; i < 16; i++) {
        w[i] = (worker){.id = i};
        pthread_create(&th[i], NULL, run_worker, &w[i]);
    }
    int bad = 0, errors = 0;
    for (int i = 0; i < 16; i++) {
        pthread_join(th[i], NULL);
        bad += w[i].bad;
        errors += w[i].errors;
    }
    tap_ok(errors == 0 && bad == 0, "16 concurrent callers: 192 results equal the serial ones (%d errors, %d differ)",
           errors, bad);

    /* trailing pad tokens: pooled on the last non-pad token */
    int32_t padded[40];
    memcpy(padded, seqs[3], 33 * sizeof(int32_t));
    for (int i = 33; i < 40; i++)
        padded[i] = PAD;
    classify_result r;
    tap_ok(classifier_classify_ids(clf, padded, 40, 0, &r, &err) == ENGINE_OK &&
               !memcmp(r.logits, serial[3].logits, sizeof r.logits) && r.tokens == 40,
           "trailing pad tokens give the logits of the unpadded sequence");
    int32_t allpad[3] = {PAD, PAD, PAD}, onepad[1] = {PAD};
    classify_result r2;
    tap_ok(classifier_classify_ids(clf, allpad, 3, 0, &r, &err) == ENGINE_OK &&
               classifier_classify_ids(clf, onepad, 1, 0, &r2, &err) == ENGINE_OK &&
               !memcmp(r.logits, r2.logits, sizeof r.logits),
           "an all-pad sequence is pooled at index 0");

    /* bad input */
    int32_t bad_ids[3] = {1, cfg->vocab_size, 2};
    tap_ok(classifier_classify_ids(clf, bad_ids, 3, 0, &r, &err) == ENGINE_ERR_ARG,
           "id == vocab_size is ENGINE_ERR_ARG: %s", err.msg);
    bad_ids[1] = -1;
    tap_ok(classifier_classify_ids(clf, bad_ids, 3, 0, &r, &err) == ENGINE_ERR_ARG,
           "a negative id is ENGINE_ERR_ARG");
    bad_ids[1] = INT32_MAX;
    tap_ok(classifier_classify_ids(clf, bad_ids, 3, 0, &r, &err) == ENGINE_ERR_ARG,
           "id INT32_MAX is ENGINE_ERR_ARG");
    tap_ok(classifier_classify_ids(clf, bad_ids, 0, 0, &r, &err) == ENGINE_ERR_ARG,
           "0 ids is ENGINE_ERR_ARG: %s", err.msg);
    st = classifier_classify(clf, "", 0, 0, &r, &err);
    tap_ok(st == ENGINE_OK && r.tokens == 1, "empty text is classified as BOS alone (tokens=%d)", r.tokens);
    st = classifier_classify(clf, "Cheap pills, buy now!", 21, 0, &r, &err);
    tap_ok(st == ENGINE_OK && r.tokens > 2 && r.tokens < 20, "text is tokenized and classified (tokens=%d)",
           r.tokens);
    int32_t *longseq = malloc(600 * sizeof *longseq);
    for (int i = 0; i < 600; i++)
        longseq[i] = 1000 + i;
    st = classifier_classify_ids(clf, longseq, 600, 0, &r, &err);
    tap_ok(st == ENGINE_OK && r.tokens == 256,
           "600 ids are truncated to max_tokens 256 (tokens=%d)", r.tokens);
    free(longseq);

    /* timeout in the queue: hold the scheduler */
    classifier_hold(clf, true);
    double t0 = now_ms();
    st = classifier_classify_ids(clf, seqs[1], 5, 50, &r, &err);
    double took = now_ms() - t0;
    tap_ok(st == ENGINE_ERR_TIMEOUT && took >= 49 && took < 2000,
           "a 50 ms deadline passing in the queue is ENGINE_ERR_TIMEOUT after %.0f ms", took);
    tap_ok(classifier_queued(clf) == 0, "the timed-out request left the queue");
    classifier_hold(clf, false);
    classifier_free(clf);

    /* overload: a queue of 3, held, filled by 3 waiting callers */
    opt.queue_length = 3;
    clf = NULL;
    if (classifier_new(mdir, &opt, &clf, &err) != ENGINE_OK) {
        tap_ok(0, "classifier_new with queue_length 3: %s", err.msg);
        return tap_done();
    }
    classifier_hold(clf, true);
    pthread_t wt[3];
    waiter ws[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&wt[i], NULL, run_waiter, &ws[i]);
    for (int i = 0; i < 2000 && classifier_queued(clf) < 3; i++)
        usleep(1000);
    t0 = now_ms();
    st = classifier_classify_ids(clf, seqs[0], 1, 0, &r, &err);
    took = now_ms() - t0;
    tap_ok(st == ENGINE_ERR_OVERLOAD && took < 100, "a full queue answers ENGINE_ERR_OVERLOAD at once (%.1f ms)",
           took);
    classifier_hold(clf, false);
    int all_ok = 1;
    for (int i = 0; i < 3; i++) {
        pthread_join(wt[i], NULL);
        all_ok &= ws[i].st == ENGINE_OK;
    }
    tap_ok(all_ok, "the queued callers complete once the scheduler runs");
    classifier_free(clf);
    clf = NULL;

    opt.queue_length = 64;
    test_batching(mdir, opt);
    test_model_max_tokens(mdir);
    test_vocab_mismatch(dir);
    clf = NULL;

    /* the whole forward pass: portable kernels against each SIMD table, on
     * a batch of three sequences packed together */
    checkpoint *ck = NULL;
    backend *be = NULL;
    backend_options bo = {.threads = 2, .max_tokens = 512};
    if (checkpoint_open(mdir, &ck, &err) == ENGINE_OK && backend_cpu_new(ck, &bo, &be, &err) == ENGINE_OK) {
        const int32_t *ids[3] = {seqs[5], seqs[1], seqs[4]};
        int lens[3] = {seq_len[5], seq_len[1], seq_len[4]};
        float lp[3 * LLAMA_MAX_LABELS], lx[3 * LLAMA_MAX_LABELS];
        forward *fw = backend_cpu_forward_state(be);
        {
            backend_batch bs = {.n_seqs = 3, .ids = ids, .lens = lens, .logits = lx};
            engine_status ss = backend_forward(be, &bs, &err);
            double mdser = 0;
            int order[3] = {5, 1, 4};
            for (int q = 0; q < 3; q++)
                for (int j = 0; j < cfg->num_labels; j++)
                    mdser = fmax(mdser, fabs(lx[q * cfg->num_labels + j] - serial[order[q]].logits[j]));
            tap_ok(ss == ENGINE_OK && mdser < 2e-3,
                   "a packed batch of 3 gives the logits of 3 lone calls (max |dlogit| %.2e)", mdser);
        }
        /* every SIMD table the CPU (and LLMSPAM_CPU_ISA) allow, against the
         * portable one, then back to the table in use */
        const kernels *simd[] = {kernels_avx2(), kernels_avx512(), kernels_avx512_bf16()};
        const char *simd_name[] = {"avx2", "avx512", "avx512_bf16"};
        backend_batch b2 = {.n_seqs = 3, .ids = ids, .lens = lens, .logits = lp};
        forward_use_kernels(fw, kernels_portable());
        engine_status s2 = backend_forward(be, &b2, &err);
        for (int t = 0; t < 3; t++) {
            const char *name = simd_name[t];
            if (!simd[t]) {
                char why[96];
                snprintf(why, sizeof why, "this CPU (or LLMSPAM_CPU_ISA) has no %s kernels", name);
                tap_skip(why);
                continue;
            }
            backend_batch b1 = {.n_seqs = 3, .ids = ids, .lens = lens, .logits = lx};
            forward_use_kernels(fw, simd[t]);
            engine_status s1 = backend_forward(be, &b1, &err);
            double md = 0;
            for (int i = 0; i < 3 * cfg->num_labels; i++)
                md = fmax(md, fabs(lp[i] - lx[i]));
            tap_ok(s1 == ENGINE_OK && s2 == ENGINE_OK && md < 2e-3 && b1.flops > 0,
                   "forward pass: portable and %s kernels agree (max |dlogit| %.2e)", name, md);
        }
        forward_use_kernels(fw, kernels_get());
        /* cancellation between layers (the scheduler's deadline check) */
        int calls = 0;
        backend_batch bc = {.n_seqs = 3, .ids = ids, .lens = lens, .logits = lx,
                            .cancel = cancel_second, .cancel_ctx = &calls};
        engine_status sc = backend_forward(be, &bc, &err);
        tap_ok(sc == ENGINE_ERR_TIMEOUT && calls == 2,
               "a cancel callback turning true before layer 1 stops the pass: %s", err.msg);
    } else {
        tap_ok(0, "cpu backend on the tiny model: %s", err.msg);
    }
    backend_free(be);
    checkpoint_free(ck);

    /* multi-label: sigmoid; regression: the raw value */
    char mdir2[4200];
    snprintf(mdir2, sizeof mdir2, "%s/multi", dir);
    if (mkmodel(mdir2, "--labels a,b,c --problem-type multi_label_classification") == 0 &&
        classifier_new(mdir2, &opt, &clf, &err) == ENGINE_OK &&
        classifier_classify_ids(clf, seqs[2], 16, 0, &r, &err) == ENGINE_OK) {
        int sig = r.num_labels == 3;
        for (int i = 0; i < r.num_labels; i++)
            sig &= fabs(r.probs[i] - 1 / (1 + exp(-(double)r.logits[i]))) < 1e-6;
        tap_ok(sig, "multi-label: each probability is the sigmoid of its logit");
    } else {
        tap_ok(0, "multi-label model: %s", err.msg);
    }
    classifier_free(clf);
    clf = NULL;
    snprintf(mdir2, sizeof mdir2, "%s/reg", dir);
    if (mkmodel(mdir2, "--labels score") == 0 && classifier_new(mdir2, &opt, &clf, &err) == ENGINE_OK &&
        classifier_classify_ids(clf, seqs[2], 16, 0, &r, &err) == ENGINE_OK)
        tap_ok(r.num_labels == 1 && r.probs[0] == r.logits[0] && r.spam_score == r.logits[0],
               "regression (1 label): the raw value");
    else
        tap_ok(0, "regression model: %s", err.msg);
    classifier_free(clf);

    for (int i = 0; i < NSEQ; i++)
        free(seqs[i]);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    return tap_done();
}
