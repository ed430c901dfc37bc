/*
 * runtime: everything one message runs against, built together and swapped
 * as one: the config, the classifier (model + tokenizer + scheduler), the
 * trusted-network list and the policy. SIGHUP builds a complete new runtime
 * and publishes it only if every part loaded; a message acquires the
 * current runtime at MAIL FROM and releases it when it ends, so messages in
 * flight finish on the one they started with. The old runtime is freed
 * when its last message releases it.
 *
 * Security: runtime_build() reads the model directory; at start-up that
 * happens before the privilege drop, on reload as the unprivileged user.
 *
 * Ownership: runtime_build() takes the config; the runtime owns every part.
 * runtime_publish() hands the new runtime to the module. runtime_acquire()
 * returns a counted reference the caller gives back with runtime_release().
 */
#ifndef LLMSPAM_MILTER_RUNTIME_H
#define LLMSPAM_MILTER_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/classifier.h"
#include "milter/cidr.h"
#include "milter/llmspam_conf.h"
#include "milter/policy.h"

typedef struct runtime runtime;

/* Load the model named by cfg and build the rest. NULL with the reason in
 * err; cfg is freed in either case (it belongs to the runtime). */
runtime *runtime_build(milter_config *cfg, char *err, size_t errlen);
/* Only for a runtime that was never published. */
void runtime_free(runtime *rt);

/* Make rt the current runtime; the previous one is released. */
void runtime_publish(runtime *rt);
/* The current runtime with one more reference, or NULL when none. */
runtime *runtime_acquire(void);
void runtime_release(runtime *rt);
/* Drop the current runtime (shutdown); it is freed once idle. */
void runtime_retire(void);
/* Wait until no acquired reference is left, up to timeout_s seconds.
 * true when idle. */
bool runtime_wait_idle(double timeout_s);
/* References held right now (messages in flight). */
int runtime_in_flight(void);

const milter_config *runtime_config(const runtime *rt);
classifier *runtime_classifier(const runtime *rt);
const cidr_list *runtime_trusted(const runtime *rt);
const policy *runtime_policy(const runtime *rt);
/* A short name for the headers and the log: the model directory's base name. */
const char *runtime_model_name(const runtime *rt);

#endif
