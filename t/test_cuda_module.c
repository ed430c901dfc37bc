/*
 * test_cuda_module: the contract between the engine and the CUDA module
 * (engine/device.h), checked on the built llmspam-cuda.so without a GPU:
 * creating a backend before llmspam_cuda_bind is refused; a host API of
 * another version or other struct sizes is refused with a reason; the
 * engine's own host API is accepted; then llmspam_backend_cuda_new either
 * makes a backend (a GPU is present) or says why not, never crashing.
 * SKIP (exit 77) when no module was built.
 */
#include "config.h"
#include "engine/checkpoint.h"
#include "engine/device.h"
#include "engine/model.h"
#include "t/lib/tap.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
#ifndef LLMSPAM_CUDA
    tap_skip_all("no CUDA module built (configure found no nvcc)");
#else
    const char *top = getenv("top_builddir");
    char path[4096];
    snprintf(path, sizeof path, "%s/llmspam-cuda.so", top ? top : ".");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!tap_ok(h != NULL, "dlopen %s", path)) {
        tap_diag("%s", dlerror());
        return tap_done();
    }
    void *bs = dlsym(h, "llmspam_cuda_bind"), *ns = dlsym(h, "llmspam_backend_cuda_new");
    tap_ok(bs && ns, "both exports found");
    if (!bs || !ns)
        return tap_done();
    device_cuda_bind_fn bind;
    backend_new_fn make;
    memcpy(&bind, &bs, sizeof bind);
    memcpy(&make, &ns, sizeof make);

    backend_options bo = {.threads = 1, .max_tokens = 16};
    backend *be = NULL;
    engine_err err = {{0}};
    engine_status st = make(NULL, &bo, &be, &err);
    tap_ok(st == ENGINE_ERR_UNSUPPORTED && be == NULL && strstr(err.msg, "before llmspam_cuda_bind"),
           "a backend before bind is refused: %s", err.msg);

    device_host_api api = device_host_api_engine();
    device_host_api other = api;
    other.version = DEVICE_HOST_API_VERSION + 1;
    char msg[256] = "";
    tap_ok(bind(&other, msg, sizeof msg) != 0 && strstr(msg, "host API"), "another API version is refused: %s", msg);
    other = api;
    other.sizeof_llama_config += 8;
    msg[0] = '\0';
    tap_ok(bind(&other, msg, sizeof msg) != 0 && msg[0], "other struct sizes are refused: %s", msg);
    tap_ok(bind(NULL, msg, sizeof msg) != 0, "no host API is refused");
    st = make(NULL, &bo, &be, &err);
    tap_ok(st == ENGINE_ERR_UNSUPPORTED, "still unbound after the refusals");
    tap_ok(bind(&api, msg, sizeof msg) == 0, "the engine's host API is accepted");

    bo.device_index = 300;
    st = make(NULL, &bo, &be, &err);
    tap_ok(st == ENGINE_ERR_ARG && be == NULL, "device 300 is refused: %s", err.msg);
    bo.device_index = 0;

    /* a real checkpoint: a backend on a GPU host, a reason elsewhere */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/t/cuda-module-model", top ? top : ".");
    char cmd[8400];
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && '%s/llmspam' mkmodel --preset tiny --seed 2 --tokenizer '%s/models/tokenizer/tokenizer.json' '%s' >/dev/null 2>&1",
             dir, top ? top : ".", getenv("top_srcdir") ? getenv("top_srcdir") : "..", dir);
    checkpoint *ck = NULL;
    if (system(cmd) == 0 && checkpoint_open(dir, &ck, &err) == ENGINE_OK) {
        st = make(ck, &bo, &be, &err);
        if (st == ENGINE_OK) {
            tap_ok(be && be->capacity >= 16 && !strncmp(be->desc, "cuda:0", 6), "a backend on the GPU: %s",
                   be ? be->desc : "");
            backend_free(be);
        } else {
            tap_ok(st == ENGINE_ERR_UNSUPPORTED && be == NULL && !strncmp(err.msg, "cuda", 4),
                   "no GPU: refused with a reason: %s", err.msg);
        }
        checkpoint_free(ck);
    } else {
        tap_ok(false, "the tiny checkpoint (mkmodel, checkpoint_open): %s", err.msg);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    /* the module stays loaded, as device.c keeps it */
    return tap_done();
#endif
}
