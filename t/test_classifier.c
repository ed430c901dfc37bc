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
 * between layers.
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

    /* the whole forward pass: portable kernels against AVX-512 ones, on a
     * batch of three sequences packed together */
    checkpoint *ck = NULL;
    backend *be = NULL;
    backend_options bo = {.threads = 2, .max_tokens = 512};
    if (checkpoint_open(mdir, &ck, &err) == ENGINE_OK && backend_cpu_new(ck, &bo, &be, &err) == ENGINE_OK) {
        const int32_t *ids[3] = {seqs[5], seqs[1], seqs[4]};
        int lens[3] = {seq_len[5], seq_len[1], seq_len[4]};
        float lp[3 * LLAMA_MAX_LABELS], lx[3 * LLAMA_MAX_LABELS];
        forward *fw = backend_cpu_forward_state(be);
        const kernels *x = kernels_avx512();
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
        if (x) {
            backend_batch b1 = {.n_seqs = 3, .ids = ids, .lens = lens, .logits = lx};
            forward_use_kernels(fw, x);
            engine_status s1 = backend_forward(be, &b1, &err);
            backend_batch b2 = {.n_seqs = 3, .ids = ids, .lens = lens, .logits = lp};
            forward_use_kernels(fw, kernels_portable());
            engine_status s2 = backend_forward(be, &b2, &err);
            double md = 0;
            for (int i = 0; i < 3 * cfg->num_labels; i++)
                md = fmax(md, fabs(lp[i] - lx[i]));
            tap_ok(s1 == ENGINE_OK && s2 == ENGINE_OK && md < 2e-3 && b1.flops > 0,
                   "forward pass: portable and avx512 kernels agree (max |dlogit| %.2e)", md);
        } else {
            tap_skip("no AVX-512 BF16: one kernel path only");
        }
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
