/*
 * emitter — relay mode: sends new_product events to the relay's POST /emit from one
 * background thread, so a request never waits for the relay.
 *
 * emitter_push() copies the event into a bounded queue and returns at once; when the queue
 * is full the event is dropped and counted. The thread keeps one libcurl handle (HTTP
 * keep-alive), sends {"event":"new_product","payload":DOC,"id":ID[,"channel":C]} with the
 * bearer token,
 * and retries transport errors, 429 and 5xx with jittered exponential backoff; the relay
 * deduplicates by id, so a retry never shows twice. Every outcome is a counter:
 * fakeapp_emits_total{result="ok|retried|failed|dropped"}.
 */
#ifndef FAKEAPP_EMITTER_H
#define FAKEAPP_EMITTER_H

#include <stddef.h>

#include "metrics.h"

struct emitter;

struct emitter_config {
    const char *url;         /* e.g. http://127.0.0.1:8081/emit (copied) */
    const char *token;       /* bearer token or NULL (copied) */
    size_t queue_max;        /* events waiting; 0 = 10000 */
    int retries;             /* attempts after the first */
    long timeout_ms;         /* one attempt; 0 = 2000 */
    long backoff_ms;         /* first backoff; doubles, capped at 2 s; 0 = 50 */
    struct metrics *metrics; /* optional */
};

/* Starts the thread. Returns NULL with a message in err. */
struct emitter *emitter_new(const struct emitter_config *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Queues one event; event and id must be valid for the relay, payload one JSON value.
 * The strings are copied. Returns 0, or -1 when the event was dropped (queue full, stopping).
 * Never blocks on the network. Thread-safe.
 */
int emitter_push(struct emitter *e, const char *event, const char *channel, const char *id,
                 const char *payload, size_t payload_len);

/*
 * Stops taking events, sends what is queued for at most flush_ms, drops (and counts) the
 * rest, joins the thread and frees. Accepts NULL.
 */
void emitter_free(struct emitter *e, long flush_ms);

struct emitter_stats {
    unsigned long long ok, retried, failed, dropped, queued;
};
void emitter_stats(struct emitter *e, struct emitter_stats *out);

#endif
