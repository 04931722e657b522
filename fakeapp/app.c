#include "app.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "emitter.h"
#include "httpd.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "monoclock.h"
#include "sio_client.h"
#include "store.h"

struct app {
    struct fakeapp_config cfg;
    volatile sig_atomic_t *stop_flag;
    char pod[64];
    struct metrics *metrics;
    struct store *store;
    struct hub *hub;
    struct emitter *emitter;
    struct sio_client *sio_client;
    struct httpd *http;
    struct api api;
    int api_ready;
    pthread_t watch;
    int watching;
    atomic_int watch_stop;
};

/* The shutdown watchdog's state: static, because it may outlive the app it guards. */
static atomic_int shutdown_done;
static long shutdown_deadline_ms, shutdown_drain_ms;

/* Sleeps up to ms, in steps, returning early when *flag becomes non-zero. */
static void nap(atomic_int *flag, long ms)
{
    long end = monoclock_ms() + ms;
    while (!atomic_load(flag) && monoclock_ms() < end)
        usleep(20000);
}

/*
 * The database watcher: creates the unique index as soon as MongoDB answers, then keeps
 * /readyz in step with "a primary is known". Runs on its own thread because each probe may
 * block for the server-selection timeout.
 */
static void *watch_db(void *arg)
{
    struct app *a = arg;
    int was_ready = -1;
    char err[256];
    while (!atomic_load(&a->watch_stop)) {
        int ok = store_probe(a->store, err, sizeof err) == 0;
        if (ok != was_ready) {
            if (ok)
                LOG_INFO("db_ready db=%s", a->cfg.db);
            else
                LOG_WARN("db_not_ready error=\"%s\"", err);
            was_ready = ok;
        }
        api_set_ready(&a->api, ok, ok ? "" : err);
        nap(&a->watch_stop, ok ? 1000 : 250);
    }
    return NULL;
}

/* The page's socket.io-client bundle. Missing is not fatal: the page says so. */
static void load_page_client(struct app *a)
{
    char path[4096], err[512];
    if (a->cfg.sio_client)
        snprintf(path, sizeof path, "%s", a->cfg.sio_client);
    else if (sio_client_default_path(path, sizeof path) != 0)
        return;
    a->sio_client = sio_client_load(path, err, sizeof err);
    if (a->sio_client)
        LOG_INFO("sio_client_loaded version=%s path=%s", sio_client_version(a->sio_client), path);
    else
        LOG_WARN("sio_client_missing error=\"%s\" hint=\"make deps && make, or --sio-client FILE\"",
                 err);
}

static int start_ws(struct app *a, char *err, size_t errlen)
{
    if (a->cfg.ws_mode == FAKEAPP_WS_EMBEDDED) {
        static const char *const paths[] = {"/socket.io/", "/websocket-service", NULL};
        struct hub_config hc;
        hub_config_defaults(&hc);
        hc.bind = a->cfg.bind;
        hc.port = (int)a->cfg.ws_port;
        hc.paths = paths;
        hc.metrics = a->metrics;
        hc.name = a->pod;
        hc.history = 1000;
        if (a->sio_client) /* the Socket.IO server serves its client, as the seed's did */
            hc.files = sio_client_files(a->sio_client, &hc.nfiles);
        a->hub = hub_new(&hc, err, errlen);
        return a->hub ? 0 : -1;
    }
    if (a->cfg.ws_mode == FAKEAPP_WS_RELAY) {
        struct emitter_config ec = {
            .url = a->cfg.relay_url,
            .token = a->cfg.relay_token,
            .queue_max = (size_t)a->cfg.emit_queue,
            .retries = (int)a->cfg.emit_retries,
            .timeout_ms = a->cfg.emit_timeout_ms,
            .metrics = a->metrics,
        };
        a->emitter = emitter_new(&ec, err, errlen);
        return a->emitter ? 0 : -1;
    }
    return 0;
}

struct app *app_new(const struct fakeapp_config *c, volatile sig_atomic_t *stop_flag, char *err,
                    size_t errlen)
{
    struct app *a = calloc(1, sizeof *a);
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->cfg = *c;
    a->stop_flag = stop_flag;
    if (c->pod) {
        snprintf(a->pod, sizeof a->pod, "%s", c->pod);
    } else if (gethostname(a->pod, sizeof a->pod) != 0 || a->pod[0] == '\0') {
        snprintf(a->pod, sizeof a->pod, "fakeapp");
    }
    a->pod[sizeof a->pod - 1] = '\0';
    a->metrics = metrics_new();
    if (a->metrics == NULL || api_init(&a->api, a->metrics) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    a->api_ready = 1;
    struct store_config sc = {
        .uri = c->mongo_uri, .db = c->db, .timeout_ms = c->db_timeout_ms, .w = c->write_w};
    a->store = store_new(&sc, err, errlen);
    if (a->store == NULL)
        goto fail;
    load_page_client(a);
    if (start_ws(a, err, errlen) != 0)
        goto fail;
    a->api.store = a->store;
    a->api.hub = a->hub;
    a->api.emitter = a->emitter;
    a->api.pod = a->pod;
    a->api.sio_client = a->sio_client;
    a->api.store_channels = c->store_channels;
    a->api.emit_delay_ms = c->emit_delay_ms;
    a->api.client_jwt_secret = c->client_jwt_secret;
    a->api.client_jwt_ttl_s = c->client_jwt_ttl_ms / 1000;
    a->api.ws_mode_name = fakeapp_ws_mode_name(c->ws_mode);
    a->api.ws_port = a->hub ? hub_port(a->hub) : 0;
    struct httpd_config hc = {
        .bind = c->bind,
        .port = (int)c->port,
        .max_body = c->max_body,
        .threads = (unsigned)c->http_threads,
        .routes = api_routes,
        .nroutes = api_nroutes,
        .ud = &a->api,
        .name = "fakeapp",
        .metrics = a->metrics,
    };
    a->http = httpd_new(&hc, err, errlen);
    if (a->http == NULL)
        goto fail;
    atomic_store(&a->api.http_port, httpd_port(a->http));
    atomic_init(&a->watch_stop, 0);
    if (pthread_create(&a->watch, NULL, watch_db, a) != 0) {
        snprintf(err, errlen, "cannot start the database watcher");
        goto fail;
    }
    a->watching = 1;
    LOG_INFO("listening pod=%s port=%d ws_mode=%s ws_port=%d db=%s", a->pod, httpd_port(a->http),
             fakeapp_ws_mode_name(c->ws_mode), a->hub ? hub_port(a->hub) : 0, c->db);
    return a;
fail:
    app_free(a);
    return NULL;
}

/*
 * Keeps the drain timeout's promise. A request stuck in the MongoDB driver (a paused or
 * partitioned server answers nothing, so the driver waits the socket timeout and retries)
 * would hold httpd_free, which joins the request threads, for twice the socket timeout.
 * Once the drain time is over and the shutdown has not finished, the process leaves
 * without it, as nginx's worker_shutdown_timeout does.
 */
static void *shutdown_watchdog(void *arg)
{
    (void)arg;
    while (!atomic_load(&shutdown_done) && monoclock_ms() < shutdown_deadline_ms)
        usleep(10000);
    if (atomic_load(&shutdown_done))
        return NULL;
    LOG_WARN("drain_timeout drain_ms=%ld action=exit reason=shutdown_unfinished",
             shutdown_drain_ms);
    _exit(0);
}

/*
 * Waits for the stop flag, then stops in order. Runs on the main thread, or beside the
 * hub's loop in embedded mode (the hub is stopped last, so events of the last requests
 * still reach its clients).
 */
static void *wait_and_shutdown(void *arg)
{
    struct app *a = arg;
    while (!*a->stop_flag)
        usleep(50000);
    long deadline = monoclock_ms() + a->cfg.drain_ms;
    LOG_INFO("stopping pod=%s drain_ms=%ld", a->pod, a->cfg.drain_ms);
    shutdown_deadline_ms = deadline;
    shutdown_drain_ms = a->cfg.drain_ms;
    pthread_t wd;
    if (pthread_create(&wd, NULL, shutdown_watchdog, NULL) == 0)
        pthread_detach(wd);
    atomic_store(&a->api.stopping, 1);
    httpd_quiesce(a->http);
    while (atomic_load(&a->api.active) > 0 && monoclock_ms() < deadline)
        usleep(10000);
    usleep(100000); /* let the last responses leave before the daemon closes connections */
    httpd_free(a->http);
    a->http = NULL;
    long left = deadline - monoclock_ms();
    emitter_free(a->emitter, left > 500 ? left : 500);
    a->emitter = NULL;
    if (a->hub)
        hub_stop(a->hub);
    return NULL;
}

int app_run(struct app *a)
{
    int rc = 0;
    if (a->hub) {
        pthread_t t;
        if (pthread_create(&t, NULL, wait_and_shutdown, a) != 0)
            return -1;
        rc = hub_run(a->hub, NULL);
        if (rc != 0) { /* the loop broke: make the shutdown thread finish too */
            *a->stop_flag = 1;
        }
        pthread_join(t, NULL);
    } else {
        wait_and_shutdown(a);
    }
    atomic_store(&a->watch_stop, 1);
    if (a->watching) {
        pthread_join(a->watch, NULL);
        a->watching = 0;
    }
    return rc;
}

void app_free(struct app *a)
{
    if (a == NULL)
        return;
    if (a->watching) {
        atomic_store(&a->watch_stop, 1);
        pthread_join(a->watch, NULL);
    }
    httpd_free(a->http);
    emitter_free(a->emitter, 0);
    hub_free(a->hub);
    sio_client_free(a->sio_client);
    store_free(a->store);
    if (a->api_ready)
        api_cleanup(&a->api);
    metrics_free(a->metrics);
    free(a);
    atomic_store(&shutdown_done, 1);
}
