/*
 * mstore — the relay's stream over a MongoDB replica set (docs/relay-ha.md).
 *
 * Any number of relays started with the same URI serve one stream. An emit is stored in
 * <db>.events with _id = its offset (dense, +1 per event), written with write concern
 * majority; every relay tails the collection's change stream (majority-committed changes
 * only) and appends what it reads to its hub, so an event has the same offset and epoch on
 * every relay. Ordering, durability and failover are MongoDB's: the relay adds no consensus
 * of its own. The emit's id is a unique key, so a retry on any relay is acknowledged with the
 * original offset and never broadcast twice. A client's replay reaches back as far as the
 * collection does (--retention), through the hub's fetcher.
 *
 * Threads: the sequencer (batches emits into ordered inserts), the tail (change stream and
 * catch-up), the fetcher (replays beyond the hub's ring), one per --watch collection, and the
 * trimmer. mstore_emit() is called from the intake's threads.
 */
#ifndef RELAY_MSTORE_H
#define RELAY_MSTORE_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "envelope.h"
#include "hub.h"
#include "intake.h"
#include "metrics.h"

struct mstore;

/*
 * Connects, makes sure the collections and indexes exist, and reads the stream's epoch
 * (creating it when the stream is new) and its newest offset. Blocks up to the emit timeout
 * per attempt while MongoDB is unreachable, retrying until *stop is set. Returns NULL with
 * a message in err.
 */
struct mstore *mstore_open(const struct relay_config *cfg, struct metrics *m,
                           volatile sig_atomic_t *stop, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The stream's epoch and the offset its next event will get, as read by mstore_open. */
const char *mstore_epoch(const struct mstore *s);
uint64_t mstore_head(const struct mstore *s);

/* Starts the threads that feed hub (which must outlive mstore_close). Returns 0 or -1. */
int mstore_start(struct mstore *s, struct hub *hub, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Stops the threads and frees, within about a second and a half: a thread still waiting in
 * the driver on an unreachable MongoDB (and the driver's own end-of-sessions call) is left
 * to the process exit. Returns 1 in that case: the hub the store feeds must then not be
 * freed either. Accepts NULL.
 */
int mstore_close(struct mstore *s);

/* Shutdown's first step (any thread): emits still waiting for MongoDB return
 * MSTORE_STOPPING now, and no new emit is taken. The threads stop in mstore_close. Accepts
 * NULL. */
void mstore_interrupt(struct mstore *s);

enum mstore_result {
    MSTORE_OK = 0,      /* stored and majority-committed: *offset */
    MSTORE_DUPLICATE,   /* the id was stored before: *offset is the original */
    MSTORE_UNCONFIRMED, /* not confirmed within the emit timeout (may still be committed) */
    MSTORE_UNAVAILABLE, /* MongoDB could not be reached or refused the write */
    MSTORE_STOPPING,
};

/*
 * Stores one emit and waits until a majority has it, at most the emit timeout. Thread-safe;
 * blocks the caller. Emits without an id get an internal one, so the relay's own retries
 * never store an event twice.
 */
enum mstore_result mstore_emit(struct mstore *s, const struct emit_req *r, uint64_t *offset);

/* Ready to deliver: the change stream is open, caught up and not behind. Else 0 and why. */
int mstore_ready(struct mstore *s, char *why, size_t whylen);

/* {"epoch","head","tail","stream":"up|down","lag_ms",...} for GET /cluster. */
json_t *mstore_status(struct mstore *s);

/* Brings the gauges computed from the time (relay_stream_silent_ms) up to date, before
 * /metrics renders them. Accepts NULL. */
void mstore_refresh_metrics(struct mstore *s);

#endif
