/*
 * hub_sio — the Socket.IO v5 (Engine.IO v4) side of a hub client, whatever its transport:
 * the Engine.IO session (sid, open packet, heartbeats driven by the server, the connect
 * timeout), the packets a Socket.IO client sends, joining namespace "/" with connection state
 * recovery (auth {pid, offset}, or the legacy {since, epoch}), and the checks of a websocket
 * upgrade on /socket.io/. Framing is in eio.c, the events a client emits in
 * hub_sio_events.c, long-polling in hub_poll*.c. lws service thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "eio.h"
#include "eio_poll.h"
#include "hub_poll.h"
#include "jsonx.h"
#include "log.h"

long hub_sio_ping_interval_ms(const struct hub *h)
{
    return h->cfg.ping_interval_ms > 0 ? h->cfg.ping_interval_ms : 25000L;
}

/* Socket.IO's defaults keep the timeout at 4/5 of the interval (25 s / 20 s). */
long hub_sio_ping_timeout_ms(const struct hub *h)
{
    long t = hub_sio_ping_interval_ms(h) * 4 / 5;
    return t < 1000 ? 1000 : t;
}

/* Socket.IO's connectTimeout: 45 s, or four heartbeats when those are shorter. */
static long connect_timeout_ms(const struct hub *h)
{
    long t = hub_sio_ping_interval_ms(h) * 4;
    return t < 45000 ? t : 45000;
}

/* 120 random bits as 20 characters of base64url, like the reference server's ids. */
static void random_id(char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[15];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = (uint64_t)hub_now_us();
        for (size_t i = 0; i < sizeof r; i++)
            r[i] = (unsigned char)(t >> (8 * (i % 8))) ^ (unsigned char)(i * 131);
    }
    for (int i = 0; i < 5; i++) {
        uint32_t v = (uint32_t)r[3 * i] << 16 | (uint32_t)r[3 * i + 1] << 8 | r[3 * i + 2];
        for (int k = 0; k < 4; k++)
            out[4 * i + k] = a[(v >> (18 - 6 * k)) & 63];
    }
    out[20] = '\0';
}

void hub_sio_open(struct hub *h, struct hub_client *c, int polling)
{
    random_id(c->sid);
    for (int i = 0; i < c->nctrl; i++)
        frame_unref(c->ctrl[i]);
    c->nctrl = 0;
    hub_queue_ctrl(c, eio_open(c->sid, polling, hub_sio_ping_interval_ms(h),
                               hub_sio_ping_timeout_ms(h), h->cfg.max_message));
    c->cursor = HUB_NOT_JOINED;
    c->live_from = HUB_NOT_JOINED;
    c->ping_at_us = c->sio_open_us = hub_now_us();
    if (!polling)
        hub_poll_ws_index(h, c);
}

struct frame *hub_sio_with_rooms(const struct hub_client *c, struct frame *f)
{
    if (f == NULL || c->sio_rooms == NULL)
        return f;
    struct frame *r = eio_event_rooms(f, c->sio_rooms);
    if (r == NULL)
        return f;
    frame_unref(f);
    return r;
}

/*
 * Records the client's rooms as they are now (they left those of its auth payload), so that
 * every offset it is sent from here on carries them and a recovery, on any relay, joins
 * exactly these. Socket.IO's own server keeps rooms per session; a relay keeps nothing per
 * client (over MongoDB, any relay may take the recovery): the client carries them.
 */
void hub_sio_record_rooms(struct hub_client *c)
{
    size_t cap = 1;
    for (uint32_t i = 0; c->chans && i < c->chans->n; i++)
        cap += strlen(c->chans->v[i].name) + 1;
    char *s = malloc(cap);
    if (s == NULL)
        return; /* the previous record stays: a recovery then joins those rooms */
    s[0] = '\0';
    for (uint32_t i = 0; c->chans && i < c->chans->n; i++) {
        if (i)
            strcat(s, ",");
        strcat(s, c->chans->v[i].name);
    }
    free(c->sio_rooms);
    c->sio_rooms = s;
}

struct frame *hub_sio_control_frame(const struct hub_client *c, const char *name,
                                    const json_t *data, const char *json, size_t len)
{
    /* The last argument says where the client stands (what it has been sent up to), so that
     * socket.io-client's offset is right even before the first event: on _connected of a
     * client that is not resuming (it starts at the newest offset), and on _recovery (the
     * replay starts at "from": recovered, in the client's own epoch; else in ours). */
    const json_t *off = NULL;
    const char *epoch = NULL;
    if (strcmp(name, "_connected") == 0 && !c->has_since) {
        off = json_object_get(data, "offset");
        epoch = json_string_value(json_object_get(data, "epoch"));
    } else if (strcmp(name, "_recovery") == 0) {
        off = json_object_get(data, "from");
        epoch = json_is_true(json_object_get(data, "recovered"))
                    ? c->epoch
                    : json_string_value(json_object_get(data, "epoch"));
    }
    if (!json_is_integer(off) || epoch == NULL || !envelope_epoch_valid(epoch))
        return eio_event(name, json, len, 0, NULL);
    json_int_t n = json_integer_value(off);
    if (strcmp(name, "_recovery") == 0)
        n--; /* from is the first offset to come: the client stands just before it */
    if (n < 0)
        return eio_event(name, json, len, 0, NULL);
    return hub_sio_with_rooms(c, eio_event(name, json, len, (uint64_t)n, epoch));
}

/* Socket.IO heartbeat: "2" every pingInterval; no "3" within pingTimeout closes the client. */
void hub_sio_heartbeat(struct hub *h, struct hub_client *c, int64_t now)
{
    if (c->probe)
        return;
    if (c->poll) {
        hub_poll_tick(h, c, now);
        if (c->close_code == -1)
            return;
    }
    if (c->cursor == HUB_NOT_JOINED && c->sio_open_us &&
        now - c->sio_open_us > connect_timeout_ms(h) * 1000) {
        LOG_INFO("sio_connect_timeout hub=%s peer=%s", h->cfg.name, c->peer);
        hub_client_kill(c, HUB_END_PROTOCOL, 1000, "no namespace joined");
        return;
    }
    if (c->awaiting_pong) {
        if (now - c->ping_at_us > hub_sio_ping_timeout_ms(h) * 1000) {
            LOG_INFO("sio_ping_timeout hub=%s peer=%s", h->cfg.name, c->peer);
            metric_inc(h->polls ? h->polls->m_ping_timeouts : NULL);
            hub_client_kill(c, HUB_END_PING_TIMEOUT, 1000, "ping timeout");
        }
    } else if (now - c->ping_at_us >= hub_sio_ping_interval_ms(h) * 1000 &&
               c->nctrl < HUB_CTRL_MAX) {
        hub_queue_ctrl(c, eio_ping());
        c->awaiting_pong = 1;
        c->ping_at_us = now;
        hub_want_write(c);
    }
}

/* Inserts f at position i of the control queue (the CONNECT answer goes before _connected). */
static void queue_ctrl_at(struct hub_client *c, int i, struct frame *f)
{
    if (f == NULL)
        return;
    if (c->nctrl >= HUB_CTRL_MAX || i > c->nctrl) {
        frame_unref(f);
        return;
    }
    memmove(c->ctrl + i + 1, c->ctrl + i, sizeof c->ctrl[0] * (size_t)(c->nctrl - i));
    c->ctrl[i] = f;
    c->nctrl++;
}

/* The CONNECT answer 40{"sid":..,"pid":..}: pid is the one the client asked to keep, or new. */
static struct frame *connect_answer(const char *keep_pid)
{
    char sid[24], pid[24];
    random_id(sid);
    random_id(pid);
    return eio_joined(sid, keep_pid && *keep_pid ? keep_pid : pid);
}

void hub_sio_recovery_decided(struct hub_client *c, int ok)
{
    if (c->sio_pid == NULL)
        return; /* answered already (no resume was asked) */
    hub_queue_ctrl(c, connect_answer(ok ? c->sio_pid : NULL));
    free(c->sio_pid);
    c->sio_pid = NULL;
}

/* {"channels":[...]} of the CONNECT auth: joined at hub_client_join, as ?channels= is. */
static void want_channels(struct hub_client *c, json_t *ch)
{
    if (!json_is_array(ch) || c->want_chans != NULL)
        return;
    size_t i, cap = 1;
    json_t *v;
    json_array_foreach(ch, i, v) cap += json_is_string(v) ? json_string_length(v) + 1 : 0;
    c->want_chans = calloc(1, cap);
    json_array_foreach(ch, i, v)
    {
        if (c->want_chans && json_is_string(v) && json_string_length(v) > 0) {
            if (*c->want_chans)
                strcat(c->want_chans, ",");
            /* The list is split on commas at join: a name with a comma must stay one
             * (invalid) name, not become two valid ones. A space keeps it invalid. */
            char *at = c->want_chans + strlen(c->want_chans);
            strcat(c->want_chans, json_string_value(v));
            for (; *at; at++)
                if (*at == ',')
                    *at = ' ';
        }
    }
}

/*
 * Joins namespace "/" with the CONNECT auth object: the resume point, the channels to join
 * ({"channels":[...]}, the client's rooms) and, with authentication on, the token
 * ({"token":".."}; a refused one gets the connect error 44{"message":"unauthorized"}).
 *
 * Recovery as Socket.IO 4.6+ does it: a client that sends {pid, offset} gets the same pid
 * back when the offset "EPOCH:N" can be replayed (socket.recovered is then true and exactly
 * the missed events follow), else a new pid and a _recovery event saying why. Only the
 * offset decides, never which relay issued the pid. The legacy {since, epoch} still works.
 * When a resume is asked, the CONNECT answer waits for the replay plan (over MongoDB the
 * store decides, later): hub_sio_recovery_decided() queues it just before _recovery.
 */
static void sio_join(struct hub *h, struct hub_client *c, const struct eio_sio *p)
{
    char pid[72] = "", err[64];
    const char *no_offset = NULL;
    json_t *a = p->plen ? jsonx_parse(p->payload, p->plen, 32, err, sizeof err) : NULL;
    json_t *jp = json_object_get(a, "pid"), *jo = json_object_get(a, "offset");
    free(c->sio_rooms); /* a join (again, after 41) starts from its own auth or offset */
    c->sio_rooms = NULL;
    if (jp != NULL && !json_is_null(jp) &&
        !(json_is_string(jp) && eio_pid_valid(json_string_value(jp))))
        no_offset = "bad_pid"; /* asked to recover: told why not, never a silent gap */
    if (json_is_string(jp) && eio_pid_valid(json_string_value(jp))) {
        snprintf(pid, sizeof pid, "%s", json_string_value(jp));
        char epoch[ENVELOPE_EPOCH_BUF], since[24];
        uint64_t n;
        size_t head = 0, rl = 0;
        const char *rooms = NULL;
        if (!json_is_string(jo)) {
            no_offset = "no_offset";
        } else if (eio_offset_rooms(json_string_value(jo), json_string_length(jo), &head, &rooms,
                                    &rl) != 0 ||
                   eio_offset_parse(json_string_value(jo), head, epoch, sizeof epoch, &n) != 0 ||
                   rl > HUB_CHANNELS_MAX * (ENVELOPE_CHANNEL_MAX + 1)) {
            no_offset = "bad_offset"; /* (no session of ours records more rooms than that) */
        } else {
            snprintf(since, sizeof since, "%llu", (unsigned long long)n);
            hub_client_set_resume(c, since, epoch);
            if (rooms) {
                /* The rooms the session was in, recorded in its offset: they replace the
                 * auth payload's (joined, and checked against the token, like those). */
                char *w = strndup(rooms, rl), *r = strndup(rooms, rl);
                if (w && r) {
                    free(c->want_chans);
                    free(c->sio_rooms);
                    c->want_chans = w;
                    c->sio_rooms = r;
                } else {
                    free(w);
                    free(r);
                }
            }
        }
    }
    json_t *s = json_object_get(a, "since"), *e = json_object_get(a, "epoch");
    if (!pid[0] && json_is_integer(s) && json_integer_value(s) >= 0) {
        char since[24];
        snprintf(since, sizeof since, "%lld", (long long)json_integer_value(s));
        hub_client_set_resume(c, since, json_is_string(e) ? json_string_value(e) : NULL);
    }
    if (h->cfg.auth && !c->authed) {
        json_t *t = json_object_get(a, "token");
        char code[48], msg[200];
        if (hub_client_authenticate(h, c, json_is_string(t) ? json_string_value(t) : NULL, code,
                                    sizeof code, msg, sizeof msg) != 0) {
            /* As a Socket.IO server middleware's next(err): connect_error on the client,
             * err.message the sentence, err.data.code the reason. */
            json_t *e = json_pack("{s:s, s:{s:s}}", "message", msg, "data", "code", code);
            size_t el = 0;
            char *es = e ? jsonx_dump(e, &el) : NULL;
            char *pkt = es ? malloc(el + 3) : NULL;
            struct frame *f = NULL;
            if (pkt) {
                memcpy(pkt, "44", 2);
                memcpy(pkt + 2, es, el);
                f = frame_from(pkt, el + 2);
            }
            free(pkt);
            free(es);
            json_decref(e);
            if (f)
                frame_seal_text(f);
            hub_queue_ctrl(c, f);
            c->close_code = HUB_CLOSE_UNAUTHORIZED;
            c->close_reason = "unauthorized";
            json_decref(a);
            return;
        }
        c->authed = 1;
    }
    want_channels(c, json_object_get(a, "channels"));
    json_decref(a);
    c->sio_open_us = 0; /* joined: the connect timeout is over */
    int at = c->nctrl;
    if (c->has_since) {
        free(c->sio_pid);
        c->sio_pid = strdup(pid); /* "" when no pid was asked: a new one then */
    }
    hub_client_join(h, c);
    if (!c->has_since) {
        /* Nothing to decide: the answer goes before _connected. */
        queue_ctrl_at(c, at, connect_answer(NULL));
        if (pid[0] || no_offset) {
            /* Asked to recover without a usable offset: say so, never a silent gap. */
            char ep[ENVELOPE_EPOCH_BUF];
            json_t *d = json_pack("{s:b, s:s, s:s, s:I}", "recovered", 0, "reason", no_offset,
                                  "epoch", hub_epoch(h, ep), "from", (json_int_t)c->cursor);
            hub_queue_ctrl(c, hub_control_frame(c, "_recovery", d));
            json_decref(d);
        }
    }
    LOG_DEBUG("sio_join hub=%s peer=%s sid=%s pid=%s resume=%d", h->cfg.name, c->peer, c->sid,
              pid[0] ? pid : "-", c->has_since);
}

/* Tells the websocket why it is being closed (a polling client is ended by the caller). */
static int close_ws(struct hub_client *c, enum hub_end end, int code, const char *why)
{
    if (c->end == HUB_END_DROPPED)
        c->end = end;
    if (c->wsi && !c->poll)
        lws_close_reason(c->wsi, (enum lws_close_status)code, (unsigned char *)why, strlen(why));
    return -1;
}

/* Refuses a packet: counted, logged; the caller closes the session (1008 on a websocket). */
void hub_sio_refused(struct hub *h)
{
    metric_inc(h->polls ? h->polls->m_pkt_refused : NULL);
}

static int refuse(struct hub *h, struct hub_client *c, const char *why)
{
    hub_sio_refused(h);
    LOG_INFO("client_bad_input hub=%s peer=%s reason=socketio_packet detail=\"%s\"", h->cfg.name,
             c->peer, why);
    return close_ws(c, HUB_END_PROTOCOL, LWS_CLOSE_STATUS_POLICY_VIOLATION, why);
}

int hub_sio_binary(struct hub *h, struct hub_client *c, size_t bytes, int end)
{
    if (c->probe || c->sio_attach <= 0)
        return refuse(h, c, "binary data without a binary packet announcing it");
    if (bytes > h->cfg.max_message) {
        hub_sio_refused(h);
        LOG_INFO("client_bad_input hub=%s peer=%s reason=message_too_big bytes=%zu", h->cfg.name,
                 c->peer, bytes);
        return close_ws(c, HUB_END_PROTOCOL, HUB_CLOSE_TOO_BIG, "message too big");
    }
    if (end)
        c->sio_attach--; /* dropped: the hub acts on no binary event */
    return 0;
}

int hub_sio_path(const char *path)
{
    return strncmp(path, "/socket.io/", 11) == 0 || strcmp(path, "/socket.io") == 0;
}

int hub_sio_packet(struct hub *h, struct hub_client *c, const char *in, size_t len)
{
    struct eio_sio p;
    enum eio_packet kind = eio_classify(in, len, &p);
    if (c->probe)
        return hub_poll_probe_packet(h, c, (int)kind);
    if (c->sio_attach > 0 && len > 0 && in[0] == '4') {
        /* The reference decoder refuses a Socket.IO packet while attachments are due (Engine.IO
         * packets, a pong, may come between). */
        return refuse(h, c, "a Socket.IO packet where a binary attachment was due");
    }
    switch (kind) {
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
        sio_join(h, c, &p);
        hub_want_write(c);
        return 0;
    case EIO_SIO_CONNECT_NSP:
        metric_inc(h->polls ? h->polls->m_pkt_nsp : NULL);
        hub_queue_ctrl(c, eio_namespace_refused(p.nsp, p.nsp_len, "Invalid namespace"));
        hub_want_write(c);
        return 0;
    case EIO_SIO_DISCONNECT:
        /* The client left "/": no more events. Its Engine.IO session stays until it closes it. */
        c->cursor = HUB_NOT_JOINED;
        c->live_from = HUB_NOT_JOINED;
        c->has_since = 0;
        return 0;
    case EIO_CLOSE:
        return close_ws(c, HUB_END_CLIENT, LWS_CLOSE_STATUS_NORMAL, "client left");
    case EIO_SIO_EVENT:
        if (c->cursor == HUB_NOT_JOINED)
            break; /* a packet for a namespace it has not joined */
        hub_sio_event(h, c, &p);
        return 0;
    case EIO_SIO_ACK:
        if (c->cursor == HUB_NOT_JOINED)
            break;
        metric_inc(h->polls ? h->polls->m_pkt_ignored : NULL);
        return 0; /* acks of events the hub never asks for: dropped */
    case EIO_SIO_BINARY_EVENT:
    case EIO_SIO_BINARY_ACK:
        if (c->cursor == HUB_NOT_JOINED)
            break;
        if (p.attachments > EIO_ATTACHMENTS_MAX)
            return refuse(h, c, "too many binary attachments");
        /* Its attachments follow (binary frames, or "b..." packets): each is dropped. */
        c->sio_attach = p.attachments;
        hub_sio_ignore_event(h, c, kind == EIO_SIO_BINARY_EVENT ? p.ack_id : -1, 1);
        return 0;
    case EIO_BINARY:
        return hub_sio_binary(h, c, 0, 1);
    case EIO_NOOP:
    case EIO_UPGRADE:
        return 0;
    case EIO_PING_PROBE:
    case EIO_INVALID:
        break;
    }
    return refuse(h, c, "not a Socket.IO packet");
}

/* Engine.IO query arguments of an upgrade request; 0 when none of EIO, transport, sid. */
static int engine_args(struct lws *wsi, char *eio, size_t el, char *transport, size_t tl, char *sid,
                       size_t sl, const char **pe, const char **pt, const char **ps)
{
    *pe = hub_http_arg(wsi, "EIO=", eio, el);
    *pt = hub_http_arg(wsi, "transport=", transport, tl);
    *ps = hub_http_arg(wsi, "sid=", sid, sl);
    return *pe || *pt || *ps;
}

int hub_sio_confirm_upgrade(struct hub *h, struct lws *wsi, const char *upgrade)
{
    char path[256], eio[8], transport[16], sid[64];
    const char *pe, *pt, *ps;
    if (strcmp(upgrade, "websocket") != 0 ||
        lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 || !hub_sio_path(path) ||
        h->polls == NULL ||
        !engine_args(wsi, eio, sizeof eio, transport, sizeof transport, sid, sizeof sid, &pe, &pt,
                     &ps))
        return 0; /* not Engine.IO: the upgrade filter decides as for any websocket */
    struct hub_poll *s;
    struct eio_request r = {.method = "GET",
                            .transport = pt,
                            .eio = pe,
                            .sid = ps,
                            .upgrade = 1,
                            .session = hub_poll_session(h, ps, &s)};
    enum eio_error e = eio_check_request(&r);
    if (e == EIO_ERR_NONE && (pt == NULL || strcmp(pt, "websocket") != 0))
        e = EIO_ERR_BAD_REQUEST; /* an upgrade to websocket must say transport=websocket */
    if (e == EIO_ERR_NONE)
        return 0;
    /* As the reference server aborts an upgrade: 400 with the message as text/html. */
    LOG_INFO("upgrade_refused hub=%s reason=engine_io code=%d eio=%s transport=%s sid=%s",
             h->cfg.name, (int)e, pe ? pe : "-", pt ? pt : "-", ps ? "yes" : "-");
    const char *msg = eio_error_message(e);
    if (hub_http_send(wsi, 400, "text/html", msg, strlen(msg), 0))
        return -1;
    return 1;
}

int hub_sio_filter(struct hub *h, struct lws *wsi, struct hub_client *c)
{
    (void)h;
    char eio[8], transport[16], sid[64];
    const char *pe, *pt, *ps;
    if (!engine_args(wsi, eio, sizeof eio, transport, sizeof transport, sid, sizeof sid, &pe, &pt,
                     &ps))
        return 0; /* a plain websocket client on /socket.io/ gets the plain frames */
    if (pe == NULL || strcmp(pe, "4") != 0 || pt == NULL || strcmp(pt, "websocket") != 0)
        return -1; /* hub_sio_confirm_upgrade answered it already */
    c->sio = 1;
    if (ps) {
        if (strlen(ps) >= sizeof c->sid)
            return -1;
        c->probe = 1; /* linked to its session once established */
        snprintf(c->sid, sizeof c->sid, "%s", ps);
    }
    return 0;
}
