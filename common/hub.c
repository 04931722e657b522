#include "hub.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "envelope.h"
#include "history.h"
#include "jsonx.h"
#include "log.h"

_Static_assert(FRAME_PRE >= LWS_PRE, "frame headroom must cover LWS_PRE");

#define HUB_TICK_MS 50
#define HUB_BATCH 64          /* frames written per writeable callback at most */
#define HUB_BATCH_BYTES 65536 /* and bytes: a client's backlog goes out in one send() */
#define HUB_CTRL_MAX 3

static const char *const default_paths[] = {"/websocket-service", "/", "/socket.io/", NULL};

struct hub_client {
    struct lws *wsi;
    struct hub_client *prev, *next; /* list of established clients */
    uint64_t cursor;    /* offset of the next event to send */
    uint64_t live_from; /* events before this are replay and do not count as lag */
    struct frame *ctrl[HUB_CTRL_MAX]; /* control frames to send before events */
    int nctrl;
    int established;
    int want_write; /* a writeable callback is already requested */
    int close_code; /* non-zero: close with this code once control frames are out */
    const char *close_reason;
    size_t rx_bytes; /* bytes of the message being received */
    int has_since;
    uint64_t since;
    char epoch[ENVELOPE_EPOCH_MAX + 1];
    char peer[48];
};

struct hub {
    struct hub_config cfg;
    const char *const *paths;
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    lws_retry_bo_t retry;
    lws_sorted_usec_list_t tick;
    int port;
    char epoch[ENVELOPE_EPOCH_MAX + 1];

    pthread_mutex_t lock; /* guards hist */
    struct history *hist;

    /* lws thread only */
    struct hub_client *clients;
    uint64_t nclients;
    volatile sig_atomic_t *stop_flag;
    int64_t stop_deadline_us;

    atomic_int stopping;
    unsigned char *batch; /* LWS_PRE + HUB_BATCH_BYTES scratch for coalesced sends (lws thread) */
    struct metrics *own_metrics;
    struct metric *m_clients, *m_conns, *m_events, *m_frames, *m_slow, *m_rejected,
        *m_replay_ok, *m_replay_fail;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void hub_config_defaults(struct hub_config *c)
{
    memset(c, 0, sizeof *c);
    c->port = 8080;
    c->history = 10000;
    c->max_clients = 15000;
    c->queue_limit = 1000;
    c->ping_interval_s = 25;
    c->max_message = 64 * 1024;
    c->drain_ms = 2000;
    c->name = "hub";
}

static void random_epoch(char *out, size_t outlen)
{
    unsigned char r[8];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = (uint64_t)now_us() ^ ((uint64_t)getpid() << 32);
        memcpy(r, &t, sizeof r);
    }
    snprintf(out, outlen, "%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5],
             r[6], r[7]);
}

static int path_accepted(const struct hub *h, const char *path)
{
    for (const char *const *p = h->paths; *p; p++)
        if (strcmp(*p, path) == 0)
            return 1;
    return 0;
}

/* Builds {"event":"<name>","data":<json>} as a control frame. */
static struct frame *control_frame(const char *name, json_t *data)
{
    json_t *o = json_pack("{s:s, s:O}", "event", name, "data", data);
    size_t len = 0;
    char *s = o ? jsonx_dump(o, &len) : NULL;
    json_decref(o);
    if (s == NULL)
        return NULL;
    struct frame *f = frame_from(s, len);
    free(s);
    return f;
}

static void client_queue_ctrl(struct hub_client *c, struct frame *f)
{
    if (f == NULL)
        return;
    if (c->nctrl >= HUB_CTRL_MAX) {
        frame_unref(f);
        return;
    }
    c->ctrl[c->nctrl++] = f;
}

static void client_unlink(struct hub *h, struct hub_client *c)
{
    if (!c->established)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->established = 0;
    h->nclients--;
    metric_set(h->m_clients, (int64_t)h->nclients);
    for (int i = 0; i < c->nctrl; i++)
        frame_unref(c->ctrl[i]);
    c->nctrl = 0;
}

static void parse_resume_args(struct lws *wsi, struct hub_client *c)
{
    char buf[128];
    const char *v = lws_get_urlarg_by_name(wsi, "since=", buf, (int)sizeof buf);
    if (v == NULL)
        return;
    char *end;
    unsigned long long s = strtoull(v, &end, 10);
    if (*v == '\0' || *end != '\0')
        return; /* a malformed since is treated as absent: the client gets live events */
    c->since = s;
    c->has_since = 1;
    v = lws_get_urlarg_by_name(wsi, "epoch=", buf, (int)sizeof buf);
    if (v && envelope_epoch_valid(v))
        snprintf(c->epoch, sizeof c->epoch, "%s", v);
}

static void client_established(struct hub *h, struct lws *wsi, struct hub_client *c)
{
    c->wsi = wsi;
    c->established = 1;
    c->next = h->clients;
    if (h->clients)
        h->clients->prev = c;
    h->clients = c;
    h->nclients++;
    metric_set(h->m_clients, (int64_t)h->nclients);
    metric_inc(h->m_conns);
    lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
    if (strncmp(c->peer, "::ffff:", 7) == 0) /* IPv4-mapped: log the IPv4 address */
        memmove(c->peer, c->peer + 7, strlen(c->peer + 7) + 1);

    if (atomic_load(&h->stopping)) {
        c->close_code = HUB_CLOSE_GOING_AWAY;
        c->close_reason = "going away";
    } else if (h->nclients > (uint64_t)h->cfg.max_clients) {
        metric_inc(h->m_rejected);
        c->close_code = HUB_CLOSE_FULL;
        c->close_reason = "server full";
    }

    pthread_mutex_lock(&h->lock);
    uint64_t last = history_last(h->hist);
    enum history_plan_result plan = HISTORY_RECOVERED;
    uint64_t from = last + 1;
    if (c->has_since)
        plan = history_plan(h->hist, c->epoch, c->since, &from);
    pthread_mutex_unlock(&h->lock);

    c->cursor = from;
    c->live_from = last + 1;
    json_t *d = json_pack("{s:I, s:s}", "offset", (json_int_t)last, "epoch", h->epoch);
    client_queue_ctrl(c, control_frame("_connected", d));
    json_decref(d);
    if (c->has_since) {
        int ok = plan == HISTORY_RECOVERED;
        metric_inc(ok ? h->m_replay_ok : h->m_replay_fail);
        d = json_pack("{s:b, s:s, s:s, s:I, s:I, s:I}", "recovered", ok, "reason",
                      history_plan_name(plan), "epoch", h->epoch, "since", (json_int_t)c->since,
                      "from", (json_int_t)from, "offset", (json_int_t)last);
        client_queue_ctrl(c, control_frame("_recovery", d));
        json_decref(d);
    }
    LOG_DEBUG("client_open hub=%s peer=%s since=%s%llu replay=%s clients=%llu", h->cfg.name,
              c->peer, c->has_since ? "" : "-", (unsigned long long)c->since,
              c->has_since ? history_plan_name(plan) : "none", (unsigned long long)h->nclients);
    c->want_write = 1;
    lws_callback_on_writable(wsi);
}

/* Closes a client from outside its own callback (the socket may be choked). */
static void client_kill(struct hub *h, struct hub_client *c, int code, const char *reason)
{
    (void)h;
    lws_close_reason(c->wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

/* Looks at every client: closes the slow ones, asks for a write where frames wait. */
static void sweep(struct hub *h)
{
    pthread_mutex_lock(&h->lock);
    uint64_t first = history_first(h->hist), last = history_last(h->hist);
    pthread_mutex_unlock(&h->lock);
    int stopping = atomic_load(&h->stopping);
    int64_t now = now_us();
    for (struct hub_client *c = h->clients, *nx; c; c = nx) {
        nx = c->next;
        if (c->close_code == -1)
            continue; /* already being killed */
        uint64_t base = c->cursor > c->live_from ? c->cursor : c->live_from;
        uint64_t lag = last + 1 > base ? last + 1 - base : 0;
        if (!stopping && (lag > (uint64_t)h->cfg.queue_limit || c->cursor < first)) {
            metric_inc(h->m_slow);
            LOG_INFO("slow_client_closed hub=%s peer=%s lag=%llu limit=%d", h->cfg.name, c->peer,
                     (unsigned long long)lag, h->cfg.queue_limit);
            c->close_code = -1;
            client_kill(h, c, HUB_CLOSE_SLOW, "slow client: queue limit exceeded");
            continue;
        }
        if (stopping && c->close_code == 0 &&
            (c->cursor > last || now >= h->stop_deadline_us)) {
            c->close_code = HUB_CLOSE_GOING_AWAY;
            c->close_reason = "going away";
        }
        if ((c->cursor <= last || c->nctrl > 0 || c->close_code > 0) && !c->want_write) {
            c->want_write = 1;
            lws_callback_on_writable(c->wsi);
        }
    }
}

static int client_writeable(struct hub *h, struct hub_client *c)
{
    struct lws *wsi = c->wsi;
    while (c->nctrl > 0) {
        struct frame *f = c->ctrl[0];
        size_t len = f->len;
        int n = lws_write(wsi, f->buf + FRAME_PRE, len, LWS_WRITE_TEXT);
        frame_unref(f);
        memmove(c->ctrl, c->ctrl + 1, sizeof c->ctrl[0] * (size_t)(--c->nctrl));
        if (n < (int)len)
            return -1;
        if (lws_send_pipe_choked(wsi)) {
            c->want_write = 1;
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    if (c->close_code > 0 && c->close_code != HUB_CLOSE_GOING_AWAY) {
        lws_close_reason(wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    /*
     * Events go out as pre-framed raw bytes: one frame is written straight from the shared
     * buffer, a backlog is copied into one batch and written with a single send(). lws keeps
     * any unsent tail in order and asks for another writeable callback itself.
     */
    struct frame *fs[HUB_BATCH];
    int nf = 0;
    size_t bytes = 0;
    pthread_mutex_lock(&h->lock);
    uint64_t last = history_last(h->hist);
    while (nf < HUB_BATCH) {
        struct frame *f = history_get(h->hist, c->cursor + (uint64_t)nf);
        if (f == NULL)
            break; /* caught up, or fell out of history (the sweep closes it) */
        if (nf > 0 && bytes + frame_wire_len(f) > HUB_BATCH_BYTES) {
            frame_unref(f);
            break;
        }
        bytes += frame_wire_len(f);
        fs[nf++] = f;
    }
    pthread_mutex_unlock(&h->lock);
    int rc = 0;
    if (nf == 1) {
        if (lws_write(wsi, (unsigned char *)frame_wire(fs[0]), bytes, LWS_WRITE_RAW) < (int)bytes)
            rc = -1;
    } else if (nf > 1) {
        unsigned char *p = h->batch + LWS_PRE;
        for (int i = 0; i < nf; i++) {
            memcpy(p, frame_wire(fs[i]), frame_wire_len(fs[i]));
            p += frame_wire_len(fs[i]);
        }
        if (lws_write(wsi, h->batch + LWS_PRE, bytes, LWS_WRITE_RAW) < (int)bytes)
            rc = -1;
    }
    for (int i = 0; i < nf; i++)
        frame_unref(fs[i]);
    if (rc < 0)
        return -1;
    c->cursor += (uint64_t)nf;
    if (nf)
        metric_add(h->m_frames, (uint64_t)nf);
    if (c->close_code == HUB_CLOSE_GOING_AWAY &&
        (c->cursor > last || now_us() >= h->stop_deadline_us)) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)"going away", 10);
        return -1;
    }
    if (c->cursor <= last || c->close_code > 0) {
        c->want_write = 1;
        lws_callback_on_writable(wsi);
    }
    return 0;
}

static int client_receive(struct hub *h, struct lws *wsi, struct hub_client *c, size_t len)
{
    if (lws_frame_is_binary(wsi)) {
        LOG_INFO("client_bad_input hub=%s peer=%s reason=binary_frame", h->cfg.name, c->peer);
        lws_close_reason(wsi, (enum lws_close_status)HUB_CLOSE_UNSUPPORTED,
                         (unsigned char *)"binary frames are not supported", 31);
        return -1;
    }
    c->rx_bytes += len;
    if (c->rx_bytes > h->cfg.max_message) {
        LOG_INFO("client_bad_input hub=%s peer=%s reason=message_too_big bytes=%zu", h->cfg.name,
                 c->peer, c->rx_bytes);
        lws_close_reason(wsi, (enum lws_close_status)HUB_CLOSE_TOO_BIG,
                         (unsigned char *)"message too big", 15);
        return -1;
    }
    if (lws_is_final_fragment(wsi))
        c->rx_bytes = 0; /* client messages carry nothing the hub acts on yet */
    return 0;
}

static int hub_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    struct hub *h = ctx ? lws_context_user(ctx) : NULL;
    struct hub_client *c = user;
    char buf[256];

    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        if (h && atomic_load(&h->stopping))
            return -1;
        return 0;
    case LWS_CALLBACK_HTTP:
        /* Plain HTTP on the websocket port: a health answer for probes, else a hint. */
        if (in && strcmp((const char *)in, "/healthz") == 0) {
            if (lws_return_http_status(wsi, HTTP_STATUS_OK, "ok"))
                return -1;
        } else if (lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST,
                                          "websocket upgrade required")) {
            return -1;
        }
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_GET_URI) <= 0 || !path_accepted(h, buf) ||
            atomic_load(&h->stopping)) {
            metric_inc(h->m_rejected);
            LOG_DEBUG("upgrade_refused hub=%s path=%s", h->cfg.name, buf);
            return -1;
        }
        if (c)
            parse_resume_args(wsi, c);
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        client_established(h, wsi, c);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c->established)
            return 0;
        c->want_write = 0;
        return client_writeable(h, c);
    case LWS_CALLBACK_RECEIVE:
        return client_receive(h, wsi, c, len);
    case LWS_CALLBACK_CLOSED:
        if (c) {
            LOG_DEBUG("client_closed hub=%s peer=%s", h->cfg.name, c->peer);
            client_unlink(h, c);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (h)
            sweep(h);
        return 0;
    default:
        return 0;
    }
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
    struct hub *h = lws_container_of(sul, struct hub, tick);
    if (h->stop_flag && *h->stop_flag && !atomic_load(&h->stopping))
        hub_stop(h);
    sweep(h);
    lws_sul_schedule(h->ctx, 0, &h->tick, tick_cb, HUB_TICK_MS * LWS_US_PER_MS);
}

static void lws_log_to_ours(int level, const char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level & LLL_ERR)
        LOG_WARN("lws_error text=\"%.*s\"", (int)n, line);
    else
        LOG_DEBUG("lws text=\"%.*s\"", (int)n, line);
}

static void register_metrics(struct hub *h, struct metrics *m)
{
    h->m_clients = metrics_add(m, METRIC_GAUGE, "ws_clients", NULL, "Websocket clients connected.");
    h->m_conns = metrics_add(m, METRIC_COUNTER, "ws_connections_total", NULL,
                             "Websocket connections accepted.");
    h->m_events = metrics_add(m, METRIC_COUNTER, "ws_events_published_total", NULL,
                              "Events published to the hub.");
    h->m_frames = metrics_add(m, METRIC_COUNTER, "ws_frames_out_total", NULL,
                              "Event frames written to clients.");
    h->m_slow = metrics_add(m, METRIC_COUNTER, "ws_slow_client_closes_total", NULL,
                            "Clients closed with 4008 for falling behind.");
    h->m_rejected = metrics_add(m, METRIC_COUNTER, "ws_rejected_total", NULL,
                                "Upgrades refused (bad path, full, stopping).");
    h->m_replay_ok = metrics_add(m, METRIC_COUNTER, "ws_replays_total", "result=\"recovered\"",
                                 "Reconnects with since/epoch, by outcome.");
    h->m_replay_fail = metrics_add(m, METRIC_COUNTER, "ws_replays_total", "result=\"not_recovered\"",
                                   "Reconnects with since/epoch, by outcome.");
}

struct hub *hub_new(const struct hub_config *cfg, char *err, size_t errlen)
{
    struct hub *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->cfg = *cfg;
    h->paths = cfg->paths ? cfg->paths : default_paths;
    if (cfg->epoch && envelope_epoch_valid(cfg->epoch))
        snprintf(h->epoch, sizeof h->epoch, "%s", cfg->epoch);
    else
        random_epoch(h->epoch, sizeof h->epoch);
    atomic_init(&h->stopping, 0);
    pthread_mutex_init(&h->lock, NULL);
    h->hist = history_new(cfg->history, h->epoch);
    h->batch = malloc(LWS_PRE + HUB_BATCH_BYTES);
    struct metrics *m = cfg->metrics;
    if (m == NULL)
        m = h->own_metrics = metrics_new();
    if (h->hist == NULL || m == NULL || h->batch == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    register_metrics(h, m);

    lws_set_log_level(LLL_ERR | (log_threshold <= LOG_LEVEL_DEBUG ? LLL_WARN : 0), lws_log_to_ours);
    h->protocols[0] = (struct lws_protocols){
        .name = "relaylab",
        .callback = hub_callback,
        .per_session_data_size = sizeof(struct hub_client),
        .rx_buffer_size = 1024, /* per-connection buffer: keep idle clients small */
        .tx_packet_size = HUB_BATCH_BYTES + 64, /* lws would chop sends at rx_buffer_size */
    };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = cfg->port;
    info.iface = (cfg->bind && *cfg->bind) ? cfg->bind : NULL;
    info.protocols = h->protocols;
    info.user = h;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
    info.timeout_secs = 10;
    if (cfg->ping_interval_s > 0) {
        h->retry.secs_since_valid_ping = (uint16_t)cfg->ping_interval_s;
        h->retry.secs_since_valid_hangup = (uint16_t)(cfg->ping_interval_s * 2 + 10);
        info.retry_and_idle_policy = &h->retry;
    }
    h->ctx = lws_create_context(&info);
    if (h->ctx == NULL) {
        snprintf(err, errlen, "cannot listen for websockets on %s:%d (address in use or not local?)",
                 info.iface ? info.iface : "*", cfg->port);
        goto fail;
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(h->ctx, "default");
    h->port = vh ? lws_get_vhost_listen_port(vh) : cfg->port;
    lws_sul_schedule(h->ctx, 0, &h->tick, tick_cb, HUB_TICK_MS * LWS_US_PER_MS);
    return h;
fail:
    history_free(h->hist);
    free(h->batch);
    metrics_free(h->own_metrics);
    pthread_mutex_destroy(&h->lock);
    free(h);
    return NULL;
}

void hub_free(struct hub *h)
{
    if (h == NULL)
        return;
    if (h->ctx)
        lws_context_destroy(h->ctx);
    pthread_mutex_lock(&h->lock);
    history_free(h->hist);
    pthread_mutex_unlock(&h->lock);
    pthread_mutex_destroy(&h->lock);
    metrics_free(h->own_metrics);
    free(h->batch);
    free(h);
}

int hub_port(const struct hub *h)
{
    return h->port;
}

const char *hub_epoch(const struct hub *h)
{
    return h->epoch;
}

void hub_stop(struct hub *h)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&h->stopping, &expected, 1)) {
        h->stop_deadline_us = now_us() + h->cfg.drain_ms * 1000;
        lws_cancel_service(h->ctx);
    }
}

int hub_run(struct hub *h, volatile sig_atomic_t *stop_flag)
{
    h->stop_flag = stop_flag;
    for (;;) {
        if (atomic_load(&h->stopping)) {
            if (h->nclients == 0 || now_us() > h->stop_deadline_us + 1000000)
                break;
        }
        if (lws_service(h->ctx, 0) < 0)
            return -1;
    }
    LOG_INFO("hub_stopped hub=%s clients_left=%llu", h->cfg.name, (unsigned long long)h->nclients);
    return 0;
}

uint64_t hub_publish(struct hub *h, const char *event, const char *data_json, size_t data_len)
{
    if (atomic_load(&h->stopping))
        return 0;
    pthread_mutex_lock(&h->lock);
    uint64_t off = history_next_offset(h->hist);
    struct frame *f = envelope_encode(event, data_json, data_len, off, h->epoch);
    if (f) {
        frame_seal_text(f);
        history_append(h->hist, f);
    }
    pthread_mutex_unlock(&h->lock);
    if (f == NULL)
        return 0;
    metric_inc(h->m_events);
    lws_cancel_service(h->ctx);
    return off;
}

void hub_stats(struct hub *h, struct hub_stats *out)
{
    memset(out, 0, sizeof *out);
    out->clients = (uint64_t)metric_get(h->m_clients);
    out->connections = (uint64_t)metric_get(h->m_conns);
    out->events = (uint64_t)metric_get(h->m_events);
    out->frames_out = (uint64_t)metric_get(h->m_frames);
    out->slow_closes = (uint64_t)metric_get(h->m_slow);
    out->rejected = (uint64_t)metric_get(h->m_rejected);
    out->replays_ok = (uint64_t)metric_get(h->m_replay_ok);
    out->replays_failed = (uint64_t)metric_get(h->m_replay_fail);
    pthread_mutex_lock(&h->lock);
    out->last_offset = history_last(h->hist);
    pthread_mutex_unlock(&h->lock);
}
