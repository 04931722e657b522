/*
 * bpub — the benchmark's publishers: threads POSTing events, each over its own keep-alive
 * HTTP connection (libcurl), the way app replicas call their relay.
 *
 * Every event carries "k" (its sequence number, from 0; publisher j of P sends the k with
 * k % P == j) and "ts" (CLOCK_MONOTONIC microseconds when it was sent; one clock for every
 * process on the machine), so a subscriber can measure publish-to-receive latency and check
 * it got each event once and in order.
 *
 * Two pacings: a fixed rate (open model: event k is due at start + k / rate; a late send
 * goes at once, it is not skipped), or saturated, where the next event goes as soon as
 * fewer than `window` deliveries are in flight (events sent x deliveries per event -
 * deliveries counted by the subscribers), so the server is always busy and nothing piles
 * up without bound.
 *
 * With channels, event k goes to channel bench-<k % channels>: in the body ("channel"),
 * or in the URL where it holds "{ch}" (Nchan's /pubch?ch={ch}).
 */
#ifndef RELAYLAB_BENCH_BPUB_H
#define RELAYLAB_BENCH_BPUB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define BPUB_MAX 16

enum bpub_body {
    BPUB_EMIT,  /* {"event":E,"payload":{..}} (the relay's POST /emit, the Socket.IO peer) */
    BPUB_FRAME, /* {"event":E,"data":{..}}: the frame itself (Nchan publishes bodies as is) */
};

struct bpub_config {
    const char *url;
    enum bpub_body body;
    const char *event;
    int publishers;     /* threads (1..BPUB_MAX) */
    int channels;       /* > 0: event k goes to channel bench-<k % channels>; 0 = broadcast */
    double rate;        /* events per second, all publishers together; 0 = saturated */
    double seconds;     /* how long to send */
    uint64_t window;    /* saturated: deliveries in flight at most */
    uint64_t per_event; /* deliveries one event makes (clients, or clients per channel) */
    _Atomic uint64_t *delivered; /* the subscribers' running count (saturated only) */
};

struct bpub {
    struct bpub_config cfg;
    pthread_t thread[BPUB_MAX];
    int nthreads;
    atomic_int running;
    _Atomic uint64_t sent, failed, late;
    uint64_t start_us;
    _Atomic uint64_t *per_channel; /* events sent to each channel (channels > 0) */
};

/* CLOCK_MONOTONIC in microseconds. */
uint64_t bpub_now_us(void);
/* Starts the publishing threads. Returns 0, or -1 with a message in err. */
int bpub_start(struct bpub *p, const struct bpub_config *c, char *err, size_t errlen);
/* 1 once every publisher has finished. */
int bpub_done(struct bpub *p);
/* Waits for the threads (they end after cfg.seconds). The counts stay readable. */
void bpub_join(struct bpub *p);
/* Frees what a joined publisher holds (per_channel). */
void bpub_cleanup(struct bpub *p);

#endif
