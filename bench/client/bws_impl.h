/*
 * bws internals shared by the websocket transport (bws.c) and Socket.IO's long-polling
 * transport (bws_poll.c). Not part of the API.
 */
#ifndef RELAYLAB_BENCH_BWS_IMPL_H
#define RELAYLAB_BENCH_BWS_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "bws.h"

#define BWS_READ 65536
#define BWS_HEAD_MAX 4096         /* an upgrade response larger than this is refused */
#define BWS_FRAME_MAX (16u << 20) /* a frame larger than this closes the connection */
#define BWS_EVENTS 1024

enum { S_FREE, S_CONNECTING, S_UPGRADING, S_OPEN };

struct conn {
    int fd;
    uint8_t state;
    uint8_t msg_op; /* opcode of the fragmented message being assembled (0 = none) */
    char *tail;     /* unparsed bytes carried to the next read */
    uint32_t tail_len, tail_cap;
    char *msg; /* fragments of a message */
    uint32_t msg_len, msg_cap;
    char *req; /* the upgrade request until it is sent */
    /* long-polling only */
    char *path;   /* the request path without sid */
    char sid[48]; /* Engine.IO session id, once the handshake answered */
    char *out;    /* packets to POST, separated by 0x1e */
    uint32_t out_len, out_cap;
    uint8_t inflight; /* a request is waiting for its answer: 'G' or 'P' */
};

struct bws {
    int ep;
    int max;
    int open;
    uint64_t bytes;
    uint32_t mask_seed;
    struct conn *c;
    struct bws_callbacks cb;
    void *ud;
    char *rbuf;
    int polling; /* Socket.IO long-polling instead of websockets (bws_poll.c) */
    const char *ip;
    int port;
    struct epoll_event ev[BWS_EVENTS];
};

/* Closes connection i and reports it (code, why) through on_close. */
void bws_conn_end(struct bws *b, int i, int code, const char *why);
/* Appends to a growable buffer; -1 when it would pass BWS_FRAME_MAX or memory runs out. */
int bws_grow_append(char **buf, uint32_t *len, uint32_t *cap, const char *d, size_t n);

/* Long-polling (bws_poll.c): the connection is up, send the handshake GET. */
void bws_poll_connected(struct bws *b, int i);
/* Long-polling: bytes arrived. */
void bws_poll_readable(struct bws *b, int i);
/* Long-polling: queue a packet to POST. */
int bws_poll_send(struct bws *b, int i, const char *data, size_t len);

#endif
