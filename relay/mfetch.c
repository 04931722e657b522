/*
 * mfetch — replays beyond the hub's ring, read back from <db>.events. The hub asks on its
 * own thread (mfetch_request copies the request); one worker answers, never one thread per
 * client. What a client is owed: the broadcast events and those of its channels, since+1 ..
 * to (majority reads). Whether `since` can be replayed at all is decided by the oldest
 * stored offset (retention), and whether it exists by the newest.
 *
 * The worker answers everything queued in one round: the two edges once, then one shared
 * read (lowest since .. highest to, the union of the channels, at most MFETCH_SHARED_MAX
 * documents) from which each request gets its own page in memory: its since, its channels,
 * at most MSTORE_FETCH_BATCH, TRUNCATED/AHEAD/MORE decided as its own find would. A request
 * the shared read does not reach is read on its own. A relay restarted under load (a
 * rolling deploy, a crash) has every client resume at about the same offset; answered one
 * by one at three round trips each, 5,000 of them took longer than a 50-event ring lasts,
 * so they were fetched again and again and never got back to live events (docs/relay-ha.md,
 * "Restart under load"); in rounds they do within seconds, with ~20x fewer reads.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mstore_impl.h"

#define MFETCH_ROUND_MAX 4096                      /* requests answered together at most */
#define MFETCH_SHARED_MAX (4 * MSTORE_FETCH_BATCH) /* documents of a shared read at most */

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

/* One document of a shared read: its offset, its channel as the range filter sees it, and
 * its frame (NULL when malformed: it still counts towards a page, as in the single find). */
struct mfetch_doc {
    uint64_t off;
    int has_channel; /* the field exists (a broadcast event has none) */
    int chan_ok;     /* it is a string a channel name could equal, copied to channel */
    char channel[ENVELOPE_CHANNEL_MAX + 1];
    struct frame *f;
};

/* The status of r decided by the stream's edges alone, or -1 when it needs its events. */
static int decide(const struct mfetch_req *r, uint64_t newest, uint64_t oldest)
{
    if (r->since > newest)
        return HUB_FETCH_AHEAD;
    if (r->to <= r->since)
        return HUB_FETCH_OK; /* since exists: the client waits for the tail to reach it */
    if (oldest == 0 || r->since + 1 < oldest)
        return HUB_FETCH_TRUNCATED;
    return -1;
}

static void docs_free(struct mfetch_doc *docs, size_t n)
{
    for (size_t i = 0; docs && i < n; i++)
        frame_unref(docs[i].f);
    free(docs);
}

/* Reads the documents of filter in offset order, at most limit. Returns the count or -1
 * (message in err, *docs NULL); *docs is the caller's (docs_free). */
static long read_docs(struct mstore *s, mongoc_client_t *cl, const bson_t *filter, size_t limit,
                      struct mfetch_doc **docs, char *err, size_t errlen)
{
    *docs = calloc(limit ? limit : 1, sizeof **docs);
    if (*docs == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    mongoc_collection_t *c = mstore_events(s, cl);
    bson_t *opts =
        BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "limit", BCON_INT64((int64_t)limit),
                 "batchSize", BCON_INT32(MSTORE_FETCH_BATCH));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    size_t n = 0;
    while (n < limit && mongoc_cursor_next(cur, &doc)) {
        struct mfetch_doc *d = &(*docs)[n++];
        bson_iter_t it;
        /* Kept in order for page_of's search: an _id that is no offset (a foreign
         * document the range matched) takes its predecessor's. */
        d->off = mstore_offset_of(doc);
        if (d->off == 0 && n > 1)
            d->off = (*docs)[n - 2].off;
        d->f = mstore_frame(s, doc);
        if (bson_iter_init_find(&it, doc, "channel")) {
            d->has_channel = 1;
            uint32_t len = 0;
            const char *v = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, &len) : NULL;
            if (v && len <= ENVELOPE_CHANNEL_MAX && strlen(v) == len) {
                memcpy(d->channel, v, len + 1);
                d->chan_ok = 1;
            }
        }
    }
    bson_error_t e;
    long rc = (long)n;
    if (mongoc_cursor_error(cur, &e)) {
        snprintf(err, errlen, "%.200s", e.message);
        docs_free(*docs, n);
        *docs = NULL;
        rc = -1;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    mongoc_collection_destroy(c);
    metric_inc(s->m_fetch_reads);
    return rc;
}

/* Whether r is owed d by its channels (the $or of range_filter). */
static int wants(const struct mfetch_req *r, const struct mfetch_doc *d)
{
    if (!d->has_channel)
        return 1;
    for (size_t i = 0; d->chan_ok && i < r->nchannels; i++)
        if (strcmp(r->channels[i], d->channel) == 0)
            return 1;
    return 0;
}

/* r's page out of docs (sorted by offset, complete through `covered`): its events after
 * since, at most MSTORE_FETCH_BATCH, as its own find would give them. Returns the status,
 * or -1 when docs end before r's page does and hold none of it (r is read on its own). */
static int page_of(const struct mfetch_req *r, const struct mfetch_doc *docs, size_t ndocs,
                   uint64_t covered, struct frame ***out, size_t *nout)
{
    size_t lo = 0, hi = ndocs; /* the first doc after since */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (docs[mid].off <= r->since)
            lo = mid + 1;
        else
            hi = mid;
    }
    struct frame **fs = NULL;
    size_t n = 0, seen = 0;
    for (size_t i = lo; i < ndocs && docs[i].off <= r->to && seen < MSTORE_FETCH_BATCH; i++) {
        if (!wants(r, &docs[i]))
            continue;
        seen++;
        if (docs[i].f == NULL)
            continue;
        if (fs == NULL && (fs = calloc(MSTORE_FETCH_BATCH, sizeof *fs)) == NULL)
            return -1;
        fs[n++] = frame_ref(docs[i].f);
    }
    int st = -1;
    if (seen == MSTORE_FETCH_BATCH)
        st = HUB_FETCH_MORE; /* a full page, as the single find */
    else if (covered >= r->to)
        st = HUB_FETCH_OK;
    else if (n > 0)
        st = HUB_FETCH_MORE; /* the hub asks again after the last frame */
    if (st < 0) {
        free(fs);
        return -1;
    }
    *out = fs;
    *nout = n;
    return st;
}

/* r's page read on its own (the edges are known). */
static int read_page(struct mstore *s, mongoc_client_t *cl, const struct mfetch_req *r,
                     struct frame ***out, size_t *nout, char *err, size_t errlen)
{
    *out = NULL;
    *nout = 0;
    bson_t *filter = range_filter(r);
    struct mfetch_doc *docs;
    long nd = read_docs(s, cl, filter, MSTORE_FETCH_BATCH, &docs, err, errlen);
    bson_destroy(filter);
    int st = -1;
    if (nd >= 0) {
        /* A full page means there may be more, even when a document of it could not be
         * sent (a foreign or malformed one, skipped as the tail skips it). */
        st = page_of(r, docs, (size_t)nd, nd == MSTORE_FETCH_BATCH ? 0 : r->to, out, nout);
        if (st < 0 && nd == MSTORE_FETCH_BATCH)
            st = HUB_FETCH_MORE; /* a full page of malformed documents: as before */
        if (st < 0)
            snprintf(err, errlen, "out of memory");
    }
    docs_free(docs, nd > 0 ? (size_t)nd : 0);
    return st;
}

/* The union of the channels of the range requests, or n = 0 when there are more than
 * MFETCH_UNION_MAX (the shared read then takes every channel). */
#define MFETCH_UNION_MAX 64
static struct mfetch_req *channel_union(struct mfetch_req **rs, size_t n)
{
    struct mfetch_req *u = calloc(1, sizeof *u + MFETCH_UNION_MAX * sizeof u->channels[0]);
    if (u == NULL)
        return NULL;
    u->since = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        if (rs[i]->since < u->since)
            u->since = rs[i]->since;
        if (rs[i]->to > u->to)
            u->to = rs[i]->to;
        for (size_t j = 0; j < rs[i]->nchannels && u->nchannels <= MFETCH_UNION_MAX; j++) {
            size_t k = 0;
            while (k < u->nchannels && strcmp(u->channels[k], rs[i]->channels[j]) != 0)
                k++;
            if (k == u->nchannels && k < MFETCH_UNION_MAX)
                memcpy(u->channels[u->nchannels], rs[i]->channels[j], sizeof u->channels[0]);
            if (k == u->nchannels)
                u->nchannels++; /* MFETCH_UNION_MAX + 1 marks "too many" */
        }
    }
    return u;
}

/* {_id: {$gt: since, $lte: to}} and, unless every channel is read, range_filter's $or. */
static bson_t *union_filter(const struct mfetch_req *u)
{
    if (u->nchannels <= MFETCH_UNION_MAX)
        return range_filter(u);
    return BCON_NEW("_id", "{", "$gt", BCON_INT64((int64_t)u->since), "$lte",
                    BCON_INT64((int64_t)u->to), "}");
}

/*
 * One round over the queued requests rs[0..n): the stream's edges once, then one shared
 * read from the lowest since for every request that needs events, each answered from it
 * (its channels and since applied here); one the shared read does not reach is read on its
 * own. Answered requests are freed and removed; what is left failed. Returns the count left.
 */
static size_t round_of(struct mstore *s, mongoc_client_t *cl, struct mfetch_req **rs, size_t n)
{
    char err[256] = "";
    uint64_t newest, oldest;
    metric_inc(s->m_fetch_reads);
    int ok = mstore_edge(s, cl, 1, &newest, err, sizeof err) == 0;
    if (ok) {
        metric_inc(s->m_fetch_reads);
        ok = mstore_edge(s, cl, 0, &oldest, err, sizeof err) == 0;
    }
    if (!ok) {
        LOG_WARN("replay_failed requests=%zu error=\"%s\"", n, err);
        return n;
    }
    size_t left = 0, nrange = 0;
    for (size_t i = 0; i < n; i++) {
        int st = decide(rs[i], newest, oldest);
        if (st >= 0) {
            hub_fetch_done(s->hub, rs[i]->ticket, (enum hub_fetch_status)st, NULL, 0);
            free(rs[i]);
        } else {
            rs[nrange++] = rs[i];
        }
    }
    struct mfetch_doc *docs = NULL;
    long nd = -1;
    uint64_t covered = 0;
    if (nrange > 1) {
        struct mfetch_req *u = channel_union(rs, nrange);
        if (u) {
            bson_t *filter = union_filter(u);
            nd = read_docs(s, cl, filter, MFETCH_SHARED_MAX, &docs, err, sizeof err);
            bson_destroy(filter);
            covered = nd < 0 ? 0 : (size_t)nd < MFETCH_SHARED_MAX ? u->to : docs[nd - 1].off;
            free(u);
        }
        if (nd < 0)
            LOG_WARN("replay_failed requests=%zu error=\"%s\"", nrange, err);
    }
    for (size_t i = 0; i < nrange; i++) {
        struct mfetch_req *r = rs[i];
        struct frame **fs = NULL;
        size_t nf = 0;
        int st = -1;
        if (nrange > 1 && nd < 0) {
            rs[left++] = r; /* the shared read failed: all of them are retried */
            continue;
        }
        if (nd >= 0)
            st = page_of(r, docs, (size_t)nd, covered, &fs, &nf);
        if (st < 0)
            st = read_page(s, cl, r, &fs, &nf, err, sizeof err);
        if (st < 0) {
            LOG_WARN("replay_failed ticket=%" PRIu64 " error=\"%s\"", r->ticket, err);
            rs[left++] = r;
            continue;
        }
        metric_add(s->m_fetch_rows, nf);
        hub_fetch_done(s->hub, r->ticket, (enum hub_fetch_status)st, fs, nf);
        free(r);
    }
    docs_free(docs, nd > 0 ? (size_t)nd : 0);
    return left;
}

static void *fetch_main(void *arg)
{
    struct mstore *s = arg;
    struct mfetch_req **rs = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (s->fq_head == NULL && !mstore_stopping(s)) {
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_sec += 1;
            pthread_cond_timedwait(&s->fwork, &s->lock, &dl);
        }
        /* Everything queued is answered together, at most MFETCH_ROUND_MAX at once. */
        size_t n = 0;
        while (s->fq_head && n < MFETCH_ROUND_MAX) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                struct mfetch_req **g = realloc(rs, nc * sizeof *g);
                if (g == NULL)
                    break;
                rs = g;
                cap = nc;
            }
            rs[n++] = s->fq_head;
            s->fq_head = s->fq_head->next;
        }
        if (s->fq_head == NULL)
            s->fq_tail = NULL;
        pthread_mutex_unlock(&s->lock);
        if (n == 0 && mstore_stopping(s))
            break;
        /* A read that fails (a paused or stepped-down primary, an election, a relay cut off
         * for a moment) is tried again until --replay-wait after the request: the client
         * stays parked and is replayed, rather than told store_unavailable with a gap of
         * everything it missed because MongoDB was electing when it reconnected. */
        long nap = 100;
        while (n > 0) {
            if (mstore_stopping(s)) {
                for (size_t i = 0; i < n; i++) {
                    hub_fetch_done(s->hub, rs[i]->ticket, HUB_FETCH_FAILED, NULL, 0);
                    free(rs[i]);
                }
                break;
            }
            mongoc_client_t *cl = mongoc_client_pool_pop(s->rpool);
            n = round_of(s, cl, rs, n);
            mongoc_client_pool_push(s->rpool, cl);
            size_t keep = 0;
            for (size_t i = 0; i < n; i++) {
                if (mstore_now_ms() + nap > rs[i]->at_ms + s->cfg.replay_wait_ms) {
                    hub_fetch_done(s->hub, rs[i]->ticket, HUB_FETCH_FAILED, NULL, 0);
                    free(rs[i]);
                } else {
                    rs[keep++] = rs[i];
                }
            }
            n = keep;
            if (n == 0)
                break;
            LOG_INFO("replay_retry ticket=%" PRIu64 " requests=%zu in_ms=%ld", rs[0]->ticket, n,
                     nap);
            mstore_nap(s, nap);
            nap = nap < 1000 ? nap * 2 : 1000;
        }
    }
    free(rs);
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
