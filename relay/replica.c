#include "replica.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "log.h"
#include "wsclient.h"

struct replica {
    struct hub *hub;
    int self_id;
    replica_mirrored_fn mirrored;
    void *ud;
    pthread_t thread;
    atomic_int stop;

    pthread_mutex_t lock; /* guards target and gen */
    char host[128];
    int port; /* 0 = follow nobody */
    unsigned gen;

    /* replication thread only */
    struct wsc_pool *pool;
    struct wsc *conn;
    unsigned conn_gen;
    int64_t next_attempt_us;
    struct history_epoch_span lineage[HISTORY_LINEAGE_MAX];
    size_t nlineage;
    uint64_t leader_last; /* the leader's newest offset when we connected */
    uint64_t mirrored_last, acked_sent;
    atomic_int synced;
};

static int64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* _connected carries the leader's lineage and newest offset; _recovery says if we resumed. */
static void control(struct replica *r, const char *data, size_t len)
{
    json_error_t je;
    json_t *o = json_loadb(data, len, 0, &je);
    const char *ev = json_string_value(json_object_get(o, "event"));
    json_t *d = json_object_get(o, "data");
    if (ev && strcmp(ev, "_connected") == 0) {
        r->leader_last = (uint64_t)json_integer_value(json_object_get(d, "offset"));
        json_t *l = json_object_get(d, "lineage"), *e;
        size_t i;
        r->nlineage = 0;
        json_array_foreach(l, i, e)
        {
            const char *ep = json_string_value(json_array_get(e, 0));
            if (ep == NULL || !envelope_epoch_valid(ep) || r->nlineage == HISTORY_LINEAGE_MAX)
                continue;
            snprintf(r->lineage[r->nlineage].epoch, sizeof r->lineage[0].epoch, "%s", ep);
            r->lineage[r->nlineage].first = (uint64_t)json_integer_value(json_array_get(e, 1));
            r->nlineage++;
        }
    } else if (ev && strcmp(ev, "_recovery") == 0 &&
               !json_is_true(json_object_get(d, "recovered")) && r->nlineage > 0) {
        uint64_t from = (uint64_t)json_integer_value(json_object_get(d, "from"));
        LOG_WARN("replica_resync reason=%s from=%" PRIu64,
                 json_string_value(json_object_get(d, "reason")), from);
        /* Not ready again until caught up: clients closed by the resync should resume on a
         * member that can replay them, not here on a history that is still filling. */
        atomic_store(&r->synced, 0);
        hub_set_accepting(r->hub, 0);
        hub_adopt(r->hub, r->lineage, r->nlineage, from);
        r->mirrored_last = from - 1;
        r->acked_sent = 0;
    }
    int recovery = ev && strcmp(ev, "_recovery") == 0;
    json_decref(o);
    /* We always ask to resume, so _recovery follows _connected: judge sync after it. */
    if (recovery && r->mirrored_last >= r->leader_last && !atomic_load(&r->synced)) {
        atomic_store(&r->synced, 1);
        hub_set_accepting(r->hub, 1);
        LOG_INFO("replica_synced offset=%" PRIu64, r->mirrored_last);
    }
}

static void on_message(struct wsc *c, const char *data, size_t len, int binary, void *ud)
{
    struct replica *r = ud;
    if (binary || c != r->conn)
        return;
    if (len > 11 && memcmp(data, "{\"event\":\"_", 11) == 0) {
        control(r, data, len);
        return;
    }
    char id[160], err[160];
    uint64_t off = hub_mirror(r->hub, data, len, id, sizeof id, err, sizeof err);
    if (off == 0) {
        LOG_WARN("replica_bad_frame error=\"%s\"", err);
        wsc_close(c, 1008, "replication gap");
        return;
    }
    if (id[0] && r->mirrored)
        r->mirrored(r->ud, id, off);
    if (off > r->mirrored_last)
        r->mirrored_last = off;
    if (off >= r->leader_last && !atomic_load(&r->synced)) {
        atomic_store(&r->synced, 1);
        hub_set_accepting(r->hub, 1);
        LOG_INFO("replica_synced offset=%" PRIu64, off);
    }
}

static void on_open(struct wsc *c, void *ud)
{
    struct replica *r = ud;
    if (c == r->conn)
        LOG_INFO("replica_connected leader=%s:%d", r->host, r->port);
}

static void on_close(struct wsc *c, int code, const char *reason, void *ud)
{
    struct replica *r = ud;
    if (c != r->conn)
        return;
    LOG_INFO("replica_disconnected code=%d reason=\"%s\"", code, reason ? reason : "");
    r->conn = NULL;
    r->next_attempt_us = now_us() + 200000;
}

static void connect_leader(struct replica *r, const char *host, int port)
{
    struct hub_stats st;
    char epoch[ENVELOPE_EPOCH_BUF], path[256], err[256];
    hub_stats(r->hub, &st);
    hub_epoch(r->hub, epoch);
    snprintf(path, sizeof path, "/websocket-service?replica=%d&since=%" PRIu64 "&epoch=%s",
             r->self_id, st.last_offset, epoch);
    r->mirrored_last = st.last_offset;
    r->acked_sent = 0;
    r->leader_last = UINT64_MAX; /* unknown until _connected */
    struct wsc_options o = {.host = host, .port = port, .path = path, .max_message = 1 << 24};
    r->conn = wsc_connect(r->pool, &o, err, sizeof err);
    if (r->conn == NULL) {
        LOG_WARN("replica_connect_failed leader=%s:%d error=\"%s\"", host, port, err);
        r->next_attempt_us = now_us() + 200000;
    }
}

static void *run(void *arg)
{
    struct replica *r = arg;
    char host[128] = "";
    int port = 0;
    while (!atomic_load(&r->stop)) {
        pthread_mutex_lock(&r->lock);
        if (r->gen != r->conn_gen) {
            r->conn_gen = r->gen;
            snprintf(host, sizeof host, "%s", r->host);
            port = r->port;
            if (r->conn) {
                wsc_close(r->conn, 1000, "following another leader");
                r->conn = NULL;
            }
            r->next_attempt_us = 0;
        }
        pthread_mutex_unlock(&r->lock);
        if (r->conn == NULL && port > 0 && now_us() >= r->next_attempt_us)
            connect_leader(r, host, port);
        wsc_pool_service(r->pool, 50);
        /* One acknowledgement per service round covers everything mirrored in it. */
        if (r->conn && wsc_is_open(r->conn) && r->mirrored_last > r->acked_sent) {
            char ack[40];
            int n = snprintf(ack, sizeof ack, "ack %" PRIu64, r->mirrored_last);
            if (wsc_send_text(r->conn, ack, (size_t)n) == 0)
                r->acked_sent = r->mirrored_last;
        }
    }
    return NULL;
}

struct replica *replica_new(struct hub *hub, int self_id, replica_mirrored_fn fn, void *ud,
                            char *err, size_t errlen)
{
    struct replica *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->hub = hub;
    r->self_id = self_id;
    r->mirrored = fn;
    r->ud = ud;
    atomic_init(&r->stop, 0);
    atomic_init(&r->synced, 0);
    pthread_mutex_init(&r->lock, NULL);
    struct wsc_callbacks cb = {.on_open = on_open, .on_message = on_message, .on_close = on_close};
    r->pool = wsc_pool_new(4, &cb, r, err, errlen);
    if (r->pool == NULL) {
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        snprintf(err, errlen, "cannot start the replication thread");
        wsc_pool_free(r->pool);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    return r;
}

void replica_follow(struct replica *r, const char *host, int ws_port)
{
    pthread_mutex_lock(&r->lock);
    if (host == NULL)
        host = "";
    if (strcmp(r->host, host) != 0 || r->port != ws_port) {
        snprintf(r->host, sizeof r->host, "%s", host);
        r->port = ws_port;
        r->gen++;
        atomic_store(&r->synced, 0);
    }
    pthread_mutex_unlock(&r->lock);
    wsc_pool_wake(r->pool);
}

int replica_synced(struct replica *r)
{
    return atomic_load(&r->synced);
}

void replica_free(struct replica *r)
{
    if (r == NULL)
        return;
    atomic_store(&r->stop, 1);
    wsc_pool_wake(r->pool);
    pthread_join(r->thread, NULL);
    wsc_pool_free(r->pool);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
