/*
 * A stale primary through the wire and the real mongo-c-driver: partitioned, it goes on as
 * primary of its old term for --stale-primary-ms, while the others elect a new primary
 * after the election timeout. It acknowledges w: 1 writes into its own copy, holds majority
 * writes until it steps down (189) or wtimeout passes (64), and the heal rolls its writes
 * back (mongosimRollbacks); a retryable write it took is executed once on the majority
 * side, its change streams never show its writes, and a connection closed while its write
 * is held frees it. (Partitioned secondaries, and the old step-down-at-once behaviour:
 * mongosim_partition.c; the state machine alone: mongosim_units.c.)
 */
#include "mongosim_cut.h"

#define STALE_MS 2000

/* A stale primary for STALE_MS, while the others elect a new one after 500 ms. */
static void setup_stale(void)
{
    char ms[16];
    snprintf(ms, sizeof ms, "%d", STALE_MS);
    setenv("MONGOSIM_STALE_PRIMARY_MS", ms, 1);
    sim_start(&sim, 3, "500ms");
}

/* A client of member alone (direct), whose writes carry w (NULL: no writeConcern at all). */
static mongoc_client_t *direct_writer(int member, const char *w)
{
    char uri[256];
    snprintf(uri, sizeof uri,
             "mongodb://127.0.0.1:%d/?directConnection=true&readPreference=primaryPreferred"
             "&serverSelectionTimeoutMS=5000%s%s",
             sim.port + member, w ? "&w=" : "", w ? w : "");
    mongoc_client_t *c = mongoc_client_new(uri);
    ck_assert_ptr_nonnull(c);
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    return c;
}

/* The electionId of a hello reply, or all zeros. */
static bson_oid_t election_id(const bson_t *hello)
{
    bson_iter_t it;
    bson_oid_t oid;
    memset(&oid, 0, sizeof oid);
    if (bson_iter_init_find(&it, hello, "electionId") && BSON_ITER_HOLDS_OID(&it))
        bson_oid_copy(bson_iter_oid(&it), &oid);
    return oid;
}

/* writeConcernError.<key> of a reply as an integer (-1 when absent). */
static int64_t wce_int(const bson_t *r, const char *key)
{
    char path[64];
    bson_iter_t it, d;
    snprintf(path, sizeof path, "writeConcernError.%s", key);
    if (!bson_iter_init(&it, r) || !bson_iter_find_descendant(&it, path, &d))
        return -1;
    return BSON_ITER_HOLDS_NUMBER(&d) ? bson_iter_as_int64(&d)
           : BSON_ITER_HOLDS_BOOL(&d) ? bson_iter_bool(&d)
                                      : -1;
}

static int has_label(const bson_t *r, const char *label)
{
    return mongoc_error_has_label(r, label);
}

/* Waits until member 1 or 2 is primary (10 s at most); returns it. */
static int wait_majority_primary(void)
{
    for (int t = 0; t < 500; t++) {
        for (int m = 1; m < 3; m++) {
            bson_t h;
            ck_assert_int_eq(sim_hello(&sim, m, &h), 0);
            int p = get_bool(&h, "isWritablePrimary");
            bson_destroy(&h);
            if (p)
                return m;
        }
        usleep(20000);
    }
    ck_abort_msg("the majority side elected no primary within 10 s");
    return -1;
}

START_TEST(test_stale_primary_w1_writes_rolled_back)
{
    mongoc_client_t *c = client_for("&w=majority");
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "stale");
    bson_error_t err;
    ck_assert(
        mongoc_collection_insert_one(coll, tmp_bson("{\"_id\": 1, \"x\": 1}"), NULL, NULL, &err));
    ck_assert_int_eq(sim_primary(&sim), 0);
    mongoc_client_t *d0 = direct_writer(0, "1");
    mongoc_collection_t *c0 = mongoc_client_get_collection(d0, "t", "stale");

    bson_t before, r;
    ck_assert_int_eq(sim_hello(&sim, 0, &before), 0);
    sim_admin(&sim, 2, "{\"mongosimPartition\": 1, \"member\": 0}", NULL);
    /* It goes on as primary of its term, and acknowledges w: 1 writes at once. */
    int64_t t0 = msim_now_ms();
    for (int k = 10; k < 13; k++) {
        char d[64];
        snprintf(d, sizeof d, "{\"_id\": %d, \"x\": %d}", k, k);
        ck_assert_msg(mongoc_collection_insert_one(c0, tmp_bson(d), NULL, NULL, &err), "%s",
                      err.message);
    }
    ck_assert(mongoc_collection_update_one(c0, tmp_bson("{\"_id\": 1}"),
                                           tmp_bson("{\"$set\": {\"x\": 5}}"), NULL, NULL, &err));
    ck_assert(mongoc_collection_delete_one(c0, tmp_bson("{\"_id\": 12}"), NULL, NULL, &err));
    ck_assert_int_lt(msim_now_ms() - t0, 500);
    on_member(0, "admin", "{\"hello\": 1}", &r);
    ck_assert(get_bool(&r, "isWritablePrimary"));
    ck_assert_int_eq(named_primary(&r), 0);
    bson_oid_t stale_id = election_id(&r), was_id = election_id(&before);
    ck_assert(bson_oid_equal(&stale_id, &was_id));
    bson_destroy(&r);
    bson_destroy(&before);
    /* Its clients read its writes. */
    ck_assert_int_eq(count_of(c0, "{}"), 3);
    ck_assert_int_eq(x_of(c0, 1), 5);
    ck_assert_int_eq(x_of(c0, 11), 11);

    /* The majority elects a new primary (a newer electionId) while member 0 still says
     * primary: two primaries, which drivers tell apart by electionId. */
    int p = wait_majority_primary();
    ck_assert_int_lt(msim_now_ms() - t0, STALE_MS);
    on_member(0, "admin", "{\"hello\": 1}", &r);
    ck_assert(get_bool(&r, "isWritablePrimary"));
    bson_destroy(&r);
    on_member(p, "admin", "{\"hello\": 1}", &r);
    bson_oid_t new_id = election_id(&r);
    ck_assert_int_gt(bson_oid_compare(&new_id, &stale_id), 0);
    bson_destroy(&r);
    /* The majority side has none of member 0's writes. */
    mongoc_client_t *dp = direct_client(p);
    mongoc_collection_t *cp = mongoc_client_get_collection(dp, "t", "stale");
    ck_assert_int_eq(count_of(cp, "{}"), 1);
    ck_assert_int_eq(x_of(cp, 1), 1);

    /* The heal: member 0 steps down (if it had not yet) and its writes are rolled back. */
    sim_admin(&sim, 2, "{\"mongosimHeal\": 1, \"member\": 0}", NULL);
    on_member(0, "admin", "{\"hello\": 1}", &r);
    ck_assert(!get_bool(&r, "isWritablePrimary"));
    ck_assert_int_eq(named_primary(&r), p);
    bson_destroy(&r);
    mongoc_client_t *d0r = direct_client(0);
    mongoc_collection_t *c0r = mongoc_client_get_collection(d0r, "t", "stale");
    ck_assert_int_eq(count_of(c0r, "{}"), 1);
    ck_assert_int_eq(count_of(c0r, "{\"_id\": {\"$gte\": 10}}"), 0);
    ck_assert_int_eq(x_of(c0r, 1), 1);
    ck_assert_int_eq(count_of(cp, "{}"), 1);

    /* mongosimRollbacks lists them, oldest first. */
    bson_t rb;
    sim_admin(&sim, 1, "{\"mongosimRollbacks\": 1}", &rb);
    ck_assert_int_eq(get_int(&rb, "rollbacks"), 1);
    ck_assert_int_eq(get_int(&rb, "ops"), 5);
    ck_assert_int_eq(get_int(&rb, "inserts"), 3);
    ck_assert_int_eq(get_int(&rb, "updates"), 1);
    ck_assert_int_eq(get_int(&rb, "deletes"), 1);
    ck_assert_int_eq(get_int(&rb, "listed"), 5);
    const char *ops[] = {"insert", "insert", "insert", "update", "delete"};
    const int ids[] = {10, 11, 12, 1, 12};
    for (int k = 0; k < 5; k++) {
        char path[64];
        bson_iter_t it, v;
        snprintf(path, sizeof path, "operations.%d.op", k);
        ck_assert(bson_iter_init(&it, &rb) && bson_iter_find_descendant(&it, path, &v));
        ck_assert_str_eq(bson_iter_utf8(&v, NULL), ops[k]);
        snprintf(path, sizeof path, "operations.%d._id", k);
        ck_assert(bson_iter_init(&it, &rb) && bson_iter_find_descendant(&it, path, &v));
        ck_assert_int_eq(bson_iter_as_int64(&v), ids[k]);
        snprintf(path, sizeof path, "operations.%d.member", k);
        ck_assert(bson_iter_init(&it, &rb) && bson_iter_find_descendant(&it, path, &v));
        ck_assert_int_eq(bson_iter_int32(&v), 0);
        snprintf(path, sizeof path, "operations.%d.ns", k);
        ck_assert(bson_iter_init(&it, &rb) && bson_iter_find_descendant(&it, path, &v));
        ck_assert_str_eq(bson_iter_utf8(&v, NULL), "t.stale");
    }
    /* The documents as member 0 wrote them: the insert's, the update's result; none for the
     * delete. */
    bson_iter_t it, v;
    ck_assert(bson_iter_init(&it, &rb) && bson_iter_find_descendant(&it, "operations.1.doc.x", &v));
    ck_assert_int_eq(bson_iter_int32(&v), 11);
    ck_assert(bson_iter_init(&it, &rb) && bson_iter_find_descendant(&it, "operations.3.doc.x", &v));
    ck_assert_int_eq(bson_iter_int32(&v), 5);
    ck_assert(bson_iter_init(&it, &rb) && !bson_iter_find_descendant(&it, "operations.4.doc", &v));
    bson_destroy(&rb);

    mongoc_collection_destroy(c0r);
    mongoc_client_destroy(d0r);
    mongoc_collection_destroy(cp);
    mongoc_client_destroy(dp);
    mongoc_collection_destroy(c0);
    mongoc_client_destroy(d0);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

/* Runs json on member over fd (already connected); returns the reply and how long it took. */
static int64_t timed(int fd, const char *json, bson_t *reply)
{
    int64_t t = msim_now_ms();
    ck_assert_int_eq(client_command(fd, "t", tmp_bson(json), reply, 10000), 0);
    return msim_now_ms() - t;
}

START_TEST(test_stale_primary_holds_majority_writes)
{
    ck_assert_int_eq(sim_primary(&sim), 0);
    int fd = client_connect("127.0.0.1", sim.port, 2000);
    ck_assert_int_ge(fd, 0);
    sim_admin(&sim, 2, "{\"mongosimPartition\": 1, \"member\": 0}", NULL);
    int64_t t0 = msim_now_ms();
    bson_t r;
    /* wtimeout shorter than the window: 64 WriteConcernFailed after about wtimeout, with the
     * write's own result (it was applied, on member 0). */
    int64_t dt = timed(fd,
                       "{\"insert\": \"held\", \"documents\": [{\"_id\": 1}], \"writeConcern\": "
                       "{\"w\": \"majority\", \"wtimeout\": 300}, \"$db\": \"t\"}",
                       &r);
    ck_assert_int_ge(dt, 280);
    ck_assert_int_lt(dt, 1500);
    ck_assert(get_bool(&r, "ok"));
    ck_assert_int_eq(get_int(&r, "n"), 1);
    ck_assert_int_eq(wce_int(&r, "code"), 64);
    ck_assert_int_eq(wce_int(&r, "errInfo.wtimeout"), 1);
    bson_iter_t it, v;
    ck_assert(bson_iter_init(&it, &r) &&
              bson_iter_find_descendant(&it, "writeConcernError.codeName", &v));
    ck_assert_str_eq(bson_iter_utf8(&v, NULL), "WriteConcernFailed");
    ck_assert(!has_label(&r, "RetryableWriteError"));
    bson_destroy(&r);
    /* w: 1 is not held. */
    dt = timed(fd,
               "{\"insert\": \"held\", \"documents\": [{\"_id\": 2}], \"writeConcern\": {\"w\": "
               "1}, \"$db\": \"t\"}",
               &r);
    ck_assert_int_lt(dt, 200);
    ck_assert(get_bool(&r, "ok"));
    ck_assert(!bson_iter_init_find(&it, &r, "writeConcernError"));
    bson_destroy(&r);
    /* No writeConcern at all is the implicit default, majority: held until member 0 steps
     * down by itself, STALE_MS after the cut; then 189, labelled for the driver's retry
     * because it carried a txnNumber. */
    dt = timed(fd,
               "{\"insert\": \"held\", \"documents\": [{\"_id\": 3}], \"lsid\": {\"id\": "
               "{\"$binary\": {\"base64\": \"AAAAAAAAAAAAAAAAAAAAAA==\", \"subType\": \"04\"}}}, "
               "\"txnNumber\": {\"$numberLong\": \"1\"}, \"$db\": \"t\"}",
               &r);
    int64_t since = msim_now_ms() - t0;
    ck_assert_int_ge(since, STALE_MS - 50);
    ck_assert_int_lt(since, STALE_MS + 1500);
    ck_assert(get_bool(&r, "ok"));
    ck_assert_int_eq(get_int(&r, "n"), 1);
    ck_assert_int_eq(wce_int(&r, "code"), 189);
    ck_assert(bson_iter_init(&it, &r) &&
              bson_iter_find_descendant(&it, "writeConcernError.codeName", &v));
    ck_assert_str_eq(bson_iter_utf8(&v, NULL), "PrimarySteppedDown");
    ck_assert(bson_iter_init(&it, &r) &&
              bson_iter_find_descendant(&it, "writeConcernError.errmsg", &v));
    ck_assert_str_eq(bson_iter_utf8(&v, NULL),
                     "Primary stepped down while waiting for replication");
    ck_assert(has_label(&r, "RetryableWriteError"));
    bson_destroy(&r);
    /* It stepped down by itself: a secondary that names no primary, refusing writes. */
    on_member(0, "admin", "{\"hello\": 1}", &r);
    ck_assert(!get_bool(&r, "isWritablePrimary"));
    ck_assert(get_bool(&r, "secondary"));
    ck_assert_int_eq(named_primary(&r), -1);
    bson_destroy(&r);
    timed(fd, "{\"insert\": \"held\", \"documents\": [{\"_id\": 4}], \"$db\": \"t\"}", &r);
    ck_assert_int_eq(get_int(&r, "code"), 10107);
    bson_destroy(&r);
    /* A majority write held when a heal comes gets 189 at the heal. Member 0 is a secondary
     * now; cutting off the new primary too makes it a stale primary. */
    int p = wait_majority_primary();
    close(fd);
    fd = client_connect("127.0.0.1", sim.port + p, 2000);
    ck_assert_int_ge(fd, 0);
    char cut[96];
    snprintf(cut, sizeof cut, "{\"mongosimPartition\": 1, \"member\": %d}", p);
    sim_admin(&sim, 3 - p, cut, NULL);
    /* Heal p from another connection while the write waits. */
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        usleep(300000);
        char heal[96];
        snprintf(heal, sizeof heal, "{\"mongosimHeal\": 1, \"member\": %d}", p);
        int hfd = client_connect("127.0.0.1", sim.port + 3 - p, 2000);
        bson_t hr;
        int rc = hfd >= 0 ? client_command(hfd, "admin", tmp_bson(heal), &hr, 5000) : -1;
        _exit(rc == 0 ? 0 : 1);
    }
    dt = timed(fd,
               "{\"insert\": \"held\", \"documents\": [{\"_id\": 5}], \"writeConcern\": {\"w\": "
               "\"majority\"}, \"$db\": \"t\"}",
               &r);
    int st;
    ck_assert_int_eq(waitpid(child, &st, 0), child);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_int_ge(dt, 250);
    ck_assert_int_lt(dt, STALE_MS - 200);
    ck_assert_int_eq(wce_int(&r, "code"), 189);
    ck_assert(!has_label(&r, "RetryableWriteError")); /* no txnNumber */
    bson_destroy(&r);
    close(fd);
}
END_TEST

START_TEST(test_stale_primary_retryable_insert_once)
{
    /* The driver's defaults: retryWrites, no writeConcern (the implicit majority). */
    mongoc_client_t *c = client_for("&heartbeatFrequencyMS=500");
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "retry");
    bson_error_t err;
    ck_assert(mongoc_collection_insert_one(coll, tmp_bson("{\"_id\": 1}"), NULL, NULL, &err));
    ck_assert_int_eq(sim_primary(&sim), 0);
    sim_admin(&sim, 2, "{\"mongosimPartition\": 1, \"member\": 0}", NULL);
    /* It goes to member 0, the primary the driver knows: held until it steps down (189,
     * RetryableWriteError), then retried on the new primary, where its txnNumber is unknown
     * (member 0's memory of it is its own), so it is executed there, once. */
    int64_t t0 = msim_now_ms();
    ck_assert_msg(
        mongoc_collection_insert_one(coll, tmp_bson("{\"_id\": 77, \"v\": 1}"), NULL, NULL, &err),
        "insert: %s", err.message);
    ck_assert_int_ge(msim_now_ms() - t0, STALE_MS - 100); /* it was held on member 0 */
    int p = wait_majority_primary();
    mongoc_client_t *dp = direct_client(p);
    mongoc_collection_t *cp = mongoc_client_get_collection(dp, "t", "retry");
    ck_assert_int_eq(count_of(cp, "{\"_id\": 77}"), 1);
    ck_assert_int_eq(count_of(coll, "{}"), 2);
    /* After the heal: still exactly once, everywhere; member 0's copy was rolled back. */
    sim_admin(&sim, p, "{\"mongosimHeal\": 1, \"member\": 0}", NULL);
    mongoc_client_t *d0 = direct_client(0);
    mongoc_collection_t *c0 = mongoc_client_get_collection(d0, "t", "retry");
    ck_assert_int_eq(count_of(c0, "{\"_id\": 77}"), 1);
    ck_assert_int_eq(count_of(cp, "{\"_id\": 77}"), 1);
    bson_t rb;
    sim_admin(&sim, p, "{\"mongosimRollbacks\": 1}", &rb);
    ck_assert_int_eq(get_int(&rb, "inserts"), 1);
    bson_iter_t it, v;
    ck_assert(bson_iter_init(&it, &rb) && bson_iter_find_descendant(&it, "operations.0._id", &v));
    ck_assert_int_eq(bson_iter_as_int64(&v), 77);
    bson_destroy(&rb);
    /* A retry of the same write (same lsid and txnNumber) on the new primary now answers. */
    ck_assert_int_eq(count_of(coll, "{}"), 2);
    mongoc_collection_destroy(c0);
    mongoc_client_destroy(d0);
    mongoc_collection_destroy(cp);
    mongoc_client_destroy(dp);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

START_TEST(test_stale_primary_change_streams)
{
    ck_assert_int_eq(sim_primary(&sim), 0);
    mongoc_client_t *d0 = direct_writer(0, "1");
    mongoc_collection_t *c0 = mongoc_client_get_collection(d0, "t", "cs");
    bson_error_t err;
    ck_assert(mongoc_collection_insert_one(c0, tmp_bson("{\"_id\": 1}"), NULL, NULL, &err));
    mongoc_change_stream_t *before =
        mongoc_collection_watch(c0, tmp_bson("{}"), tmp_bson("{\"maxAwaitTimeMS\": 100}"));
    ck_assert_ptr_null(event_within(before));
    sim_admin(&sim, 2, "{\"mongosimPartition\": 1, \"member\": 0}", NULL);
    mongoc_change_stream_t *after =
        mongoc_collection_watch(c0, tmp_bson("{}"), tmp_bson("{\"maxAwaitTimeMS\": 100}"));
    /* Acknowledged (w: 1) on the stale primary, never majority-committed: no stream shows
     * them. */
    ck_assert(mongoc_collection_insert_one(c0, tmp_bson("{\"_id\": 2}"), NULL, NULL, &err));
    ck_assert(mongoc_collection_update_one(c0, tmp_bson("{\"_id\": 1}"),
                                           tmp_bson("{\"$set\": {\"y\": 1}}"), NULL, NULL, &err));
    ck_assert_int_eq(count_of(c0, "{}"), 2);
    ck_assert_ptr_null(event_within(before));
    ck_assert_ptr_null(event_within(after));
    /* The majority side writes; after the heal both streams deliver that, and only that. */
    int p = wait_majority_primary();
    mongoc_client_t *c = client_for("&w=majority");
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "cs");
    ck_assert(mongoc_collection_insert_one(coll, tmp_bson("{\"_id\": 3}"), NULL, NULL, &err));
    ck_assert_ptr_null(event_within(before));
    char heal[64];
    snprintf(heal, sizeof heal, "{\"mongosimHeal\": 1, \"member\": 0}");
    sim_admin(&sim, p, heal, NULL);
    mongoc_change_stream_t *streams[] = {before, after};
    for (int k = 0; k < 2; k++) {
        bson_t *ev = event_within(streams[k]);
        ck_assert_msg(ev != NULL, "stream %d: no event after the heal", k);
        ck_assert_str_eq(op_type(ev), "insert");
        bson_iter_t it;
        ck_assert(bson_iter_init(&it, ev) &&
                  bson_iter_find_descendant(&it, "documentKey._id", &it));
        ck_assert_int_eq(bson_iter_as_int64(&it), 3);
        bson_destroy(ev);
        ck_assert_ptr_null(event_within(streams[k]));
    }
    mongoc_change_stream_destroy(after);
    mongoc_change_stream_destroy(before);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    mongoc_collection_destroy(c0);
    mongoc_client_destroy(d0);
}
END_TEST

START_TEST(test_stale_primary_held_write_conn_closed)
{
    /* Writes held on connections that close: everything they held is freed at once (the
     * sanitized build fails on a leak or a use after free when mongosim exits). */
    ck_assert_int_eq(sim_primary(&sim), 0);
    sim_admin(&sim, 2, "{\"mongosimPartition\": 1, \"member\": 0}", NULL);
    for (int k = 0; k < 20; k++) {
        int fd = client_connect("127.0.0.1", sim.port, 2000);
        ck_assert_int_ge(fd, 0);
        bson_t r;
        char cmd[160];
        snprintf(cmd, sizeof cmd,
                 "{\"insert\": \"gone\", \"documents\": [{\"_id\": %d}], \"writeConcern\": "
                 "{\"w\": \"majority\"}, \"$db\": \"t\"}",
                 k);
        ck_assert_int_eq(client_command(fd, "t", tmp_bson(cmd), &r, 50), -1); /* held */
        close(fd);
    }
    /* One left waiting when mongosim stops, too. */
    int fd = client_connect("127.0.0.1", sim.port, 2000);
    bson_t r;
    ck_assert_int_eq(client_command(fd, "t",
                                    tmp_bson("{\"insert\": \"gone\", \"documents\": [{\"_id\": "
                                             "100}], \"$db\": \"t\"}"),
                                    &r, 50),
                     -1);
    /* The member still answers; mongosimRollbacks after a heal lists the 21 writes. */
    on_member(0, "admin", "{\"ping\": 1}", &r);
    ck_assert(get_bool(&r, "ok"));
    bson_destroy(&r);
    sim_admin(&sim, 2, "{\"mongosimHeal\": 1, \"member\": 0}", NULL);
    ck_assert_int_eq(client_read_reply(fd, &r, 2000), 0); /* answered at the heal: 189 */
    ck_assert_int_eq(wce_int(&r, "code"), 189);
    bson_destroy(&r);
    close(fd);
    bson_t rb;
    sim_admin(&sim, 2, "{\"mongosimRollbacks\": 1}", &rb);
    ck_assert_int_eq(get_int(&rb, "inserts"), 21);
    bson_destroy(&rb);
    /* And one still held when mongosim stops (teardown): freed with its connection. */
    int p = wait_majority_primary();
    char cut[96];
    snprintf(cut, sizeof cut, "{\"mongosimPartition\": 1, \"member\": %d}", p);
    sim_admin(&sim, 0, cut, NULL);
    fd = client_connect("127.0.0.1", sim.port + p, 2000);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(client_command(fd, "t",
                                    tmp_bson("{\"insert\": \"gone\", \"documents\": [{\"_id\": "
                                             "200}], \"$db\": \"t\"}"),
                                    &r, 50),
                     -1);
}
END_TEST

int main(void)
{
    mongoc_init();
    Suite *s = suite_create("mongosim_stale");
    TCase *st = tcase_create("stale");
    tcase_set_timeout(st, 60);
    tcase_add_checked_fixture(st, setup_stale, teardown);
    tcase_add_test(st, test_stale_primary_w1_writes_rolled_back);
    tcase_add_test(st, test_stale_primary_holds_majority_writes);
    tcase_add_test(st, test_stale_primary_retryable_insert_once);
    tcase_add_test(st, test_stale_primary_change_streams);
    tcase_add_test(st, test_stale_primary_held_write_conn_closed);
    suite_add_tcase(s, st);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    mongoc_cleanup();
    return failed == 0 ? 0 : 1;
}
