#include "bws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bws_impl.h"

struct bws *bws_new(int max, int polling, const struct bws_callbacks *cb, void *ud, char *err,
                    size_t errlen)
{
    struct bws *b = calloc(1, sizeof *b);
    if (b == NULL)
        goto oom;
    b->ep = -1;
    b->max = max;
    b->polling = polling;
    b->cb = *cb;
    b->ud = ud;
    b->mask_seed = 0x9e3779b9u;
    b->c = calloc((size_t)max, sizeof *b->c);
    b->rbuf = malloc(BWS_READ);
    if (b->c == NULL || b->rbuf == NULL)
        goto oom;
    for (int i = 0; i < max; i++)
        b->c[i].fd = -1;
    b->ep = epoll_create1(EPOLL_CLOEXEC);
    if (b->ep < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        bws_free(b);
        return NULL;
    }
    return b;
oom:
    snprintf(err, errlen, "out of memory");
    bws_free(b);
    return NULL;
}

static void conn_release(struct bws *b, struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    if (c->state == S_OPEN)
        b->open--;
    free(c->tail);
    free(c->msg);
    free(c->req);
    free(c->path);
    free(c->out);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

void bws_free(struct bws *b)
{
    if (b == NULL)
        return;
    if (b->c)
        for (int i = 0; i < b->max; i++)
            if (b->c[i].state != S_FREE)
                conn_release(b, &b->c[i]);
    if (b->ep >= 0)
        close(b->ep);
    free(b->c);
    free(b->rbuf);
    free(b);
}

void bws_conn_end(struct bws *b, int i, int code, const char *why)
{
    conn_release(b, &b->c[i]);
    if (b->cb.on_close)
        b->cb.on_close(b, i, code, why, b->ud);
}

int bws_connect(struct bws *b, int i, const char *ip, int port, const char *path,
                const char *src_ip, char *err, size_t errlen)
{
    if (i < 0 || i >= b->max || b->c[i].state != S_FREE) {
        snprintf(err, errlen, "connection %d out of range or in use", i);
        return -1;
    }
    struct conn *c = &b->c[i];
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, ip, &to.sin_addr) != 1) {
        snprintf(err, errlen, "bad address %s", ip);
        return -1;
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src_ip) {
        /* Many source addresses give many ephemeral port ranges; the port is picked at
         * connect time, when the kernel knows the destination. */
        struct sockaddr_in from = {.sin_family = AF_INET};
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (inet_pton(AF_INET, src_ip, &from.sin_addr) != 1 ||
            bind(c->fd, (struct sockaddr *)&from, sizeof from) != 0) {
            snprintf(err, errlen, "bind %s: %s", src_ip, strerror(errno));
            goto fail;
        }
    }
    if (connect(c->fd, (struct sockaddr *)&to, sizeof to) != 0 && errno != EINPROGRESS) {
        snprintf(err, errlen, "connect %s:%d: %s", ip, port, strerror(errno));
        goto fail;
    }
    b->ip = ip;
    b->port = port;
    size_t cap = strlen(path) + strlen(ip) + 256;
    c->req = b->polling ? NULL : malloc(cap);
    c->path = b->polling ? strdup(path) : NULL;
    if (c->req == NULL && c->path == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (c->req)
        snprintf(c->req, cap,
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 path, ip, port);
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
    if (epoll_ctl(b->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    c->state = S_CONNECTING;
    return 0;
fail:
    close(c->fd);
    free(c->req);
    free(c->path);
    memset(c, 0, sizeof *c);
    c->fd = -1;
    return -1;
}

static int send_frame(struct conn *c, struct bws *b, int op, const char *d, size_t n)
{
    unsigned char f[16 + 1024];
    if (n > 1024)
        return -1;
    size_t h = 0;
    f[h++] = (unsigned char)(0x80 | op);
    if (n < 126) {
        f[h++] = (unsigned char)(0x80 | n);
    } else {
        f[h++] = 0x80 | 126;
        f[h++] = (unsigned char)(n >> 8);
        f[h++] = (unsigned char)n;
    }
    b->mask_seed = b->mask_seed * 1664525u + 1013904223u;
    unsigned char *m = f + h;
    memcpy(m, &b->mask_seed, 4);
    h += 4;
    for (size_t k = 0; k < n; k++)
        f[h + k] = (unsigned char)d[k] ^ m[k & 3];
    ssize_t w = send(c->fd, f, h + n, MSG_NOSIGNAL | MSG_DONTWAIT);
    return w == (ssize_t)(h + n) ? 0 : -1;
}

int bws_send_text(struct bws *b, int i, const char *data, size_t len)
{
    if (i < 0 || i >= b->max || b->c[i].state != S_OPEN)
        return -1;
    if (b->polling)
        return bws_poll_send(b, i, data, len);
    if (send_frame(&b->c[i], b, 1, data, len) != 0) {
        bws_conn_end(b, i, 1006, "send buffer full");
        return -1;
    }
    return 0;
}

int bws_grow_append(char **buf, uint32_t *len, uint32_t *cap, const char *d, size_t n)
{
    if ((size_t)*len + n > BWS_FRAME_MAX)
        return -1;
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 1024;
        while (nc < *len + n)
            nc *= 2;
        char *p = realloc(*buf, nc);
        if (p == NULL)
            return -1;
        *buf = p;
        *cap = (uint32_t)nc;
    }
    memcpy(*buf + *len, d, n);
    *len += (uint32_t)n;
    return 0;
}

/*
 * Parses whole frames from p[0..n). Returns the bytes consumed (the rest is an incomplete
 * frame), or -1 when the connection was ended.
 */
static long parse_frames(struct bws *b, int i, char *p, size_t n)
{
    struct conn *c = &b->c[i];
    size_t at = 0;
    while (n - at >= 2) {
        unsigned char *h = (unsigned char *)p + at;
        int fin = h[0] & 0x80, op = h[0] & 0x0f, masked = h[1] & 0x80;
        uint64_t len = h[1] & 0x7f;
        size_t hl = 2;
        if (len == 126) {
            if (n - at < 4)
                break;
            len = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (len == 127) {
            if (n - at < 10)
                break;
            len = 0;
            for (int k = 0; k < 8; k++)
                len = len << 8 | h[2 + k];
            hl = 10;
        }
        if (len > BWS_FRAME_MAX) {
            bws_conn_end(b, i, 1009, "frame too big");
            return -1;
        }
        if (masked)
            hl += 4;
        if (n - at < hl + len)
            break;
        char *pl = p + at + hl;
        if (masked)
            for (uint64_t k = 0; k < len; k++)
                pl[k] ^= (char)h[hl - 4 + (k & 3)];
        at += hl + (size_t)len;
        if (op == 8) {
            int code = len >= 2 ? ((unsigned char)pl[0] << 8 | (unsigned char)pl[1]) : 1005;
            bws_conn_end(b, i, code, "closed by the server");
            return -1;
        }
        if (op == 9) {
            if (len <= 125 && send_frame(c, b, 10, pl, (size_t)len) != 0) {
                bws_conn_end(b, i, 1006, "pong not sent");
                return -1;
            }
            continue;
        }
        if (op == 10)
            continue;
        if (op == 0 || !fin || c->msg_op) {
            /* A fragmented message: assemble it (servers here rarely fragment). */
            if (op != 0)
                c->msg_op = (uint8_t)op;
            if (bws_grow_append(&c->msg, &c->msg_len, &c->msg_cap, pl, (size_t)len) != 0) {
                bws_conn_end(b, i, 1009, "message too big");
                return -1;
            }
            if (!fin)
                continue;
            int text = c->msg_op == 1;
            c->msg_op = 0;
            b->bytes += c->msg_len;
            if (text && b->cb.on_text)
                b->cb.on_text(b, i, c->msg, c->msg_len, b->ud);
            c->msg_len = 0;
            if (c->state != S_OPEN)
                return -1;
            continue;
        }
        b->bytes += len;
        if (op == 1 && b->cb.on_text)
            b->cb.on_text(b, i, pl, (size_t)len, b->ud);
        if (c->state != S_OPEN)
            return -1;
    }
    return (long)at;
}

/* The upgrade response: "HTTP/1.1 101" and the header end. Returns bytes of the head, 0 when
 * incomplete, -1 when refused (the connection is ended). */
static long parse_head(struct bws *b, int i, const char *p, size_t n)
{
    const char *end = memmem(p, n, "\r\n\r\n", 4);
    if (end == NULL) {
        if (n > BWS_HEAD_MAX) {
            bws_conn_end(b, i, 0, "upgrade response too long");
            return -1;
        }
        return 0;
    }
    if (n < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0) {
        char why[96];
        const char *eol = memchr(p, '\r', n);
        snprintf(why, sizeof why, "upgrade refused: %.*s", (int)(eol ? eol - p : 0), p);
        bws_conn_end(b, i, 0, why);
        return -1;
    }
    b->c[i].state = S_OPEN;
    b->open++;
    if (b->cb.on_open)
        b->cb.on_open(b, i, b->ud);
    return b->c[i].state == S_OPEN ? end + 4 - p : -1;
}

/* Parses p[0..n): the head while upgrading, then frames. Returns bytes consumed or -1. */
static long consume(struct bws *b, int i, char *p, size_t n)
{
    long used = 0;
    if (b->c[i].state == S_UPGRADING) {
        used = parse_head(b, i, p, n);
        if (used <= 0)
            return used;
    }
    long f = parse_frames(b, i, p + used, n - (size_t)used);
    return f < 0 ? -1 : used + f;
}

static void on_readable(struct bws *b, int i)
{
    struct conn *c = &b->c[i];
    char *buf;
    size_t have = 0;
    if (c->tail_len == 0) {
        buf = b->rbuf;
    } else {
        /* A frame straddles reads: read behind the carried bytes. */
        if (c->tail_cap - c->tail_len < BWS_READ) {
            char *t = realloc(c->tail, (size_t)c->tail_len + BWS_READ);
            if (t == NULL) {
                bws_conn_end(b, i, 1006, "out of memory");
                return;
            }
            c->tail = t;
            c->tail_cap = c->tail_len + BWS_READ;
        }
        buf = c->tail;
        have = c->tail_len;
    }
    ssize_t r = read(c->fd, buf + have, BWS_READ);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        bws_conn_end(b, i, c->state == S_OPEN ? 1006 : 0,
                     r == 0 ? "connection closed" : strerror(errno));
        return;
    }
    if (r < 0)
        return;
    size_t n = have + (size_t)r;
    long used = consume(b, i, buf, n);
    if (used < 0)
        return;
    size_t rest = n - (size_t)used;
    if (rest == 0) {
        c->tail_len = 0;
        if (c->tail_cap > 4 * BWS_READ) {
            free(c->tail);
            c->tail = NULL;
            c->tail_cap = 0;
        }
        return;
    }
    if (buf == c->tail) {
        memmove(c->tail, c->tail + used, rest);
        c->tail_len = (uint32_t)rest;
    } else {
        c->tail_len = 0;
        if (bws_grow_append(&c->tail, &c->tail_len, &c->tail_cap, buf + used, rest) != 0)
            bws_conn_end(b, i, 1009, "frame too big");
    }
}

static void on_connected(struct bws *b, int i)
{
    struct conn *c = &b->c[i];
    int e = 0;
    socklen_t el = sizeof e;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0) {
        bws_conn_end(b, i, 0, strerror(e ? e : errno));
        return;
    }
    size_t n = strlen(c->req);
    if (send(c->fd, c->req, n, MSG_NOSIGNAL) != (ssize_t)n) {
        bws_conn_end(b, i, 0, "upgrade request not sent");
        return;
    }
    free(c->req);
    c->req = NULL;
    c->state = S_UPGRADING;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(b->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        bws_conn_end(b, i, 0, "epoll_ctl failed");
}

int bws_service(struct bws *b, int timeout_ms)
{
    int n = epoll_wait(b->ep, b->ev, BWS_EVENTS, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int k = 0; k < n; k++) {
        int i = (int)b->ev[k].data.u32;
        switch (b->c[i].state) {
        case S_CONNECTING:
            if (b->polling)
                bws_poll_connected(b, i);
            else
                on_connected(b, i);
            break;
        case S_UPGRADING:
        case S_OPEN:
            if (b->polling)
                bws_poll_readable(b, i);
            else
                on_readable(b, i);
            break;
        default:
            break; /* ended earlier in this batch */
        }
    }
    return n;
}

int bws_open_count(const struct bws *b)
{
    return b->open;
}

uint64_t bws_bytes(const struct bws *b)
{
    return b->bytes;
}
