/*
 * client_sio — one loadgen client speaking Socket.IO v5 over Engine.IO v4, as the
 * unmodified socket.io-client does with default options:
 *   polling    GET  PATH?EIO=4&transport=polling            -> 0{"sid",...}   (handshake)
 *              POST ...&sid=S  40{auth}                     -> ok, then GET polls carry 40{sid,pid}
 *   upgrade    websocket ...&transport=websocket&sid=S: 2probe -> 3probe, wait for the
 *              GET and POST in flight to come back (the server releases the GET with 6),
 *              then 5 over the websocket; polling ends
 *   websocket  websocket PATH?EIO=4&transport=websocket     -> 0{...}, then 40{auth} -> 40{...}
 * Server pings (2) are answered (3); a session whose server stays silent longer than
 * pingInterval + pingTimeout is dropped. Every HTTP answer's Set-Cookie is kept and sent back
 * on the next requests and the upgrade. Reconnects send auth {pid, offset} (connection state
 * recovery) when the server gave a pid, else {since, epoch} (the relay's own resume), and
 * {channels:[C]} when the client joins a channel.
 * History: connect (when the CONNECT answer arrives), recovery, connect_fail (with stage),
 * transport_error (an HTTP error of a poll or post: status, Engine.IO code, message),
 * upgrade, upgrade_fail, and the event records of clients.c. The long-polling transport is in
 * client_sio_poll.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_sio.h"
#include "httpc.h"
#include "wsclient.h"

int lg_sio_init(struct lg_client *c)
{
    c->sio = calloc(1, sizeof *c->sio);
    if (c->sio == NULL)
        return -1;
    c->sio->c = c;
    ck_jar_init(&c->sio->jar);
    return 0;
}

void lg_sio_free(struct lg_client *c)
{
    if (c->sio == NULL)
        return;
    ck_jar_cleanup(&c->sio->jar);
    free(c->sio->outq);
    free(c->sio->early);
    free(c->sio);
    c->sio = NULL;
}

/* ---------------------------------------------------------------- records */

static void rec_upgrade(struct lg_sio *s, const char *error, long long now)
{
    struct hlog *h = &s->t->log;
    hlog_begin(h, now, error ? "upgrade_fail" : "upgrade");
    hlog_int(h, "client", s->c->id);
    if (error)
        hlog_str(h, "error", error, strlen(error));
    hlog_end(h);
}

/* ---------------------------------------------------------------- session end */

static void close_transports(struct lg_sio *s)
{
    hc_drop(&s->get);
    hc_drop(&s->post);
    if (s->ws)
        wsc_close(s->ws, 1000, "client left");
    s->ws = NULL;
    s->outq_len = 0;
    s->early_len = 0;
    s->probe = PR_NONE;
}

/* The session is over: records, then the reconnect is scheduled. */
void sio_session_end(struct lg_sio *s, int code, const char *reason, long long now)
{
    const char *stage = s->phase == SP_OPENING ? "handshake" : "connect";
    close_transports(s);
    s->phase = SP_IDLE;
    lg_client_closed(s->t, s->c, now, code, reason, stage);
}

/* Appends a packet to a 0x1e-separated buffer of at most limit bytes. Returns 0, or -1. */
static int append_packet(char **buf, size_t *len, size_t *cap, const char *pkt, size_t n,
                         size_t limit)
{
    size_t need = *len + n + 1;
    if (need > *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        while (c < need)
            c *= 2;
        char *q = c <= limit ? realloc(*buf, c) : NULL;
        if (q == NULL)
            return -1;
        *buf = q;
        *cap = c;
    }
    if (*len > 0)
        (*buf)[(*len)++] = 0x1e;
    memcpy(*buf + *len, pkt, n);
    *len += n;
    return 0;
}

/* Queues one packet on the transport in use. Returns 0, or -1 (session ended). */
int sio_send_packet(struct lg_sio *s, const char *pkt, size_t len)
{
    if (s->phase == SP_IDLE)
        return -1;
    if (s->transport == TR_WEBSOCKET) {
        if (s->ws && wsc_send_text(s->ws, pkt, len) == 0)
            return 0;
        sio_session_end(s, 1006, "websocket send queue full", lg_clock_us());
        return -1;
    }
    if (append_packet(&s->outq, &s->outq_len, &s->outq_cap, pkt, len, 1u << 20) != 0) {
        sio_session_end(s, 1006, "send buffer full", lg_clock_us());
        return -1;
    }
    sio_flush_out(s);
    return s->phase == SP_IDLE ? -1 : 0;
}

/* ---------------------------------------------------------------- packets */

void sio_send_connect(struct lg_sio *s)
{
    const struct lg_config *cfg = sio_cfg(s);
    struct lg_client *c = s->c;
    char pkt[1024];
    int pid = cfg->resume && s->pid[0];
    int legacy = cfg->resume && !pid && c->last_offset >= 0 && c->epoch[0];
    snprintf(s->sent_pid, sizeof s->sent_pid, "%s", pid ? s->pid : "");
    c->resuming = pid || legacy;
    long n = sio_connect_packet(pkt, sizeof pkt, c->channel, s->sent_pid, s->offset,
                                legacy ? c->last_offset : -1, c->epoch);
    if (n < 0) {
        sio_session_end(s, 0, "CONNECT packet does not fit", lg_clock_us());
        return;
    }
    s->phase = SP_JOINING;
    (void)sio_send_packet(s, pkt, (size_t)n);
}

static int is_lit(const char *p, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

static void on_event(struct lg_sio *s, const char *pkt, size_t len, long long now);

/* A CONNECT answer "0{...}" (the Socket.IO packet, after the Engine.IO '4'). */
static void on_joined(struct lg_sio *s, const char *json, size_t len, long long now)
{
    char sid[SIO_SID_MAX], pid[SIO_SID_MAX];
    if (s->phase != SP_JOINING)
        return;
    if (sio_parse_connect(json, len, sid, pid) != 0) {
        sio_session_end(s, 0, "malformed CONNECT answer", now);
        return;
    }
    s->phase = SP_JOINED;
    lg_client_opened(s->t, s->c, now, s->transport == TR_WEBSOCKET ? "websocket" : "polling");
    if (s->sent_pid[0])
        lg_client_recovery(s->t, s->c, strcmp(pid, s->sent_pid) == 0, now);
    if (!pid[0] || strcmp(pid, s->sent_pid) != 0)
        s->offset[0] = '\0'; /* a new recovery session: offsets start over */
    snprintf(s->pid, sizeof s->pid, "%s", pid);
    /* Events that arrived first (a recovery's replay) count from now on, in their order. */
    char *q = s->early;
    const char *p = q, *end = q + s->early_len, *pkt;
    size_t n;
    s->early = NULL;
    s->early_len = s->early_cap = 0;
    while (q && s->phase == SP_JOINED && sio_payload_next(&p, end, &pkt, &n))
        on_event(s, pkt, n, now);
    free(q);
}

static void on_event(struct lg_sio *s, const char *pkt, size_t len, long long now)
{
    struct lg_frame_fields f;
    struct lg_client *c = s->c;
    int rc = lg_scan_sio_event(pkt, len, sio_cfg(s)->id_path, &f);
    if (rc < 0) {
        lg_client_junk(s->t, c, len, now);
        return;
    }
    if (rc > 0)
        return;
    if (s->phase == SP_JOINING) {
        if (append_packet(&s->early, &s->early_len, &s->early_cap, pkt, len, 4u << 20) != 0)
            sio_session_end(s, 1006, "too many events before the CONNECT answer", now);
        return;
    }
    if (s->phase != SP_JOINED)
        return;
    if (f.sio_offset && f.sio_offset_len < sizeof s->offset) {
        memcpy(s->offset, f.sio_offset, f.sio_offset_len);
        s->offset[f.sio_offset_len] = '\0';
    }
    int fresh = !c->resuming;
    lg_client_event(s->t, c, &f, now);
    /* The relay's _connected names the head: a fresh session resumes from there. */
    if (fresh && is_lit(f.event, f.event_len, "_connected") && f.epoch && f.offset >= 0 &&
        !s->offset[0])
        snprintf(s->offset, sizeof s->offset, "%.*s:%lld", (int)f.epoch_len, f.epoch, f.offset);
}

/* One Socket.IO packet (inside an Engine.IO message). */
static void on_sio_packet(struct lg_sio *s, const char *p, size_t n, long long now)
{
    char msg[160];
    int code;
    switch (n ? p[0] : 0) {
    case '0':
        on_joined(s, p + 1, n - 1, now);
        break;
    case '1':
        if (n == 1 || p[1] == ',')
            sio_session_end(s, 1000, "server disconnect", now);
        break;
    case '2':
        on_event(s, p, n, now);
        break;
    case '3':
        break; /* an ack: loadgen asks for none */
    case '4':
        sio_parse_error(p + 1, n - 1, &code, msg, sizeof msg);
        {
            char why[200];
            snprintf(why, sizeof why, "connect_error: %s", msg);
            sio_session_end(s, 0, why, now);
        }
        break;
    default:
        lg_client_junk(s->t, s->c, n, now);
        break;
    }
}

/* One Engine.IO packet from either transport. Returns -1 when the session ended. */
static int on_packet(struct lg_sio *s, const char *p, size_t n, long long now)
{
    s->last_rx_us = now;
    switch (n ? p[0] : 0) {
    case '1':
        sio_session_end(s, 1000, "server closed the session", now);
        return -1;
    case '2':
        return sio_send_packet(s, "3", 1);
    case '3':
    case '5':
    case '6':
        return 0;
    case '4':
        on_sio_packet(s, p + 1, n - 1, now);
        return s->phase == SP_IDLE ? -1 : 0;
    case '0':
        if (s->phase == SP_OPENING && s->transport == TR_WEBSOCKET) {
            char err[120];
            if (sio_parse_open(p + 1, n - 1, &s->open, err, sizeof err) != 0) {
                sio_session_end(s, 0, err, now);
                return -1;
            }
            sio_send_connect(s);
            return s->phase == SP_IDLE ? -1 : 0;
        }
        return 0;
    default:
        lg_client_junk(s->t, s->c, n, now);
        return 0;
    }
}

/* A long-polling payload: packets separated by 0x1e. */
int sio_on_payload(struct lg_sio *s, const char *body, size_t len, long long now)
{
    const char *p = body, *end = body + len, *pkt;
    size_t n;
    while (sio_payload_next(&p, end, &pkt, &n))
        if (on_packet(s, pkt, n, now) < 0)
            return -1;
    return 0;
}

static void ws_cookie(struct wsc *w, const char *value, size_t len);

/* ---------------------------------------------------------------- upgrade */

static void probe_failed(struct lg_sio *s, const char *why, long long now)
{
    int was_pausing = s->probe == PR_PAUSING;
    rec_upgrade(s, why, now);
    if (s->ws)
        wsc_close(s->ws, 1000, "probe failed");
    s->ws = NULL;
    s->probe = PR_FAILED;
    if (was_pausing) {
        sio_flush_out(s);
        sio_poll_next(s);
    }
}

void sio_start_probe(struct lg_sio *s, long long now)
{
    const struct lg_config *cfg = sio_cfg(s);
    char path[1024], headers[CK_MAX_COOKIES * 64 + 16], cookie[CK_MAX_COOKIES * 64], err[160];
    long cl = cfg->cookies
                  ? ck_jar_header(&s->jar, cfg->ws_path, sio_wall_s(), cookie, sizeof cookie)
                  : 0;
    snprintf(headers, sizeof headers, "Cookie: %s\r\n", cl > 0 ? cookie : "");
    if (sio_path(path, sizeof path, cfg->ws_path, "websocket", s->open.sid, lg_thread_rand(s->t)) <
        0)
        return;
    struct wsc_options o = {
        .host = cfg->ws.host,
        .port = cfg->ws.port,
        .path = path,
        .source_ip = s->c->src,
        .host_header = *cfg->host_header ? cfg->host_header : NULL,
        .max_message = 4u << 20,
        .user = s->c,
        .headers = cl > 0 ? headers : NULL,
        .on_set_cookie = ws_cookie,
    };
    s->probe = PR_CONNECTING;
    s->probe_at_us = now;
    s->ws = wsc_connect(s->t->pool, &o, err, sizeof err);
    if (s->ws == NULL)
        probe_failed(s, err, now);
}

/* The probe answered and polling is paused: switch once nothing is in flight. */
void sio_finish_upgrade(struct lg_sio *s, long long now)
{
    if (s->probe != PR_PAUSING || hc_busy(&s->get) || hc_busy(&s->post))
        return;
    if (wsc_send_text(s->ws, "5", 1) != 0) {
        probe_failed(s, "cannot send the upgrade packet", now);
        return;
    }
    s->probe = PR_DONE;
    s->transport = TR_WEBSOCKET;
    hc_drop(&s->get);
    hc_drop(&s->post);
    rec_upgrade(s, NULL, now);
    /* What waited for the switch goes out on the websocket, one packet per message. */
    char *q = s->outq;
    const char *p = q, *end = q + s->outq_len, *pkt;
    size_t n;
    s->outq = NULL;
    s->outq_len = s->outq_cap = 0;
    while (q && sio_payload_next(&p, end, &pkt, &n))
        if (sio_send_packet(s, pkt, n) != 0)
            break;
    free(q);
}

/* ---------------------------------------------------------------- websocket transport */

void lg_sio_ws_open(struct lg_thread *t, struct lg_client *c, struct wsc *w)
{
    struct lg_sio *s = c->sio;
    (void)t;
    if (w != s->ws) {
        wsc_close(w, 1000, "stale");
        return;
    }
    if (s->transport == TR_POLLING && s->probe == PR_CONNECTING) {
        if (wsc_send_text(w, "2probe", 6) != 0)
            probe_failed(s, "cannot send the probe", lg_clock_us());
        else
            s->probe = PR_SENT;
    }
    /* websocket only: the server speaks first (its open packet). */
}

void lg_sio_ws_message(struct lg_thread *t, struct lg_client *c, struct wsc *w, const char *data,
                       size_t len, int binary)
{
    struct lg_sio *s = c->sio;
    long long now = lg_clock_us();
    if (w != s->ws)
        return;
    if (binary) {
        lg_client_junk(t, c, len, now);
        return;
    }
    if (s->transport == TR_POLLING) {
        /* The probe: only 3probe is expected; polling still carries everything else. */
        if (s->probe == PR_SENT && is_lit(data, len, "3probe")) {
            s->probe = PR_PAUSING;
            sio_finish_upgrade(s, now);
        } else if (s->probe == PR_SENT || s->probe == PR_CONNECTING) {
            probe_failed(s, "unexpected answer to the probe", now);
        }
        return;
    }
    (void)on_packet(s, data, len, now);
}

void lg_sio_ws_close(struct lg_thread *t, struct lg_client *c, struct wsc *w, int code,
                     const char *reason)
{
    struct lg_sio *s = c->sio;
    long long now = lg_clock_us();
    char why[200];
    (void)t;
    if (w != s->ws)
        return;
    s->ws = NULL;
    if (s->transport == TR_POLLING) {
        snprintf(why, sizeof why, "websocket %s: %s", code ? "closed" : "failed",
                 reason && *reason ? reason : "no reason");
        probe_failed(s, why, now);
        return;
    }
    sio_session_end(s, code ? code : 0, reason, now);
}

/* A Set-Cookie of a websocket upgrade's answer. */
static void ws_cookie(struct wsc *w, const char *value, size_t len)
{
    struct lg_client *c = wsc_user(w);
    if (c->sio && w == c->sio->ws && sio_cfg(c->sio)->cookies)
        (void)ck_jar_set(&c->sio->jar, value, len, sio_cfg(c->sio)->ws_path, sio_wall_s());
}

/* ---------------------------------------------------------------- driving */

void lg_sio_connect(struct lg_thread *t, struct lg_client *c, long long now)
{
    struct lg_sio *s = c->sio;
    const struct lg_config *cfg = t->owner->cfg;
    char err[160], path[1024];
    s->t = t;
    s->phase = SP_OPENING;
    s->probe = PR_NONE;
    s->outq_len = 0;
    s->sent_pid[0] = '\0';
    memset(&s->open, 0, sizeof s->open);
    s->deadline_us = now + CONNECT_TIMEOUT_US;
    s->post_at_us = 0;
    c->state = CS_CONNECTING;
    if (cfg->polling) {
        s->transport = TR_POLLING;
        sio_poll_handshake(s);
        return;
    }
    s->transport = TR_WEBSOCKET;
    if (sio_path(path, sizeof path, cfg->ws_path, "websocket", "", lg_thread_rand(t)) < 0) {
        sio_session_end(s, 0, "path too long", now);
        return;
    }
    char headers[CK_MAX_COOKIES * 64 + 16], cookie[CK_MAX_COOKIES * 64];
    long cl = cfg->cookies
                  ? ck_jar_header(&s->jar, cfg->ws_path, sio_wall_s(), cookie, sizeof cookie)
                  : 0;
    snprintf(headers, sizeof headers, "Cookie: %s\r\n", cl > 0 ? cookie : "");
    struct wsc_options o = {
        .host = cfg->ws.host,
        .port = cfg->ws.port,
        .path = path,
        .source_ip = c->src,
        .host_header = *cfg->host_header ? cfg->host_header : NULL,
        .max_message = 4u << 20,
        .user = c,
        .headers = cl > 0 ? headers : NULL,
        .on_set_cookie = ws_cookie,
    };
    s->ws = wsc_connect(t->pool, &o, err, sizeof err);
    if (s->ws == NULL)
        sio_session_end(s, 0, err, now);
}

void lg_sio_tick(struct lg_thread *t, struct lg_client *c, long long now)
{
    struct lg_sio *s = c->sio;
    (void)t;
    if (s->phase == SP_IDLE)
        return;
    if (s->phase != SP_JOINED && now > s->deadline_us) {
        sio_session_end(s, 0, s->phase == SP_OPENING ? "handshake timeout" : "CONNECT timeout",
                        now);
        return;
    }
    long long silence = (s->open.ping_interval_ms + s->open.ping_timeout_ms) * 1000LL;
    if (s->phase == SP_JOINED && silence > 0 && now - s->last_rx_us > silence) {
        sio_session_end(s, 1006, "ping timeout", now);
        return;
    }
    if (s->post_at_us && now - s->post_at_us > sio_cfg(s)->request_timeout_ms * 1000LL) {
        sio_rec_transport_error(s, "POST", 0, "", 0, "timeout", now);
        sio_session_end(s, 1006, "transport error: POST timeout", now);
        return;
    }
    if ((s->probe == PR_CONNECTING || s->probe == PR_SENT) &&
        now - s->probe_at_us > PROBE_TIMEOUT_US)
        probe_failed(s, "probe timeout", now);
}

void lg_sio_stop(struct lg_thread *t, struct lg_client *c, long long now)
{
    struct lg_sio *s = c->sio;
    if (s == NULL || s->phase == SP_IDLE) {
        return;
    }
    if (s->transport == TR_WEBSOCKET && s->ws && s->phase == SP_JOINED)
        (void)wsc_send_text(s->ws, "41", 2);
    (void)t;
    sio_session_end(s, 1000, "loadgen done", now);
}
