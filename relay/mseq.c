/*
 * mseq — the sequencer: turns queued emits into ordered inserts into <db>.events with
 * _id = offset, so MongoDB's unique _id index decides every offset.
 *
 * The invariant that keeps offsets in stream order: a relay inserts offset k+1 only after
 * it saw k majority-committed (from its own acknowledged insert, or a majority read of the
 * newest _id). So k+1 is written after k, and the change stream, which follows the oplog,
 * delivers offsets in increasing order on every relay. Two relays racing for the same
 * offset: one insert wins, the other gets a duplicate key on _id, reads the newest offset
 * again and retries. A duplicate key on `id` means the emit was stored before (an app's
 * retry, or our own attempt whose answer was lost): it is answered with the stored offset.
 * Nothing is acknowledged before the write concern majority confirmed it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mstore_impl.h"

void mseq_item_release(struct mstore *s, struct mseq_item *it)
{
    pthread_mutex_lock(&s->lock);
    int last = --it->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (last) {
        free(it->data);
        if (it->extra)
            bson_destroy(it->extra);
        free(it);
    }
}

int mseq_submit(struct mstore *s, struct mseq_item *it, size_t max_queued)
{
    pthread_mutex_lock(&s->lock);
    if (mstore_stopping(s) || s->queued >= max_queued) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    it->refs++;
    it->next = NULL;
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    s->queued++;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* Resolves an item: wakes its caller (or calls on_done) and drops the queue's reference. */
static void finish(struct mstore *s, struct mseq_item *it, enum mstore_result r, uint64_t off)
{
    pthread_mutex_lock(&s->lock);
    it->done = (int)r + 1;
    it->offset = off;
    if ((r == MSTORE_OK || r == MSTORE_DUPLICATE) && off > atomic_load(&s->acked_max)) {
        atomic_store(&s->acked_max, off);
        s->acked_at_ms = mstore_now_ms();
    }
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->lock);
    if (it->on_done)
        it->on_done(it->ud, it);
    mseq_item_release(s, it);
}

/* Looks ids up among stored events (majority): fills found[i] with the offset or 0. */
static int lookup_ids(struct mstore *s, mongoc_client_t *cl, struct mseq_item **items, size_t n,
                      uint64_t *found)
{
    memset(found, 0, n * sizeof *found);
    bson_t filter, in, sub;
    bson_init(&filter);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "id", &sub);
    BSON_APPEND_ARRAY_BEGIN(&sub, "$in", &in);
    for (size_t i = 0; i < n; i++) {
        char k[24];
        snprintf(k, sizeof k, "%zu", i);
        BSON_APPEND_UTF8(&in, k, items[i]->id);
    }
    bson_append_array_end(&sub, &in);
    bson_append_document_end(&filter, &sub);
    bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "id", BCON_INT32(1), "}");
    mongoc_collection_t *c = mstore_events(s, cl);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        if (!bson_iter_init_find(&it, doc, "id") || !BSON_ITER_HOLDS_UTF8(&it))
            continue;
        const char *id = bson_iter_utf8(&it, NULL);
        for (size_t i = 0; i < n; i++)
            if (strcmp(items[i]->id, id) == 0)
                found[i] = mstore_offset_of(doc);
    }
    bson_error_t e;
    int rc = mongoc_cursor_error(cur, &e) ? -1 : 0;
    if (rc)
        LOG_WARN("store_lookup_failed error=\"%s\"", e.message);
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(c);
    bson_destroy(opts);
    bson_destroy(&filter);
    return rc;
}

static bson_t *event_doc(struct mstore *s, const struct mseq_item *it, uint64_t off)
{
    bson_t *d = bson_new();
    BSON_APPEND_INT64(d, "_id", (int64_t)off);
    BSON_APPEND_UTF8(d, "event", it->event);
    if (it->channel[0])
        BSON_APPEND_UTF8(d, "channel", it->channel);
    bson_append_utf8(d, "data", 4, it->data, (int)it->data_len);
    BSON_APPEND_UTF8(d, "id", it->id);
    BSON_APPEND_DATE_TIME(d, "at", mstore_wall_ms());
    BSON_APPEND_UTF8(d, "relay", s->auto_prefix);
    if (it->extra)
        bson_concat(d, it->extra);
    return d;
}

/* What a failed insert of items[k] says: which unique key it hit. */
enum write_fail { WF_NONE, WF_OFFSET_TAKEN, WF_ID_TAKEN, WF_OTHER };

/*
 * The index and kind of the first write error in an insert reply (ordered, so everything
 * before it was inserted). *first_err = n when none.
 */
static enum write_fail first_write_error(const bson_t *reply, size_t n, size_t *first_err)
{
    bson_iter_t it, arr, e;
    *first_err = n;
    if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &arr) || !bson_iter_next(&arr) || !BSON_ITER_HOLDS_DOCUMENT(&arr))
        return WF_NONE;
    bson_t doc;
    uint32_t len;
    const uint8_t *data;
    bson_iter_document(&arr, &len, &data);
    if (!bson_init_static(&doc, data, len))
        return WF_OTHER;
    int64_t index = -1, code = 0;
    const char *msg = "";
    int key_id = 0, key_offset = 0;
    if (bson_iter_init_find(&e, &doc, "index") && BSON_ITER_HOLDS_NUMBER(&e))
        index = bson_iter_as_int64(&e);
    if (bson_iter_init_find(&e, &doc, "code") && BSON_ITER_HOLDS_NUMBER(&e))
        code = bson_iter_as_int64(&e);
    if (bson_iter_init_find(&e, &doc, "errmsg") && BSON_ITER_HOLDS_UTF8(&e))
        msg = bson_iter_utf8(&e, NULL);
    bson_iter_t kp;
    if (bson_iter_init_find(&e, &doc, "keyPattern") && bson_iter_recurse(&e, &kp) &&
        bson_iter_next(&kp)) {
        key_offset = strcmp(bson_iter_key(&kp), "_id") == 0;
        key_id = strcmp(bson_iter_key(&kp), "id") == 0;
    } else {
        key_offset = strstr(msg, "index: _id_") != NULL;
        key_id = strstr(msg, "index: id_1") != NULL;
    }
    if (index < 0 || (size_t)index >= n)
        return WF_OTHER;
    *first_err = (size_t)index;
    if (code == 11000 && key_offset)
        return WF_OFFSET_TAKEN;
    if (code == 11000 && key_id)
        return WF_ID_TAKEN;
    return WF_OTHER;
}

/* The sequencer's view of the newest committed offset; 0 when it must be read again. */
static int refresh_head(struct mstore *s, mongoc_client_t *cl)
{
    char err[256];
    uint64_t max;
    if (mstore_edge(s, cl, 1, &max, err, sizeof err) != 0) {
        LOG_WARN("store_head_unreadable error=\"%s\"", err);
        return -1;
    }
    /* Offsets never go back within an epoch, even if the newest events were removed. */
    uint64_t floor = atomic_load(&s->tail_last);
    s->seq_head = max > floor ? max : floor;
    return 0;
}

/*
 * Inserts items[0..n) (all unresolved) at offsets seq_head+1.. once. Resolves what it can;
 * returns how many items at the front were resolved (the caller retries the rest).
 */
static size_t insert_once(struct mstore *s, mongoc_client_t *cl, struct mseq_item **items, size_t n,
                          int *backoff, int *check_ids)
{
    bson_t *docs[MSTORE_BATCH];
    uint64_t base = s->seq_head + 1;
    for (size_t i = 0; i < n; i++)
        docs[i] = event_doc(s, items[i], base + i);
    mongoc_collection_t *c = mstore_events(s, cl);
    bson_t *opts = BCON_NEW("ordered", BCON_BOOL(true));
    bson_t reply;
    bson_error_t e;
    bool ok = mongoc_collection_insert_many(c, (const bson_t **)docs, n, opts, &reply, &e);
    metric_inc(s->m_batches);
    size_t k = n;
    enum write_fail wf = ok ? WF_NONE : first_write_error(&reply, n, &k);
    if (!ok && wf == WF_NONE) {
        /* No per-document verdict: a network error, no primary, or the majority did not
         * confirm in time. The outcome is unknown; the ids make a retry safe. */
        LOG_WARN("store_insert_failed n=%zu error=\"%s\"", n, e.message);
        for (size_t i = 0; i < n; i++)
            items[i]->attempted = 1;
        s->seq_head = 0;
        *backoff = 1;
        k = 0;
    } else {
        for (size_t i = 0; i < k; i++)
            finish(s, items[i], MSTORE_OK, base + i);
        if (k > 0)
            s->seq_head = base + k - 1;
        if (wf == WF_OFFSET_TAKEN) {
            metric_inc(s->m_conflicts);
            s->seq_head = 0; /* another relay took base + k: read the head again */
        } else if (wf == WF_ID_TAKEN) {
            /* Stored before (by the app's earlier request, or by our own attempt), perhaps
             * not majority-committed yet: look it up, and wait for it if need be. */
            *check_ids = 1;
            s->seq_head = 0;
        } else if (wf == WF_OTHER) {
            LOG_WARN("store_insert_refused index=%zu error=\"%s\"", k, e.message);
            finish(s, items[k], MSTORE_UNAVAILABLE, 0);
            k++;
        }
    }
    bson_destroy(&reply);
    bson_destroy(opts);
    mongoc_collection_destroy(c);
    for (size_t i = 0; i < n; i++)
        bson_destroy(docs[i]);
    return k;
}

/* Settles items whose id is already stored. Returns how many remain, compacted in place. */
static size_t settle_known(struct mstore *s, mongoc_client_t *cl, struct mseq_item **items,
                           size_t n)
{
    uint64_t found[MSTORE_BATCH];
    if (lookup_ids(s, cl, items, n, found) != 0)
        return n;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (found[i]) {
            /* Our own earlier attempt succeeded after all: not the app's duplicate. */
            int dup = items[i]->client_id && !items[i]->attempted;
            finish(s, items[i], dup ? MSTORE_DUPLICATE : MSTORE_OK, found[i]);
        } else {
            items[m++] = items[i];
        }
    }
    return m;
}

/* Runs one batch to the end: every item is resolved, or its caller has given up. */
static void run_batch(struct mstore *s, mongoc_client_t *cl, struct mseq_item **items, size_t n)
{
    n = settle_known(s, cl, items, n);
    long nap = 2;
    while (n > 0 && !mstore_stopping(s)) {
        int64_t now = mstore_now_ms();
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (now >= items[i]->deadline_ms)
                finish(s, items[i], MSTORE_UNCONFIRMED, 0);
            else
                items[m++] = items[i];
        }
        n = m;
        if (n == 0)
            break;
        int backoff = 0, check_ids = 0;
        size_t done = 0;
        /* A head older than what the stream delivered (or unknown to a broken stream) is
         * read again: offsets below the stream's newest may have been removed by the
         * retention, and an insert there would not collide; it would be acknowledged, then
         * skipped by every relay's tail as already delivered. */
        if (s->seq_head != 0 &&
            (s->seq_head < atomic_load(&s->tail_last) || !atomic_load(&s->stream_up)))
            s->seq_head = 0;
        if (s->seq_head == 0 && refresh_head(s, cl) != 0) {
            backoff = 1;
        } else {
            done = insert_once(s, cl, items, n, &backoff, &check_ids);
            memmove(items, items + done, (n - done) * sizeof *items);
            n -= done;
            if (n > 0 && (check_ids || items[0]->attempted)) {
                size_t before = n;
                n = settle_known(s, cl, items, n);
                backoff = n == before && check_ids; /* still in flight: give it time */
            }
        }
        if (done > 0)
            nap = 2;
        if (backoff) {
            mstore_nap(s, nap);
            nap = nap < 200 ? nap * 2 : 200;
        } else if (n > 0 && s->seq_head == 0 && done == 0) {
            mstore_nap(s, 1); /* lost a race for an offset: the winner's write is landing */
        }
    }
    for (size_t i = 0; i < n; i++)
        finish(s, items[i], MSTORE_STOPPING, 0);
}

static void *seq_main(void *arg)
{
    struct mstore *s = arg;
    mongoc_client_t *cl = mongoc_client_pool_pop(s->wpool);
    struct mseq_item *items[MSTORE_BATCH];
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (s->head == NULL && !mstore_stopping(s)) {
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_nsec += 100 * 1000000L; /* notice a stop flag set by a signal */
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->work, &s->lock, &dl);
        }
        size_t n = 0;
        while (s->head && n < MSTORE_BATCH) {
            items[n++] = s->head;
            s->head = s->head->next;
            s->queued--;
        }
        if (s->head == NULL)
            s->tail = NULL;
        pthread_mutex_unlock(&s->lock);
        if (n == 0)
            break; /* stopping with nothing queued */
        run_batch(s, cl, items, n);
        if (mstore_stopping(s) && n == 0)
            break;
    }
    mongoc_client_pool_push(s->wpool, cl);
    return NULL;
}

int mseq_start(struct mstore *s)
{
    if (pthread_create(&s->seq_thread, NULL, seq_main, s) != 0)
        return -1;
    s->seq_started = 1;
    return 0;
}

void mseq_stop(struct mstore *s)
{
    if (s->seq_started && mstore_join(s, s->seq_thread) != 0)
        return; /* stuck in the driver: it still owns the queue */
    s->seq_started = 0;
    /* Anything still queued is answered: the relay is stopping. */
    while (s->head) {
        struct mseq_item *it = s->head;
        s->head = it->next;
        finish(s, it, MSTORE_STOPPING, 0);
    }
    s->tail = NULL;
    s->queued = 0;
}
