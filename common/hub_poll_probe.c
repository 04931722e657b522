/*
 * hub_poll_probe — the upgrade of a Socket.IO polling session to websocket: the client opens
 * a websocket with ?sid=, sends "2probe" (answered "3probe"; a held GET is released with
 * "6"), then "5". At "5" the websocket takes over the session: the client's state (cursor,
 * queued control frames, heartbeat, everything the hub keeps per client) moves into the
 * websocket's per-session data and the client list is relinked, so not one event is sent
 * twice or skipped. lws service thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "eio.h"
#include "hub_poll.h"
#include "log.h"

int hub_poll_probe_established(struct hub *h, struct lws *wsi, struct hub_client *c)
{
    c->wsi = wsi;
    c->cursor = HUB_NOT_JOINED;
    c->live_from = HUB_NOT_JOINED;
    lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
    struct hub_poll *s = hub_poll_find(h, c->sid);
    if (s == NULL || s->dead || s->probe) {
        /* Gone since the upgrade request was checked, a second probe, or a second websocket
         * for a session that has one: the spec (and the reference server) close it. */
        LOG_DEBUG("sio_probe_refused hub=%s sid=%s", h->cfg.name, c->sid);
        c->probe = 0; /* not a probe of anything: CLOSED has nothing to undo */
        hub_sio_refused(h);
        static const char why[] = "not an upgradable session";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)why,
                         sizeof why - 1);
        return -1;
    }
    s->probe = c;
    s->probe_at_us = hub_now_us();
    c->upgrading = s;
    return 0;
}

void hub_poll_probe_closed(struct hub *h, struct hub_client *c)
{
    (void)h;
    struct hub_poll *s = c->upgrading;
    if (s && s->probe == c) {
        s->probe = NULL;
        s->upgrading = 0;
    }
    c->upgrading = NULL;
    for (int i = 0; i < c->nctrl; i++)
        frame_unref(c->ctrl[i]);
    c->nctrl = 0;
    hub_client_release(c);
}

/* "5": the websocket (c) takes over the polling session. */
static void take_over(struct hub *h, struct hub_client *c, struct hub_poll *s)
{
    struct lws *wsi = c->wsi;
    size_t rx = c->rx_bytes;
    int probe_nctrl = c->nctrl;
    struct frame *probe_ctrl[HUB_CTRL_MAX];
    memcpy(probe_ctrl, c->ctrl, sizeof probe_ctrl);
    /* A poll still held is released; nothing more is sent over polling. */
    if (s->get) {
        hub_http_defer(s->get, 200, "text/plain; charset=UTF-8", "6", 1);
        s->get = NULL;
    }
    if (s->post) {
        struct hub_http *x = lws_wsi_user(s->post);
        if (x)
            x->s = NULL;
        s->post = NULL;
    }
    hub_poll_unindex(s);
    hub_client_release(c); /* the probe's own (query channels, token grant) give way */
    *c = s->c;             /* the whole client state moves, whatever fields it has */
    c->wsi = wsi;
    c->poll = NULL;
    c->upgrading = NULL;
    c->probe = 0;
    c->want_write = 0;
    c->rx_bytes = rx;
    /* The probe's own unsent frames ("3probe") go first. */
    int keep = 0;
    for (int i = 0; i < probe_nctrl; i++) {
        if (keep + c->nctrl < HUB_CTRL_MAX)
            probe_ctrl[keep++] = probe_ctrl[i];
        else
            frame_unref(probe_ctrl[i]);
    }
    memmove(c->ctrl + keep, c->ctrl, sizeof c->ctrl[0] * (size_t)c->nctrl);
    memcpy(c->ctrl, probe_ctrl, sizeof c->ctrl[0] * (size_t)keep);
    c->nctrl += keep;
    /* The list node moves with it. */
    if (c->prev)
        c->prev->next = c;
    else
        h->clients = c;
    if (c->next)
        c->next->prev = c;
    memset(&s->c, 0, sizeof s->c); /* owns nothing now */
    free(s);
    c->sid_indexed = 0; /* (the polling session was not in the websocket index) */
    c->sid_next = NULL;
    hub_poll_ws_index(h, c);
    metric_inc(h->polls->m_upgrades);
    LOG_DEBUG("sio_upgraded hub=%s peer=%s sid=%s", h->cfg.name, c->peer, c->sid);
    hub_want_write(c);
}

int hub_poll_probe_packet(struct hub *h, struct hub_client *c, int packet)
{
    struct hub_poll *s = c->upgrading;
    if (s == NULL || s->dead)
        return -1;
    switch (packet) {
    case EIO_PING_PROBE:
        hub_queue_ctrl(c, eio_probe_answer());
        hub_want_write(c);
        s->upgrading = 1;
        hub_want_write(&s->c); /* a held GET is answered now, with "6" if nothing else */
        return 0;
    case EIO_UPGRADE:
        if (!s->upgrading)
            break;
        take_over(h, c, s);
        return 0;
    case EIO_NOOP:
        return 0;
    default:
        break;
    }
    /* Anything else on a probe ends the probe; the session goes on polling. */
    s->probe = NULL;
    s->upgrading = 0;
    c->upgrading = NULL;
    return -1;
}
