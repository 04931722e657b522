/*
 * mongosim's storage and planning, tested directly: indexes stay exact under inserts,
 * updates and deletes (checked entry by entry against the documents), the planner picks the
 * index and walks only what it must (counted in entries examined, not timed), parked scans
 * resume correctly after writes, and update operators behave as MongoDB's.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "plan.h"
#include "query.h"
#include "store.h"
#include "update.h"

static bson_t *J(const char *json)
{
    static bson_t *ring[32];
    static int next;
    bson_error_t err;
    bson_t *b = bson_new_from_json((const uint8_t *)json, -1, &err);
    ck_assert_msg(b != NULL, "bad JSON %s: %s", json, err.message);
    if (ring[next])
        bson_destroy(ring[next]);
    ring[next] = b;
    next = (next + 1) % 32;
    return b;
}

/* Every entry of every index of c is in order and matches its record's current document,
 * and every (indexed) record has exactly one entry. */
static void check_indexes(const struct coll *c)
{
    for (size_t i = 0; i < coll_nindexes(c); i++) {
        const struct index *ix = coll_index(c, i);
        size_t entries = 0, indexed = 0;
        const struct sl_node *prev = NULL;
        for (const struct sl_node *n = sl_first(&ix->sl); n; n = sl_next(n)) {
            entries++;
            struct rec *r = index_rec(n);
            bson_t d;
            bson_value_t kv[INDEX_MAX_FIELDS];
            int arr;
            sdoc_view(r->doc, &d);
            ck_assert_msg(index_key_of(ix, &d, kv, &arr), "entry for a record %s skips", ix->name);
            ck_assert_msg(index_cmp_keys(ix, kv, index_kv(n)) == 0, "stale key in %s", ix->name);
            if (prev) {
                int cmp = index_cmp_keys(ix, index_kv(prev), index_kv(n));
                ck_assert_msg(cmp < 0 || (cmp == 0 && index_rec(prev)->rid < r->rid),
                              "%s out of order", ix->name);
            }
            ck_assert_ptr_eq(n->prev, prev);
            prev = n;
        }
        ck_assert_ptr_eq(sl_last(&ix->sl), prev);
        for (struct rec *r = coll_first(c); r; r = coll_next(r)) {
            bson_t d;
            bson_value_t kv[INDEX_MAX_FIELDS];
            int arr;
            sdoc_view(r->doc, &d);
            indexed += (size_t)index_key_of(ix, &d, kv, &arr);
        }
        ck_assert_uint_eq(entries, indexed);
        ck_assert_uint_eq(entries, ix->sl.n);
    }
}

/* The records matching filter by brute force, in insertion order. */
static size_t brute(const struct coll *c, const bson_t *filter, int64_t *rids, size_t max)
{
    size_t n = 0;
    for (struct rec *r = coll_first(c); r; r = coll_next(r)) {
        bson_t d;
        sdoc_view(r->doc, &d);
        if (query_match(&d, filter) && n < max)
            rids[n++] = r->rid;
    }
    return n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* exec_collect's result for filter is exactly the brute-force one (as a set). */
static void same_as_brute(const struct coll *c, const bson_t *filter)
{
    static int64_t want[4096], got[4096];
    size_t nw = brute(c, filter, want, 4096);
    struct rec **recs;
    size_t n;
    char err[128];
    ck_assert_int_eq(exec_collect(c, filter, NULL, 0, 0, &recs, &n, err, sizeof err), 0);
    char *js = bson_as_relaxed_extended_json(filter, NULL);
    ck_assert_msg(n == nw, "%s: %zu results, brute force %zu", js, n, nw);
    for (size_t i = 0; i < n; i++)
        got[i] = recs[i]->rid;
    free(recs);
    qsort(got, n, sizeof *got, cmp_i64);
    qsort(want, nw, sizeof *want, cmp_i64);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "%s: result %zu differs", js, i);
    bson_free(js);
}

START_TEST(test_indexes_exact_under_updates_and_deletes)
{
    struct store *s = store_new(1000, 1 << 24);
    char err[256];
    ck_assert_int_eq(store_create_index(s, "d", "c", "k_1", J("{\"k\": 1}"), 0, 0, err, sizeof err),
                     0);
    ck_assert_int_eq(store_create_index(s, "d", "c", "g_1_k_-1", J("{\"g\": 1, \"k\": -1}"), 0, 0,
                                        err, sizeof err),
                     0);
    ck_assert_int_eq(store_create_index(s, "d", "c", "u_1", J("{\"u\": 1}"), 1, 1, err, sizeof err),
                     0);
    struct coll *c = store_coll(s, "d", "c", 0);
    srand(7);
    for (int i = 0; i < 600; i++) {
        bson_t *d = BCON_NEW("_id", BCON_INT64(i), "k", BCON_INT32(rand() % 50), "g",
                             BCON_UTF8(rand() % 2 ? "a" : "b"));
        if (i % 3 == 0)
            BSON_APPEND_INT32(d, "u", i); /* sparse unique: only some documents have it */
        ck_assert_int_eq(store_insert_rec(s, c, d, NULL, err, sizeof err), 0);
        bson_destroy(d);
    }
    check_indexes(c);
    /* Random updates (moving keys, mixing int and double, removing fields) and deletes. */
    struct update up;
    for (int round = 0; round < 400; round++) {
        int64_t id = rand() % 600;
        bson_value_t idv = {.value_type = BSON_TYPE_INT64, .value.v_int64 = id};
        struct rec *r = coll_find_id(c, &idv);
        if (r == NULL)
            continue;
        bson_t old, nd;
        sdoc_view(r->doc, &old);
        int what = rand() % 4;
        char js[128];
        if (what == 0) {
            store_delete(s, c, r);
            continue;
        }
        if (what == 1)
            snprintf(js, sizeof js, "{\"$set\": {\"k\": %d.0, \"g\": \"%c\"}}", rand() % 50,
                     'a' + rand() % 3);
        else if (what == 2)
            snprintf(js, sizeof js, "{\"$unset\": {\"k\": \"\", \"u\": \"\"}}");
        else
            snprintf(js, sizeof js, "{\"$inc\": {\"k\": 1}, \"$set\": {\"u\": %d}}", 1000 + round);
        bson_t *u = J(js);
        ck_assert_int_eq(update_parse(u, &up, err, sizeof err), 0);
        ck_assert_int_eq(update_apply(&up, &old, 0, &nd, err, sizeof err), 0);
        int code = store_update(s, c, r, &nd, NULL, err, sizeof err);
        ck_assert_msg(code == 0 || code == 11000, "update: %d %s", code, err);
        bson_destroy(&nd);
    }
    check_indexes(c);
    for (int k = -1; k < 52; k += 3) {
        char js[160];
        snprintf(js, sizeof js, "{\"k\": %d}", k);
        same_as_brute(c, J(js));
        snprintf(js, sizeof js, "{\"g\": \"a\", \"k\": {\"$gte\": %d, \"$lt\": %d}}", k, k + 9);
        same_as_brute(c, J(js));
        snprintf(js, sizeof js, "{\"_id\": {\"$gt\": %d, \"$lte\": %d}}", k * 10, k * 10 + 77);
        same_as_brute(c, J(js));
        snprintf(js, sizeof js, "{\"g\": {\"$in\": [\"b\", \"c\"]}, \"k\": {\"$lt\": %d}}", k);
        same_as_brute(c, J(js));
    }
    same_as_brute(c, J("{\"k\": null}"));
    same_as_brute(c, J("{\"u\": {\"$gt\": 10}}"));
    same_as_brute(c, J("{\"u\": null}"));
    same_as_brute(c, J("{\"$and\": [{\"k\": {\"$gt\": 10}}, {\"k\": {\"$lt\": 20}}]}"));
    /* A duplicate in the sparse unique index is refused and leaves every index as it was. */
    struct rec *a = coll_first(c);
    while (a) {
        bson_t d;
        bson_iter_t it;
        sdoc_view(a->doc, &d);
        if (bson_iter_init_find(&it, &d, "u"))
            break;
        a = coll_next(a);
    }
    ck_assert_ptr_nonnull(a);
    bson_t d;
    bson_iter_t it;
    sdoc_view(a->doc, &d);
    ck_assert(bson_iter_init_find(&it, &d, "u"));
    bson_t *dup = BCON_NEW("_id", BCON_INT64(100000), "k", BCON_INT32(1));
    bson_append_value(dup, "u", 1, bson_iter_value(&it));
    ck_assert_int_eq(store_insert_rec(s, c, dup, NULL, err, sizeof err), 11000);
    ck_assert(strstr(err, "u_1") != NULL);
    bson_t info = BSON_INITIALIZER;
    store_dup_info(s, &info);
    ck_assert(bson_iter_init(&it, &info) && bson_iter_find_descendant(&it, "keyPattern.u", &it));
    bson_destroy(&info);
    bson_destroy(dup);
    check_indexes(c);
    store_free(s);
}
END_TEST

/* Runs find(filter).sort(sort) with the chosen plan; returns entries examined for the first
 * want results (the plan's cost, independent of the machine's speed). */
static int64_t cost(const struct coll *c, const char *filter, const char *sort, int64_t want,
                    struct plan *p)
{
    bson_t *f = J(filter), *s = sort ? J(sort) : NULL;
    plan_choose(c, f, s, want, p);
    struct scan sc;
    ck_assert_int_eq(scan_open(&sc, c, p, f), 0);
    int64_t got = 0;
    for (struct rec *r; got < want && (r = scan_next(&sc)) != NULL;) {
        bson_t d;
        sdoc_view(r->doc, &d);
        got += query_match(&d, f);
    }
    int64_t works = sc.works;
    scan_close(&sc);
    return works;
}

START_TEST(test_planner_walks_only_what_it_must)
{
    struct store *s = store_new(100, 1 << 20);
    char err[256];
    ck_assert_int_eq(
        store_create_index(s, "d", "e", "id_1", J("{\"id\": 1}"), 1, 1, err, sizeof err), 0);
    ck_assert_int_eq(store_create_index(s, "d", "e", "channel_1__id_1",
                                        J("{\"channel\": 1, \"_id\": 1}"), 0, 0, err, sizeof err),
                     0);
    struct coll *c = store_coll(s, "d", "e", 0);
    for (int i = 1; i <= 20000; i++) {
        char id[32];
        snprintf(id, sizeof id, "e%d", i);
        bson_t *d = BCON_NEW("_id", BCON_INT64(i), "channel", BCON_UTF8(i % 10 == 0 ? "x" : "y"),
                             "id", BCON_UTF8(id), "at", BCON_DATE_TIME(1000 * (int64_t)i));
        ck_assert_int_eq(store_insert_rec(s, c, d, NULL, err, sizeof err), 0);
        bson_destroy(d);
    }
    struct plan p;
    /* Point lookups on a unique index: a couple of entries, not 20,000. */
    ck_assert_int_le(cost(c, "{\"id\": \"e12345\"}", NULL, 1, &p), 2);
    ck_assert_int_eq(p.ix, 1);
    ck_assert_int_le(cost(c, "{\"_id\": 777}", NULL, 1, &p), 2);
    ck_assert_int_eq(p.ix, 0);
    /* The newest event: a backward walk of the _id index. */
    ck_assert_int_le(cost(c, "{}", "{\"_id\": -1}", 1, &p), 1);
    ck_assert(p.ix == 0 && p.dir == -1 && p.sorted);
    /* A range after an offset, in _id order, with a limit. */
    ck_assert_int_le(cost(c, "{\"_id\": {\"$gt\": 15000}}", "{\"_id\": 1}", 100, &p), 101);
    ck_assert(p.ix == 0 && p.dir == 1 && p.sorted);
    ck_assert_int_le(cost(c, "{\"_id\": {\"$gt\": 100, \"$lte\": 200}}", "{\"_id\": 1}", 1000, &p),
                     101);
    /* One channel after an offset: the compound index, in _id order, no sort needed. */
    ck_assert_int_le(
        cost(c, "{\"channel\": \"x\", \"_id\": {\"$gt\": 19000}}", "{\"_id\": 1}", 1000, &p), 101);
    ck_assert(p.ix == 2 && p.sorted);
    /* Several channels after an offset: either plan, but nothing like a collection scan. */
    ck_assert_int_le(cost(c, "{\"channel\": {\"$in\": [\"x\", \"z\"]}, \"_id\": {\"$gt\": 19000}}",
                          "{\"_id\": 1}", 1000, &p),
                     1001);
    /* A trim: everything below an offset, also by date. */
    ck_assert_int_le(cost(c, "{\"at\": {\"$lt\": {\"$date\": 5000000}}, \"_id\": {\"$lt\": 4000}}",
                          NULL, 100000, &p),
                     4000);
    ck_assert_int_eq(p.ix, 0);
    /* No usable index: a collection scan, and a sort in memory. */
    cost(c, "{\"at\": {\"$lt\": {\"$date\": 5000}}}", "{\"at\": 1}", 10, &p);
    ck_assert(p.ix == PLAN_COLLSCAN && !p.sorted);
    /* A sparse index cannot answer "missing or null". */
    cost(c, "{\"id\": null}", NULL, 0, &p);
    ck_assert_int_ne(p.ix, 1);
    same_as_brute(c, J("{\"channel\": {\"$in\": [\"x\", \"z\"]}, \"_id\": {\"$gt\": 19000}}"));
    same_as_brute(c, J("{\"channel\": \"y\", \"_id\": {\"$lte\": 35}}"));
    store_free(s);
}
END_TEST

START_TEST(test_scan_resumes_after_writes)
{
    struct store *s = store_new(100, 1 << 20);
    char err[256];
    struct coll *c = store_coll(s, "d", "r", 1);
    for (int i = 1; i <= 100; i++) {
        bson_t *d = BCON_NEW("_id", BCON_INT64(i));
        ck_assert_int_eq(store_insert_rec(s, c, d, NULL, err, sizeof err), 0);
        bson_destroy(d);
    }
    for (int dir = -1; dir <= 1; dir += 2) {
        struct plan p;
        bson_t *f = J("{\"_id\": {\"$gt\": 10}}");
        plan_choose(c, f, J(dir > 0 ? "{\"_id\": 1}" : "{\"_id\": -1}"), 0, &p);
        ck_assert(p.ix == 0 && p.dir == dir);
        struct scan sc;
        ck_assert_int_eq(scan_open(&sc, c, &p, f), 0);
        int64_t last = 0, n = 0;
        for (int i = 0; i < 20; i++) {
            struct rec *r = scan_next(&sc);
            bson_t d;
            bson_iter_t it;
            sdoc_view(r->doc, &d);
            bson_iter_init_find(&it, &d, "_id");
            last = bson_iter_int64(&it);
            n++;
        }
        scan_park(&sc);
        /* Delete the record the scan stopped at and its neighbour, insert beyond. */
        for (int64_t k = last - 1; k <= last + 1; k++) {
            bson_value_t v = {.value_type = BSON_TYPE_INT64, .value.v_int64 = k};
            struct rec *r = coll_find_id(c, &v);
            if (r && k != last - dir)
                store_delete(s, c, r);
        }
        bson_t *d = BCON_NEW("_id", BCON_INT64(dir > 0 ? 500 : 1000 + 1));
        ck_assert_int_eq(store_insert_rec(s, c, d, NULL, err, sizeof err), 0);
        bson_destroy(d);
        scan_resume(&sc, c);
        int64_t prev = last;
        for (struct rec *r; (r = scan_next(&sc)) != NULL;) {
            bson_t dd;
            bson_iter_t it;
            sdoc_view(r->doc, &dd);
            bson_iter_init_find(&it, &dd, "_id");
            int64_t id = bson_iter_int64(&it);
            ck_assert_msg(dir > 0 ? id > prev : id < prev, "resumed out of order: %lld after %lld",
                          (long long)id, (long long)prev);
            ck_assert_int_ne(id, last + dir); /* deleted */
            if (dir < 0)
                ck_assert_int_gt(id, 10);
            prev = id;
            n++;
        }
        ck_assert_int_eq(prev, dir > 0 ? 1001 : 11); /* 1001 came in the first round */
        scan_close(&sc);
    }
    store_free(s);
}
END_TEST

/* Applies update json to doc json; checks the result (or the error code). */
static void upd(const char *doc, const char *u, int inserting, const char *want, int want_code)
{
    struct update up;
    char err[256] = "";
    bson_t out;
    int code = update_parse(J(u), &up, err, sizeof err);
    if (code == 0)
        code = update_apply(&up, J(doc), inserting, &out, err, sizeof err);
    ck_assert_msg(code == want_code, "%s on %s: code %d (%s), want %d", u, doc, code, err,
                  want_code);
    if (code != 0)
        return;
    bson_t *w = J(want);
    char *got = bson_as_relaxed_extended_json(&out, NULL),
         *exp = bson_as_relaxed_extended_json(w, NULL);
    ck_assert_msg(update_same(&out, w), "%s on %s: got %s, want %s", u, doc, got, exp);
    bson_free(got);
    bson_free(exp);
    bson_destroy(&out);
}

START_TEST(test_update_operators)
{
    upd("{\"_id\": 1, \"a\": 1}", "{\"$set\": {\"b.c\": 2, \"a\": 3}}", 0,
        "{\"_id\": 1, \"a\": 3, \"b\": {\"c\": 2}}", 0);
    upd("{\"_id\": 1, \"a\": 1, \"b\": 2}", "{\"$unset\": {\"a\": \"\", \"zz\": 1}}", 0,
        "{\"_id\": 1, \"b\": 2}", 0);
    upd("{\"_id\": 1, \"n\": 2147483647}", "{\"$inc\": {\"n\": 1, \"m\": 5}}", 0,
        "{\"_id\": 1, \"n\": {\"$numberLong\": \"2147483648\"}, \"m\": 5}", 0);
    upd("{\"_id\": 1, \"n\": 2}", "{\"$inc\": {\"n\": 0.5}}", 0, "{\"_id\": 1, \"n\": 2.5}", 0);
    upd("{\"_id\": 1, \"n\": \"x\"}", "{\"$inc\": {\"n\": 1}}", 0, "{}", 14);
    upd("{\"_id\": 1}", "{\"$inc\": {\"n\": \"x\"}}", 0, "{}", 14);
    upd("{\"_id\": 1, \"t\": [1]}", "{\"$push\": {\"t\": 2, \"u\": {\"$each\": [3, 4]}}}", 0,
        "{\"_id\": 1, \"t\": [1, 2], \"u\": [3, 4]}", 0);
    upd("{\"_id\": 1, \"t\": [1, 2, 3]}",
        "{\"$push\": {\"t\": {\"$each\": [9], \"$position\": 0, \"$slice\": 3}}}", 0,
        "{\"_id\": 1, \"t\": [9, 1, 2]}", 0);
    upd("{\"_id\": 1, \"t\": 5}", "{\"$push\": {\"t\": 2}}", 0, "{}", 2);
    upd("{\"_id\": 1, \"s\": [1, \"a\"]}",
        "{\"$addToSet\": {\"s\": {\"$each\": [1.0, \"a\", \"b\", \"b\"]}}}", 0,
        "{\"_id\": 1, \"s\": [1, \"a\", \"b\"]}", 0);
    upd("{\"_id\": 1, \"a\": 1}", "{\"$setOnInsert\": {\"c\": 1}, \"$set\": {\"a\": 2}}", 0,
        "{\"_id\": 1, \"a\": 2}", 0);
    upd("{\"_id\": 1}", "{\"$setOnInsert\": {\"c\": 1}}", 1, "{\"_id\": 1, \"c\": 1}", 0);
    upd("{\"_id\": 1, \"a\": 5}", "{\"$min\": {\"a\": 3}, \"$max\": {\"b\": 1}}", 0,
        "{\"_id\": 1, \"a\": 3, \"b\": 1}", 0);
    upd("{\"_id\": 1, \"a\": 5}", "{\"$rename\": {\"a\": \"b.c\"}}", 0,
        "{\"_id\": 1, \"b\": {\"c\": 5}}", 0);
    upd("{\"_id\": 1, \"t\": [1, 2, 3, 2]}", "{\"$pull\": {\"t\": 2}}", 0,
        "{\"_id\": 1, \"t\": [1, 3]}", 0);
    upd("{\"_id\": 1, \"t\": [1, 5, 9]}", "{\"$pull\": {\"t\": {\"$gte\": 5}}}", 0,
        "{\"_id\": 1, \"t\": [1]}", 0);
    upd("{\"_id\": 1, \"t\": [1, 5, 9]}", "{\"$pop\": {\"t\": -1}}", 0,
        "{\"_id\": 1, \"t\": [5, 9]}", 0);
    /* Errors a server gives. */
    upd("{\"_id\": 1, \"a\": 1}", "{\"$set\": {\"a.b\": 1}}", 0, "{}", 28);
    upd("{\"_id\": 1}", "{\"$set\": {\"a\": 1}, \"$inc\": {\"a\": 1}}", 0, "{}", 40);
    upd("{\"_id\": 1}", "{\"$set\": {\"a.b\": 1}, \"$unset\": {\"a\": 1}}", 0, "{}", 40);
    upd("{\"_id\": 1}", "{\"$bogus\": {\"a\": 1}}", 0, "{}", 9);
    upd("{\"_id\": 1}", "{\"$set\": 5}", 0, "{}", 9);
    upd("{\"_id\": 1}", "{\"$set\": {\"a..b\": 5}}", 0, "{}", 56);
    upd("{\"_id\": 1}", "{\"$set\": {\"_id\": 2}}", 0, "{}", 66);
    upd("{\"_id\": 1}", "{\"$set\": {\"_id\": 1}}", 0, "{\"_id\": 1}", 0);
    /* Replacements keep _id (first), refuse changing it. */
    upd("{\"_id\": 1, \"a\": 1}", "{\"b\": 2}", 0, "{\"_id\": 1, \"b\": 2}", 0);
    upd("{\"_id\": 1, \"a\": 1}", "{\"b\": 2, \"_id\": 1}", 0, "{\"_id\": 1, \"b\": 2}", 0);
    upd("{\"_id\": 1, \"a\": 1}", "{\"_id\": 3}", 0, "{}", 66);
}
END_TEST

START_TEST(test_upsert_documents_and_descriptions)
{
    struct update up;
    char err[256];
    bson_t out;
    ck_assert_int_eq(update_parse(J("{\"$set\": {\"v\": 1}, \"$setOnInsert\": {\"c\": 2}}"), &up,
                                  err, sizeof err),
                     0);
    ck_assert_int_eq(update_upsert_doc(&up,
                                       J("{\"_id\": \"stream\", \"a.b\": 3, \"n\": {\"$gt\": 1}, "
                                         "\"$and\": [{\"k\": {\"$eq\": 4}}]}"),
                                       &out, err, sizeof err),
                     0);
    ck_assert(update_same(
        &out, J("{\"_id\": \"stream\", \"a\": {\"b\": 3}, \"k\": 4, \"v\": 1, \"c\": 2}")));
    bson_destroy(&out);
    ck_assert_int_eq(update_parse(J("{\"epoch\": \"E\"}"), &up, err, sizeof err), 0);
    ck_assert_int_eq(
        update_upsert_doc(&up, J("{\"_id\": \"stream\", \"x\": 1}"), &out, err, sizeof err), 0);
    ck_assert(update_same(&out, J("{\"_id\": \"stream\", \"epoch\": \"E\"}")));
    bson_destroy(&out);
    bson_t desc;
    update_describe(J("{\"_id\": 1, \"a\": 1, \"b\": {\"c\": 1, \"d\": 2}, \"gone\": 1}"),
                    J("{\"_id\": 1, \"a\": 2, \"b\": {\"c\": 1, \"d\": 3}, \"new\": [1]}"), &desc);
    ck_assert(update_same(&desc, J("{\"updatedFields\": {\"a\": 2, \"b.d\": 3, \"new\": [1]}, "
                                   "\"removedFields\": [\"gone\"], \"truncatedArrays\": []}")));
    bson_destroy(&desc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mongosim_store");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_indexes_exact_under_updates_and_deletes);
    tcase_add_test(tc, test_planner_walks_only_what_it_must);
    tcase_add_test(tc, test_scan_resumes_after_writes);
    tcase_add_test(tc, test_update_operators);
    tcase_add_test(tc, test_upsert_documents_and_descriptions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
