/*
 * hub_poll — internals of the Socket.IO long-polling transport shared by hub_poll.c
 * (sessions, GET/POST), hub_poll_http.c (HTTP answers, CORS) and hub_poll_probe.c (the
 * websocket upgrade). Not part of the public API. lws service thread only.
 *
 * A polling session is a hub client like a websocket one: its struct hub_client sits in the
 * session and is linked in the hub's client list, so the cursor, the replay plan, the
 * slow-client rule, heartbeats and _connected/_recovery work the same. The difference is
 * the transport: frames wait until the client's GET is held, and go out as one HTTP body
 * of packets separated by 0x1e.
 */
#ifndef RELAYLAB_HUB_POLL_H
#define RELAYLAB_HUB_POLL_H

#include "eio_poll.h"
#include "hub_impl.h"

#define POLL_BODY_MAX (HUB_BATCH_BYTES + 4096)   /* one GET answer at most (events + control) */
#define POLL_PACKETS_MAX 256                     /* packets in one POST */
#define POLL_UPGRADE_TIMEOUT_US (10 * 1000000LL) /* a probe must send "5" within this */
#define POLL_WS_BUCKETS 4096 /* chains of the websocket sid index (looked up on rare requests) */

struct hub_poll {
    struct hub_client c; /* first: the client, in h->clients */
    struct hub *h;
    struct hub_poll *hnext;     /* chain in the sid table */
    struct hub_poll *dead_next; /* waiting to be freed (after the sweep that killed it) */
    struct lws *get;            /* the held GET, or NULL */
    struct lws *post;           /* the POST being received, or NULL */
    struct hub_client *probe;   /* a websocket probing an upgrade, or NULL */
    int64_t last_poll_us;       /* a GET was held or answered then */
    int64_t probe_at_us;
    int upgrading; /* the probe was answered "3probe": a GET is released with "6" */
    int dead;      /* ended; freed by the reaper */
};

struct hub_polls {
    struct hub *h;
    struct hub_poll **buckets;
    size_t nbuckets, count;
    struct hub_poll *dead;
    struct hub_client **ws; /* websocket sessions by sid (HUB_POLL_WS_BUCKETS chains) */
    lws_sorted_usec_list_t reap;
    unsigned char *scratch; /* LWS_PRE + POLL_BODY_MAX: one GET answer being written */
    struct metric *m_sessions, *m_handshakes, *m_upgrades, *m_errors, *m_expired, *m_ping_timeouts;
    /* Client packets (either transport): read and dropped, refused (session closed),
     * CONNECTs to a namespace other than "/" refused. */
    struct metric *m_pkt_ignored, *m_pkt_refused, *m_pkt_nsp;
};

/* What an HTTP transaction of the hub's vhost keeps in its per-session area. */
enum hub_http_kind { HTTP_IDLE = 0, HTTP_GET, HTTP_POST, HTTP_REPLY };
struct hub_http {
    int kind;
    struct hub_poll *s; /* GET / POST: the session (cleared when the session lets go) */
    char *body;         /* POST: the body so far (malloc'd, capped at the content length) */
    size_t blen, bcap;
    /* HTTP_REPLY: an answer waiting for a writeable callback */
    int status;
    const char *ctype;
    unsigned short rlen;
    char reply[150];
};

/* hub_poll_http.c: answers. Each writes a whole response (headers, CORS, body). */
int hub_http_send(struct lws *wsi, int status, const char *ctype, const char *body, size_t len,
                  int cors);
/* Engine.IO error: status and {"code":N,"message":".."} (+ ,"detail":".." when given). */
int hub_http_error(struct lws *wsi, int code, const char *detail);
/* Same, with an explicit HTTP status (413, 411). */
int hub_http_error_status(struct lws *wsi, int status, int code, const char *detail);
/* The CORS preflight answer (204). */
int hub_http_preflight(struct lws *wsi);
/* 1 when the Origin header is absent or safe to echo; 0 when it must be refused. */
int hub_http_origin_ok(struct lws *wsi);
/* A file of hub_config.files: 200 with ETag, or 304 when If-None-Match names it. */
int hub_http_file(struct lws *wsi, const struct hub_file *f, int head_only);
/* Queues an answer for a held GET/POST and asks for a writeable callback. */
void hub_http_defer(struct lws *wsi, int status, const char *ctype, const char *body, size_t len);
/* Ends the transaction after an answer; returns what the lws callback should return. */
int hub_http_done(struct lws *wsi);
/* Copies query argument name ("sid=") into out; NULL when absent or too long. */
const char *hub_http_arg(struct lws *wsi, const char *name, char *out, size_t outlen);

/* hub_poll.c */
/* Adds a session to the sid table. */
void hub_poll_index(struct hub_polls *p, struct hub_poll *s);
/* The file of hub_config.files served at path, or NULL. */
const struct hub_file *hub_poll_file_at(const struct hub *h, const char *path);
/* HTTP_WRITEABLE of a held GET: answers it when something is due, else keeps holding. */
int hub_poll_answer_get(struct hub *h, struct lws *wsi, struct hub_http *x);
/* Ends a session: a held GET is answered with get_answer ("1" close or "6" noop). */
void hub_poll_end(struct hub_poll *s, enum hub_end end, const char *get_answer, const char *why);
/* Removes a session from the sid table (it stays allocated). */
void hub_poll_unindex(struct hub_poll *s);
/* What sid (NULL: none given) names, as eio_check_request() wants it: a live polling session
 * (then *s is it), a websocket session (opened as one, or upgraded), or nothing known
 * (*s NULL in both). */
enum eio_session_kind hub_poll_session(struct hub *h, const char *sid, struct hub_poll **s);

#endif
