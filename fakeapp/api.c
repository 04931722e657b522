#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emitter.h"
#include "hub.h"
#include "jsonx.h"
#include "log.h"
#include "page.h"
#include "token.h"
#include "product.h"
#include "store.h"

#define PRODUCTS_PREFIX "/products/"

int api_init(struct api *a, struct metrics *m)
{
    atomic_init(&a->ready, 0);
    atomic_init(&a->stopping, 0);
    atomic_init(&a->active, 0);
    atomic_init(&a->http_port, 0);
    if (pthread_mutex_init(&a->why_lock, NULL) != 0)
        return -1;
    snprintf(a->why_not_ready, sizeof a->why_not_ready, "connecting to MongoDB");
    a->metrics = m;
    const char *h = "POST /products outcomes.";
    a->m_created =
        metrics_add(m, METRIC_COUNTER, "fakeapp_products_total", "result=\"created\"", h);
    a->m_existing =
        metrics_add(m, METRIC_COUNTER, "fakeapp_products_total", "result=\"existing\"", h);
    a->m_invalid =
        metrics_add(m, METRIC_COUNTER, "fakeapp_products_total", "result=\"invalid\"", h);
    a->m_db_unavailable =
        metrics_add(m, METRIC_COUNTER, "fakeapp_products_total", "result=\"db_unavailable\"", h);
    a->m_db_error =
        metrics_add(m, METRIC_COUNTER, "fakeapp_products_total", "result=\"db_error\"", h);
    a->m_published = metrics_add(m, METRIC_COUNTER, "fakeapp_ws_published_total", NULL,
                                 "new_product events handed to the embedded hub or the emitter.");
    a->m_ready = metrics_add(m, METRIC_GAUGE, "fakeapp_ready", NULL,
                             "1 when MongoDB is reachable with a primary and the index exists.");
    return 0;
}

void api_cleanup(struct api *a)
{
    pthread_mutex_destroy(&a->why_lock);
}

void api_set_ready(struct api *a, int ready, const char *why)
{
    pthread_mutex_lock(&a->why_lock);
    snprintf(a->why_not_ready, sizeof a->why_not_ready, "%s", why ? why : "");
    pthread_mutex_unlock(&a->why_lock);
    atomic_store(&a->ready, ready);
    metric_set(a->m_ready, ready);
}

static void reply_store_error(struct api *a, struct httpd_response *resp, enum store_result r,
                              const char *err)
{
    if (r == STORE_UNAVAILABLE) {
        metric_inc(a->m_db_unavailable);
        httpd_reply_error(resp, 503, "database_unavailable", "database unavailable: %.300s", err);
        httpd_add_header(resp, "Retry-After", "1");
    } else {
        metric_inc(a->m_db_error);
        httpd_reply_error(resp, 500, "database_error", "database error: %.300s", err);
    }
}

/* Announces a new product by the configured mode. */
static void publish(struct api *a, const json_t *doc)
{
    if (a->emit_delay_ms > 0) {
        /* The lab's dual-write window: the product is stored, nobody is told yet, and the
         * client has no answer. In --ws-mode none the relay's watch announces it anyway. */
        struct timespec ts = {a->emit_delay_ms / 1000, (a->emit_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (a->hub == NULL && a->emitter == NULL)
        return;
    size_t len;
    char *s = jsonx_dump(doc, &len);
    if (s == NULL) {
        LOG_WARN("publish_failed reason=out_of_memory");
        return;
    }
    const char *id = json_string_value(json_object_get(doc, "_id"));
    const char *store = json_string_value(json_object_get(doc, "store"));
    char channel[48] = "";
    if (a->store_channels && store && *store)
        snprintf(channel, sizeof channel, "store-%s", store);
    if (a->hub) {
        if (hub_publish(a->hub, "new_product", channel, s, len) == 0)
            LOG_WARN("publish_failed id=%s reason=hub_stopping", id ? id : "?");
        else
            metric_inc(a->m_published);
    } else if (emitter_push(a->emitter, "new_product", channel, id ? id : "", s, len) == 0) {
        metric_inc(a->m_published);
    }
    free(s);
}

static void handle_create(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    struct api *a = ud;
    httpd_add_header(resp, "X-Served-By", a->pod);
    if (atomic_load(&a->stopping)) {
        httpd_reply_error(resp, 503, "draining", "pod %s is shutting down; retry", a->pod);
        httpd_add_header(resp, "Retry-After", "1");
        return;
    }
    struct product_input in;
    char err[512];
    if (product_parse(req->body, req->body_len, &in, err, sizeof err) != 0) {
        metric_inc(a->m_invalid);
        httpd_reply_error(resp, 400, "bad_request", "%s", err);
        return;
    }
    if (!store_index_ready(a->store)) {
        metric_inc(a->m_db_unavailable);
        pthread_mutex_lock(&a->why_lock);
        httpd_reply_error(resp, 503, "not_ready", "database not ready: %.300s", a->why_not_ready);
        pthread_mutex_unlock(&a->why_lock);
        httpd_add_header(resp, "Retry-After", "1");
        return;
    }
    json_t *doc = NULL;
    int created = 0;
    enum store_result r = store_create(a->store, &in, a->pod, &doc, &created, err, sizeof err);
    if (r != STORE_OK) {
        LOG_WARN("create_failed req_id=%s result=%s error=\"%s\"", in.req_id,
                 r == STORE_UNAVAILABLE ? "unavailable" : "error", err);
        reply_store_error(a, resp, r, err);
        return;
    }
    metric_inc(created ? a->m_created : a->m_existing);
    if (created)
        publish(a, doc);
    httpd_reply_json(resp, created ? 201 : 200, doc);
}

/*
 * GET /products?req_id=X: the product a request created, or 404. loadgen --verify-path asks
 * this after a run to learn whether requests of unknown outcome (timeouts, 5xx) committed.
 */
static void handle_find_req_id(struct api *a, const char *req_id, struct httpd_response *resp)
{
    if (!product_req_id_valid(req_id, strlen(req_id))) {
        httpd_reply_error(resp, 400, "bad_request",
                          "'req_id' must be 1-%d characters of [A-Za-z0-9_.:-]",
                          PRODUCT_REQ_ID_MAX);
        return;
    }
    json_t *doc = NULL;
    char err[512];
    enum store_result r = store_find_req_id(a->store, req_id, &doc, err, sizeof err);
    if (r == STORE_NOT_FOUND) {
        httpd_reply_error(resp, 404, "not_found", "no product with req_id %s", req_id);
        return;
    }
    if (r != STORE_OK) {
        reply_store_error(a, resp, r, err);
        return;
    }
    httpd_reply_json(resp, 200, doc);
}

static void handle_list(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    struct api *a = ud;
    httpd_add_header(resp, "X-Served-By", a->pod);
    const char *req_id = httpd_query(req, "req_id");
    if (req_id != NULL) {
        handle_find_req_id(a, req_id, resp);
        return;
    }
    long limit;
    char err[512];
    if (product_parse_limit(httpd_query(req, "limit"), &limit, err, sizeof err) != 0) {
        httpd_reply_error(resp, 400, "bad_request", "%s", err);
        return;
    }
    json_t *arr = NULL;
    enum store_result r = store_list(a->store, limit, &arr, err, sizeof err);
    if (r != STORE_OK) {
        reply_store_error(a, resp, r, err);
        return;
    }
    httpd_reply_json(resp, 200, arr);
}

static void handle_get(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    struct api *a = ud;
    httpd_add_header(resp, "X-Served-By", a->pod);
    const char *id = req->path + strlen(PRODUCTS_PREFIX);
    if (!product_id_valid(id)) {
        httpd_reply_error(resp, 400, "bad_request", "product id must be 24 hexadecimal characters");
        return;
    }
    json_t *doc = NULL;
    char err[512];
    enum store_result r = store_get(a->store, id, &doc, err, sizeof err);
    if (r == STORE_NOT_FOUND) {
        httpd_reply_error(resp, 404, "not_found", "no product with _id %s", id);
        return;
    }
    if (r != STORE_OK) {
        reply_store_error(a, resp, r, err);
        return;
    }
    httpd_reply_json(resp, 200, doc);
}

static void handle_healthz(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)req;
    struct api *a = ud;
    httpd_reply_json(resp, 200, json_pack("{s:s, s:s}", "status", "ok", "pod", a->pod));
}

static void handle_readyz(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)req;
    struct api *a = ud;
    if (atomic_load(&a->stopping)) {
        httpd_reply_error(resp, 503, "draining", "pod %s is shutting down", a->pod);
    } else if (atomic_load(&a->ready)) {
        httpd_reply_json(resp, 200, json_pack("{s:b, s:s}", "ready", 1, "pod", a->pod));
    } else {
        pthread_mutex_lock(&a->why_lock);
        httpd_reply_error(resp, 503, "not_ready", "%s", a->why_not_ready);
        pthread_mutex_unlock(&a->why_lock);
    }
}

static void handle_metrics(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)req;
    struct api *a = ud;
    size_t len;
    char *text = metrics_render(a->metrics, &len);
    if (text == NULL) {
        httpd_reply_error(resp, 500, "internal", "cannot render metrics");
        return;
    }
    resp->status = 200;
    resp->body = text;
    resp->len = len;
    resp->content_type = "text/plain; version=0.0.4";
}

/* Counts running handlers so that shutdown can wait for them. */
#define COUNTED(name, fn)                                                                          \
    static void name(const struct httpd_request *req, struct httpd_response *resp, void *ud)       \
    {                                                                                              \
        struct api *a = ud;                                                                        \
        atomic_fetch_add(&a->active, 1);                                                           \
        fn(req, resp, ud);                                                                         \
        atomic_fetch_sub(&a->active, 1);                                                           \
    }
COUNTED(counted_create, handle_create)
COUNTED(counted_list, handle_list)
COUNTED(counted_get, handle_get)

const struct httpd_route api_routes[] = {
    {"POST", "/products", 0, 1, 0, counted_create},
    {"GET", "/products", 0, 0, 0, counted_list},
    {"GET", PRODUCTS_PREFIX, 1, 0, 0, counted_get},
    {"GET", "/healthz", 0, 0, 0, handle_healthz},
    {"GET", "/readyz", 0, 0, 0, handle_readyz},
    {"GET", "/metrics", 0, 0, 0, handle_metrics},
    {"GET", "/", 0, 0, 0, page_index},
    {"GET", "/socket.io/", 1, 0, 0, page_client},
    {"GET", "/favicon.ico", 0, 0, 0, page_favicon},
    {"GET", "/token", 0, 0, 0, token_handle},
};
const size_t api_nroutes = sizeof api_routes / sizeof api_routes[0];
