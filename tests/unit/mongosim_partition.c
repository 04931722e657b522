/*
 * mongosimPartition / mongosimHeal through the wire and the real mongo-c-driver: a member
 * cut off from its peers. With --stale-primary-ms 0 the partitioned primary steps down at
 * once and refuses writes, reports itself a secondary that sees no primary, the other two
 * elect a new primary only after the election timeout, no two members are ever primary, the
 * cut-off member is never elected, and after the heal it is a secondary of the new primary.
 * A partitioned secondary, and a primary whose secondaries are cut off, behave the same
 * with the stale window (the default). The stale primary itself: mongosim_stale.c; the
 * state machine alone: mongosim_units.c.
 */
#include "mongosim_cut.h"

#define ELECTION_MS 500
#define STALE_MS 2000

/* The old behaviour: a partitioned primary steps down at once. */
static void setup_partition(void)
{
    setenv("MONGOSIM_STALE_PRIMARY_MS", "0", 1);
    sim_start(&sim, 3, "500ms");
}

/* A stale primary for STALE_MS, while the others elect a new one after ELECTION_MS. */
static void setup_stale(void)
{
    char ms[16];
    snprintf(ms, sizeof ms, "%d", STALE_MS);
    setenv("MONGOSIM_STALE_PRIMARY_MS", ms, 1);
    sim_start(&sim, 3, "500ms");
}

/*
 * Polls every member's hello until one of 1 and 2 is writable primary (10 s at most).
 * Asserts on every round that at most one member claims to be primary and that member 0
 * (cut off) never does nor names a primary. Returns the new primary.
 */
static int wait_new_primary(void)
{
    for (int t = 0; t < 500; t++) {
        int primaries = 0, found = -1;
        for (int m = 0; m < 3; m++) {
            bson_t h;
            ck_assert_int_eq(sim_hello(&sim, m, &h), 0);
            if (get_bool(&h, "isWritablePrimary")) {
                primaries++;
                found = m;
            }
            if (m == 0) {
                ck_assert(!get_bool(&h, "isWritablePrimary"));
                ck_assert(get_bool(&h, "secondary"));
                ck_assert_int_eq(named_primary(&h), -1);
            }
            bson_destroy(&h);
        }
        ck_assert_int_le(primaries, 1);
        if (found >= 0)
            return found;
        usleep(20000);
    }
    ck_abort_msg("no new primary within 10 s of the partition");
    return -1;
}

START_TEST(test_partitioned_primary_replaced)
{
    mongoc_client_t *c = client_for("&w=majority");
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "part");
    insert_i(coll, 1, 0);
    ck_assert_int_eq(sim_primary(&sim), 0);

    /* Cut member 0 (the primary) off, through member 2. */
    int64_t t0 = msim_now_ms();
    sim_admin(&sim, 2, "{\"mongosimPartition\": 1, \"member\": 0}", NULL);

    /* At once: it is a secondary that sees no primary, and refuses a majority write. */
    bson_t r;
    on_member(0, "admin", "{\"hello\": 1}", &r);
    ck_assert(!get_bool(&r, "isWritablePrimary"));
    ck_assert(get_bool(&r, "secondary"));
    ck_assert_int_eq(named_primary(&r), -1);
    bson_destroy(&r);
    on_member(0, "t",
              "{\"insert\": \"part\", \"documents\": [{\"i\": 99}], \"writeConcern\": {\"w\": "
              "\"majority\"}, \"$db\": \"t\"}",
              &r);
    ck_assert(!get_bool(&r, "ok"));
    ck_assert_int_eq(get_int(&r, "code"), 10107);
    bson_destroy(&r);
    /* Its own status: the others are unreachable; theirs: it is. */
    on_member(0, "admin", "{\"replSetGetStatus\": 1}", &r);
    ck_assert_int_eq(get_int(&r, "myState"), 2);
    bson_iter_t it;
    ck_assert(bson_iter_init(&it, &r) && bson_iter_find_descendant(&it, "members.1.state", &it));
    ck_assert_int_eq(bson_iter_int32(&it), 8);
    bson_destroy(&r);

    /* The other two elect one of them, not before the election timeout. */
    int p = wait_new_primary();
    ck_assert_int_ge(msim_now_ms() - t0, ELECTION_MS - 50);
    ck_assert(p == 1 || p == 2);
    on_member(p, "admin", "{\"replSetGetStatus\": 1}", &r);
    ck_assert(bson_iter_init(&it, &r) && bson_iter_find_descendant(&it, "members.0.state", &it));
    ck_assert_int_eq(bson_iter_int32(&it), 8);
    bson_destroy(&r);

    /* The driver, which still reaches member 0, writes to the new primary (w: majority). */
    insert_i(coll, 2, 0);
    /* Member 0 stays cut off and is never elected, however long it waits. */
    usleep(2 * ELECTION_MS * 1000);
    ck_assert_int_eq(wait_new_primary(), p);

    /* Heal: it rejoins as a secondary of the new primary, with every write. */
    sim_admin(&sim, 2, "{\"mongosimHeal\": 1, \"member\": 0}", NULL);
    on_member(0, "admin", "{\"hello\": 1}", &r);
    ck_assert(!get_bool(&r, "isWritablePrimary"));
    ck_assert_int_eq(named_primary(&r), p);
    bson_destroy(&r);
    on_member(0, "admin", "{\"replSetGetStatus\": 1}", &r);
    ck_assert_int_eq(get_int(&r, "myState"), 2);
    bson_destroy(&r);
    usleep(2 * ELECTION_MS * 1000);
    ck_assert_int_eq(sim_primary(&sim), p);
    bson_error_t err;
    ck_assert_int_eq(
        mongoc_collection_count_documents(coll, tmp_bson("{}"), NULL, NULL, NULL, &err), 2);
    /* Healing twice, or a member that is not cut off, is refused. */
    on_member(1, "admin", "{\"mongosimHeal\": 1, \"member\": 0}", &r);
    ck_assert(!get_bool(&r, "ok"));
    bson_destroy(&r);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

START_TEST(test_partitioned_secondaries_cost_the_majority)
{
    /* Cutting off both secondaries leaves the primary alone: it steps down, nobody leads. */
    ck_assert_int_eq(sim_primary(&sim), 0);
    sim_admin(&sim, 0, "{\"mongosimPartition\": 1, \"member\": 1}", NULL);
    ck_assert_int_eq(sim_primary(&sim), 0); /* one of three cut off: still a majority */
    sim_admin(&sim, 0, "{\"mongosimPartition\": 1, \"member\": 2}", NULL);
    bson_t r;
    on_member(0, "t", "{\"insert\": \"part\", \"documents\": [{\"i\": 1}], \"$db\": \"t\"}", &r);
    ck_assert_int_eq(get_int(&r, "code"), 10107);
    bson_destroy(&r);
    usleep(2 * ELECTION_MS * 1000);
    for (int m = 0; m < 3; m++) {
        ck_assert_int_eq(sim_hello(&sim, m, &r), 0);
        ck_assert(!get_bool(&r, "isWritablePrimary"));
        bson_destroy(&r);
    }
    /* One heal restores a majority: an election follows. */
    sim_admin(&sim, 0, "{\"mongosimHeal\": 1, \"member\": 1}", NULL);
    int p = sim_primary(&sim);
    ck_assert(p == 0 || p == 1);
}
END_TEST

/* lastWrite.opTime.ts of member's hello, as one 64-bit number. */
static uint64_t last_write(int member)
{
    bson_t h;
    bson_iter_t it;
    uint32_t t, i;
    ck_assert_int_eq(sim_hello(&sim, member, &h), 0);
    ck_assert(bson_iter_init(&it, &h) &&
              bson_iter_find_descendant(&it, "lastWrite.opTime.ts", &it));
    bson_iter_timestamp(&it, &t, &i);
    bson_destroy(&h);
    return (uint64_t)t << 32 | i;
}

START_TEST(test_partitioned_member_receives_nothing)
{
    mongoc_client_t *c = client_for("&w=majority");
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "cut");
    bson_error_t err;
    ck_assert_msg(mongoc_client_command_simple(
                      c, "t",
                      tmp_bson("{\"createIndexes\": \"cut\", \"indexes\": [{\"key\": {\"i\": 1}, "
                               "\"name\": \"i_1\"}]}"),
                      NULL, NULL, &err),
                  "createIndexes: %s", err.message);
    for (int k = 1; k <= 3; k++) {
        char d[64];
        snprintf(d, sizeof d, "{\"_id\": %d, \"i\": %d}", k, k);
        ck_assert(mongoc_collection_insert_one(coll, tmp_bson(d), NULL, NULL, &err));
    }
    /* A client of member 2 alone, with a change stream opened before the cut. */
    mongoc_client_t *d = direct_client(2);
    mongoc_collection_t *dcoll = mongoc_client_get_collection(d, "t", "cut");
    mongoc_change_stream_t *cs =
        mongoc_collection_watch(dcoll, tmp_bson("{}"), tmp_bson("{\"maxAwaitTimeMS\": 100}"));
    ck_assert_ptr_null(event_within(cs));
    ck_assert_int_eq(count_of(dcoll, "{}"), 3);

    sim_admin(&sim, 0, "{\"mongosimPartition\": 1, \"member\": 2}", NULL);
    ck_assert_int_eq(sim_primary(&sim), 0); /* two of three still make a majority */
    /* The majority side writes on: an insert, an update, a delete. */
    ck_assert(
        mongoc_collection_insert_one(coll, tmp_bson("{\"_id\": 4, \"i\": 4}"), NULL, NULL, &err));
    ck_assert(mongoc_collection_update_one(coll, tmp_bson("{\"_id\": 1}"),
                                           tmp_bson("{\"$set\": {\"x\": 7}}"), NULL, NULL, &err));
    ck_assert(mongoc_collection_delete_one(coll, tmp_bson("{\"_id\": 3}"), NULL, NULL, &err));
    ck_assert_int_eq(count_of(coll, "{}"), 3);
    ck_assert_int_eq(x_of(coll, 1), 7);

    /* Member 2 has none of it: by scan, by _id, by the secondary index, on its stream. */
    ck_assert_int_eq(count_of(dcoll, "{}"), 3);
    ck_assert_int_eq(count_of(dcoll, "{\"_id\": 3}"), 1);
    ck_assert_int_eq(count_of(dcoll, "{\"i\": {\"$gte\": 4}}"), 0);
    ck_assert_int_eq(x_of(dcoll, 1), -1);
    ck_assert_ptr_null(event_within(cs));
    /* Its hello and status show it behind; the majority side's status: unreachable. */
    ck_assert_uint_lt(last_write(2), last_write(0));
    bson_t r;
    bson_iter_t it;
    on_member(0, "admin", "{\"replSetGetStatus\": 1}", &r);
    ck_assert(bson_iter_init(&it, &r) && bson_iter_find_descendant(&it, "members.2.optime.t", &it));
    ck_assert_int_eq(bson_iter_as_int64(&it), -1);
    bson_destroy(&r);
    /* A find cursor over its copy, left open across the heal. */
    mongoc_cursor_t *fc = mongoc_collection_find_with_opts(
        dcoll, tmp_bson("{}"), tmp_bson("{\"batchSize\": 1, \"sort\": {\"_id\": 1}}"), NULL);
    const bson_t *doc;
    ck_assert(mongoc_cursor_next(fc, &doc));

    /* Heal: it catches up from the others' oplog, and its stream delivers what it missed. */
    sim_admin(&sim, 0, "{\"mongosimHeal\": 1, \"member\": 2}", NULL);
    ck_assert_int_eq(count_of(dcoll, "{}"), 3);
    ck_assert_int_eq(count_of(dcoll, "{\"_id\": 3}"), 0);
    ck_assert_int_eq(x_of(dcoll, 1), 7);
    ck_assert_uint_eq(last_write(2), last_write(0));
    const char *want[] = {"insert", "update", "delete"};
    for (int k = 0; k < 3; k++) {
        bson_t *ev = event_within(cs);
        ck_assert_msg(ev != NULL, "no %s event after the heal", want[k]);
        ck_assert_str_eq(op_type(ev), want[k]);
        bson_destroy(ev);
    }
    ck_assert_ptr_null(event_within(cs));
    /* The cursor over the copy that went is closed, not read after free. */
    while (mongoc_cursor_next(fc, &doc))
        ;
    ck_assert(mongoc_cursor_error(fc, &err));
    ck_assert_int_eq(err.code, 43); /* CursorNotFound */
    mongoc_cursor_destroy(fc);
    mongoc_change_stream_destroy(cs);
    mongoc_collection_destroy(dcoll);
    mongoc_client_destroy(d);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

int main(void)
{
    mongoc_init();
    Suite *s = suite_create("mongosim_partition");
    TCase *tc = tcase_create("partition");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup_partition, teardown);
    tcase_add_test(tc, test_partitioned_primary_replaced);
    tcase_add_test(tc, test_partitioned_secondaries_cost_the_majority);
    tcase_add_test(tc, test_partitioned_member_receives_nothing);
    suite_add_tcase(s, tc);
    TCase *st = tcase_create("stale");
    tcase_set_timeout(st, 60);
    tcase_add_checked_fixture(st, setup_stale, teardown);
    /* A partitioned secondary, and a primary whose secondaries are cut off, as before. */
    tcase_add_test(st, test_partitioned_secondaries_cost_the_majority);
    tcase_add_test(st, test_partitioned_member_receives_nothing);
    suite_add_tcase(s, st);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    mongoc_cleanup();
    return failed == 0 ? 0 : 1;
}
