/*
 * device: the "device" setting (auto | cpu | cuda | cuda:N) parsed, and the
 * backend it names made.
 *   cpu      backend_cpu_new.
 *   cuda:N   the CUDA module llmspam-cuda.so, loaded with dlopen, makes the
 *            backend on GPU N ("cuda" is cuda:0); any failure is an error.
 *   auto     cuda:0 when the module loads and finds a usable GPU, else the
 *            CPU; the reason is returned in words, e.g.
 *            "cuda: no CUDA device (cudaGetDeviceCount: ...); using cpu".
 * The module is looked for at $LLMSPAM_CUDA_MODULE, else
 * $(pkglibdir)/llmspam-cuda.so, else llmspam-cuda.so next to the running
 * program (the build tree). It is loaded once and never unloaded.
 *
 * The programs that load the module export no symbols, so the module links
 * nothing of the engine: before creating a backend, device hands it the few
 * engine functions it needs (device_host_api) through its second export,
 * llmspam_cuda_bind, which also checks that module and engine were built
 * from the same headers (version and struct sizes).
 *
 * Ownership: the backend returned belongs to the caller (backend_free); it
 * borrows the checkpoint, which must outlive it.
 */
#ifndef LLMSPAM_ENGINE_DEVICE_H
#define LLMSPAM_ENGINE_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "engine/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum device_kind { DEVICE_AUTO, DEVICE_CPU, DEVICE_CUDA } device_kind;

typedef struct device_spec {
    device_kind kind;
    int index;                  /* CUDA device; 0 for auto and cpu */
} device_spec;

typedef struct device_options {
    int threads;                /* CPU compute threads, >= 1 */
    int max_tokens;             /* longest sequence */
    int batch_tokens;           /* GPU: most tokens in one packed batch; 0 = the
                                 * module's default (64 * max_tokens, at most
                                 * 32768, at least max_tokens) */
} device_options;

/* Parse "auto", "cpu", "cuda" or "cuda:N" (N a decimal 0..255, nothing
 * else). NULL or "" is "cpu". */
engine_status device_parse(const char *s, device_spec *out, engine_err *err);

/* Make the backend that device names. why (caller's buffer of why_len
 * bytes, may be NULL) receives the choice in words: the backend's
 * description, and for auto why it fell back to the CPU. */
engine_status device_backend_new(const char *device, checkpoint *ck, const device_options *opt,
                                 backend **out, char *why, size_t why_len, engine_err *err);

/* The module path that would be tried first, for messages and tests. */
const char *device_cuda_module_path(void);

/* ---- the contract with the CUDA module ------------------------------- */

#define DEVICE_HOST_API_VERSION 1

typedef struct device_host_api {
    int version;                /* DEVICE_HOST_API_VERSION */
    size_t sizeof_backend, sizeof_backend_batch, sizeof_backend_options;
    size_t sizeof_llama_config, sizeof_tensor_view;
    int batch_tokens;           /* device_options.batch_tokens of the next _new */
    const llama_config *(*checkpoint_config)(const checkpoint *ck);
    const tensor_view *(*checkpoint_tensor)(const checkpoint *ck, const char *name);
    void (*checkpoint_copy_bf16)(const tensor_view *t, uint16_t *dst);
    void (*checkpoint_release)(checkpoint *ck, const tensor_view *t);
    void (*rope_inv_freq)(const llama_config *cfg, float *inv_freq);
} device_host_api;

/* This engine's side of the contract: version, struct sizes and functions
 * (batch_tokens 0). */
device_host_api device_host_api_engine(void);

/* The module's exports (looked up with dlsym):
 *   int llmspam_cuda_bind(const device_host_api *host, char *msg, size_t len);
 *       0 when the module accepts host (kept by pointer: it must stay
 *       valid); else nonzero, with the reason in msg.
 *   engine_status llmspam_backend_cuda_new(checkpoint *, const backend_options *,
 *                                          backend **, engine_err *);
 *       a backend_new_fn; opt->device_index picks the GPU. */
typedef int (*device_cuda_bind_fn)(const device_host_api *host, char *msg, size_t len);

#ifdef __cplusplus
}
#endif

#endif
