/*
 * app — fakeapp's lifecycle: builds the store, the HTTP API, the embedded hub or the relay
 * emitter from a config, runs until the stop flag is set, then shuts down in order: stop
 * accepting, finish requests in flight, flush queued events, close websocket clients.
 */
#ifndef FAKEAPP_APP_H
#define FAKEAPP_APP_H

#include <signal.h>
#include <stddef.h>

#include "config.h"

struct app;

/*
 * Starts everything (listening sockets included; MongoDB is connected in the background, so
 * /healthz answers at once and /readyz once the database is usable). stop_flag is polled.
 * Returns NULL with a message in err.
 */
struct app *app_new(const struct fakeapp_config *c, volatile sig_atomic_t *stop_flag, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

/* Runs until *stop_flag, then shuts down gracefully. Returns 0, or -1 when a loop failed. */
int app_run(struct app *a);

/* Frees an app after app_run (or one never run). Accepts NULL. */
void app_free(struct app *a);

#endif
