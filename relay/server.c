#include "server.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "dedup.h"
#include "httpd.h"
#include "hub.h"
#include "intake.h"
#include "log.h"
#include "metrics.h"

struct relay {
    struct relay_config cfg;
    volatile sig_atomic_t *stop_flag;
    struct metrics *metrics;
    struct hub *hub;
    struct httpd *http;
    pthread_mutex_t emit_lock; /* makes dedup lookup + publish + insert atomic */
    struct dedup *dedup;
    struct cluster *cluster; /* NULL for a single relay */
    struct metric *m_accepted, *m_duplicate, *m_invalid, *m_draining, *m_emit_bytes;
    struct metric *m_forwarded, *m_no_leader;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int draining(const struct relay *r)
{
    return r->stop_flag && *r->stop_flag;
}

/* A follower hands the emit to the leader and relays its answer. */
static void forward_emit(struct relay *r, const struct httpd_request *req,
                         struct httpd_response *resp)
{
    if (httpd_header(req, "X-Relay-Forwarded")) {
        /* The sender thought we lead; we do not (any more). Never forward twice. */
        httpd_reply_error(resp, 503, "not_leader", "this relay is not the leader; retry");
        httpd_add_header(resp, "Retry-After", "1");
        return;
    }
    char *out;
    size_t outlen;
    long code = cluster_forward(r->cluster, req->body, req->body_len,
                                httpd_header(req, "Authorization"), &out, &outlen);
    if (code == 0) {
        metric_inc(r->m_no_leader);
        httpd_reply_error(resp, 503, "no_leader", "no relay leader reachable right now; retry");
        httpd_add_header(resp, "Retry-After", "1");
        return;
    }
    metric_inc(r->m_forwarded);
    resp->status = (int)code;
    resp->body = out;
    resp->len = outlen;
    resp->content_type = "application/json";
}

static void handle_emit(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    struct relay *r = ud;
    if (draining(r)) {
        metric_inc(r->m_draining);
        httpd_reply_error(resp, 503, "draining", "relay is shutting down; retry on another replica");
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
    if (r->cluster && !cluster_is_leader(r->cluster)) {
        emit_req_cleanup(&e);
        forward_emit(r, req, resp);
        return;
    }
    uint64_t off = 0;
    int dup = 0;
    pthread_mutex_lock(&r->emit_lock);
    if (e.id[0] && dedup_lookup(r->dedup, e.id, now_ms(), &off)) {
        dup = 1;
    } else {
        off = hub_publish(r->hub, e.event, e.payload, e.payload_len, e.id);
        if (off != 0 && e.id[0] && dedup_insert(r->dedup, e.id, off, now_ms()) != 0)
            LOG_WARN("dedup_insert_failed id=%s", e.id);
    }
    pthread_mutex_unlock(&r->emit_lock);
    emit_req_cleanup(&e);
    if (off == 0) {
        httpd_reply_error(resp, 503, "unavailable", "relay could not accept the event (stopping or out of memory)");
        return;
    }
    /* With followers, acknowledge once every in-sync follower holds the event (it is then
     * also what clients see), so a failover cannot lose an acknowledged event. Not committed
     * in time: 503, and the caller's retry with the same id finds it here and waits again. */
    if (r->cluster && !hub_wait_commit(r->hub, off, r->cfg.replica_timeout_ms + 500)) {
        LOG_WARN("emit_not_committed offset=%llu", (unsigned long long)off);
        httpd_reply_error(resp, 503, "not_committed",
                          "event %llu is not replicated yet; retry with the same id",
                          (unsigned long long)off);
        httpd_add_header(resp, "Retry-After", "1");
        return;
    }
    metric_inc(dup ? r->m_duplicate : r->m_accepted);
    metric_add(r->m_emit_bytes, req->body_len);
    char epoch[ENVELOPE_EPOCH_BUF];
    json_t *o = json_pack("{s:I, s:s}", "offset", (json_int_t)off, "epoch", hub_epoch(r->hub, epoch));
    if (dup)
        json_object_set_new(o, "duplicate", json_true());
    httpd_reply_json(resp, 202, o);
}

static void handle_healthz(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)req;
    (void)ud;
    httpd_reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static void handle_readyz(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)req;
    struct relay *r = ud;
    struct hub_stats st;
    char epoch[ENVELOPE_EPOCH_BUF];
    hub_stats(r->hub, &st);
    if (draining(r)) {
        httpd_reply_json(resp, 503, json_pack("{s:s}", "status", "draining"));
        return;
    }
    if (r->cluster && !cluster_ready(r->cluster)) {
        httpd_reply_json(resp, 503, json_pack("{s:s}", "status", "syncing"));
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
    if (r->cluster == NULL) {
        httpd_reply_json(resp, 200, json_pack("{s:s}", "role", "single"));
        return;
    }
    httpd_reply_json(resp, 200, cluster_status(r->cluster));
}

/* A follower mirrored an event that carried an emit id: remember it, so a retry of that emit
 * reaching this relay after a failover is acknowledged, not broadcast again. */
static void on_mirrored(void *ud, const char *id, uint64_t offset)
{
    struct relay *r = ud;
    pthread_mutex_lock(&r->emit_lock);
    if (dedup_insert(r->dedup, id, offset, now_ms()) != 0)
        LOG_WARN("dedup_insert_failed id=%s", id);
    pthread_mutex_unlock(&r->emit_lock);
}

static void handle_metrics(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)req;
    struct relay *r = ud;
    size_t len = 0;
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
    {"POST", "/emit", 0, 1, 1, handle_emit},
    {"GET", "/healthz", 0, 0, 0, handle_healthz},
    {"GET", "/readyz", 0, 0, 0, handle_readyz},
    {"GET", "/metrics", 0, 0, 0, handle_metrics},
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
    r->m_forwarded = metrics_add(r->metrics, METRIC_COUNTER, "relay_emits_total",
                                 "result=\"forwarded\"", "POST /emit requests by outcome.");
    r->m_no_leader = metrics_add(r->metrics, METRIC_COUNTER, "relay_emits_total",
                                 "result=\"no_leader\"", "POST /emit requests by outcome.");
    r->m_emit_bytes = metrics_add(r->metrics, METRIC_COUNTER, "relay_emit_bytes_total", NULL,
                                  "Bytes of accepted /emit bodies.");

    struct hub_config hc;
    hub_config_defaults(&hc);
    hc.bind = c->bind;
    hc.port = (int)c->ws_port;
    hc.history = (size_t)c->history;
    hc.max_clients = (int)c->max_clients;
    hc.queue_limit = (int)c->queue_limit;
    hc.ping_interval_s = (int)((c->ping_interval_ms + 999) / 1000);
    hc.max_message = c->max_message;
    hc.epoch = c->epoch;
    hc.drain_ms = c->drain_ms;
    hc.metrics = r->metrics;
    hc.name = "relay";
    hc.replica_timeout_ms = c->replica_timeout_ms;
    r->hub = hub_new(&hc, err, errlen);
    if (r->hub == NULL)
        goto fail;

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
    if (c->npeers > 0) {
        r->cluster = cluster_new(c, r->hub, on_mirrored, r, stop_flag, err, errlen);
        if (r->cluster == NULL)
            goto fail;
    }
    r->http = httpd_new(&h, err, errlen);
    if (r->http == NULL)
        goto fail;
    return r;
fail:
    relay_free(r);
    return NULL;
}

int relay_run(struct relay *r)
{
    char epoch[ENVELOPE_EPOCH_BUF];
    LOG_INFO("relay_listening ws_port=%d http_port=%d epoch=%s history=%ld queue_limit=%ld "
             "token=%s",
             hub_port(r->hub), httpd_port(r->http), hub_epoch(r->hub, epoch), r->cfg.history,
             r->cfg.queue_limit, r->cfg.token ? "set" : "none");
    int rc = hub_run(r->hub, r->stop_flag);
    /* The hub has drained its clients; stop taking events, finishing requests in flight. */
    httpd_quiesce(r->http);
    return rc;
}

void relay_free(struct relay *r)
{
    if (r == NULL)
        return;
    httpd_free(r->http);
    cluster_free(r->cluster);
    hub_free(r->hub);
    dedup_free(r->dedup);
    metrics_free(r->metrics);
    pthread_mutex_destroy(&r->emit_lock);
    free(r);
}

int relay_ws_port(const struct relay *r)
{
    return hub_port(r->hub);
}

int relay_http_port(const struct relay *r)
{
    return httpd_port(r->http);
}
