/*
 * mtail — every relay reads the stream: a change stream on <db>.events (majority-committed
 * inserts, in oplog order, which is offset order: see mseq.c) feeds the hub. Each (re)open
 * first opens the change stream, then reads with a majority find everything after the last
 * offset it holds, then follows the stream, skipping what the find already gave. So a
 * relay that starts, or whose stream broke (a step-down, a killed or paused member, a
 * network error), misses nothing and repeats nothing, whether or not the stream could be
 * resumed from its token; and a stream that goes on answering but no longer receives
 * (opened on a member since cut off from the others) is reopened. Also here: the trimmer,
 * which applies the retention.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mstore_impl.h"

/* Appends one stored event to the hub if it is new. Returns its offset (0 when skipped). */
static uint64_t deliver(struct mstore *s, const bson_t *doc)
{
    uint64_t off = mstore_offset_of(doc), last = atomic_load(&s->tail_last);
    if (off == 0 || off <= last)
        return 0; /* malformed, or already delivered (the catch-up find had it) */
    struct frame *f = mstore_frame(s, doc);
    if (off > last + 1 && last > 0) {
        metric_add(s->m_gaps, off - last - 1);
        LOG_WARN("stream_gap from=%" PRIu64 " to=%" PRIu64, last + 1, off - 1);
    }
    atomic_store(&s->tail_last, off);
    metric_set(s->m_offset, (int64_t)off);
    if (f == NULL) {
        LOG_WARN("stream_event_malformed offset=%" PRIu64, off);
        return off;
    }
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "at") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
        int64_t lag = mstore_wall_ms() - bson_iter_date_time(&it);
        atomic_store(&s->lag_ms, lag < 0 ? 0 : lag);
        metric_set(s->m_lag, lag < 0 ? 0 : lag);
    }
    if (hub_append(s->hub, s->epoch, f) < 0)
        LOG_WARN("stream_append_refused offset=%" PRIu64, off);
    return off;
}

/* Reads every stored event after the last one delivered (majority). Returns 0 or -1. */
static int catch_up(struct mstore *s, mongoc_client_t *cl)
{
    mongoc_collection_t *c = mstore_events(s, cl);
    int rc = 0;
    for (;;) {
        uint64_t from = atomic_load(&s->tail_last);
        bson_t *filter = BCON_NEW("_id", "{", "$gt", BCON_INT64((int64_t)from), "}");
        bson_t *opts =
            BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "limit",
                     BCON_INT64(MSTORE_FETCH_BATCH), "batchSize", BCON_INT32(MSTORE_FETCH_BATCH));
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
        const bson_t *doc;
        size_t n = 0;
        while (mongoc_cursor_next(cur, &doc)) {
            deliver(s, doc);
            n++;
        }
        bson_error_t e;
        if (mongoc_cursor_error(cur, &e)) {
            LOG_WARN("stream_catch_up_failed error=\"%s\"", e.message);
            rc = -1;
        }
        mongoc_cursor_destroy(cur);
        bson_destroy(opts);
        bson_destroy(filter);
        if (rc != 0 || n < MSTORE_FETCH_BATCH || mstore_stopping(s))
            break;
    }
    mongoc_collection_destroy(c);
    return rc;
}

static mongoc_change_stream_t *open_stream(struct mstore *s, mongoc_client_t *cl,
                                           const bson_t *token)
{
    mongoc_collection_t *c = mstore_events(s, cl);
    bson_t *pipeline =
        BCON_NEW("pipeline", "[", "{", "$match", "{", "operationType", "{", "$in", "[", "insert",
                 "drop", "dropDatabase", "rename", "invalidate", "]", "}", "}", "}", "]");
    bson_t *opts = BCON_NEW("maxAwaitTimeMS", BCON_INT64(MSTORE_AWAIT_MS), "batchSize",
                            BCON_INT32(MSTORE_FETCH_BATCH));
    if (token)
        BSON_APPEND_DOCUMENT(opts, "resumeAfter", token);
    mongoc_change_stream_t *cs = mongoc_collection_watch(c, pipeline, opts);
    bson_destroy(opts);
    bson_destroy(pipeline);
    mongoc_collection_destroy(c);
    return cs;
}

/*
 * A stream can stop without failing: opened on a member that is then cut off from the
 * others (a primary whose peers are gone steps down and stays reachable), it goes on
 * answering every getMore, empty, while the majority elects another primary and commits
 * events it will never see until the heal. Nothing in the driver notices. So while the
 * stream answers empty, once a second, the relay reads the newest committed offset through
 * a fresh server selection (majority read on the primary): an offset committed there that
 * has not arrived here MSTORE_STUCK_MS later means the stream is stuck, and it is reopened
 * (which selects the current primary; the catch-up find covers the gap).
 */
struct stuck_probe {
    int64_t probed_ms; /* last probe */
    uint64_t want;     /* an offset seen committed and not yet delivered (0 = none) */
    int64_t want_ms;   /* when it was first seen */
};

/* After an empty getMore: 1 when the stream is stuck (reopen it), else 0. */
static int stream_stuck(struct mstore *s, mongoc_client_t *cl, struct stuck_probe *p)
{
    int64_t now = mstore_now_ms();
    uint64_t tail = atomic_load(&s->tail_last), max;
    if (p->want && tail >= p->want)
        p->want = 0; /* it came */
    if (now - p->probed_ms < 1000)
        return 0;
    p->probed_ms = now;
    char err[256];
    if (mstore_edge(s, cl, 1, &max, err, sizeof err) != 0 || max <= tail) {
        p->want = 0;
        return 0;
    }
    if (p->want == 0) {
        p->want = max;
        p->want_ms = now;
        return 0;
    }
    if (now - p->want_ms < MSTORE_STUCK_MS)
        return 0;
    LOG_WARN("stream_stuck delivered=%" PRIu64 " committed=%" PRIu64 " waited_ms=%" PRId64, tail,
             p->want, now - p->want_ms);
    metric_inc(s->m_stuck);
    return 1;
}

/* Follows one opened stream until it fails, is stuck, or the store stops. */
static void follow(struct mstore *s, mongoc_client_t *cl, mongoc_change_stream_t *cs,
                   bson_t **token)
{
    const bson_t *doc;
    struct stuck_probe probe = {mstore_now_ms(), 0, 0};
    while (!mstore_stopping(s)) {
        if (mongoc_change_stream_next(cs, &doc)) {
            atomic_store(&s->poll_ms, mstore_now_ms());
            bson_iter_t it;
            const char *op = "";
            if (bson_iter_init_find(&it, doc, "operationType") && BSON_ITER_HOLDS_UTF8(&it))
                op = bson_iter_utf8(&it, NULL);
            if (strcmp(op, "insert") == 0 && bson_iter_init_find(&it, doc, "fullDocument") &&
                BSON_ITER_HOLDS_DOCUMENT(&it)) {
                uint32_t len;
                const uint8_t *data;
                bson_t full;
                bson_iter_document(&it, &len, &data);
                if (bson_init_static(&full, data, len))
                    deliver(s, &full);
            } else if (*op) {
                /* The events collection went away: the stream continues when it is
                 * recreated (offsets never go back within the epoch, see mseq.c). */
                LOG_ERROR("stream_collection_gone op=%s db=%s", op, s->cfg.mongo_db);
                return;
            }
        } else {
            bson_error_t e;
            const bson_t *reply;
            if (mongoc_change_stream_error_document(cs, &e, &reply)) {
                LOG_WARN("stream_failed error=\"%s\"", e.message);
                return;
            }
            atomic_store(&s->poll_ms, mstore_now_ms()); /* an empty getMore: alive */
            if (stream_stuck(s, cl, &probe))
                return;
        }
        const bson_t *t = mongoc_change_stream_get_resume_token(cs);
        if (t) {
            if (*token)
                bson_destroy(*token);
            *token = bson_copy(t);
        }
    }
}

static void *tail_main(void *arg)
{
    struct mstore *s = arg;
    bson_t *token = NULL;
    int attempt = 0;
    while (!mstore_stopping(s)) {
        mongoc_client_t *cl = mongoc_client_pool_pop(s->rpool);
        mongoc_change_stream_t *cs = open_stream(s, cl, token);
        bson_error_t e;
        const bson_t *reply;
        if (mongoc_change_stream_error_document(cs, &e, &reply) && token) {
            /* The token is gone (history lost): the catch-up find covers the gap. */
            LOG_WARN("stream_resume_failed error=\"%s\"", e.message);
            mongoc_change_stream_destroy(cs);
            bson_destroy(token);
            token = NULL;
            cs = open_stream(s, cl, NULL);
        }
        if (!mongoc_change_stream_error_document(cs, &e, &reply) && catch_up(s, cl) == 0) {
            atomic_store(&s->poll_ms, mstore_now_ms());
            atomic_store(&s->stream_up, 1);
            metric_set(s->m_stream_up, 1);
            if (attempt++ > 0)
                LOG_INFO("stream_resumed delivered=%" PRIu64, atomic_load(&s->tail_last));
            follow(s, cl, cs, &token);
        } else {
            LOG_WARN("stream_open_failed error=\"%s\"", e.message);
        }
        atomic_store(&s->stream_up, 0);
        metric_set(s->m_stream_up, 0);
        mongoc_change_stream_destroy(cs);
        mongoc_client_pool_push(s->rpool, cl);
        mstore_nap(s, 200); /* the next open counts as a resume (mstore.c, APM) */
    }
    if (token)
        bson_destroy(token);
    return NULL;
}

/* Applies the retention once: by age, then by count; the newest event always stays. */
static void trim_once(struct mstore *s, mongoc_client_t *cl, int *warned)
{
    char err[256];
    uint64_t max;
    if (mstore_edge(s, cl, 1, &max, err, sizeof err) != 0 || max < 2)
        return;
    mongoc_collection_t *c = mstore_events(s, cl);
    int64_t cutoff = mstore_wall_ms() - s->cfg.retention_ms;
    uint64_t keep_from =
        max > (uint64_t)s->cfg.retention_events ? max - (uint64_t)s->cfg.retention_events + 1 : 1;
    bson_t *by_age = BCON_NEW("_id", "{", "$lt", BCON_INT64((int64_t)max), "}", "at", "{", "$lt",
                              BCON_DATE_TIME(cutoff), "}");
    bson_t *by_count = BCON_NEW("_id", "{", "$lt", BCON_INT64((int64_t)keep_from), "}");
    bson_t *sel[2] = {by_age, by_count};
    for (int i = 0; i < 2; i++) {
        bson_t reply;
        bson_error_t e;
        if (mongoc_collection_delete_many(c, sel[i], NULL, &reply, &e)) {
            bson_iter_t it;
            if (bson_iter_init_find(&it, &reply, "deletedCount") && BSON_ITER_HOLDS_NUMBER(&it) &&
                bson_iter_as_int64(&it) > 0) {
                metric_add(s->m_trimmed, (uint64_t)bson_iter_as_int64(&it));
                LOG_INFO("store_trimmed by=%s deleted=%" PRId64, i ? "count" : "age",
                         bson_iter_as_int64(&it));
            }
        } else if (!*warned) {
            /* Once: a store without deletes (an old mongosim) would say it every minute. */
            LOG_WARN("store_trim_failed error=\"%s\"", e.message);
            *warned = 1;
        }
        bson_destroy(&reply);
    }
    bson_destroy(by_age);
    bson_destroy(by_count);
    mongoc_collection_destroy(c);
}

static void *trim_main(void *arg)
{
    struct mstore *s = arg;
    /* Every relay trims (the deletes are idempotent); a minute apart, the first one soon. */
    long period = s->cfg.retention_ms < 120000 ? s->cfg.retention_ms / 2 : 60000;
    int warned = 0;
    if (mstore_nap(s, 5000))
        return NULL;
    do {
        mongoc_client_t *cl = mongoc_client_pool_pop(s->wpool);
        trim_once(s, cl, &warned);
        mongoc_client_pool_push(s->wpool, cl);
    } while (!mstore_nap(s, period));
    return NULL;
}

int mtail_start(struct mstore *s)
{
    if (pthread_create(&s->tail_thread, NULL, tail_main, s) != 0)
        return -1;
    s->tail_started = 1;
    if (pthread_create(&s->trim_thread, NULL, trim_main, s) != 0)
        return -1;
    s->trim_started = 1;
    return 0;
}

void mtail_stop(struct mstore *s)
{
    if (s->tail_started)
        mstore_join(s, s->tail_thread);
    if (s->trim_started)
        mstore_join(s, s->trim_thread);
    s->tail_started = s->trim_started = 0;
}
