#include "hub.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "eio.h"
#include "hub_impl.h"
#include "hub_poll.h"
#include "log.h"

_Static_assert(FRAME_PRE >= LWS_PRE, "frame headroom must cover LWS_PRE");

static const char *const default_paths[] = {"/websocket-service", "/", "/socket.io/", NULL};

void hub_config_defaults(struct hub_config *c)
{
    memset(c, 0, sizeof *c);
    c->port = 8080;
    c->history = 10000;
    c->max_clients = 15000;
    c->queue_limit = 1000;
    c->ping_interval_ms = 25000;
    c->max_message = 64 * 1024;
    c->drain_ms = 2000;
    c->name = "hub";
}

void hub_random_epoch(char *out, size_t outlen)
{
    unsigned char r[8];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = (uint64_t)hub_now_us() ^ ((uint64_t)getpid() << 32);
        memcpy(r, &t, sizeof r);
    }
    snprintf(out, outlen, "%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5],
             r[6], r[7]);
}

/*
 * Asks the lws thread for a sweep (any thread). Coalesced: while one is pending, more
 * publishes add no wake-up (the sweep clears the flag before it reads the history).
 */
static void hub_wake(struct hub *h)
{
    if (!atomic_exchange(&h->wake, 1))
        lws_cancel_service(h->ctx);
}

static int hub_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    struct hub *h = ctx ? lws_context_user(ctx) : NULL;
    struct hub_client *c = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        if (h && atomic_load(&h->stopping))
            return -1;
        return 0;
    case LWS_CALLBACK_HTTP:
        /* Engine.IO long-polling on /socket.io/ (hub_poll.c). */
        if (h && in && hub_poll_serves(h, (const char *)in))
            return hub_poll_http(h, wsi, (int)reason, user, in, len);
        /* Plain HTTP on the websocket port: a health answer for probes, else a hint. */
        if (in && strcmp((const char *)in, "/healthz") == 0) {
            if (lws_return_http_status(wsi, HTTP_STATUS_OK, "ok"))
                return -1;
        } else if (lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST,
                                          "websocket upgrade required")) {
            return -1;
        }
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    case LWS_CALLBACK_HTTP_WRITEABLE:
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        return h ? hub_poll_http(h, wsi, (int)reason, user, in, len) : 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* A page from a site not in --cors-origin: websockets have no CORS of their own
         * (cross-site websocket hijacking), so the Origin is checked here, with a 403. */
        if (h && !hub_origin_allowed(h, wsi)) {
            static const char msg[] = "origin not allowed";
            return hub_http_send(wsi, 403, "text/plain", msg, sizeof msg - 1, 0) ? -1 : 1;
        }
        return h && in ? hub_sio_confirm_upgrade(h, wsi, (const char *)in) : 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (hub_client_filter(h, wsi, c) != 0) {
            metric_inc(h->m_rejected);
            return -1;
        }
        /* lws writes the 101 next, then calls ESTABLISHED: held until the first frames are
         * written behind it, both go in one TCP segment instead of two (in a connect storm
         * each segment costs the relay a transmit and, on loopback, the client's receive). */
        hub_send_cork(wsi, 1);
        return 0;
    case LWS_CALLBACK_ESTABLISHED: {
        int rc = c->probe /* a websocket upgrading a Socket.IO polling session */
                     ? hub_poll_probe_established(h, wsi, c)
                     : hub_client_established(h, wsi, c);
        hub_send_cork(wsi, 0);
        return rc;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c->established && !c->probe)
            return 0;
        return hub_client_writeable(h, c);
    case LWS_CALLBACK_RECEIVE:
        hub_client_heard(c);
        return hub_client_receive(h, wsi, c, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        hub_client_heard(c);
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c && c->end == HUB_END_DROPPED)
            c->end = HUB_END_CLIENT;
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (c && c->probe) {
            hub_poll_probe_closed(h, c);
        } else if (c) {
            LOG_DEBUG("client_closed hub=%s peer=%s", h->cfg.name, c->peer);
            hub_poll_ws_unindex(h, c);
            hub_client_unlink(h, c);
            hub_client_release(c);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* lws also wakes the loop itself, once per accepted connection: sweep only when
         * hub_wake() asked (a 10,000-client connect storm made 10,000 sweeps of all). */
        if (h && atomic_exchange(&h->wake, 0)) {
            hub_take_fetches(h);
            hub_sweep(h);
        }
        return 0;
    default:
        return 0;
    }
}

/*
 * The tick sweeps for timers (pings, Socket.IO heartbeats and expiries, tokens, a drain)
 * when no publish made a sweep lately: every 50 ms while stopping, else every tenth of
 * the ping interval, at least once a second. A sweep walks every client: 10,000 idle
 * clients swept 20 times a second cost 4 % of a core doing nothing.
 */
static void tick_cb(lws_sorted_usec_list_t *sul)
{
    struct hub *h = lws_container_of(sul, struct hub, tick);
    if (h->stop_flag && *h->stop_flag && !atomic_load(&h->stopping))
        hub_stop(h);
    if (h->loop)
        hub_accept_tick(h);
    if (atomic_load(&h->stopping) || hub_now_us() >= h->timers_due_us)
        hub_sweep(h);
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
    h->m_origin_refused =
        metrics_add(m, METRIC_COUNTER, "ws_origin_refused_total", NULL,
                    "Upgrades and polling requests refused for their Origin (--cors-origin).");
    h->m_replay_ok = metrics_add(m, METRIC_COUNTER, "ws_replays_total", "result=\"recovered\"",
                                 "Reconnects with since/epoch, by outcome.");
    h->m_replay_fail =
        metrics_add(m, METRIC_COUNTER, "ws_replays_total", "result=\"not_recovered\"",
                    "Reconnects with since/epoch, by outcome.");
    h->m_unauth = metrics_add(m, METRIC_COUNTER, "ws_unauthorized_total", NULL,
                              "Clients refused for a missing or bad token.");
    h->m_chan_refused =
        metrics_add(m, METRIC_COUNTER, "ws_channel_refused_total", NULL,
                    "Channel joins refused (invalid, forbidden by the token, limit).");
    h->m_fetches = metrics_add(m, METRIC_COUNTER, "ws_replay_fetches_total", NULL,
                               "Replays beyond the memory ring asked of the store.");
    h->m_lag_max = metrics_add(m, METRIC_GAUGE, "ws_client_lag_max", NULL,
                               "Events the furthest-behind client has yet to receive.");
    h->m_lag_sum = metrics_add(m, METRIC_GAUGE, "ws_client_lag_sum", NULL,
                               "Events all clients together have yet to receive.");
    h->m_queued = metrics_add(m, METRIC_GAUGE, "ws_queued_frames", NULL,
                              "Frames held in clients' own queues (control, fetched replay).");
    h->m_sweeps = metrics_add(m, METRIC_COUNTER, "ws_sweeps_total", NULL,
                              "Walks over every client: one per batch of publishes, else for "
                              "timers (pings, expiries): about once a second when idle.");
    static const char *const ends[HUB_END_N] = {
        [HUB_END_DROPPED] = "reason=\"dropped\"",
        [HUB_END_CLIENT] = "reason=\"client\"",
        [HUB_END_SLOW] = "reason=\"slow\"",
        [HUB_END_PING_TIMEOUT] = "reason=\"ping_timeout\"",
        [HUB_END_WRITE_FAILED] = "reason=\"write_failed\"",
        [HUB_END_UNAUTHORIZED] = "reason=\"unauthorized\"",
        [HUB_END_FULL] = "reason=\"full\"",
        [HUB_END_STOPPING] = "reason=\"stopping\"",
        [HUB_END_PROTOCOL] = "reason=\"protocol\"",
    };
    for (int i = 0; i < HUB_END_N; i++)
        h->m_closes[i] = metrics_add(
            m, METRIC_COUNTER, "ws_client_closes_total", ends[i],
            "Clients whose connection ended (websocket and Socket.IO polling), by reason: client "
            "(it closed), dropped (gone without a close: reset, lost), slow (4008), ping_timeout, "
            "write_failed (a send failed), unauthorized (4401), full (1013), stopping (1001), "
            "protocol (bad input). Their sum is ws_connections_total - ws_clients.");
    h->m_helped = metrics_add(m, METRIC_COUNTER, "ws_fanout_helper_sends_total", NULL,
                              "Sends of events made by the sender threads (--send-threads), "
                              "not by the event loop.");
}

/*
 * The lws context on an epoll loop: lws's own loop is poll(), which scans every socket on
 * each wake-up (with 10,000 clients, for every event and every accepted connection). lws
 * drives a libev loop of ours through Debian's libwebsockets-evlib-ev plugin; the loop is
 * "foreign" so hub_run() can run it one iteration at a time and stop. Without the plugin,
 * lws's poll() loop is used.
 */
static struct lws_context *create_context(struct hub *h, struct lws_context_creation_info *info)
{
    h->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (h->loop != NULL) {
        void *loops[1] = {h->loop};
        int port = info->port;
        info->options |= LWS_SERVER_OPTION_LIBEV;
        info->foreign_loops = loops;
        info->port = CONTEXT_PORT_NO_LISTEN_SERVER; /* the hub listens (hub_accept.c) */
        struct lws_context *ctx = lws_create_context(info);
        info->options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
        info->foreign_loops = NULL;
        info->port = port;
        if (ctx != NULL)
            return ctx;
        ev_loop_destroy(h->loop);
        h->loop = NULL;
        LOG_WARN("hub_event_loop hub=%s loop=poll reason=\"no epoll event loop: is "
                 "libwebsockets-evlib-ev installed?\"",
                 h->cfg.name);
    }
    return lws_create_context(info);
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
    char epoch[ENVELOPE_EPOCH_BUF];
    if (cfg->epoch && envelope_epoch_valid(cfg->epoch))
        snprintf(epoch, sizeof epoch, "%s", cfg->epoch);
    else
        hub_random_epoch(epoch, sizeof epoch);
    if (h->cfg.max_channels <= 0)
        h->cfg.max_channels = 32;
    if (h->cfg.max_channels > HUB_CHANNELS_MAX)
        h->cfg.max_channels = HUB_CHANNELS_MAX;
    atomic_init(&h->stopping, 0);
    atomic_init(&h->stop_deadline_us, 0);
    atomic_init(&h->wake, 0);
    pthread_mutex_init(&h->lock, NULL);
    h->next_ticket = 1;
    h->hist = history_new(cfg->history, epoch, cfg->first_offset);
    h->batch = malloc(LWS_PRE + HUB_BATCH_BYTES);
    h->ping = hub_ping_frame();
    struct metrics *m = cfg->metrics;
    if (m == NULL)
        m = h->own_metrics = metrics_new();
    if (h->hist == NULL || m == NULL || h->batch == NULL || h->ping == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    register_metrics(h, m);
    if (hub_poll_init(h, m) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (cfg->send_threads > 0 && (h->fanout = hub_fanout_new(cfg->send_threads)) == NULL) {
        snprintf(err, errlen, "cannot start %d sender threads", cfg->send_threads);
        goto fail;
    }

    lws_set_log_level(LLL_ERR | (log_threshold <= LOG_LEVEL_DEBUG ? LLL_WARN : 0), lws_log_to_ours);
    h->protocols[0] = (struct lws_protocols){
        .name = "relaylab",
        .callback = hub_callback,
        .per_session_data_size = sizeof(struct hub_client),
        /* Per-connection receive buffer: clients send little (pongs, "3", a subscribe), and
         * hub_client_receive() gathers a longer message from the pieces lws hands over. */
        .rx_buffer_size = 256,
        .tx_packet_size = HUB_BATCH_BYTES + 64, /* lws would chop sends at rx_buffer_size */
    };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = cfg->port;
    info.iface = (cfg->bind && *cfg->bind) ? cfg->bind : NULL;
    info.protocols = h->protocols;
    info.user = h;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
    info.timeout_secs = 10;
    /* A policy of zeros turns lws's per-connection validity timer off (its default would
     * ping after 300 s): the sweep pings idle clients instead (hub_ping.c). */
    info.retry_and_idle_policy = &h->retry;
    h->ctx = create_context(h, &info);
    if (h->ctx == NULL) {
        snprintf(err, errlen,
                 "cannot listen for websockets on %s:%d (address in use or not local?)",
                 info.iface ? info.iface : "*", cfg->port);
        goto fail;
    }
    if (h->loop != NULL) {
        char why[128];
        if (hub_accept_start(h, why, sizeof why) != 0) {
            snprintf(err, errlen, "cannot listen for websockets on %s:%d: %s",
                     info.iface ? info.iface : "*", cfg->port, why);
            goto fail;
        }
    } else {
        struct lws_vhost *vh = lws_get_vhost_by_name(h->ctx, "default");
        h->port = vh ? lws_get_vhost_listen_port(vh) : cfg->port;
    }
    lws_sul_schedule(h->ctx, 0, &h->tick, tick_cb, HUB_TICK_MS * LWS_US_PER_MS);
    return h;
fail:
    hub_fanout_free(h->fanout);
    hub_poll_free(h);
    if (h->ctx)
        lws_context_destroy(h->ctx);
    if (h->loop)
        ev_loop_destroy(h->loop);
    history_free(h->hist);
    free(h->batch);
    frame_unref(h->ping);
    metrics_free(h->own_metrics);
    pthread_mutex_destroy(&h->lock);
    free(h);
    return NULL;
}

void hub_free(struct hub *h)
{
    if (h == NULL)
        return;
    if (h->loop)
        hub_accept_stop(h);
    hub_poll_free(h); /* polling sessions first: they point at lws connections */
    if (h->ctx)
        lws_context_destroy(h->ctx);
    if (h->loop)
        ev_loop_destroy(h->loop);
    pthread_mutex_lock(&h->lock);
    history_free(h->hist);
    pthread_mutex_unlock(&h->lock);
    while (h->results) {
        struct hub_fetch_result *r = h->results;
        h->results = r->next;
        for (size_t i = 0; i < r->n; i++)
            frame_unref(r->frames[i]);
        free(r->frames);
        free(r);
    }
    pthread_mutex_destroy(&h->lock);
    metrics_free(h->own_metrics);
    free(h->batch);
    frame_unref(h->ping);
    frame_unref(h->connected);
    hub_fanout_free(h->fanout);
    free(h->push);
    free(h->jobs);
    free(h);
}

int hub_port(const struct hub *h)
{
    return h->port;
}

const char *hub_epoch(struct hub *h, char buf[ENVELOPE_EPOCH_BUF])
{
    pthread_mutex_lock(&h->lock);
    snprintf(buf, ENVELOPE_EPOCH_BUF, "%s", history_epoch(h->hist));
    pthread_mutex_unlock(&h->lock);
    return buf;
}

struct frame *hub_encode(const char *event, const char *channel, const char *data_json,
                         size_t data_len, uint64_t offset, const char *epoch)
{
    struct frame *f = envelope_encode(event, channel, data_json, data_len, offset, epoch);
    if (f == NULL)
        return NULL;
    frame_seal_text(f);
    f->alt = eio_event(event, data_json, data_len, offset, epoch);
    if (f->alt == NULL) {
        frame_unref(f);
        return NULL;
    }
    return f;
}

uint64_t hub_last_offset(struct hub *h)
{
    pthread_mutex_lock(&h->lock);
    uint64_t last = history_last(h->hist);
    pthread_mutex_unlock(&h->lock);
    return last;
}

int hub_append(struct hub *h, const char *epoch, struct frame *f)
{
    if (atomic_load(&h->stopping)) {
        frame_unref(f);
        return -1;
    }
    pthread_mutex_lock(&h->lock);
    int rc;
    if (strcmp(history_epoch(h->hist), epoch) != 0) {
        frame_unref(f);
        rc = -1;
    } else {
        rc = history_append_at(h->hist, f) == 0 ? 0 : 1;
    }
    pthread_mutex_unlock(&h->lock);
    if (rc == 0) {
        metric_inc(h->m_events);
        hub_wake(h);
    }
    return rc;
}

void hub_set_fetcher(struct hub *h, hub_fetch_fn fn, void *ud)
{
    h->fetch = fn;
    h->fetch_ud = ud;
}

void hub_fetch_done(struct hub *h, uint64_t ticket, enum hub_fetch_status st, struct frame **frames,
                    size_t n)
{
    struct hub_fetch_result *r = calloc(1, sizeof *r);
    if (r == NULL) {
        for (size_t i = 0; i < n; i++)
            frame_unref(frames[i]);
        free(frames);
        return; /* the client stays parked until it reconnects: memory is gone anyway */
    }
    r->ticket = ticket;
    r->st = st;
    r->frames = frames;
    r->n = n;
    pthread_mutex_lock(&h->lock);
    r->next = h->results;
    h->results = r;
    pthread_mutex_unlock(&h->lock);
    hub_wake(h);
}

void hub_stop(struct hub *h)
{
    /* The deadline is in place before `stopping` says so: the service thread, seeing
     * stopping with a deadline of 0, would skip the drain (hub_stop may run on any thread). */
    int64_t none = 0, deadline = hub_now_us() + h->cfg.drain_ms * 1000;
    if (atomic_compare_exchange_strong(&h->stop_deadline_us, &none, deadline)) {
        atomic_store(&h->stopping, 1);
        hub_wake(h);
    }
}

int hub_run(struct hub *h, volatile sig_atomic_t *stop_flag)
{
    h->stop_flag = stop_flag;
    for (;;) {
        if (atomic_load(&h->stopping)) {
            if (h->nclients == 0 || hub_now_us() > h->stop_deadline_us + 1000000)
                break;
        }
        if (h->loop != NULL)
            ev_run(h->loop, EVRUN_ONCE); /* lws's 50 ms tick bounds the wait */
        else if (lws_service(h->ctx, 0) < 0)
            return -1;
    }
    LOG_INFO("hub_stopped hub=%s clients_left=%llu", h->cfg.name, (unsigned long long)h->nclients);
    return 0;
}

uint64_t hub_publish(struct hub *h, const char *event, const char *channel, const char *data_json,
                     size_t data_len)
{
    if (atomic_load(&h->stopping))
        return 0;
    pthread_mutex_lock(&h->lock);
    uint64_t off = history_next_offset(h->hist);
    /* Encoded once per framing, never per client. */
    struct frame *f = hub_encode(event, channel, data_json, data_len, off, history_epoch(h->hist));
    if (f)
        history_append(h->hist, f);
    pthread_mutex_unlock(&h->lock);
    if (f == NULL)
        return 0;
    metric_inc(h->m_events);
    hub_wake(h);
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
