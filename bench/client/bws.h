/*
 * bws — the benchmark's websocket client: many connections on one epoll loop, raw sockets.
 *
 * Socket.IO's long-polling transport is here too (bws_poll.c), for clients that do not upgrade.
 *
 * Why not wsclient (lws): libwebsockets here runs a poll() loop that scans every socket on
 * every wake-up, so at 10,000 connections the client, not the server under test, would set
 * the figures. bws does only what a subscriber needs: connect (optionally from a given
 * source address), the HTTP upgrade, unmasked server frames (text, continuation, ping,
 * close), and small masked text frames back (Socket.IO's "40" and "3"). One read per
 * readiness, frames parsed in place; a connection's unread tail is kept in a buffer of
 * its own only when a frame straddles two reads.
 *
 * Not thread-safe: one pool per thread.
 */
#ifndef RELAYLAB_BENCH_BWS_H
#define RELAYLAB_BENCH_BWS_H

#include <stddef.h>
#include <stdint.h>

struct bws;

struct bws_callbacks {
    /* The upgrade succeeded (101). */
    void (*on_open)(struct bws *b, int conn, void *ud);
    /* A complete text message. */
    void (*on_text)(struct bws *b, int conn, const char *data, size_t len, void *ud);
    /* The connection ended: close code from the server, 1006 when it dropped, 0 when the
     * connect or the upgrade failed (why says which). */
    void (*on_close)(struct bws *b, int conn, int code, const char *why, void *ud);
};

/*
 * A pool for up to max connections. With polling, the connections are Socket.IO clients on
 * Engine.IO's HTTP long-polling transport instead of websockets (bws_poll.c): every
 * Engine.IO packet the server sends arrives through on_text like a websocket message, and
 * bws_send_text() POSTs one. Returns NULL with a message in err. Caller frees.
 */
struct bws *bws_new(int max, int polling, const struct bws_callbacks *cb, void *ud, char *err,
                    size_t errlen);
/* Closes every socket (no callbacks) and frees the pool. Accepts NULL. */
void bws_free(struct bws *b);

/*
 * Starts connection number `conn` (0 <= conn < max, unused) to ip:port and path, bound to
 * src_ip when not NULL. Returns 0, or -1 with a message in err (socket or connect refused
 * at once). Progress and failure arrive through the callbacks.
 */
int bws_connect(struct bws *b, int conn, const char *ip, int port, const char *path,
                const char *src_ip, char *err, size_t errlen);

/* Waits up to timeout_ms for socket events and handles them. Returns events handled, -1 on
 * an epoll failure. */
int bws_service(struct bws *b, int timeout_ms);

/* Sends a small text message (masked). Returns 0, or -1 when the socket would block or the
 * connection is not open (the benchmark only sends tiny control messages). */
int bws_send_text(struct bws *b, int conn, const char *data, size_t len);

/* Connections upgraded and still open. */
int bws_open_count(const struct bws *b);
/* Bytes of frame payload received by all connections. */
uint64_t bws_bytes(const struct bws *b);

#endif
