/*
 * producer — creates products over HTTP on an open-model schedule (libcurl multi, one thread).
 *
 * Request i is due at start + i / rate whatever happened to earlier ones; its latency is
 * measured from that scheduled time (as wrk2 does), so a stalled server cannot hide behind
 * a slower client. Each request leaves from the source address of client i % clients.
 * History records: invoke (t = scheduled time, plus the real send time), then exactly one of
 * ok (2xx), fail (4xx, or never sent: connect refused) or info (5xx, timeout: unknown outcome).
 */
#ifndef LOADGEN_PRODUCER_H
#define LOADGEN_PRODUCER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct lg_producer;

struct lg_producer_totals {
    uint64_t total, sent, ok, failed, unknown, inflight;
    int done;
};

/*
 * Starts sending at lg_clock_us() == start_us. acks is incremented per ok. req_prefix is
 * copied. Returns NULL with a message in err. cfg must outlive the result.
 */
struct lg_producer *lg_producer_start(const struct lg_config *cfg, const char *req_prefix,
                                      long long start_us, int fd, _Atomic uint64_t *acks, char *err,
                                      size_t errlen);
void lg_producer_totals(struct lg_producer *p, struct lg_producer_totals *out);
/* Stops scheduling new requests (those in flight still finish or time out). */
void lg_producer_cancel(struct lg_producer *p);
/* Joins the thread and frees. Accepts NULL. */
void lg_producer_free(struct lg_producer *p);

/* Number of requests a config sends. */
uint64_t lg_producer_planned(const struct lg_config *cfg);

#endif
