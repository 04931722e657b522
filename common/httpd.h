/*
 * httpd — a small HTTP server on libmicrohttpd for JSON APIs.
 *
 * Routes are a table of (method, path) -> handler. The helper does everything that is the
 * same for every endpoint: 404 for unknown paths, 405 (with Allow) for a known path with
 * another method, 415 when a JSON route gets another Content-Type, 413 when the body
 * exceeds max_body (checked on Content-Length and while reading), 408 when the body took
 * longer than body_timeout_ms to arrive, and JSON error bodies {"error","message"}.
 * Handlers run on libmicrohttpd's threads (a pool of `threads`), so they must be thread-safe.
 *
 * Every error reaches the client, also one that is still sending its body (Node's fetch
 * sends a whole body before it reads; curl without Expect: 100-continue): a request refused
 * before its body is read (413 on Content-Length or once a chunked body outgrows max_body,
 * 401, 404, 405, 415, 408 in mid-body) is answered at once and its connection closed
 * lingeringly, as nginx does: the rest of the body is read and discarded, never buffered,
 * for at most drain_max bytes and drain_ms, then the socket is closed (httpd_linger.h).
 */
#ifndef RELAYLAB_HTTPD_H
#define RELAYLAB_HTTPD_H

#include <jansson.h>
#include <stddef.h>

#include "metrics.h"

struct httpd;
struct MHD_Connection;

struct httpd_request {
    const char *method;
    const char *path;
    const char *body; /* NUL-terminated; may contain NUL bytes before body_len */
    size_t body_len;
    struct MHD_Connection *conn;
};

#define HTTPD_MAX_HEADERS 4

struct httpd_response {
    int status;
    char *body; /* malloc'd; the helper frees it */
    size_t len;
    const char *content_type;            /* default application/json */
    char *headers[HTTPD_MAX_HEADERS][2]; /* extra headers, malloc'd pairs */
    int nheaders;
};

typedef void (*httpd_handler)(const struct httpd_request *req, struct httpd_response *resp,
                              void *ud);

struct httpd_route {
    const char *method;
    const char *path;
    int prefix;    /* match any path that starts with path */
    int json_body; /* the body must be application/json */
    int auth;      /* requires Authorization: Bearer <config token> when a token is set */
    httpd_handler fn;
};

struct httpd_config {
    const char *bind; /* NULL or "" = all addresses */
    int port;         /* 0 = pick a free one (see httpd_port) */
    size_t max_body;
    long body_timeout_ms;      /* whole-body deadline; 0 = 10 s */
    unsigned threads;          /* 0 = 2 */
    int thread_per_connection; /* handlers may block (e.g. on a database): a thread each */
    unsigned max_connections;  /* 0 = 1024 */
    const struct httpd_route *routes;
    size_t nroutes;
    void *ud;
    const char *name;         /* for logs */
    const char *bearer_token; /* for routes with auth; NULL = open */
    struct metrics *metrics;  /* optional: http_responses_total{class=...}, http_linger_* */
    size_t drain_max;         /* body bytes of a refused request discarded; 0 = 1 GiB */
    long drain_ms;            /* how long a refused request may keep sending; 0 = 10 s */
    unsigned max_draining;    /* refused connections draining at once; 0 = 64 */
};

/* Starts serving. Returns NULL with a message in err (e.g. the port is taken). */
struct httpd *httpd_new(const struct httpd_config *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Stops accepting new connections; requests in flight finish. */
void httpd_quiesce(struct httpd *h);
/* Waits (at most timeout_ms) until every request under way has been answered and its
 * answer sent. Returns how many are still under way (0: idle). Accepts NULL. */
int httpd_wait_idle(struct httpd *h, long timeout_ms);
/* Stops (waiting for in-flight requests) and frees. Accepts NULL. */
void httpd_free(struct httpd *h);
int httpd_port(const struct httpd *h);

/*
 * Compares a presented secret with the expected one in time that depends only on the
 * expected secret's length. Returns 1 when equal.
 */
int httpd_secret_equal(const char *presented, const char *expected);

/* Request accessors. Return NULL when absent. */
const char *httpd_header(const struct httpd_request *r, const char *name);
const char *httpd_query(const struct httpd_request *r, const char *name);

/* Sets resp to status with v serialised as the body. Steals the reference to v. */
void httpd_reply_json(struct httpd_response *resp, int status, json_t *v);
/* Sets resp to status with {"error":code,"message":<printf>}. */
void httpd_reply_error(struct httpd_response *resp, int status, const char *code, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
/* Sets a plain-text body (copied). */
void httpd_reply_text(struct httpd_response *resp, int status, const char *content_type,
                      const char *text, size_t len);
/* Adds a response header (copied). Ignored past HTTPD_MAX_HEADERS. */
void httpd_add_header(struct httpd_response *resp, const char *name, const char *value);

#endif
