/*
 * eio_poll — the pure parts of Engine.IO v4 HTTP long-polling (and of the websocket
 * upgrade's checks): which error a request gets, in the order the reference server checks,
 * and how a POST body splits into packets. No I/O: unit-tested and fuzzed (fuzz/eio_poll.c).
 *
 * Errors are answered as the reference server does: status 400 (403 for FORBIDDEN) with
 * Content-Type application/json and the body {"code":N,"message":"..."}.
 */
#ifndef RELAYLAB_EIO_POLL_H
#define RELAYLAB_EIO_POLL_H

#include <stddef.h>

enum eio_error {
    EIO_ERR_NONE = -1,
    EIO_ERR_TRANSPORT = 0,   /* "Transport unknown": transport missing or not polling/websocket */
    EIO_ERR_SID = 1,         /* "Session ID unknown" */
    EIO_ERR_METHOD = 2,      /* "Bad handshake method": a handshake that is not a GET */
    EIO_ERR_BAD_REQUEST = 3, /* "Bad request" */
    EIO_ERR_FORBIDDEN = 4,   /* "Forbidden" (403) */
    EIO_ERR_VERSION = 5,     /* "Unsupported protocol version": EIO is not 4 */
};

/* The reference server's message for an error code. */
const char *eio_error_message(enum eio_error e);
/* 403 for EIO_ERR_FORBIDDEN, else 400. */
int eio_error_status(enum eio_error e);

enum eio_session_kind { EIO_SID_UNKNOWN = 0, EIO_SID_POLLING, EIO_SID_OTHER };

/* What the checks need to know of a request (strings NULL when the query lacks them). */
struct eio_request {
    const char *method;            /* "GET", "POST", "PUT", ... */
    const char *transport;         /* the transport= query argument */
    const char *eio;               /* the EIO= query argument */
    const char *sid;               /* the sid= query argument */
    int upgrade;                   /* a websocket upgrade request */
    enum eio_session_kind session; /* what the sid names, when given */
};

/*
 * Decides the error for a request, as the reference verify() and handshake() do: transport
 * first, then the session (unknown sid; a polling request for a session that is not
 * polling), then for handshakes the method (GET only), a websocket handshake without an
 * upgrade, and the protocol version. Returns EIO_ERR_NONE when the request may proceed.
 */
enum eio_error eio_check_request(const struct eio_request *r);

/*
 * Splits a polling payload: packets separated by the record separator 0x1e. On each call
 * sets *pkt and *plen to the next packet and advances *pos; returns 1, or 0 at the end. An empty
 * packet (leading, trailing or doubled separator) is returned as such (plen 0): callers
 * treat it as invalid, as the reference parser does.
 */
int eio_payload_next(const char *body, size_t len, size_t *pos, const char **pkt, size_t *plen);

/*
 * Checks a whole POST body before any packet of it is acted on: non-empty, valid UTF-8,
 * no NUL byte, at most max_packets packets, every packet classifies (eio_classify), and no
 * binary packet announces more than EIO_ATTACHMENTS_MAX attachments. (Whether a "b..."
 * attachment was announced is the session's state: the caller checks it.)
 * Returns 0, or -1 with a message in err naming the problem and the packet index.
 */
int eio_payload_check(const char *body, size_t len, size_t max_packets, char *err, size_t errlen);

/* 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF). */
int eio_utf8_valid(const char *s, size_t len);

#endif
