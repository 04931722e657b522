/*
 * bws_poll — the Socket.IO client's HTTP long-polling transport (Engine.IO v4), for the
 * benchmark's subscribers that do not upgrade to websocket.
 *
 * One keep-alive connection per client, one request at a time, as a client does while its
 * GET is not pending: the handshake GET (no sid) answers "0{...sid...}"; then GET ...&sid=
 * waits until the server has packets and answers them joined by 0x1e; packets the client
 * sends (bws_send_text: "40", "3") are queued and POSTed before the next GET. Each packet
 * the server sends reaches on_text like a websocket message. Answers may carry
 * Content-Length or chunked bodies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bws_impl.h"

#define POLL_HEAD_MAX 8192

/* Sends a request: the GET of the next packets, or a POST of the queued ones. */
static void send_request(struct bws *b, int i)
{
    struct conn *c = &b->c[i];
    char head[1024];
    const char *sep = strchr(c->path, '?') ? "&" : "?";
    int n;
    if (c->out_len > 0 && c->sid[0]) {
        n = snprintf(head, sizeof head,
                     "POST %s%ssid=%s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %u\r\n\r\n",
                     c->path, sep, c->sid, b->ip, b->port, c->out_len);
        c->inflight = 'P';
    } else {
        n = snprintf(head, sizeof head, "GET %s%s%s%s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", c->path,
                     c->sid[0] ? sep : "", c->sid[0] ? "sid=" : "", c->sid, b->ip, b->port);
        c->inflight = 'G';
    }
    if (n <= 0 || (size_t)n >= sizeof head) {
        bws_conn_end(b, i, 1006, "request too long");
        return;
    }
    struct iovec iov[2] = {{head, (size_t)n}, {c->out, c->inflight == 'P' ? c->out_len : 0}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = c->inflight == 'P' ? 2 : 1};
    size_t want = (size_t)n + iov[1].iov_len;
    if (sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)want) {
        bws_conn_end(b, i, c->state == S_OPEN ? 1006 : 0, "request not sent");
        return;
    }
    if (c->inflight == 'P')
        c->out_len = 0;
}

void bws_poll_connected(struct bws *b, int i)
{
    struct conn *c = &b->c[i];
    int e = 0;
    socklen_t el = sizeof e;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0) {
        bws_conn_end(b, i, 0, strerror(e ? e : errno));
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(b->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        bws_conn_end(b, i, 0, "epoll_ctl failed");
        return;
    }
    c->state = S_UPGRADING; /* until the handshake is answered */
    send_request(b, i);
}

int bws_poll_send(struct bws *b, int i, const char *data, size_t len)
{
    struct conn *c = &b->c[i];
    if ((c->out_len > 0 && bws_grow_append(&c->out, &c->out_len, &c->out_cap, "\x1e", 1) != 0) ||
        bws_grow_append(&c->out, &c->out_len, &c->out_cap, data, len) != 0)
        return -1;
    if (!c->inflight)
        send_request(b, i);
    return 0;
}

/* The sid of an open packet 0{"sid":"..",...} into c->sid. */
static void take_sid(struct conn *c, const char *p, size_t n)
{
    const char *s = memmem(p, n, "\"sid\":\"", 7);
    if (s == NULL)
        return;
    s += 7;
    const char *e = memchr(s, '"', (size_t)(p + n - s));
    if (e && (size_t)(e - s) < sizeof c->sid) {
        memcpy(c->sid, s, (size_t)(e - s));
        c->sid[e - s] = '\0';
    }
}

/* Hands each packet of a GET answer to on_text. Returns -1 when the connection ended. */
static int deliver(struct bws *b, int i, char *body, size_t n)
{
    struct conn *c = &b->c[i];
    b->bytes += n;
    for (size_t at = 0; at < n;) {
        char *p = body + at, *end = memchr(p, 0x1e, n - at);
        size_t len = end ? (size_t)(end - p) : n - at;
        if (len > 0 && p[0] == '0' && !c->sid[0])
            take_sid(c, p, len);
        if (len == 1 && p[0] == '1') {
            bws_conn_end(b, i, 1000, "Engine.IO close packet");
            return -1;
        }
        if (len > 0 && b->cb.on_text)
            b->cb.on_text(b, i, p, len, b->ud);
        if (c->state != S_OPEN)
            return -1;
        at += len + 1;
    }
    return 0;
}

/* Decodes a chunked body in place. Returns its length, 0 when incomplete (*done = 0). */
static size_t dechunk(char *p, size_t n, size_t *used, int *done)
{
    size_t in = 0, out = 0;
    *done = 0;
    for (;;) {
        char *eol = memmem(p + in, n - in, "\r\n", 2);
        if (eol == NULL)
            return 0;
        size_t sz = strtoul(p + in, NULL, 16);
        size_t data = (size_t)(eol - p) + 2;
        if (n - data < sz + 2)
            return 0;
        if (sz == 0) {
            *used = data + 2;
            *done = 1;
            return out;
        }
        memmove(p + out, p + data, sz);
        out += sz;
        in = data + sz + 2;
    }
}

/* One complete answer at the front of the tail: status, body. Returns bytes used, 0 when it
 * is not all here yet, -1 when the connection ended. */
static long answer(struct bws *b, int i)
{
    struct conn *c = &b->c[i];
    char *p = c->tail;
    size_t n = c->tail_len;
    char *eoh = memmem(p, n, "\r\n\r\n", 4);
    if (eoh == NULL) {
        if (n > POLL_HEAD_MAX) {
            bws_conn_end(b, i, 0, "answer head too long");
            return -1;
        }
        return 0;
    }
    size_t head = (size_t)(eoh - p) + 4, used = 0, blen = 0;
    int status = n > 12 ? atoi(p + 9) : 0, chunked = 0;
    long clen = -1;
    for (char *l = memchr(p, '\n', head); l && l < eoh; l = memchr(l + 1, '\n', head)) {
        if (strncasecmp(l + 1, "content-length:", 15) == 0)
            clen = strtol(l + 16, NULL, 10);
        else if (strncasecmp(l + 1, "transfer-encoding:", 18) == 0 && memmem(l, 40, "chunked", 7))
            chunked = 1;
    }
    char *body = p + head;
    if (chunked) {
        int done;
        blen = dechunk(body, n - head, &used, &done);
        if (!done)
            return 0;
        used += head;
    } else {
        if (clen < 0 || n - head < (size_t)clen)
            return clen < 0 ? (bws_conn_end(b, i, 1006, "answer without a length"), -1) : 0;
        blen = (size_t)clen;
        used = head + blen;
    }
    if (status != 200) {
        char why[160];
        snprintf(why, sizeof why, "HTTP %d: %.*s", status, (int)(blen < 100 ? blen : 100), body);
        bws_conn_end(b, i, c->state == S_OPEN ? 1006 : 0, why);
        return -1;
    }
    int was = c->inflight;
    c->inflight = 0;
    if (c->state == S_UPGRADING) {
        c->state = S_OPEN;
        b->open++;
        if (b->cb.on_open)
            b->cb.on_open(b, i, b->ud);
        if (c->state != S_OPEN)
            return -1;
    }
    if (was == 'G' && deliver(b, i, body, blen) != 0)
        return -1;
    if (!c->inflight) /* on_text may have POSTed already */
        send_request(b, i);
    return c->state == S_OPEN ? (long)used : -1;
}

void bws_poll_readable(struct bws *b, int i)
{
    struct conn *c = &b->c[i];
    if (c->tail_cap - c->tail_len < BWS_READ) {
        char *t = realloc(c->tail, (size_t)c->tail_len + BWS_READ);
        if (t == NULL) {
            bws_conn_end(b, i, 1006, "out of memory");
            return;
        }
        c->tail = t;
        c->tail_cap = c->tail_len + BWS_READ;
    }
    ssize_t r = read(c->fd, c->tail + c->tail_len, BWS_READ);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        bws_conn_end(b, i, c->state == S_OPEN ? 1006 : 0,
                     r == 0 ? "connection closed" : strerror(errno));
        return;
    }
    if (r < 0)
        return;
    c->tail_len += (uint32_t)r;
    long used;
    while (c->tail_len > 0 && (used = answer(b, i)) > 0) {
        memmove(c->tail, c->tail + used, c->tail_len - (size_t)used);
        c->tail_len -= (uint32_t)used;
    }
}
