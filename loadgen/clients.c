#include "clients.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients_impl.h"
#include "httpc.h"
#include "log.h"
#include "wsclient.h"

#define SCAN_EVERY_US 5000
#define STOP_GRACE_US 2000000
#define FLUSH_EVERY_US 200000
#define HTTP_MAX_BODY (4u << 20) /* a long-polling answer */

uint64_t lg_thread_rand(struct lg_thread *t)
{
    uint64_t *s = &t->rng;
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Full-range jitter over the upper half: delay in [d/2, d], d = min * 2^attempts capped. */
static long long backoff_us(struct lg_thread *t, struct lg_client *c)
{
    const struct lg_config *cfg = t->owner->cfg;
    long long d = cfg->reconnect_min_ms * 1000LL;
    for (int i = 0; i < c->attempts && d < cfg->reconnect_max_ms * 1000LL; i++)
        d *= 2;
    if (d > cfg->reconnect_max_ms * 1000LL)
        d = cfg->reconnect_max_ms * 1000LL;
    if (c->attempts < 30)
        c->attempts++;
    return d / 2 + (long long)(lg_thread_rand(t) % (uint64_t)(d / 2 + 1));
}

static void set_epoch(struct lg_client *c, const char *e, size_t n)
{
    if (n >= sizeof c->epoch)
        n = sizeof c->epoch - 1;
    memcpy(c->epoch, e, n);
    c->epoch[n] = '\0';
}

void lg_client_opened(struct lg_thread *t, struct lg_client *c, long long now,
                      const char *transport)
{
    c->state = CS_OPEN;
    c->attempts = 0;
    c->opened = 1;
    c->acks_at_open = atomic_load_explicit(t->owner->acks, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->open_acks_sum, c->acks_at_open, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->connected, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->opened, 1, memory_order_relaxed);
    hlog_begin(&t->log, now, "connect");
    hlog_int(&t->log, "client", c->id);
    if (c->src)
        hlog_str(&t->log, "src", c->src, strlen(c->src));
    if (*c->channel)
        hlog_str(&t->log, "channels", c->channel, strlen(c->channel));
    if (transport)
        hlog_str(&t->log, "transport", transport, strlen(transport));
    if (c->resuming && c->last_offset >= 0) {
        hlog_int(&t->log, "since", c->last_offset);
        hlog_str(&t->log, "epoch", c->epoch, strlen(c->epoch));
    }
    hlog_end(&t->log);
}

void lg_client_closed(struct lg_thread *t, struct lg_client *c, long long now, int code,
                      const char *reason, const char *stage)
{
    int stopping = atomic_load_explicit(&t->stop, memory_order_relaxed);
    if (reason == NULL)
        reason = "";
    if (c->state == CS_OPEN) {
        uint64_t acks = atomic_load_explicit(t->owner->acks, memory_order_relaxed);
        atomic_fetch_sub_explicit(&t->connected, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&t->open_acks_sum, c->acks_at_open, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->closed_expected, acks - c->acks_at_open,
                                  memory_order_relaxed);
        hlog_begin(&t->log, now, "disconnect");
        hlog_int(&t->log, "client", c->id);
        hlog_int(&t->log, "code", code);
        if (*reason)
            hlog_str(&t->log, "reason", reason, strlen(reason));
        if (stopping)
            hlog_bool(&t->log, "final", 1);
        hlog_end(&t->log);
        if (!stopping)
            atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
    } else {
        hlog_begin(&t->log, now, "connect_fail");
        hlog_int(&t->log, "client", c->id);
        hlog_str(&t->log, "error", reason, strlen(reason));
        if (stage)
            hlog_str(&t->log, "stage", stage, strlen(stage));
        if (stopping)
            hlog_bool(&t->log, "final", 1);
        hlog_end(&t->log);
        if (!stopping)
            atomic_fetch_add_explicit(&t->failed, 1, memory_order_relaxed);
    }
    c->ws = NULL;
    c->resuming = 0;
    c->state = stopping ? CS_DONE : CS_WAIT;
    c->due_us = now + backoff_us(t, c);
}

void lg_client_recovery(struct lg_thread *t, struct lg_client *c, int recovered, long long now)
{
    hlog_begin(&t->log, now, "recovery");
    hlog_int(&t->log, "client", c->id);
    hlog_bool(&t->log, "recovered", recovered);
    if (c->last_offset >= 0)
        hlog_int(&t->log, "since", c->last_offset);
    if (c->epoch[0])
        hlog_str(&t->log, "epoch", c->epoch, strlen(c->epoch));
    hlog_end(&t->log);
    c->resuming = 0;
}

static void on_control(struct lg_thread *t, struct lg_client *c, const struct lg_frame_fields *f,
                       long long now)
{
    if (f->event_len == 10 && memcmp(f->event, "_connected", 10) == 0) {
        hlog_begin(&t->log, now, "hello");
        hlog_int(&t->log, "client", c->id);
        hlog_int(&t->log, "offset", f->offset);
        if (f->epoch)
            hlog_raw_str(&t->log, "epoch", f->epoch, f->epoch_len);
        hlog_end(&t->log);
        /* A fresh client starts at the head; a resuming one waits for _recovery. */
        if (!c->resuming && f->epoch) {
            set_epoch(c, f->epoch, f->epoch_len);
            c->last_offset = f->offset;
        }
    } else if (f->event_len == 9 && memcmp(f->event, "_recovery", 9) == 0 && c->resuming) {
        /* Only the answer to this connection's own resume: one recovery record each. */
        hlog_begin(&t->log, now, "recovery");
        hlog_int(&t->log, "client", c->id);
        hlog_bool(&t->log, "recovered", f->recovered == 1);
        hlog_int(&t->log, "since", c->last_offset);
        hlog_int(&t->log, "offset", f->offset);
        if (f->epoch)
            hlog_raw_str(&t->log, "epoch", f->epoch, f->epoch_len);
        hlog_end(&t->log);
        if (f->recovered != 1 && f->epoch) {
            set_epoch(c, f->epoch, f->epoch_len);
            c->last_offset = f->offset;
        }
        c->resuming = 0;
    }
}

void lg_client_junk(struct lg_thread *t, struct lg_client *c, size_t bytes, long long now)
{
    hlog_begin(&t->log, now, "junk");
    hlog_int(&t->log, "client", c->id);
    hlog_int(&t->log, "bytes", (long long)bytes);
    hlog_end(&t->log);
}

void lg_client_event(struct lg_thread *t, struct lg_client *c, const struct lg_frame_fields *f,
                     long long now)
{
    const char *want = t->owner->cfg->event;
    if (f->event_len > 0 && f->event[0] == '_') {
        on_control(t, c, f, now);
        return;
    }
    if (*want && (f->event == NULL || f->event_len != strlen(want) ||
                  memcmp(f->event, want, f->event_len) != 0)) {
        /* Another event of the app: noted, not judged. */
        hlog_begin(&t->log, now, "other");
        hlog_int(&t->log, "client", c->id);
        if (f->event)
            hlog_raw_str(&t->log, "event", f->event, f->event_len);
        hlog_end(&t->log);
    } else {
        atomic_fetch_add_explicit(&t->frames, 1, memory_order_relaxed);
        hlog_begin(&t->log, now, "frame");
        hlog_int(&t->log, "client", c->id);
        if (f->req_id)
            hlog_raw_str(&t->log, "req_id", f->req_id, f->req_id_len);
        if (f->offset >= 0)
            hlog_int(&t->log, "offset", f->offset);
        if (f->epoch)
            hlog_raw_str(&t->log, "epoch", f->epoch, f->epoch_len);
        if (f->pod)
            hlog_raw_str(&t->log, "pod", f->pod, f->pod_len);
        if (f->channel)
            hlog_raw_str(&t->log, "channel", f->channel, f->channel_len);
        hlog_end(&t->log);
    }
    if (f->epoch && f->offset >= 0) {
        if (f->epoch_len != strlen(c->epoch) || memcmp(f->epoch, c->epoch, f->epoch_len) != 0) {
            set_epoch(c, f->epoch, f->epoch_len);
            c->last_offset = f->offset;
        } else if (f->offset > c->last_offset) {
            c->last_offset = f->offset;
        }
    }
}

/* ---------------------------------------------------------------- plain websocket clients */

/* Appends "[?&]key=value" to path, percent-encoding value. Returns the new length. */
static size_t add_query(char *path, size_t cap, size_t n, const char *key, const char *value)
{
    int w = snprintf(path + n, cap - n, "%c%s=", strchr(path, '?') ? '&' : '?', key);
    if (w < 0 || (size_t)w >= cap - n)
        return n;
    n += (size_t)w;
    for (const char *p = value; *p && n + 4 < cap; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || ch == '-' ||
            ch == '_' || ch == '.')
            path[n++] = (char)ch;
        else
            n += (size_t)snprintf(path + n, cap - n, "%%%02X", ch);
    }
    path[n] = '\0';
    return n;
}

/* PATH[?channels=C][&since=N&epoch=E]; sets c->resuming when it asks to resume. */
static void build_path(const struct lg_config *cfg, struct lg_client *c, char *path, size_t cap)
{
    int w = snprintf(path, cap, "%s", cfg->ws_path);
    size_t n = w < 0 ? 0 : (size_t)w;
    c->resuming = 0;
    if (*c->channel)
        n = add_query(path, cap, n, "channels", c->channel);
    if (!cfg->resume || c->last_offset < 0 || c->epoch[0] == '\0')
        return;
    char since[24];
    snprintf(since, sizeof since, "%lld", c->last_offset);
    n = add_query(path, cap, n, "since", since);
    add_query(path, cap, n, "epoch", c->epoch);
    c->resuming = 1;
}

static void plain_connect(struct lg_thread *t, struct lg_client *c, long long now)
{
    const struct lg_config *cfg = t->owner->cfg;
    char err[160], path[1024];
    build_path(cfg, c, path, sizeof path);
    struct wsc_options o = {
        .host = cfg->ws.host,
        .port = cfg->ws.port,
        .path = path,
        .source_ip = c->src,
        .host_header = *cfg->host_header ? cfg->host_header : NULL,
        .max_message = 1024 * 1024,
        .user = c,
    };
    c->state = CS_CONNECTING;
    c->ws = wsc_connect(t->pool, &o, err, sizeof err);
    if (c->ws == NULL)
        lg_client_closed(t, c, now, 0, err, NULL);
}

/* The server spoke (a frame, a PONG): the connection lives. */
static void heard(struct lg_client *c, long long now)
{
    c->heard_us = now;
    c->pinged_us = 0;
}

/*
 * The plain heartbeat (--ping-interval): behind a proxy a server that vanished (a partition,
 * a dead node) leaves the client's own TCP connection healthy, so only silence tells. A
 * server silent for the interval gets a PING; one still silent --ping-timeout after it is
 * taken for dead: the connection is dropped (1006 "ping timeout") and the client reconnects.
 */
static void plain_tick(struct lg_thread *t, struct lg_client *c, long long now)
{
    const struct lg_config *cfg = t->owner->cfg;
    if (c->ws == NULL || c->state != CS_OPEN)
        return;
    if (c->pinged_us == 0) {
        if (now - c->heard_us < cfg->ping_interval_ms * 1000LL)
            return;
        c->pinged_us = now;
        if (wsc_send_ping(c->ws, "lg", 2) != 0)
            wsc_abort(c->ws, "ping not sent");
    } else if (now - c->pinged_us >= cfg->ping_timeout_ms * 1000LL) {
        wsc_abort(c->ws, "ping timeout");
        c->pinged_us = now; /* abort once: on_close follows from the loop */
    }
}

static void on_open(struct wsc *w, void *ud)
{
    struct lg_thread *t = ud;
    struct lg_client *c = wsc_user(w);
    if (c->sio) {
        lg_sio_ws_open(t, c, w);
        return;
    }
    long long now = lg_clock_us();
    heard(c, now);
    lg_client_opened(t, c, now, NULL);
}

static void on_pong(struct wsc *w, void *ud)
{
    struct lg_client *c = wsc_user(w);
    (void)ud;
    if (!c->sio)
        heard(c, lg_clock_us());
}

static void on_message(struct wsc *w, const char *data, size_t len, int binary, void *ud)
{
    struct lg_thread *t = ud;
    struct lg_client *c = wsc_user(w);
    struct lg_frame_fields f;
    if (c->sio) {
        lg_sio_ws_message(t, c, w, data, len, binary);
        return;
    }
    long long now = lg_clock_us();
    heard(c, now);
    const struct lg_config *cfg = t->owner->cfg;
    if (binary ||
        lg_scan_frame_keys(data, len, cfg->id_path, cfg->event_key, cfg->data_key, &f) != 0)
        lg_client_junk(t, c, len, now);
    else
        lg_client_event(t, c, &f, now);
}

static void on_close(struct wsc *w, int code, const char *reason, void *ud)
{
    struct lg_thread *t = ud;
    struct lg_client *c = wsc_user(w);
    if (c->sio)
        lg_sio_ws_close(t, c, w, code, reason);
    else
        lg_client_closed(t, c, lg_clock_us(), code, reason, NULL);
}

/* ---------------------------------------------------------------- threads */

static void *thread_main(void *arg)
{
    struct lg_thread *t = arg;
    const struct lg_config *cfg = t->owner->cfg;
    int sio = cfg->protocol == LG_PROTO_SOCKETIO;
    /* Each thread gets its share of the connect rate, spent as a token bucket. */
    double per_us = (double)cfg->connect_rate / t->owner->nthreads / 1e6, tokens = 1;
    long long last = lg_clock_us(), next_scan = 0, next_flush = last + FLUSH_EVERY_US;
    int waiting = 1; /* clients waiting to (re)connect, as of the last scan */
    while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
        long long now = lg_clock_us();
        if (now >= next_scan) {
            tokens += (double)(now - last) * per_us;
            if (tokens > 64)
                tokens = 64;
            last = now;
            waiting = 0;
            for (size_t i = 0; i < t->n; i++) {
                struct lg_client *c = &t->clients[i];
                if (sio && c->state != CS_WAIT)
                    lg_sio_tick(t, c, now);
                else if (!sio && cfg->ping_interval_ms > 0 && c->state == CS_OPEN)
                    plain_tick(t, c, now);
                if (c->state != CS_WAIT)
                    continue;
                waiting = 1;
                /* A reconnect (attempts > 0, or a client that opened once) is paced by
                 * its own backoff alone when --no-reconnect-paced. */
                int paced = cfg->reconnect_paced || (!c->opened && c->attempts == 0);
                if (c->due_us <= now && (!paced || tokens >= 1)) {
                    if (paced)
                        tokens -= 1;
                    if (sio)
                        lg_sio_connect(t, c, now);
                    else
                        plain_connect(t, c, now);
                }
            }
            next_scan = now + SCAN_EVERY_US;
        }
        if (now >= next_flush) {
            (void)hlog_flush(&t->log);
            next_flush = now + FLUSH_EVERY_US;
        }
        /* Frames wake the loop at once; the timeout only paces connects, timeouts and
         * flushes. A short one while clients wait to connect, else a long one. */
        if (wsc_pool_service(t->pool, waiting ? 5 : sio ? 20 : 50) < 0) {
            LOG_ERROR("ws_loop_failed thread=%d", (int)(t - t->owner->threads));
            break;
        }
    }
    /* Stop: close what is open, let the close handshakes finish (bounded), then free. */
    long long now = lg_clock_us();
    for (size_t i = 0; i < t->n; i++) {
        if (sio)
            lg_sio_stop(t, &t->clients[i], now);
        else if (t->clients[i].ws)
            wsc_close(t->clients[i].ws, 1000, "loadgen done");
    }
    long long deadline = lg_clock_us() + STOP_GRACE_US;
    while ((wsc_pool_count(t->pool) > 0 || (t->http && hc_count(t->http) > 0)) &&
           lg_clock_us() < deadline)
        if (wsc_pool_service(t->pool, 10) < 0)
            break;
    /* The pool is freed by lg_clients_stop after the join (its last on_close calls log). */
    return NULL;
}

static int make_channels(struct lg_clients *cs, char *err, size_t errlen)
{
    const struct lg_config *cfg = cs->cfg;
    cs->channels = calloc((size_t)cfg->channels + 1, sizeof *cs->channels);
    if (cs->channels == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (long k = 0; k < cfg->channels; k++)
        snprintf(cs->channels[k], sizeof cs->channels[k], "%s%ld", cfg->channel_prefix, k);
    return 0;
}

static int thread_init(struct lg_clients *cs, struct lg_thread *t, int i, int threads, int fd,
                       long long now, char *err, size_t errlen)
{
    static const struct wsc_callbacks cb = {
        .on_open = on_open, .on_message = on_message, .on_close = on_close, .on_pong = on_pong};
    const struct lg_config *cfg = cs->cfg;
    int sio = cfg->protocol == LG_PROTO_SOCKETIO;
    t->owner = cs;
    t->rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)(i + 1) * 0x2545f4914f6cdd1dULL) ^ (uint64_t)now;
    t->n = (size_t)(cfg->clients / threads + (i < cfg->clients % threads));
    t->clients = calloc(t->n + 1, sizeof *t->clients);
    if (t->clients == NULL || hlog_init(&t->log, fd, 1 << 20) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t k = 0; k < t->n; k++) {
        struct lg_client *c = &t->clients[k];
        c->id = (uint32_t)(k * (size_t)threads + (size_t)i);
        c->last_offset = -1;
        c->src = cfg->nips ? cfg->ips[c->id % cfg->nips] : NULL;
        c->channel = cfg->channels > 0 ? cs->channels[c->id % (uint32_t)cfg->channels] : "";
        c->due_us = now;
        if (sio && lg_sio_init(c) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    /* A Socket.IO client may hold a websocket and two polling connections at once. */
    t->pool = wsc_pool_new((int)t->n * (sio ? 3 : 1) + 1, &cb, t, err, errlen);
    if (t->pool == NULL)
        return -1;
    if (sio && cfg->polling) {
        t->http = hc_ctx_new(wsc_pool_lws_context(t->pool), HTTP_MAX_BODY, err, errlen);
        if (t->http == NULL)
            return -1;
    }
    return 0;
}

struct lg_clients *lg_clients_start(const struct lg_config *cfg, int threads, int fd,
                                    _Atomic uint64_t *acks, char *err, size_t errlen)
{
    if (threads < 1)
        threads = 1;
    if (cfg->clients < threads)
        threads = cfg->clients > 0 ? (int)cfg->clients : 1;
    struct lg_clients *cs = calloc(1, sizeof *cs);
    if (cs == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cs->cfg = cfg;
    cs->acks = acks;
    cs->nthreads = threads;
    cs->threads = calloc((size_t)threads, sizeof *cs->threads);
    if (cs->threads == NULL) {
        snprintf(err, errlen, "out of memory");
        free(cs);
        return NULL;
    }
    if (make_channels(cs, err, errlen) != 0)
        goto fail;
    long long now = lg_clock_us();
    for (int i = 0; i < threads; i++)
        if (thread_init(cs, &cs->threads[i], i, threads, fd, now, err, errlen) != 0)
            goto fail;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&cs->threads[i].th, NULL, thread_main, &cs->threads[i]) != 0) {
            snprintf(err, errlen, "cannot start client thread %d", i);
            goto fail;
        }
        cs->threads[i].started = 1;
    }
    return cs;
fail:
    lg_clients_stop(cs);
    return NULL;
}

void lg_clients_totals(struct lg_clients *cs, struct lg_clients_totals *out)
{
    memset(out, 0, sizeof *out);
    uint64_t acks = atomic_load_explicit(cs->acks, memory_order_relaxed);
    for (int i = 0; i < cs->nthreads; i++) {
        struct lg_thread *t = &cs->threads[i];
        uint64_t conn = atomic_load_explicit(&t->connected, memory_order_relaxed);
        out->connected += conn;
        out->opened += atomic_load_explicit(&t->opened, memory_order_relaxed);
        out->failed += atomic_load_explicit(&t->failed, memory_order_relaxed);
        out->dropped += atomic_load_explicit(&t->dropped, memory_order_relaxed);
        out->frames += atomic_load_explicit(&t->frames, memory_order_relaxed);
        out->expected_approx += atomic_load_explicit(&t->closed_expected, memory_order_relaxed) +
                                conn * acks -
                                atomic_load_explicit(&t->open_acks_sum, memory_order_relaxed);
    }
}

void lg_clients_stop(struct lg_clients *cs)
{
    if (cs == NULL)
        return;
    for (int i = 0; i < cs->nthreads; i++) {
        atomic_store(&cs->threads[i].stop, 1);
        if (cs->threads[i].pool)
            wsc_pool_wake(cs->threads[i].pool);
    }
    for (int i = 0; i < cs->nthreads; i++) {
        struct lg_thread *t = &cs->threads[i];
        if (t->started)
            pthread_join(t->th, NULL);
        wsc_pool_free(t->pool); /* remaining clients get on_close: final records */
        hc_ctx_free(t->http);
        for (size_t k = 0; t->clients && k < t->n; k++)
            lg_sio_free(&t->clients[k]);
        hlog_cleanup(&t->log);
        free(t->clients);
    }
    free(cs->threads);
    free(cs->channels);
    free(cs);
}
