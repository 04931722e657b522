/*
 * bsub — the benchmark's subscribers: N websocket clients on one bws pool. Connects them
 * (in paced batches, or all at once for the connect storm), speaks just enough Socket.IO
 * to join "/" and answer pings, and for every event (a text message carrying "k" and
 * "ts", see bpub.h) counts it per subscriber, checks that k only grows (no duplicate, no
 * reordering) and records now - ts into a latency histogram.
 */
#ifndef RELAYLAB_BENCH_BSUB_H
#define RELAYLAB_BENCH_BSUB_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"

enum bsub_proto {
    BSUB_PLAIN, /* upgraded = 101 received */
    BSUB_SIO,   /* Engine.IO v4 over websocket; upgraded = the namespace CONNECT answered */
};

struct bsub_config {
    const char *ip;
    int port;
    const char *path; /* request path, may already hold a query */
    enum bsub_proto proto;
    int channels;            /* > 0: subscriber i joins channel bench-<i % channels> */
    const char *channel_arg; /* query argument naming it (plain), e.g. "channels" or "ch" */
    int latency_every;       /* record the latency of events whose k is a multiple (0 = 1) */
    int publishers;          /* publisher j sends k = j mod publishers: order is per publisher */
    int polling;             /* BSUB_SIO over Engine.IO long-polling instead of websocket */
};

struct bsub_totals {
    uint64_t frames;       /* events received, all subscribers */
    uint64_t expected;     /* events owed, all subscribers */
    uint64_t lost;         /* owed and not received */
    uint64_t extra;        /* received beyond what was owed (duplicates) */
    uint64_t out_of_order; /* an event whose k was not above the previous one's */
    int upgraded, closed, failed;
};

struct bsub;

/* Room for max subscribers. Returns NULL with a message in err. Caller frees. */
struct bsub *bsub_new(const struct bsub_config *c, int max, char *err, size_t errlen);
void bsub_free(struct bsub *s); /* accepts NULL */

/*
 * Connects subscribers until `to` were started: `batch` connects at a time, servicing the
 * sockets between batches; with paced set, each batch must be upgraded before the next
 * starts. Returns when all `to` are upgraded or failed, or after timeout_s. Returns the
 * number upgraded, or -1 with a message in err when a socket cannot even be created.
 */
int bsub_connect(struct bsub *s, int to, int batch, int paced, double timeout_s, char *err,
                 size_t errlen);
/* Handles socket events for up to timeout_ms. */
int bsub_service(struct bsub *s, int timeout_ms);

int bsub_upgraded(const struct bsub *s);
uint64_t bsub_frames(const struct bsub *s);
uint64_t bsub_last_frame_us(const struct bsub *s);
struct hist *bsub_latency(struct bsub *s);
/* The upgrade time of subscriber number i in upgrade order (0-based), relative to the first
 * connect; 0 when fewer were upgraded. */
uint64_t bsub_upgrade_us(const struct bsub *s, int nth);
/* Zeroes the event counts and the histogram before a new phase. */
void bsub_reset(struct bsub *s);
/*
 * Totals of a phase. owed[c] is the number of events sent to channel c (or owed[0] when
 * broadcast); each subscriber is owed those of its channel.
 */
void bsub_totals(const struct bsub *s, const uint64_t *owed, struct bsub_totals *out);
/* The first close or failure seen ("" when none), for the report. */
const char *bsub_first_error(const struct bsub *s);

#endif
