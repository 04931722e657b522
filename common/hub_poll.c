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
    if (p->buckets == NULL || p->scratch == NULL) {
        free(p->buckets);
        free(p->scratch);
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
    h->polls = p;
    return 0;
}

static void poll_free(struct hub_poll *s)
{
    struct hub *h = s->h;
    hub_client_unlink(h, &s->c); /* also drops queued control frames */
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

static void index_session(struct hub_polls *p, struct hub_poll *s)
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

void hub_poll_end(struct hub_poll *s, const char *get_answer, const char *why)
{
    if (s->dead)
        return;
    struct hub *h = s->h;
    s->dead = 1;
    s->c.close_code = -1;
    LOG_DEBUG("sio_polling_end hub=%s peer=%s sid=%s reason=\"%s\"", h->cfg.name, s->c.peer,
              s->c.sid, why);
    release(s, get_answer);
    if (s->probe) {
        s->probe->upgrading = NULL;
        hub_client_kill(s->probe, LWS_CLOSE_STATUS_NORMAL, "session closed");
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
    hub_poll_end(c->poll, "1", reason);
}

/* Something is due for the client (frames, a close, an upgrade release): answer its GET. */
static int has_work(struct hub *h, const struct hub_poll *s)
{
    const struct hub_client *c = &s->c;
    if (c->nctrl > 0 || c->close_code > 0 || s->upgrading)
        return 1;
    if (c->cursor == HUB_NOT_JOINED)
        return 0;
    pthread_mutex_lock(&h->lock);
    uint64_t top = h->committed;
    pthread_mutex_unlock(&h->lock);
    return c->cursor <= top;
}

void hub_poll_want_write(struct hub_client *c)
{
    struct hub_poll *s = c->poll;
    if (s->dead)
        return;
    if (s->get == NULL) {
        /* Stopping: a client that is not polling cannot be told; one that has everything
         * needs nothing more. Either way the session ends now. */
        if (c->close_code > 0)
            hub_poll_end(s, "1", "going away");
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

/* Writes the answer of a held GET: control packets, then events from the cursor. */
static int answer_get(struct hub *h, struct lws *wsi, struct hub_http *x)
{
    struct hub_poll *s = x->s;
    struct hub_client *c = &s->c;
    c->want_write = 0;
    if (!has_work(h, s))
        return 0; /* keep holding */
    struct frame *fs[HUB_BATCH];
    uint64_t next = c->cursor, top = 0;
    int nf = hub_client_collect(h, c, fs, HUB_BATCH, HUB_BATCH_BYTES, &next, &top);
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
    c->cursor = next; /* past what was collected (and whatever the collector skipped) */
    if (nf > 0)
        metric_add(h->m_frames, (uint64_t)nf);
    int caught_up = c->cursor == HUB_NOT_JOINED || c->cursor > top;
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
    if (ending)
        hub_poll_end(s, "1", "going away");
    return hub_http_done(wsi);
}

static const struct hub_file *file_at(const struct hub *h, const char *path)
{
    for (size_t i = 0; i < h->cfg.nfiles; i++)
        if (strcmp(h->cfg.files[i].path, path) == 0)
            return &h->cfg.files[i];
    return NULL;
}

int hub_poll_serves(const struct hub *h, const char *path)
{
    if (file_at(h, path))
        return 1;
    if (strncmp(path, "/socket.io/", 11) != 0)
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
        hub_client_kill(s->probe, LWS_CLOSE_STATUS_NORMAL, "upgrade timeout");
        s->probe = NULL;
        s->upgrading = 0;
    }
    /* Reference semantics: a client that has not polled for pingInterval + pingTimeout is gone
     * (it cannot have seen the ping). */
    int64_t limit = (hub_sio_ping_interval_ms(h) + hub_sio_ping_timeout_ms(h)) * 1000;
    if (s->get == NULL && s->probe == NULL && now - s->last_poll_us > limit) {
        metric_inc(h->polls->m_expired);
        LOG_INFO("sio_polling_expired hub=%s peer=%s sid=%s", h->cfg.name, c->peer, c->sid);
        hub_poll_end(s, "1", "not polled");
    }
}

static void note_error(struct hub *h)
{
    metric_inc(h->polls->m_errors);
}

/* GET or POST without sid, transport=polling: a new session, answered with the open packet. */
static int handshake(struct hub *h, struct lws *wsi, struct hub_http *x)
{
    if (atomic_load(&h->stopping) || !atomic_load(&h->accepting) ||
        h->nclients >= (uint64_t)h->cfg.max_clients) {
        note_error(h);
        LOG_INFO("sio_polling_refused hub=%s reason=%s clients=%llu", h->cfg.name,
                 atomic_load(&h->stopping) ? "stopping" : "full", (unsigned long long)h->nclients);
        if (hub_http_error_status(wsi, 503, EIO_ERR_FORBIDDEN,
                                  atomic_load(&h->stopping) ? "server shutting down"
                                                            : "server full"))
            return -1;
        return hub_http_done(wsi);
    }
    struct hub_poll *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -1;
    s->h = h;
    s->c.poll = s;
    s->c.sio = 1;
    lws_get_peer_simple(wsi, s->c.peer, sizeof s->c.peer);
    if (strncmp(s->c.peer, "::ffff:", 7) == 0)
        memmove(s->c.peer, s->c.peer + 7, strlen(s->c.peer + 7) + 1);
    char since[32], epoch[64];
    hub_client_set_resume(&s->c, hub_http_arg(wsi, "since=", since, sizeof since),
                          hub_http_arg(wsi, "epoch=", epoch, sizeof epoch));
    hub_sio_open(h, &s->c, 1);
    while (hub_poll_find(h, s->c.sid)) /* 120 random bits: a clash is a broken RNG */
        hub_sio_open(h, &s->c, 1);
    hub_client_link(h, &s->c);
    index_session(h->polls, s);
    metric_inc(h->polls->m_handshakes);
    LOG_DEBUG("sio_polling_open hub=%s peer=%s sid=%s", h->cfg.name, s->c.peer, s->c.sid);
    /* The handshake GET is this session's first poll: it is answered with the open packet. */
    s->get = wsi;
    s->last_poll_us = hub_now_us();
    x->kind = HTTP_GET;
    x->s = s;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    hub_want_write(&s->c);
    return 0;
}

static int hold_get(struct hub *h, struct lws *wsi, struct hub_http *x, struct hub_poll *s)
{
    if (s->get) {
        /* Two polls at once break ordering: the session ends, the first poll gets "1". */
        note_error(h);
        hub_poll_end(s, "1", "concurrent GET");
        if (hub_http_error(wsi, EIO_ERR_BAD_REQUEST, "a poll is already pending for this session"))
            return -1;
        return hub_http_done(wsi);
    }
    s->get = wsi;
    s->last_poll_us = hub_now_us();
    x->kind = HTTP_GET;
    x->s = s;
    /* Held until frames are due; the ping comes within pingInterval. The safety net closes a
     * poll that outlives pingInterval + pingTimeout anyway (the session then ends). */
    long secs = (hub_sio_ping_interval_ms(h) + hub_sio_ping_timeout_ms(h)) / 1000 + 5;
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, (int)secs);
    hub_want_write(&s->c);
    return 0;
}

static int start_post(struct hub *h, struct lws *wsi, struct hub_http *x, struct hub_poll *s)
{
    char ctype[128] = "", clen[32] = "";
    lws_hdr_copy(wsi, ctype, sizeof ctype, WSI_TOKEN_HTTP_CONTENT_TYPE);
    int has_len = lws_hdr_copy(wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
    const char *detail = NULL;
    int status = 400, end_session = 1;
    char buf[96];
    char *e = NULL;
    unsigned long long n = has_len ? strtoull(clen, &e, 10) : 0;
    if (s->post) {
        detail = "a POST is already in progress for this session";
    } else if (strncmp(ctype, "application/octet-stream", 24) == 0) {
        detail = "binary payloads are not supported";
    } else if (!has_len || *e != '\0' || clen[0] < '0' || clen[0] > '9') {
        status = 411;
        end_session = 0;
        detail = "Content-Length required";
    } else if (n > h->cfg.max_message) {
        status = 413;
        snprintf(buf, sizeof buf, "payload of %llu bytes is over maxPayload (%zu)", n,
                 h->cfg.max_message);
        detail = buf;
    }
    if (detail) {
        note_error(h);
        LOG_INFO("sio_polling_bad_post hub=%s peer=%s sid=%s status=%d reason=\"%s\"", h->cfg.name,
                 s->c.peer, s->c.sid, status, detail);
        if (end_session)
            hub_poll_end(s, "1", detail);
        if (hub_http_error_status(wsi, status, EIO_ERR_BAD_REQUEST, detail))
            return -1;
        return hub_http_done(wsi);
    }
    x->kind = HTTP_POST;
    x->s = s;
    x->bcap = (size_t)n;
    x->body = malloc(x->bcap + 1);
    if (x->body == NULL)
        return -1;
    s->post = wsi;
    return 0;
}

/* LWS_CALLBACK_HTTP on /socket.io/: checks the request as the reference server does. */
static int on_request(struct hub *h, struct lws *wsi, struct hub_http *x, const char *path)
{
    char *uri;
    int ulen, meth = lws_http_get_uri_and_method(wsi, &uri, &ulen);
    const struct hub_file *f = file_at(h, path);
    if (f && (meth == LWSHUMETH_GET || meth == LWSHUMETH_HEAD)) {
        if (hub_http_file(wsi, f, meth == LWSHUMETH_HEAD))
            return -1;
        return hub_http_done(wsi);
    }
    static const char *const names[] = {"GET",   "POST",   "OPTIONS", "PUT",
                                        "PATCH", "DELETE", "CONNECT", "HEAD"};
    const char *method = meth >= 0 && meth < 8 ? names[meth] : "?";
    if (!hub_http_origin_ok(wsi)) {
        note_error(h);
        if (hub_http_error(wsi, EIO_ERR_BAD_REQUEST, NULL))
            return -1;
        return hub_http_done(wsi);
    }
    if (meth == LWSHUMETH_OPTIONS) { /* the CORS preflight, before any Engine.IO check */
        if (hub_http_preflight(wsi))
            return -1;
        return hub_http_done(wsi);
    }
    char transport[16], eio[8], sid[64];
    struct eio_request r = {
        .method = method,
        .transport = hub_http_arg(wsi, "transport=", transport, sizeof transport),
        .eio = hub_http_arg(wsi, "EIO=", eio, sizeof eio),
        .sid = hub_http_arg(wsi, "sid=", sid, sizeof sid),
    };
    struct hub_poll *s = r.sid ? hub_poll_find(h, r.sid) : NULL;
    r.session = s ? EIO_SID_POLLING : EIO_SID_UNKNOWN;
    enum eio_error err = eio_check_request(&r);
    if (err != EIO_ERR_NONE) {
        note_error(h);
        LOG_DEBUG("sio_polling_error hub=%s method=%s code=%d sid=%s", h->cfg.name, method,
                  (int)err, r.sid ? r.sid : "-");
        if (hub_http_error(wsi, err, NULL))
            return -1;
        return hub_http_done(wsi);
    }
    if (s == NULL)
        return handshake(h, wsi, x);
    if (meth == LWSHUMETH_GET)
        return hold_get(h, wsi, x, s);
    if (meth == LWSHUMETH_POST)
        return start_post(h, wsi, x, s);
    note_error(h);
    if (hub_http_error(wsi, EIO_ERR_BAD_REQUEST, "a session takes GET and POST only"))
        return -1;
    return hub_http_done(wsi);
}

/* A whole POST body: checked as a whole, then each packet acted on in order. */
static int on_body_done(struct hub *h, struct lws *wsi, struct hub_http *x)
{
    struct hub_poll *s = x->s;
    x->kind = HTTP_IDLE;
    char *body = x->body;
    size_t len = x->blen;
    x->body = NULL;
    x->s = NULL;
    if (s == NULL) { /* the session ended while the body arrived */
        free(body);
        note_error(h);
        if (hub_http_error(wsi, EIO_ERR_SID, NULL))
            return -1;
        return hub_http_done(wsi);
    }
    s->post = NULL;
    char err[128];
    if (eio_payload_check(body, len, POLL_PACKETS_MAX, err, sizeof err) != 0) {
        free(body);
        note_error(h);
        LOG_INFO("client_bad_input hub=%s peer=%s sid=%s reason=\"%s\"", h->cfg.name, s->c.peer,
                 s->c.sid, err);
        hub_poll_end(s, "1", err);
        if (hub_http_error(wsi, EIO_ERR_BAD_REQUEST, err))
            return -1;
        return hub_http_done(wsi);
    }
    size_t pos = 0, plen, i = 0;
    const char *pkt;
    int refused = 0;
    while (!s->dead && eio_payload_next(body, len, &pos, &pkt, &plen)) {
        i++;
        if (plen == 1 && pkt[0] == '1') {
            hub_poll_end(s, "6", "client closed"); /* a pending poll is released with noop */
            break;
        }
        if (hub_sio_packet(h, &s->c, pkt, plen) != 0) {
            refused = 1; /* e.g. an event before joining "/": the session ends */
            snprintf(err, sizeof err, "packet %zu refused in this state; session closed", i);
            hub_poll_end(s, "1", err);
        }
    }
    free(body);
    if (refused) {
        note_error(h);
        if (hub_http_error(wsi, EIO_ERR_BAD_REQUEST, err))
            return -1;
        return hub_http_done(wsi);
    }
    if (hub_http_send(wsi, 200, "text/html", "ok", 2, 1))
        return -1;
    return hub_http_done(wsi);
}

/* The connection of a held GET or a POST closed, or its transaction ended. */
static void detach(struct hub *h, struct hub_http *x, int closed)
{
    struct hub_poll *s = x->s;
    free(x->body);
    x->body = NULL;
    x->s = NULL;
    if (s == NULL || x->kind == HTTP_IDLE || x->kind == HTTP_REPLY)
        return;
    if (x->kind == HTTP_GET && s->get)
        s->get = NULL;
    if (x->kind == HTTP_POST && s->post)
        s->post = NULL;
    x->kind = HTTP_IDLE;
    if (closed) { /* the client went away mid-request: the reference ends the session too */
        LOG_DEBUG("sio_polling_abandoned hub=%s sid=%s", h->cfg.name, s->c.sid);
        hub_poll_end(s, "1", "poll connection closed");
    }
}

int hub_poll_http(struct hub *h, struct lws *wsi, int reason, void *user, void *in, size_t len)
{
    struct hub_http *x = user;
    (void)in;
    if (h->polls == NULL || x == NULL)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_request(h, wsi, x, in ? (const char *)in : "");
    case LWS_CALLBACK_HTTP_BODY:
        if (x->kind != HTTP_POST || x->body == NULL || in == NULL || len == 0)
            return 0; /* (an explicit Content-Length: 0 comes as one empty call) */
        if (len > x->bcap - x->blen)
            len = x->bcap - x->blen; /* lws stops at Content-Length; never past it */
        memcpy(x->body + x->blen, in, len);
        x->blen += len;
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (x->kind != HTTP_POST)
            return 0;
        return on_body_done(h, wsi, x);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (x->kind == HTTP_REPLY) {
            x->kind = HTTP_IDLE;
            if (hub_http_send(wsi, x->status, x->ctype, x->reply, x->rlen, 1))
                return -1;
            return hub_http_done(wsi);
        }
        if (x->kind == HTTP_GET && x->s)
            return answer_get(h, wsi, x);
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        detach(h, x, 1);
        return 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        detach(h, x, 0);
        return 0;
    default:
        return 0;
    }
}
