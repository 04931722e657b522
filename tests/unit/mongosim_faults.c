/*
 * mongosim's replica-set behaviour through the real mongo-c-driver: a change stream across
 * a step-down and a resume from its token, a killed primary's clients failing over,
 * discovery from one seed, awaitable hello, pause/resume and latency faults.
 */
#include "mongosim_harness.h"
#include "wire.h"

/* Reads change events from s until want events arrived (or ~10 s passed); appends their i. */
static int read_events(mongoc_change_stream_t *s, int *out, int want)
{
    int n = 0;
    const bson_t *ev;
    for (int tries = 0; n < want && tries < 100; tries++) {
        while (n < want && mongoc_change_stream_next(s, &ev)) {
            bson_iter_t it;
            ck_assert(bson_iter_init(&it, ev) &&
                      bson_iter_find_descendant(&it, "fullDocument.i", &it));
            out[n++] = bson_iter_int32(&it);
        }
        bson_error_t err;
        const bson_t *edoc;
        ck_assert_msg(!mongoc_change_stream_error_document(s, &err, &edoc), "%s", err.message);
    }
    return n;
}

START_TEST(test_change_stream_stepdown_resume)
{
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "cs");
    mongoc_change_stream_t *s =
        mongoc_collection_watch(coll, tmp_bson("{}"), tmp_bson("{\"maxAwaitTimeMS\": 100}"));
    int got[200];
    for (int i = 0; i < 30; i++)
        insert_i(coll, i, 0);
    ck_assert_int_eq(read_events(s, got, 30), 30);
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(got[i], i);

    /* The same stream keeps working across a step-down (its cursor lives on the old primary). */
    sim_admin(&sim, -1, "{\"replSetStepDown\": 10}", NULL);
    for (int i = 30; i < 40; i++)
        insert_i(coll, i, 0); /* retried until the new primary is elected */
    ck_assert_int_eq(read_events(s, got, 10), 10);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(got[i], 30 + i);

    /* Resume from the token in a new stream: nothing missed, nothing repeated. */
    bson_t *token = bson_copy(mongoc_change_stream_get_resume_token(s));
    mongoc_change_stream_destroy(s);
    for (int i = 40; i < 60; i++)
        insert_i(coll, i, 0);
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_DOCUMENT(&opts, "resumeAfter", token);
    BSON_APPEND_INT32(&opts, "maxAwaitTimeMS", 100);
    s = mongoc_collection_watch(coll, tmp_bson("{}"), &opts);
    ck_assert_int_eq(read_events(s, got, 20), 20);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(got[i], 40 + i);
    const bson_t *ev;
    ck_assert(!mongoc_change_stream_next(s, &ev)); /* and nothing more */
    mongoc_change_stream_destroy(s);
    bson_destroy(&opts);
    bson_destroy(token);

    /* A token older than the oplog is refused with ChangeStreamHistoryLost only when lost;
     * a garbage token is refused outright. */
    s = mongoc_collection_watch(coll, tmp_bson("{}"),
                                tmp_bson("{\"resumeAfter\": {\"_data\": \"zz\"}}"));
    bson_error_t err;
    const bson_t *edoc;
    ck_assert(!mongoc_change_stream_next(s, &ev));
    ck_assert(mongoc_change_stream_error_document(s, &err, &edoc));
    mongoc_change_stream_destroy(s);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

START_TEST(test_killed_primary_fails_over)
{
    char uri_s[512];
    sim_uri(&sim, uri_s, sizeof uri_s, NULL);
    mongoc_uri_t *uri = mongoc_uri_new(uri_s);
    mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
    mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_t *c = mongoc_client_pool_pop(pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "failover");
    insert_i(coll, 1, 0);
    mongoc_change_stream_t *s =
        mongoc_collection_watch(coll, tmp_bson("{}"), tmp_bson("{\"maxAwaitTimeMS\": 100}"));
    const bson_t *ev;
    ck_assert(!mongoc_change_stream_next(s, &ev)); /* open the cursor on member 0 */
    ck_assert_int_eq(sim_primary_port(&sim), sim.port);

    /* Kill member 0 through member 2. */
    sim_admin(&sim, 2, "{\"mongosimKill\": 1, \"member\": 0}", NULL);
    /* Network error, retried on the new primary by the driver. The C driver may take an EOF
     * on the killed connection for a timeout and retry on the dead member once more (then
     * the app's own retry goes to the new primary): allow one such failure. */
    bson_error_t ierr;
    bson_t *two = BCON_NEW("i", BCON_INT32(2), "g", BCON_INT32(0));
    if (!mongoc_collection_insert_one(coll, two, NULL, NULL, &ierr)) {
        ck_assert_msg(ierr.domain == MONGOC_ERROR_STREAM, "insert 2: %s", ierr.message);
        ck_assert_msg(mongoc_collection_insert_one(coll, two, NULL, NULL, &ierr), "insert 2: %s",
                      ierr.message);
    }
    bson_destroy(two);
    int p = sim_primary_port(&sim);
    ck_assert_int_ne(p, sim.port);
    ck_assert(p == sim.port + 1 || p == sim.port + 2);

    /* The change stream resumes by itself on the new primary and sees the insert once. */
    int got[4];
    ck_assert_int_eq(read_events(s, got, 1), 1);
    ck_assert_int_eq(got[0], 2);
    ck_assert(!mongoc_change_stream_next(s, &ev));
    mongoc_change_stream_destroy(s);

    /* Restart it: it comes back as a secondary and the data is all there. */
    bson_t reply;
    sim_admin(&sim, 2, "{\"mongosimRestart\": 1, \"member\": 0}", NULL);
    sim_admin(&sim, 0, "{\"replSetGetStatus\": 1}", &reply);
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, &reply, "myState"));
    ck_assert_int_eq(bson_iter_int32(&it), 2);
    bson_destroy(&reply);
    bson_error_t err;
    ck_assert_int_eq(
        mongoc_collection_count_documents(coll, tmp_bson("{}"), NULL, NULL, NULL, &err), 2);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(pool, c);
    mongoc_client_pool_destroy(pool);
    mongoc_uri_destroy(uri);
}
END_TEST

START_TEST(test_discovery_from_one_seed)
{
    char uri[256];
    snprintf(uri, sizeof uri,
             "mongodb://127.0.0.1:%d/?replicaSet=rs0&serverSelectionTimeoutMS=5000", sim.port + 2);
    mongoc_client_t *c = mongoc_client_new(uri);
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "seed");
    insert_i(coll, 7, 0);
    size_t n = 0;
    mongoc_server_description_t **sds = mongoc_client_get_server_descriptions(c, &n);
    ck_assert_int_eq((int)n, 3);
    int primaries = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(mongoc_server_description_type(sds[i]), "RSPrimary") == 0) {
            primaries++;
            ck_assert_int_eq(mongoc_server_description_host(sds[i])->port, sim.port);
        } else {
            ck_assert_str_eq(mongoc_server_description_type(sds[i]), "RSSecondary");
        }
    }
    ck_assert_int_eq(primaries, 1);
    mongoc_server_descriptions_destroy_all(sds, n);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

START_TEST(test_awaitable_hello_waits_for_change)
{
    int fd = client_connect("127.0.0.1", sim.port + 1, 2000);
    bson_t reply;
    ck_assert_int_eq(client_command(fd, "admin", tmp_bson("{\"hello\": 1}"), &reply, 2000), 0);
    bson_t tv;
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, &reply, "topologyVersion"));
    uint32_t l;
    const uint8_t *d;
    bson_iter_document(&it, &l, &d);
    bson_init_static(&tv, d, l);
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_INT32(&cmd, "hello", 1);
    BSON_APPEND_DOCUMENT(&cmd, "topologyVersion", &tv);
    BSON_APPEND_INT64(&cmd, "maxAwaitTimeMS", 300);
    /* Unchanged topology: the reply is held for maxAwaitTimeMS. */
    int64_t t0 = msim_now_ms();
    bson_t r2;
    ck_assert_int_eq(client_command(fd, "admin", &cmd, &r2, 3000), 0);
    int64_t waited = msim_now_ms() - t0;
    ck_assert_msg(waited >= 250, "held only %lld ms", (long long)waited);
    bson_destroy(&r2);
    /* A step-down while it waits (long maxAwaitTimeMS) answers at once with a newer counter. */
    bson_t cmd2 = BSON_INITIALIZER;
    BSON_APPEND_INT32(&cmd2, "hello", 1);
    BSON_APPEND_DOCUMENT(&cmd2, "topologyVersion", &tv);
    BSON_APPEND_INT64(&cmd2, "maxAwaitTimeMS", 10000);
    bson_t full = BSON_INITIALIZER;
    bson_concat(&full, &cmd2);
    BSON_APPEND_UTF8(&full, "$db", "admin");
    size_t n;
    uint8_t *m = wire_encode_msg(5, 0x10000 /* exhaustAllowed */, &full, &n);
    ck_assert_int_eq(client_send(fd, m, n), 0);
    free(m);
    usleep(100000);
    t0 = msim_now_ms();
    sim_admin(&sim, 2, "{\"mongosimStepDown\": 1, \"secs\": 5}", NULL);
    ck_assert_int_eq(client_read_reply(fd, &r2, 3000), 0);
    ck_assert_int_lt(msim_now_ms() - t0, 2000);
    bson_iter_t c1, c2;
    ck_assert(bson_iter_init(&c1, &reply) &&
              bson_iter_find_descendant(&c1, "topologyVersion.counter", &c1));
    ck_assert(bson_iter_init(&c2, &r2) &&
              bson_iter_find_descendant(&c2, "topologyVersion.counter", &c2));
    ck_assert_int_gt(bson_iter_as_int64(&c2), bson_iter_as_int64(&c1));
    ck_assert(!bson_iter_init_find(&it, &r2, "primary")); /* no primary until the election */
    bson_destroy(&r2);
    bson_destroy(&full);
    bson_destroy(&cmd2);
    bson_destroy(&cmd);
    bson_destroy(&reply);
    close(fd);
    /* The new primary's electionId is greater than the old one's. */
    ck_assert_int_ne(sim_primary(&sim), 0);
}
END_TEST

/* Sends {hello: 1, topologyVersion: tv, maxAwaitTimeMS: await, $db: admin} as OP_MSG. */
static void send_awaitable_hello(int fd, int32_t request_id, uint32_t flags, const bson_t *tv,
                                 int64_t await)
{
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_INT32(&cmd, "hello", 1);
    BSON_APPEND_DOCUMENT(&cmd, "topologyVersion", tv);
    BSON_APPEND_INT64(&cmd, "maxAwaitTimeMS", await);
    BSON_APPEND_UTF8(&cmd, "$db", "admin");
    size_t n;
    uint8_t *m = wire_encode_msg(request_id, flags, &cmd, &n);
    ck_assert_int_eq(client_send(fd, m, n), 0);
    free(m);
    bson_destroy(&cmd);
}

static int64_t tv_counter(const bson_t *reply)
{
    bson_iter_t it;
    ck_assert(bson_iter_init(&it, reply) &&
              bson_iter_find_descendant(&it, "topologyVersion.counter", &it));
    return bson_iter_as_int64(&it);
}

/*
 * Streaming hello, as the Node.js driver's monitors use it: an awaitable hello with the
 * OP_MSG exhaustAllowed bit is answered with moreToCome, and then again, unasked, at every
 * maxAwaitTimeMS and at once on a topology change; each reply answers the previous one
 * (responseTo = its requestID, as mongod's synthetic exhaust requests do). Without the bit,
 * or with maxAwaitTimeMS 0, a single reply without moreToCome.
 */
START_TEST(test_hello_streams_with_exhaust)
{
    const uint32_t exhaust = 0x10000, more = 0x2;
    int fd = client_connect("127.0.0.1", sim.port + 1, 2000);
    ck_assert_int_ge(fd, 0);
    bson_t first, tv, r;
    struct client_reply_info info;
    ck_assert_int_eq(client_command(fd, "admin", tmp_bson("{\"hello\": 1}"), &first, 2000), 0);
    bson_iter_t tvi;
    uint32_t tvl;
    const uint8_t *tvd;
    ck_assert(bson_iter_init_find(&tvi, &first, "topologyVersion"));
    bson_iter_document(&tvi, &tvl, &tvd);
    ck_assert(bson_init_static(&tv, tvd, tvl));
    int64_t c0 = tv_counter(&first);

    /* Not allowed to stream: one reply, no moreToCome. */
    send_awaitable_hello(fd, 3, 0, &tv, 200);
    ck_assert_int_eq(client_read_reply_info(fd, &r, &info, 3000), 0);
    ck_assert_uint_eq(info.flags & more, 0);
    ck_assert_int_eq(info.response_to, 3);
    bson_destroy(&r);
    /* maxAwaitTimeMS 0 with exhaustAllowed: answered once, without moreToCome ... */
    send_awaitable_hello(fd, 4, exhaust, &tv, 0);
    ck_assert_int_eq(client_read_reply_info(fd, &r, &info, 3000), 0);
    ck_assert_uint_eq(info.flags & more, 0);
    bson_destroy(&r);
    /* ... so the connection takes commands again. */
    ck_assert_int_eq(client_command(fd, "admin", tmp_bson("{\"ping\": 1}"), &r, 2000), 0);
    bson_destroy(&r);

    /* The stream: a reply at each maxAwaitTimeMS, unasked, chained by responseTo. */
    send_awaitable_hello(fd, 5, exhaust, &tv, 300);
    int32_t prev = 5;
    for (int k = 0; k < 3; k++) {
        int64_t t0 = msim_now_ms();
        ck_assert_int_eq(client_read_reply_info(fd, &r, &info, 3000), 0);
        ck_assert_msg(msim_now_ms() - t0 >= 200, "reply %d after %lld ms", k,
                      (long long)(msim_now_ms() - t0));
        ck_assert_msg(info.flags & more, "reply %d without moreToCome", k);
        ck_assert_int_eq(info.response_to, prev);
        ck_assert_int_eq(tv_counter(&r), c0);
        prev = info.request_id;
        bson_destroy(&r);
    }
    close(fd);

    /* A step-down is streamed at once (no primary), then the election (a new primary), long
     * before maxAwaitTimeMS. */
    fd = client_connect("127.0.0.1", sim.port + 1, 2000);
    ck_assert_int_ge(fd, 0);
    send_awaitable_hello(fd, 7, exhaust, &tv, 60000);
    usleep(100000);
    sim_admin(&sim, 2, "{\"mongosimStepDown\": 1, \"secs\": 5}", NULL);
    ck_assert_int_eq(client_read_reply_info(fd, &r, &info, 10000), 0);
    ck_assert(info.flags & more);
    ck_assert_int_eq(info.response_to, 7);
    ck_assert_int_gt(tv_counter(&r), c0);
    bson_iter_t it;
    ck_assert(!bson_iter_init_find(&it, &r, "primary"));
    prev = info.request_id;
    bson_destroy(&r);
    ck_assert_int_eq(client_read_reply_info(fd, &r, &info, 10000), 0);
    ck_assert(info.flags & more);
    ck_assert_int_eq(info.response_to, prev);
    ck_assert(bson_iter_init_find(&it, &r, "primary"));
    bson_destroy(&r);
    bson_destroy(&first);
    close(fd);
}
END_TEST

/*
 * A step-down kills a write in progress, as mongod's does: a deleteMany that yields between
 * chunks of 1,000 documents and finds its member no longer primary answers 11602
 * InterruptedDueToReplStateChange (with topologyVersion), not 10107, and keeps what it did.
 */
START_TEST(test_stepdown_interrupts_write_in_progress)
{
    mongoc_client_t *c = client_for(NULL);
    const int n = 60000;
    int interrupted = 0;
    for (int attempt = 0; attempt < 5 && !interrupted; attempt++) {
        char name[32];
        snprintf(name, sizeof name, "big%d", attempt);
        mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", name);
        mongoc_bulk_operation_t *bulk =
            mongoc_collection_create_bulk_operation_with_opts(coll, NULL);
        for (int i = 0; i < n; i++) {
            bson_t *d = BCON_NEW("_id", BCON_INT32(i));
            mongoc_bulk_operation_insert(bulk, d);
            bson_destroy(d);
        }
        bson_error_t err;
        ck_assert_msg(mongoc_bulk_operation_execute(bulk, NULL, &err), "%s", err.message);
        mongoc_bulk_operation_destroy(bulk);
        /* The deleteMany goes out first; the step-down, a little later, lands between two of
         * its chunks (60 of them, some 100 ms of work). */
        int primary = sim_primary(&sim);
        int fa = client_connect("127.0.0.1", sim.port + primary, 2000);
        int fb = client_connect("127.0.0.1", sim.port + (primary + 1) % 3, 2000);
        ck_assert(fa >= 0 && fb >= 0);
        char json[256];
        snprintf(json, sizeof json,
                 "{\"delete\": \"%s\", \"deletes\": [{\"q\": {\"_id\": {\"$gte\": 0}}, "
                 "\"limit\": 0}], \"$db\": \"t\"}",
                 name);
        size_t len;
        uint8_t *m = wire_encode_msg(11, 0, tmp_bson(json), &len);
        ck_assert_int_eq(client_send(fa, m, len), 0);
        free(m);
        usleep(15000);
        bson_t reply, sd;
        ck_assert_int_eq(client_command(fb, "admin",
                                        tmp_bson("{\"mongosimStepDown\": 1, \"secs\": 1}"), &sd,
                                        5000),
                         0);
        bson_destroy(&sd);
        ck_assert_int_eq(client_read_reply(fa, &reply, 10000), 0);
        close(fa);
        close(fb);
        bson_iter_t it;
        int64_t code = bson_iter_init_find(&it, &reply, "code") ? bson_iter_as_int64(&it) : 0;
        /* ok: the delete was done before the step-down; 10107: the step-down came before it
         * began (a busy scheduler). Neither is what this tests: try again. */
        if (code == 0 || code == 10107) {
            bson_destroy(&reply);
            mongoc_collection_destroy(coll);
            continue;
        }
        ck_assert_int_eq(code, 11602);
        ck_assert(bson_iter_init_find(&it, &reply, "codeName"));
        ck_assert_str_eq(bson_iter_utf8(&it, NULL), "InterruptedDueToReplStateChange");
        ck_assert(bson_iter_init(&it, &reply) &&
                  bson_iter_find_descendant(&it, "topologyVersion.counter", &it));
        bson_destroy(&reply);
        /* Part of the work was done, not all of it: the rest is still there. */
        /* The driver may not have seen the step-down yet and ask the old primary ("not
         * primary"), as an application's retry would: again until the new primary answers. */
        int64_t left = -1;
        for (int i = 0; i < 100 && left < 0; i++) {
            left = mongoc_collection_count_documents(coll, tmp_bson("{}"), NULL, NULL, NULL, &err);
            if (left < 0)
                usleep(100000);
        }
        ck_assert_msg(left > 0 && left < n, "left %lld of %d: %s", (long long)left, n, err.message);
        interrupted = 1;
        mongoc_collection_destroy(coll);
    }
    ck_assert_msg(interrupted, "the step-down never landed inside the deleteMany");
    mongoc_client_destroy(c);
}
END_TEST

START_TEST(test_pause_resume_and_latency)
{
    bson_t reply;
    int fd = client_connect("127.0.0.1", sim.port + 1, 2000);
    ck_assert_int_ge(fd, 0);
    /* Latency: every reply of member 1 is held back. */
    sim_admin(&sim, 0, "{\"mongosimLatency\": 1, \"member\": 1, \"ms\": 300}", NULL);
    int64_t t0 = msim_now_ms();
    ck_assert_int_eq(client_command(fd, "admin", tmp_bson("{\"ping\": 1}"), &reply, 3000), 0);
    ck_assert_int_ge(msim_now_ms() - t0, 250);
    bson_destroy(&reply);
    sim_admin(&sim, 0, "{\"mongosimLatency\": 1, \"member\": 1, \"ms\": 0}", NULL);
    t0 = msim_now_ms();
    ck_assert_int_eq(client_command(fd, "admin", tmp_bson("{\"ping\": 1}"), &reply, 3000), 0);
    ck_assert_int_lt(msim_now_ms() - t0, 200);
    bson_destroy(&reply);
    /* Pause: the member accepts and reads but never answers, until resumed. */
    sim_admin(&sim, 0, "{\"mongosimPause\": 1, \"member\": 1}", NULL);
    ck_assert_int_ne(client_command(fd, "admin", tmp_bson("{\"ping\": 1}"), &reply, 400), 0);
    int fd2 = client_connect("127.0.0.1", sim.port + 1, 2000);
    ck_assert_int_ge(fd2, 0); /* still accepting */
    ck_assert_int_ne(client_command(fd2, "admin", tmp_bson("{\"ping\": 1}"), &reply, 300), 0);
    sim_admin(&sim, 0, "{\"mongosimResume\": 1, \"member\": 1}", NULL);
    ck_assert_int_eq(client_read_reply(fd, &reply, 2000), 0); /* the held ping is answered */
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, &reply, "ok") && bson_iter_as_bool(&it));
    bson_destroy(&reply);
    ck_assert_int_eq(client_read_reply(fd2, &reply, 2000), 0);
    bson_destroy(&reply);
    close(fd);
    close(fd2);
    /* Pausing the primary gets a new one elected; after resuming it is a secondary. */
    sim_admin(&sim, 1, "{\"mongosimPause\": 1, \"member\": 0}", NULL);
    int p = sim_primary(&sim);
    ck_assert_int_ne(p, 0);
    sim_admin(&sim, 1, "{\"mongosimResume\": 1, \"member\": 0}", NULL);
    sim_admin(&sim, 0, "{\"replSetGetStatus\": 1}", &reply);
    ck_assert(bson_iter_init_find(&it, &reply, "myState"));
    ck_assert_int_eq(bson_iter_int32(&it), 2);
    bson_destroy(&reply);
}
END_TEST

int main(void)
{
    mongoc_init();
    Suite *s = suite_create("mongosim_faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_change_stream_stepdown_resume);
    tcase_add_test(tc, test_killed_primary_fails_over);
    tcase_add_test(tc, test_discovery_from_one_seed);
    tcase_add_test(tc, test_awaitable_hello_waits_for_change);
    tcase_add_test(tc, test_hello_streams_with_exhaust);
    tcase_add_test(tc, test_stepdown_interrupts_write_in_progress);
    tcase_add_test(tc, test_pause_resume_and_latency);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    mongoc_cleanup();
    return failed == 0 ? 0 : 1;
}
