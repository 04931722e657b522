/*
 * hub — the websocket broadcast hub (libwebsockets), shared by the relay and by fakeapp's
 * embedded mode.
 *
 * Clients connect to one of the accepted paths; every event is encoded once per framing
 * (plain JSON, Socket.IO), kept in a bounded history, and the same bytes are written to each
 * client that should get it: every client hears the broadcast channel, and the events of
 * the channels it joined. A client is a cursor into that history, not a queue of copies:
 * memory per client is constant, and a client that falls more than queue_limit events behind
 * on live traffic is closed with HUB_CLOSE_SLOW. A client that connects with
 * ?since=N&epoch=E is replayed what it missed, or told with a _recovery frame that it cannot be.
 *
 * Events are either sequenced by the hub (hub_publish: an in-memory relay, fakeapp) or
 * sequenced elsewhere and appended in order (hub_append: relays over MongoDB, where a
 * fetcher can also replay what the ring no longer holds).
 *
 * Threads: hub_run() runs the lws loop on the calling thread; hub_publish(), hub_append(),
 * hub_fetch_done(), hub_stop() and hub_stats() may be called from any thread.
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
#define HUB_CLOSE_GOING_AWAY 1001   /* server shutting down */
#define HUB_CLOSE_UNSUPPORTED 1003  /* binary frame received */
#define HUB_CLOSE_POLICY 1008       /* malformed message (e.g. not a Socket.IO packet) */
#define HUB_CLOSE_TOO_BIG 1009      /* client message over max_message */
#define HUB_CLOSE_FULL 1013         /* max_clients reached: try again later */
#define HUB_CLOSE_UNAUTHORIZED 4401 /* client authentication required or token refused */
#define HUB_CLOSE_SLOW 4008         /* client fell queue_limit events behind */

#define HUB_CHANNELS_MAX 256 /* hard ceiling of hub_config.max_channels */

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

/*
 * What an authenticated client may join: the channels of its token. any = 1 allows every
 * channel; else only names[0..n). An unauthenticated hub lets clients join any channel.
 */
struct hub_grant {
    long long exp; /* when the token expires (seconds since the epoch); 0 = never */
    int any;
    size_t n;
    char names[HUB_CHANNELS_MAX][ENVELOPE_CHANNEL_MAX + 1];
};

/*
 * Client authentication (optional): called on the lws thread with the token a client
 * presented (?token=, an Authorization: Bearer header, or the Socket.IO auth "token"; NULL
 * when none). Returns 0 and fills *grant, or -1 with "code: sentence" in err (e.g.
 * "expired: token expired 75 s ago"): the client is refused with HUB_CLOSE_UNAUTHORIZED, or
 * a Socket.IO connect error {"message":sentence,"data":{"code":code}}. A client whose
 * token expires while connected is closed with HUB_CLOSE_UNAUTHORIZED. Must not block.
 */
typedef int (*hub_auth_fn)(void *ud, const char *token, struct hub_grant *grant, char *err,
                           size_t errlen);

struct hub_config {
    const char *bind; /* address to listen on; NULL or "" = all */
    int port;         /* 0 = pick a free port (see hub_port) */
    const char *const
        *paths;     /* NULL-terminated accepted paths ("/" matches "/" only); NULL = defaults */
    size_t history; /* events kept for replay (>= 1) */
    int max_clients;
    int queue_limit;       /* live events a client may lag before it is closed */
    long ping_interval_ms; /* websocket ping after this much idle time; 0 = never */
    size_t max_message;    /* largest message accepted from a client */
    const char *epoch;     /* NULL = random */
    uint64_t first_offset; /* offset of the first event (0 or 1 = 1) */
    int max_channels;      /* channels one client may join (default 32) */
    long drain_ms;         /* on stop: time allowed to flush queued events before closing */
    hub_auth_fn auth;      /* NULL = clients need no token */
    void *auth_ud;
    struct metrics *metrics;      /* optional: the hub registers its metrics here */
    const struct hub_file *files; /* optional files served over HTTP (borrowed; outlive the hub) */
    /* Origins (comma-separated, exact, e.g. "https://shop.example") a browser may connect
     * from: websocket upgrades and polling requests with another Origin header are refused
     * (403), and only these get CORS headers. NULL or "" = any (the Origin is echoed).
     * Requests without an Origin (non-browser clients) are never refused for it. */
    const char *cors_origins;
    size_t nfiles;
    const char *name; /* for logs, e.g. "relay" */
    /* Threads that help the event loop send one event to many clients (hub_fanout.h);
     * 0 = the loop sends alone. */
    int send_threads;
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
/* Copies the current epoch into buf; returns buf. */
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
 * Encodes one event in every framing the hub writes (plain JSON, with the Socket.IO form
 * attached as f->alt). data_json must be one valid JSON value (copied as is); channel NULL
 * or "" for broadcast. Returns a new frame (caller unrefs) or NULL when out of memory.
 */
struct frame *hub_encode(const char *event, const char *channel, const char *data_json,
                         size_t data_len, uint64_t offset, const char *epoch);

/*
 * Sequences one event: gives it the next offset and sends it to every client that should
 * get it. Returns the offset (>= 1), or 0 when out of memory or stopping.
 */
uint64_t hub_publish(struct hub *h, const char *event, const char *channel, const char *data_json,
                     size_t data_len);

/*
 * Appends an event sequenced elsewhere: f from hub_encode with its offset, encoded under
 * `epoch`; takes ownership. Offsets must grow: returns 0, 1 when the offset is not after
 * the newest one (a repeat, dropped), -1 when epoch is not the hub's or the hub is stopping
 * (dropped).
 */
int hub_append(struct hub *h, const char *epoch, struct frame *f);

/* Newest offset held (0 when none yet). */
uint64_t hub_last_offset(struct hub *h);

/*
 * Replay beyond the ring. A hub with a fetcher asks it for what a resuming client needs and
 * the ring does not hold: since+1 .. to, of the broadcast channel and the given channels
 * (to == since: nothing to send, only check that `since` exists in the stream). The fetcher
 * runs on the lws thread and must not block: it copies the request and answers later, from
 * any thread, with hub_fetch_done().
 */
struct hub_fetch {
    uint64_t ticket;
    uint64_t since, to;
    const char *const *channels; /* valid during the call only */
    size_t nchannels;
};
typedef void (*hub_fetch_fn)(void *ud, const struct hub_fetch *req);
void hub_set_fetcher(struct hub *h, hub_fetch_fn fn, void *ud);

enum hub_fetch_status {
    HUB_FETCH_OK = 0,    /* frames are everything up to `to` */
    HUB_FETCH_MORE,      /* frames are a prefix: the hub asks again after the last one */
    HUB_FETCH_TRUNCATED, /* since+1 is older than what the stream retains */
    HUB_FETCH_AHEAD,     /* since is beyond the newest event of the stream */
    HUB_FETCH_FAILED,    /* the store could not answer */
};
/* Answers a fetch: takes ownership of frames[0..n) (from hub_encode, in offset order) and of
 * the array (malloc'd, may be NULL when n == 0). */
void hub_fetch_done(struct hub *h, uint64_t ticket, enum hub_fetch_status st, struct frame **frames,
                    size_t n);

struct hub_stats {
    uint64_t clients;     /* currently connected */
    uint64_t connections; /* accepted since start */
    uint64_t events;      /* appended to the history */
    uint64_t frames_out;  /* frames written to clients */
    uint64_t slow_closes;
    uint64_t rejected; /* refused: bad path, full, stopping, unauthorized */
    uint64_t replays_ok, replays_failed;
    uint64_t last_offset;
};
void hub_stats(struct hub *h, struct hub_stats *out);

#endif
