/*
 * libFuzzer target for mongosim's message parser: the input is one or more raw wire
 * messages as they would arrive on a socket. Every complete frame is parsed; a parsed
 * command's "filter" goes through the query checker, the planner and the matcher over a
 * small indexed collection, and its "updates" through the update parser and applier
 * (with an upsert document built from its q), all of which read client BSON.
 * Build: see `make fuzz` (clang -fsanitize=fuzzer,address).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../mongosim/exec.h"
#include "../mongosim/query.h"
#include "../mongosim/store.h"
#include "../mongosim/update.h"
#include "../mongosim/wire.h"

/* A collection with a few documents and indexes, made once. */
static struct store *fixture(void)
{
    static struct store *s;
    if (s)
        return s;
    char err[256];
    s = store_new(64, 1 << 20);
    bson_t *k = BCON_NEW("k", BCON_INT32(1)),
           *gk = BCON_NEW("g", BCON_INT32(1), "k", BCON_INT32(-1));
    if (store_create_index(s, "f", "c", "k_1", k, 1, 1, err, sizeof err) != 0 ||
        store_create_index(s, "f", "c", "g_1_k_-1", gk, 0, 0, err, sizeof err) != 0)
        abort();
    bson_destroy(k);
    bson_destroy(gk);
    for (int i = 0; i < 40; i++) {
        bson_t *d = BCON_NEW("_id", BCON_INT64(i), "k", BCON_INT32(i * 3 % 17 + i), "g",
                             BCON_UTF8(i % 2 ? "a" : "b"), "t", "[", BCON_INT32(i), "]");
        if (store_insert(s, "f", "c", d, err, sizeof err) != 0)
            abort();
        bson_destroy(d);
    }
    return s;
}

static void try_filter(const bson_t *filter, const bson_t *sort)
{
    char err[256];
    if (query_check(filter, err, sizeof err) != 0)
        return;
    struct rec **recs;
    size_t n;
    if (exec_collect(store_coll(fixture(), "f", "c", 0), filter, sort, 0, 5, &recs, &n, err,
                     sizeof err) == 0)
        free(recs);
}

static void try_update(const bson_t *stmt)
{
    bson_iter_t it;
    bson_t u, q;
    uint32_t l;
    const uint8_t *d;
    struct update up;
    char err[256];
    if (!bson_iter_init_find(&it, stmt, "u") || !BSON_ITER_HOLDS_DOCUMENT(&it))
        return;
    bson_iter_document(&it, &l, &d);
    if (!bson_init_static(&u, d, l) || update_parse(&u, &up, err, sizeof err) != 0)
        return;
    bson_t *doc = BCON_NEW("_id", BCON_INT32(1), "a", "{", "b", BCON_INT32(2), "}", "t", "[",
                           BCON_INT32(1), BCON_UTF8("x"), "]");
    bson_t out, desc;
    if (update_apply(&up, doc, 0, &out, err, sizeof err) == 0) {
        update_describe(doc, &out, &desc);
        bson_destroy(&desc);
        bson_destroy(&out);
    }
    bson_destroy(doc);
    if (bson_iter_init_find(&it, stmt, "q") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        bson_iter_document(&it, &l, &d);
        if (bson_init_static(&q, d, l) && query_check(&q, err, sizeof err) == 0 &&
            update_upsert_doc(&up, &q, &out, err, sizeof err) == 0)
            bson_destroy(&out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        char err[256];
        int32_t n = wire_frame_length(data + off, size - off, err, sizeof err);
        if (n <= 0 || (size_t)n > size - off)
            break;
        struct wire_msg msg;
        if (wire_parse(data + off, (size_t)n, &msg, err, sizeof err) == 0) {
            bson_t filter, sort = BSON_INITIALIZER, sub;
            bson_iter_t it;
            uint32_t l;
            const uint8_t *d;
            if (bson_iter_init_find(&it, &msg.cmd, "sort") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
                bson_iter_document(&it, &l, &d);
                if (!bson_init_static(&sort, d, l))
                    bson_init(&sort);
            }
            if (bson_iter_init_find(&it, &msg.cmd, "filter") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
                bson_iter_document(&it, &l, &d);
                if (bson_init_static(&filter, d, l) && query_check(&filter, err, sizeof err) == 0) {
                    (void)query_match(&msg.cmd, &filter);
                    try_filter(&filter, &sort);
                }
            }
            if (bson_iter_init_find(&it, &msg.cmd, "updates") && BSON_ITER_HOLDS_ARRAY(&it) &&
                bson_iter_recurse(&it, &it)) {
                while (bson_iter_next(&it)) {
                    if (!BSON_ITER_HOLDS_DOCUMENT(&it))
                        continue;
                    bson_iter_document(&it, &l, &d);
                    if (bson_init_static(&sub, d, l))
                        try_update(&sub);
                }
            }
            wire_msg_cleanup(&msg);
        }
        off += (size_t)n;
    }
    return 0;
}
