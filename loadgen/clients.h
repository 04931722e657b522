/*
 * clients — the client side of a run: N clients spread over T threads, one libwebsockets
 * loop (a wsc_pool) per thread, speaking plain websocket frames or Socket.IO (long-polling,
 * websocket, or the upgrade from one to the other; client_sio.c). Each client binds its
 * source address, joins its channel, keeps its cookies (Socket.IO), reconnects with jittered
 * exponential backoff, resumes (?since=N&epoch=E, or Socket.IO's pid/offset), and writes
 * connect / connect_fail / hello / recovery / frame / other / disconnect records (and the
 * Socket.IO transport records) to the history. Errors are counted, never fatal.
 */
#ifndef LOADGEN_CLIENTS_H
#define LOADGEN_CLIENTS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct lg_clients;

struct lg_clients_totals {
    uint64_t connected, opened, failed, dropped, frames;
    uint64_t expected_approx; /* acks seen while connected: a live estimate, not the checker */
};

/*
 * Starts the threads; clients connect at cfg->connect_rate. acks is the producer's count of
 * acknowledged requests (read for the live estimate). fd is the history (O_APPEND).
 * Returns NULL with a message in err. cfg must outlive the result.
 */
struct lg_clients *lg_clients_start(const struct lg_config *cfg, int threads, int fd,
                                    _Atomic uint64_t *acks, char *err, size_t errlen);
void lg_clients_totals(struct lg_clients *cs, struct lg_clients_totals *out);
/* Closes every client (disconnect records say final:true), joins the threads, frees. NULL ok. */
void lg_clients_stop(struct lg_clients *cs);

#endif
