/*
 * httpc — HTTP/1.1 client connections for loadgen's long-polling clients, on the client
 * thread's own libwebsockets loop (raw sockets), so that hundreds of polling clients share
 * one thread with the websocket clients.
 *
 * A connection carries one request at a time and is kept alive when the server allows it;
 * a client keeps its connections in slots (one for GET polls, one for POSTs, as a browser
 * does). Each connection binds the client's source address. A request that fails on a
 * reused connection before any byte of its answer arrived (the server closed the idle
 * connection meanwhile) is sent again once on a new connection, as browsers do.
 * Not thread-safe: everything runs on the thread that services the lws context.
 */
#ifndef LOADGEN_HTTPC_H
#define LOADGEN_HTTPC_H

#include <stddef.h>

#include "http1.h"

struct lws_context;
struct hc_ctx;
struct hc_conn;

struct hc_target {
    const char *host; /* address to connect to; must outlive the connection */
    int port;
    const char *source_ip; /* bind to this local address, or NULL; must outlive it too */
};

/*
 * The outcome of one request: resp when a complete answer arrived (any status), else
 * resp == NULL and error says why. resp is valid until the callback returns.
 */
typedef void (*hc_done_fn)(void *owner, const struct h1_resp *resp, const char *error);

/*
 * Adds a raw-socket vhost to the lws context (created by the caller, e.g. a wsc_pool).
 * Answers over max_body bytes are errors. Returns NULL with err. Free with hc_ctx_free
 * after the lws context is destroyed (closing connections still reach the context).
 */
struct hc_ctx *hc_ctx_new(struct lws_context *lc, size_t max_body, char *err, size_t errlen);
void hc_ctx_free(struct hc_ctx *x); /* accepts NULL */

/*
 * Sends req (the whole request: head and body; copied) on the connection in *slot when it
 * is idle, else on a new one that *slot then holds. done(owner, ...) runs exactly once,
 * later, unless hc_drop(slot) comes first. Returns 0, or -1 with err (done never runs).
 */
int hc_request(struct hc_ctx *x, struct hc_conn **slot, const struct hc_target *t, const char *req,
               size_t len, hc_done_fn done, void *owner, char *err, size_t errlen);

/* 1 when the connection in *slot has a request in flight. */
int hc_busy(struct hc_conn *const *slot);

/* Forgets the connection in *slot (its request's done will not run) and closes it. */
void hc_drop(struct hc_conn **slot);

/* Connections open or opening on this context. */
int hc_count(const struct hc_ctx *x);

#endif
