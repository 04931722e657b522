/*
 * hub — the websocket broadcast hub (libwebsockets), shared by the relay and by fakeapp's
 * embedded mode.
 *
 * Clients connect to one of the accepted paths; every published event is encoded once into
 * a frame, appended to a bounded history, and the same bytes are written to each client.
 * A client is a cursor into that history, not a queue of copies: memory per client is
 * constant, and a client that falls more than queue_limit events behind on live traffic is
 * closed with HUB_CLOSE_SLOW. A client that connects with ?since=N&epoch=E is replayed what
 * it missed, or told with a _recovery frame that it cannot be.
 *
 * Threads: hub_run() runs the lws loop on the calling thread; hub_publish(), hub_stop() and
 * hub_stats() may be called from any thread.
 */
#ifndef RELAYLAB_HUB_H
#define RELAYLAB_HUB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "history.h"
#include "metrics.h"

/* Close codes sent to clients (documented in docs/protocol.md). */
#define HUB_CLOSE_GOING_AWAY 1001 /* server shutting down */
#define HUB_CLOSE_UNSUPPORTED 1003 /* binary frame received */
#define HUB_CLOSE_TOO_BIG 1009    /* client message over max_message */
#define HUB_CLOSE_RESYNC 1012     /* follower relay resynced its history: reconnect with since */
#define HUB_CLOSE_FULL 1013       /* max_clients reached: try again later */
#define HUB_CLOSE_SLOW 4008       /* client fell queue_limit events behind */

struct hub;

/* A file the hub serves over plain HTTP on its port (GET, with ETag and 304), such as the
 * socket.io client at /socket.io/socket.io.js, as the Socket.IO server serves it. */
struct hub_file {
    const char *path; /* exact request path */
    const char *body;
    size_t len;
    const char *content_type;
    const char *etag;          /* quoted, e.g. "\"4.8.1\""; NULL = none */
    const char *cache_control; /* NULL = none */
};

struct hub_config {
    const char *bind;        /* address to listen on; NULL or "" = all */
    int port;                /* 0 = pick a free port (see hub_port) */
    const char *const *paths;/* NULL-terminated accepted paths ("/" matches "/" only); NULL = defaults */
    size_t history;          /* events kept for replay (>= 1) */
    int max_clients;
    int queue_limit;         /* live events a client may lag before it is closed */
    int ping_interval_s;     /* websocket ping after this much idle time; 0 = never */
    size_t max_message;      /* largest message accepted from a client */
    const char *epoch;       /* NULL = random */
    long drain_ms;           /* on stop: time allowed to flush queued events before closing */
    long replica_timeout_ms; /* an in-sync replica that stops acknowledging this long is dropped */
    struct metrics *metrics; /* optional: the hub registers its metrics here */
    const struct hub_file *files; /* optional files served over HTTP (borrowed; outlive the hub) */
    size_t nfiles;
    const char *name;        /* for logs, e.g. "relay" */
};

/* Fills c with the defaults (port 8080, history 10000, queue_limit 1000, ...). */
void hub_config_defaults(struct hub_config *c);

/* Creates the hub and starts listening. Returns NULL with a message in err. */
struct hub *hub_new(const struct hub_config *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Frees a hub that is not running. Accepts NULL. */
void hub_free(struct hub *h);

/* The port actually listened on. */
int hub_port(const struct hub *h);
/* Copies the current epoch (it changes on failover) into buf; returns buf. */
const char *hub_epoch(struct hub *h, char buf[ENVELOPE_EPOCH_BUF]);

/*
 * Runs the event loop until the hub has stopped and drained. When stop_flag is not NULL it
 * is polled (every 50 ms at most); once it becomes non-zero the hub stops as by hub_stop().
 * Returns 0 on a clean stop, -1 when the loop failed.
 */
int hub_run(struct hub *h, volatile sig_atomic_t *stop_flag);

/* Stops accepting, flushes queued events (up to drain_ms), closes clients with 1001. */
void hub_stop(struct hub *h);

/*
 * Publishes one event to every client. data_json must be one valid JSON value (copied as is).
 * id (NULL or "" for none) travels with the event to replica relays, for their idempotency.
 * Returns the event's offset (>= 1), or 0 when out of memory or stopping. Clients receive it
 * once it is committed: at once without replicas, else when every in-sync replica has it.
 */
uint64_t hub_publish(struct hub *h, const char *event, const char *data_json, size_t data_len,
                     const char *id);

/* Waits until offset is committed. Returns 1 when it is, 0 when timeout_ms passed first. */
int hub_wait_commit(struct hub *h, uint64_t offset, long timeout_ms);

/*
 * Follower relays (see relay/cluster.c). hub_mirror() appends a frame exactly as the leader
 * sent it (offsets and epoch kept); the id it carried is copied to id_out ("" when none).
 * Returns the offset, or 0 with a message in err when the frame is malformed or leaves a gap
 * (the caller resynchronises). A frame already held is accepted again and ignored.
 */
uint64_t hub_mirror(struct hub *h, const char *frame, size_t len, char *id_out, size_t idlen,
                    char *err, size_t errlen);
/* Drops the history and adopts the leader's lineage; clients are closed with 1012. */
void hub_adopt(struct hub *h, const struct history_epoch_span *lineage, size_t n, uint64_t next);
/* Continues the offsets under a new random epoch (this relay took over sequencing). */
void hub_begin_epoch(struct hub *h);
/* Refuses (0) or accepts (1) new client upgrades; replica upgrades are always accepted. */
void hub_set_accepting(struct hub *h, int on);
size_t hub_lineage(struct hub *h, struct history_epoch_span *out, size_t max);

struct hub_stats {
    uint64_t clients;        /* currently connected */
    uint64_t connections;    /* accepted since start */
    uint64_t events;         /* published */
    uint64_t frames_out;     /* frames written to clients */
    uint64_t slow_closes;
    uint64_t rejected;       /* refused: bad path, full, stopping */
    uint64_t replays_ok, replays_failed;
    uint64_t last_offset;
    uint64_t committed; /* newest offset delivered to clients */
    uint64_t replicas;  /* replica relays connected (in sync or catching up) */
};
void hub_stats(struct hub *h, struct hub_stats *out);

#endif
