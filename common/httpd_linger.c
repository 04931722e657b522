#include "httpd_linger.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "monoclock.h"

#define LINGER_SCRATCH (64 * 1024)
#define LINGER_PER_WAKE (1024 * 1024) /* bytes read from one socket before serving the others */
#define LINGER_STOP_TAG UINT64_MAX

struct slot {
    int fd; /* -1 when free */
    long long t0_ms, last_ms;
    size_t bytes;
};

struct httpd_linger {
    struct httpd_linger_config cfg;
    pthread_mutex_t lock; /* guards slots and count */
    struct slot *slots;
    unsigned count;
    int ep, stop_fd;
    atomic_int stopping;
    pthread_t thread;
    char *scratch; /* discarded bytes land here (MSG_TRUNC copies nothing on TCP) */
    struct metric *m_lingering, *m_drained, *m_cut, *m_full;
};

/* Closes slot i. Called with the lock held. cut = closed at a bound rather than by the client. */
static void slot_close(struct httpd_linger *l, unsigned i, int cut)
{
    struct slot *s = &l->slots[i];
    if (s->fd < 0)
        return;
    /* The registration belongs to the open file description, which the server library may
     * still hold through its own descriptor: remove it explicitly before closing ours. */
    epoll_ctl(l->ep, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    s->fd = -1;
    l->count--;
    metric_set(l->m_lingering, l->count);
    if (cut)
        metric_inc(l->m_cut);
}

/* Reads and discards what is there on slot i, within the bounds. Lock held. */
static void slot_drain(struct httpd_linger *l, unsigned i)
{
    struct slot *s = &l->slots[i];
    size_t got = 0;
    while (s->fd >= 0 && got < LINGER_PER_WAKE) {
        ssize_t r = recv(s->fd, l->scratch, LINGER_SCRATCH, MSG_DONTWAIT | MSG_TRUNC);
        if (r > 0) {
            got += (size_t)r;
            s->bytes += (size_t)r;
            metric_add(l->m_drained, (uint64_t)r);
            if (s->bytes > l->cfg.max_bytes)
                slot_close(l, i, 1);
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        slot_close(l, i, 0); /* the client closed (r == 0) or reset: done */
    }
    if (got > 0 && s->fd >= 0)
        s->last_ms = monoclock_ms();
}

static void sweep(struct httpd_linger *l)
{
    long long t = monoclock_ms();
    for (unsigned i = 0; i < l->cfg.slots; i++) {
        struct slot *s = &l->slots[i];
        if (s->fd >= 0 && (t - s->t0_ms > l->cfg.max_ms || t - s->last_ms > l->cfg.idle_ms))
            slot_close(l, i, 1);
    }
}

static void *linger_main(void *arg)
{
    struct httpd_linger *l = arg;
    struct epoll_event ev[32];
    for (;;) {
        int n = epoll_wait(l->ep, ev, 32, 100);
        int stop = 0;
        pthread_mutex_lock(&l->lock);
        for (int k = 0; k < n; k++) {
            if (ev[k].data.u64 == LINGER_STOP_TAG)
                stop = 1;
            else if (ev[k].data.u64 < l->cfg.slots)
                slot_drain(l, (unsigned)ev[k].data.u64);
        }
        sweep(l);
        pthread_mutex_unlock(&l->lock);
        if (stop || atomic_load(&l->stopping))
            break;
    }
    return NULL;
}

struct httpd_linger *httpd_linger_new(const struct httpd_linger_config *c, char *err, size_t errlen)
{
    struct httpd_linger *l = calloc(1, sizeof *l);
    if (l == NULL)
        goto fail_alloc;
    l->cfg = *c;
    atomic_init(&l->stopping, 0);
    if (l->cfg.slots == 0)
        l->cfg.slots = 1;
    l->slots = calloc(l->cfg.slots, sizeof *l->slots);
    l->scratch = malloc(LINGER_SCRATCH);
    if (l->slots == NULL || l->scratch == NULL)
        goto fail_mem;
    for (unsigned i = 0; i < l->cfg.slots; i++)
        l->slots[i].fd = -1;
    if (pthread_mutex_init(&l->lock, NULL) != 0)
        goto fail_mem;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    if (l->ep < 0)
        goto fail_ep;
    l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->stop_fd < 0)
        goto fail_stop;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = LINGER_STOP_TAG};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->stop_fd, &ev) != 0)
        goto fail_thread;
    if (c->metrics) {
        l->m_lingering = metrics_add(c->metrics, METRIC_GAUGE, "http_lingering_connections", NULL,
                                     "Refused requests whose remaining body is being discarded.");
        l->m_drained = metrics_add(c->metrics, METRIC_COUNTER, "http_drained_bytes_total", NULL,
                                   "Body bytes of refused requests read and discarded.");
        l->m_cut = metrics_add(c->metrics, METRIC_COUNTER, "http_linger_cut_total", NULL,
                               "Lingering connections closed at a bound (bytes, time, idle).");
        l->m_full = metrics_add(c->metrics, METRIC_COUNTER, "http_linger_full_total", NULL,
                                "Refused requests closed at once: every lingering slot taken.");
    }
    if (pthread_create(&l->thread, NULL, linger_main, l) != 0)
        goto fail_thread;
    return l;

fail_thread:
    close(l->stop_fd);
fail_stop:
    close(l->ep);
fail_ep:
    pthread_mutex_destroy(&l->lock);
fail_mem:
    free(l->scratch);
    free(l->slots);
    free(l);
fail_alloc:
    snprintf(err, errlen, "cannot start the lingering-close thread: %s", strerror(errno));
    return NULL;
}

int httpd_linger_add(struct httpd_linger *l, int fd)
{
    int rc = -1;
    pthread_mutex_lock(&l->lock);
    unsigned i;
    for (i = 0; i < l->cfg.slots && l->slots[i].fd >= 0; i++)
        ;
    if (i == l->cfg.slots) {
        metric_inc(l->m_full);
        goto out;
    }
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        goto out;
    shutdown(d, SHUT_WR); /* FIN right after the answer: the client knows it is complete */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = i};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, d, &ev) != 0) {
        close(d);
        goto out;
    }
    long long t = monoclock_ms();
    l->slots[i] = (struct slot){.fd = d, .t0_ms = t, .last_ms = t, .bytes = 0};
    l->count++;
    metric_set(l->m_lingering, l->count);
    rc = 0;
out:
    pthread_mutex_unlock(&l->lock);
    return rc;
}

unsigned httpd_linger_count(struct httpd_linger *l)
{
    pthread_mutex_lock(&l->lock);
    unsigned n = l->count;
    pthread_mutex_unlock(&l->lock);
    return n;
}

void httpd_linger_free(struct httpd_linger *l)
{
    if (l == NULL)
        return;
    atomic_store(&l->stopping, 1);
    uint64_t one = 1;
    if (write(l->stop_fd, &one, sizeof one) != (ssize_t)sizeof one) {
        /* cannot fail short of counter overflow; the thread sees `stopping` within 100 ms */
    }
    pthread_join(l->thread, NULL);
    for (unsigned i = 0; i < l->cfg.slots; i++)
        slot_close(l, i, 0);
    close(l->stop_fd);
    close(l->ep);
    pthread_mutex_destroy(&l->lock);
    free(l->scratch);
    free(l->slots);
    free(l);
}
