/* cmd_crud — insert (with retryable-write memory), find, getMore, killCursors, count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changestream.h"
#include "cmd.h"
#include "cursor.h"
#include "query.h"
#include "session.h"
#include "sim.h"
#include "store.h"

#define BATCH_BYTES (16 * 1024 * 1024 - 16 * 1024)

/* Returns the command's collection name (the value of its first key) or NULL. */
static const char *coll_name(const bson_t *cmd)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, cmd) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_UTF8(&it))
        return NULL;
    const char *s = bson_iter_utf8(&it, NULL);
    return *s ? s : NULL;
}

static void append_doc_at(bson_t *arr, uint32_t i, const bson_t *doc)
{
    char kb[16];
    const char *k;
    bson_uint32_to_string(i, &k, kb, sizeof kb);
    bson_append_document(arr, k, -1, doc);
}

void cmd_cursor_reply(struct cmd_ctx *c, struct cursor *cur, const char *ns, int64_t batch,
                      int first, bson_t *reply)
{
    bson_t cd, arr;
    bson_init(reply);
    BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cd);
    bson_append_array_begin(&cd, first ? "firstBatch" : "nextBatch", -1, &arr);
    size_t bytes = 0;
    uint32_t k = 0;
    while (cur && cur->pos < cur->n && (batch < 0 || k < batch)) {
        bson_t *d = cur->docs[cur->pos];
        if (k > 0 && bytes + d->len > BATCH_BYTES)
            break;
        bytes += d->len;
        append_doc_at(&arr, k++, d);
        bson_destroy(d);
        cur->docs[cur->pos++] = NULL;
    }
    bson_append_array_end(&cd, &arr);
    int64_t id = 0;
    if (cur && cur->pos < cur->n)
        id = cur->id;
    else if (cur)
        cursors_kill(c->sim->cursors, cur->id);
    BSON_APPEND_INT64(&cd, "id", id);
    BSON_APPEND_UTF8(&cd, "ns", ns);
    bson_append_document_end(reply, &cd);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

void cmd_insert(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    const char *coll = coll_name(cmd);
    bson_t docs, lsid;
    bson_iter_t it;
    if (coll == NULL) {
        cmd_error(reply, 73, "insert needs a collection name");
        return;
    }
    if (cmd_get_doc(cmd, "documents", &docs) != 1) {
        cmd_error(reply, 9, "BSON field 'insert.documents' is missing but a required field");
        return;
    }
    int ordered = !bson_iter_init_find(&it, cmd, "ordered") || bson_iter_as_bool(&it);
    int has_txn =
        bson_iter_init_find(&it, cmd, "txnNumber") && cmd_get_doc(cmd, "lsid", &lsid) == 1;
    int64_t txn = has_txn ? cmd_get_int(cmd, "txnNumber", 0) : 0;
    if (has_txn) {
        switch (sessions_check(c->sim->sessions, &lsid, txn, reply, c->now)) {
        case SESSION_RETRY:
            return; /* already executed: answer with the remembered reply */
        case SESSION_TOO_OLD:
            cmd_error(reply, 225,
                      "Cannot start transaction %lld on session because a newer "
                      "transaction has already started",
                      (long long)txn);
            return;
        case SESSION_EXECUTE:
            break;
        }
    }
    bson_t errs = BSON_INITIALIZER;
    uint32_t nerr = 0;
    int32_t n = 0, idx = 0;
    if (bson_iter_init(&it, &docs)) {
        while (bson_iter_next(&it)) {
            char err[512] = "";
            int code;
            bson_t d;
            uint32_t l;
            const uint8_t *p;
            if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
                code = 14;
                snprintf(err, sizeof err, "documents must be objects");
            } else {
                bson_iter_document(&it, &l, &p);
                code = bson_init_static(&d, p, l)
                           ? store_insert(c->sim->store, c->db, coll, &d, err, sizeof err)
                           : 2;
            }
            if (code == 0) {
                n++;
            } else {
                bson_t we;
                char kb[16];
                const char *k;
                bson_uint32_to_string(nerr++, &k, kb, sizeof kb);
                bson_append_document_begin(&errs, k, -1, &we);
                BSON_APPEND_INT32(&we, "index", idx);
                BSON_APPEND_INT32(&we, "code", code);
                BSON_APPEND_UTF8(&we, "codeName", cmd_code_name(code));
                BSON_APPEND_UTF8(&we, "errmsg", err);
                bson_append_document_end(&errs, &we);
                if (ordered)
                    break;
            }
            idx++;
        }
    }
    bson_init(reply);
    BSON_APPEND_INT32(reply, "n", n);
    if (nerr)
        BSON_APPEND_ARRAY(reply, "writeErrors", &errs);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
    bson_destroy(&errs);
    if (has_txn)
        sessions_record(c->sim->sessions, &lsid, txn, reply, c->now);
    if (n > 0)
        c->sim->changed = 1;
}

/* Reads filter/sort/projection arguments shared by find and count. Returns 0 or replies with an
 * error. */
static int read_query(const bson_t *cmd, const char *fkey, bson_t *filter, bson_t *sort,
                      bson_t *proj, bson_t *reply)
{
    char err[256] = "";
    int f = cmd_get_doc(cmd, fkey, filter), s = cmd_get_doc(cmd, "sort", sort),
        p = cmd_get_doc(cmd, "projection", proj);
    if (f < 0 || s < 0 || p < 0) {
        cmd_error(reply, 14, "filter, sort and projection must be objects");
        return -1;
    }
    if (f == 0)
        bson_init(filter);
    if (s == 0)
        bson_init(sort);
    if (p == 0)
        bson_init(proj);
    if (query_check(filter, err, sizeof err) != 0 ||
        query_check_projection(proj, err, sizeof err) != 0) {
        cmd_error(reply, 2, "%s", err);
        return -1;
    }
    return 0;
}

/* Collects the documents of coll matching filter, sorted. Caller frees the array. */
static const bson_t **matching(struct coll *coll, const bson_t *filter, size_t *n)
{
    size_t total = coll_count(coll);
    const bson_t **v = malloc((total ? total : 1) * sizeof *v);
    *n = 0;
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < total; i++)
        if (query_match(coll_doc(coll, i), filter))
            v[(*n)++] = coll_doc(coll, i);
    return v;
}

void cmd_find(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    const char *name = coll_name(cmd);
    bson_t filter, sort, proj;
    bson_iter_t it;
    char err[256] = "", ns[260];
    if (name == NULL) {
        cmd_error(reply, 73, "find needs a collection name");
        return;
    }
    if (read_query(cmd, "filter", &filter, &sort, &proj, reply) != 0)
        return;
    if ((bson_iter_init_find(&it, cmd, "tailable") && bson_iter_as_bool(&it))) {
        cmd_error(reply, 2, "mongosim does not support tailable cursors on collections");
        return;
    }
    int64_t skip = cmd_get_int(cmd, "skip", 0), limit = cmd_get_int(cmd, "limit", 0),
            batch = cmd_get_int(cmd, "batchSize", 101);
    int single = bson_iter_init_find(&it, cmd, "singleBatch") && bson_iter_as_bool(&it);
    if (skip < 0 || batch < 0) {
        cmd_error(reply, 2, "skip and batchSize must not be negative");
        return;
    }
    if (limit < 0) {
        limit = -limit;
        single = 1;
    }
    snprintf(ns, sizeof ns, "%s.%s", c->db, name);
    struct coll *coll = store_coll(c->sim->store, c->db, name, 0);
    size_t n = 0;
    const bson_t **v = matching(coll, &filter, &n);
    if (v == NULL || query_sort(v, n, &sort, err, sizeof err) != 0) {
        free(v);
        cmd_error(reply, 2, "%s", err[0] ? err : "out of memory");
        return;
    }
    size_t from = (size_t)skip < n ? (size_t)skip : n;
    size_t to = limit > 0 && from + (size_t)limit < n ? from + (size_t)limit : n;
    bson_t **docs = malloc((to - from + 1) * sizeof *docs);
    if (docs == NULL) {
        free(v);
        cmd_error(reply, 146, "out of memory");
        return;
    }
    for (size_t i = from; i < to; i++)
        docs[i - from] = query_project(v[i], &proj);
    free(v);
    if (single && limit > 0 && (batch == 0 || batch > limit))
        batch = limit;
    struct cursor *cur = cursors_add(c->sim->cursors, c->member, ns, docs, to - from, NULL, c->now);
    if (cur == NULL) {
        cmd_error(reply, 146, "out of memory");
        return;
    }
    cmd_cursor_reply(c, cur, ns, batch, 1, reply);
    if (single) {
        /* singleBatch: whatever did not fit is dropped, and the id reported as 0. */
        bson_iter_t cid;
        if (bson_iter_init(&cid, reply) && bson_iter_find_descendant(&cid, "cursor.id", &it) &&
            bson_iter_as_int64(&it) != 0) {
            cursors_kill(c->sim->cursors, bson_iter_as_int64(&it));
            bson_iter_overwrite_int64(&it, 0);
        }
    }
}

enum cmd_status cmd_get_more(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    bson_iter_t it;
    char ns[260];
    if (!bson_iter_init_find(&it, cmd, "getMore") || !BSON_ITER_HOLDS_INT64(&it)) {
        cmd_error(reply, 14, "getMore needs an int64 cursor id");
        return CMD_REPLY;
    }
    int64_t id = bson_iter_int64(&it);
    const char *coll = NULL;
    if (bson_iter_init_find(&it, cmd, "collection") && BSON_ITER_HOLDS_UTF8(&it))
        coll = bson_iter_utf8(&it, NULL);
    if (coll == NULL) {
        cmd_error(reply, 9, "getMore needs a collection name");
        return CMD_REPLY;
    }
    snprintf(ns, sizeof ns, "%s.%s", c->db, coll);
    struct cursor *cur = cursors_get(c->sim->cursors, id);
    if (cur == NULL) {
        cmd_error(reply, 43, "cursor id %lld not found", (long long)id);
        return CMD_REPLY;
    }
    if (strcmp(cur->ns, ns) != 0) {
        cmd_error(reply, 13, "Requested getMore on namespace '%s', but cursor belongs to '%s'", ns,
                  cur->ns);
        return CMD_REPLY;
    }
    cur->last_used = c->now;
    int64_t batch = cmd_get_int(cmd, "batchSize", 0);
    if (cur->cs == NULL) {
        cmd_cursor_reply(c, cur, ns, batch > 0 ? batch : -1, 0, reply);
        return CMD_REPLY;
    }
    bson_t arr = BSON_INITIALIZER;
    int n = cs_next_batch(cur->cs, c->sim->store, &arr, batch > 0 ? (int)batch : 1000);
    if (n < 0) {
        bson_destroy(&arr);
        cursors_kill(c->sim->cursors, id);
        cmd_error(reply, 286,
                  "Resume of change stream was not possible, as the resume point "
                  "may no longer be in the oplog.");
        return CMD_REPLY;
    }
    if (n == 0) {
        int64_t wait = cmd_get_int(cmd, "maxTimeMS", 1000);
        if (c->wait_deadline == 0)
            c->wait_deadline = c->now + (wait > 0 ? wait : 1000);
        if (c->now < c->wait_deadline) {
            bson_destroy(&arr);
            return CMD_WAIT;
        }
    }
    bson_t cd;
    bson_init(reply);
    BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cd);
    BSON_APPEND_ARRAY(&cd, "nextBatch", &arr);
    BSON_APPEND_INT64(&cd, "id", id);
    BSON_APPEND_UTF8(&cd, "ns", ns);
    cs_append_pbrt(cur->cs, &cd, "postBatchResumeToken");
    bson_append_document_end(reply, &cd);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
    bson_destroy(&arr);
    return CMD_REPLY;
}

void cmd_kill_cursors(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    bson_t ids, killed = BSON_INITIALIZER, missing = BSON_INITIALIZER, empty = BSON_INITIALIZER;
    bson_iter_t it;
    if (cmd_get_doc(cmd, "cursors", &ids) != 1) {
        cmd_error(reply, 9, "killCursors needs a cursors array");
        return;
    }
    uint32_t nk = 0, nm = 0;
    if (bson_iter_init(&it, &ids)) {
        while (bson_iter_next(&it)) {
            if (!BSON_ITER_HOLDS_INT64(&it))
                continue;
            int64_t id = bson_iter_int64(&it);
            int hit = cursors_kill(c->sim->cursors, id);
            char kb[16];
            const char *k;
            bson_uint32_to_string(hit ? nk++ : nm++, &k, kb, sizeof kb);
            bson_append_int64(hit ? &killed : &missing, k, -1, id);
        }
    }
    bson_init(reply);
    BSON_APPEND_ARRAY(reply, "cursorsKilled", &killed);
    BSON_APPEND_ARRAY(reply, "cursorsNotFound", &missing);
    BSON_APPEND_ARRAY(reply, "cursorsAlive", &empty);
    BSON_APPEND_ARRAY(reply, "cursorsUnknown", &empty);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
    bson_destroy(&killed);
    bson_destroy(&missing);
}

void cmd_count(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    const char *name = coll_name(cmd);
    bson_t filter, sort, proj;
    if (name == NULL) {
        cmd_error(reply, 73, "count needs a collection name");
        return;
    }
    if (read_query(cmd, "query", &filter, &sort, &proj, reply) != 0)
        return;
    int64_t skip = cmd_get_int(cmd, "skip", 0), limit = cmd_get_int(cmd, "limit", 0);
    if (limit < 0)
        limit = -limit;
    struct coll *coll = store_coll(c->sim->store, c->db, name, 0);
    int64_t n = 0;
    for (size_t i = 0; i < coll_count(coll); i++)
        n += query_match(coll_doc(coll, i), &filter);
    n = skip < n ? n - (skip > 0 ? skip : 0) : 0;
    if (limit > 0 && n > limit)
        n = limit;
    bson_init(reply);
    if (n <= INT32_MAX)
        BSON_APPEND_INT32(reply, "n", (int32_t)n);
    else
        BSON_APPEND_INT64(reply, "n", n);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}
