/*
 * classifier: the engine's thread-safe entry point. Callers enqueue a
 * request (bounded queue: full -> ENGINE_ERR_OVERLOAD at once) and wait;
 * one scheduler thread packs waiting requests into batches of at most
 * batch_tokens (capped by the backend's capacity) and runs them, so the
 * compute threads are never oversubscribed. A batch with room is held for
 * at most batch_wait_ms, and only while `announced` > 0: callers inside
 * classifier_classify() still tokenizing (their own request is not queued
 * yet) plus classifier_announce(); a caller stops counting in the same
 * critical section that queues its request, so a lone message never waits. A request whose deadline passes while queued is
 * dropped; a running batch is cancelled between layers once every request
 * in it has expired. Requests live on their caller's stack: a caller
 * returns only once the scheduler no longer holds its request.
 *
 * Input rules: ids >= vocab_size (or negative) are ENGINE_ERR_ARG; 0 ids
 * are ENGINE_ERR_ARG (with a BOS-adding tokenizer, Llama 3's, empty text is
 * the BOS alone; with one that adds none, SmolLM2's, empty text has no
 * ids: the reference model cannot run on it either); more than max_tokens
 * ids are truncated to the first max_tokens.
 * The pooled token is the rightmost id != pad_token_id (index 0 when all
 * are pad; the last one without a pad id); ids after it cannot change the
 * result (causal attention) and are not computed.
 */
#include "config.h"
#include "engine/classifier.h"
#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "engine/device.h"
#include "engine/forward.h"
#include "engine/tokenizer.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct request {
    const int32_t *ids;
    int n;                    /* ids to run: up to and including the pooled one */
    double deadline;          /* CLOCK_MONOTONIC seconds; 0 = none */
    float logits[LLAMA_MAX_LABELS];
    engine_status status;
    engine_err err;
    bool running, done;
    struct request *next;
} request;

struct classifier {
    checkpoint *ck;
    tokenizer *tok;
    backend *be;
    const llama_config *cfg;
    size_t max_tokens, queue_length;
    int batch_limit;          /* tokens per forward: batch_tokens capped by capacity */
    double batch_wait_s;
    int spam_index;           /* -1: regression value */
    char device[224];

    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    pthread_t thread;
    bool thread_started, stop, hold;
    request *head, *tail;
    size_t queued;
    long announced;           /* requests known to be on their way */
    classifier_stats stats;

    /* scheduler-only batch arrays, [capacity] */
    request **batch;
    const int32_t **batch_ids;
    int *batch_lens;
    float *batch_logits;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void deadline_ts(double deadline, struct timespec *ts)
{
    ts->tv_sec = (time_t)deadline;
    ts->tv_nsec = (long)((deadline - (double)ts->tv_sec) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

void classifier_options_init(classifier_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->threads = 0;
    opt->max_tokens = 0;
    opt->queue_length = 64;
    opt->device = "cpu";
    opt->spam_label = NULL;
    opt->batch_tokens = 0;
    opt->batch_wait_ms = 1.0;
}

typedef struct cancel_ctx {
    request **reqs;
    int n;
} cancel_ctx;

/* Nonzero once every request of the batch is past its deadline. */
static int batch_expired(void *p)
{
    cancel_ctx *cc = p;
    double t = now_s();
    for (int i = 0; i < cc->n; i++)
        if (cc->reqs[i]->deadline <= 0 || t < cc->reqs[i]->deadline)
            return 0;
    return 1;
}

/* Under mu: would the next batch, made of everything queued now, have room
 * for one more request? false once some queued request is left out. */
static bool batch_has_room(const classifier *c, int cap)
{
    int n = 0;
    long tokens = 0;
    for (const request *r = c->head; r; r = r->next) {
        if (n == cap || (n > 0 && tokens + r->n > c->batch_limit))
            return false;
        tokens += r->n;
        n++;
    }
    return n < cap && tokens < c->batch_limit;
}

/* Under mu: hold the batch while it has room and an announced request may
 * still fill it, up to batch_wait_s. Returns with mu held. */
static void wait_for_company(classifier *c, int cap)
{
    if (c->batch_wait_s <= 0 || c->announced <= 0 || !batch_has_room(c, cap))
        return;
    double t0 = now_s(), until = t0 + c->batch_wait_s;
    struct timespec ts;
    deadline_ts(until, &ts);
    c->stats.waits++;
    while (!c->stop && !c->hold && c->head && c->announced > 0 && batch_has_room(c, cap)) {
        if (now_s() >= until) {
            c->stats.wait_timeouts++;
            break;
        }
        pthread_cond_timedwait(&c->work_cv, &c->mu, &ts);
    }
    c->stats.wait_ms += (now_s() - t0) * 1e3;
}

static void *scheduler(void *arg)
{
    classifier *c = arg;
    int cap = backend_capacity(c->be), nl = c->cfg->num_labels;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while ((!c->head || c->hold) && !c->stop)
            pthread_cond_wait(&c->work_cv, &c->mu);
        if (c->stop)
            break;
        wait_for_company(c, cap);
        if (c->stop)
            break;
        if (!c->head || c->hold)
            continue; /* its requests timed out meanwhile, or a test holds */
        int n = 0, tokens = 0;
        while (c->head && n < cap && (n == 0 || tokens + c->head->n <= c->batch_limit)) {
            request *r = c->head;
            c->head = r->next;
            if (!c->head)
                c->tail = NULL;
            c->queued--;
            r->running = true;
            c->batch[n] = r;
            c->batch_ids[n] = r->ids;
            c->batch_lens[n] = r->n;
            tokens += r->n;
            n++;
        }
        c->stats.forwards++;
        c->stats.requests += (uint64_t)n;
        c->stats.tokens += (uint64_t)tokens;
        if (n > c->stats.largest_batch)
            c->stats.largest_batch = n;
        if (tokens > c->stats.largest_tokens)
            c->stats.largest_tokens = tokens;
        pthread_mutex_unlock(&c->mu);

        cancel_ctx cc = {c->batch, n};
        backend_batch b = {
            .n_seqs = n, .ids = c->batch_ids, .lens = c->batch_lens,
            .logits = c->batch_logits, .cancel = batch_expired, .cancel_ctx = &cc,
        };
        engine_err err;
        engine_status st = backend_forward(c->be, &b, &err);

        pthread_mutex_lock(&c->mu);
        for (int i = 0; i < n; i++) {
            request *r = c->batch[i];
            r->status = st;
            if (st == ENGINE_OK)
                memcpy(r->logits, c->batch_logits + (size_t)i * nl, (size_t)nl * sizeof(float));
            else
                r->err = err;
            r->running = false;
            r->done = true;
        }
        pthread_cond_broadcast(&c->done_cv);
    }
    /* shutting down: nothing queued may wait forever */
    for (request *r = c->head; r; r = r->next) {
        r->status = engine_fail(&r->err, ENGINE_ERR_SHUTDOWN, "classifier: shutting down");
        r->done = true;
    }
    c->head = c->tail = NULL;
    c->queued = 0;
    pthread_cond_broadcast(&c->done_cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

void classifier_free(classifier *c)
{
    if (!c)
        return;
    if (c->thread_started) {
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_cond_broadcast(&c->work_cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->work_cv);
    pthread_cond_destroy(&c->done_cv);
    backend_free(c->be);
    tokenizer_free(c->tok);
    checkpoint_free(c->ck);
    free(c->batch);
    free(c->batch_ids);
    free(c->batch_lens);
    free(c->batch_logits);
    free(c);
}

/* max_tokens 0: the length the model was made for, as transformers'
 * tokenizer truncates (tokenizer_config.json model_max_length), else
 * CLASSIFIER_DEFAULT_MAX_TOKENS; never past max_position_embeddings. */
static engine_status model_max_tokens(const char *model_dir, const llama_config *cfg, size_t *out,
                                      engine_err *err)
{
    size_t n = strlen(model_dir) + sizeof "/tokenizer_config.json";
    char *path = malloc(n);
    if (!path)
        return engine_fail(err, ENGINE_ERR_NOMEM, "classifier: out of memory");
    snprintf(path, n, "%s/tokenizer_config.json", model_dir);
    size_t len = 0;
    engine_status st = llama_config_model_max_length(path, &len, err);
    free(path);
    if (st)
        return st;
    if (len == 0)
        len = CLASSIFIER_DEFAULT_MAX_TOKENS;
    if (len > (size_t)cfg->max_position_embeddings)
        len = (size_t)cfg->max_position_embeddings;
    *out = len;
    return ENGINE_OK;
}

engine_status classifier_new(const char *model_dir, const classifier_options *opt_in,
                             classifier **out, engine_err *err)
{
    *out = NULL;
    classifier_options opt;
    classifier_options_init(&opt);
    if (opt_in)
        opt = *opt_in;
    if (opt.queue_length == 0)
        opt.queue_length = 64;
    if (opt.threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        opt.threads = n > 0 ? (int)n : 1;
    }
    if (opt.max_tokens > (1u << 20) || opt.threads > CLASSIFIER_MAX_THREADS)
        return engine_fail(err, ENGINE_ERR_ARG, "classifier: max_tokens %zu or threads %d out of range",
                           opt.max_tokens, opt.threads);
    if (opt.batch_tokens > (1u << 20))
        return engine_fail(err, ENGINE_ERR_ARG, "classifier: batch_tokens %zu out of range 0..%u",
                           opt.batch_tokens, 1u << 20);
    if (!(opt.batch_wait_ms >= 0 && opt.batch_wait_ms <= 60000))
        return engine_fail(err, ENGINE_ERR_ARG, "classifier: batch_wait_ms %g out of range 0..60000",
                           opt.batch_wait_ms);
    const char *dev = opt.device ? opt.device : "cpu";
    device_spec spec;
    engine_status dst = device_parse(dev, &spec, err);
    if (dst)
        return dst;

    classifier *c = calloc(1, sizeof *c);
    if (!c)
        return engine_fail(err, ENGINE_ERR_NOMEM, "classifier: out of memory");
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->work_cv, &ca);
    pthread_cond_init(&c->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    c->max_tokens = opt.max_tokens;
    c->queue_length = opt.queue_length;
    c->batch_wait_s = opt.batch_wait_ms / 1000.0;

    engine_status st = checkpoint_open(model_dir, &c->ck, err);
    if (st)
        goto fail;
    c->cfg = checkpoint_config(c->ck);
    if (opt.max_tokens == 0 && (st = model_max_tokens(model_dir, c->cfg, &opt.max_tokens, err)))
        goto fail;
    c->max_tokens = opt.max_tokens;
    if (opt.max_tokens > (size_t)c->cfg->max_position_embeddings) {
        st = engine_fail(err, ENGINE_ERR_ARG, "%s: max_tokens %zu exceeds max_position_embeddings %d",
                         model_dir, opt.max_tokens, c->cfg->max_position_embeddings);
        goto fail;
    }
    if (c->cfg->num_labels == 1) {
        c->spam_index = -1;
    } else {
        const char *want = opt.spam_label ? opt.spam_label : "spam";
        c->spam_index = llama_config_label_index(c->cfg, want);
        if (c->spam_index < 0) {
            if (opt.spam_label) {
                st = engine_fail(err, ENGINE_ERR_ARG, "%s/config.json: id2label has no label %s",
                                 model_dir, want);
                goto fail;
            }
            c->spam_index = c->cfg->num_labels - 1;
        }
    }
    if ((st = tokenizer_load(checkpoint_tokenizer_path(c->ck), &c->tok, err)))
        goto fail;
    /* Checked here, not per message: an id past the embedding would fail
     * every message, and -n must see it. */
    if (!opt.ids_only && tokenizer_vocab_size(c->tok) > (size_t)c->cfg->vocab_size) {
        st = engine_fail(err, ENGINE_ERR_FORMAT,
                         "%s: ids up to %zu, past config.json vocab_size %d (the tokenizer and the "
                         "embedding are from different models)",
                         checkpoint_tokenizer_path(c->ck), tokenizer_vocab_size(c->tok) - 1,
                         c->cfg->vocab_size);
        goto fail;
    }
    device_options dopt = {.threads = opt.threads, .max_tokens = (int)opt.max_tokens,
                           .batch_tokens = (int)opt.batch_tokens};
    if ((st = device_backend_new(dev, c->ck, &dopt, &c->be, c->device, sizeof c->device, err)))
        goto fail;
    size_t cap = (size_t)backend_capacity(c->be);
    c->batch_limit = opt.batch_tokens > 0 && opt.batch_tokens < cap ? (int)opt.batch_tokens : (int)cap;
    c->stats.batch_tokens = c->batch_limit;
    c->batch = calloc(cap, sizeof *c->batch);
    c->batch_ids = calloc(cap, sizeof *c->batch_ids);
    c->batch_lens = calloc(cap, sizeof *c->batch_lens);
    c->batch_logits = calloc(cap * (size_t)c->cfg->num_labels, sizeof *c->batch_logits);
    if (!c->batch || !c->batch_ids || !c->batch_lens || !c->batch_logits) {
        st = engine_fail(err, ENGINE_ERR_NOMEM, "classifier: out of memory");
        goto fail;
    }
    if (pthread_create(&c->thread, NULL, scheduler, c)) {
        st = engine_fail(err, ENGINE_ERR_NOMEM, "classifier: cannot start the scheduler thread");
        goto fail;
    }
    c->thread_started = true;
    *out = c;
    return ENGINE_OK;
fail:
    classifier_free(c);
    return st;
}

static void fill_result(const classifier *c, const request *r, classify_result *res)
{
    const llama_config *cfg = c->cfg;
    int nl = cfg->num_labels;
    res->num_labels = nl;
    int best = 0;
    for (int i = 0; i < nl; i++) {
        res->logits[i] = r->logits[i];
        if (r->logits[i] > r->logits[best])
            best = i;
    }
    res->label = best;
    if (cfg->problem == LLAMA_REGRESSION || nl == 1) {
        for (int i = 0; i < nl; i++)
            res->probs[i] = r->logits[i];
        res->label = 0;
    } else if (cfg->problem == LLAMA_MULTI_LABEL) {
        for (int i = 0; i < nl; i++)
            res->probs[i] = (float)(1.0 / (1.0 + exp(-(double)r->logits[i])));
    } else {
        double mx = r->logits[best], sum = 0, e[LLAMA_MAX_LABELS];
        for (int i = 0; i < nl; i++)
            sum += e[i] = exp((double)r->logits[i] - mx);
        for (int i = 0; i < nl; i++)
            res->probs[i] = (float)(e[i] / sum);
    }
    res->spam_score = res->probs[c->spam_index < 0 ? 0 : c->spam_index];
}

/* Withdraw n announcements; the scheduler may be holding a batch for them. */
static void unannounce(classifier *c, long n)
{
    pthread_mutex_lock(&c->mu);
    c->announced -= n;
    pthread_cond_signal(&c->work_cv);
    pthread_mutex_unlock(&c->mu);
}

/* Index of the pooled id of ids[0..n), or -1 with err set for a bad id. */
static int pooled_index(const classifier *c, const int32_t *ids, size_t n, engine_err *err)
{
    int pooled = -1;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= c->cfg->vocab_size) {
            engine_fail(err, ENGINE_ERR_ARG, "classifier: token id %ld at %zu out of range 0..%d",
                        (long)ids[i], i, c->cfg->vocab_size - 1);
            return -1;
        }
        if (c->cfg->pad_token_id < 0 || ids[i] != c->cfg->pad_token_id)
            pooled = (int)i;
    }
    return pooled < 0 ? 0 : pooled;
}

/* Queue ids[0..n) (n >= 1, already cut to max_tokens) and wait for the
 * answer. announced: the caller counts in c->announced, and stops counting
 * as its request is queued (or refused). */
static engine_status submit(classifier *c, const int32_t *ids, size_t n, double t0, double timeout_ms,
                            bool announced, classify_result *res, engine_err *err)
{
    int pooled = pooled_index(c, ids, n, err);
    if (pooled < 0) {
        if (announced)
            unannounce(c, 1);
        return ENGINE_ERR_ARG;
    }
    request r;
    memset(&r, 0, sizeof r);
    r.ids = ids;
    r.n = pooled + 1;
    r.deadline = timeout_ms > 0 ? t0 + timeout_ms / 1000.0 : 0;

    pthread_mutex_lock(&c->mu);
    if (announced)
        c->announced--; /* with the request queued below, or refused */
    if (c->stop) {
        pthread_mutex_unlock(&c->mu);
        return engine_fail(err, ENGINE_ERR_SHUTDOWN, "classifier: shutting down");
    }
    if (c->queued >= c->queue_length) {
        if (announced)
            pthread_cond_signal(&c->work_cv); /* a held batch need not wait for it */
        pthread_mutex_unlock(&c->mu);
        return engine_fail(err, ENGINE_ERR_OVERLOAD, "classifier: queue full (%zu waiting)", c->queued);
    }
    if (c->tail)
        c->tail->next = &r;
    else
        c->head = &r;
    c->tail = &r;
    c->queued++;
    pthread_cond_signal(&c->work_cv);
    struct timespec ts;
    if (r.deadline > 0)
        deadline_ts(r.deadline, &ts);
    bool timed_out = false;
    while (!r.done) {
        if (r.deadline > 0 && !r.running && now_s() >= r.deadline) {
            /* still queued: take it out and give up */
            request **pp = &c->head, *prev = NULL;
            while (*pp && *pp != &r) {
                prev = *pp;
                pp = &(*pp)->next;
            }
            if (*pp) {
                *pp = r.next;
                if (c->tail == &r)
                    c->tail = prev;
                c->queued--;
            }
            timed_out = true;
            break;
        }
        if (r.deadline > 0 && !r.running) {
            int rc = pthread_cond_timedwait(&c->done_cv, &c->mu, &ts);
            (void)rc;
        } else {
            /* running: the scheduler cancels it between layers once expired */
            pthread_cond_wait(&c->done_cv, &c->mu);
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (timed_out)
        return engine_fail(err, ENGINE_ERR_TIMEOUT, "classifier: deadline of %.0f ms passed in the queue",
                           timeout_ms);
    if (r.status != ENGINE_OK) {
        if (err)
            *err = r.err;
        if (r.status == ENGINE_ERR_TIMEOUT)
            return engine_fail(err, ENGINE_ERR_TIMEOUT, "classifier: deadline of %.0f ms passed while running",
                               timeout_ms);
        return r.status;
    }
    fill_result(c, &r, res);
    res->tokens = (int)n;
    res->ms = (now_s() - t0) * 1e3;
    return ENGINE_OK;
}

engine_status classifier_classify_ids(classifier *c, const int32_t *ids, size_t n,
                                      double timeout_ms, classify_result *res, engine_err *err)
{
    double t0 = now_s();
    memset(res, 0, sizeof *res);
    if (!c || (!ids && n))
        return engine_fail(err, ENGINE_ERR_ARG, "classifier: no classifier or no ids");
    if (n == 0)
        return engine_fail(err, ENGINE_ERR_ARG, "classifier: no token ids (the input needs at least BOS)");
    if (n > c->max_tokens)
        n = c->max_tokens;
    return submit(c, ids, n, t0, timeout_ms, false, res, err);
}

engine_status classifier_classify(classifier *c, const char *text, size_t len, double timeout_ms,
                                  classify_result *res, engine_err *err)
{
    double t0 = now_s();
    memset(res, 0, sizeof *res);
    if (!c || (!text && len))
        return engine_fail(err, ENGINE_ERR_ARG, "classifier: no classifier or no text");
    int32_t *ids = malloc(c->max_tokens * sizeof *ids);
    if (!ids)
        return engine_fail(err, ENGINE_ERR_NOMEM, "classifier: out of memory");
    /* on its way from now: a batch with room may wait for it */
    pthread_mutex_lock(&c->mu);
    c->announced++;
    pthread_mutex_unlock(&c->mu);
    size_t n = 0;
    engine_status st = tokenizer_encode(c->tok, text ? text : "", len, c->max_tokens, true, ids, &n, err);
    if (st == ENGINE_OK && n == 0)
        st = engine_fail(err, ENGINE_ERR_ARG,
                         "classifier: the text gives no tokens (%zu bytes, and the tokenizer adds no BOS)", len);
    if (st == ENGINE_OK && timeout_ms > 0 && (now_s() - t0) * 1e3 >= timeout_ms)
        st = engine_fail(err, ENGINE_ERR_TIMEOUT, "classifier: deadline passed while tokenizing");
    if (st == ENGINE_OK) {
        st = submit(c, ids, n, t0, timeout_ms, true, res, err); /* the deadline counts from t0 */
    } else {
        unannounce(c, 1);
    }
    free(ids);
    if (st == ENGINE_OK)
        res->ms = (now_s() - t0) * 1e3;
    return st;
}

const llama_config *classifier_config(const classifier *c)
{
    return c->cfg;
}

const char *classifier_device(const classifier *c)
{
    return c->device;
}

const char *classifier_cpu_path(const classifier *c)
{
    forward *f = backend_cpu_forward_state(c->be);
    return f ? forward_gemm_path(f) : "none";
}

const char *classifier_warnings(const classifier *c)
{
    return checkpoint_warnings(c->ck);
}

void classifier_hold(classifier *c, bool hold)
{
    pthread_mutex_lock(&c->mu);
    c->hold = hold;
    pthread_cond_broadcast(&c->work_cv);
    pthread_mutex_unlock(&c->mu);
}

void classifier_announce(classifier *c, int n)
{
    if (n < 0) {
        unannounce(c, -(long)n);
        return;
    }
    pthread_mutex_lock(&c->mu);
    c->announced += n;
    pthread_mutex_unlock(&c->mu);
}

void classifier_get_stats(classifier *c, classifier_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->stats;
    pthread_mutex_unlock(&c->mu);
}

size_t classifier_queued(classifier *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->queued;
    pthread_mutex_unlock(&c->mu);
    return n;
}

size_t classifier_max_tokens(const classifier *c)
{
    return c->max_tokens;
}
