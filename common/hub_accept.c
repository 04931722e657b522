/*
 * hub_accept — the hub's own listening socket, on its libev loop (lws service thread).
 *
 * Why not lws's listener: lws 4.1 accepts every queued connection in one go, and each new
 * connection's handshake timeout goes into one sorted list that is walked from its head,
 * as is the list of header buffers when one is freed; both hold every connection still in
 * its handshake. A 10,000-client connect storm then spent more time walking those lists
 * than anything else.
 *
 * Here accepting and handing to lws are separate: every wake-up drains the kernel's
 * backlog into a queue of our own (so the backlog never overflows and no client waits a
 * second for a retransmitted SYN), and each loop iteration hands HUB_ADOPT_BURST of the
 * queued connections to lws (lws_adopt_socket_vhost), so few are ever mid-handshake in
 * lws at once. While the queue is not empty an idle watcher keeps the loop from blocking.
 */
#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hub_impl.h"

#define HUB_ADOPT_BURST 32    /* connections handed to lws per loop iteration */
#define HUB_ACCEPT_QUEUE 8192 /* accepted, not yet handed to lws */
#define HUB_LISTEN_BACKLOG 4096

enum { PAUSE_FDS = 1, PAUSE_FULL = 2 }; /* out of descriptors (until a tick); queue full */

struct hub_accept {
    struct hub *h;
    int fd;
    ev_io io;
    ev_check check;
    ev_idle idle;
    int paused; /* not watching the listener: PAUSE_FDS or PAUSE_FULL */
    unsigned head, n;
    int q[HUB_ACCEPT_QUEUE];
};

static void adopt_some(struct hub_accept *a)
{
    struct hub *h = a->h;
    for (int i = 0; i < HUB_ADOPT_BURST && a->n > 0; i++) {
        int fd = a->q[a->head];
        a->head = (a->head + 1) % HUB_ACCEPT_QUEUE;
        a->n--;
        if (atomic_load(&h->stopping)) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* On failure lws has closed the socket. */
        (void)lws_adopt_socket_vhost(h->vhost, fd);
    }
    if (a->n == 0)
        ev_idle_stop(h->loop, &a->idle);
}

static void pause_listener(struct hub_accept *a, int why)
{
    ev_io_stop(a->h->loop, &a->io);
    a->paused = why;
}

static void on_listen(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct hub_accept *a = w->data;
    while (a->n < HUB_ACCEPT_QUEUE) {
        int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            /* Out of descriptors, the backlog stays readable: stop watching it until the
             * next tick rather than spin (lws's own listener does the same). EAGAIN:
             * drained; ECONNABORTED and the like: the next wake-up. */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_listener(a, PAUSE_FDS);
            break;
        }
        a->q[(a->head + a->n) % HUB_ACCEPT_QUEUE] = fd;
        a->n++;
    }
    if (a->n == HUB_ACCEPT_QUEUE)
        pause_listener(a, PAUSE_FULL); /* the queue takes the rest once it has room */
    if (a->n > 0)
        ev_idle_start(loop, &a->idle);
}

/* After each loop iteration's events: the next few queued connections go to lws. */
static void on_check(struct ev_loop *loop, ev_check *w, int revents)
{
    (void)loop;
    (void)revents;
    struct hub_accept *a = w->data;
    adopt_some(a);
    if (a->paused == PAUSE_FULL && a->n < HUB_ACCEPT_QUEUE / 2)
        hub_accept_tick(a->h);
}

static void on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents; /* only there so the loop does not block while connections wait */
}

/* A listening socket on bind:port (all addresses, both families, when bind is empty). */
static int listen_on(const char *bind_addr, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                             .ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM},
                    *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    const char *node = bind_addr && *bind_addr ? bind_addr : NULL;
    if (node == NULL)
        hints.ai_family = AF_INET6; /* "::" with IPV6_V6ONLY off takes IPv4 too */
    int rc = getaddrinfo(node, ps, &hints, &res);
    if (rc != 0 && node == NULL) {
        hints.ai_family = AF_INET;
        rc = getaddrinfo(node, ps, &hints, &res);
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", node ? node : "*", gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (a->ai_family == AF_INET6 && node == NULL)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, HUB_LISTEN_BACKLOG) != 0) {
            snprintf(err, errlen, "%s", strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

int hub_accept_start(struct hub *h, char *err, size_t errlen)
{
    h->vhost = lws_get_vhost_by_name(h->ctx, "default");
    if (h->vhost == NULL) {
        snprintf(err, errlen, "no lws vhost to adopt connections into");
        return -1;
    }
    struct hub_accept *a = calloc(1, sizeof *a);
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->h = h;
    a->fd = listen_on(h->cfg.bind, h->cfg.port, err, errlen);
    if (a->fd < 0) {
        free(a);
        return -1;
    }
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    if (getsockname(a->fd, (struct sockaddr *)&sa, &sl) == 0)
        h->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                                 : ((struct sockaddr_in *)&sa)->sin_port);
    ev_io_init(&a->io, on_listen, a->fd, EV_READ);
    ev_check_init(&a->check, on_check);
    ev_idle_init(&a->idle, on_idle);
    a->io.data = a->check.data = a->idle.data = a;
    ev_io_start(h->loop, &a->io);
    ev_check_start(h->loop, &a->check);
    h->acceptor = a;
    return 0;
}

void hub_accept_tick(struct hub *h)
{
    struct hub_accept *a = h->acceptor;
    if (a && a->paused && a->n < HUB_ACCEPT_QUEUE) {
        a->paused = 0;
        ev_io_start(h->loop, &a->io);
    }
}

void hub_accept_stop(struct hub *h)
{
    struct hub_accept *a = h->acceptor;
    if (a == NULL)
        return;
    ev_io_stop(h->loop, &a->io);
    ev_check_stop(h->loop, &a->check);
    ev_idle_stop(h->loop, &a->idle);
    close(a->fd);
    for (; a->n > 0; a->n--, a->head = (a->head + 1) % HUB_ACCEPT_QUEUE)
        close(a->q[a->head]);
    free(a);
    h->acceptor = NULL;
}
