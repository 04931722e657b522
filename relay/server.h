/*
 * relay server — wires the hub (websocket clients), the intake (HTTP) and the idempotency
 * table together. main() creates it, runs it until SIGTERM, and frees it.
 */
#ifndef RELAY_SERVER_H
#define RELAY_SERVER_H

#include <signal.h>
#include <stddef.h>

#include "config.h"

struct relay;

/* Starts listening on both ports. Returns NULL with a message in err. */
struct relay *relay_new(const struct relay_config *c, volatile sig_atomic_t *stop_flag, char *err,
                        size_t errlen) __attribute__((warn_unused_result));
/* Serves until *stop_flag is set, then drains. Returns 0 on a clean stop, -1 on failure. */
int relay_run(struct relay *r);
/* Frees r (accepts NULL). Returns 1 when a MongoDB store thread was still stuck in the driver
 * and was left running (what it holds stays allocated): the caller should then leave with
 * _exit(), not exit(), so no exit handler runs under that thread. 0 otherwise. */
int relay_free(struct relay *r);
int relay_ws_port(const struct relay *r);
int relay_http_port(const struct relay *r);

#endif
