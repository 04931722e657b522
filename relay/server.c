#include "server.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "dedup.h"
#include "httpd.h"
#include "hub.h"
#include "intake.h"
#include "log.h"
#include "memstat.h"
#include "metrics.h"
#include "monoclock.h"
#include "mstore.h"

/* After the drain, how long emits under way get to have their answers sent. */
#define RELAY_ANSWER_GRACE_MS 1000L

struct relay {
    struct relay_config cfg;
    volatile sig_atomic_t *stop_flag;
    struct metrics *metrics;
    struct hub *hub;
    struct httpd *http;
    pthread_mutex_t emit_lock; /* makes dedup lookup + publish + insert atomic */
    struct dedup *dedup;
    struct mstore *store;    /* NULL in memory */
    struct relay_auth *auth; /* NULL: clients need no token */
    struct metric *m_accepted, *m_duplicate, *m_invalid, *m_draining, *m_emit_bytes;
    struct metric *m_unconfirmed, *m_unavailable;
    struct metric *m_rss, *m_heap, *m_heap_free; /* set at each scrape (memstat) */
    /* Over MongoDB the intake answers while the store is still being opened (the relay waits
     * for the replica set, which on Kubernetes often starts later): /healthz says alive,
     * /readyz and /emit 503. Set, with release order, once hub and store are in place. */
    atomic_int started;
};

static int draining(const struct relay *r)
{
    return r->stop_flag && *r->stop_flag;
}

static int started(struct relay *r)
{
    return atomic_load_explicit(&r->started, memory_order_acquire);
}

static void handle_emit(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    struct relay *r = ud;
    if (draining(r)) {
        metric_inc(r->m_draining);
        httpd_reply_error(resp, 503, "draining",
                          "relay is shutting down; retry on another replica");
        httpd_add_header(resp, "Retry-After", "1");
        return;
    }
    if (!started(r)) {
        metric_inc(r->m_unavailable);
        httpd_reply_error(resp, 503, "starting",
                          "relay is starting (connecting to MongoDB); retry (with the same id)");
        httpd_add_header(resp, "Retry-After", "1");
        return;
    }
    struct emit_req e;
    char err[256];
    if (intake_parse(req->body, req->body_len, &e, err, sizeof err) != 0) {
        metric_inc(r->m_invalid);
        httpd_reply_error(resp, 400, "bad_request", "%s", err);
        return;
    }
    uint64_t off = 0;
    int dup = 0;
    if (r->store) {
        enum mstore_result res = mstore_emit(r->store, &e, &off);
        emit_req_cleanup(&e);
        if (res == MSTORE_UNCONFIRMED || res == MSTORE_UNAVAILABLE || res == MSTORE_STOPPING) {
            metric_inc(res == MSTORE_UNCONFIRMED ? r->m_unconfirmed
                       : res == MSTORE_STOPPING  ? r->m_draining
                                                 : r->m_unavailable);
            if (res == MSTORE_STOPPING)
                httpd_reply_error(resp, 503, "draining",
                                  "relay is shutting down before MongoDB confirmed the event; it "
                                  "may still be delivered: retry with the same id on another "
                                  "replica");
            else if (res == MSTORE_UNCONFIRMED)
                httpd_reply_error(resp, 503, "not_confirmed",
                                  "MongoDB did not confirm the event in time; it may still be "
                                  "delivered: retry with the same id");
            else
                httpd_reply_error(resp, 503, "store_unavailable",
                                  "MongoDB is unavailable; retry (with the same id)");
            httpd_add_header(resp, "Retry-After", "1");
            return;
        }
        dup = res == MSTORE_DUPLICATE;
    } else {
        pthread_mutex_lock(&r->emit_lock);
        if (e.id[0] && dedup_lookup(r->dedup, e.id, monoclock_ms(), &off)) {
            dup = 1;
        } else {
            off = hub_publish(r->hub, e.event, e.channel, e.payload, e.payload_len);
            if (off != 0 && e.id[0] && dedup_insert(r->dedup, e.id, off, monoclock_ms()) != 0)
                LOG_WARN("dedup_insert_failed id=%s", e.id);
        }
        pthread_mutex_unlock(&r->emit_lock);
        emit_req_cleanup(&e);
        if (off == 0) {
            httpd_reply_error(resp, 503, "unavailable",
                              "relay could not accept the event (stopping or out of memory)");
            return;
        }
    }
    metric_inc(dup ? r->m_duplicate : r->m_accepted);
    metric_add(r->m_emit_bytes, req->body_len);
    char epoch[ENVELOPE_EPOCH_BUF];
    json_t *o =
        json_pack("{s:I, s:s}", "offset", (json_int_t)off, "epoch", hub_epoch(r->hub, epoch));
    if (dup)
        json_object_set_new(o, "duplicate", json_true());
    httpd_reply_json(resp, 202, o);
}

static void handle_healthz(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)req;
    struct relay *r = ud;
    /* Alive while it waits for MongoDB too: restarting it would not bring MongoDB up. */
    httpd_reply_json(resp, 200, json_pack("{s:s}", "status", started(r) ? "ok" : "starting"));
}

static void handle_readyz(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)req;
    struct relay *r = ud;
    struct hub_stats st;
    char epoch[ENVELOPE_EPOCH_BUF];
    if (!started(r)) {
        httpd_reply_json(resp, 503,
                         json_pack("{s:s, s:s}", "status", "starting", "reason",
                                   r->cfg.mongo_uri
                                       ? "waiting for the MongoDB replica set (--mongo-uri)"
                                       : "opening the websocket port"));
        return;
    }
    hub_stats(r->hub, &st);
    if (draining(r)) {
        httpd_reply_json(resp, 503, json_pack("{s:s}", "status", "draining"));
        return;
    }
    char why[200];
    if (r->store && !mstore_ready(r->store, why, sizeof why)) {
        httpd_reply_json(resp, 503,
                         json_pack("{s:s, s:s}", "status", "not_delivering", "reason", why));
        return;
    }
    httpd_reply_json(resp, 200,
                     json_pack("{s:s, s:I, s:I, s:s}", "status", "ready", "clients",
                               (json_int_t)st.clients, "offset", (json_int_t)st.last_offset,
                               "epoch", hub_epoch(r->hub, epoch)));
}

static void handle_cluster(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)req;
    struct relay *r = ud;
    if (!started(r)) {
        httpd_reply_json(resp, 503, json_pack("{s:s}", "status", "starting"));
        return;
    }
    if (r->store == NULL) {
        httpd_reply_json(resp, 200, json_pack("{s:s}", "role", "memory"));
        return;
    }
    httpd_reply_json(resp, 200, mstore_status(r->store));
}

static void handle_metrics(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)req;
    struct relay *r = ud;
    size_t len = 0;
    if (started(r))
        mstore_refresh_metrics(r->store);
    struct memstat ms;
    memstat_read(&ms);
    metric_set(r->m_rss, (int64_t)ms.rss_bytes);
    metric_set(r->m_heap, (int64_t)ms.heap_bytes);
    metric_set(r->m_heap_free, (int64_t)ms.heap_free_bytes);
    char *text = metrics_render(r->metrics, &len);
    if (text == NULL) {
        httpd_reply_error(resp, 500, "internal", "cannot render metrics");
        return;
    }
    resp->status = 200;
    resp->body = text;
    resp->len = len;
    resp->content_type = "text/plain; version=0.0.4";
}

static const struct httpd_route routes[] = {
    {"POST", "/emit", 0, 1, 1, handle_emit},      {"GET", "/healthz", 0, 0, 0, handle_healthz},
    {"GET", "/readyz", 0, 0, 0, handle_readyz},   {"GET", "/metrics", 0, 0, 0, handle_metrics},
    {"GET", "/cluster", 0, 0, 0, handle_cluster},
};

struct relay *relay_new(const struct relay_config *c, volatile sig_atomic_t *stop_flag, char *err,
                        size_t errlen)
{
    struct relay *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->cfg = *c;
    r->stop_flag = stop_flag;
    pthread_mutex_init(&r->emit_lock, NULL);
    r->metrics = metrics_new();
    r->dedup = dedup_new((size_t)c->dedup_max, c->dedup_window_ms);
    if (r->metrics == NULL || r->dedup == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    r->m_accepted = metrics_add(r->metrics, METRIC_COUNTER, "relay_emits_total",
                                "result=\"accepted\"", "POST /emit requests by outcome.");
    r->m_duplicate = metrics_add(r->metrics, METRIC_COUNTER, "relay_emits_total",
                                 "result=\"duplicate\"", "POST /emit requests by outcome.");
    r->m_invalid = metrics_add(r->metrics, METRIC_COUNTER, "relay_emits_total",
                               "result=\"invalid\"", "POST /emit requests by outcome.");
    r->m_draining = metrics_add(r->metrics, METRIC_COUNTER, "relay_emits_total",
                                "result=\"draining\"", "POST /emit requests by outcome.");
    r->m_unconfirmed = metrics_add(r->metrics, METRIC_COUNTER, "relay_emits_total",
                                   "result=\"unconfirmed\"", "POST /emit requests by outcome.");
    r->m_unavailable = metrics_add(r->metrics, METRIC_COUNTER, "relay_emits_total",
                                   "result=\"unavailable\"", "POST /emit requests by outcome.");
    r->m_emit_bytes = metrics_add(r->metrics, METRIC_COUNTER, "relay_emit_bytes_total", NULL,
                                  "Bytes of accepted /emit bodies.");
    r->m_rss = metrics_add(r->metrics, METRIC_GAUGE, "process_resident_memory_bytes", NULL,
                           "Resident memory size in bytes.");
    r->m_heap = metrics_add(r->metrics, METRIC_GAUGE, "relay_heap_bytes", NULL,
                            "Bytes malloc has handed out and not had back (heap in use).");
    r->m_heap_free =
        metrics_add(r->metrics, METRIC_GAUGE, "relay_heap_free_bytes", NULL,
                    "Bytes malloc holds free in its arenas, not returned to the system.");

    struct hub_config hc;
    hub_config_defaults(&hc);
    hc.bind = c->bind;
    hc.port = (int)c->ws_port;
    hc.history = (size_t)c->history;
    hc.max_clients = (int)c->max_clients;
    hc.queue_limit = (int)c->queue_limit;
    hc.ping_interval_ms = c->ping_interval_ms;
    hc.max_message = c->max_message;
    hc.epoch = c->epoch;
    hc.drain_ms = c->drain_ms;
    hc.metrics = r->metrics;
    hc.name = "relay";
    hc.max_channels = (int)c->max_channels;
    hc.send_threads = (int)c->send_threads;
    hc.cors_origins = c->cors_origin;
    r->auth = relay_auth_new(c, err, errlen);
    if (r->auth == NULL && *err)
        goto fail;
    if (r->auth) {
        hc.auth = relay_auth_check;
        hc.auth_ud = r->auth;
    }
    struct httpd_config h = {
        .bind = c->http_bind ? c->http_bind : c->bind,
        .port = (int)c->http_port,
        .max_body = c->max_body,
        .body_timeout_ms = c->body_timeout_ms,
        .threads = (unsigned)c->http_threads,
        .routes = routes,
        .nroutes = sizeof routes / sizeof routes[0],
        .ud = r,
        .name = "relay-intake",
        .bearer_token = c->token,
        .metrics = r->metrics,
    };
    if (c->mongo_uri) {
        /* An emit waits for MongoDB's majority: a thread per connection keeps one slow
         * write from holding up other apps' requests and the probes. */
        h.thread_per_connection = 1;
    }
    r->http = httpd_new(&h, err, errlen);
    if (r->http == NULL)
        goto fail;
    if (c->mongo_uri) {
        LOG_INFO("relay_intake_listening http_port=%d store=waiting", httpd_port(r->http));
        /* The stream's epoch and position come from MongoDB; the ring starts `history`
         * events back, so the tail's first catch-up fills it. */
        r->store = mstore_open(c, r->metrics, stop_flag, err, errlen);
        if (r->store == NULL)
            goto fail;
        uint64_t head = mstore_head(r->store);
        hc.epoch = mstore_epoch(r->store);
        hc.first_offset = head >= (uint64_t)c->history ? head - (uint64_t)c->history + 1 : 1;
    }
    r->hub = hub_new(&hc, err, errlen);
    if (r->hub == NULL)
        goto fail;
    if (r->store && mstore_start(r->store, r->hub, err, errlen) != 0)
        goto fail;

    atomic_store_explicit(&r->started, 1, memory_order_release);
    return r;
fail:
    relay_free(r);
    return NULL;
}

int relay_run(struct relay *r)
{
    char epoch[ENVELOPE_EPOCH_BUF];
    LOG_INFO("relay_listening ws_port=%d http_port=%d epoch=%s history=%ld queue_limit=%ld "
             "token=%s store=%s client_auth=%s",
             hub_port(r->hub), httpd_port(r->http), hub_epoch(r->hub, epoch), r->cfg.history,
             r->cfg.queue_limit, r->cfg.token ? "set" : "none", r->store ? "mongodb" : "memory",
             r->cfg.client_jwt_key      ? "RS256"
             : r->cfg.client_jwt_secret ? "HS256"
                                        : "none");
    int rc = hub_run(r->hub, r->stop_flag);
    /* The hub has drained its clients (new emits get 503 since the stop began). Emits still
     * waiting for MongoDB are answered 503 now, and their answers sent before the intake
     * closes its connections: a paused or lost replica set must not hold the shutdown for
     * the emit timeout, nor leave the app with a reset instead of a status. */
    mstore_interrupt(r->store);
    httpd_quiesce(r->http);
    int busy = httpd_wait_idle(r->http, RELAY_ANSWER_GRACE_MS);
    if (busy > 0)
        LOG_WARN("intake_requests_unanswered count=%d", busy);
    return rc;
}

int relay_free(struct relay *r)
{
    if (r == NULL)
        return 0;
    httpd_free(r->http);
    /* A store thread still stuck in the driver may touch the hub and the metrics: those are
     * left to the process exit (the thread keeps them reachable). */
    int abandoned = mstore_close(r->store) != 0;
    if (!abandoned) {
        hub_free(r->hub);
        metrics_free(r->metrics);
    }
    dedup_free(r->dedup);
    relay_auth_free(r->auth);
    pthread_mutex_destroy(&r->emit_lock);
    free(r);
    return abandoned;
}

int relay_ws_port(const struct relay *r)
{
    return hub_port(r->hub);
}

int relay_http_port(const struct relay *r)
{
    return httpd_port(r->http);
}
