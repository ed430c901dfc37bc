/*
 * runtime: build, publish, reference-count and retire the per-message
 * world (config + classifier + trusted networks + policy).
 */
#include <config.h>
#include "milter/runtime.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct runtime {
    milter_config *cfg;
    classifier *clf;
    cidr_list *trusted;
    policy pol;
    char model_name[128];
    int refs; /* under mu */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cv = PTHREAD_COND_INITIALIZER;
static runtime *current;
static int in_flight; /* acquired references, all runtimes */

runtime *runtime_build(milter_config *cfg, char *err, size_t errlen)
{
    runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        snprintf(err, errlen, "out of memory");
        milter_config_free(cfg);
        return NULL;
    }
    rt->cfg = cfg;
    rt->refs = 1; /* the publisher's */
    char why[256];
    rt->trusted = cidr_list_parse(cfg->trusted_networks, why, sizeof why);
    if (!rt->trusted) {
        snprintf(err, errlen, "%s: trusted_networks: %s", cfg->path, why);
        runtime_free(rt);
        return NULL;
    }
    policy_from_config(&rt->pol, cfg);

    classifier_options opt;
    classifier_options_init(&opt);
    opt.threads = (int)cfg->threads;
    opt.max_tokens = (size_t)cfg->max_tokens;
    opt.queue_length = (size_t)cfg->queue_length;
    opt.batch_tokens = (size_t)cfg->batch_tokens;
    opt.batch_wait_ms = cfg->batch_wait_ms;
    opt.device = cfg->device;
    opt.spam_label = cfg->spam_label;
    engine_err eerr = {{0}};
    engine_status st = classifier_new(cfg->model, &opt, &rt->clf, &eerr);
    if (st != ENGINE_OK) {
        snprintf(err, errlen, "model %s: %s", cfg->model, eerr.msg[0] ? eerr.msg : engine_status_name(st));
        rt->clf = NULL;
        runtime_free(rt);
        return NULL;
    }
    const llama_config *lc = classifier_config(rt->clf);
    if (lc && lc->problem != LLAMA_REGRESSION && llama_config_label_index(lc, cfg->spam_label) < 0) {
        snprintf(err, errlen, "%s: spam_label '%s' is not a label of model %s", cfg->path,
                 cfg->spam_label, cfg->model);
        runtime_free(rt);
        return NULL;
    }
    /* base name of the model directory, without trailing slashes */
    const char *m = cfg->model;
    size_t n = strlen(m);
    while (n > 1 && m[n - 1] == '/')
        n--;
    size_t start = n;
    while (start > 0 && m[start - 1] != '/')
        start--;
    size_t len = n - start < sizeof rt->model_name - 1 ? n - start : sizeof rt->model_name - 1;
    memcpy(rt->model_name, m + start, len);
    rt->model_name[len] = '\0';
    return rt;
}

void runtime_free(runtime *rt)
{
    if (!rt)
        return;
    classifier_free(rt->clf);
    cidr_list_free(rt->trusted);
    milter_config_free(rt->cfg);
    free(rt);
}

/* Drop one reference; free outside the lock (classifier_free joins threads). */
static void unref(runtime *rt)
{
    if (!rt)
        return;
    pthread_mutex_lock(&mu);
    bool last = --rt->refs == 0;
    pthread_mutex_unlock(&mu);
    if (last)
        runtime_free(rt);
}

void runtime_publish(runtime *rt)
{
    pthread_mutex_lock(&mu);
    runtime *old = current;
    current = rt;
    pthread_mutex_unlock(&mu);
    unref(old);
}

runtime *runtime_acquire(void)
{
    pthread_mutex_lock(&mu);
    runtime *rt = current;
    if (rt) {
        rt->refs++;
        in_flight++;
    }
    pthread_mutex_unlock(&mu);
    return rt;
}

void runtime_release(runtime *rt)
{
    if (!rt)
        return;
    pthread_mutex_lock(&mu);
    if (--in_flight == 0)
        pthread_cond_broadcast(&idle_cv);
    pthread_mutex_unlock(&mu);
    unref(rt);
}

void runtime_retire(void)
{
    runtime_publish(NULL);
}

bool runtime_wait_idle(double timeout_s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)timeout_s;
    until.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mu);
    int rc = 0;
    while (in_flight > 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&idle_cv, &mu, &until);
    bool idle = in_flight == 0;
    pthread_mutex_unlock(&mu);
    return idle;
}

int runtime_in_flight(void)
{
    pthread_mutex_lock(&mu);
    int n = in_flight;
    pthread_mutex_unlock(&mu);
    return n;
}

const milter_config *runtime_config(const runtime *rt)
{
    return rt->cfg;
}

classifier *runtime_classifier(const runtime *rt)
{
    return rt->clf;
}

const cidr_list *runtime_trusted(const runtime *rt)
{
    return rt->trusted;
}

const policy *runtime_policy(const runtime *rt)
{
    return &rt->pol;
}

const char *runtime_model_name(const runtime *rt)
{
    return rt->model_name;
}
