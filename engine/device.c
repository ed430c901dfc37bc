/*
 * device: parse the device setting and make its backend: the CPU one, or
 * the CUDA one from the dlopen'ed module, with auto falling back to the CPU
 * and saying why. See device.h.
 */
#include "config.h"
#include "engine/device.h"
#include "engine/model.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LLMSPAM_PKGLIBDIR
#define LLMSPAM_PKGLIBDIR "/usr/local/lib/llmspam"
#endif
#define MODULE_NAME "llmspam-cuda.so"

engine_status device_parse(const char *s, device_spec *out, engine_err *err)
{
    out->kind = DEVICE_CPU;
    out->index = 0;
    if (!s || !*s || !strcmp(s, "cpu"))
        return ENGINE_OK;
    if (!strcmp(s, "auto")) {
        out->kind = DEVICE_AUTO;
        return ENGINE_OK;
    }
    if (!strncmp(s, "cuda", 4)) {
        const char *p = s + 4;
        out->kind = DEVICE_CUDA;
        if (!*p)
            return ENGINE_OK;
        if (*p == ':' && p[1] >= '0' && p[1] <= '9') {
            int n = 0;
            for (p++; *p >= '0' && *p <= '9' && n <= 255; p++)
                n = n * 10 + (*p - '0');
            if (!*p && n <= 255) {
                out->index = n;
                return ENGINE_OK;
            }
        }
    }
    return engine_fail(err, ENGINE_ERR_ARG, "device: '%s' is not auto, cpu, cuda or cuda:N (N 0..255)", s);
}

/* The module, loaded once for the life of the process. */
static pthread_mutex_t mod_mu = PTHREAD_MUTEX_INITIALIZER;
static void *mod_handle;
static backend_new_fn mod_new;
static device_host_api mod_host;

device_host_api device_host_api_engine(void)
{
    return (device_host_api){
        .version = DEVICE_HOST_API_VERSION,
        .sizeof_backend = sizeof(backend),
        .sizeof_backend_batch = sizeof(backend_batch),
        .sizeof_backend_options = sizeof(backend_options),
        .sizeof_llama_config = sizeof(llama_config),
        .sizeof_tensor_view = sizeof(tensor_view),
        .checkpoint_config = checkpoint_config,
        .checkpoint_tensor = checkpoint_tensor,
        .checkpoint_copy_bf16 = checkpoint_copy_bf16,
        .checkpoint_release = checkpoint_release,
        .rope_inv_freq = model_rope_inv_freq,
    };
}
static char mod_path[PATH_MAX];

static void next_to_exe(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    buf[0] = '\0';
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    if ((size_t)(slash - exe) + sizeof "/" MODULE_NAME > len)
        return;
    memcpy(buf, exe, (size_t)(slash - exe));
    memcpy(buf + (slash - exe), "/" MODULE_NAME, sizeof "/" MODULE_NAME);
}

const char *device_cuda_module_path(void)
{
    const char *env = getenv("LLMSPAM_CUDA_MODULE");
    if (env && *env)
        return env;
    return LLMSPAM_PKGLIBDIR "/" MODULE_NAME;
}

/* Load the module under mod_mu; ENGINE_ERR_UNSUPPORTED with the reason
 * when there is none or it does not fit. */
static engine_status module_load(engine_err *err)
{
    if (mod_handle)
        return ENGINE_OK;
    const char *env = getenv("LLMSPAM_CUDA_MODULE");
    char beside[PATH_MAX];
    const char *tried[2];
    int ntried = 0;
    if (env && *env) {
        tried[ntried++] = env;
    } else {
        tried[ntried++] = LLMSPAM_PKGLIBDIR "/" MODULE_NAME;
        next_to_exe(beside, sizeof beside);
        if (beside[0])
            tried[ntried++] = beside;
    }
    const char *path = NULL;
    for (int i = 0; i < ntried && !path; i++)
        if (access(tried[i], R_OK) == 0)
            path = tried[i];
    if (!path)
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "cuda: module %s not found%s%s",
                           tried[0], ntried > 1 ? " (nor " : "", ntried > 1 ? "beside the program)" : "");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "cuda: cannot load %s: %s", path, e ? e : "?");
    }
    void *bind_sym = dlsym(h, "llmspam_cuda_bind");
    void *new_sym = dlsym(h, "llmspam_backend_cuda_new");
    if (!bind_sym || !new_sym) {
        dlclose(h);
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED,
                           "cuda: %s lacks llmspam_cuda_bind or llmspam_backend_cuda_new", path);
    }
    device_cuda_bind_fn bind;
    /* POSIX: a function pointer may travel through void * (dlsym) */
    memcpy(&bind, &bind_sym, sizeof bind);
    mod_host = device_host_api_engine();
    char msg[256] = "";
    if (bind(&mod_host, msg, sizeof msg)) {
        dlclose(h);
        return engine_fail(err, ENGINE_ERR_UNSUPPORTED, "cuda: %s refused this engine: %s", path, msg);
    }
    memcpy(&mod_new, &new_sym, sizeof mod_new);
    snprintf(mod_path, sizeof mod_path, "%s", path);
    mod_handle = h;
    return ENGINE_OK;
}

static engine_status cuda_new(int index, checkpoint *ck, const device_options *opt, backend **out,
                              engine_err *err)
{
    pthread_mutex_lock(&mod_mu);
    engine_status st = module_load(err);
    if (st == ENGINE_OK) {
        backend_options bo = {.threads = opt->threads, .max_tokens = opt->max_tokens,
                              .device_index = index};
        mod_host.batch_tokens = opt->batch_tokens;
        st = mod_new(ck, &bo, out, err);
    }
    pthread_mutex_unlock(&mod_mu);
    return st;
}

static void say(char *why, size_t len, const char *desc, const char *note)
{
    if (why && len)
        snprintf(why, len, "%s%s", desc, note);
}

engine_status device_backend_new(const char *device, checkpoint *ck, const device_options *opt,
                                 backend **out, char *why, size_t why_len, engine_err *err)
{
    *out = NULL;
    if (why && why_len)
        why[0] = '\0';
    device_spec spec;
    engine_status st = device_parse(device, &spec, err);
    if (st)
        return st;
    backend_options cpu = {.threads = opt->threads, .max_tokens = opt->max_tokens};
    if (spec.kind == DEVICE_CPU) {
        if ((st = backend_cpu_new(ck, &cpu, out, err)))
            return st;
        say(why, why_len, (*out)->desc, "");
        return ENGINE_OK;
    }
    engine_err cerr;
    st = cuda_new(spec.index, ck, opt, out, &cerr);
    if (st == ENGINE_OK) {
        say(why, why_len, (*out)->desc, spec.kind == DEVICE_AUTO ? " (auto: GPU found)" : "");
        return ENGINE_OK;
    }
    if (spec.kind == DEVICE_CUDA) {
        if (err)
            *err = cerr;
        return st;
    }
    /* auto: the CPU, and why */
    if ((st = backend_cpu_new(ck, &cpu, out, err)))
        return st;
    if (why && why_len)
        snprintf(why, why_len, "%s (auto: %s; using cpu)", (*out)->desc, cerr.msg);
    return ENGINE_OK;
}
