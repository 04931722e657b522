/*
 * What the MongoDB-backed relay does with mongosim, through the real C driver: an events
 * collection with int64 _ids (the offsets), a compound {channel, _id} index and a unique
 * sparse {id} index; ordered insert batches that stop at a duplicate with a write error at
 * its index; reads with readConcern majority (and afterClusterTime) paging through a large
 * collection; trims by _id and date; an upserted meta document; and a change stream on
 * inserts that a relay reopens from its last token across a step-down, a killed member
 * and a paused member, missing and repeating nothing.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "mongosim_harness.h"

static int64_t get_int(const bson_t *b, const char *path)
{
    bson_iter_t it, f;
    char *js = bson_as_relaxed_extended_json(b, NULL);
    ck_assert_msg(bson_iter_init(&it, b) && bson_iter_find_descendant(&it, path, &f), "no %s in %s",
                  path, js);
    bson_free(js);
    return bson_iter_as_int64(&f);
}

static void create_event_indexes(mongoc_client_t *c)
{
    mongoc_database_t *db = mongoc_client_get_database(c, "relay");
    bson_error_t err;
    bson_t reply;
    ck_assert_msg(
        mongoc_database_write_command_with_opts(
            db,
            tmp_bson("{\"createIndexes\": \"events\", \"indexes\": ["
                     "{\"key\": {\"channel\": 1, \"_id\": 1}, \"name\": \"channel_1__id_1\"},"
                     "{\"key\": {\"id\": 1}, \"name\": \"id_1\", \"unique\": true, "
                     "\"sparse\": true}]}"),
            NULL, &reply, &err),
        "createIndexes: %s", err.message);
    ck_assert_int_eq(get_int(&reply, "numIndexesAfter"), 3);
    bson_destroy(&reply);
    mongoc_database_destroy(db);
}

/* An event document: _id = offset, channel (absent for broadcast), data, id, at. */
static bson_t *event(int64_t off, const char *channel, const char *id)
{
    bson_t *d = BCON_NEW("_id", BCON_INT64(off), "event", BCON_UTF8("new_product"));
    if (channel)
        BSON_APPEND_UTF8(d, "channel", channel);
    BSON_APPEND_UTF8(d, "data", "{\"name\":\"x\"}");
    if (id)
        BSON_APPEND_UTF8(d, "id", id);
    BSON_APPEND_DATE_TIME(d, "at", 1000000 + off * 10);
    return d;
}

/* insert_many of events [from, from+n) with ids "e<off>" except where dup_id says. */
static bool insert_events(mongoc_collection_t *coll, const int64_t *offs, const char **ids, int n,
                          bson_t *reply, bson_error_t *err)
{
    bson_t *docs[64];
    for (int i = 0; i < n; i++)
        docs[i] = event(offs[i], i % 2 ? "store-1" : NULL, ids[i]);
    bool ok = mongoc_collection_insert_many(coll, (const bson_t **)docs, (size_t)n,
                                            tmp_bson("{\"ordered\": true}"), reply, err);
    for (int i = 0; i < n; i++)
        bson_destroy(docs[i]);
    return ok;
}

START_TEST(test_ordered_batches_stop_at_duplicates)
{
    mongoc_client_t *c = client_for(NULL);
    create_event_indexes(c);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "relay", "events");
    bson_t reply;
    bson_error_t err;
    int64_t a[] = {1, 2, 3};
    const char *ida[] = {"e1", NULL, "e3"}; /* an event without an id: the index is sparse */
    ck_assert_msg(insert_events(coll, a, ida, 3, &reply, &err), "%s", err.message);
    ck_assert_int_eq(get_int(&reply, "insertedCount"), 3);
    bson_destroy(&reply);
    /* A duplicate _id (another relay took offset 3) stops the batch at its index. */
    int64_t b[] = {4, 5, 3, 6};
    const char *idb[] = {"e4", NULL, "x3", "e6"};
    ck_assert(!insert_events(coll, b, idb, 4, &reply, &err));
    ck_assert_int_eq(err.code, 11000);
    ck_assert_int_eq(get_int(&reply, "insertedCount"), 2);
    ck_assert_int_eq(get_int(&reply, "writeErrors.0.index"), 2);
    ck_assert_int_eq(get_int(&reply, "writeErrors.0.code"), 11000);
    ck_assert_int_eq(get_int(&reply, "writeErrors.0.keyPattern._id"), 1);
    ck_assert_int_eq(get_int(&reply, "writeErrors.0.keyValue._id"), 3);
    bson_iter_t it;
    ck_assert(bson_iter_init(&it, &reply) && !bson_iter_find_descendant(&it, "writeErrors.1", &it));
    bson_destroy(&reply);
    /* A duplicate emit id (a retried emit): the same, naming the id index. */
    int64_t d[] = {7, 8, 9};
    const char *idd[] = {"e7", "e1", "e9"};
    ck_assert(!insert_events(coll, d, idd, 3, &reply, &err));
    ck_assert_int_eq(get_int(&reply, "insertedCount"), 1);
    ck_assert_int_eq(get_int(&reply, "writeErrors.0.index"), 1);
    ck_assert_int_eq(get_int(&reply, "writeErrors.0.keyPattern.id"), 1);
    ck_assert(bson_iter_init(&it, &reply) &&
              bson_iter_find_descendant(&it, "writeErrors.0.keyValue.id", &it) &&
              strcmp(bson_iter_utf8(&it, NULL), "e1") == 0);
    bson_destroy(&reply);
    /* Exactly 1..5 and 7 are stored. */
    int64_t want[] = {1, 2, 3, 4, 5, 7}, k = 0;
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(
        coll, tmp_bson("{}"), tmp_bson("{\"sort\": {\"_id\": 1}}"), NULL);
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc)) {
        ck_assert_int_lt(k, 6);
        ck_assert_int_eq(get_int(doc, "_id"), want[k++]);
    }
    ck_assert_int_eq(k, 6);
    mongoc_cursor_destroy(cur);
    /* The newest event, as a starting relay reads its head. */
    cur = mongoc_collection_find_with_opts(
        coll, tmp_bson("{}"), tmp_bson("{\"sort\": {\"_id\": -1}, \"limit\": 1}"), NULL);
    ck_assert(mongoc_cursor_next(cur, &doc));
    ck_assert_int_eq(get_int(doc, "_id"), 7);
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

struct seen {
    atomic_int getmores, with_rc, with_act;
};

static void on_started(const mongoc_apm_command_started_t *e)
{
    struct seen *s = mongoc_apm_command_started_get_context(e);
    const bson_t *cmd = mongoc_apm_command_started_get_command(e);
    bson_iter_t it;
    if (strcmp(mongoc_apm_command_started_get_command_name(e), "getMore") == 0)
        atomic_fetch_add(&s->getmores, 1);
    if (bson_iter_init(&it, cmd) && bson_iter_find_descendant(&it, "readConcern.level", &it) &&
        strcmp(bson_iter_utf8(&it, NULL), "majority") == 0)
        atomic_fetch_add(&s->with_rc, 1);
    if (bson_iter_init(&it, cmd) &&
        bson_iter_find_descendant(&it, "readConcern.afterClusterTime", &it))
        atomic_fetch_add(&s->with_act, 1);
}

START_TEST(test_majority_reads_page_through_a_large_collection)
{
    mongoc_client_t *c = client_for(NULL);
    struct seen seen = {0};
    mongoc_apm_callbacks_t *cb = mongoc_apm_callbacks_new();
    mongoc_apm_set_command_started_cb(cb, on_started);
    mongoc_client_set_apm_callbacks(c, cb, &seen);
    create_event_indexes(c);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "relay", "events");
    mongoc_read_concern_t *rc = mongoc_read_concern_new();
    mongoc_read_concern_set_level(rc, MONGOC_READ_CONCERN_LEVEL_MAJORITY);
    mongoc_collection_set_read_concern(coll, rc);
    bson_error_t err;
    const int total = 20000;
    for (int base = 1; base <= total; base += 1000) {
        bson_t *docs[1000];
        for (int i = 0; i < 1000; i++) {
            char id[32];
            snprintf(id, sizeof id, "e%d", base + i);
            docs[i] = event(base + i,
                            (base + i) % 3 == 0   ? "a"
                            : (base + i) % 3 == 1 ? "b"
                                                  : NULL,
                            id);
        }
        ck_assert_msg(
            mongoc_collection_insert_many(coll, (const bson_t **)docs, 1000, NULL, NULL, &err),
            "%s", err.message);
        for (int i = 0; i < 1000; i++)
            bson_destroy(docs[i]);
    }
    /* Replay from offset 12000: limit 5000 in batches of 500 (getMore after getMore). */
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(
        coll, tmp_bson("{\"_id\": {\"$gt\": 12000}}"),
        tmp_bson("{\"sort\": {\"_id\": 1}, \"limit\": 5000, \"batchSize\": 500}"), NULL);
    const bson_t *doc;
    int64_t want = 12001;
    while (mongoc_cursor_next(cur, &doc))
        ck_assert_int_eq(get_int(doc, "_id"), want++);
    ck_assert_msg(!mongoc_cursor_error(cur, &err), "%s", err.message);
    ck_assert_int_eq(want, 17001);
    mongoc_cursor_destroy(cur);
    ck_assert_int_ge(atomic_load(&seen.getmores), 9);
    ck_assert_int_ge(atomic_load(&seen.with_rc), 1);
    /* Two channels after an offset, in offset order (broadcast events are channel-less). */
    cur = mongoc_collection_find_with_opts(
        coll, tmp_bson("{\"channel\": {\"$in\": [\"a\", \"zz\"]}, \"_id\": {\"$gt\": 19000}}"),
        tmp_bson("{\"sort\": {\"_id\": 1}, \"limit\": 100}"), NULL);
    want = 19002; /* the first multiple of 3 above 19000 */
    int n = 0;
    while (mongoc_cursor_next(cur, &doc)) {
        ck_assert_int_eq(get_int(doc, "_id"), want);
        want += 3;
        n++;
    }
    ck_assert_int_eq(n, 100);
    mongoc_cursor_destroy(cur);
    /* A causally consistent session: the driver sends afterClusterTime, mongosim accepts it. */
    mongoc_client_session_t *cs = mongoc_client_start_session(c, NULL, &err);
    ck_assert_ptr_nonnull(cs);
    bson_t sopts = BSON_INITIALIZER;
    ck_assert(mongoc_client_session_append(cs, &sopts, &err));
    bson_t *one = event(total + 1, NULL, "last");
    ck_assert(mongoc_collection_insert_one(coll, one, &sopts, NULL, &err));
    bson_destroy(one);
    bson_t *fopts = bson_copy(&sopts);
    BSON_APPEND_INT64(fopts, "limit", 1);
    cur = mongoc_collection_find_with_opts(coll, tmp_bson("{\"id\": \"last\"}"), fopts, NULL);
    ck_assert(mongoc_cursor_next(cur, &doc));
    ck_assert_int_eq(get_int(doc, "_id"), total + 1);
    mongoc_cursor_destroy(cur);
    bson_destroy(fopts);
    ck_assert_int_ge(atomic_load(&seen.with_act), 1);
    /* An aggregate with majority read concern. */
    cur =
        mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE,
                                    tmp_bson("{\"pipeline\": [{\"$match\": {\"channel\": \"b\"}}, "
                                             "{\"$count\": \"n\"}]}"),
                                    &sopts, NULL);
    ck_assert(mongoc_cursor_next(cur, &doc));
    ck_assert_int_eq(get_int(doc, "n"), 6667);
    mongoc_cursor_destroy(cur);
    bson_destroy(&sopts);
    mongoc_client_session_destroy(cs);
    /* Trims: below an offset, then below a date and an offset. */
    bson_t reply;
    ck_assert(mongoc_collection_delete_many(coll, tmp_bson("{\"_id\": {\"$lt\": 5001}}"), NULL,
                                            &reply, &err));
    ck_assert_int_eq(get_int(&reply, "deletedCount"), 5000);
    bson_destroy(&reply);
    bson_t *trim = BCON_NEW("at", "{", "$lt", BCON_DATE_TIME(1000000 + 8001 * 10), "}", "_id", "{",
                            "$lt", BCON_INT64(7001), "}");
    ck_assert(mongoc_collection_delete_many(coll, trim, NULL, &reply, &err));
    ck_assert_int_eq(get_int(&reply, "deletedCount"), 2000);
    bson_destroy(&reply);
    bson_destroy(trim);
    ck_assert_int_eq(
        mongoc_collection_count_documents(coll, tmp_bson("{}"), NULL, NULL, NULL, &err),
        total + 1 - 7000);
    cur = mongoc_collection_find_with_opts(
        coll, tmp_bson("{}"), tmp_bson("{\"sort\": {\"_id\": 1}, \"limit\": 1}"), NULL);
    ck_assert(mongoc_cursor_next(cur, &doc));
    ck_assert_int_eq(get_int(doc, "_id"), 7001);
    mongoc_cursor_destroy(cur);
    /* readConcern on a getMore (the drivers send none there; mongod would refuse one):
     * accepted, and the batch is the next one. */
    int fd = client_connect("127.0.0.1", sim_primary_port(&sim), 2000);
    bson_t r1, r2;
    ck_assert_int_eq(client_command(fd, "relay",
                                    tmp_bson("{\"find\": \"events\", \"filter\": {\"_id\": "
                                             "{\"$gt\": 9000}}, \"sort\": {\"_id\": 1}, "
                                             "\"batchSize\": 2, \"readConcern\": {\"level\": "
                                             "\"majority\"}}"),
                                    &r1, 2000),
                     0);
    int64_t id = get_int(&r1, "cursor.id");
    ck_assert_int_ne(id, 0);
    bson_t *gm = BCON_NEW("getMore", BCON_INT64(id), "collection", "events", "batchSize",
                          BCON_INT32(3), "readConcern", "{", "level", "majority", "}");
    ck_assert_int_eq(client_command(fd, "relay", gm, &r2, 2000), 0);
    ck_assert_int_eq(get_int(&r2, "ok"), 1);
    ck_assert_int_eq(get_int(&r2, "cursor.nextBatch.0._id"), 9003);
    bson_destroy(gm);
    bson_destroy(&r1);
    bson_destroy(&r2);
    close(fd);
    mongoc_read_concern_destroy(rc);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    mongoc_apm_callbacks_destroy(cb);
}
END_TEST

START_TEST(test_max_await_time_is_honoured)
{
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "relay", "quiet");
    int64_t waited[2];
    const int await_ms[2] = {300, 1500};
    for (int k = 0; k < 2; k++) {
        char opts[64];
        snprintf(opts, sizeof opts, "{\"maxAwaitTimeMS\": %d}", await_ms[k]);
        mongoc_change_stream_t *s = mongoc_collection_watch(coll, tmp_bson("{}"), tmp_bson(opts));
        const bson_t *ev;
        int64_t t0 = msim_now_ms();
        ck_assert(!mongoc_change_stream_next(s, &ev)); /* one empty getMore */
        waited[k] = msim_now_ms() - t0;
        mongoc_change_stream_destroy(s);
    }
    ck_assert_msg(waited[0] >= 250, "maxAwaitTimeMS 300 held %lld ms", (long long)waited[0]);
    ck_assert_msg(waited[1] >= 1400, "maxAwaitTimeMS 1500 held %lld ms", (long long)waited[1]);
    ck_assert_msg(waited[1] > 2 * waited[0], "waits %lld and %lld ms", (long long)waited[0],
                  (long long)waited[1]);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

/* --- a relay's tail of the events collection across faults ---------------------------- */

#define TAIL_EVENTS 450

struct writer {
    atomic_int written, stop;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    mongoc_client_t *c = client_for("&socketTimeoutMS=2000&heartbeatFrequencyMS=500");
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "relay", "events");
    for (int64_t off = 1; off <= TAIL_EVENTS && !atomic_load(&w->stop);) {
        bson_t *d = event(off, off % 2 ? "store-1" : NULL, NULL);
        bson_error_t err;
        bool ok = mongoc_collection_insert_one(coll, d, NULL, NULL, &err);
        bson_destroy(d);
        if (ok || err.code == 11000) { /* 11000: an earlier attempt landed */
            atomic_store(&w->written, (int)off);
            off++;
            usleep(2000);
        } else {
            usleep(50000);
        }
    }
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    return NULL;
}

/* Waits (bounded) until the consumer has seen at least n events. */
struct tail {
    atomic_int seen;
    int reopened;
};

static void *fault_main(void *arg)
{
    struct tail *t = arg;
    int steps[3] = {100, 200, 300};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 600 && atomic_load(&t->seen) < steps[k]; i++)
            usleep(20000);
        int p = sim_primary(&sim);
        int other = (p + 1) % 3;
        char cmd[128];
        if (k == 0) {
            sim_admin(&sim, other, "{\"mongosimStepDown\": 1, \"secs\": 5}", NULL);
        } else if (k == 1) {
            snprintf(cmd, sizeof cmd, "{\"mongosimKill\": 1, \"member\": %d}", p);
            sim_admin(&sim, other, cmd, NULL);
            usleep(800000);
            snprintf(cmd, sizeof cmd, "{\"mongosimRestart\": 1, \"member\": %d}", p);
            sim_admin(&sim, other, cmd, NULL);
        } else {
            snprintf(cmd, sizeof cmd, "{\"mongosimPause\": 1, \"member\": %d}", p);
            sim_admin(&sim, other, cmd, NULL);
            usleep(2500000);
            snprintf(cmd, sizeof cmd, "{\"mongosimResume\": 1, \"member\": %d}", p);
            sim_admin(&sim, other, cmd, NULL);
        }
    }
    return NULL;
}

START_TEST(test_insert_stream_resumes_across_faults)
{
    mongoc_client_t *c = client_for("&socketTimeoutMS=2000&heartbeatFrequencyMS=500");
    create_event_indexes(c);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "relay", "events");
    bson_t *pipeline = tmp_bson("{\"pipeline\": [{\"$match\": {\"operationType\": \"insert\"}}]}");
    pipeline = bson_copy(pipeline);
    mongoc_change_stream_t *s =
        mongoc_collection_watch(coll, pipeline, tmp_bson("{\"maxAwaitTimeMS\": 200}"));
    const bson_t *ev;
    ck_assert(!mongoc_change_stream_next(s, &ev)); /* opened before the first insert */
    bson_t *token = bson_copy(mongoc_change_stream_get_resume_token(s));
    struct writer w = {0};
    struct tail t = {0};
    pthread_t wt, ft;
    ck_assert_int_eq(pthread_create(&wt, NULL, writer_main, &w), 0);
    ck_assert_int_eq(pthread_create(&ft, NULL, fault_main, &t), 0);
    int64_t next = 1, deadline = msim_now_ms() + 90000;
    while (next <= TAIL_EVENTS && msim_now_ms() < deadline) {
        if (s == NULL) {
            /* Reopen from the last token, as a relay does: alternate resumeAfter/startAfter. */
            bson_t opts = BSON_INITIALIZER;
            BSON_APPEND_DOCUMENT(&opts, t.reopened % 2 ? "startAfter" : "resumeAfter", token);
            BSON_APPEND_INT32(&opts, "maxAwaitTimeMS", 200);
            s = mongoc_collection_watch(coll, pipeline, &opts);
            bson_destroy(&opts);
            t.reopened++;
        }
        if (mongoc_change_stream_next(s, &ev)) {
            ck_assert_msg(get_int(ev, "fullDocument._id") == next,
                          "event %lld arrived when %lld was due (missed or repeated)",
                          (long long)get_int(ev, "fullDocument._id"), (long long)next);
            bson_iter_t it;
            ck_assert(bson_iter_init(&it, ev) &&
                      bson_iter_find_descendant(&it, "operationType", &it) &&
                      strcmp(bson_iter_utf8(&it, NULL), "insert") == 0);
            next++;
            atomic_store(&t.seen, (int)next - 1);
            if (next % 70 == 0) {
                /* The relay restarts its tail from its own token now and then. */
                bson_destroy(token);
                token = bson_copy(mongoc_change_stream_get_resume_token(s));
                mongoc_change_stream_destroy(s);
                s = NULL;
                continue;
            }
        } else {
            bson_error_t err;
            const bson_t *edoc;
            if (mongoc_change_stream_error_document(s, &err, &edoc)) {
                mongoc_change_stream_destroy(s);
                s = NULL;
                usleep(100000);
                continue;
            }
        }
        const bson_t *tok = mongoc_change_stream_get_resume_token(s);
        if (tok) {
            bson_destroy(token);
            token = bson_copy(tok);
        }
    }
    atomic_store(&w.stop, 1);
    pthread_join(wt, NULL);
    pthread_join(ft, NULL);
    fprintf(stderr, "tail: %lld events, stream reopened %d times\n", (long long)next - 1,
            t.reopened);
    ck_assert_msg(next == TAIL_EVENTS + 1, "saw %lld of %d events (writer at %d)",
                  (long long)next - 1, TAIL_EVENTS, atomic_load(&w.written));
    ck_assert_int_ge(t.reopened, 6);
    /* And nothing more arrives. */
    if (s)
        ck_assert(!mongoc_change_stream_next(s, &ev));
    mongoc_change_stream_destroy(s);
    bson_destroy(token);
    bson_destroy(pipeline);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

int main(void)
{
    mongoc_init();
    Suite *s = suite_create("mongosim_relay");
    TCase *tc = tcase_create("relay");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ordered_batches_stop_at_duplicates);
    tcase_add_test(tc, test_majority_reads_page_through_a_large_collection);
    tcase_add_test(tc, test_max_await_time_is_honoured);
    tcase_add_test(tc, test_insert_stream_resumes_across_faults);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    mongoc_cleanup();
    return failed == 0 ? 0 : 1;
}
