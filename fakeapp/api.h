/*
 * api — fakeapp's HTTP endpoints (routes for common/httpd):
 *   POST /products, GET /products?limit=N, GET /products/<id>,
 *   GET /healthz, GET /readyz, GET /metrics.
 * Handlers run on libmicrohttpd's worker threads and share one struct api.
 */
#ifndef FAKEAPP_API_H
#define FAKEAPP_API_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "config.h"
#include "httpd.h"
#include "metrics.h"

struct store;
struct hub;
struct emitter;
struct sio_client;

/* State shared by the handlers. Owned by the app; the pointers are borrowed. */
struct api {
    struct store *store;
    struct hub *hub;         /* embedded mode, else NULL */
    struct emitter *emitter; /* relay mode, else NULL */
    const char *pod;
    struct metrics *metrics;
    const struct sio_client *sio_client; /* the page's socket.io bundle, or NULL (page.c) */
    int store_channels;                  /* announce on store-<store> */
    long emit_delay_ms;            /* lab only: pause between the write and the announcement */
    const char *client_jwt_secret; /* GET /token mints client JWTs with it; NULL = off */
    long client_jwt_ttl_s;
    /* Where the page finds Socket.IO when it is opened on this app's own port rather than
     * through the ingress (page.c): the mode's name, the embedded server's port (0 = none)
     * and the HTTP port (set once it listens; 0 until then). */
    const char *ws_mode_name;
    int ws_port;
    atomic_int http_port;

    atomic_int ready;    /* index created and a primary known (GET /readyz) */
    atomic_int stopping; /* SIGTERM seen: new creates get 503 */
    atomic_int active;   /* handlers running now */
    pthread_mutex_t why_lock;
    char why_not_ready[256];

    struct metric *m_created, *m_existing, *m_invalid, *m_db_unavailable, *m_db_error;
    struct metric *m_published, *m_ready;
};

/* Initialises a (not the borrowed pointers) and registers the metrics. Returns 0 or -1. */
int api_init(struct api *a, struct metrics *m);
void api_cleanup(struct api *a);

/* Records why the app is not ready (shown by GET /readyz). Thread-safe. */
void api_set_ready(struct api *a, int ready, const char *why);

/* The route table for httpd_config.routes. */
extern const struct httpd_route api_routes[];
extern const size_t api_nroutes;

#endif
