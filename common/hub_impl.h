/*
 * hub internals shared by hub.c (context, lifecycle, publish) and hub_session.c (one
 * client: join and replay, writes, reads, the sweep). Not part of the public API.
 */
#ifndef RELAYLAB_HUB_IMPL_H
#define RELAYLAB_HUB_IMPL_H

#include <ev.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>

#include "envelope.h"
#include "history.h"
#include "hub.h"

#define HUB_TICK_MS 50
#define HUB_BATCH 64          /* frames written per writeable callback at most */
#define HUB_BATCH_BYTES 65536 /* and bytes: a client's backlog goes out in one send() */
#define HUB_CTRL_MAX 6
#define HUB_NOT_JOINED UINT64_MAX /* cursor of a Socket.IO client before it joins "/" */

struct hub_client {
    struct lws *wsi;
    struct hub_client *prev, *next;   /* list of established clients */
    uint64_t cursor;                  /* offset of the next event to send */
    uint64_t live_from;               /* events before this are replay and do not count as lag */
    struct frame *ctrl[HUB_CTRL_MAX]; /* control frames to send before events */
    int nctrl;
    int established;
    int want_write; /* a writeable callback is already requested */
    int close_code; /* non-zero: close with this code once control frames are out */
    const char *close_reason;
    size_t rx_bytes;   /* bytes of the message being received */
    int sio;           /* speaks Socket.IO v4 (Engine.IO v4) framing */
    int replica;       /* a follower relay: gets every frame with ids, acknowledges offsets */
    int insync;        /* replica caught up with the commit: the commit waits for it */
    uint64_t acked;    /* replica: newest offset it acknowledged */
    int64_t ack_at_us; /* replica: when acked last advanced (or it was caught up) */
    int64_t rx_at_us;  /* last message or pong from the client (keepalive, hub_ping.c) */
    int pinged;        /* a websocket PING went out since then */
    int awaiting_pong; /* Socket.IO heartbeat sent, "3" not yet received */
    int64_t ping_at_us;
    char sid[24];
    int has_since;
    uint64_t since;
    char epoch[ENVELOPE_EPOCH_MAX + 1];
    char peer[48];
};

struct hub {
    struct hub_config cfg;
    const char *const *paths;
    struct lws_context *ctx;
    struct ev_loop *loop; /* epoll via libev (lws's evlib plugin); NULL: lws's poll() loop */
    int listen_fd;        /* with loop: the hub's own listener (hub_accept.c), else -1 */
    ev_io listen_w;
    struct lws_vhost *vhost; /* where accepted connections are adopted */
    struct lws_protocols protocols[2];
    lws_retry_bo_t retry;
    lws_sorted_usec_list_t tick;
    int port;

    pthread_mutex_t lock; /* guards hist and committed */
    pthread_cond_t committed_cond;
    struct history *hist;
    uint64_t committed; /* clients get offsets <= committed */
    atomic_int ninsync; /* in-sync replicas: when 0, publish commits at once */
    atomic_int accepting;
    atomic_int resync;  /* history was replaced: close the clients (lws thread) */
    uint64_t nreplicas; /* lws thread */

    /* lws thread only */
    struct hub_client *clients;
    uint64_t nclients;
    volatile sig_atomic_t *stop_flag;
    int64_t stop_deadline_us;

    atomic_int stopping;
    atomic_int wake; /* a sweep was asked for (hub_wake) and has not run yet */
    unsigned char *batch; /* LWS_PRE + HUB_BATCH_BYTES scratch for coalesced sends (lws thread) */
    struct frame *ping;   /* the websocket PING frame, pre-framed (hub_ping.c) */
    struct metrics *own_metrics;
    struct metric *m_clients, *m_conns, *m_events, *m_frames, *m_slow, *m_rejected, *m_replay_ok,
        *m_replay_fail;
};

int64_t hub_now_us(void);

/* Upgrade filter: checks the path, reads since/epoch/EIO from the query. 0 = accept. */
int hub_client_filter(struct hub *h, struct lws *wsi, struct hub_client *c);
void hub_client_established(struct hub *h, struct lws *wsi, struct hub_client *c);
int hub_client_writeable(struct hub *h, struct hub_client *c);
int hub_client_receive(struct hub *h, struct lws *wsi, struct hub_client *c, const char *in,
                       size_t len);
void hub_client_unlink(struct hub *h, struct hub_client *c);
/* Looks at every client: slow ones closed, heartbeats, writes requested where frames wait. */
void hub_sweep(struct hub *h);
/* A new random epoch name into out (ENVELOPE_EPOCH_BUF bytes). */
void hub_random_epoch(char *out, size_t outlen);

/* Client helpers shared by hub_session.c and hub_sio.c (lws thread only). */
/* Queues a control frame to send before events. Takes ownership of f; drops it when full. */
void hub_queue_ctrl(struct hub_client *c, struct frame *f);
/* Asks lws for a writeable callback unless one is pending. */
void hub_want_write(struct hub_client *c);
/* Closes a client from outside its own callback (the socket may be choked). */
void hub_client_kill(struct hub_client *c, int code, const char *reason);
/* The client starts receiving events: makes the replay plan, queues _connected/_recovery. */
void hub_client_join(struct hub *h, struct hub_client *c);
/* Records since/epoch (strings from a query or an auth object); a malformed since is ignored. */
void hub_client_set_resume(struct hub_client *c, const char *since, const char *epoch);
/* A control frame in the client's framing: {"event":..,"data":..} or 42["..",..]. Caller unrefs. */
struct frame *hub_control_frame(const struct hub_client *c, const char *name, json_t *data);

/*
 * Writes nf pre-framed frames (bytes in all) to the client's socket now, in order (hub_write.c).
 * What the socket does not take lws keeps and sends first; it calls the writeable callback
 * once that is out. Returns -1 when the connection failed.
 */
int hub_send_frames(struct hub *h, struct hub_client *c, struct frame *const *fs, int nf,
                    size_t bytes);

/* The listening socket on the libev loop (hub_accept.c). Returns 0, or -1 with err. */
int hub_accept_start(struct hub *h, char *err, size_t errlen);
void hub_accept_stop(struct hub *h);

/* Keepalive of plain clients (hub_ping.c). */
/* A pre-framed websocket PING frame; NULL when out of memory. Caller unrefs. */
struct frame *hub_ping_frame(void);
/* The client sent something (a message or a pong): it is alive. */
void hub_client_heard(struct hub_client *c);
/* Pings a client quiet for ping_interval; closes one quiet for twice that plus 10 s. */
void hub_ping_check(struct hub *h, struct hub_client *c, int64_t now);

/* Socket.IO (hub_sio.c). */
long hub_sio_ping_interval_ms(const struct hub *h);
long hub_sio_ping_timeout_ms(const struct hub *h);
/* Sends "2" every pingInterval; closes a client that did not answer "3" within pingTimeout. */
void hub_sio_heartbeat(struct hub *h, struct hub_client *c, int64_t now);
/* A complete Socket.IO packet from the client. Returns -1 to close the connection. */
int hub_sio_packet(struct hub *h, struct hub_client *c, const char *in, size_t len);

#endif
