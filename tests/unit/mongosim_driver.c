/*
 * mongosim against the real mongo-c-driver: inserts and queries, unique indexes, retryable
 * inserts through a step-down, error shapes, bad input on the wire. Each case starts its own
 * mongosim (mongosim_harness.h). Faults and change streams: mongosim_faults.c; updates,
 * deletes and the rest of CRUD: mongosim_crud.c; the relay's usage: mongosim_relay.c.
 */
#include <check.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wire.h"

#include "mongosim_harness.h"

START_TEST(test_insert_find_sort_limit)
{
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "items");
    for (int i = 0; i < 20; i++)
        insert_i(coll, i, i % 3);
    bson_t *filter = BCON_NEW("g", BCON_INT32(1));
    bson_t *opts = BCON_NEW("sort", "{", "i", BCON_INT32(-1), "}", "limit", BCON_INT64(3),
                            "projection", "{", "i", BCON_INT32(1), "_id", BCON_INT32(0), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc;
    int want[] = {19, 16, 13}, k = 0;
    bson_iter_t it;
    while (mongoc_cursor_next(cur, &doc)) {
        ck_assert_int_lt(k, 3);
        ck_assert(bson_iter_init_find(&it, doc, "i"));
        ck_assert_int_eq(bson_iter_int32(&it), want[k++]);
        ck_assert(!bson_iter_init_find(&it, doc, "g")); /* projected away */
        ck_assert(!bson_iter_init_find(&it, doc, "_id"));
    }
    ck_assert_int_eq(k, 3);
    bson_error_t err;
    ck_assert_msg(!mongoc_cursor_error(cur, &err), "%s", err.message);
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    bson_destroy(opts);

    /* $in / $gt / $lte with a small batch size, so getMore is exercised. */
    filter = BCON_NEW("i", "{", "$gt", BCON_INT32(4), "$lte", BCON_INT32(15), "}", "g", "{", "$in",
                      "[", BCON_INT32(0), BCON_INT32(2), "]", "}");
    opts = BCON_NEW("sort", "{", "i", BCON_INT32(1), "}", "batchSize", BCON_INT32(2));
    cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    int got[20], n = 0;
    while (mongoc_cursor_next(cur, &doc) && n < 20) {
        ck_assert(bson_iter_init_find(&it, doc, "i"));
        got[n++] = bson_iter_int32(&it);
    }
    ck_assert_msg(!mongoc_cursor_error(cur, &err), "%s", err.message);
    int expect[] = {5, 6, 8, 9, 11, 12, 14, 15};
    ck_assert_int_eq(n, 8);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(got[i], expect[i]);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);

    int64_t cnt = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err);
    ck_assert_msg(cnt == 8, "count_documents %lld: %s", (long long)cnt, err.message);
    bson_destroy(filter);
    filter = BCON_NEW("nope", "{", "$exists", BCON_BOOL(false), "}");
    ck_assert_int_eq(mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err), 20);
    bson_destroy(filter);

    /* Skip past the end, and an unknown operator is an error, not a crash. */
    filter = BCON_NEW("i", "{", "$regexish", BCON_INT32(1), "}");
    cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    ck_assert(!mongoc_cursor_next(cur, &doc));
    ck_assert(mongoc_cursor_error(cur, &err));
    ck_assert_int_eq(err.code, 2);
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);

    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

START_TEST(test_unique_index_violation)
{
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "products");
    bson_error_t err;
    mongoc_database_t *db = mongoc_client_get_database(c, "t");
    ck_assert_msg(mongoc_database_write_command_with_opts(
                      db,
                      tmp_bson("{\"createIndexes\": \"products\", \"indexes\": [{\"key\": "
                               "{\"req_id\": 1}, \"name\": \"req_id_1\", \"unique\": true}]}"),
                      NULL, NULL, &err),
                  "%s", err.message);
    mongoc_database_destroy(db);
    bson_t *doc = BCON_NEW("req_id", "r1", "name", "a");
    ck_assert(mongoc_collection_insert_one(coll, doc, NULL, NULL, &err));
    bson_destroy(doc);
    doc = BCON_NEW("req_id", "r1", "name", "b");
    bson_t reply;
    ck_assert(!mongoc_collection_insert_one(coll, doc, NULL, &reply, &err));
    ck_assert_int_eq(err.code, 11000);
    ck_assert_msg(strstr(err.message, "duplicate key") != NULL, "%s", err.message);
    bson_destroy(&reply);
    bson_destroy(doc);
    ck_assert_int_eq(
        mongoc_collection_count_documents(coll, tmp_bson("{}"), NULL, NULL, NULL, &err), 1);

    /* An unordered batch keeps going past the duplicate. */
    mongoc_bulk_operation_t *bulk =
        mongoc_collection_create_bulk_operation_with_opts(coll, tmp_bson("{\"ordered\": false}"));
    const char *ids[] = {"r2", "r1", "r3"};
    for (int i = 0; i < 3; i++) {
        bson_t *d = BCON_NEW("req_id", BCON_UTF8(ids[i]));
        mongoc_bulk_operation_insert(bulk, d);
        bson_destroy(d);
    }
    ck_assert(!mongoc_bulk_operation_execute(bulk, &reply, &err));
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, &reply, "nInserted"));
    ck_assert_int_eq(bson_iter_as_int64(&it), 2);
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);
    ck_assert_int_eq(
        mongoc_collection_count_documents(coll, tmp_bson("{}"), NULL, NULL, NULL, &err), 3);

    /* listIndexes reports it as unique. */
    mongoc_cursor_t *cur = mongoc_collection_find_indexes_with_opts(coll, NULL);
    const bson_t *ix;
    int found = 0;
    while (mongoc_cursor_next(cur, &ix))
        if (bson_iter_init_find(&it, ix, "name") &&
            strcmp(bson_iter_utf8(&it, NULL), "req_id_1") == 0)
            found = bson_iter_init_find(&it, ix, "unique") && bson_iter_as_bool(&it);
    ck_assert(found);
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

struct writer {
    mongoc_client_pool_t *pool;
    int t, n;
    volatile int *acked_total;
    pthread_mutex_t *mu;
    int acked[500];
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    mongoc_client_t *c = mongoc_client_pool_pop(w->pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "retry");
    bson_t opts = BSON_INITIALIZER;
    mongoc_write_concern_t *wc = mongoc_write_concern_new();
    mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
    mongoc_write_concern_append(wc, &opts);
    for (int i = 0; i < w->n; i++) {
        bson_error_t err;
        bson_t *doc = BCON_NEW("t", BCON_INT32(w->t), "i", BCON_INT32(i));
        if (mongoc_collection_insert_one(coll, doc, &opts, NULL, &err)) {
            w->acked[i] = 1;
            pthread_mutex_lock(w->mu);
            (*w->acked_total)++;
            pthread_mutex_unlock(w->mu);
        } else {
            fprintf(stderr, "insert t=%d i=%d failed: %s\n", w->t, i, err.message);
        }
        bson_destroy(doc);
    }
    mongoc_write_concern_destroy(wc);
    bson_destroy(&opts);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(w->pool, c);
    return NULL;
}

START_TEST(test_stepdown_during_retryable_inserts)
{
    char uri_s[512];
    sim_uri(&sim, uri_s, sizeof uri_s, NULL);
    mongoc_uri_t *uri = mongoc_uri_new(uri_s);
    mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
    mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    volatile int total = 0;
    static struct writer w[2];
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t] = (struct writer){.pool = pool, .t = t, .n = 500, .acked_total = &total, .mu = &mu};
        ck_assert_int_eq(pthread_create(&th[t], NULL, writer_main, &w[t]), 0);
    }
    /* Step the primary down once a third of the inserts are acknowledged. */
    int at = 0;
    for (int spin = 0; spin < 20000; spin++) {
        pthread_mutex_lock(&mu);
        at = total;
        pthread_mutex_unlock(&mu);
        if (at >= 300)
            break;
        usleep(1000);
    }
    ck_assert_int_ge(at, 300);
    int before = sim_primary_port(&sim);
    sim_admin(&sim, -1, "{\"replSetStepDown\": 10}", NULL);
    ck_assert_int_lt(at, 1000); /* the step-down really happened mid-run */
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    ck_assert_int_eq(total, 1000);
    int after = sim_primary_port(&sim);
    ck_assert_int_ne(before, after);

    /* Every acknowledged insert is present exactly once. */
    mongoc_client_t *c = mongoc_client_pool_pop(pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "retry");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, tmp_bson("{}"), NULL, NULL);
    static int seen[2][500];
    memset(seen, 0, sizeof seen);
    const bson_t *doc;
    int n = 0;
    while (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t a, b;
        ck_assert(bson_iter_init_find(&a, doc, "t") && bson_iter_init_find(&b, doc, "i"));
        seen[bson_iter_int32(&a)][bson_iter_int32(&b)]++;
        n++;
    }
    bson_error_t err;
    ck_assert_msg(!mongoc_cursor_error(cur, &err), "%s", err.message);
    ck_assert_int_eq(n, 1000);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 500; i++)
            ck_assert_msg(seen[t][i] == w[t].acked[i], "t=%d i=%d seen %d times, acked %d", t, i,
                          seen[t][i], w[t].acked[i]);
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(pool, c);
    mongoc_client_pool_destroy(pool);
    mongoc_uri_destroy(uri);
}
END_TEST

START_TEST(test_error_shapes)
{
    bson_t reply;
    bson_error_t err;
    /* Unknown command. */
    mongoc_client_t *c = client_for(NULL);
    ck_assert(
        !mongoc_client_command_simple(c, "admin", tmp_bson("{\"fooBar\": 1}"), NULL, &reply, &err));
    ck_assert_int_eq(err.code, 59);
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, &reply, "codeName"));
    ck_assert_str_eq(bson_iter_utf8(&it, NULL), "CommandNotFound");
    bson_destroy(&reply);
    mongoc_client_destroy(c);
    /* A write sent straight to a secondary: NotWritablePrimary; like mongod, the retryable
     * label only on a retryable write (one with a txnNumber). */
    char uri[256];
    snprintf(uri, sizeof uri, "mongodb://127.0.0.1:%d/?directConnection=true", sim.port + 1);
    c = mongoc_client_new(uri);
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    ck_assert(!mongoc_client_command_simple(
        c, "t", tmp_bson("{\"insert\": \"x\", \"documents\": [{\"a\": 1}]}"), NULL, &reply, &err));
    ck_assert_int_eq(err.code, 10107);
    ck_assert(!mongoc_error_has_label(&reply, "RetryableWriteError"));
    /* A state-change error carries the member's topologyVersion, as mongod's do (drivers
     * ignore one that is not newer than what their monitor saw). */
    ck_assert(bson_iter_init(&it, &reply) &&
              bson_iter_find_descendant(&it, "topologyVersion.counter", &it));
    bson_destroy(&reply);
    /* A read on a secondary without a read preference (the driver would add primaryPreferred
     * on a direct connection, so over the raw wire): 13435, with topologyVersion too. */
    int fd = client_connect("127.0.0.1", sim.port + 1, 2000);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(client_command(fd, "t", tmp_bson("{\"find\": \"x\"}"), &reply, 3000), 0);
    close(fd);
    ck_assert(bson_iter_init_find(&it, &reply, "code"));
    ck_assert_int_eq(bson_iter_as_int64(&it), 13435);
    ck_assert(bson_iter_init(&it, &reply) &&
              bson_iter_find_descendant(&it, "topologyVersion.processId", &it));
    bson_destroy(&reply);
    ck_assert(!mongoc_client_command_simple(
        c, "t",
        tmp_bson("{\"insert\": \"x\", \"documents\": [{\"a\": 1}], \"lsid\": {\"id\": "
                 "{\"$binary\": {\"base64\": \"AAAAAAAAAAAAAAAAAAAAAA==\", \"subType\": "
                 "\"04\"}}}, \"txnNumber\": {\"$numberLong\": \"1\"}}"),
        NULL, &reply, &err));
    ck_assert_int_eq(err.code, 10107);
    ck_assert(mongoc_error_has_label(&reply, "RetryableWriteError"));
    bson_destroy(&reply);
    mongoc_client_destroy(c);
}
END_TEST

/* Builds a raw message: header (length, id, 0, opcode) followed by body. Caller frees. */
static uint8_t *raw_msg(int32_t declared_len, int32_t opcode, const void *body, size_t blen,
                        size_t *out_len)
{
    uint8_t *p = calloc(1, 16 + blen);
    int32_t h[4] = {declared_len, 7, 0, opcode};
    memcpy(p, h, 16); /* little-endian host */
    memcpy(p + 16, body, blen);
    *out_len = 16 + blen;
    return p;
}

/* Sends bytes on a fresh connection to member 0; returns 1 when the server closed it. */
static int closes_after(const void *bytes, size_t n)
{
    int fd = client_connect("127.0.0.1", sim.port, 2000);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(client_send(fd, bytes, n), 0);
    int closed = client_wait_closed(fd, 3000);
    close(fd);
    return closed;
}

START_TEST(test_bad_input_closes_only_that_connection)
{
    /* A healthy connection opened first must survive everything below. */
    int good = client_connect("127.0.0.1", sim.port, 2000);
    ck_assert_int_ge(good, 0);
    bson_t reply;
    ck_assert_int_eq(client_command(good, "admin", tmp_bson("{\"ping\": 1}"), &reply, 2000), 0);
    bson_destroy(&reply);

    size_t n;
    uint8_t *m;
    uint8_t zeros[64] = {0};
    /* Length below the minimum. */
    m = raw_msg(5, 2013, zeros, 8, &n);
    ck_assert(closes_after(m, n));
    free(m);
    /* Length over 48 MB: refused from the header alone. */
    m = raw_msg(48000001 + 1000, 2013, zeros, 8, &n);
    ck_assert(closes_after(m, n));
    free(m);
    /* Unknown opcode. */
    m = raw_msg(16 + 21, 2010, zeros, 21, &n);
    ck_assert(closes_after(m, n));
    free(m);
    /* OP_MSG whose body claims more bytes than the message has (invalid BSON). */
    uint8_t body[32] = {0, 0, 0, 0, 0, 100, 0, 0, 0, 2, 'a', 0};
    m = raw_msg(16 + 21, 2013, body, 21, &n);
    ck_assert(closes_after(m, n));
    free(m);
    /* OP_MSG with an unknown required flag bit. */
    bson_t *ping = tmp_bson("{\"ping\": 1, \"$db\": \"admin\"}");
    uint8_t *enc = wire_encode_msg(9, 0x4, ping, &n);
    ck_assert(closes_after(enc, n));
    free(enc);
    /* OP_QUERY that is not the handshake (a legacy find). */
    uint8_t q[128];
    size_t ql = 0;
    memset(q, 0, 4);
    ql = 4;
    memcpy(q + ql, "t.items", 8);
    ql += 8;
    memset(q + ql, 0, 8);
    ql += 8;
    bson_t *filter = tmp_bson("{\"a\": 1}");
    memcpy(q + ql, bson_get_data(filter), filter->len);
    ql += filter->len;
    m = raw_msg((int32_t)(16 + ql), 2004, q, ql, &n);
    ck_assert(closes_after(m, n));
    free(m);
    /* ...while the legacy handshake itself is answered with OP_REPLY. */
    ql = 4;
    memcpy(q + ql, "admin.$cmd", 11);
    ql += 11;
    memset(q + ql, 0, 4);
    int32_t minus1 = -1;
    memcpy(q + ql + 4, &minus1, 4);
    ql += 8;
    bson_t *hs = tmp_bson("{\"isMaster\": 1, \"helloOk\": true}");
    memcpy(q + ql, bson_get_data(hs), hs->len);
    ql += hs->len;
    m = raw_msg((int32_t)(16 + ql), 2004, q, ql, &n);
    int fd = client_connect("127.0.0.1", sim.port, 2000);
    ck_assert_int_eq(client_send(fd, m, n), 0);
    free(m);
    ck_assert_int_eq(client_read_reply(fd, &reply, 2000), 0);
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, &reply, "ismaster") && bson_iter_as_bool(&it));
    ck_assert(bson_iter_init_find(&it, &reply, "maxWireVersion"));
    ck_assert_int_eq(bson_iter_int32(&it), 17);
    bson_destroy(&reply);
    close(fd);
    /* Truncated message, then the client gives up: the server just drops it. */
    m = raw_msg(200, 2013, zeros, 10, &n);
    fd = client_connect("127.0.0.1", sim.port, 2000);
    ck_assert_int_eq(client_send(fd, m, n), 0);
    free(m);
    close(fd);

    /* The healthy connection and the driver still get answers. */
    ck_assert_int_eq(client_command(good, "admin", tmp_bson("{\"ping\": 1}"), &reply, 2000), 0);
    ck_assert(bson_iter_init_find(&it, &reply, "ok") && bson_iter_as_bool(&it));
    bson_destroy(&reply);
    close(good);
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "after");
    insert_i(coll, 1, 1);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

START_TEST(test_retried_txn_number_inserts_once)
{
    int p = sim_primary(&sim);
    int fd = client_connect("127.0.0.1", sim.port + p, 2000);
    const char *ins = "{\"insert\": \"once\", \"documents\": [{\"_id\": 1}, {\"_id\": 2}], "
                      "\"lsid\": {\"id\": {\"$binary\": {\"base64\": \"AAAAAAAAAAAAAAAAAAAAAA==\", "
                      "\"subType\": \"04\"}}}, \"txnNumber\": {\"$numberLong\": \"5\"}}";
    bson_t reply;
    bson_iter_t it;
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(client_command(fd, "t", tmp_bson(ins), &reply, 2000), 0);
        ck_assert(bson_iter_init_find(&it, &reply, "n"));
        ck_assert_int_eq(bson_iter_as_int64(&it), 2); /* the retry is answered like the first */
        ck_assert(!bson_iter_init_find(&it, &reply, "writeErrors"));
        bson_destroy(&reply);
    }
    ck_assert_int_eq(client_command(fd, "t", tmp_bson("{\"count\": \"once\"}"), &reply, 2000), 0);
    ck_assert(bson_iter_init_find(&it, &reply, "n"));
    ck_assert_int_eq(bson_iter_as_int64(&it), 2);
    bson_destroy(&reply);
    /* An older txnNumber on the same session is refused. */
    const char *old = "{\"insert\": \"once\", \"documents\": [{\"_id\": 3}], "
                      "\"lsid\": {\"id\": {\"$binary\": {\"base64\": \"AAAAAAAAAAAAAAAAAAAAAA==\", "
                      "\"subType\": \"04\"}}}, \"txnNumber\": {\"$numberLong\": \"4\"}}";
    ck_assert_int_eq(client_command(fd, "t", tmp_bson(old), &reply, 2000), 0);
    ck_assert(bson_iter_init_find(&it, &reply, "code"));
    ck_assert_int_eq(bson_iter_int32(&it), 225);
    bson_destroy(&reply);
    close(fd);
}
END_TEST

int main(void)
{
    mongoc_init();
    Suite *s = suite_create("mongosim_driver");
    TCase *tc = tcase_create("driver");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_insert_find_sort_limit);
    tcase_add_test(tc, test_unique_index_violation);
    tcase_add_test(tc, test_stepdown_during_retryable_inserts);
    tcase_add_test(tc, test_error_shapes);
    tcase_add_test(tc, test_bad_input_closes_only_that_connection);
    tcase_add_test(tc, test_retried_txn_number_inserts_once);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    mongoc_cleanup();
    return failed == 0 ? 0 : 1;
}
