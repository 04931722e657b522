/*
 * hub_poll_req — the HTTP requests of the Socket.IO long-polling transport: the checks the
 * reference server makes (in its order), the handshake, holding a GET, receiving a POST and
 * acting on its packets, and connections that go away mid-request. Sessions and answers are
 * in hub_poll.c. lws service thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eio.h"
#include "eio_poll.h"
#include "hub_poll.h"
#include "log.h"

static void note_error(struct hub *h)
{
    metric_inc(h->polls->m_errors);
}

/* GET or POST without sid, transport=polling: a new session, answered with the open packet. */
static int handshake(struct hub *h, struct lws *wsi, struct hub_http *x)
{
    if (atomic_load(&h->stopping) || h->nclients >= (uint64_t)h->cfg.max_clients) {
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
    char *arg = malloc(4096);
    if (arg && hub_http_arg(wsi, "channels=", arg, 4096) && *arg) {
        s->c.want_chans = arg; /* joined at hub_client_join, as for a websocket */
        arg = malloc(4096);    /* the token is read into a buffer of its own */
    }
    if (h->cfg.auth && arg) {
        /* A token in the query (or an Authorization header) is checked now; without one, the
         * CONNECT auth {"token"} decides, as for a websocket. */
        const char *t = hub_http_arg(wsi, "token=", arg, 4096);
        if (t == NULL && lws_hdr_copy(wsi, arg, 4096, WSI_TOKEN_HTTP_AUTHORIZATION) > 7 &&
            strncasecmp(arg, "Bearer ", 7) == 0)
            t = arg + 7;
        if (t && hub_client_authenticate(h, &s->c, t, NULL, 0, NULL, 0) != 0) {
            free(arg);
            hub_client_release(&s->c);
            free(s);
            note_error(h);
            if (hub_http_error(wsi, EIO_ERR_FORBIDDEN, NULL))
                return -1;
            return hub_http_done(wsi);
        }
        s->c.authed = t != NULL;
    }
    free(arg);
    hub_sio_open(h, &s->c, 1);
    while (hub_poll_find(h, s->c.sid)) /* 120 random bits: a clash is a broken RNG */
        hub_sio_open(h, &s->c, 1);
    hub_client_link(h, &s->c);
    hub_poll_index(h->polls, s);
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
        hub_poll_end(s, HUB_END_PROTOCOL, "1", "concurrent GET");
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
        if (end_session) {
            hub_sio_refused(h);
            hub_poll_end(s, HUB_END_PROTOCOL, "1", detail);
        }
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
    const struct hub_file *f = hub_poll_file_at(h, path);
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
    if (!hub_origin_allowed(h, wsi)) {
        note_error(h);
        if (hub_http_error(wsi, EIO_ERR_FORBIDDEN, "origin not allowed"))
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
    struct hub_poll *s;
    r.session = hub_poll_session(h, r.sid, &s);
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
        hub_sio_refused(h);
        LOG_INFO("client_bad_input hub=%s peer=%s sid=%s reason=\"%s\"", h->cfg.name, s->c.peer,
                 s->c.sid, err);
        hub_poll_end(s, HUB_END_PROTOCOL, "1", err);
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
            /* A pending poll is released with noop. */
            hub_poll_end(s, HUB_END_CLIENT, "6", "client closed");
            break;
        }
        if (hub_sio_packet(h, &s->c, pkt, plen) != 0) {
            refused = 1; /* e.g. an event before joining "/": the session ends */
            snprintf(err, sizeof err, "packet %zu refused in this state; session closed", i);
            hub_poll_end(s, HUB_END_PROTOCOL, "1", err);
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
        hub_poll_end(s, HUB_END_DROPPED, "1", "poll connection closed");
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
            return hub_poll_answer_get(h, wsi, x);
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
