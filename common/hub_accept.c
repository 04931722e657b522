/*
 * hub_accept — the hub's own listening socket, on its libev loop (lws service thread).
 *
 * Why not lws's listener: lws 4.1 accepts every queued connection in one go, and each new
 * connection's handshake timeout goes into one sorted list that is walked from its head,
 * as is the list of header buffers when one is freed; both hold every connection still in
 * its handshake. A 10,000-client connect storm then spent more time walking those lists
 * than anything else. Here the loop accepts HUB_ACCEPT_BURST connections per wake-up and
 * hands them to lws (lws_adopt_socket_vhost), so few are ever mid-handshake at once; the
 * kernel's backlog (4096) holds the rest for the next iteration.
 */
#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hub_impl.h"

#define HUB_ACCEPT_BURST 32
#define HUB_LISTEN_BACKLOG 4096

static void on_listen(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct hub *h = w->data;
    for (int i = 0; i < HUB_ACCEPT_BURST; i++) {
        int fd = accept4(h->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
            /* Out of descriptors: the backlog stays readable, so stop watching it until the
             * next tick rather than spin (lws's own listener does the same). */
            ev_io_stop(h->loop, &h->listen_w);
            h->listen_paused = 1;
            return;
        }
        if (fd < 0)
            return; /* EAGAIN: drained; ECONNABORTED and the like: the next wake-up */
        if (atomic_load(&h->stopping)) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* On failure lws has closed the socket. */
        (void)lws_adopt_socket_vhost(h->vhost, fd);
    }
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
    h->listen_fd = listen_on(h->cfg.bind, h->cfg.port, err, errlen);
    if (h->listen_fd < 0)
        return -1;
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    if (getsockname(h->listen_fd, (struct sockaddr *)&sa, &sl) == 0)
        h->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                                 : ((struct sockaddr_in *)&sa)->sin_port);
    ev_io_init(&h->listen_w, on_listen, h->listen_fd, EV_READ);
    h->listen_w.data = h;
    ev_io_start(h->loop, &h->listen_w);
    return 0;
}

void hub_accept_tick(struct hub *h)
{
    if (h->listen_fd >= 0 && h->listen_paused) {
        h->listen_paused = 0;
        ev_io_start(h->loop, &h->listen_w);
    }
}

void hub_accept_stop(struct hub *h)
{
    if (h->listen_fd < 0)
        return;
    ev_io_stop(h->loop, &h->listen_w);
    close(h->listen_fd);
    h->listen_fd = -1;
}
