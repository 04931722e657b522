/*
 * mfetch — replays beyond the hub's ring, read back from <db>.events. The hub asks on its
 * own thread (mfetch_request copies the request); one worker answers in order, so a storm
 * of reconnecting clients costs one query at a time, never one thread each. What a client
 * is owed: the broadcast events and those of its channels, since+1 .. to (majority reads).
 * Whether `since` can be replayed at all is decided by the oldest stored offset (retention),
 * and whether it exists by the newest.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mstore_impl.h"

struct mfetch_req {
    struct mfetch_req *next;
    uint64_t ticket, since, to;
    int64_t at_ms; /* when it arrived: failed reads are retried until at_ms + replay wait */
    size_t nchannels;
    char channels[][ENVELOPE_CHANNEL_MAX + 1];
};

void mfetch_request(void *ud, const struct hub_fetch *req)
{
    struct mstore *s = ud;
    struct mfetch_req *r = calloc(1, sizeof *r + req->nchannels * sizeof r->channels[0]);
    if (r == NULL) {
        hub_fetch_done(s->hub, req->ticket, HUB_FETCH_FAILED, NULL, 0);
        return;
    }
    r->ticket = req->ticket;
    r->since = req->since;
    r->to = req->to;
    r->at_ms = mstore_now_ms();
    r->nchannels = req->nchannels;
    for (size_t i = 0; i < req->nchannels; i++)
        snprintf(r->channels[i], sizeof r->channels[i], "%s", req->channels[i]);
    pthread_mutex_lock(&s->lock);
    if (s->fq_tail)
        s->fq_tail->next = r;
    else
        s->fq_head = r;
    s->fq_tail = r;
    pthread_cond_signal(&s->fwork);
    pthread_mutex_unlock(&s->lock);
}

/* {_id: {$gt: since, $lte: to}, $or: [{channel: {$exists: false}}, {channel: {$in: [...]}}]} */
static bson_t *range_filter(const struct mfetch_req *r)
{
    bson_t *f = BCON_NEW("_id", "{", "$gt", BCON_INT64((int64_t)r->since), "$lte",
                         BCON_INT64((int64_t)r->to), "}");
    bson_t or, a, b, in, sub, sub2;
    BSON_APPEND_ARRAY_BEGIN(f, "$or", & or);
    BSON_APPEND_DOCUMENT_BEGIN(& or, "0", &a);
    BSON_APPEND_DOCUMENT_BEGIN(&a, "channel", &sub);
    BSON_APPEND_BOOL(&sub, "$exists", false);
    bson_append_document_end(&a, &sub);
    bson_append_document_end(& or, &a);
    if (r->nchannels > 0) {
        BSON_APPEND_DOCUMENT_BEGIN(& or, "1", &b);
        BSON_APPEND_DOCUMENT_BEGIN(&b, "channel", &sub2);
        BSON_APPEND_ARRAY_BEGIN(&sub2, "$in", &in);
        for (size_t i = 0; i < r->nchannels; i++) {
            char k[24];
            snprintf(k, sizeof k, "%zu", i);
            BSON_APPEND_UTF8(&in, k, r->channels[i]);
        }
        bson_append_array_end(&sub2, &in);
        bson_append_document_end(&b, &sub2);
        bson_append_document_end(& or, &b);
    }
    bson_append_array_end(f, & or);
    return f;
}

static enum hub_fetch_status answer(struct mstore *s, mongoc_client_t *cl,
                                    const struct mfetch_req *r, struct frame ***out, size_t *nout)
{
    char err[256];
    uint64_t newest, oldest;
    *out = NULL;
    *nout = 0;
    if (mstore_edge(s, cl, 1, &newest, err, sizeof err) != 0 ||
        mstore_edge(s, cl, 0, &oldest, err, sizeof err) != 0) {
        LOG_WARN("replay_failed ticket=%" PRIu64 " error=\"%s\"", r->ticket, err);
        return HUB_FETCH_FAILED;
    }
    if (r->since > newest)
        return HUB_FETCH_AHEAD;
    if (r->to <= r->since)
        return HUB_FETCH_OK; /* since exists: the client waits for the tail to reach it */
    if (oldest == 0 || r->since + 1 < oldest)
        return HUB_FETCH_TRUNCATED;
    struct frame **fs = calloc(MSTORE_FETCH_BATCH, sizeof *fs);
    if (fs == NULL)
        return HUB_FETCH_FAILED;
    mongoc_collection_t *c = mstore_events(s, cl);
    bson_t *filter = range_filter(r);
    bson_t *opts =
        BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "limit", BCON_INT64(MSTORE_FETCH_BATCH),
                 "batchSize", BCON_INT32(MSTORE_FETCH_BATCH));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    size_t n = 0, seen = 0;
    while (seen < MSTORE_FETCH_BATCH && mongoc_cursor_next(cur, &doc)) {
        seen++;
        struct frame *f = mstore_frame(s, doc);
        if (f)
            fs[n++] = f;
    }
    bson_error_t e;
    /* A full page means there may be more, even when a document of it could not be sent
     * (a foreign or malformed one, skipped as the tail skips it). */
    enum hub_fetch_status st = seen == MSTORE_FETCH_BATCH ? HUB_FETCH_MORE : HUB_FETCH_OK;
    if (mongoc_cursor_error(cur, &e)) {
        LOG_WARN("replay_failed ticket=%" PRIu64 " error=\"%s\"", r->ticket, e.message);
        for (size_t i = 0; i < n; i++)
            frame_unref(fs[i]);
        free(fs);
        fs = NULL;
        n = 0;
        st = HUB_FETCH_FAILED;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    metric_add(s->m_fetch_rows, n);
    *out = fs;
    *nout = n;
    return st;
}

static void *fetch_main(void *arg)
{
    struct mstore *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (s->fq_head == NULL && !mstore_stopping(s)) {
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_sec += 1;
            pthread_cond_timedwait(&s->fwork, &s->lock, &dl);
        }
        struct mfetch_req *r = s->fq_head;
        if (r) {
            s->fq_head = r->next;
            if (s->fq_head == NULL)
                s->fq_tail = NULL;
        }
        pthread_mutex_unlock(&s->lock);
        if (r == NULL)
            break;
        struct frame **fs = NULL;
        size_t n = 0;
        enum hub_fetch_status st = HUB_FETCH_FAILED;
        /* A read that fails (a paused or stepped-down primary, an election, a relay cut off
         * for a moment) is tried again until --replay-wait after the request: the client
         * stays parked and is replayed, rather than told store_unavailable with a gap of
         * everything it missed because MongoDB was electing when it reconnected. */
        long nap = 100;
        while (!mstore_stopping(s)) {
            mongoc_client_t *cl = mongoc_client_pool_pop(s->rpool);
            st = answer(s, cl, r, &fs, &n);
            mongoc_client_pool_push(s->rpool, cl);
            if (st != HUB_FETCH_FAILED || mstore_now_ms() + nap > r->at_ms + s->cfg.replay_wait_ms)
                break;
            LOG_INFO("replay_retry ticket=%" PRIu64 " in_ms=%ld", r->ticket, nap);
            mstore_nap(s, nap);
            nap = nap < 1000 ? nap * 2 : 1000;
        }
        hub_fetch_done(s->hub, r->ticket, st, fs, n);
        free(r);
    }
    return NULL;
}

int mfetch_start(struct mstore *s)
{
    if (pthread_create(&s->fetch_thread, NULL, fetch_main, s) != 0)
        return -1;
    s->fetch_started = 1;
    return 0;
}

void mfetch_stop(struct mstore *s)
{
    if (s->fetch_started && mstore_join(s, s->fetch_thread) != 0)
        return;
    s->fetch_started = 0;
    while (s->fq_head) {
        struct mfetch_req *r = s->fq_head;
        s->fq_head = r->next;
        free(r);
    }
    s->fq_tail = NULL;
}
