/*
 * hub_ping — websocket keepalive for plain clients (Socket.IO clients have Engine.IO's
 * heartbeat, hub_sio.c), driven by the sweep rather than by lws (lws service thread only).
 *
 * lws 4.1 keeps one "validity" timer per connection in a single sorted list and re-inserts
 * it at every connection and every pong: a walk over all the other connections each time
 * (half the relay's CPU in a 10,000-client connect storm, and a pong from every client every
 * ping interval after that). The hub turns lws's timer off (hub_new) and does the same
 * here with no list: a client silent for ping_interval gets a PING frame; one silent for
 * twice that plus 10 s is closed.
 */
#include "hub_impl.h"
#include "log.h"

struct frame *hub_ping_frame(void)
{
    /* The PING carries a payload: a client's PONG echoes it, and lws 4.1 hands the hub only
     * pongs that carry one (an empty PONG never reaches LWS_CALLBACK_RECEIVE_PONG), so an
     * empty PING's answer would not count and every receive-only client would be closed. */
    struct frame *f = frame_from("k", 1);
    if (f == NULL)
        return NULL;
    f->buf[FRAME_PRE - 2] = 0x89; /* FIN + PING, unmasked (server to client) */
    f->buf[FRAME_PRE - 1] = 0x01; /* payload length */
    f->hdr = 2;
    return f;
}

void hub_client_heard(struct hub_client *c)
{
    c->rx_at_us = hub_now_us();
    c->pinged = 0;
}

void hub_ping_check(struct hub *h, struct hub_client *c, int64_t now)
{
    int64_t every = (int64_t)h->cfg.ping_interval_ms * 1000;
    if (every <= 0 || h->ping == NULL)
        return;
    if (c->rx_at_us == 0)
        c->rx_at_us = now; /* joined: the clock starts */
    int64_t quiet = now - c->rx_at_us;
    if (quiet > 2 * every + 10000000) {
        LOG_INFO("client_ping_timeout hub=%s peer=%s quiet_ms=%lld", h->cfg.name, c->peer,
                 (long long)(quiet / 1000));
        hub_client_kill(c, HUB_END_PING_TIMEOUT, LWS_CLOSE_STATUS_GOINGAWAY, "no pong");
        return;
    }
    if (quiet >= every && !c->pinged) {
        c->pinged = 1;
        if (hub_send_frames(h, c, &h->ping, 1, frame_wire_len(h->ping)) != 0)
            hub_client_kill_write_failed(h, c, "ping");
    }
}
