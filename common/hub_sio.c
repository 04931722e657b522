/*
 * hub_sio — the Socket.IO v4 (Engine.IO v4) side of a hub client: heartbeats driven by the
 * server and the packets a Socket.IO client sends. Framing itself is in eio.c. Runs on the
 * lws service thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eio.h"
#include "hub_impl.h"
#include "jsonx.h"
#include "log.h"

long hub_sio_ping_interval_ms(const struct hub *h)
{
    return h->cfg.ping_interval_s > 0 ? h->cfg.ping_interval_s * 1000L : 25000L;
}

/* Socket.IO's defaults keep the timeout at 4/5 of the interval (25 s / 20 s). */
long hub_sio_ping_timeout_ms(const struct hub *h)
{
    long t = hub_sio_ping_interval_ms(h) * 4 / 5;
    return t < 1000 ? 1000 : t;
}

/* Socket.IO heartbeat: "2" every pingInterval; no "3" within pingTimeout closes the client. */
void hub_sio_heartbeat(struct hub *h, struct hub_client *c, int64_t now)
{
    if (c->awaiting_pong) {
        if (now - c->ping_at_us > hub_sio_ping_timeout_ms(h) * 1000) {
            LOG_INFO("sio_ping_timeout hub=%s peer=%s", h->cfg.name, c->peer);
            hub_client_kill(c, 1000, "ping timeout");
        }
    } else if (now - c->ping_at_us >= hub_sio_ping_interval_ms(h) * 1000 &&
               c->nctrl < HUB_CTRL_MAX) {
        hub_queue_ctrl(c, eio_ping());
        c->awaiting_pong = 1;
        c->ping_at_us = now;
        hub_want_write(c);
    }
}

/* A complete Socket.IO packet from the client. Returns -1 to close the connection. */
int hub_sio_packet(struct hub *h, struct hub_client *c, const char *in, size_t len)
{
    const char *auth;
    size_t alen;
    switch (eio_classify(in, len, &auth, &alen)) {
    case EIO_PONG:
        c->awaiting_pong = 0;
        return 0;
    case EIO_PING:
        hub_queue_ctrl(c, eio_pong());
        hub_want_write(c);
        return 0;
    case EIO_SIO_CONNECT:
        if (c->cursor != HUB_NOT_JOINED)
            return 0; /* already joined */
        if (alen > 0) {
            /* socket.io-client's auth option may carry the resume point. */
            json_t *a = json_loadb(auth, alen, 0, NULL);
            json_t *s = json_object_get(a, "since"), *e = json_object_get(a, "epoch");
            char since[32];
            if (json_is_integer(s) && json_integer_value(s) >= 0) {
                snprintf(since, sizeof since, "%lld", (long long)json_integer_value(s));
                hub_client_set_resume(c, since, json_is_string(e) ? json_string_value(e) : NULL);
            }
            json_decref(a);
        }
        hub_queue_ctrl(c, eio_joined(c->sid));
        hub_client_join(h, c);
        hub_want_write(c);
        return 0;
    case EIO_SIO_CONNECT_NSP:
        hub_queue_ctrl(c, eio_namespace_refused(in + 2, len - 2, "Invalid namespace"));
        hub_want_write(c);
        return 0;
    case EIO_SIO_DISCONNECT:
    case EIO_CLOSE:
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"client left", 11);
        return -1;
    case EIO_SIO_EVENT:
    case EIO_NOOP:
        return 0; /* the hub only broadcasts; client events are read and dropped */
    case EIO_INVALID:
        break;
    }
    LOG_INFO("client_bad_input hub=%s peer=%s reason=socketio_packet", h->cfg.name, c->peer);
    lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                     (unsigned char *)"not a Socket.IO packet", 22);
    return -1;
}
