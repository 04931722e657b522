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

/* A Socket.IO frame built from text. */
static struct frame *sio_text(const char *text, size_t len)
{
    struct frame *f = frame_from(text, len);
    if (f)
        frame_seal_text(f);
    return f;
}

/*
 * CONNECT to "/" with an optional auth object: the resume point (since/epoch), the channels
 * to join ({"channels":[...]}, the client's rooms) and, with authentication on, the token
 * ({"token":"..."}). A refused token gets the Socket.IO connect error 44{"message":..}.
 */
static int sio_connect(struct hub *h, struct hub_client *c, const char *auth, size_t alen)
{
    json_t *a = alen > 0 ? json_loadb(auth, alen, 0, NULL) : NULL;
    json_t *s = json_object_get(a, "since"), *e = json_object_get(a, "epoch");
    char since[32];
    if (json_is_integer(s) && json_integer_value(s) >= 0) {
        snprintf(since, sizeof since, "%lld", (long long)json_integer_value(s));
        hub_client_set_resume(c, since, json_is_string(e) ? json_string_value(e) : NULL);
    }
    if (h->cfg.auth && !c->authed) {
        json_t *t = json_object_get(a, "token");
        if (hub_client_authenticate(h, c, json_is_string(t) ? json_string_value(t) : NULL) != 0) {
            static const char refused[] = "44{\"message\":\"unauthorized\"}";
            hub_queue_ctrl(c, sio_text(refused, sizeof refused - 1));
            c->close_code = HUB_CLOSE_UNAUTHORIZED;
            c->close_reason = "unauthorized";
            json_decref(a);
            hub_want_write(c);
            return 0;
        }
        c->authed = 1;
    }
    json_t *ch = json_object_get(a, "channels");
    if (json_is_array(ch) && c->want_chans == NULL) {
        /* Joined at hub_client_join, with the same checks as ?channels=. */
        size_t i, cap = 1;
        json_t *v;
        json_array_foreach(ch, i, v) cap += json_is_string(v) ? json_string_length(v) + 1 : 0;
        c->want_chans = calloc(1, cap);
        json_array_foreach(ch, i, v)
        {
            if (c->want_chans && json_is_string(v) && json_string_length(v) > 0) {
                if (*c->want_chans)
                    strcat(c->want_chans, ",");
                strcat(c->want_chans, json_string_value(v));
            }
        }
    }
    json_decref(a);
    hub_queue_ctrl(c, eio_joined(c->sid));
    hub_client_join(h, c);
    hub_want_write(c);
    return 0;
}

/*
 * 42["subscribe", "a" | ["a","b"]] or "unsubscribe", optionally with an ack id (42<id>[..]):
 * joins or leaves rooms (channels). The ack (43<id>[{ok,channels,refused}]) or, without one,
 * a _subscribed event tells the client where it stands. Other events are read and dropped:
 * the hub only broadcasts.
 */
static void sio_event(struct hub *h, struct hub_client *c, const char *in, size_t len)
{
    if (len < 3 || in[1] != '2' || c->cursor == HUB_NOT_JOINED)
        return;
    size_t p = 2;
    unsigned long ack = 0;
    int has_ack = 0;
    while (p < len && in[p] >= '0' && in[p] <= '9' && p < 12) {
        ack = ack * 10 + (unsigned long)(in[p++] - '0');
        has_ack = 1;
    }
    json_t *m = json_loadb(in + p, len - p, 0, NULL);
    const char *name = json_string_value(json_array_get(m, 0));
    int join = name && strcmp(name, "subscribe") == 0;
    if (!join && !(name && strcmp(name, "unsubscribe") == 0)) {
        json_decref(m);
        return;
    }
    json_t *arg = json_array_get(m, 1), *refused = json_array();
    const char *names[HUB_CHANNELS_MAX];
    size_t n = 0;
    if (json_is_string(arg)) {
        names[n++] = json_string_value(arg);
    } else if (json_is_array(arg)) {
        size_t i;
        json_t *v;
        json_array_foreach(arg, i, v)
        {
            if (n < HUB_CHANNELS_MAX && json_is_string(v))
                names[n++] = json_string_value(v);
            else
                json_array_append_new(refused,
                                      json_pack("{s:s, s:s}", "channel", "", "reason",
                                                n < HUB_CHANNELS_MAX ? "invalid" : "limit"));
        }
    }
    hub_client_channels(h, c, names, n, join, refused);
    if (has_ack) {
        json_t *r = json_pack("[{s:b, s:o, s:O}]", "ok", json_array_size(refused) == 0, "channels",
                              hub_client_channel_list(c), "refused", refused);
        size_t jl = 0;
        char *js = r ? jsonx_dump(r, &jl) : NULL;
        char *pkt = js ? malloc(jl + 24) : NULL;
        if (pkt) {
            int hl = snprintf(pkt, 24, "43%lu", ack);
            memcpy(pkt + hl, js, jl);
            hub_queue_ctrl(c, sio_text(pkt, (size_t)hl + jl));
        }
        free(pkt);
        free(js);
        json_decref(r);
        json_decref(refused);
    } else {
        hub_queue_subscribed(h, c, refused, hub_client_next_offset(h, c));
    }
    json_decref(m);
    hub_want_write(c);
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
        return sio_connect(h, c, auth, alen);
    case EIO_SIO_CONNECT_NSP:
        hub_queue_ctrl(c, eio_namespace_refused(in + 2, len - 2, "Invalid namespace"));
        hub_want_write(c);
        return 0;
    case EIO_SIO_DISCONNECT:
    case EIO_CLOSE:
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"client left", 11);
        return -1;
    case EIO_SIO_EVENT:
        sio_event(h, c, in, len);
        return 0;
    case EIO_NOOP:
        return 0;
    case EIO_INVALID:
        break;
    }
    LOG_INFO("client_bad_input hub=%s peer=%s reason=socketio_packet", h->cfg.name, c->peer);
    lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                     (unsigned char *)"not a Socket.IO packet", 22);
    return -1;
}
