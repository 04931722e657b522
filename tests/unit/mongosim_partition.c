/*
 * mongosimPartition / mongosimHeal through the wire and the real mongo-c-driver: a member
 * cut off from its peers. The partitioned primary steps down at once and refuses writes,
 * reports itself a secondary that sees no primary, the other two elect a new primary only
 * after the election timeout, no two members are ever primary, the cut-off member is never
 * elected, and after the heal it is a secondary of the new primary. (The state machine
 * alone is tested in mongosim_units.c.)
 */
#include "mongosim_harness.h"

#define ELECTION_MS 500

static void setup_partition(void)
{
    sim_start(&sim, 3, "500ms");
}

/* Runs json on member's admin database over a fresh connection; returns the reply. */
static void on_member(int member, const char *db, const char *json, bson_t *reply)
{
    int fd = client_connect("127.0.0.1", sim.port + member, 2000);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(client_command(fd, db, tmp_bson(json), reply, 5000), 0);
    close(fd);
}

static int get_bool(const bson_t *b, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, b, key) && bson_iter_as_bool(&it);
}

static int64_t get_int(const bson_t *b, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, b, key) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it)
                                                                           : -1;
}

/* The member hello of member names as primary (-1: none). */
static int named_primary(const bson_t *hello)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, hello, "primary") || !BSON_ITER_HOLDS_UTF8(&it))
        return -1;
    const char *h = bson_iter_utf8(&it, NULL), *colon = strrchr(h, ':');
    ck_assert_ptr_nonnull(colon);
    return atoi(colon + 1) - sim.port;
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

int main(void)
{
    mongoc_init();
    Suite *s = suite_create("mongosim_partition");
    TCase *tc = tcase_create("partition");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup_partition, teardown);
    tcase_add_test(tc, test_partitioned_primary_replaced);
    tcase_add_test(tc, test_partitioned_secondaries_cost_the_majority);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    mongoc_cleanup();
    return failed == 0 ? 0 : 1;
}
