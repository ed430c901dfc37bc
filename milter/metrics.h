/*
 * metrics: the daemon's Prometheus endpoint (the "metrics" key). Counters
 * and histograms are process-wide atomics that the mail path bumps without
 * a lock; a small thread of its own answers "GET /metrics" in the text
 * exposition format (version 0.0.4), reading those atomics, so a slow or
 * hostile scraper can never hold up mail. The strings of the info metrics
 * (model, device) sit behind a mutex that only the main thread (start-up,
 * reload) and the metrics thread take; the model's sha256 is computed by
 * the metrics thread, not at reload.
 *
 * Order: metrics_listen() binds while the daemon is still privileged
 * (start-up step 3, beside the milter socket); metrics_start() starts the
 * thread once privileges are dropped; metrics_stop() ends it.
 *
 * Security: the endpoint is read-only and answers one short request per
 * connection with 2-second socket timeouts; it is meant for 127.0.0.1 or
 * a monitoring network (bind it there, not to every address).
 *
 * Ownership: metrics_listen() returns a server the caller frees with
 * metrics_stop() (NULL harmless). The record functions copy what they need.
 */
#ifndef LLMSPAM_MILTER_METRICS_H
#define LLMSPAM_MILTER_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "milter/runtime.h"
#include "milter/scan.h"

typedef struct metrics_server metrics_server;

/* Check a "metrics" value: inet:PORT@HOST or inet6:PORT@HOST (a unix
 * socket is refused: Prometheus scrapes TCP). false with the reason. */
bool metrics_spec_ok(const char *spec, char *err, size_t errlen);

/* Bind and listen on spec. NULL with the reason in err. */
metrics_server *metrics_listen(const char *spec, char *err, size_t errlen);
/* Start serving (the thread). -1 with the reason in err. */
int metrics_start(metrics_server *m, char *err, size_t errlen);
/* Stop the thread, close the socket, free m. */
void metrics_stop(metrics_server *m);

/* ---- recording: any thread, lock-free ---- */

/* Seconds on a monotonic clock, for the hold measurement. */
double metrics_now(void);
/* One message's result; hold_s: how long the MTA waited at end of data
 * (< 0: not a held message, e.g. a skip at end of headers). */
void metrics_message(const scan_result *r, double hold_s);
/* One reload: ok or failed. */
void metrics_reload(bool ok);

/* ---- main thread (start-up, reload) ---- */

/* The runtime now published: model name, path, labels, device. */
void metrics_set_runtime(const runtime *rt);

#endif
