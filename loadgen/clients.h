/*
 * clients — the websocket side of a run: N clients spread over T threads, one
 * libwebsockets loop (a wsc_pool) per thread. Each client binds its source address,
 * reconnects with jittered exponential backoff, resumes with ?since=N&epoch=E, and writes
 * connect / connect_fail / hello / recovery / frame / disconnect records to the history.
 * Errors are counted, never fatal.
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

/*
 * Scans one server frame. Sets *event to the event name span, and fills whichever of
 * offset, epoch, req_id, pod it finds (in data for req_id and pod; top level or data for
 * offset and epoch), and *recovered (-1 when absent). Returns 0, or -1 when not a JSON object.
 * Exposed for tests.
 */
struct lg_frame_fields {
    const char *event, *epoch, *req_id, *pod;
    size_t event_len, epoch_len, req_id_len, pod_len;
    long long offset; /* -1 when absent */
    int recovered;    /* -1 absent, 0 false, 1 true */
};
int lg_scan_frame(const char *data, size_t len, struct lg_frame_fields *f);

#endif
