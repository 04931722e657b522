/*
 * mwatch — --watch DB.COLL=EVENT: every insert into the app's own collection becomes an
 * event, so the app writes once and never calls the relay (no dual write: an app that dies
 * after its insert still has it announced). Every relay watches; each insert is stored as
 * an event whose id is derived from the document's _id, so the unique id index lets exactly
 * one relay's copy in, and it gets its offset like any emit. The change stream's resume
 * token travels with the stored event (field wt), so a relay that starts resumes after the
 * newest insert any relay announced: inserts made while every relay was down are announced
 * when one comes back, as far as the oplog reaches.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "mstore_impl.h"

struct mwatch {
    struct mstore *s;
    const struct relay_watch *w;
    char src[200]; /* "db.coll" */
    pthread_t thread;
    int started;
};

/* The resume token stored with the newest event announced from this source, or NULL. */
static bson_t *stored_token(struct mwatch *mw, mongoc_client_t *cl)
{
    mongoc_collection_t *c = mstore_events(mw->s, cl);
    bson_t *filter = BCON_NEW("src", BCON_UTF8(mw->src));
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(-1), "}", "limit", BCON_INT64(1),
                            "projection", "{", "wt", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    bson_t *token = NULL;
    bson_iter_t it;
    if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "wt") &&
        BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&it, &len, &data);
        token = bson_new_from_data(data, len);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return token;
}

/*
 * ObjectIds and dates in relaxed extended JSON are {"$oid": "..."} and {"$date": "..."}:
 * clients get plain strings, as an app that serialises its document itself would send.
 */
static json_t *plain(json_t *v)
{
    if (json_is_object(v)) {
        json_t *oid = json_object_get(v, "$oid"), *date = json_object_get(v, "$date");
        if (json_object_size(v) == 1 && json_is_string(oid))
            return json_incref(oid);
        if (json_object_size(v) == 1 && json_is_string(date))
            return json_incref(date);
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) json_object_set_new(v, k, plain(x));
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            json_array_set_new(v, i, plain(json_array_get(v, i)));
    }
    return json_incref(v);
}

/* The inserted document as compact JSON (malloc'd), or NULL. */
static char *doc_json(const bson_t *doc, size_t *len)
{
    char *ext = bson_as_relaxed_extended_json(doc, NULL);
    json_t *j = ext ? json_loads(ext, JSON_DECODE_ANY, NULL) : NULL;
    bson_free(ext);
    json_t *p = j ? plain(j) : NULL;
    char *out = p ? json_dumps(p, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(p);
    json_decref(j);
    if (out)
        *len = strlen(out);
    return out;
}

static void item_done(void *ud, struct mseq_item *it)
{
    (void)ud;
    if (it->done - 1 != MSTORE_OK && it->done - 1 != MSTORE_DUPLICATE &&
        it->done - 1 != MSTORE_STOPPING)
        LOG_WARN("watch_announce_failed id=%s result=%d", it->id, it->done - 1);
}

/* Not announced on -1: a broadcast would reach clients the event is not for. */
int mwatch_doc_channel(const struct relay_watch *w, const bson_t *full, char *out, size_t outlen)
{
    if (!w->has_channel)
        return 0;
    char val[ENVELOPE_CHANNEL_MAX + 1] = "";
    if (w->chan_field[0]) {
        bson_iter_t it;
        if (!bson_iter_init_find(&it, full, w->chan_field))
            return 0;
        if (BSON_ITER_HOLDS_UTF8(&it)) {
            uint32_t l = 0;
            const char *v = bson_iter_utf8(&it, &l);
            /* BSON strings may hold NUL bytes: "7\0x" must not pass as store 7. */
            if (l == 0 || l >= sizeof val || memchr(v, '\0', l) != NULL)
                return -1;
            memcpy(val, v, l);
            val[l] = '\0';
        } else if (BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it)) {
            snprintf(val, sizeof val, "%" PRId64, bson_iter_as_int64(&it));
        } else if (BSON_ITER_HOLDS_NULL(&it)) {
            return 0;
        } else {
            return -1;
        }
    }
    int n = snprintf(out, outlen, "%s%s%s", w->chan_pre, val, w->chan_post);
    return n > 0 && (size_t)n < outlen && envelope_channel_valid(out, (size_t)n) ? 1 : -1;
}

/* Queues the announcement of one inserted document (waits while the sequencer is full). */
static void announce(struct mwatch *mw, const bson_t *full, const bson_t *token)
{
    struct mstore *s = mw->s;
    char channel[ENVELOPE_CHANNEL_MAX + 1] = "";
    if (mwatch_doc_channel(mw->w, full, channel, sizeof channel) < 0) {
        LOG_WARN("watch_channel_invalid src=%s field=%s action=skipped", mw->src,
                 mw->w->chan_field);
        metric_inc(s->m_watch_skipped);
        return;
    }
    struct mseq_item *it = calloc(1, sizeof *it);
    size_t jl = 0;
    char *json = doc_json(full, &jl);
    if (it == NULL || json == NULL) {
        free(it);
        free(json);
        return;
    }
    it->refs = 1;
    it->data = json;
    it->data_len = jl;
    snprintf(it->event, sizeof it->event, "%s", mw->w->event);
    snprintf(it->channel, sizeof it->channel, "%s", channel);
    bson_iter_t id;
    char key[100] = "";
    if (bson_iter_init_find(&id, full, "_id") && BSON_ITER_HOLDS_OID(&id)) {
        bson_oid_to_string(bson_iter_oid(&id), key);
    } else if (bson_iter_init_find(&id, full, "_id")) {
        bson_t one = BSON_INITIALIZER;
        bson_append_iter(&one, "_id", 3, &id);
        char *j = bson_as_canonical_extended_json(&one, NULL);
        /* Long or odd keys are hashed: ids stay short and printable. */
        uint64_t h = j ? frame_channel_hash(j, strlen(j)) : 0;
        snprintf(key, sizeof key, "h%016" PRIx64, h);
        bson_free(j);
        bson_destroy(&one);
    }
    /* db (63) + coll (127) can be long: a long source name is hashed too. */
    if (strlen(mw->src) + strlen(key) + 8 < sizeof it->id)
        snprintf(it->id, sizeof it->id, "watch:%.120s:%.30s", mw->src, key);
    else
        snprintf(it->id, sizeof it->id, "watch:h%016" PRIx64 ":%.30s",
                 frame_channel_hash(mw->src, strlen(mw->src)), key);
    it->extra = BCON_NEW("src", BCON_UTF8(mw->src), "wt", BCON_DOCUMENT(token));
    it->deadline_ms = mstore_now_ms() + 3600 * 1000;
    it->on_done = item_done;
    metric_inc(s->m_watch_events);
    while (it->data && mseq_submit(s, it, MSTORE_WATCH_QUEUE) != 0) {
        if (mstore_nap(s, 20))
            break;
    }
    mseq_item_release(s, it);
}

static mongoc_change_stream_t *open_watch(struct mwatch *mw, mongoc_client_t *cl,
                                          const bson_t *token)
{
    mongoc_collection_t *c = mongoc_client_get_collection(cl, mw->w->db, mw->w->coll);
    bson_t *pipeline =
        BCON_NEW("pipeline", "[", "{", "$match", "{", "operationType", "insert", "}", "}", "]");
    bson_t *opts = BCON_NEW("maxAwaitTimeMS", BCON_INT64(MSTORE_AWAIT_MS));
    if (token)
        BSON_APPEND_DOCUMENT(opts, "startAfter", token);
    mongoc_change_stream_t *cs = mongoc_collection_watch(c, pipeline, opts);
    bson_destroy(opts);
    bson_destroy(pipeline);
    mongoc_collection_destroy(c);
    return cs;
}

/*
 * A watched collection's stream has no offsets to compare with what is committed (see
 * mtail.c's stream_stuck). What it has: the member it reads from. A stream that answers
 * empty for MSTORE_STUCK_MS from a member that is no longer the primary the driver would
 * write to is reopened: that member may be cut off from the others (split brain) and
 * receive nothing until the heal. After an ordinary step-down the old primary, now a
 * healthy secondary, would have gone on delivering: a reopen there costs one resume.
 */
struct moved_probe {
    int64_t probed_ms; /* last probe */
    int64_t since_ms;  /* first probe that found another primary (0 = none) */
};

/* After an empty getMore: 1 when the stream should be reopened, else 0. */
static int watch_moved(struct mwatch *mw, mongoc_client_t *cl, struct moved_probe *p)
{
    int64_t now = mstore_now_ms();
    if (now - p->probed_ms < 1000)
        return 0;
    p->probed_ms = now;
    char primary[MSTORE_HOST_MAX], mine[MSTORE_HOST_MAX];
    snprintf(mine, sizeof mine, "%s", mstore_read_host());
    if (!*mine || mstore_primary_host(cl, primary, sizeof primary) != 0 ||
        strcmp(primary, mine) == 0) {
        p->since_ms = 0;
        return 0;
    }
    if (p->since_ms == 0) {
        p->since_ms = now;
        return 0;
    }
    if (now - p->since_ms < MSTORE_STUCK_MS)
        return 0;
    LOG_WARN("watch_stuck src=%s member=%s primary=%s waited_ms=%" PRId64, mw->src, mine, primary,
             now - p->since_ms);
    metric_inc(mw->s->m_watch_stuck);
    return 1;
}

static void *watch_main(void *arg)
{
    struct mwatch *mw = arg;
    struct mstore *s = mw->s;
    bson_t *token = NULL;
    int have_stored = 0;
    while (!mstore_stopping(s)) {
        mongoc_client_t *cl = mongoc_client_pool_pop(s->rpool);
        if (!have_stored) {
            token = stored_token(mw, cl);
            have_stored = 1;
            LOG_INFO("watch_started src=%s event=%s resume=%s", mw->src, mw->w->event,
                     token ? "stored" : "now");
        }
        mongoc_change_stream_t *cs = open_watch(mw, cl, token);
        bson_error_t e;
        const bson_t *reply, *doc;
        if (mongoc_change_stream_error_document(cs, &e, &reply) && token) {
            LOG_WARN("watch_resume_failed src=%s error=\"%s\" (inserts older than the oplog "
                     "window are not announced)",
                     mw->src, e.message);
            mongoc_change_stream_destroy(cs);
            bson_destroy(token);
            token = NULL;
            cs = open_watch(mw, cl, NULL);
        }
        struct moved_probe probe = {mstore_now_ms(), 0};
        while (!mstore_stopping(s)) {
            if (mongoc_change_stream_next(cs, &doc)) {
                probe.since_ms = 0; /* it delivers */
                const bson_t *t = mongoc_change_stream_get_resume_token(cs);
                bson_iter_t it;
                if (t && bson_iter_init_find(&it, doc, "fullDocument") &&
                    BSON_ITER_HOLDS_DOCUMENT(&it)) {
                    uint32_t len;
                    const uint8_t *data;
                    bson_t full;
                    bson_iter_document(&it, &len, &data);
                    if (bson_init_static(&full, data, len))
                        announce(mw, &full, t);
                }
            } else if (mongoc_change_stream_error_document(cs, &e, &reply)) {
                LOG_WARN("watch_failed src=%s error=\"%s\"", mw->src, e.message);
                break;
            } else if (watch_moved(mw, cl, &probe)) {
                break;
            }
            const bson_t *t = mongoc_change_stream_get_resume_token(cs);
            if (t) {
                if (token)
                    bson_destroy(token);
                token = bson_copy(t);
            }
        }
        mongoc_change_stream_destroy(cs);
        mongoc_client_pool_push(s->rpool, cl);
        mstore_nap(s, 500);
    }
    if (token)
        bson_destroy(token);
    return NULL;
}

int mwatch_start(struct mstore *s)
{
    for (int i = 0; i < s->cfg.nwatch; i++) {
        struct mwatch *mw = calloc(1, sizeof *mw);
        if (mw == NULL)
            return -1;
        mw->s = s;
        mw->w = &s->cfg.watch[i];
        snprintf(mw->src, sizeof mw->src, "%s.%s", mw->w->db, mw->w->coll);
        s->watch[s->nwatch++] = mw;
        if (pthread_create(&mw->thread, NULL, watch_main, mw) != 0)
            return -1;
        mw->started = 1;
    }
    return 0;
}

void mwatch_stop(struct mstore *s)
{
    for (int i = 0; i < s->nwatch; i++) {
        if (s->watch[i]->started && mstore_join(s, s->watch[i]->thread) != 0)
            continue; /* still running: it keeps its struct */
        free(s->watch[i]);
    }
    s->nwatch = 0;
}
