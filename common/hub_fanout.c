/*
 * hub_fanout — sender threads for the sweep's fan-out (see hub_fanout.h).
 *
 * The calling thread publishes a batch (a generation), wakes the senders and works on the
 * batch itself: everyone takes HUB_FANOUT_CHUNK jobs at a time from one atomic index, so a
 * sender that wakes late takes what is left, or nothing. The caller then closes the batch
 * (no sender may join it any more) and waits for the senders still inside it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "hub_fanout.h"

#define HUB_FANOUT_CHUNK 16

struct hub_fanout {
    pthread_mutex_t mu;
    pthread_cond_t work; /* a new generation, or quit */
    pthread_cond_t idle; /* active dropped to 0 */
    uint64_t gen;        /* batches published */
    int closed;          /* the current batch takes no new sender */
    int active;          /* senders inside the current batch */
    size_t helped;       /* jobs the senders did in the current batch */
    int quit;
    struct hub_send_job *jobs;
    size_t n;
    atomic_size_t next;
    int nthreads;
    pthread_t *threads;
};

static void send_one(struct hub_send_job *j)
{
    ssize_t r;
    do
        r = send(j->fd, j->p, j->len, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    j->sent = r;
    j->err = r < 0 ? errno : 0;
}

void hub_send_jobs(struct hub_send_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        send_one(&jobs[i]);
}

/* Takes chunks until none is left; returns the number of jobs done. */
static size_t take_chunks(struct hub_fanout *f, struct hub_send_job *jobs, size_t n)
{
    size_t done = 0;
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&f->next, HUB_FANOUT_CHUNK, memory_order_relaxed);
        if (i >= n)
            return done;
        size_t end = i + HUB_FANOUT_CHUNK < n ? i + HUB_FANOUT_CHUNK : n;
        hub_send_jobs(jobs + i, end - i);
        done += end - i;
    }
}

static void *sender_main(void *arg)
{
    struct hub_fanout *f = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (f->gen == seen && !f->quit)
            pthread_cond_wait(&f->work, &f->mu);
        if (f->quit)
            break;
        seen = f->gen;
        if (f->closed)
            continue; /* woke after the caller finished that batch alone */
        f->active++;
        struct hub_send_job *jobs = f->jobs;
        size_t n = f->n;
        pthread_mutex_unlock(&f->mu);
        size_t done = take_chunks(f, jobs, n);
        pthread_mutex_lock(&f->mu);
        f->helped += done;
        if (--f->active == 0)
            pthread_cond_signal(&f->idle);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

struct hub_fanout *hub_fanout_new(int threads)
{
    struct hub_fanout *f = calloc(1, sizeof *f);
    if (f == NULL || threads < 1)
        goto fail;
    f->threads = calloc((size_t)threads, sizeof *f->threads);
    if (f->threads == NULL)
        goto fail;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->work, NULL);
    pthread_cond_init(&f->idle, NULL);
    f->closed = 1;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&f->threads[i], NULL, sender_main, f) != 0)
            break;
        f->nthreads++;
    }
    if (f->nthreads > 0)
        return f;
    pthread_cond_destroy(&f->idle);
    pthread_cond_destroy(&f->work);
    pthread_mutex_destroy(&f->mu);
fail:
    if (f)
        free(f->threads);
    free(f);
    return NULL;
}

void hub_fanout_free(struct hub_fanout *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    f->quit = 1;
    pthread_cond_broadcast(&f->work);
    pthread_mutex_unlock(&f->mu);
    for (int i = 0; i < f->nthreads; i++)
        pthread_join(f->threads[i], NULL);
    pthread_cond_destroy(&f->idle);
    pthread_cond_destroy(&f->work);
    pthread_mutex_destroy(&f->mu);
    free(f->threads);
    free(f);
}

size_t hub_fanout_run(struct hub_fanout *f, struct hub_send_job *jobs, size_t n)
{
    pthread_mutex_lock(&f->mu);
    f->jobs = jobs;
    f->n = n;
    f->helped = 0;
    atomic_store_explicit(&f->next, 0, memory_order_relaxed);
    f->closed = 0;
    f->gen++;
    pthread_cond_broadcast(&f->work);
    pthread_mutex_unlock(&f->mu);
    take_chunks(f, jobs, n);
    pthread_mutex_lock(&f->mu);
    f->closed = 1;
    while (f->active > 0)
        pthread_cond_wait(&f->idle, &f->mu);
    size_t helped = f->helped;
    pthread_mutex_unlock(&f->mu);
    return helped;
}
