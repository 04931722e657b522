/*
 * mstore — opening the stream: connection pools, the collections and their indexes, the
 * stream's epoch; the emit entry point; readiness. The work is done by the threads in
 * mseq.c, mtail.c, mfetch.c and mwatch.c.
 */
#include "mstore_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "hub_impl.h" /* hub_random_epoch */
#include "log.h"

int64_t mstore_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mstore_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mstore_stopping(struct mstore *s)
{
    return atomic_load(&s->stopping) || (s->stop && *s->stop);
}

int mstore_nap(struct mstore *s, long ms)
{
    while (ms > 0 && !mstore_stopping(s)) {
        long step = ms < 50 ? ms : 50;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return mstore_stopping(s);
}

int mstore_join(struct mstore *s, pthread_t th)
{
    int64_t left = s->close_deadline_ms - mstore_now_ms();
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    if (left > 0) {
        until.tv_sec += left / 1000;
        until.tv_nsec += (left % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    if (pthread_timedjoin_np(th, NULL, &until) == 0)
        return 0;
    pthread_detach(th);
    s->abandoned = 1;
    return -1;
}

mongoc_collection_t *mstore_events(struct mstore *s, mongoc_client_t *cl)
{
    mongoc_collection_t *c = mongoc_client_get_collection(cl, s->cfg.mongo_db, "events");
    mongoc_read_concern_t *rc = mongoc_read_concern_new();
    mongoc_read_concern_set_level(rc, MONGOC_READ_CONCERN_LEVEL_MAJORITY);
    mongoc_collection_set_read_concern(c, rc);
    mongoc_read_concern_destroy(rc);
    return c;
}

uint64_t mstore_offset_of(const bson_t *doc)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "_id"))
        return 0;
    int64_t v;
    switch (bson_iter_type(&it)) {
    case BSON_TYPE_INT64:
        v = bson_iter_int64(&it);
        break;
    case BSON_TYPE_INT32:
        v = bson_iter_int32(&it);
        break;
    case BSON_TYPE_DOUBLE: {
        double d = bson_iter_double(&it);
        if (d < 1 || d > 9e15 || d != (double)(int64_t)d)
            return 0;
        v = (int64_t)d;
        break;
    }
    default:
        return 0;
    }
    return v > 0 ? (uint64_t)v : 0;
}

int mstore_edge(struct mstore *s, mongoc_client_t *cl, int desc, uint64_t *out, char *err,
                size_t errlen)
{
    mongoc_collection_t *c = mstore_events(s, cl);
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(desc ? -1 : 1), "}", "limit",
                            BCON_INT64(1), "projection", "{", "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    const bson_t *doc;
    *out = 0;
    if (mongoc_cursor_next(cur, &doc))
        *out = mstore_offset_of(doc);
    bson_error_t e;
    int rc = 0;
    if (mongoc_cursor_error(cur, &e)) {
        snprintf(err, errlen, "%s", e.message);
        rc = -1;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    mongoc_collection_destroy(c);
    return rc;
}

struct frame *mstore_frame(struct mstore *s, const bson_t *doc)
{
    uint64_t off = mstore_offset_of(doc);
    bson_iter_t it;
    const char *event = NULL, *channel = NULL, *data = NULL;
    uint32_t el = 0, cl = 0, dl = 0;
    if (bson_iter_init_find(&it, doc, "event") && BSON_ITER_HOLDS_UTF8(&it))
        event = bson_iter_utf8(&it, &el);
    if (bson_iter_init_find(&it, doc, "channel") && BSON_ITER_HOLDS_UTF8(&it))
        channel = bson_iter_utf8(&it, &cl);
    if (bson_iter_init_find(&it, doc, "data") && BSON_ITER_HOLDS_UTF8(&it))
        data = bson_iter_utf8(&it, &dl);
    if (off == 0 || event == NULL || data == NULL || !envelope_event_valid(event, el) ||
        (channel && !envelope_channel_valid(channel, cl)) || dl == 0)
        return NULL;
    return hub_encode(event, channel, data, dl, off, s->epoch);
}

/* Sets an int option unless the connection string already has it. */
static void uri_default_int(mongoc_uri_t *uri, const char *key, int32_t v)
{
    if (!mongoc_uri_has_option(uri, key))
        mongoc_uri_set_option_as_int32(uri, key, v);
}

static mongoc_uri_t *make_uri(const struct relay_config *c, int writes, char *err, size_t errlen)
{
    bson_error_t e;
    mongoc_uri_t *u = mongoc_uri_new_with_error(c->mongo_uri, &e);
    if (u == NULL) {
        snprintf(err, errlen, "bad --mongo-uri: %s", e.message);
        return NULL;
    }
    int32_t t = (int32_t)c->emit_timeout_ms;
    /* A paused primary holds a request until the socket times out: writes must give up in
     * time to answer the app; change streams wait MSTORE_AWAIT_MS per getMore. */
    uri_default_int(u, MONGOC_URI_SOCKETTIMEOUTMS, writes ? t : 4 * MSTORE_AWAIT_MS + 2000);
    uri_default_int(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, writes ? t : 2000);
    uri_default_int(u, MONGOC_URI_CONNECTTIMEOUTMS, t < 2000 ? t : 2000);
    uri_default_int(u, MONGOC_URI_HEARTBEATFREQUENCYMS, 500);
    if (!mongoc_uri_has_option(u, MONGOC_URI_RETRYWRITES))
        mongoc_uri_set_option_as_bool(u, MONGOC_URI_RETRYWRITES, true);
    if (!mongoc_uri_has_option(u, MONGOC_URI_RETRYREADS))
        mongoc_uri_set_option_as_bool(u, MONGOC_URI_RETRYREADS, true);
    mongoc_write_concern_t *wc = mongoc_write_concern_new();
    mongoc_write_concern_set_wmajority(wc, t);
    mongoc_uri_set_write_concern(u, wc);
    mongoc_write_concern_destroy(wc);
    return u;
}

/* Every $changeStream aggregate on the events collection, whoever sends it: the relay when
 * it opens or reopens the stream (mtail.c), or the driver itself when it resumes the stream
 * after a resumable error (a step-down, a primary gone), which the relay never sees. All but
 * the first are resumes. */
static void stream_aggregate_seen(const mongoc_apm_command_started_t *ev)
{
    if (strcmp(mongoc_apm_command_started_get_command_name(ev), "aggregate") != 0)
        return;
    const bson_t *cmd = mongoc_apm_command_started_get_command(ev);
    bson_iter_t it, stage;
    if (!bson_iter_init_find(&it, cmd, "aggregate") || !BSON_ITER_HOLDS_UTF8(&it) ||
        strcmp(bson_iter_utf8(&it, NULL), "events") != 0)
        return;
    if (!bson_iter_init_find(&it, cmd, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &stage) || !bson_iter_next(&stage) ||
        !BSON_ITER_HOLDS_DOCUMENT(&stage))
        return;
    bson_iter_t op;
    if (!bson_iter_recurse(&stage, &op) || !bson_iter_find(&op, "$changeStream"))
        return;
    struct mstore *s = mongoc_apm_command_started_get_context(ev);
    if (atomic_fetch_add(&s->stream_opens, 1) > 0)
        metric_inc(s->m_resumes);
}

/* The member this thread's last getMore or aggregate was answered by: command monitoring
 * runs in the thread that sent the command, so for a thread that follows a change stream
 * this is the member the stream reads from. */
static __thread char read_host[MSTORE_HOST_MAX];

static void read_answered(const mongoc_apm_command_succeeded_t *ev)
{
    const char *name = mongoc_apm_command_succeeded_get_command_name(ev);
    if (strcmp(name, "getMore") != 0 && strcmp(name, "aggregate") != 0)
        return;
    const mongoc_host_list_t *h = mongoc_apm_command_succeeded_get_host(ev);
    if (h)
        snprintf(read_host, sizeof read_host, "%s", h->host_and_port);
}

const char *mstore_read_host(void)
{
    return read_host;
}

int mstore_primary_host(mongoc_client_t *cl, char *out, size_t outlen)
{
    bson_error_t e;
    mongoc_server_description_t *sd = mongoc_client_select_server(cl, true, NULL, &e);
    if (sd == NULL)
        return -1;
    snprintf(out, outlen, "%s", mongoc_server_description_host(sd)->host_and_port);
    mongoc_server_description_destroy(sd);
    return 0;
}

static mongoc_client_pool_t *make_pool(mongoc_uri_t *u, const char *name)
{
    mongoc_client_pool_t *p = mongoc_client_pool_new(u);
    if (p) {
        mongoc_client_pool_set_error_api(p, MONGOC_ERROR_API_VERSION_2);
        mongoc_client_pool_set_appname(p, name);
    }
    return p;
}

/* Creates the indexes the stream relies on (idempotent). */
static int ensure_indexes(struct mstore *s, mongoc_client_t *cl, char *err, size_t errlen)
{
    bson_t *cmd =
        BCON_NEW("createIndexes", "events", "indexes", "[", "{", "key", "{", "id", BCON_INT32(1),
                 "}", "name", "id_1", "unique", BCON_BOOL(true), "sparse", BCON_BOOL(true), "}",
                 "{", "key", "{", "channel", BCON_INT32(1), "_id", BCON_INT32(1), "}", "name",
                 "channel_1__id_1", "}", "{", "key", "{", "src", BCON_INT32(1), "_id",
                 BCON_INT32(1), "}", "name", "src_1__id_1", "sparse", BCON_BOOL(true), "}", "]");
    mongoc_database_t *db = mongoc_client_get_database(cl, s->cfg.mongo_db);
    bson_t reply;
    bson_error_t e;
    bool ok = mongoc_database_write_command_with_opts(db, cmd, NULL, &reply, &e);
    if (!ok)
        snprintf(err, errlen, "createIndexes on %s.events: %s", s->cfg.mongo_db, e.message);
    bson_destroy(&reply);
    mongoc_database_destroy(db);
    bson_destroy(cmd);
    return ok ? 0 : -1;
}

/* Reads the stream's epoch, creating it when the stream is new (the first relay wins). */
static int read_epoch(struct mstore *s, mongoc_client_t *cl, char *err, size_t errlen)
{
    mongoc_collection_t *meta = mongoc_client_get_collection(cl, s->cfg.mongo_db, "meta");
    char fresh[ENVELOPE_EPOCH_BUF];
    hub_random_epoch(fresh, sizeof fresh);
    bson_t *doc = BCON_NEW("_id", "stream", "epoch", BCON_UTF8(fresh), "created",
                           BCON_DATE_TIME(mstore_wall_ms()));
    bson_error_t e;
    bson_t reply;
    /* A duplicate key means another relay created it first: read theirs. */
    if (!mongoc_collection_insert_one(meta, doc, NULL, &reply, &e) && e.code != 11000) {
        snprintf(err, errlen, "creating %s.meta: %s", s->cfg.mongo_db, e.message);
        bson_destroy(&reply);
        bson_destroy(doc);
        mongoc_collection_destroy(meta);
        return -1;
    }
    bson_destroy(&reply);
    bson_destroy(doc);
    mongoc_read_concern_t *rc = mongoc_read_concern_new();
    mongoc_read_concern_set_level(rc, MONGOC_READ_CONCERN_LEVEL_MAJORITY);
    mongoc_collection_set_read_concern(meta, rc);
    mongoc_read_concern_destroy(rc);
    bson_t *filter = BCON_NEW("_id", "stream");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(meta, filter, NULL, NULL);
    const bson_t *got;
    int rc2 = -1;
    bson_iter_t it;
    if (mongoc_cursor_next(cur, &got) && bson_iter_init_find(&it, got, "epoch") &&
        BSON_ITER_HOLDS_UTF8(&it) && envelope_epoch_valid(bson_iter_utf8(&it, NULL))) {
        snprintf(s->epoch, sizeof s->epoch, "%s", bson_iter_utf8(&it, NULL));
        rc2 = 0;
    } else if (mongoc_cursor_error(cur, &e)) {
        snprintf(err, errlen, "reading %s.meta: %s", s->cfg.mongo_db, e.message);
    } else {
        snprintf(err, errlen, "%s.meta has no valid stream epoch", s->cfg.mongo_db);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(meta);
    return rc2;
}

static void register_metrics(struct mstore *s, struct metrics *m)
{
    s->m_batches = metrics_add(m, METRIC_COUNTER, "relay_store_insert_batches_total", NULL,
                               "Ordered inserts of emits into MongoDB.");
    s->m_conflicts = metrics_add(m, METRIC_COUNTER, "relay_store_offset_conflicts_total", NULL,
                                 "Inserts that lost an offset to another relay and were retried.");
    s->m_unconfirmed = metrics_add(m, METRIC_COUNTER, "relay_store_unconfirmed_total", NULL,
                                   "Emits a majority did not confirm within --emit-timeout.");
    s->m_stream_up = metrics_add(m, METRIC_GAUGE, "relay_stream_up", NULL,
                                 "1 while the change stream is open and caught up.");
    s->m_lag = metrics_add(m, METRIC_GAUGE, "relay_stream_lag_ms", NULL,
                           "Milliseconds between an event's store time and its delivery here.");
    s->m_silent = metrics_add(
        m, METRIC_GAUGE, "relay_stream_silent_ms", NULL,
        "Milliseconds since the change stream last answered (an empty answer counts): grows "
        "while MongoDB is unreachable, where relay_stream_lag_ms keeps its last value.");
    s->m_resumes =
        metrics_add(m, METRIC_COUNTER, "relay_stream_resumes_total", NULL,
                    "Times the change stream was opened again after its first open: resumed by "
                    "the MongoDB driver after a resumable error, or reopened by the relay.");
    s->m_stuck = metrics_add(
        m, METRIC_COUNTER, "relay_stream_stuck_total", NULL,
        "Times the change stream answered but an event committed 3 s before had not arrived "
        "(its member cut off from the others), and it was reopened.");
    s->m_watch_stuck = metrics_add(
        m, METRIC_COUNTER, "relay_watch_stuck_total", NULL,
        "Times a watched collection's change stream answered empty for 3 s from a member that "
        "was no longer primary, and was reopened.");
    s->m_gaps = metrics_add(m, METRIC_COUNTER, "relay_stream_gaps_total", NULL,
                            "Offsets the stream skipped (never stored).");
    s->m_offset = metrics_add(m, METRIC_GAUGE, "relay_stream_offset", NULL,
                              "Newest offset read from the stream.");
    s->m_trimmed = metrics_add(m, METRIC_COUNTER, "relay_store_trimmed_total", NULL,
                               "Events removed by retention.");
    s->m_fetch_rows = metrics_add(m, METRIC_COUNTER, "relay_store_replayed_total", NULL,
                                  "Events read back from MongoDB for replays.");
    s->m_fetch_reads = metrics_add(m, METRIC_COUNTER, "relay_store_replay_reads_total", NULL,
                                   "Queries the replay fetcher made (edges and event reads).");
    s->m_watch_skipped = metrics_add(
        m, METRIC_COUNTER, "relay_watch_skipped_total", NULL,
        "Watched inserts not announced: their channel field makes no valid channel name.");
    s->m_watch_events = metrics_add(m, METRIC_COUNTER, "relay_watch_events_total", NULL,
                                    "Inserts into watched collections seen.");
}

struct mstore *mstore_open(const struct relay_config *cfg, struct metrics *m,
                           volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    mongoc_init();
    struct mstore *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->stop = stop;
    atomic_init(&s->stopping, 0);
    atomic_init(&s->stream_up, 0);
    atomic_init(&s->stream_opens, 0);
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->work, &ca);
    pthread_cond_init(&s->done, &ca);
    pthread_cond_init(&s->fwork, &ca);
    pthread_condattr_destroy(&ca);
    unsigned char r[6];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        memset(r, 0x42, sizeof r);
    snprintf(s->auto_prefix, sizeof s->auto_prefix, "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
             r[3], r[4], r[5]);
    register_metrics(s, m);
    s->wuri = make_uri(cfg, 1, err, errlen);
    s->ruri = s->wuri ? make_uri(cfg, 0, err, errlen) : NULL;
    if (s->ruri == NULL)
        goto fail;
    s->wpool = make_pool(s->wuri, "relay");
    s->rpool = make_pool(s->ruri, "relay-tail");
    if (s->wpool == NULL || s->rpool == NULL) {
        snprintf(err, errlen, "cannot create MongoDB client pools");
        goto fail;
    }
    mongoc_apm_callbacks_t *apm = mongoc_apm_callbacks_new();
    mongoc_apm_set_command_started_cb(apm, stream_aggregate_seen);
    mongoc_apm_set_command_succeeded_cb(apm, read_answered);
    mongoc_client_pool_set_apm_callbacks(s->rpool, apm, s);
    mongoc_apm_callbacks_destroy(apm);
    /* Wait for the replica set: relays often start before MongoDB is ready (Kubernetes). */
    mongoc_client_t *cl = mongoc_client_pool_pop(s->wpool);
    int64_t warned = 0;
    for (;;) {
        if (ensure_indexes(s, cl, err, errlen) == 0 && read_epoch(s, cl, err, errlen) == 0 &&
            mstore_edge(s, cl, 1, &s->head0, err, errlen) == 0)
            break;
        if (mstore_now_ms() - warned > 5000) {
            LOG_WARN("store_waiting db=%s error=\"%s\"", cfg->mongo_db, err);
            warned = mstore_now_ms();
        }
        if (mstore_nap(s, 500)) {
            mongoc_client_pool_push(s->wpool, cl);
            snprintf(err, errlen, "stopped while waiting for MongoDB");
            goto fail;
        }
    }
    mongoc_client_pool_push(s->wpool, cl);
    LOG_INFO("store_opened db=%s epoch=%s head=%" PRIu64, cfg->mongo_db, s->epoch, s->head0);
    return s;
fail:
    (void)mstore_close(s);
    return NULL;
}

const char *mstore_epoch(const struct mstore *s)
{
    return s->epoch;
}

uint64_t mstore_head(const struct mstore *s)
{
    return s->head0;
}

int mstore_start(struct mstore *s, struct hub *hub, char *err, size_t errlen)
{
    s->hub = hub;
    atomic_store(&s->tail_last, hub_last_offset(hub));
    if (mseq_start(s) != 0 || mtail_start(s) != 0 || mfetch_start(s) != 0 || mwatch_start(s) != 0) {
        snprintf(err, errlen, "cannot start the store's threads");
        return -1;
    }
    hub_set_fetcher(hub, mfetch_request, s);
    return 0;
}

/* The pools' teardown: each sends endSessions, which waits for a server selection. */
static void *teardown(void *arg)
{
    struct mstore *s = arg;
    if (s->wpool)
        mongoc_client_pool_destroy(s->wpool);
    if (s->rpool)
        mongoc_client_pool_destroy(s->rpool);
    return NULL;
}

void mstore_interrupt(struct mstore *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->stopping, 1);
    pthread_mutex_lock(&s->lock);
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->fwork);
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->lock);
}

int mstore_close(struct mstore *s)
{
    if (s == NULL)
        return 0;
    mstore_interrupt(s);
    /* A getMore waits MSTORE_AWAIT_MS at most; a call to a paused member waits for its
     * socket timeout, which shutdown must not. */
    s->close_deadline_ms = mstore_now_ms() + MSTORE_AWAIT_MS + 500;
    mwatch_stop(s);
    mfetch_stop(s);
    mtail_stop(s);
    mseq_stop(s);
    if (s->abandoned) {
        LOG_WARN("store_close_abandoned reason=mongodb_not_answering");
        return 1; /* threads still hold s and the pools: leave them to the exit */
    }
    pthread_t th;
    s->close_deadline_ms = mstore_now_ms() + 500;
    if (pthread_create(&th, NULL, teardown, s) != 0)
        teardown(s);
    else if (mstore_join(s, th) != 0) {
        LOG_WARN("store_close_abandoned reason=end_sessions_unanswered");
        return 1;
    }
    mongoc_uri_destroy(s->wuri);
    mongoc_uri_destroy(s->ruri);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->done);
    pthread_cond_destroy(&s->fwork);
    pthread_mutex_destroy(&s->lock);
    free(s);
    mongoc_cleanup();
    return 0;
}

enum mstore_result mstore_emit(struct mstore *s, const struct emit_req *r, uint64_t *offset)
{
    if (mstore_stopping(s))
        return MSTORE_STOPPING;
    struct mseq_item *it = calloc(1, sizeof *it);
    char *data = it ? malloc(r->payload_len + 1) : NULL;
    if (data == NULL) {
        free(it);
        return MSTORE_UNAVAILABLE;
    }
    memcpy(data, r->payload, r->payload_len);
    data[r->payload_len] = '\0';
    it->refs = 1;
    snprintf(it->event, sizeof it->event, "%s", r->event);
    snprintf(it->channel, sizeof it->channel, "%s", r->channel);
    if (r->id[0]) {
        snprintf(it->id, sizeof it->id, "%s", r->id);
        it->client_id = 1;
    } else {
        snprintf(it->id, sizeof it->id, "auto:%s:%" PRIuFAST64, s->auto_prefix,
                 atomic_fetch_add(&s->auto_seq, 1));
    }
    it->data = data;
    it->data_len = r->payload_len;
    it->deadline_ms = mstore_now_ms() + s->cfg.emit_timeout_ms;
    if (mseq_submit(s, it, SIZE_MAX) != 0) {
        mseq_item_release(s, it);
        return MSTORE_STOPPING;
    }
    pthread_mutex_lock(&s->lock);
    while (!it->done && !mstore_stopping(s)) {
        int64_t left = it->deadline_ms - mstore_now_ms();
        if (left <= 0)
            break;
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += left / 1000;
        dl.tv_nsec += (left % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        if (pthread_cond_timedwait(&s->done, &s->lock, &dl) == ETIMEDOUT)
            break;
    }
    enum mstore_result res = it->done             ? (enum mstore_result)(it->done - 1)
                             : mstore_stopping(s) ? MSTORE_STOPPING
                                                  : MSTORE_UNCONFIRMED;
    *offset = it->offset;
    pthread_mutex_unlock(&s->lock);
    if (res == MSTORE_UNCONFIRMED)
        metric_inc(s->m_unconfirmed);
    mseq_item_release(s, it);
    return res;
}

int mstore_ready(struct mstore *s, char *why, size_t whylen)
{
    int64_t now = mstore_now_ms();
    if (!atomic_load(&s->stream_up)) {
        snprintf(why, whylen, "change stream not open or not caught up");
        return 0;
    }
    if (now - (int64_t)atomic_load(&s->poll_ms) > 4 * MSTORE_AWAIT_MS + 2000) {
        snprintf(why, whylen, "change stream silent for %lld ms",
                 (long long)(now - (int64_t)atomic_load(&s->poll_ms)));
        return 0;
    }
    /* Behind: this relay acknowledged an offset its own stream has not delivered for long. */
    pthread_mutex_lock(&s->lock);
    int64_t acked_at = s->acked_at_ms;
    pthread_mutex_unlock(&s->lock);
    uint64_t acked = atomic_load(&s->acked_max), tail = atomic_load(&s->tail_last);
    if (acked > tail && now - acked_at > 3000) {
        snprintf(why, whylen, "stream behind: acknowledged %" PRIu64 ", delivered %" PRIu64, acked,
                 tail);
        return 0;
    }
    return 1;
}

void mstore_refresh_metrics(struct mstore *s)
{
    if (s == NULL)
        return;
    int64_t polled = (int64_t)atomic_load(&s->poll_ms);
    metric_set(s->m_silent, polled ? mstore_now_ms() - polled : 0);
}

json_t *mstore_status(struct mstore *s)
{
    char why[160] = "";
    int ready = mstore_ready(s, why, sizeof why);
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:b, s:s}", "role", "mongodb", "db",
                     s->cfg.mongo_db, "epoch", s->epoch, "delivered",
                     (json_int_t)atomic_load(&s->tail_last), "acknowledged",
                     (json_int_t)atomic_load(&s->acked_max), "stream",
                     atomic_load(&s->stream_up) ? "up" : "down", "lag_ms",
                     (json_int_t)atomic_load(&s->lag_ms), "ready", ready, "not_ready", why);
}
