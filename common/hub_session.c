/*
 * hub_session — one websocket client of the hub: the upgrade filter, joining (where the
 * replay plan is made), writing events, reading what the client sends, and the sweep that
 * closes slow clients. Socket.IO framing lives in hub_sio.c. Runs on the lws service thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "eio.h"
#include "hub_impl.h"
#include "jsonx.h"
#include "log.h"

int64_t hub_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Builds a control frame in the client's framing: {"event":..,"data":..} or 42["..",..]. */
struct frame *hub_control_frame(const struct hub_client *c, const char *name, json_t *data)
{
    size_t len = 0;
    char *s = jsonx_dump(data, &len);
    if (s == NULL)
        return NULL;
    struct frame *f;
    if (c->sio) {
        f = eio_event(name, s, len, 0, "");
    } else {
        json_t *o = json_pack("{s:s, s:O}", "event", name, "data", data);
        free(s);
        s = o ? jsonx_dump(o, &len) : NULL;
        json_decref(o);
        f = s ? frame_from(s, len) : NULL;
        if (f)
            frame_seal_text(f);
    }
    free(s);
    return f;
}

void hub_queue_ctrl(struct hub_client *c, struct frame *f)
{
    if (f == NULL)
        return;
    if (c->nctrl >= HUB_CTRL_MAX) {
        frame_unref(f);
        return;
    }
    c->ctrl[c->nctrl++] = f;
}

void hub_want_write(struct hub_client *c)
{
    if (!c->want_write) {
        c->want_write = 1;
        lws_callback_on_writable(c->wsi);
    }
}

void hub_client_unlink(struct hub *h, struct hub_client *c)
{
    if (!c->established)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->established = 0;
    if (c->replica) {
        h->nreplicas--;
        if (c->insync)
            atomic_fetch_sub(&h->ninsync, 1);
        LOG_INFO("replica_left hub=%s peer=%s acked=%llu", h->cfg.name, c->peer,
                 (unsigned long long)c->acked);
    }
    h->nclients--;
    metric_set(h->m_clients, (int64_t)h->nclients);
    for (int i = 0; i < c->nctrl; i++)
        frame_unref(c->ctrl[i]);
    c->nctrl = 0;
}

static int path_accepted(const struct hub *h, const char *path)
{
    for (const char *const *p = h->paths; *p; p++)
        if (strcmp(*p, path) == 0)
            return 1;
    return 0;
}

/* since/epoch from the query string or from a Socket.IO auth object. */
void hub_client_set_resume(struct hub_client *c, const char *since, const char *epoch)
{
    if (since == NULL)
        return;
    char *end;
    unsigned long long s = strtoull(since, &end, 10);
    if (*since == '\0' || *end != '\0')
        return; /* a malformed since is treated as absent: the client gets live events */
    c->since = s;
    c->has_since = 1;
    if (epoch && envelope_epoch_valid(epoch))
        snprintf(c->epoch, sizeof c->epoch, "%s", epoch);
}

/*
 * Copies query argument `name` (e.g. "since=") into out. lws's lookup gives up at the first
 * argument that does not fit its buffer, so every lookup gets a buffer as big as any
 * argument may be, whatever the size of the value wanted.
 */
static const char *urlarg(struct lws *wsi, const char *name, char *out, size_t outlen)
{
    char buf[512];
    const char *v = lws_get_urlarg_by_name(wsi, name, buf, (int)sizeof buf);
    if (v == NULL || strlen(v) >= outlen)
        return NULL;
    memcpy(out, v, strlen(v) + 1);
    return out;
}

int hub_client_filter(struct hub *h, struct lws *wsi, struct hub_client *c)
{
    char path[256], since[32], epoch[64], eio[8], rep[64];
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 || !path_accepted(h, path) ||
        atomic_load(&h->stopping)) {
        LOG_DEBUG("upgrade_refused hub=%s path=%s", h->cfg.name, path);
        return -1;
    }
    if (c == NULL)
        return 0;
    if (strcmp(path, "/websocket-service") == 0 && urlarg(wsi, "replica=", rep, sizeof rep))
        c->replica = 1;
    if (!c->replica && !atomic_load(&h->accepting)) {
        LOG_DEBUG("upgrade_refused hub=%s reason=not_accepting", h->cfg.name);
        return -1; /* a follower that is not in sync yet: the proxy tries another relay */
    }
    if (strncmp(path, "/socket.io/", 11) == 0 && urlarg(wsi, "EIO=", eio, sizeof eio)) {
        if (strcmp(eio, "4") != 0) {
            LOG_INFO("upgrade_refused hub=%s reason=engine_io_version eio=%s", h->cfg.name, eio);
            return -1; /* Socket.IO v2 (EIO=3) clients are not served */
        }
        c->sio = 1;
    }
    hub_client_set_resume(c, urlarg(wsi, "since=", since, sizeof since),
                          urlarg(wsi, "epoch=", epoch, sizeof epoch));
    return 0;
}

/* The client starts receiving events: makes the replay plan and queues _connected/_recovery. */
void hub_client_join(struct hub *h, struct hub_client *c)
{
    struct history_epoch_span lineage[HISTORY_LINEAGE_MAX];
    char epoch[ENVELOPE_EPOCH_BUF];
    pthread_mutex_lock(&h->lock);
    uint64_t last = history_last(h->hist), first = history_first(h->hist);
    uint64_t committed = h->committed;
    snprintf(epoch, sizeof epoch, "%s", history_epoch(h->hist));
    size_t nl = history_lineage(h->hist, lineage, HISTORY_LINEAGE_MAX);
    enum history_plan_result plan = HISTORY_RECOVERED;
    uint64_t from = (c->replica ? last : committed) + 1;
    if (c->has_since)
        plan = history_plan(h->hist, c->epoch, c->since, &from);
    pthread_mutex_unlock(&h->lock);

    if (c->replica) {
        /* A replica gets everything held; if it cannot resume it resyncs from our first. */
        if (plan != HISTORY_RECOVERED)
            from = first;
        c->cursor = from;
        c->live_from = from;
        c->acked = from - 1;
        c->ack_at_us = hub_now_us();
        h->nreplicas++;
    } else {
        if (plan == HISTORY_RECOVERED && from > committed + 1)
            from = committed + 1; /* resuming ahead of the commit: wait for it */
        c->cursor = from;
        c->live_from = committed + 1;
    }
    json_t *d = json_pack("{s:I, s:s}", "offset", (json_int_t)(c->replica ? last : committed),
                          "epoch", epoch);
    if (c->replica) {
        json_t *l = json_array();
        for (size_t i = 0; i < nl; i++)
            json_array_append_new(
                l, json_pack("[s, I]", lineage[i].epoch, (json_int_t)lineage[i].first));
        json_object_set_new(d, "lineage", l);
        json_object_set_new(d, "first", json_integer((json_int_t)first));
    }
    hub_queue_ctrl(c, hub_control_frame(c, "_connected", d));
    json_decref(d);
    if (c->has_since) {
        int ok = plan == HISTORY_RECOVERED;
        metric_inc(ok ? h->m_replay_ok : h->m_replay_fail);
        d = json_pack("{s:b, s:s, s:s, s:I, s:I, s:I}", "recovered", ok, "reason",
                      history_plan_name(plan), "epoch", epoch, "since", (json_int_t)c->since,
                      "from", (json_int_t)from, "offset",
                      (json_int_t)(c->replica ? last : committed));
        hub_queue_ctrl(c, hub_control_frame(c, "_recovery", d));
        json_decref(d);
    }
    LOG_DEBUG("client_join hub=%s peer=%s sio=%d replica=%d since=%s%llu replay=%s clients=%llu",
              h->cfg.name, c->peer, c->sio, c->replica, c->has_since ? "" : "-",
              (unsigned long long)c->since, c->has_since ? history_plan_name(plan) : "none",
              (unsigned long long)h->nclients);
}

void hub_client_established(struct hub *h, struct lws *wsi, struct hub_client *c)
{
    c->wsi = wsi;
    c->established = 1;
    c->next = h->clients;
    if (h->clients)
        h->clients->prev = c;
    h->clients = c;
    h->nclients++;
    metric_set(h->m_clients, (int64_t)h->nclients);
    metric_inc(h->m_conns);
    lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
    if (strncmp(c->peer, "::ffff:", 7) == 0) /* IPv4-mapped: log the IPv4 address */
        memmove(c->peer, c->peer + 7, strlen(c->peer + 7) + 1);

    if (atomic_load(&h->stopping)) {
        c->close_code = HUB_CLOSE_GOING_AWAY;
        c->close_reason = "going away";
    } else if (h->nclients > (uint64_t)h->cfg.max_clients) {
        metric_inc(h->m_rejected);
        c->close_code = HUB_CLOSE_FULL;
        c->close_reason = "server full";
    }
    if (c->sio) {
        /* Engine.IO handshake; events start once the client joins namespace "/". */
        unsigned char r[8];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            memset(r, 0x5a, sizeof r);
        snprintf(c->sid, sizeof c->sid, "%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
                 r[4], r[5], r[6], r[7]);
        hub_queue_ctrl(c, eio_open(c->sid, hub_sio_ping_interval_ms(h), hub_sio_ping_timeout_ms(h),
                                   h->cfg.max_message));
        c->cursor = HUB_NOT_JOINED;
        c->live_from = HUB_NOT_JOINED;
        c->ping_at_us = hub_now_us();
    } else {
        hub_client_join(h, c);
    }
    hub_want_write(c);
}

/* Closes a client from outside its own callback (the socket may be choked). */
void hub_client_kill(struct hub_client *c, int code, const char *reason)
{
    c->close_code = -1;
    lws_close_reason(c->wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

static int write_frame(struct lws *wsi, const struct frame *f)
{
    size_t n = frame_wire_len(f);
    return lws_write(wsi, (unsigned char *)frame_wire(f), n, LWS_WRITE_RAW) < (int)n ? -1 : 0;
}

/*
 * Writes the client's pending events (at most HUB_BATCH frames, HUB_BATCH_BYTES bytes) as
 * pre-framed raw bytes with one send() (hub_send_frames). Sets *last to the newest offset.
 * Returns -1 when the write failed.
 */
static int write_events(struct hub *h, struct hub_client *c, uint64_t *last_out)
{
    struct frame *fs[HUB_BATCH];
    int nf = 0;
    size_t bytes = 0;
    pthread_mutex_lock(&h->lock);
    /* Clients see committed events only; replicas see everything, so the commit can advance. */
    uint64_t last = c->replica ? history_last(h->hist) : h->committed;
    while (c->cursor != HUB_NOT_JOINED && nf < HUB_BATCH && c->cursor + (uint64_t)nf <= last) {
        struct frame *f = history_get(h->hist, c->cursor + (uint64_t)nf);
        if (f == NULL)
            break; /* caught up, or fell out of history (the sweep closes it) */
        if (c->replica && f->rep) {
            struct frame *rep = frame_ref(f->rep);
            frame_unref(f);
            f = rep;
        } else if (c->sio && f->alt) {
            struct frame *alt = frame_ref(f->alt);
            frame_unref(f);
            f = alt;
        }
        if (nf > 0 && bytes + frame_wire_len(f) > HUB_BATCH_BYTES) {
            frame_unref(f);
            break;
        }
        bytes += frame_wire_len(f);
        fs[nf++] = f;
    }
    pthread_mutex_unlock(&h->lock);
    int rc = hub_send_frames(h, c, fs, nf, bytes);
    for (int i = 0; i < nf; i++)
        frame_unref(fs[i]);
    *last_out = last;
    if (rc < 0)
        return -1;
    if (nf) {
        c->cursor += (uint64_t)nf;
        metric_add(h->m_frames, (uint64_t)nf);
    }
    return 0;
}

/*
 * Replicas and the commit: a replica is in sync once it has acknowledged everything
 * committed; the commit is the newest offset every in-sync replica acknowledged (or the
 * newest event when none is), and never moves back. An in-sync replica that stops
 * acknowledging for replica_timeout_ms is dropped so clients are not held up by it.
 */
static uint64_t update_commit(struct hub *h, uint64_t last, int64_t now)
{
    pthread_mutex_lock(&h->lock);
    uint64_t committed = h->committed;
    pthread_mutex_unlock(&h->lock);
    uint64_t lowest = last;
    int insync = 0;
    for (struct hub_client *c = h->clients; c; c = c->next) {
        if (!c->replica || c->close_code == -1 || c->cursor == HUB_NOT_JOINED)
            continue;
        if (c->acked >= last)
            c->ack_at_us = now;
        if (!c->insync && c->acked >= committed) {
            c->insync = 1;
            atomic_fetch_add(&h->ninsync, 1);
            LOG_INFO("replica_in_sync hub=%s peer=%s acked=%llu", h->cfg.name, c->peer,
                     (unsigned long long)c->acked);
        }
        if (!c->insync)
            continue;
        if (now - c->ack_at_us > h->cfg.replica_timeout_ms * 1000) {
            LOG_WARN("replica_dropped hub=%s peer=%s acked=%llu last=%llu", h->cfg.name, c->peer,
                     (unsigned long long)c->acked, (unsigned long long)last);
            c->insync = 0;
            atomic_fetch_sub(&h->ninsync, 1);
            hub_client_kill(c, 4009, "replica not acknowledging");
            continue;
        }
        insync++;
        if (c->acked < lowest)
            lowest = c->acked;
    }
    pthread_mutex_lock(&h->lock);
    if (insync == 0)
        lowest = history_last(h->hist); /* alone: everything appended is committed */
    if (lowest > h->committed) {
        h->committed = lowest;
        pthread_cond_broadcast(&h->committed_cond);
    }
    committed = h->committed;
    pthread_mutex_unlock(&h->lock);
    return committed;
}

/*
 * Writes a client's new events from the sweep, without a round trip through poll() for
 * POLLOUT: the socket nearly always has room, and when it has not, lws keeps the tail and
 * calls back. A backlog larger than one batch continues from the writeable callback.
 */
static void push_events(struct hub *h, struct hub_client *c)
{
    uint64_t last;
    if (write_events(h, c, &last) != 0) {
        hub_client_kill(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "write failed");
        return;
    }
    if (c->cursor <= last)
        hub_want_write(c);
}

void hub_sweep(struct hub *h)
{
    pthread_mutex_lock(&h->lock);
    uint64_t first = history_first(h->hist), last = history_last(h->hist);
    pthread_mutex_unlock(&h->lock);
    int stopping = atomic_load(&h->stopping);
    int64_t now = hub_now_us();
    int resync = atomic_exchange(&h->resync, 0);
    uint64_t committed = update_commit(h, last, now);
    for (struct hub_client *c = h->clients, *nx; c; c = nx) {
        nx = c->next;
        if (c->close_code == -1)
            continue; /* already being killed */
        if (resync && !c->replica) {
            /* The history was replaced: positions in it may mean other events now. */
            hub_client_kill(c, HUB_CLOSE_RESYNC, "relay resynced: reconnect with since");
            continue;
        }
        int joined = c->cursor != HUB_NOT_JOINED;
        uint64_t top = c->replica ? last : committed; /* what this client may be sent */
        uint64_t base = c->cursor > c->live_from ? c->cursor : c->live_from;
        uint64_t lag = joined && top + 1 > base ? top + 1 - base : 0;
        if (!stopping && joined && (lag > (uint64_t)h->cfg.queue_limit || c->cursor < first)) {
            metric_inc(h->m_slow);
            LOG_INFO("slow_client_closed hub=%s peer=%s lag=%llu limit=%d", h->cfg.name, c->peer,
                     (unsigned long long)lag, h->cfg.queue_limit);
            hub_client_kill(c, HUB_CLOSE_SLOW, "slow client: queue limit exceeded");
            continue;
        }
        if (!stopping) {
            if (c->sio)
                hub_sio_heartbeat(h, c, now);
            else
                hub_ping_check(h, c, now);
            if (c->close_code == -1)
                continue;
        }
        if (stopping && c->close_code == 0 &&
            (!joined || c->cursor > top || now >= h->stop_deadline_us)) {
            c->close_code = HUB_CLOSE_GOING_AWAY;
            c->close_reason = "going away";
        }
        if (c->cursor <= top && c->nctrl == 0 && c->close_code == 0 && !c->want_write &&
            !lws_partial_buffered(c->wsi))
            push_events(h, c);
        else if (c->cursor <= top || c->nctrl > 0 || c->close_code > 0)
            hub_want_write(c);
    }
}

int hub_client_writeable(struct hub *h, struct hub_client *c)
{
    struct lws *wsi = c->wsi;
    c->want_write = 0;
    while (c->nctrl > 0) {
        struct frame *f = c->ctrl[0];
        int rc = write_frame(wsi, f);
        frame_unref(f);
        memmove(c->ctrl, c->ctrl + 1, sizeof c->ctrl[0] * (size_t)(--c->nctrl));
        if (rc < 0)
            return -1;
        if (lws_send_pipe_choked(wsi)) {
            hub_want_write(c);
            return 0;
        }
    }
    if (c->close_code > 0 && c->close_code != HUB_CLOSE_GOING_AWAY) {
        lws_close_reason(wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    uint64_t last;
    if (write_events(h, c, &last) != 0)
        return -1;
    int caught_up = c->cursor == HUB_NOT_JOINED || c->cursor > last;
    if (c->close_code == HUB_CLOSE_GOING_AWAY &&
        (caught_up || hub_now_us() >= h->stop_deadline_us)) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)"going away", 10);
        return -1;
    }
    if (!caught_up || c->close_code > 0 || c->nctrl > 0)
        hub_want_write(c);
    return 0;
}

int hub_client_receive(struct hub *h, struct lws *wsi, struct hub_client *c, const char *in,
                       size_t len)
{
    if (lws_frame_is_binary(wsi)) {
        LOG_INFO("client_bad_input hub=%s peer=%s reason=binary_frame", h->cfg.name, c->peer);
        lws_close_reason(wsi, (enum lws_close_status)HUB_CLOSE_UNSUPPORTED,
                         (unsigned char *)"binary frames are not supported", 31);
        return -1;
    }
    int whole = c->rx_bytes == 0 && lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi) &&
                lws_remaining_packet_payload(wsi) == 0;
    c->rx_bytes += len;
    if (c->rx_bytes > h->cfg.max_message) {
        LOG_INFO("client_bad_input hub=%s peer=%s reason=message_too_big bytes=%zu", h->cfg.name,
                 c->peer, c->rx_bytes);
        lws_close_reason(wsi, (enum lws_close_status)HUB_CLOSE_TOO_BIG,
                         (unsigned char *)"message too big", 15);
        return -1;
    }
    if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0)
        c->rx_bytes = 0;
    /* Plain clients' messages carry nothing the hub acts on; Socket.IO control packets and
     * replicas' acknowledgements ("ack N") do. */
    if (c->sio && whole)
        return hub_sio_packet(h, c, in, len);
    if (c->replica && whole && len > 4 && len < 32 && memcmp(in, "ack ", 4) == 0) {
        char num[32];
        memcpy(num, in + 4, len - 4);
        num[len - 4] = '\0';
        char *end;
        unsigned long long n = strtoull(num, &end, 10);
        if (*end == '\0' && n > c->acked) {
            c->acked = n;
            c->ack_at_us = hub_now_us();
            hub_sweep(h); /* the commit may advance now */
        }
    }
    return 0;
}
