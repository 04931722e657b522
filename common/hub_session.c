/*
 * hub_session — one websocket client of the hub: the upgrade filter (path, resume point,
 * channels, token), joining (where the replay plan is made, and a replay beyond the ring is
 * asked of the fetcher), and what the client sends. Writing and the sweep are in
 * hub_write.c, Socket.IO framing in hub_sio.c. Runs on the lws service thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
        f = hub_sio_control_frame(c, name, data, s, len);
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
    if (c->poll) {
        hub_poll_want_write(c);
        return;
    }
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
    metric_inc(h->m_closes[c->end]);
    h->nclients--;
    metric_set(h->m_clients, (int64_t)h->nclients);
    for (int i = 0; i < c->nctrl; i++)
        frame_unref(c->ctrl[i]);
    c->nctrl = 0;
}

static void drop_pending(struct hub_client *c)
{
    for (uint32_t i = c->ipend; i < c->npend; i++)
        frame_unref(c->pend[i]);
    free(c->pend);
    c->pend = NULL;
    c->npend = c->ipend = 0;
}

uint64_t hub_client_next_offset(struct hub *h, const struct hub_client *c)
{
    /* A fetch under way was asked with the old channels: the new ones count after it. A
     * fetched replay waiting to be sent was filtered already: its end is the cursor. */
    if (c->fetch_ticket)
        return c->fetch_to + 1;
    if (c->cursor == HUB_NOT_JOINED || c->cursor == HUB_PARKED)
        return hub_last_offset(h) + 1;
    return c->cursor;
}

void hub_client_release(struct hub_client *c)
{
    hub_chanset_free(c->chans);
    hub_chanset_free(c->allowed);
    free(c->want_chans);
    free(c->rx_buf);
    free(c->sio_pid);
    free(c->sio_rooms);
    c->sio_rooms = NULL;
    c->chans = c->allowed = NULL;
    c->want_chans = NULL;
    c->rx_buf = NULL;
    c->sio_pid = NULL;
    drop_pending(c);
}

static int path_accepted(const struct hub *h, const char *path)
{
    for (const char *const *p = h->paths; *p; p++)
        if (strcmp(*p, path) == 0 ||
            (strcmp(*p, "/socket.io/") == 0 && strcmp(path, "/socket.io") == 0))
            return 1; /* (socket.io-client with addTrailingSlash: false) */
    return 0;
}

/* since/epoch from the query string or from a Socket.IO auth object. */
void hub_client_set_resume(struct hub_client *c, const char *since, const char *epoch)
{
    /* strtoull alone would take "-1" as 2^64-1 and " 5" or "+5" as 5, and saturate on
     * overflow: only plain decimal digits that fit are an offset. */
    if (since == NULL || *since < '0' || *since > '9')
        return; /* a malformed since is treated as absent: the client gets live events */
    char *end;
    errno = 0;
    unsigned long long s = strtoull(since, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return;
    c->since = s;
    c->has_since = 1;
    if (epoch && envelope_epoch_valid(epoch))
        snprintf(c->epoch, sizeof c->epoch, "%s", epoch);
}

/* Longest query argument read: a channel list at the per-client ceiling fits. */
#define HUB_URLARG_MAX 4096

/*
 * Copies query argument `name` (e.g. "since=") into out. lws's lookup gives up at the first
 * argument that does not fit its buffer, so every lookup gets a buffer as big as any
 * argument may be, whatever the size of the value wanted.
 */
static const char *urlarg(struct lws *wsi, const char *name, char *out, size_t outlen)
{
    char *buf = malloc(HUB_URLARG_MAX);
    if (buf == NULL)
        return NULL;
    const char *v = lws_get_urlarg_by_name(wsi, name, buf, HUB_URLARG_MAX);
    const char *r = NULL;
    if (v != NULL && strlen(v) < outlen) {
        memmove(out, v, strlen(v) + 1);
        r = out;
    }
    free(buf);
    return r;
}

int hub_client_authenticate(struct hub *h, struct hub_client *c, const char *token, char *code,
                            size_t codelen, char *msg, size_t msglen)
{
    if (h->cfg.auth == NULL)
        return 0;
    struct hub_grant *g = calloc(1, sizeof *g);
    char err[200] = "";
    int rc = g ? h->cfg.auth(h->cfg.auth_ud, token, g, err, sizeof err) : -1;
    if (rc == 0) {
        hub_chanset_free(c->allowed);
        c->allowed = hub_chanset_from_grant(g);
        c->auth_exp = g->exp;
        if (!g->any && c->allowed == NULL) {
            rc = -1; /* out of memory: refuse rather than grant everything */
            snprintf(err, sizeof err, "internal: out of memory");
        }
    }
    free(g);
    if (rc != 0) {
        metric_inc(h->m_unauth);
        metric_inc(h->m_rejected);
        LOG_INFO("client_unauthorized hub=%s peer=%s reason=\"%s\"", h->cfg.name, c->peer,
                 *err ? err : "refused");
        const char *colon = strchr(err, ':');
        size_t cl = colon ? (size_t)(colon - err) : 0;
        if (code)
            snprintf(code, codelen, "%.*s", (int)cl, cl ? err : "unauthorized");
        if (msg)
            snprintf(msg, msglen, "%s", colon ? colon + 1 + (colon[1] == ' ') : "unauthorized");
    }
    return rc;
}

/* The client's address for the logs (once). */
static void hub_client_peer(struct hub_client *c, struct lws *wsi)
{
    if (c->peer[0])
        return;
    lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
    if (strncmp(c->peer, "::ffff:", 7) == 0) /* IPv4-mapped: log the IPv4 address */
        memmove(c->peer, c->peer + 7, strlen(c->peer + 7) + 1);
}

int hub_client_filter(struct hub *h, struct lws *wsi, struct hub_client *c)
{
    char path[256], since[32], epoch[64];
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 || !path_accepted(h, path) ||
        atomic_load(&h->stopping)) {
        LOG_DEBUG("upgrade_refused hub=%s path=%s", h->cfg.name, path);
        return -1;
    }
    if (c == NULL)
        return 0;
    if (hub_sio_path(path) && hub_sio_filter(h, wsi, c) != 0)
        return -1; /* sets c->sio for Engine.IO clients (and c->probe for an upgrade) */
    hub_client_set_resume(c, urlarg(wsi, "since=", since, sizeof since),
                          urlarg(wsi, "epoch=", epoch, sizeof epoch));
    char *list = malloc(HUB_URLARG_MAX);
    if (list && urlarg(wsi, "channels=", list, HUB_URLARG_MAX) && *list) {
        c->want_chans = list;
        list = NULL;
    }
    free(list);
    if (h->cfg.auth) {
        hub_client_peer(c, wsi); /* for client_unauthorized */
        /* Browsers cannot set headers on a websocket: ?token= is the usual carrier. */
        char *tok = malloc(HUB_URLARG_MAX);
        const char *t = tok ? urlarg(wsi, "token=", tok, HUB_URLARG_MAX) : NULL;
        if (t == NULL && tok &&
            lws_hdr_copy(wsi, tok, HUB_URLARG_MAX, WSI_TOKEN_HTTP_AUTHORIZATION) > 7 &&
            strncasecmp(tok, "Bearer ", 7) == 0)
            t = tok + 7;
        /* A Socket.IO client may bring its token in the CONNECT auth instead. */
        if ((t || !c->sio) && hub_client_authenticate(h, c, t, NULL, 0, NULL, 0) != 0)
            c->refused = 1; /* told with a close code once the handshake is done */
        else if (t)
            c->authed = 1;
        free(tok);
    }
    return 0;
}

/* Splits s at commas into names[0..max); names past max are refused ("limit") in refused. */
static size_t split_list(char *s, const char **names, size_t max, json_t *refused)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n < max)
            names[n++] = t;
        else
            json_array_append_new(
                refused, json_pack("{s:s%, s:s}", "channel", t, strnlen(t, 80), "reason", "limit"));
    }
    return n;
}

static void queue_recovery(struct hub *h, struct hub_client *c, int ok, const char *reason,
                           uint64_t from)
{
    char epoch[ENVELOPE_EPOCH_BUF];
    if (c->sio)
        hub_sio_recovery_decided(c, ok); /* its CONNECT answer goes first */
    metric_inc(ok ? h->m_replay_ok : h->m_replay_fail);
    json_t *d = json_pack("{s:b, s:s, s:s, s:I, s:I, s:I}", "recovered", ok, "reason", reason,
                          "epoch", hub_epoch(h, epoch), "since", (json_int_t)c->since, "from",
                          (json_int_t)from, "offset", (json_int_t)hub_last_offset(h));
    hub_queue_ctrl(c, hub_control_frame(c, "_recovery", d));
    json_decref(d);
}

/* Asks the fetcher for since+1 .. to for this client; it is parked until the answer. */
void hub_client_fetch(struct hub *h, struct hub_client *c, uint64_t since, uint64_t to, int first)
{
    const char *names[HUB_CHANNELS_MAX];
    size_t n = 0;
    for (uint32_t i = 0; c->chans && i < c->chans->n && n < HUB_CHANNELS_MAX; i++)
        names[n++] = c->chans->v[i].name;
    c->fetch_ticket = h->next_ticket++;
    c->fetch_first = first;
    c->fetch_since = since;
    c->fetch_to = to;
    c->cursor = HUB_PARKED;
    metric_inc(h->m_fetches);
    struct hub_fetch req = {c->fetch_ticket, since, to, names, n};
    h->fetch(h->fetch_ud, &req);
}

/*
 * A plain client's _connected frame, {"event":"_connected","data":{"offset":N,"epoch":"E"}}
 * (hub_control_frame's bytes; epochs need no escaping): the same for every client joining
 * while the stream stands still, so one is kept and shared. A 10,000-client connect storm
 * built 10,000 identical ones through jansson. A new reference, NULL when out of memory.
 */
static struct frame *connected_frame(struct hub *h, uint64_t last, const char *epoch)
{
    if (h->connected && h->connected_last == last && strcmp(h->connected_epoch, epoch) == 0)
        return frame_ref(h->connected);
    char s[96 + ENVELOPE_EPOCH_BUF];
    int n = snprintf(s, sizeof s,
                     "{\"event\":\"_connected\",\"data\":{\"offset\":%llu,\"epoch\":\"%s\"}}",
                     (unsigned long long)last, epoch);
    struct frame *f = n > 0 && (size_t)n < sizeof s ? frame_from(s, (size_t)n) : NULL;
    if (f == NULL)
        return NULL;
    frame_seal_text(f);
    frame_unref(h->connected);
    h->connected = frame_ref(f);
    h->connected_last = last;
    snprintf(h->connected_epoch, sizeof h->connected_epoch, "%s", epoch);
    return f;
}

void hub_client_join(struct hub *h, struct hub_client *c)
{
    char epoch[ENVELOPE_EPOCH_BUF];
    pthread_mutex_lock(&h->lock);
    uint64_t last = history_last(h->hist), first = history_first(h->hist);
    snprintf(epoch, sizeof epoch, "%s", history_epoch(h->hist));
    enum history_plan_result plan = HISTORY_RECOVERED;
    uint64_t from = last + 1;
    if (c->has_since)
        plan = history_plan(h->hist, c->epoch, c->since, &from);
    pthread_mutex_unlock(&h->lock);

    c->cursor = from;
    c->live_from = last + 1;
    if (c->sio) {
        json_t *d = json_pack("{s:I, s:s}", "offset", (json_int_t)last, "epoch", epoch);
        hub_queue_ctrl(c, hub_control_frame(c, "_connected", d));
        json_decref(d);
    } else {
        hub_queue_ctrl(c, connected_frame(h, last, epoch));
    }
    /* Over MongoDB the stream holds more than the ring, and a client may have seen offsets
     * this relay has not tailed yet: the store decides. */
    int fetch = c->has_since && h->fetch && (plan == HISTORY_TRUNCATED || plan == HISTORY_AHEAD);
    if (c->want_chans) {
        const char *names[HUB_CHANNELS_MAX + 1];
        json_t *refused = json_array();
        size_t n = split_list(c->want_chans, names, HUB_CHANNELS_MAX + 1, refused);
        hub_client_channels(h, c, names, n, 1, refused);
        if (c->sio_rooms) /* rooms restored from a recorded offset: record what was joined */
            hub_sio_record_rooms(c);
        hub_queue_subscribed(h, c, refused, fetch ? c->since + 1 : from);
        free(c->want_chans);
        c->want_chans = NULL;
    }
    if (fetch)
        hub_client_fetch(h, c, c->since, plan == HISTORY_TRUNCATED ? first - 1 : c->since, 1);
    else if (c->has_since)
        queue_recovery(h, c, plan == HISTORY_RECOVERED, history_plan_name(plan), from);
    LOG_DEBUG("client_join hub=%s peer=%s sio=%d since=%s%llu replay=%s channels=%zu clients=%llu",
              h->cfg.name, c->peer, c->sio, c->has_since ? "" : "-", (unsigned long long)c->since,
              c->has_since ? history_plan_name(plan) : "none", hub_chanset_count(c->chans),
              (unsigned long long)h->nclients);
}

static const char *fetch_reason(enum hub_fetch_status st)
{
    switch (st) {
    case HUB_FETCH_OK:
    case HUB_FETCH_MORE:
        return "recovered";
    case HUB_FETCH_TRUNCATED:
        return "history_truncated";
    case HUB_FETCH_AHEAD:
        return "offset_ahead";
    case HUB_FETCH_FAILED:
        break;
    }
    return "store_unavailable";
}

/* One fetch answer for client c. Takes ownership of r's frames. */
static void fetched(struct hub *h, struct hub_client *c, struct hub_fetch_result *r)
{
    int ok = r->st == HUB_FETCH_OK || r->st == HUB_FETCH_MORE;
    c->fetch_ticket = 0;
    if (!ok) {
        for (size_t i = 0; i < r->n; i++)
            frame_unref(r->frames[i]);
        free(r->frames);
        c->cursor = hub_last_offset(h) + 1;
        /* The store could not answer a client that is ahead of this relay (it resumed with
         * an offset from a faster relay, which the tail has not reached yet): it already
         * has everything up to since, in this epoch, so it goes on after since. Going on
         * after this relay's older head would send it again, out of order, what it has. */
        if (c->fetch_first && r->st == HUB_FETCH_FAILED && c->fetch_since >= c->cursor)
            c->cursor = c->fetch_since + 1;
        if (c->fetch_first)
            queue_recovery(h, c, 0, fetch_reason(r->st), c->cursor);
        else
            hub_client_kill(c, HUB_END_SLOW, HUB_CLOSE_SLOW, "replay fell behind the store");
        hub_want_write(c);
        return;
    }
    if (c->fetch_first)
        queue_recovery(h, c, 1, "recovered", c->fetch_since + 1);
    drop_pending(c);
    size_t keep = 0;
    /* A partial answer (MORE) covers the range up to its last frame, whatever the client
     * keeps of it: channels it left meanwhile are filtered out below, and the next fetch
     * must still start after that frame, not at fetch_to (it would skip the rest). */
    uint64_t top = r->st == HUB_FETCH_MORE && r->n > 0 ? r->frames[r->n - 1]->offset : c->fetch_to;
    if (top > c->fetch_to)
        top = c->fetch_to;
    for (size_t i = 0; i < r->n; i++) {
        struct frame *f = r->frames[i];
        if (f->offset > c->fetch_since && f->offset <= c->fetch_to && hub_client_wants(c, f))
            r->frames[keep++] = f;
        else
            frame_unref(f);
    }
    c->pend = r->frames;
    c->npend = (uint32_t)keep;
    c->ipend = 0;
    if (keep == 0) {
        free(c->pend);
        c->pend = NULL;
    }
    c->cursor = top + 1; /* the ring (or the next fetch) continues from here */
    hub_want_write(c);
}

void hub_take_fetches(struct hub *h)
{
    pthread_mutex_lock(&h->lock);
    struct hub_fetch_result *list = h->results;
    h->results = NULL;
    pthread_mutex_unlock(&h->lock);
    while (list) {
        struct hub_fetch_result *r = list;
        list = r->next;
        struct hub_client *c = h->clients;
        while (c && c->fetch_ticket != r->ticket)
            c = c->next;
        if (c && c->close_code != -1) {
            fetched(h, c, r);
        } else {
            for (size_t i = 0; i < r->n; i++)
                frame_unref(r->frames[i]);
            free(r->frames);
        }
        free(r);
    }
}

void hub_client_link(struct hub *h, struct hub_client *c)
{
    c->established = 1;
    c->next = h->clients;
    if (h->clients)
        h->clients->prev = c;
    h->clients = c;
    h->nclients++;
    metric_set(h->m_clients, (int64_t)h->nclients);
    metric_inc(h->m_conns);
}

int hub_client_established(struct hub *h, struct lws *wsi, struct hub_client *c)
{
    c->wsi = wsi;
    hub_client_link(h, c);
    hub_client_peer(c, wsi);

    if (!c->sio) /* joined by hub_client_join; until then the sweep leaves it alone */
        c->cursor = c->live_from = HUB_NOT_JOINED;
    if (atomic_load(&h->stopping)) {
        c->close_code = HUB_CLOSE_GOING_AWAY;
        c->close_reason = "going away";
    } else if (h->nclients > (uint64_t)h->cfg.max_clients) {
        metric_inc(h->m_rejected);
        c->close_code = HUB_CLOSE_FULL;
        c->close_reason = "server full";
    } else if (c->refused) {
        c->close_code = HUB_CLOSE_UNAUTHORIZED;
        c->close_reason = "unauthorized";
    }
    if (c->sio) {
        /* Engine.IO handshake; events start once the client joins namespace "/". */
        hub_sio_open(h, c, 0);
    } else if (c->close_code == 0) {
        hub_client_join(h, c);
    }
    if (c->close_code != 0) {
        hub_want_write(c); /* the close frame, from the writeable callback */
        return 0;
    }
    /* The first frames (_connected, Engine.IO's open) go now, behind the 101 still corked
     * in the socket (hub.c), rather than after a round through epoll for POLLOUT. */
    return hub_client_writeable(h, c);
}

/* Closes a client from outside its own callback. Nothing more is sent to it but the close
 * frame, which its next writeable callback sends (hub_client_writeable), so the client can
 * read why (4008, 1001, 4401...). A socket that never becomes writeable (a choked slow
 * client, a dead peer) is dropped after HUB_KILL_GRACE_S: an lws timeout closes without a
 * close frame, so it is only the backstop. */
void hub_client_kill(struct hub_client *c, enum hub_end why, int code, const char *reason)
{
    if (c->end == HUB_END_DROPPED)
        c->end = why;
    if (c->poll) {
        hub_poll_kill(c, code, reason);
        return;
    }
    c->close_code = -1;
    c->kill_code = code;
    c->kill_reason = reason;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, HUB_KILL_GRACE_S);
    hub_want_write(c);
}

int hub_client_write_failed(struct hub *h, struct hub_client *c, const char *where)
{
    /* Not the socket being full (that is kept, and closed as slow past --queue-limit): the
     * send failed, as it does when the peer reset the connection while the relay wrote. */
    LOG_INFO("client_write_failed hub=%s peer=%s where=%s", h->cfg.name, c->peer, where);
    if (c->end == HUB_END_DROPPED)
        c->end = HUB_END_WRITE_FAILED;
    return -1;
}

void hub_client_kill_write_failed(struct hub *h, struct hub_client *c, const char *where)
{
    hub_client_write_failed(h, c, where);
    hub_client_kill(c, HUB_END_WRITE_FAILED, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "write failed");
}

enum hub_end hub_end_for_code(int close_code)
{
    switch (close_code) {
    case HUB_CLOSE_FULL:
        return HUB_END_FULL;
    case HUB_CLOSE_UNAUTHORIZED:
        return HUB_END_UNAUTHORIZED;
    case HUB_CLOSE_GOING_AWAY:
        return HUB_END_STOPPING;
    default:
        return HUB_END_PROTOCOL;
    }
}

/* {"subscribe":[...]} or {"unsubscribe":[...]} from a plain client; anything else is ignored. */
static void plain_message(struct hub *h, struct hub_client *c, const char *in, size_t len)
{
    if (len == 0 || in[0] != '{')
        return; /* plain clients' other messages carry nothing the hub acts on */
    json_t *m = json_loadb(in, len, 0, NULL);
    json_t *sub = json_object_get(m, "subscribe"), *uns = json_object_get(m, "unsubscribe");
    json_t *list = sub ? sub : uns;
    if (!json_is_array(list) || json_array_size(list) > HUB_CHANNELS_MAX) {
        json_t *d = json_pack("{s:s, s:s}", "code", "bad_message", "message",
                              "expected {\"subscribe\":[names]} or {\"unsubscribe\":[names]}");
        hub_queue_ctrl(c, hub_control_frame(c, "_error", d));
        json_decref(d);
        json_decref(m);
        hub_want_write(c);
        return;
    }
    const char *names[HUB_CHANNELS_MAX];
    size_t n = 0;
    json_t *refused = json_array(), *v;
    size_t i;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v))
            names[n++] = json_string_value(v);
        else
            json_array_append_new(refused,
                                  json_pack("{s:s, s:s}", "channel", "", "reason", "invalid"));
    }
    hub_client_channels(h, c, names, n, sub != NULL, refused);
    hub_queue_subscribed(h, c, refused, hub_client_next_offset(h, c));
    json_decref(m);
    hub_want_write(c);
}

int hub_client_receive(struct hub *h, struct lws *wsi, struct hub_client *c, const char *in,
                       size_t len)
{
    if (lws_frame_is_binary(wsi) && c->sio && c->close_code == 0) {
        /* Socket.IO: a binary attachment the client announced is read and dropped. */
        c->rx_bytes += len;
        int end = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
        size_t bytes = c->rx_bytes;
        if (end)
            c->rx_bytes = 0;
        return hub_sio_binary(h, c, bytes, end);
    }
    if (lws_frame_is_binary(wsi)) {
        LOG_INFO("client_bad_input hub=%s peer=%s reason=binary_frame", h->cfg.name, c->peer);
        c->end = HUB_END_PROTOCOL;
        lws_close_reason(wsi, (enum lws_close_status)HUB_CLOSE_UNSUPPORTED,
                         (unsigned char *)"binary frames are not supported", 31);
        return -1;
    }
    int last = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    int whole = c->rx_bytes == 0 && lws_is_first_fragment(wsi) && last;
    c->rx_bytes += len;
    if (c->rx_bytes > h->cfg.max_message) {
        LOG_INFO("client_bad_input hub=%s peer=%s reason=message_too_big bytes=%zu", h->cfg.name,
                 c->peer, c->rx_bytes);
        if (c->sio)
            hub_sio_refused(h);
        c->end = HUB_END_PROTOCOL;
        lws_close_reason(wsi, (enum lws_close_status)HUB_CLOSE_TOO_BIG,
                         (unsigned char *)"message too big", 15);
        return -1;
    }
    if (!whole && c->close_code == 0) {
        /* lws hands a message over in pieces when it is longer than the connection's receive
         * buffer (256 bytes) or the client fragmented it: a subscribe to many channels, a Socket.IO
         * CONNECT with a long token. Gather them (max_message at most, checked above). */
        char *b = realloc(c->rx_buf, c->rx_bytes + 1);
        if (b == NULL) {
            lws_close_reason(wsi, (enum lws_close_status)HUB_CLOSE_TOO_BIG,
                             (unsigned char *)"out of memory", 13);
            return -1;
        }
        c->rx_buf = b;
        memcpy(b + c->rx_bytes - len, in, len);
        if (!last)
            return 0;
        in = b;
        len = c->rx_bytes;
        whole = 1;
    }
    if (last)
        c->rx_bytes = 0;
    int rc = 0;
    if (c->close_code != 0)
        whole = 0; /* being closed: nothing it says matters now */
    if (c->sio && whole)
        rc = hub_sio_packet(h, c, in, len);
    else if (!c->sio && whole && c->cursor != HUB_NOT_JOINED)
        plain_message(h, c, in, len);
    if (last) {
        free(c->rx_buf);
        c->rx_buf = NULL;
    }
    return rc;
}
