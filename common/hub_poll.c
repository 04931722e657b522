/*
 * hub_poll — Engine.IO v4 HTTP long-polling on /socket.io/, on the hub's own port (lws HTTP
 * callbacks of its vhost): the handshake, held GETs answered when frames are due (or with the
 * ping at pingInterval), POSTs of packets separated by 0x1e, the errors the reference server
 * answers, and sessions that end when not polled. The upgrade to websocket is in
 * hub_poll_probe.c, answers and CORS in hub_poll_http.c. lws service thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eio.h"
#include "eio_poll.h"
#include "hub_poll.h"
#include "log.h"

_Static_assert(sizeof(struct hub_http) <= sizeof(struct hub_client),
               "HTTP transactions share the per-session area of websocket clients");

static size_t sid_hash(const char *sid)
{
    uint64_t x = 1469598103934665603ULL;
    for (; *sid; sid++)
        x = (x ^ (unsigned char)*sid) * 1099511628211ULL;
    return (size_t)x;
}

int hub_poll_init(struct hub *h, struct metrics *m)
{
    struct hub_polls *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -1;
    p->h = h;
    p->nbuckets = 1024;
    p->buckets = calloc(p->nbuckets, sizeof *p->buckets);
    p->scratch = malloc(LWS_PRE + POLL_BODY_MAX);
    p->ws = calloc(POLL_WS_BUCKETS, sizeof *p->ws);
    if (p->buckets == NULL || p->scratch == NULL || p->ws == NULL) {
        free(p->buckets);
        free(p->scratch);
        free(p->ws);
        free(p);
        return -1;
    }
    p->m_sessions = metrics_add(m, METRIC_GAUGE, "sio_polling_sessions", NULL,
                                "Socket.IO sessions on the long-polling transport now.");
    p->m_handshakes = metrics_add(m, METRIC_COUNTER, "sio_polling_handshakes_total", NULL,
                                  "Socket.IO sessions opened over long-polling.");
    p->m_upgrades = metrics_add(m, METRIC_COUNTER, "sio_upgrades_total", NULL,
                                "Socket.IO polling sessions upgraded to websocket.");
    p->m_errors = metrics_add(m, METRIC_COUNTER, "sio_polling_errors_total", NULL,
                              "Socket.IO polling requests answered with an error status.");
    p->m_expired = metrics_add(m, METRIC_COUNTER, "sio_polling_expired_total", NULL,
                               "Socket.IO polling sessions ended because they were not polled.");
    p->m_ping_timeouts =
        metrics_add(m, METRIC_COUNTER, "sio_ping_timeouts_total", NULL,
                    "Socket.IO sessions (either transport) ended because no pong came within "
                    "pingTimeout of a ping.");
    static const char help[] = "Socket.IO client packets by outcome: ignored (events and acks the "
                               "relay does not act on, binary ones included), refused (the "
                               "session was closed), namespace_refused (CONNECT to a namespace "
                               "other than /).";
    p->m_pkt_ignored =
        metrics_add(m, METRIC_COUNTER, "sio_client_packets_total", "result=\"ignored\"", help);
    p->m_pkt_refused =
        metrics_add(m, METRIC_COUNTER, "sio_client_packets_total", "result=\"refused\"", help);
    p->m_pkt_nsp = metrics_add(m, METRIC_COUNTER, "sio_client_packets_total",
                               "result=\"namespace_refused\"", help);
    h->polls = p;
    return 0;
}

static void poll_free(struct hub_poll *s)
{
    struct hub *h = s->h;
    hub_client_unlink(h, &s->c); /* also drops queued control frames */
    hub_client_release(&s->c);
    free(s);
}

static void reap(lws_sorted_usec_list_t *sul)
{
    struct hub_polls *p = lws_container_of(sul, struct hub_polls, reap);
    while (p->dead) {
        struct hub_poll *s = p->dead;
        p->dead = s->dead_next;
        poll_free(s);
    }
}

void hub_poll_free(struct hub *h)
{
    struct hub_polls *p = h->polls;
    if (p == NULL)
        return;
    if (h->ctx)
        lws_sul_schedule(h->ctx, 0, &p->reap, NULL, LWS_SET_TIMER_USEC_CANCEL);
    reap(&p->reap);
    for (size_t i = 0; i < p->nbuckets; i++) {
        while (p->buckets[i]) {
            struct hub_poll *s = p->buckets[i];
            p->buckets[i] = s->hnext;
            /* Their connections go with the context: forget them so nothing points back. */
            struct lws *w[2] = {s->get, s->post};
            for (int k = 0; k < 2; k++) {
                struct hub_http *x = w[k] ? lws_wsi_user(w[k]) : NULL;
                if (x)
                    x->s = NULL;
            }
            if (s->probe)
                s->probe->upgrading = NULL;
            poll_free(s);
        }
    }
    /* Websocket clients outlive this (the context closes them later): they forget the index. */
    for (size_t i = 0; i < POLL_WS_BUCKETS; i++)
        for (struct hub_client *c = p->ws[i]; c; c = c->sid_next)
            c->sid_indexed = 0;
    free(p->ws);
    free(p->buckets);
    free(p->scratch);
    free(p);
    h->polls = NULL;
}

struct hub_poll *hub_poll_find(struct hub *h, const char *sid)
{
    struct hub_polls *p = h->polls;
    for (struct hub_poll *s = p->buckets[sid_hash(sid) & (p->nbuckets - 1)]; s; s = s->hnext)
        if (strcmp(s->c.sid, sid) == 0)
            return s;
    return NULL;
}

void hub_poll_ws_index(struct hub *h, struct hub_client *c)
{
    if (h->polls == NULL || c->sid_indexed || c->sid[0] == '\0')
        return;
    struct hub_client **b = &h->polls->ws[sid_hash(c->sid) % POLL_WS_BUCKETS];
    c->sid_next = *b;
    *b = c;
    c->sid_indexed = 1;
}

void hub_poll_ws_unindex(struct hub *h, struct hub_client *c)
{
    if (h->polls == NULL || !c->sid_indexed)
        return;
    for (struct hub_client **pp = &h->polls->ws[sid_hash(c->sid) % POLL_WS_BUCKETS]; *pp;
         pp = &(*pp)->sid_next) {
        if (*pp == c) {
            *pp = c->sid_next;
            break;
        }
    }
    c->sid_next = NULL;
    c->sid_indexed = 0;
}

enum eio_session_kind hub_poll_session(struct hub *h, const char *sid, struct hub_poll **s)
{
    *s = sid ? hub_poll_find(h, sid) : NULL;
    if (*s)
        return EIO_SID_POLLING;
    if (sid == NULL || h->polls == NULL)
        return EIO_SID_UNKNOWN;
    for (struct hub_client *c = h->polls->ws[sid_hash(sid) % POLL_WS_BUCKETS]; c; c = c->sid_next)
        if (strcmp(c->sid, sid) == 0)
            return EIO_SID_OTHER;
    return EIO_SID_UNKNOWN;
}

static void grow(struct hub_polls *p)
{
    size_t n = p->nbuckets * 2;
    struct hub_poll **b = calloc(n, sizeof *b);
    if (b == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < p->nbuckets; i++) {
        while (p->buckets[i]) {
            struct hub_poll *s = p->buckets[i];
            p->buckets[i] = s->hnext;
            size_t k = sid_hash(s->c.sid) & (n - 1);
            s->hnext = b[k];
            b[k] = s;
        }
    }
    free(p->buckets);
    p->buckets = b;
    p->nbuckets = n;
}

void hub_poll_index(struct hub_polls *p, struct hub_poll *s)
{
    if (p->count + 1 > p->nbuckets * 2)
        grow(p);
    size_t k = sid_hash(s->c.sid) & (p->nbuckets - 1);
    s->hnext = p->buckets[k];
    p->buckets[k] = s;
    p->count++;
    metric_set(p->m_sessions, (int64_t)p->count);
}

void hub_poll_unindex(struct hub_poll *s)
{
    struct hub_polls *p = s->h->polls;
    for (struct hub_poll **pp = &p->buckets[sid_hash(s->c.sid) & (p->nbuckets - 1)]; *pp;
         pp = &(*pp)->hnext) {
        if (*pp == s) {
            *pp = s->hnext;
            s->hnext = NULL;
            p->count--;
            metric_set(p->m_sessions, (int64_t)p->count);
            return;
        }
    }
}

/* Lets go of the connections of a session: a held GET is answered with `answer`. */
static void release(struct hub_poll *s, const char *answer)
{
    if (s->get) {
        hub_http_defer(s->get, 200, "text/plain; charset=UTF-8", answer, strlen(answer));
        s->get = NULL;
    }
    if (s->post) {
        struct hub_http *x = lws_wsi_user(s->post);
        if (x)
            x->s = NULL; /* its completion answers "Session ID unknown" */
        s->post = NULL;
    }
}

void hub_poll_end(struct hub_poll *s, enum hub_end end, const char *get_answer, const char *why)
{
    if (s->dead)
        return;
    if (s->c.end == HUB_END_DROPPED)
        s->c.end = end;
    struct hub *h = s->h;
    s->dead = 1;
    s->c.close_code = -1;
    LOG_DEBUG("sio_polling_end hub=%s peer=%s sid=%s reason=\"%s\"", h->cfg.name, s->c.peer,
              s->c.sid, why);
    release(s, get_answer);
    if (s->probe) {
        s->probe->upgrading = NULL;
        hub_client_kill(s->probe, s->c.end, LWS_CLOSE_STATUS_NORMAL, "session closed");
        s->probe = NULL;
    }
    hub_poll_unindex(s);
    /* Freed after the sweep that may be looking at it. */
    s->dead_next = h->polls->dead;
    h->polls->dead = s;
    lws_sul_schedule(h->ctx, 0, &h->polls->reap, reap, 1);
}

void hub_poll_kill(struct hub_client *c, int code, const char *reason)
{
    (void)code;
    hub_poll_end(c->poll, c->end, "1", reason);
}

void hub_poll_want_write(struct hub_client *c)
{
    struct hub_poll *s = c->poll;
    if (s->dead)
        return;
    if (s->get == NULL) {
        /* Stopping: a client that is not polling now cannot be told; one that has everything
         * needs nothing more. Either way the session ends now. (Other closes wait for the
         * next poll, which carries the reason, e.g. the connect error of a refused token.) */
        if (c->close_code == HUB_CLOSE_GOING_AWAY)
            hub_poll_end(s, HUB_END_STOPPING, "1", "going away");
        return;
    }
    if (!c->want_write) {
        c->want_write = 1;
        lws_callback_on_writable(s->get);
    }
}

static void append(unsigned char *buf, size_t *n, const char *p, size_t len)
{
    if (*n > 0)
        buf[(*n)++] = 0x1e;
    memcpy(buf + *n, p, len);
    *n += len;
}

/*
 * Writes the answer of a held GET: control packets, then the events due (a fetched replay,
 * then the ring). With nothing due the GET stays held. (hub_want_write may be called with
 * the hub lock held, so the decision is made here, in the writeable callback.)
 */
int hub_poll_answer_get(struct hub *h, struct lws *wsi, struct hub_http *x)
{
    struct hub_poll *s = x->s;
    struct hub_client *c = &s->c;
    c->want_write = 0;
    struct frame *fs[HUB_BATCH];
    uint64_t top = 0;
    int nf = hub_client_take(h, c, fs, HUB_BATCH, HUB_BATCH_BYTES, &top);
    size_t need = 4; /* a final "1" or "6" and its separator */
    for (int i = 0; i < c->nctrl; i++)
        need += c->ctrl[i]->len + 1;
    for (int i = 0; i < nf; i++)
        need += fs[i]->len + 1;
    /* Usually the scratch buffer; a bigger answer (one huge event) gets its own. */
    unsigned char *buf = need <= POLL_BODY_MAX ? h->polls->scratch : malloc(LWS_PRE + need);
    if (buf == NULL) {
        for (int i = 0; i < nf; i++)
            frame_unref(fs[i]);
        return -1;
    }
    unsigned char *body = buf + LWS_PRE;
    size_t n = 0;
    for (int i = 0; i < c->nctrl; i++) {
        append(body, &n, frame_payload(c->ctrl[i]), c->ctrl[i]->len);
        frame_unref(c->ctrl[i]);
    }
    c->nctrl = 0;
    for (int i = 0; i < nf; i++) {
        append(body, &n, frame_payload(fs[i]), fs[i]->len);
        frame_unref(fs[i]);
    }
    int caught_up = c->npend == 0 &&
                    (c->cursor == HUB_NOT_JOINED || c->cursor == HUB_PARKED || c->cursor > top);
    int ending = c->close_code > 0 && (caught_up || hub_now_us() >= h->stop_deadline_us);
    if (ending) {
        append(body, &n, "1", 1);
    } else if (n == 0 && !s->upgrading) {
        if (buf != h->polls->scratch)
            free(buf);
        return 0; /* nothing for this client after all: keep holding */
    } else if (n == 0) {
        append(body, &n, "6", 1); /* an upgrade in progress releases the poll */
    }
    s->get = NULL;
    x->s = NULL;
    x->kind = HTTP_IDLE;
    s->last_poll_us = hub_now_us();
    int rc = hub_http_send(wsi, 200, "text/plain; charset=UTF-8", (const char *)body, n, 1);
    if (buf != h->polls->scratch)
        free(buf);
    if (rc != 0)
        return -1;
    if (ending) /* stopping, or a refused token (4401), a full relay: what the code says */
        hub_poll_end(s, hub_end_for_code(c->close_code), "1",
                     c->close_reason ? c->close_reason : "closed");
    return hub_http_done(wsi);
}

const struct hub_file *hub_poll_file_at(const struct hub *h, const char *path)
{
    for (size_t i = 0; i < h->cfg.nfiles; i++)
        if (strcmp(h->cfg.files[i].path, path) == 0)
            return &h->cfg.files[i];
    return NULL;
}

int hub_poll_serves(const struct hub *h, const char *path)
{
    if (hub_poll_file_at(h, path))
        return 1;
    if (!hub_sio_path(path))
        return 0;
    for (const char *const *p = h->paths; *p; p++)
        if (strcmp(*p, "/socket.io/") == 0)
            return 1;
    return 0;
}

void hub_poll_tick(struct hub *h, struct hub_client *c, int64_t now)
{
    struct hub_poll *s = c->poll;
    if (s->dead)
        return;
    if (s->probe && now - s->probe_at_us > POLL_UPGRADE_TIMEOUT_US) {
        /* The probe never sent "5": it goes, the session goes on polling. */
        s->probe->upgrading = NULL;
        hub_client_kill(s->probe, HUB_END_PING_TIMEOUT, LWS_CLOSE_STATUS_NORMAL, "upgrade timeout");
        s->probe = NULL;
        s->upgrading = 0;
    }
    /* Reference semantics: a client that has not polled for pingInterval + pingTimeout is gone
     * (it cannot have seen the ping). */
    int64_t limit = (hub_sio_ping_interval_ms(h) + hub_sio_ping_timeout_ms(h)) * 1000;
    if (s->get == NULL && s->probe == NULL && now - s->last_poll_us > limit) {
        metric_inc(h->polls->m_expired);
        LOG_INFO("sio_polling_expired hub=%s peer=%s sid=%s", h->cfg.name, c->peer, c->sid);
        hub_poll_end(s, HUB_END_PING_TIMEOUT, "1", "not polled");
    }
}
