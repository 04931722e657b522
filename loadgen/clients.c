#include "clients.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlog.h"
#include "log.h"
#include "scan.h"
#include "wsclient.h"

#define SCAN_EVERY_US 5000
#define STOP_GRACE_US 2000000
#define FLUSH_EVERY_US 200000

enum cstate { CS_WAIT = 0, CS_CONNECTING, CS_OPEN, CS_DONE };

struct lg_client {
    uint32_t id;
    enum cstate state;
    struct wsc *ws;
    long long due_us;
    int attempts;
    int resuming;          /* sent since/epoch on this connection, awaiting _recovery */
    long long last_offset; /* -1 = no position yet */
    char epoch[64];
    const char *src;
    char path[512];
    uint64_t acks_at_open;
};

struct lg_thread {
    struct lg_clients *owner;
    pthread_t th;
    int started;
    struct wsc_pool *pool;
    struct hlog log;
    struct lg_client *clients;
    size_t n;
    uint64_t rng;
    _Atomic int stop;
    _Atomic uint64_t connected, opened, failed, dropped, frames, closed_expected, open_acks_sum;
};

struct lg_clients {
    const struct lg_config *cfg;
    _Atomic uint64_t *acks;
    struct lg_thread *threads;
    int nthreads;
};

int lg_scan_frame(const char *data, size_t len, struct lg_frame_fields *f)
{
    struct js_obj o, d;
    struct js_val k, v;
    long long data_offset = -1;
    const char *data_epoch = NULL;
    size_t data_epoch_len = 0;
    memset(f, 0, sizeof *f);
    f->offset = -1;
    f->recovered = -1;
    if (js_obj_open(&o, data, len) != 0)
        return -1;
    int rc;
    while ((rc = js_obj_next(&o, &k, &v)) == 1) {
        if (js_eq(&k, "event") && v.type == JS_STRING) {
            f->event = v.p;
            f->event_len = v.len;
        } else if (js_eq(&k, "offset")) {
            js_int(&v, &f->offset);
        } else if (js_eq(&k, "epoch") && v.type == JS_STRING) {
            f->epoch = v.p;
            f->epoch_len = v.len;
        } else if (js_eq(&k, "data") && js_obj_open_val(&d, &v) == 0) {
            while (js_obj_next(&d, &k, &v) == 1) {
                if (js_eq(&k, "req_id") && v.type == JS_STRING) {
                    f->req_id = v.p;
                    f->req_id_len = v.len;
                } else if (js_eq(&k, "pod") && v.type == JS_STRING) {
                    f->pod = v.p;
                    f->pod_len = v.len;
                } else if (js_eq(&k, "offset")) {
                    js_int(&v, &data_offset);
                } else if (js_eq(&k, "epoch") && v.type == JS_STRING) {
                    data_epoch = v.p;
                    data_epoch_len = v.len;
                } else if (js_eq(&k, "recovered")) {
                    f->recovered = v.type == JS_TRUE ? 1 : v.type == JS_FALSE ? 0 : -1;
                }
            }
        }
    }
    if (rc < 0)
        return -1;
    if (f->offset < 0)
        f->offset = data_offset;
    if (f->epoch == NULL) {
        f->epoch = data_epoch;
        f->epoch_len = data_epoch_len;
    }
    return 0;
}

static uint64_t rng_next(uint64_t *s)
{
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
    return d / 2 + (long long)(rng_next(&t->rng) % (uint64_t)(d / 2 + 1));
}

static void set_epoch(struct lg_client *c, const char *e, size_t n)
{
    if (n >= sizeof c->epoch)
        n = sizeof c->epoch - 1;
    memcpy(c->epoch, e, n);
    c->epoch[n] = '\0';
}

static void build_path(const struct lg_config *cfg, struct lg_client *c)
{
    int n = snprintf(c->path, sizeof c->path, "%s", cfg->ws_path);
    c->resuming = 0;
    if (!cfg->resume || c->last_offset < 0 || c->epoch[0] == '\0' || n < 0)
        return;
    char enc[3 * sizeof c->epoch];
    size_t k = 0;
    for (const char *p = c->epoch; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || ch == '-' ||
            ch == '_' || ch == '.')
            enc[k++] = (char)ch;
        else
            k += (size_t)sprintf(enc + k, "%%%02X", ch);
    }
    enc[k] = '\0';
    snprintf(c->path + n, sizeof c->path - (size_t)n, "%csince=%lld&epoch=%s",
             strchr(cfg->ws_path, '?') ? '&' : '?', c->last_offset, enc);
    c->resuming = 1;
}

static void start_connect(struct lg_thread *t, struct lg_client *c, long long now)
{
    const struct lg_config *cfg = t->owner->cfg;
    char err[160];
    build_path(cfg, c);
    struct wsc_options o = {
        .host = cfg->ws.host,
        .port = cfg->ws.port,
        .path = c->path,
        .source_ip = c->src,
        .host_header = *cfg->host_header ? cfg->host_header : NULL,
        .max_message = 1024 * 1024,
        .user = c,
    };
    c->state = CS_CONNECTING;
    c->ws = wsc_connect(t->pool, &o, err, sizeof err);
    if (c->ws == NULL) {
        hlog_begin(&t->log, now, "connect_fail");
        hlog_int(&t->log, "client", c->id);
        hlog_str(&t->log, "error", err, strlen(err));
        hlog_end(&t->log);
        atomic_fetch_add_explicit(&t->failed, 1, memory_order_relaxed);
        c->state = CS_WAIT;
        c->due_us = now + backoff_us(t, c);
    }
}

static void on_open(struct wsc *w, void *ud)
{
    struct lg_thread *t = ud;
    struct lg_client *c = wsc_user(w);
    long long now = lg_clock_us();
    c->state = CS_OPEN;
    c->attempts = 0;
    c->acks_at_open = atomic_load_explicit(t->owner->acks, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->open_acks_sum, c->acks_at_open, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->connected, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->opened, 1, memory_order_relaxed);
    hlog_begin(&t->log, now, "connect");
    hlog_int(&t->log, "client", c->id);
    if (c->src)
        hlog_str(&t->log, "src", c->src, strlen(c->src));
    if (c->resuming) {
        hlog_int(&t->log, "since", c->last_offset);
        hlog_str(&t->log, "epoch", c->epoch, strlen(c->epoch));
    }
    hlog_end(&t->log);
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
    } else if (f->event_len == 9 && memcmp(f->event, "_recovery", 9) == 0) {
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

static void on_message(struct wsc *w, const char *data, size_t len, int binary, void *ud)
{
    struct lg_thread *t = ud;
    struct lg_client *c = wsc_user(w);
    struct lg_frame_fields f;
    long long now = lg_clock_us();
    if (binary || lg_scan_frame(data, len, &f) != 0) {
        hlog_begin(&t->log, now, "junk");
        hlog_int(&t->log, "client", c->id);
        hlog_int(&t->log, "bytes", (long long)len);
        hlog_end(&t->log);
        return;
    }
    if (f.event_len > 0 && f.event[0] == '_') {
        on_control(t, c, &f, now);
        return;
    }
    atomic_fetch_add_explicit(&t->frames, 1, memory_order_relaxed);
    hlog_begin(&t->log, now, "frame");
    hlog_int(&t->log, "client", c->id);
    if (f.req_id)
        hlog_raw_str(&t->log, "req_id", f.req_id, f.req_id_len);
    if (f.offset >= 0)
        hlog_int(&t->log, "offset", f.offset);
    if (f.epoch)
        hlog_raw_str(&t->log, "epoch", f.epoch, f.epoch_len);
    if (f.pod)
        hlog_raw_str(&t->log, "pod", f.pod, f.pod_len);
    hlog_end(&t->log);
    if (f.epoch && f.offset >= 0) {
        if (f.epoch_len != strlen(c->epoch) || memcmp(f.epoch, c->epoch, f.epoch_len) != 0) {
            set_epoch(c, f.epoch, f.epoch_len);
            c->last_offset = f.offset;
        } else if (f.offset > c->last_offset) {
            c->last_offset = f.offset;
        }
    }
}

static void on_close(struct wsc *w, int code, const char *reason, void *ud)
{
    struct lg_thread *t = ud;
    struct lg_client *c = wsc_user(w);
    long long now = lg_clock_us();
    int stopping = atomic_load_explicit(&t->stop, memory_order_relaxed);
    if (c->state == CS_OPEN) {
        uint64_t acks = atomic_load_explicit(t->owner->acks, memory_order_relaxed);
        atomic_fetch_sub_explicit(&t->connected, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&t->open_acks_sum, c->acks_at_open, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->closed_expected, acks - c->acks_at_open,
                                  memory_order_relaxed);
        hlog_begin(&t->log, now, "disconnect");
        hlog_int(&t->log, "client", c->id);
        hlog_int(&t->log, "code", code);
        if (reason && *reason)
            hlog_str(&t->log, "reason", reason, strlen(reason));
        if (stopping)
            hlog_bool(&t->log, "final", 1);
        hlog_end(&t->log);
        if (!stopping)
            atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
    } else {
        hlog_begin(&t->log, now, "connect_fail");
        hlog_int(&t->log, "client", c->id);
        hlog_str(&t->log, "error", reason ? reason : "", reason ? strlen(reason) : 0);
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

static void *thread_main(void *arg)
{
    struct lg_thread *t = arg;
    const struct lg_config *cfg = t->owner->cfg;
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
                if (c->state != CS_WAIT)
                    continue;
                waiting = 1;
                if (c->due_us <= now && tokens >= 1) {
                    tokens -= 1;
                    start_connect(t, c, now);
                }
            }
            next_scan = now + SCAN_EVERY_US;
        }
        if (now >= next_flush) {
            (void)hlog_flush(&t->log);
            next_flush = now + FLUSH_EVERY_US;
        }
        /* Frames wake the loop at once; the timeout only paces connects and flushes. A short one
         * while clients wait to connect, else a long one: each turn polls every socket. */
        if (wsc_pool_service(t->pool, waiting ? 5 : 50) < 0) {
            LOG_ERROR("ws_loop_failed thread=%d", (int)(t - t->owner->threads));
            break;
        }
    }
    /* Stop: close what is open, let the close handshakes finish (bounded), then free. */
    for (size_t i = 0; i < t->n; i++)
        if (t->clients[i].ws)
            wsc_close(t->clients[i].ws, 1000, "loadgen done");
    long long deadline = lg_clock_us() + STOP_GRACE_US;
    while (wsc_pool_count(t->pool) > 0 && lg_clock_us() < deadline)
        if (wsc_pool_service(t->pool, 10) < 0)
            break;
    /* The pool is freed by lg_clients_stop after the join (its last on_close calls log). */
    return NULL;
}

struct lg_clients *lg_clients_start(const struct lg_config *cfg, int threads, int fd,
                                    _Atomic uint64_t *acks, char *err, size_t errlen)
{
    static const struct wsc_callbacks cb = {
        .on_open = on_open, .on_message = on_message, .on_close = on_close};
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
    long long now = lg_clock_us();
    for (int i = 0; i < threads; i++) {
        struct lg_thread *t = &cs->threads[i];
        t->owner = cs;
        t->rng =
            0x9e3779b97f4a7c15ULL ^ ((uint64_t)(i + 1) * 0x2545f4914f6cdd1dULL) ^ (uint64_t)now;
        t->n = (size_t)(cfg->clients / threads + (i < cfg->clients % threads));
        t->clients = calloc(t->n + 1, sizeof *t->clients);
        if (t->clients == NULL || hlog_init(&t->log, fd, 1 << 20) != 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        for (size_t k = 0; k < t->n; k++) {
            struct lg_client *c = &t->clients[k];
            c->id = (uint32_t)(k * (size_t)threads + (size_t)i);
            c->last_offset = -1;
            c->src = cfg->nips ? cfg->ips[c->id % cfg->nips] : NULL;
            c->due_us = now;
        }
        t->pool = wsc_pool_new((int)t->n + 1, &cb, t, err, errlen);
        if (t->pool == NULL)
            goto fail;
    }
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
        hlog_cleanup(&t->log);
        free(t->clients);
    }
    free(cs->threads);
    free(cs);
}
