/*
 * wsclient — many websocket clients on one libwebsockets event loop (one per thread).
 *
 * A pool owns an lws context in client mode; each client is a connection to host:port/path
 * (optionally bound to a source address such as 127.0.0.12), reporting opens, text frames,
 * closes and errors through callbacks that run on the thread that calls wsc_pool_service().
 * Used by the end-to-end tests, the benchmarks and loadgen. A pool is not thread-safe
 * except wsc_pool_wake(), which may be called from any thread.
 */
#ifndef RELAYLAB_WSCLIENT_H
#define RELAYLAB_WSCLIENT_H

#include <stddef.h>
#include <stdint.h>

struct wsc_pool;
struct wsc;

struct wsc_callbacks {
    /* The upgrade succeeded. */
    void (*on_open)(struct wsc *c, void *ud);
    /* A complete text or binary message (reassembled from fragments, at most max_message bytes). */
    void (*on_message)(struct wsc *c, const char *data, size_t len, int binary, void *ud);
    /*
     * The connection ended, after on_open (code = close code from the peer, or 1006 when the
     * connection dropped without a close frame) or before it (connect/upgrade failure: code 0,
     * reason says why). The client is freed after this returns; do not use it again.
     */
    void (*on_close)(struct wsc *c, int code, const char *reason, void *ud);
    /* Called after each wsc_pool_wake() on the service thread. May be NULL. */
    void (*on_wake)(struct wsc_pool *p, void *ud);
    /* A PONG that carries a payload (lws 4.1 reports no empty one). May be NULL. */
    void (*on_pong)(struct wsc *c, void *ud);
};

struct wsc_options {
    const char *host; /* address to connect to, e.g. "127.0.0.1" */
    int port;
    const char *path;      /* request path with query, e.g. "/websocket-service?since=3&epoch=ab" */
    const char *source_ip; /* bind the socket to this local address, or NULL */
    const char *host_header; /* Host: header, or NULL for host */
    size_t max_message;      /* largest message accepted; 0 = 1 MiB */
    void *user;              /* returned by wsc_user() */
    const char *headers;     /* extra request header lines ("Cookie: a=b\r\n"), copied, or NULL */
    /* Once per Set-Cookie header of the upgrade's 101 answer, before on_open; or NULL. */
    void (*on_set_cookie)(struct wsc *c, const char *value, size_t len);
};

/* Creates a pool for up to max_clients connections. Returns NULL with a message in err. */
struct wsc_pool *wsc_pool_new(int max_clients, const struct wsc_callbacks *cb, void *ud, char *err,
                              size_t errlen) __attribute__((warn_unused_result));
/* Closes every client (their on_close runs) and frees the pool. Accepts NULL. */
void wsc_pool_free(struct wsc_pool *p);

/*
 * Starts a connection. Returns the client, or NULL (with a message in err) when the pool is
 * full or lws refuses the connect at once. Progress and failures arrive via callbacks.
 */
struct wsc *wsc_connect(struct wsc_pool *p, const struct wsc_options *o, char *err, size_t errlen);

/* Runs the event loop for up to timeout_ms (0 = poll once). Returns < 0 when the pool broke. */
int wsc_pool_service(struct wsc_pool *p, int timeout_ms);
/* Makes a wsc_pool_service() in progress return soon and on_wake run. Thread-safe. */
void wsc_pool_wake(struct wsc_pool *p);

/* Queues a text message (copied). Returns 0, or -1 when the client is closing or the queue is full.
 */
int wsc_send_text(struct wsc *c, const char *data, size_t len);
/* Queues raw bytes to write on the socket after the upgrade (for tests of malformed input). */
int wsc_send_raw(struct wsc *c, const void *data, size_t len);
/* Queues a PING with a payload of at most 125 bytes (copied; give one: lws 4.1 reports only
 * pongs that carry a payload). Returns 0, or -1 when closing, the queue is full or too long. */
int wsc_send_ping(struct wsc *c, const void *data, size_t len);
/* Drops the connection at once, without a close handshake (for a peer that stopped
 * answering): on_close follows from the service loop with code 1006 and this reason. */
void wsc_abort(struct wsc *c, const char *reason);
/* Stops (0) or resumes (1) reading from the socket: a client that does not read. */
void wsc_set_reading(struct wsc *c, int reading);
/* Starts a close handshake with code and reason. on_close follows. */
void wsc_close(struct wsc *c, int code, const char *reason);

void *wsc_user(const struct wsc *c);
void wsc_set_user(struct wsc *c, void *user);
int wsc_is_open(const struct wsc *c);
/* Number of clients currently in the pool (connecting or open). */
int wsc_pool_count(const struct wsc_pool *p);

/* The pool's libwebsockets context, for other connections on the same loop (a raw vhost). */
struct lws_context;
struct lws_context *wsc_pool_lws_context(struct wsc_pool *p);

#endif
