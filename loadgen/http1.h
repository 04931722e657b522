/*
 * http1 — an incremental HTTP/1.1 response parser for loadgen's long-polling clients.
 *
 * Fed the bytes of one connection as they arrive; knows where a response ends
 * (Content-Length, chunked, or the connection's close), whether the connection may be kept
 * alive, and keeps the header block so that callers can read headers (Set-Cookie, ...).
 * Every size is capped: the header block at H1_HEAD_MAX, the body at the caller's max_body.
 * No I/O. One response at a time: h1_reset() before the next one on the same connection.
 */
#ifndef LOADGEN_HTTP1_H
#define LOADGEN_HTTP1_H

#include <stddef.h>

#define H1_HEAD_MAX 16384

enum h1_result { H1_MORE = 0, H1_DONE = 1, H1_ERROR = -1 };

struct h1_resp {
    int status;     /* 3-digit status code once the status line is in */
    int keep_alive; /* valid at H1_DONE: the connection may carry another request */
    char *head;     /* status line and headers (NUL-terminated); owned */
    size_t head_len;
    char *body; /* the decoded body (NUL-terminated); owned */
    size_t body_len;
    char err[96]; /* why, after H1_ERROR */
    /* private */
    size_t max_body, body_cap, head_cap;
    int state, http10, close_hdr, chunked;
    long long content_length, chunk_left;
    char line[40]; /* a chunk-size line being read */
    size_t line_len;
};

/* Prepares r for a response whose body may be up to max_body bytes. Returns 0, or -1 (memory). */
int h1_init(struct h1_resp *r, size_t max_body) __attribute__((warn_unused_result));
/* Forgets the previous response (keeps the buffers). */
void h1_reset(struct h1_resp *r);
void h1_cleanup(struct h1_resp *r);

/*
 * Feeds bytes. Returns H1_MORE (need more), H1_DONE (a complete response; *used bytes of in
 * belong to it: anything after would be a response nobody asked for), or H1_ERROR (r->err).
 */
enum h1_result h1_feed(struct h1_resp *r, const char *in, size_t len, size_t *used);

/* The connection closed: H1_DONE when that ends a body without a length, else H1_ERROR. */
enum h1_result h1_eof(struct h1_resp *r);

/*
 * The index-th header named name (case-insensitive), value trimmed. Returns 1 with *value and
 * *vlen pointing into r->head, or 0 when there is none.
 */
int h1_header(const struct h1_resp *r, const char *name, int index, const char **value,
              size_t *vlen);

#endif
