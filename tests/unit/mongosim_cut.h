/*
 * Helpers of the tests of a member cut off from its peers (mongosimPartition), shared by
 * mongosim_partition.c and mongosim_stale.c: commands on one member, a client of one member
 * alone, counts and documents as that member reads them, change events.
 */
#ifndef TESTS_UNIT_MONGOSIM_CUT_H
#define TESTS_UNIT_MONGOSIM_CUT_H

#include "mongosim_harness.h"

/* Runs json on member's admin database over a fresh connection; returns the reply. */
static inline void on_member(int member, const char *db, const char *json, bson_t *reply)
{
    int fd = client_connect("127.0.0.1", sim.port + member, 2000);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(client_command(fd, db, tmp_bson(json), reply, 5000), 0);
    close(fd);
}

static inline int get_bool(const bson_t *b, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, b, key) && bson_iter_as_bool(&it);
}

static inline int64_t get_int(const bson_t *b, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, b, key) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it)
                                                                           : -1;
}

/* The member hello of member names as primary (-1: none). */
static inline int named_primary(const bson_t *hello)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, hello, "primary") || !BSON_ITER_HOLDS_UTF8(&it))
        return -1;
    const char *h = bson_iter_utf8(&it, NULL), *colon = strrchr(h, ':');
    ck_assert_ptr_nonnull(colon);
    return atoi(colon + 1) - sim.port;
}

/* A client of member 2 alone (secondary reads allowed). */
static inline mongoc_client_t *direct_client(int member)
{
    char uri[256];
    snprintf(uri, sizeof uri,
             "mongodb://127.0.0.1:%d/?directConnection=true&readPreference=secondaryPreferred"
             "&serverSelectionTimeoutMS=5000",
             sim.port + member);
    mongoc_client_t *c = mongoc_client_new(uri);
    ck_assert_ptr_nonnull(c);
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    return c;
}

static inline int64_t count_of(mongoc_collection_t *coll, const char *filter)
{
    bson_error_t err;
    int64_t n = mongoc_collection_count_documents(coll, tmp_bson(filter), NULL, NULL, NULL, &err);
    ck_assert_msg(n >= 0, "count: %s", err.message);
    return n;
}

/* The int32 x of the document with _id id, or -1 when it has none (or there is none). */
static inline int x_of(mongoc_collection_t *coll, int id)
{
    char f[64];
    snprintf(f, sizeof f, "{\"_id\": %d}", id);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, tmp_bson(f), NULL, NULL);
    const bson_t *d;
    int x = -1;
    bson_iter_t it;
    if (mongoc_cursor_next(cur, &d) && bson_iter_init_find(&it, d, "x"))
        x = bson_iter_int32(&it);
    bson_error_t err;
    ck_assert_msg(!mongoc_cursor_error(cur, &err), "find: %s", err.message);
    mongoc_cursor_destroy(cur);
    return x;
}

/* Up to ~1.5 s for the next change event; NULL when none came. Caller destroys. */
static inline bson_t *event_within(mongoc_change_stream_t *s)
{
    const bson_t *ev;
    for (int tries = 0; tries < 15; tries++) {
        if (mongoc_change_stream_next(s, &ev))
            return bson_copy(ev);
        bson_error_t err;
        const bson_t *edoc;
        ck_assert_msg(!mongoc_change_stream_error_document(s, &err, &edoc), "%s", err.message);
    }
    return NULL;
}

static inline const char *op_type(const bson_t *ev)
{
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, ev, "operationType"));
    return bson_iter_utf8(&it, NULL);
}

#endif
