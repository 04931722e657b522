/*
 * The official C driver's everyday calls against mongosim: distinct, updateOne/updateMany
 * with operators and upserts, replaceOne, deleteOne/deleteMany, findOneAndUpdate/Replace/
 * Delete, countDocuments and estimatedDocumentCount, unique indexes on updates, retryable
 * updates through a step-down, and the change events of updates, replaces, deletes and a
 * drop.
 */
#include <pthread.h>

#include "mongosim_harness.h"

static int64_t get_int(const bson_t *b, const char *path)
{
    bson_iter_t it, f;
    ck_assert_msg(bson_iter_init(&it, b) && bson_iter_find_descendant(&it, path, &f), "no %s in %s",
                  path, bson_as_relaxed_extended_json(b, NULL));
    return bson_iter_as_int64(&f);
}

static const char *get_str(const bson_t *b, const char *path)
{
    bson_iter_t it, f;
    ck_assert_msg(bson_iter_init(&it, b) && bson_iter_find_descendant(&it, path, &f) &&
                      BSON_ITER_HOLDS_UTF8(&f),
                  "no string %s", path);
    return bson_iter_utf8(&f, NULL);
}

/* The one document matching filter (asserts there is exactly one). Caller destroys. */
static bson_t *find_one(mongoc_collection_t *coll, const char *filter)
{
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, tmp_bson(filter), NULL, NULL);
    const bson_t *d;
    ck_assert_msg(mongoc_cursor_next(cur, &d), "nothing matches %s", filter);
    bson_t *copy = bson_copy(d);
    ck_assert(!mongoc_cursor_next(cur, &d));
    mongoc_cursor_destroy(cur);
    return copy;
}

static int64_t count(mongoc_collection_t *coll, const char *filter)
{
    bson_error_t err;
    int64_t n = mongoc_collection_count_documents(coll, tmp_bson(filter), NULL, NULL, NULL, &err);
    ck_assert_msg(n >= 0, "count_documents: %s", err.message);
    return n;
}

START_TEST(test_distinct_and_counts)
{
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "d");
    const char *docs[] = {"{\"k\": 1, \"tags\": [\"a\", \"b\"]}", "{\"k\": 2, \"tags\": \"b\"}",
                          "{\"k\": 1.0, \"tags\": [\"c\"]}", "{\"k\": \"x\"}", "{\"j\": 1}"};
    for (int i = 0; i < 5; i++)
        ck_assert(mongoc_collection_insert_one(coll, tmp_bson(docs[i]), NULL, NULL, NULL));
    bson_t reply;
    bson_error_t err;
    ck_assert_msg(
        mongoc_collection_read_command_with_opts(
            coll, tmp_bson("{\"distinct\": \"d\", \"key\": \"k\"}"), NULL, NULL, &reply, &err),
        "%s", err.message);
    /* 1 and 1.0 are one value; the missing field is no value. */
    ck_assert_int_eq(get_int(&reply, "values.0"), 1);
    ck_assert_int_eq(get_int(&reply, "values.1"), 2);
    ck_assert_str_eq(get_str(&reply, "values.2"), "x");
    bson_iter_t it;
    ck_assert(bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "values", &it));
    bson_t vals;
    uint32_t l;
    const uint8_t *p;
    bson_iter_array(&it, &l, &p);
    bson_init_static(&vals, p, l);
    ck_assert_int_eq(bson_count_keys(&vals), 3);
    bson_destroy(&reply);
    /* Arrays count element by element; with a filter. */
    ck_assert(mongoc_collection_read_command_with_opts(
        coll,
        tmp_bson("{\"distinct\": \"d\", \"key\": \"tags\", \"query\": {\"k\": {\"$lt\": 5}}}"),
        NULL, NULL, &reply, &err));
    ck_assert_str_eq(get_str(&reply, "values.0"), "a");
    ck_assert_str_eq(get_str(&reply, "values.1"), "b");
    ck_assert_str_eq(get_str(&reply, "values.2"), "c");
    bson_destroy(&reply);
    /* countDocuments with skip and limit (the driver sends $match, $skip, $limit, $group). */
    ck_assert_int_eq(count(coll, "{}"), 5);
    ck_assert_int_eq(count(coll, "{\"k\": 1}"), 2);
    int64_t n = mongoc_collection_count_documents(
        coll, tmp_bson("{}"), tmp_bson("{\"skip\": 1, \"limit\": 3}"), NULL, NULL, &err);
    ck_assert_int_eq(n, 3);
    n = mongoc_collection_count_documents(coll, tmp_bson("{\"k\": 99}"), NULL, NULL, NULL, &err);
    ck_assert_int_eq(n, 0);
    /* estimatedDocumentCount (the count command), also on a missing collection. */
    ck_assert_int_eq(mongoc_collection_estimated_document_count(coll, NULL, NULL, NULL, &err), 5);
    mongoc_collection_t *none = mongoc_client_get_collection(c, "t", "nope");
    ck_assert_int_eq(mongoc_collection_estimated_document_count(none, NULL, NULL, NULL, &err), 0);
    mongoc_collection_destroy(none);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

START_TEST(test_update_replace_delete)
{
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "u");
    bson_error_t err;
    bson_t reply;
    for (int i = 0; i < 6; i++)
        insert_i(coll, i, i % 2);
    /* updateOne with each operator. */
    ck_assert_msg(mongoc_collection_update_one(
                      coll, tmp_bson("{\"i\": 1}"),
                      tmp_bson("{\"$set\": {\"s.x\": \"y\"}, \"$unset\": {\"g\": \"\"}, \"$inc\": "
                               "{\"n\": 2}, \"$push\": {\"p\": 7}, \"$addToSet\": {\"a\": 3}}"),
                      NULL, &reply, &err),
                  "%s", err.message);
    ck_assert_int_eq(get_int(&reply, "matchedCount"), 1);
    ck_assert_int_eq(get_int(&reply, "modifiedCount"), 1);
    ck_assert_int_eq(get_int(&reply, "upsertedCount"), 0);
    bson_destroy(&reply);
    bson_t *d = find_one(coll, "{\"i\": 1}");
    ck_assert_str_eq(get_str(d, "s.x"), "y");
    ck_assert_int_eq(get_int(d, "n"), 2);
    ck_assert_int_eq(get_int(d, "p.0"), 7);
    ck_assert_int_eq(get_int(d, "a.0"), 3);
    bson_iter_t it;
    ck_assert(!bson_iter_init_find(&it, d, "g"));
    bson_destroy(d);
    /* The same $addToSet again matches but modifies nothing. */
    ck_assert(mongoc_collection_update_one(
        coll, tmp_bson("{\"i\": 1}"), tmp_bson("{\"$addToSet\": {\"a\": 3}}"), NULL, &reply, &err));
    ck_assert_int_eq(get_int(&reply, "matchedCount"), 1);
    ck_assert_int_eq(get_int(&reply, "modifiedCount"), 0);
    bson_destroy(&reply);
    /* $push onto a number is refused, and the message names the number's type. */
    ck_assert(!mongoc_collection_update_one(
        coll, tmp_bson("{\"i\": 1}"), tmp_bson("{\"$push\": {\"n\": 1}}"), NULL, &reply, &err));
    ck_assert_int_eq((int)err.code, 2);
    ck_assert_msg(strstr(err.message, "is of type int ($push)") != NULL, "%s", err.message);
    bson_destroy(&reply);
    /* updateMany, then with upsert when nothing matches: the query's equalities + the update. */
    ck_assert(mongoc_collection_update_many(coll, tmp_bson("{\"g\": 0}"),
                                            tmp_bson("{\"$set\": {\"even\": true}}"), NULL, &reply,
                                            &err));
    ck_assert_int_eq(get_int(&reply, "matchedCount"), 3);
    ck_assert_int_eq(get_int(&reply, "modifiedCount"), 3);
    bson_destroy(&reply);
    ck_assert(mongoc_collection_update_many(
        coll, tmp_bson("{\"i\": 100, \"g\": {\"$gt\": 5}}"),
        tmp_bson("{\"$set\": {\"v\": 1}, \"$setOnInsert\": {\"born\": true}}"),
        tmp_bson("{\"upsert\": true}"), &reply, &err));
    ck_assert_int_eq(get_int(&reply, "matchedCount"), 0);
    ck_assert_int_eq(get_int(&reply, "upsertedCount"), 1);
    ck_assert(bson_iter_init_find(&it, &reply, "upsertedId") && BSON_ITER_HOLDS_OID(&it));
    bson_destroy(&reply);
    d = find_one(coll, "{\"i\": 100}");
    ck_assert_int_eq(get_int(d, "v"), 1);
    ck_assert(bson_iter_init_find(&it, d, "born") && bson_iter_as_bool(&it));
    ck_assert(!bson_iter_init_find(&it, d, "g")); /* not an equality */
    bson_destroy(d);
    /* An upsert of {_id: "stream"} (the relay's meta document), twice. */
    for (int round = 0; round < 2; round++) {
        mongoc_collection_t *meta = mongoc_client_get_collection(c, "t", "meta");
        ck_assert(mongoc_collection_update_one(
            meta, tmp_bson("{\"_id\": \"stream\"}"),
            tmp_bson(round ? "{\"$set\": {\"epoch\": \"E2\"}}"
                           : "{\"$setOnInsert\": {\"epoch\": \"E1\"}}"),
            tmp_bson("{\"upsert\": true}"), &reply, &err));
        if (round == 0)
            ck_assert_str_eq(get_str(&reply, "upsertedId"), "stream");
        else
            ck_assert_int_eq(get_int(&reply, "modifiedCount"), 1);
        bson_destroy(&reply);
        d = find_one(meta, "{\"_id\": \"stream\"}");
        ck_assert_str_eq(get_str(d, "epoch"), round ? "E2" : "E1");
        bson_destroy(d);
        mongoc_collection_destroy(meta);
    }
    /* replaceOne keeps _id and replaces the rest; with upsert. */
    d = find_one(coll, "{\"i\": 2}");
    ck_assert(bson_iter_init_find(&it, d, "_id"));
    bson_oid_t oid;
    bson_oid_copy(bson_iter_oid(&it), &oid);
    bson_destroy(d);
    ck_assert(mongoc_collection_replace_one(
        coll, tmp_bson("{\"i\": 2}"), tmp_bson("{\"i\": 2, \"replaced\": 1}"), NULL, &reply, &err));
    ck_assert_int_eq(get_int(&reply, "modifiedCount"), 1);
    bson_destroy(&reply);
    d = find_one(coll, "{\"replaced\": 1}");
    ck_assert(bson_iter_init_find(&it, d, "_id") && bson_oid_equal(bson_iter_oid(&it), &oid));
    ck_assert(!bson_iter_init_find(&it, d, "g"));
    bson_destroy(d);
    ck_assert(mongoc_collection_replace_one(coll, tmp_bson("{\"_id\": 42}"), tmp_bson("{\"r\": 2}"),
                                            tmp_bson("{\"upsert\": true}"), &reply, &err));
    ck_assert_int_eq(get_int(&reply, "upsertedId"), 42);
    bson_destroy(&reply);
    /* deleteOne, deleteMany. */
    ck_assert(mongoc_collection_delete_one(coll, tmp_bson("{\"g\": 1}"), NULL, &reply, &err));
    ck_assert_int_eq(get_int(&reply, "deletedCount"), 1);
    bson_destroy(&reply);
    ck_assert(mongoc_collection_delete_many(coll, tmp_bson("{\"i\": {\"$lt\": 100}}"), NULL, &reply,
                                            &err));
    ck_assert_int_eq(get_int(&reply, "deletedCount"), 5);
    bson_destroy(&reply);
    ck_assert_int_eq(count(coll, "{}"), 2); /* the upserts */
    /* Errors come back as the driver expects them. */
    ck_assert(!mongoc_collection_update_one(
        coll, tmp_bson("{}"), tmp_bson("{\"$set\": {\"a\": 1}, \"$inc\": {\"a\": 1}}"), NULL,
        &reply, &err));
    ck_assert_int_eq(err.code, 40);
    bson_destroy(&reply);
    ck_assert(!mongoc_collection_update_one(coll, tmp_bson("{\"_id\": 42}"),
                                            tmp_bson("{\"$set\": {\"_id\": 43}}"), NULL, &reply,
                                            &err));
    ck_assert_int_eq(err.code, 66);
    bson_destroy(&reply);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

START_TEST(test_unique_index_on_updates)
{
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "uq");
    mongoc_database_t *db = mongoc_client_get_database(c, "t");
    bson_error_t err;
    bson_t reply;
    ck_assert(mongoc_database_write_command_with_opts(
        db,
        tmp_bson("{\"createIndexes\": \"uq\", \"indexes\": [{\"key\": {\"email\": 1}, \"name\": "
                 "\"email_1\", \"unique\": true}]}"),
        NULL, NULL, &err));
    mongoc_database_destroy(db);
    ck_assert(mongoc_collection_insert_one(coll, tmp_bson("{\"_id\": 1, \"email\": \"a\"}"), NULL,
                                           NULL, &err));
    ck_assert(mongoc_collection_insert_one(coll, tmp_bson("{\"_id\": 2, \"email\": \"b\"}"), NULL,
                                           NULL, &err));
    /* An update onto a taken key: 11000, the document unchanged. */
    ck_assert(!mongoc_collection_update_one(coll, tmp_bson("{\"_id\": 2}"),
                                            tmp_bson("{\"$set\": {\"email\": \"a\"}}"), NULL,
                                            &reply, &err));
    ck_assert_int_eq(err.code, 11000);
    ck_assert_int_eq(get_int(&reply, "writeErrors.0.keyPattern.email"), 1);
    ck_assert_str_eq(get_str(&reply, "writeErrors.0.keyValue.email"), "a");
    bson_destroy(&reply);
    bson_t *d = find_one(coll, "{\"_id\": 2}");
    ck_assert_str_eq(get_str(d, "email"), "b");
    bson_destroy(d);
    /* An upsert that would insert a taken key. */
    ck_assert(!mongoc_collection_update_one(coll, tmp_bson("{\"email\": \"a\", \"_id\": 3}"),
                                            tmp_bson("{\"$set\": {\"x\": 1}}"),
                                            tmp_bson("{\"upsert\": true}"), &reply, &err));
    ck_assert_int_eq(err.code, 11000);
    bson_destroy(&reply);
    /* findAndModify onto a taken key: a command error with the code. */
    mongoc_find_and_modify_opts_t *fam = mongoc_find_and_modify_opts_new();
    mongoc_find_and_modify_opts_set_update(fam, tmp_bson("{\"$set\": {\"email\": \"b\"}}"));
    ck_assert(!mongoc_collection_find_and_modify_with_opts(coll, tmp_bson("{\"_id\": 1}"), fam,
                                                           &reply, &err));
    ck_assert_int_eq(err.code, 11000);
    bson_destroy(&reply);
    mongoc_find_and_modify_opts_destroy(fam);
    ck_assert_int_eq(count(coll, "{}"), 2);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

/* Runs findAndModify with query, options json; returns the reply (caller destroys). */
static bson_t *fam(mongoc_collection_t *coll, const char *query, const char *update,
                   mongoc_find_and_modify_flags_t flags, const char *sort, const char *fields)
{
    mongoc_find_and_modify_opts_t *o = mongoc_find_and_modify_opts_new();
    if (update)
        mongoc_find_and_modify_opts_set_update(o, tmp_bson(update));
    mongoc_find_and_modify_opts_set_flags(o, flags);
    if (sort)
        mongoc_find_and_modify_opts_set_sort(o, tmp_bson(sort));
    if (fields)
        mongoc_find_and_modify_opts_set_fields(o, tmp_bson(fields));
    bson_t reply;
    bson_error_t err;
    ck_assert_msg(
        mongoc_collection_find_and_modify_with_opts(coll, tmp_bson(query), o, &reply, &err),
        "findAndModify: %s", err.message);
    mongoc_find_and_modify_opts_destroy(o);
    bson_t *out = bson_copy(&reply);
    bson_destroy(&reply);
    return out;
}

START_TEST(test_find_and_modify)
{
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "fam");
    for (int i = 0; i < 5; i++)
        insert_i(coll, i, 7);
    /* findOneAndUpdate, returning the document before (default) and after (new). */
    bson_t *r = fam(coll, "{\"g\": 7}", "{\"$inc\": {\"i\": 100}}", MONGOC_FIND_AND_MODIFY_NONE,
                    "{\"i\": -1}", NULL);
    ck_assert_int_eq(get_int(r, "value.i"), 4); /* sort picks the highest */
    ck_assert_int_eq(get_int(r, "lastErrorObject.n"), 1);
    bson_iter_t it;
    ck_assert(bson_iter_init(&it, r) &&
              bson_iter_find_descendant(&it, "lastErrorObject.updatedExisting", &it) &&
              bson_iter_as_bool(&it));
    bson_destroy(r);
    r = fam(coll, "{\"i\": 3}", "{\"$set\": {\"x\": 1}}", MONGOC_FIND_AND_MODIFY_RETURN_NEW, NULL,
            "{\"x\": 1, \"_id\": 0}");
    ck_assert_int_eq(get_int(r, "value.x"), 1);
    ck_assert(bson_iter_init(&it, r) && !bson_iter_find_descendant(&it, "value.i", &it));
    bson_destroy(r);
    /* findOneAndReplace with upsert and new. */
    r = fam(coll, "{\"_id\": \"k\"}", "{\"v\": 9}",
            MONGOC_FIND_AND_MODIFY_UPSERT | MONGOC_FIND_AND_MODIFY_RETURN_NEW, NULL, NULL);
    ck_assert_str_eq(get_str(r, "value._id"), "k");
    ck_assert_int_eq(get_int(r, "value.v"), 9);
    ck_assert_str_eq(get_str(r, "lastErrorObject.upserted"), "k");
    bson_destroy(r);
    /* Upsert without new: value null. No match without upsert: value null, n 0. */
    r = fam(coll, "{\"_id\": \"m\"}", "{\"$set\": {\"v\": 1}}", MONGOC_FIND_AND_MODIFY_UPSERT, NULL,
            NULL);
    ck_assert(bson_iter_init_find(&it, r, "value") && BSON_ITER_HOLDS_NULL(&it));
    bson_destroy(r);
    r = fam(coll, "{\"_id\": \"none\"}", "{\"$set\": {\"v\": 1}}", MONGOC_FIND_AND_MODIFY_NONE,
            NULL, NULL);
    ck_assert(bson_iter_init_find(&it, r, "value") && BSON_ITER_HOLDS_NULL(&it));
    ck_assert_int_eq(get_int(r, "lastErrorObject.n"), 0);
    bson_destroy(r);
    /* findOneAndDelete: returns what it removed. */
    r = fam(coll, "{\"g\": 7}", NULL, MONGOC_FIND_AND_MODIFY_REMOVE, "{\"i\": 1}", NULL);
    ck_assert_int_eq(get_int(r, "value.i"), 0);
    bson_destroy(r);
    ck_assert_int_eq(count(coll, "{\"g\": 7}"), 4);
    ck_assert_int_eq(count(coll, "{}"), 6);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

struct incr {
    mongoc_client_pool_t *pool;
    int n, acked;
};

static void *incr_main(void *arg)
{
    struct incr *w = arg;
    mongoc_client_t *c = mongoc_client_pool_pop(w->pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "counter");
    /* Not tmp_bson: its ring is not for two threads at once. */
    bson_t *q = BCON_NEW("_id", "c"), *u = BCON_NEW("$inc", "{", "n", BCON_INT32(1), "}"),
           *o = BCON_NEW("upsert", BCON_BOOL(true));
    for (int i = 0; i < w->n; i++) {
        bson_error_t err;
        if (mongoc_collection_update_one(coll, q, u, o, NULL, &err))
            w->acked++;
        else
            fprintf(stderr, "update %d failed: %s\n", i, err.message);
    }
    bson_destroy(q);
    bson_destroy(u);
    bson_destroy(o);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(w->pool, c);
    return NULL;
}

START_TEST(test_retryable_updates_through_a_stepdown)
{
    char uri_s[512];
    sim_uri(&sim, uri_s, sizeof uri_s, NULL);
    mongoc_uri_t *uri = mongoc_uri_new(uri_s);
    mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
    mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
    struct incr w = {pool, 600, 0};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, incr_main, &w), 0);
    usleep(150000);
    sim_admin(&sim, -1, "{\"replSetStepDown\": 10}", NULL);
    pthread_join(th, NULL);
    ck_assert_int_eq(w.acked, 600);
    mongoc_client_t *c = mongoc_client_pool_pop(pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "counter");
    bson_t *d = find_one(coll, "{}");
    ck_assert_int_eq(get_int(d, "n"), 600); /* each acknowledged $inc applied exactly once */
    bson_destroy(d);
    /* The same retryable write sent twice (as a driver retries it) runs once. */
    int p = sim_primary(&sim);
    int fd = client_connect("127.0.0.1", sim.port + p, 2000);
    const char *cmd =
        "{\"update\": \"counter\", \"updates\": [{\"q\": {\"_id\": \"c\"}, \"u\": {\"$inc\": "
        "{\"n\": 1}}}], \"lsid\": {\"id\": {\"$binary\": {\"base64\": "
        "\"AAAAAAAAAAAAAAAAAAAAAQ==\", \"subType\": \"04\"}}}, \"txnNumber\": {\"$numberLong\": "
        "\"9\"}}";
    for (int i = 0; i < 2; i++) {
        bson_t reply;
        ck_assert_int_eq(client_command(fd, "t", tmp_bson(cmd), &reply, 2000), 0);
        ck_assert_int_eq(get_int(&reply, "nModified"), 1);
        bson_destroy(&reply);
    }
    close(fd);
    d = find_one(coll, "{}");
    ck_assert_int_eq(get_int(d, "n"), 601);
    bson_destroy(d);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(pool, c);
    mongoc_client_pool_destroy(pool);
    mongoc_uri_destroy(uri);
}
END_TEST

/* The next change event (waiting up to ~5 s). Caller destroys. */
static bson_t *next_event(mongoc_change_stream_t *s)
{
    const bson_t *ev;
    for (int tries = 0; tries < 50; tries++) {
        if (mongoc_change_stream_next(s, &ev))
            return bson_copy(ev);
        bson_error_t err;
        const bson_t *edoc;
        ck_assert_msg(!mongoc_change_stream_error_document(s, &err, &edoc), "%s", err.message);
    }
    ck_abort_msg("no change event");
    return NULL;
}

START_TEST(test_change_events_of_writes)
{
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "ev");
    mongoc_change_stream_t *s = mongoc_collection_watch(
        coll, tmp_bson("{}"),
        tmp_bson("{\"maxAwaitTimeMS\": 100, \"fullDocument\": \"updateLookup\"}"));
    bson_error_t err;
    ck_assert(mongoc_collection_insert_one(coll, tmp_bson("{\"_id\": 1, \"a\": 1, \"b\": 1}"), NULL,
                                           NULL, &err));
    ck_assert(mongoc_collection_update_one(
        coll, tmp_bson("{\"_id\": 1}"),
        tmp_bson("{\"$set\": {\"a\": 2, \"c.d\": 1}, \"$unset\": {\"b\": 1}}"), NULL, NULL, &err));
    ck_assert(mongoc_collection_replace_one(coll, tmp_bson("{\"_id\": 1}"), tmp_bson("{\"z\": 1}"),
                                            NULL, NULL, &err));
    ck_assert(mongoc_collection_delete_one(coll, tmp_bson("{\"_id\": 1}"), NULL, NULL, &err));
    bson_t *ev = next_event(s);
    ck_assert_str_eq(get_str(ev, "operationType"), "insert");
    bson_destroy(ev);
    ev = next_event(s);
    ck_assert_str_eq(get_str(ev, "operationType"), "update");
    ck_assert_int_eq(get_int(ev, "documentKey._id"), 1);
    ck_assert_int_eq(get_int(ev, "updateDescription.updatedFields.a"), 2);
    ck_assert_int_eq(get_int(ev, "updateDescription.updatedFields.c.d"), 1);
    ck_assert_str_eq(get_str(ev, "updateDescription.removedFields.0"), "b");
    /* updateLookup: the document as it is when the event is read (already deleted: null). */
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, ev, "fullDocument") && BSON_ITER_HOLDS_NULL(&it));
    bson_destroy(ev);
    ev = next_event(s);
    ck_assert_str_eq(get_str(ev, "operationType"), "replace");
    ck_assert_int_eq(get_int(ev, "fullDocument.z"), 1);
    bson_destroy(ev);
    ev = next_event(s);
    ck_assert_str_eq(get_str(ev, "operationType"), "delete");
    ck_assert_int_eq(get_int(ev, "documentKey._id"), 1);
    ck_assert(!bson_iter_init_find(&it, ev, "fullDocument"));
    bson_destroy(ev);
    /* updateLookup of a document that still exists. */
    ck_assert(
        mongoc_collection_insert_one(coll, tmp_bson("{\"_id\": 2, \"a\": 1}"), NULL, NULL, &err));
    ck_assert(mongoc_collection_update_one(coll, tmp_bson("{\"_id\": 2}"),
                                           tmp_bson("{\"$inc\": {\"a\": 5}}"), NULL, NULL, &err));
    bson_destroy(next_event(s));
    ev = next_event(s);
    ck_assert_int_eq(get_int(ev, "fullDocument.a"), 6);
    bson_destroy(ev);
    /* Dropping the watched collection: drop, then invalidate, then the stream ends. */
    ck_assert(mongoc_collection_drop(coll, &err));
    ev = next_event(s);
    ck_assert_str_eq(get_str(ev, "operationType"), "drop");
    bson_destroy(ev);
    ev = next_event(s);
    ck_assert_str_eq(get_str(ev, "operationType"), "invalidate");
    bson_t *inval_token = NULL;
    ck_assert(bson_iter_init_find(&it, ev, "_id"));
    uint32_t l;
    const uint8_t *p;
    bson_iter_document(&it, &l, &p);
    inval_token = bson_new_from_data(p, l);
    bson_destroy(ev);
    const bson_t *none;
    ck_assert(!mongoc_change_stream_next(s, &none));
    const bson_t *edoc;
    ck_assert(!mongoc_change_stream_error_document(s, &err, &edoc));
    mongoc_change_stream_destroy(s);
    /* startAfter the invalidate token sees the re-created collection; resumeAfter refuses. */
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_DOCUMENT(&opts, "startAfter", inval_token);
    BSON_APPEND_INT32(&opts, "maxAwaitTimeMS", 100);
    s = mongoc_collection_watch(coll, tmp_bson("{}"), &opts);
    insert_i(coll, 5, 0);
    ev = next_event(s);
    ck_assert_str_eq(get_str(ev, "operationType"), "insert");
    bson_destroy(ev);
    mongoc_change_stream_destroy(s);
    bson_reinit(&opts);
    BSON_APPEND_DOCUMENT(&opts, "resumeAfter", inval_token);
    s = mongoc_collection_watch(coll, tmp_bson("{}"), &opts);
    ck_assert(!mongoc_change_stream_next(s, &none));
    ck_assert(mongoc_change_stream_error_document(s, &err, &edoc));
    ck_assert_int_eq(err.code, 260);
    mongoc_change_stream_destroy(s);
    bson_destroy(&opts);
    bson_destroy(inval_token);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

int main(void)
{
    mongoc_init();
    Suite *s = suite_create("mongosim_crud");
    TCase *tc = tcase_create("crud");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_distinct_and_counts);
    tcase_add_test(tc, test_update_replace_delete);
    tcase_add_test(tc, test_unique_index_on_updates);
    tcase_add_test(tc, test_find_and_modify);
    tcase_add_test(tc, test_retryable_updates_through_a_stepdown);
    tcase_add_test(tc, test_change_events_of_writes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    mongoc_cleanup();
    return failed == 0 ? 0 : 1;
}
