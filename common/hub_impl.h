/*
 * hub internals shared by hub.c (context, lifecycle, publish) and hub_session.c (one
 * client: join and replay, writes, reads, the sweep). Not part of the public API.
 */
#ifndef RELAYLAB_HUB_IMPL_H
#define RELAYLAB_HUB_IMPL_H

#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "envelope.h"
#include "history.h"
#include "hub.h"
#include "hub_fanout.h"

#define HUB_TICK_MS 50
#define HUB_TIMERS_MAX_MS 1000 /* timers (pings, expiries) are swept at least this often */
#define HUB_BATCH 64           /* frames written per writeable callback at most */
#define HUB_BATCH_BYTES 65536  /* and bytes: a client's backlog goes out in one send() */
#define HUB_SCAN_MAX 4096      /* other channels' frames skipped per pass at most */
#define HUB_CTRL_MAX 6
#define HUB_KILL_GRACE_S 3          /* a killed client's close frame must go out within this */
#define HUB_NOT_JOINED UINT64_MAX   /* cursor before the client joins (Socket.IO: "/") */
#define HUB_PARKED (UINT64_MAX - 1) /* cursor while a fetch for the client is under way */

/* A set of channel names (hub_chan.c). */
struct hub_chanset {
    uint32_t n, cap;
    struct hub_chan {
        uint64_t hash;
        char *name;
    } v[];
};

/*
 * Why a client's connection ended, for ws_client_closes_total{reason} (counted when it leaves
 * the client list, hub_client_unlink): every close the relay decides, and the two the client
 * does. Set where the close is decided; DROPPED, the zero, is what is left.
 */
enum hub_end {
    HUB_END_DROPPED,      /* gone without a close frame: reset, lws's own I/O error, a dead poll */
    HUB_END_CLIENT,       /* the client closed (a close frame, a Socket.IO polling close) */
    HUB_END_SLOW,         /* fell --queue-limit events behind (4008) */
    HUB_END_PING_TIMEOUT, /* no pong, no Socket.IO heartbeat answer, no poll in time */
    HUB_END_WRITE_FAILED, /* a send to it failed (peer reset while the relay wrote) */
    HUB_END_UNAUTHORIZED, /* token refused or expired (4401) */
    HUB_END_FULL,         /* --max-clients reached (1013) */
    HUB_END_STOPPING,     /* the relay is stopping (1001) */
    HUB_END_PROTOCOL,     /* bad input: binary, too big, not Socket.IO, no namespace joined */
    HUB_END_N
};

struct hub_client {
    struct lws *wsi;
    struct hub_client *prev, *next;   /* list of established clients */
    uint64_t cursor;                  /* offset of the next event to send */
    uint64_t live_from;               /* events before this are replay and do not count as lag */
    struct frame *ctrl[HUB_CTRL_MAX]; /* control frames to send before events */
    int nctrl;
    int established;
    int want_write; /* a writeable callback is already requested */
    int close_code; /* non-zero: close with this code once control frames are out;
                     * -1: being killed (hub_client_kill), with kill_code at once */
    const char *close_reason;
    int kill_code;
    const char *kill_reason;
    enum hub_end end;  /* why it ended, once decided */
    size_t rx_bytes;   /* bytes of the message being received */
    char *rx_buf;      /* its pieces so far, when lws hands it over in several (owned) */
    int sio;           /* speaks Socket.IO v4 (Engine.IO v4) framing */
    int64_t rx_at_us;  /* last message or pong from the client (keepalive, hub_ping.c) */
    int pinged;        /* a websocket PING went out since then */
    int awaiting_pong; /* Socket.IO heartbeat sent, "3" not yet received */
    int64_t ping_at_us;
    char sid[24];
    int has_since;
    int refused;        /* authentication failed: close with close_code after the handshake */
    int authed;         /* presented a token the auth callback accepted */
    long long auth_exp; /* its token's expiry (seconds since the epoch), 0 = none */
    uint64_t since;
    char epoch[ENVELOPE_EPOCH_MAX + 1];
    char peer[48];
    struct hub_chanset *chans;   /* channels joined; NULL = broadcast only */
    struct hub_chanset *allowed; /* with authentication: what the token allows; NULL = any */
    char *want_chans;            /* ?channels= of the upgrade, joined at join time */
    /* Replay from the fetcher (MongoDB): frames to send before the ring, owned. */
    uint64_t fetch_ticket; /* non-zero while a fetch is under way */
    int fetch_first;       /* the pending fetch decides the _recovery answer */
    uint64_t fetch_since, fetch_to;
    struct frame **pend;
    uint32_t npend, ipend;
    /* Socket.IO transports (hub_sio.c, hub_poll*.c). A client that upgrades from polling to
     * websocket moves: its state (all of the above) is copied into the websocket's
     * per-session data and the client list is relinked (hub_poll_probe.c take_over), so
     * nothing may keep a hub_client pointer across callbacks except the client list. */
    struct hub_poll *poll;      /* long-polling session this client is (NULL: a websocket) */
    struct hub_poll *upgrading; /* probe: the polling session this websocket may take over */
    int probe;                  /* a websocket opened with ?sid= to upgrade a polling session */
    int64_t sio_open_us;        /* when the Engine.IO session opened (Socket.IO connect timeout) */
    char *sio_pid;              /* pid the client asked to recover, until the answer (owned) */
    /* The rooms the client's offsets record ("a,b", "" for none; owned): set once it left
     * the rooms of its auth payload (subscribe/unsubscribe) or recovered with recorded
     * ones. NULL: its offsets carry none, and a recovery joins the auth payload's rooms. */
    char *sio_rooms;
    int sio_attach; /* binary attachments the client announced (45/46) and has yet to send */
    /* A Socket.IO websocket session in the hub's sid index (hub_poll.c), so that a second
     * websocket with its sid is accepted and closed, and a poll with it refused, as the
     * reference server does. */
    int sid_indexed;
    struct hub_client *sid_next;
};

/* A fetch answer waiting for the lws thread. */
struct hub_fetch_result {
    struct hub_fetch_result *next;
    uint64_t ticket;
    enum hub_fetch_status st;
    struct frame **frames;
    size_t n;
};

struct hub {
    struct hub_config cfg;
    const char *const *paths;
    struct lws_context *ctx;
    struct ev_loop *loop;        /* epoll via libev (lws's evlib plugin); NULL: lws's poll() loop */
    struct hub_accept *acceptor; /* with loop: the hub's own listener (hub_accept.c) */
    struct lws_vhost *vhost;     /* where accepted connections are adopted */
    struct lws_protocols protocols[2];
    lws_retry_bo_t retry;
    lws_sorted_usec_list_t tick;
    int port;

    pthread_mutex_t lock; /* guards hist and results */
    struct history *hist;
    struct hub_fetch_result *results; /* fetch answers, newest first */
    hub_fetch_fn fetch;
    void *fetch_ud;
    uint64_t next_ticket; /* lws thread */

    /* lws thread only */
    struct hub_client *clients;
    uint64_t nclients;
    volatile sig_atomic_t *stop_flag;
    _Atomic int64_t stop_deadline_us; /* set (by any thread) before `stopping` */

    atomic_int stopping;
    atomic_int wake;       /* a sweep was asked for (hub_wake) and has not run yet */
    int64_t timers_due_us; /* the tick sweeps for timers alone from then (lws thread) */
    unsigned char *batch;  /* LWS_PRE + HUB_BATCH_BYTES scratch for coalesced sends (lws thread) */
    struct frame *ping;    /* the websocket PING frame, pre-framed (hub_ping.c) */
    struct frame *connected; /* the last plain _connected frame built, shared (hub_session.c) */
    uint64_t connected_last; /* ... for this offset */
    char connected_epoch[ENVELOPE_EPOCH_BUF]; /* ... and this epoch */
    struct metrics *own_metrics;
    struct hub_polls *polls; /* Socket.IO long-polling sessions (hub_poll.c; lws thread) */
    struct metric *m_clients, *m_conns, *m_events, *m_frames, *m_slow, *m_rejected, *m_replay_ok,
        *m_replay_fail, *m_unauth, *m_chan_refused, *m_fetches, *m_origin_refused;
    struct metric *m_lag_max, *m_lag_sum, *m_queued; /* queue depths, set by each sweep */
    struct metric *m_sweeps, *m_helped;
    struct metric *m_closes[HUB_END_N]; /* ws_client_closes_total{reason} */
    /* Fan-out over sender threads (hub_fanout.c; NULL: the lws thread sends alone). The
     * sweep gathers one send per client here, then sends them all (lws thread). */
    struct hub_fanout *fanout;
    struct hub_push {
        struct hub_client *c;
        struct frame *f; /* the newest event, the only one due to c */
    } * push;
    struct hub_send_job *jobs;
    size_t npush, push_cap;
    uint64_t sweep_lag_sum, sweep_lag_max; /* accumulated during a sweep (lock held) */
};

int64_t hub_now_us(void);
/* 1 when the request's Origin may connect (absent, or listed in cors_origins, or no list),
 * 0 when it is refused (counted in ws_origin_refused_total and logged). */
int hub_origin_allowed(struct hub *h, struct lws *wsi);

/* Upgrade filter: checks the path, reads since/epoch/EIO/channels/token from the query. 0 = accept.
 */
int hub_client_filter(struct hub *h, struct lws *wsi, struct hub_client *c);
/* The upgrade is done: links the client, queues its first frames and writes them at once.
 * Returns -1 when the connection should close (a failed write). */
int hub_client_established(struct hub *h, struct lws *wsi, struct hub_client *c);
int hub_client_writeable(struct hub *h, struct hub_client *c);
int hub_client_receive(struct hub *h, struct lws *wsi, struct hub_client *c, const char *in,
                       size_t len);
void hub_client_unlink(struct hub *h, struct hub_client *c);
/* Looks at every client: slow ones closed, heartbeats, writes requested where frames wait. */
void hub_sweep(struct hub *h);
/*
 * Runs the hub's auth callback for token (NULL = none); sets c->allowed and c->auth_exp.
 * 0 = accepted; else -1 with the refusal's code ("expired", ...) in code and its sentence
 * in msg (either may be NULL).
 */
int hub_client_authenticate(struct hub *h, struct hub_client *c, const char *token, char *code,
                            size_t codelen, char *msg, size_t msglen);
/* Asks the fetcher for since+1 .. to; the client is parked until the answer. first = 1 when
 * the answer decides the client's _recovery frame. */
void hub_client_fetch(struct hub *h, struct hub_client *c, uint64_t since, uint64_t to, int first);
/* Hands fetch answers to their clients (lws thread). */
void hub_take_fetches(struct hub *h);
/* Frees a client's per-connection allocations (channels, pending replay). */
void hub_client_release(struct hub_client *c);

/* Channels (hub_chan.c). */
/* 1 when the client should get frame f: broadcast, or a channel it joined. */
static inline int hub_client_wants(const struct hub_client *c, const struct frame *f)
{
    if (f->channel == NULL)
        return 1;
    if (c->chans == NULL)
        return 0;
    for (uint32_t i = 0; i < c->chans->n; i++)
        if (c->chans->v[i].hash == f->chash && strcmp(c->chans->v[i].name, f->channel) == 0)
            return 1;
    return 0;
}
int hub_chanset_has(const struct hub_chanset *s, const char *name);
/* Adds name (copied). Returns 0, 1 when already there, -1 when out of memory. */
int hub_chanset_add(struct hub_chanset **s, const char *name);
/* Removes name. Returns 1 when it was there. */
int hub_chanset_remove(struct hub_chanset *s, const char *name);
size_t hub_chanset_count(const struct hub_chanset *s);
void hub_chanset_free(struct hub_chanset *s); /* accepts NULL */
/* Fills a grant's channels into a set (NULL when it allows any). */
struct hub_chanset *hub_chanset_from_grant(const struct hub_grant *g);
/*
 * Joins (join = 1) or leaves each channel of names[0..n) for client c, within the hub's
 * per-client limit and the client's grant. Appends to `refused` an object
 * {"channel","reason"} per name refused (reason: invalid, forbidden, limit). Returns the
 * number joined or left.
 */
int hub_client_channels(struct hub *h, struct hub_client *c, const char *const *names, size_t n,
                        int join, json_t *refused);
/* The client's channels as a JSON array of strings (new reference). */
json_t *hub_client_channel_list(const struct hub_client *c);
/*
 * Queues a _subscribed control frame {"channels":[...],"refused":[...],"from":F} (refused:
 * stolen): the client's channels are delivered from offset F on, so it knows what it is owed.
 */
void hub_queue_subscribed(struct hub *h, struct hub_client *c, json_t *refused, uint64_t from);
/* The offset a channel joined now takes effect from, for _subscribed. */
uint64_t hub_client_next_offset(struct hub *h, const struct hub_client *c);
/* A new random epoch name into out (ENVELOPE_EPOCH_BUF bytes). */
void hub_random_epoch(char *out, size_t outlen);

/* Client helpers shared by hub_session.c and hub_sio.c (lws thread only). */
/* Queues a control frame to send before events. Takes ownership of f; drops it when full. */
void hub_queue_ctrl(struct hub_client *c, struct frame *f);
/* Asks lws for a writeable callback unless one is pending. */
void hub_want_write(struct hub_client *c);
/* Closes a client from outside its own callback (the socket may be choked), for `why`. */
void hub_client_kill(struct hub_client *c, enum hub_end why, int code, const char *reason);
/* A send to c failed: logs it and records HUB_END_WRITE_FAILED as why c ends. Returns -1,
 * for c's own callback to return (lws then closes it). */
int hub_client_write_failed(struct hub *h, struct hub_client *c, const char *where);
/* The same outside c's callbacks (the sweep): also closes c (hub_client_kill). */
void hub_client_kill_write_failed(struct hub *h, struct hub_client *c, const char *where);
/* Why a client closed with a hub_client close_code (> 0) ends. */
enum hub_end hub_end_for_code(int close_code);
/* The client starts receiving events: makes the replay plan, queues _connected/_recovery. */
void hub_client_join(struct hub *h, struct hub_client *c);
/* Records since/epoch (strings from a query or an auth object); a malformed since is ignored. */
void hub_client_set_resume(struct hub_client *c, const char *since, const char *epoch);
/* A control frame in the client's framing: {"event":..,"data":..} or 42["..",..]. Caller unrefs. */
struct frame *hub_control_frame(const struct hub_client *c, const char *name, json_t *data);

/*
 * Writes nf pre-framed frames (bytes in all) to the client's socket now, in order (hub_send.c).
 * What the socket does not take lws keeps and sends first; it calls the writeable callback
 * once that is out. Returns -1 when the connection failed.
 */
int hub_send_frames(struct hub *h, struct hub_client *c, struct frame *const *fs, int nf,
                    size_t bytes);
/*
 * Holds (on = 1) or releases (on = 0) what is written to wsi's socket in the kernel
 * (TCP_CORK): the upgrade's 101 and the first frames then leave in one segment.
 */
void hub_send_cork(struct lws *wsi, int on);
/* After a fan-out send of f (j): hands lws what the socket did not take. -1: the write
 * failed (the client should be killed). */
int hub_send_job_done(struct hub *h, struct hub_client *c, struct frame *f,
                      const struct hub_send_job *j);

/* The listening socket on the libev loop (hub_accept.c). Returns 0, or -1 with err. */
int hub_accept_start(struct hub *h, char *err, size_t errlen);
void hub_accept_stop(struct hub *h);
/* Every tick: watches the listener again after running out of descriptors. */
void hub_accept_tick(struct hub *h);

/* Keepalive of plain clients (hub_ping.c). */
/* A pre-framed websocket PING frame; NULL when out of memory. Caller unrefs. */
struct frame *hub_ping_frame(void);
/* The client sent something (a message or a pong): it is alive. */
void hub_client_heard(struct hub_client *c);
/* Pings a client quiet for ping_interval; closes one quiet for twice that plus 10 s. */
void hub_ping_check(struct hub *h, struct hub_client *c, int64_t now);

/* Adds an established client to the list and counts it. */
void hub_client_link(struct hub *h, struct hub_client *c);
/*
 * Takes the frames the client is due next, in its framing, for a transport that writes them
 * all at once (long-polling): a replay the fetcher delivered first, else the ring from the
 * cursor, skipping other channels' events; at most max frames and max_bytes bytes (at least
 * one when any is due). The client is moved past them. Returns how many were stored in fs
 * (new references, caller unrefs); *last is the newest offset held.
 */
int hub_client_take(struct hub *h, struct hub_client *c, struct frame **fs, int max,
                    size_t max_bytes, uint64_t *last);

/* Socket.IO (hub_sio.c). */
long hub_sio_ping_interval_ms(const struct hub *h);
long hub_sio_ping_timeout_ms(const struct hub *h);
/* Sends "2" every pingInterval; closes a client that did not answer "3" within pingTimeout,
 * or that did not join a namespace within the connect timeout. */
void hub_sio_heartbeat(struct hub *h, struct hub_client *c, int64_t now);
/* A complete Socket.IO packet from the client. Returns -1 to close the connection. */
int hub_sio_packet(struct hub *h, struct hub_client *c, const char *in, size_t len);
/* Binary data from a Socket.IO client (a piece of a websocket message, bytes of it so far,
 * end = 1 at its end; or a "b..." packet): an attachment it announced is read (within
 * --max-message) and dropped; anything else is refused. Returns -1 to close the connection. */
int hub_sio_binary(struct hub *h, struct hub_client *c, size_t bytes, int end);
/* 1 when path is the Socket.IO endpoint: "/socket.io/..." or, as socket.io-client sends it
 * with addTrailingSlash: false, "/socket.io". */
int hub_sio_path(const char *path);
/* Starts a Socket.IO session on c (either transport): sid, open packet, timers. */
void hub_sio_open(struct hub *h, struct hub_client *c, int polling);
/*
 * A control event in Socket.IO framing, 42["name",data]. _connected (fresh joins) and
 * _recovery end with the client's position "EPOCH:N" too, so socket.io-client's offset is
 * right even before the first event.
 */
struct frame *hub_sio_control_frame(const struct hub_client *c, const char *name,
                                    const json_t *data, const char *json, size_t len);
/* The replay plan is decided (ok = the client's position is recovered), just before its
 * _recovery is queued: a client that asked with a pid gets its CONNECT answer now. */
void hub_sio_recovery_decided(struct hub_client *c, int ok);
/* f, or its copy whose offset argument records the client's rooms when they changed (f is
 * taken; the result is the caller's). */
struct frame *hub_sio_with_rooms(const struct hub_client *c, struct frame *f);
struct eio_sio;
/* Counts a Socket.IO client packet refused (sio_client_packets_total{result="refused"}). */
void hub_sio_refused(struct hub *h);
/* hub_sio_events.c: a 42 event of a client joined to "/" (p as eio_classify located it). */
void hub_sio_event(struct hub *h, struct hub_client *c, const struct eio_sio *p);
/* An event the relay does not act on (binary = 1: a 45 packet): counted and dropped; an ack
 * it asked for (ack_id >= 0) is answered {"ok":false,"error":"unsupported_event",..}. */
void hub_sio_ignore_event(struct hub *h, struct hub_client *c, int64_t ack_id, int binary);
/* Records the client's rooms as joined now in c->sio_rooms (every offset it is sent then
 * carries them): after a subscribe/unsubscribe, and at a join that restored recorded rooms
 * (what was refused is not recorded). */
void hub_sio_record_rooms(struct hub_client *c);
/* Upgrade filter for /socket.io/ (query EIO, transport, sid). 0 = accept. */
int hub_sio_filter(struct hub *h, struct lws *wsi, struct hub_client *c);
/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: answers a bad Engine.IO upgrade with 400 (returns 1). */
int hub_sio_confirm_upgrade(struct hub *h, struct lws *wsi, const char *upgrade);

/* Socket.IO over HTTP long-polling (hub_poll.c, hub_poll_http.c). */
int hub_poll_init(struct hub *h, struct metrics *m);
void hub_poll_free(struct hub *h); /* before the lws context goes */
/* 1 when the hub answers HTTP requests for this path (Engine.IO polling). */
int hub_poll_serves(const struct hub *h, const char *path);
/* Every HTTP callback reason of the hub's vhost; returns what the lws callback returns. */
int hub_poll_http(struct hub *h, struct lws *wsi, int reason, void *user, void *in, size_t len);
/* hub_want_write / hub_client_kill for a polling client. */
void hub_poll_want_write(struct hub_client *c);
void hub_poll_kill(struct hub_client *c, int code, const char *reason);
/* Per sweep: expiry of a polling session that is not polled. */
void hub_poll_tick(struct hub *h, struct hub_client *c, int64_t now);
/* The upgrade probe: a websocket opened with ?sid=. Return as lws callbacks. */
int hub_poll_probe_established(struct hub *h, struct lws *wsi, struct hub_client *c);
int hub_poll_probe_packet(struct hub *h, struct hub_client *c, int packet);
void hub_poll_probe_closed(struct hub *h, struct hub_client *c);
/* Finds a live polling session by sid. */
struct hub_poll *hub_poll_find(struct hub *h, const char *sid);
/* The index of Socket.IO websocket sessions by sid (opened as websockets, or upgraded). */
void hub_poll_ws_index(struct hub *h, struct hub_client *c);
void hub_poll_ws_unindex(struct hub *h, struct hub_client *c); /* no-op when not indexed */

#endif
