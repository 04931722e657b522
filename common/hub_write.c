/*
 * hub_write — getting events to clients: the writeable callback (control frames, then a
 * replay fetched from the store, then the ring) and the sweep that runs on every wake-up:
 * it moves each client's cursor past events of channels it did not join, closes clients
 * that fell too far behind, and asks lws for a write only where something is due. Runs on
 * the lws service thread only.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eio.h"
#include "hub_impl.h"
#include "log.h"

/* -1 only when the connection failed: lws sent or kept the rest (hub_send.c hand_to_lws). */
static int write_frame(struct lws *wsi, const struct frame *f)
{
    size_t n = frame_wire_len(f);
    return lws_write(wsi, (unsigned char *)frame_wire(f), n, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

/* The frame in the client's framing (a new reference). A Socket.IO client whose rooms
 * changed gets its own copy, the rooms recorded in the offset argument (hub_sio.c). */
static struct frame *framed(const struct hub_client *c, struct frame *f)
{
    if (c->sio && f->alt && c->sio_rooms) {
        struct frame *r = eio_event_rooms(f->alt, c->sio_rooms);
        if (r)
            return r;
    }
    return frame_ref(c->sio && f->alt ? f->alt : f);
}

/* Writes fs[0..n) (total bytes) with one send (hub_send.c); releases them. Returns -1 when
 * the write failed. */
static int write_batch(struct hub *h, struct hub_client *c, struct frame **fs, int n, size_t bytes)
{
    int rc = hub_send_frames(h, c, fs, n, bytes);
    for (int i = 0; i < n; i++)
        frame_unref(fs[i]);
    if (rc == 0 && n > 0)
        metric_add(h->m_frames, (uint64_t)n);
    return rc;
}

/* Takes the next batch of a replay the fetcher delivered (the client moves past it). */
static int take_pending(struct hub_client *c, struct frame **fs, int max, size_t max_bytes,
                        size_t *bytes_out)
{
    int nf = 0;
    size_t bytes = 0;
    while (c->ipend < c->npend && nf < max) {
        struct frame *f = framed(c, c->pend[c->ipend]);
        if (nf > 0 && bytes + frame_wire_len(f) > max_bytes) {
            frame_unref(f);
            break;
        }
        frame_unref(c->pend[c->ipend]);
        c->pend[c->ipend++] = NULL;
        bytes += frame_wire_len(f);
        fs[nf++] = f;
    }
    if (c->ipend == c->npend) {
        free(c->pend);
        c->pend = NULL;
        c->npend = c->ipend = 0;
    }
    *bytes_out = bytes;
    return nf;
}

/* Writes the next batch of a replay the fetcher delivered. */
static int write_pending(struct hub *h, struct hub_client *c)
{
    struct frame *fs[HUB_BATCH];
    size_t bytes;
    int nf = take_pending(c, fs, HUB_BATCH, HUB_BATCH_BYTES, &bytes);
    return write_batch(h, c, fs, nf, bytes);
}

/*
 * Writes the client's next events from the ring (at most HUB_BATCH frames, HUB_BATCH_BYTES
 * bytes) as pre-framed raw bytes, skipping other channels' events and gaps, with one send()
 * (hub_send.c). Sets *last to the newest offset. Returns -1 when the write failed.
 */
static int take_ring_locked(struct hub *h, const struct hub_client *c, struct frame **fs, int max,
                            size_t max_bytes, size_t *bytes_out, uint64_t *cur_out,
                            uint64_t *last_out, uint64_t *first_out)
{
    int nf = 0, scanned = 0;
    size_t bytes = 0;
    uint64_t last = history_last(h->hist), first = history_first(h->hist);
    uint64_t cur = c->cursor;
    while (cur <= last && cur >= first && nf < max && scanned < HUB_SCAN_MAX) {
        struct frame *f = history_get(h->hist, cur);
        scanned++;
        if (f == NULL || !hub_client_wants(c, f)) {
            frame_unref(f);
            cur++; /* a gap in the stream, or another channel's event */
            continue;
        }
        struct frame *w = framed(c, f);
        frame_unref(f);
        if (nf > 0 && bytes + frame_wire_len(w) > max_bytes) {
            frame_unref(w);
            break;
        }
        bytes += frame_wire_len(w);
        fs[nf++] = w;
        cur++;
    }
    *last_out = last;
    *first_out = first;
    *cur_out = cur;
    *bytes_out = bytes;
    return nf;
}

static int take_ring(struct hub *h, const struct hub_client *c, struct frame **fs, int max,
                     size_t max_bytes, size_t *bytes_out, uint64_t *cur_out, uint64_t *last_out,
                     uint64_t *first_out)
{
    pthread_mutex_lock(&h->lock);
    int nf = take_ring_locked(h, c, fs, max, max_bytes, bytes_out, cur_out, last_out, first_out);
    pthread_mutex_unlock(&h->lock);
    return nf;
}

static int write_events(struct hub *h, struct hub_client *c, uint64_t *last_out,
                        uint64_t *first_out)
{
    struct frame *fs[HUB_BATCH];
    size_t bytes;
    uint64_t cur;
    int nf = take_ring(h, c, fs, HUB_BATCH, HUB_BATCH_BYTES, &bytes, &cur, last_out, first_out);
    if (write_batch(h, c, fs, nf, bytes) != 0)
        return -1;
    c->cursor = cur;
    return 0;
}

static int parked(const struct hub_client *c)
{
    return c->cursor == HUB_NOT_JOINED || c->cursor == HUB_PARKED;
}

int hub_client_take(struct hub *h, struct hub_client *c, struct frame **fs, int max,
                    size_t max_bytes, uint64_t *last)
{
    size_t bytes;
    uint64_t cur;
    int nf = 0;
    *last = hub_last_offset(h);
    if (c->npend > 0) {
        nf = take_pending(c, fs, max, max_bytes, &bytes);
    } else if (!parked(c)) {
        uint64_t first;
        nf = take_ring(h, c, fs, max, max_bytes, &bytes, &cur, last, &first);
        c->cursor = cur;
        if (nf == 0 && c->cursor < first && h->fetch && !atomic_load(&h->stopping))
            hub_client_fetch(h, c, c->cursor - 1, first - 1, 0); /* the ring moved past it */
    }
    metric_add(h->m_frames, (uint64_t)nf);
    return nf;
}

int hub_client_writeable(struct hub *h, struct hub_client *c)
{
    struct lws *wsi = c->wsi;
    c->want_write = 0;
    if (c->close_code == -1) { /* killed: only the close frame, queued frames are dropped */
        const char *why = c->kill_reason ? c->kill_reason : "";
        lws_close_reason(wsi, (enum lws_close_status)(c->kill_code ? c->kill_code : 1000),
                         (unsigned char *)why, strlen(why));
        return -1;
    }
    while (c->nctrl > 0) {
        struct frame *f = c->ctrl[0];
        int rc = write_frame(wsi, f);
        frame_unref(f);
        memmove(c->ctrl, c->ctrl + 1, sizeof c->ctrl[0] * (size_t)(--c->nctrl));
        if (rc < 0)
            return hub_client_write_failed(h, c, "control");
        /* lws kept what the socket did not take; no poll() to ask (lws_send_pipe_choked). */
        if (lws_partial_buffered(wsi)) {
            hub_want_write(c);
            return 0;
        }
    }
    if (c->close_code > 0 && c->close_code != HUB_CLOSE_GOING_AWAY) {
        c->end = hub_end_for_code(c->close_code);
        lws_close_reason(wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    uint64_t last = 0, first = 0;
    if (c->npend > 0) {
        if (write_pending(h, c) != 0)
            return hub_client_write_failed(h, c, "replay");
        last = hub_last_offset(h);
    } else if (!parked(c)) {
        if (write_events(h, c, &last, &first) != 0)
            return hub_client_write_failed(h, c, "events");
        if (c->cursor < first && c->close_code == 0) {
            /* The ring moved past this client (a long replay): continue from the store, or
             * leave it to the sweep, which closes it as slow. Never spin on writeables. */
            if (h->fetch && !atomic_load(&h->stopping))
                hub_client_fetch(h, c, c->cursor - 1, first - 1, 0);
            return 0;
        }
    }
    int caught_up = parked(c) || (c->npend == 0 && c->cursor > last);
    if (c->close_code == HUB_CLOSE_GOING_AWAY &&
        (caught_up || hub_now_us() >= h->stop_deadline_us)) {
        c->end = hub_end_for_code(HUB_CLOSE_GOING_AWAY);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)"going away", 10);
        return -1;
    }
    if (!caught_up || c->close_code > 0 || c->nctrl > 0)
        hub_want_write(c);
    return 0;
}

/*
 * Writes a client's new events from the sweep, without a round trip through poll() for
 * POLLOUT: the socket nearly always has room, and when it has not, lws keeps the tail and
 * calls back. A backlog larger than one batch continues from the writeable callback.
 * Takes the hub lock itself.
 */
static void push_events(struct hub *h, struct hub_client *c)
{
    uint64_t last, first;
    if (write_events(h, c, &last, &first) != 0) {
        hub_client_kill_write_failed(h, c, "sweep");
        return;
    }
    if (c->cursor <= last || c->cursor < first)
        hub_want_write(c); /* more than a batch, or the ring moved past: the callback decides */
}

/* Fan-outs smaller than this are sent by the lws thread alone: waking a sender costs more. */
#define HUB_FANOUT_MIN 64

/*
 * With sender threads (lock held): takes the client's next event, the newest (`last`),
 * and queues its send for the end of the sweep (flush_pushes). Returns -1, taking nothing,
 * when that is not the case to queue: a client behind by more than one event (one copy and
 * send of the batch, push_events: decided from its cursor, before taking anything), TLS,
 * or out of memory.
 */
static int queue_push(struct hub *h, struct hub_client *c, uint64_t last)
{
    if (c->cursor != last || lws_is_ssl(c->wsi))
        return -1;
    if (h->npush == h->push_cap) {
        size_t cap = h->push_cap ? h->push_cap * 2 : 256;
        struct hub_push *p = realloc(h->push, cap * sizeof *p);
        if (p == NULL)
            return -1;
        h->push = p;
        struct hub_send_job *j = realloc(h->jobs, cap * sizeof *j);
        if (j == NULL)
            return -1;
        h->jobs = j;
        h->push_cap = cap;
    }
    struct frame *fs[1];
    size_t bytes;
    uint64_t cur, first;
    if (take_ring_locked(h, c, fs, 1, HUB_BATCH_BYTES, &bytes, &cur, &last, &first) != 1)
        return -1; /* a gap in the stream: push_events moves past it */
    c->cursor = cur;
    struct hub_push *p = &h->push[h->npush];
    struct hub_send_job *j = &h->jobs[h->npush++];
    p->c = c;
    p->f = fs[0];
    j->fd = lws_get_socket_fd(c->wsi);
    j->p = frame_wire(fs[0]);
    j->len = frame_wire_len(fs[0]);
    return 0;
}

/* Sends what queue_push gathered, over the sender threads when it is worth it. */
static void flush_pushes(struct hub *h)
{
    size_t n = h->npush;
    if (n == 0)
        return;
    if (n >= HUB_FANOUT_MIN)
        metric_add(h->m_helped, (uint64_t)hub_fanout_run(h->fanout, h->jobs, n));
    else
        hub_send_jobs(h->jobs, n);
    uint64_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        struct hub_push *p = &h->push[i];
        if (hub_send_job_done(h, p->c, p->f, &h->jobs[i]) != 0)
            hub_client_kill_write_failed(h, p->c, "sweep");
        else
            ok++; /* nothing else was due: the frame was the newest event */
        frame_unref(p->f);
    }
    metric_add(h->m_frames, ok);
    h->npush = 0;
}

/* Moves a joined client's cursor past frames it should not get (lock held). */
static void skip_foreign(struct hub *h, struct hub_client *c, uint64_t last)
{
    int scanned = 0;
    while (c->cursor <= last && scanned++ < HUB_SCAN_MAX) {
        struct frame *f = history_get(h->hist, c->cursor);
        if (f != NULL && hub_client_wants(c, f)) {
            frame_unref(f);
            return;
        }
        frame_unref(f);
        if (f == NULL && c->cursor < history_first(h->hist))
            return; /* fell out of the ring: not a gap */
        c->cursor++;
    }
}

/* Sweep step for one joined client (lock held). Returns 1 when it should be killed as slow. */
static int sweep_cursor(struct hub *h, struct hub_client *c, uint64_t first, uint64_t last,
                        int stopping)
{
    if (c->npend > 0)
        return 0; /* sending a fetched replay: the ring waits */
    if (c->cursor < first && h->fetch && !stopping)
        return 2; /* the ring moved past the replay: continue from the store */
    skip_foreign(h, c, last);
    uint64_t base = c->cursor > c->live_from ? c->cursor : c->live_from;
    uint64_t lag = last + 1 > base ? last + 1 - base : 0;
    h->sweep_lag_sum += lag;
    if (lag > h->sweep_lag_max)
        h->sweep_lag_max = lag;
    return !stopping && (lag > (uint64_t)h->cfg.queue_limit || c->cursor < first);
}

/* How long the tick may go without a sweep for timers (hub.c tick_cb): a tenth of the
 * ping interval clients get (Socket.IO's default when plain clients are not pinged). */
static int64_t timers_period_us(const struct hub *h)
{
    long ms = hub_sio_ping_interval_ms(h) / 10;
    ms = ms < HUB_TICK_MS ? HUB_TICK_MS : ms > HUB_TIMERS_MAX_MS ? HUB_TIMERS_MAX_MS : ms;
    return (int64_t)ms * 1000;
}

void hub_sweep(struct hub *h)
{
    int stopping = atomic_load(&h->stopping);
    int64_t now = hub_now_us();
    h->timers_due_us = now + timers_period_us(h);
    metric_inc(h->m_sweeps);
    long long wall = h->cfg.auth ? (long long)time(NULL) : 0;
    pthread_mutex_lock(&h->lock);
    uint64_t first = history_first(h->hist), last = history_last(h->hist);
    uint64_t queued = 0;
    h->sweep_lag_sum = h->sweep_lag_max = 0;
    for (struct hub_client *c = h->clients, *nx; c; c = nx) {
        nx = c->next;
        queued += (uint64_t)c->nctrl + (c->npend - c->ipend);
        if (c->close_code == -1)
            continue; /* already being killed */
        if (c->auth_exp && wall >= c->auth_exp && c->close_code == 0) {
            /* A session lives no longer than its token: the client reconnects with a new one
             * (and resumes with since: nothing is missed). */
            metric_inc(h->m_unauth);
            hub_client_kill(c, HUB_END_UNAUTHORIZED, HUB_CLOSE_UNAUTHORIZED, "token expired");
            continue;
        }
        int joined = !parked(c);
        int verdict = joined ? sweep_cursor(h, c, first, last, stopping) : 0;
        if (verdict == 2) {
            pthread_mutex_unlock(&h->lock);
            hub_client_fetch(h, c, c->cursor - 1, first - 1, 0);
            pthread_mutex_lock(&h->lock);
            first = history_first(h->hist);
            last = history_last(h->hist);
            continue;
        }
        if (verdict == 1) {
            metric_inc(h->m_slow);
            LOG_INFO("slow_client_closed hub=%s peer=%s cursor=%llu last=%llu limit=%d",
                     h->cfg.name, c->peer, (unsigned long long)c->cursor, (unsigned long long)last,
                     h->cfg.queue_limit);
            hub_client_kill(c, HUB_END_SLOW, HUB_CLOSE_SLOW, "slow client: queue limit exceeded");
            continue;
        }
        if (!stopping) {
            if (c->sio)
                hub_sio_heartbeat(h, c, now);
            else if (c->poll == NULL)
                hub_ping_check(h, c, now);
            if (c->close_code == -1)
                continue;
        }
        if (stopping && c->close_code == 0 &&
            (!joined || c->cursor > last || now >= h->stop_deadline_us)) {
            c->close_code = HUB_CLOSE_GOING_AWAY;
            c->close_reason = "going away";
        }
        if (joined && c->poll == NULL && c->cursor <= last && c->npend == 0 && c->nctrl == 0 &&
            c->close_code == 0 && !c->want_write && !lws_partial_buffered(c->wsi)) {
            if (h->fanout == NULL || queue_push(h, c, last) != 0) {
                pthread_mutex_unlock(&h->lock);
                push_events(h, c);
                pthread_mutex_lock(&h->lock);
            }
        } else if ((joined && c->cursor <= last) || c->npend > 0 || c->nctrl > 0 ||
                   c->close_code > 0) {
            hub_want_write(c);
        }
    }
    metric_set(h->m_lag_max, (int64_t)h->sweep_lag_max);
    metric_set(h->m_lag_sum, (int64_t)h->sweep_lag_sum);
    metric_set(h->m_queued, (int64_t)queued);
    pthread_mutex_unlock(&h->lock);
    flush_pushes(h);
}
