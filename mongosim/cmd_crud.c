/* cmd_crud — the read commands: find, getMore, killCursors, count, distinct. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changestream.h"
#include "cmd.h"
#include "cursor.h"
#include "exec.h"
#include "query.h"
#include "sim.h"
#include "store.h"

#define BATCH_BYTES (16 * 1024 * 1024 - 16 * 1024)

const char *cmd_coll_name(const bson_t *cmd)
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
    bson_t cd, arr = BSON_INITIALIZER;
    uint32_t k = 0;
    int done = 1;
    if (cur && cur->lazy) {
        char err[256] = "";
        done = lazy_fill(cur->lazy, cur->store, &arr, &k, batch, BATCH_BYTES, err, sizeof err);
        if (done < 0) {
            bson_destroy(&arr);
            cursors_kill(c->sim->cursors, cur->id);
            cmd_error(reply, 175, "%s", err);
            return;
        }
    } else if (cur) {
        size_t bytes = 0;
        while (cur->pos < cur->n && (batch < 0 || k < batch)) {
            bson_t *d = cur->docs[cur->pos];
            if (k > 0 && bytes + d->len > BATCH_BYTES)
                break;
            bytes += d->len;
            append_doc_at(&arr, k++, d);
            bson_destroy(d);
            cur->docs[cur->pos++] = NULL;
        }
        done = cur->pos >= cur->n;
    }
    bson_init(reply);
    BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cd);
    BSON_APPEND_ARRAY(&cd, first ? "firstBatch" : "nextBatch", &arr);
    int64_t id = cur && !done ? cur->id : 0;
    if (cur && done)
        cursors_kill(c->sim->cursors, cur->id);
    BSON_APPEND_INT64(&cd, "id", id);
    BSON_APPEND_UTF8(&cd, "ns", ns);
    bson_append_document_end(reply, &cd);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
    bson_destroy(&arr);
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
    return cmd_check_read_concern(cmd, reply);
}

/* The materialised (sorted in memory) result of a find: projected copies. */
static int find_sorted(struct coll *coll, const bson_t *filter, const bson_t *sort,
                       const bson_t *proj, int64_t skip, int64_t limit, bson_t ***docs, size_t *n,
                       bson_t *reply)
{
    char err[256] = "";
    struct rec **recs;
    int code = exec_collect(coll, filter, sort, skip, limit, &recs, n, err, sizeof err);
    if (code != 0) {
        cmd_error(reply, code, "%s", err);
        return -1;
    }
    *docs = malloc((*n + 1) * sizeof **docs);
    if (*docs == NULL) {
        free(recs);
        cmd_error(reply, 146, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < *n; i++) {
        bson_t d;
        sdoc_view(recs[i]->doc, &d);
        (*docs)[i] = query_project(&d, proj);
    }
    free(recs);
    return 0;
}

void cmd_find(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    const char *name = cmd_coll_name(cmd);
    bson_t filter, sort, proj;
    bson_iter_t it;
    char ns[260];
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
    if (limit > 0 && (batch == 0 || batch > limit) && single)
        batch = limit;
    snprintf(ns, sizeof ns, "%s.%s", c->db, name);
    struct store *view = msim_store(c->sim, c->member);
    struct coll *coll = store_coll(view, c->db, name, 0);
    struct plan p;
    plan_choose(coll, &filter, &sort, limit > 0 ? skip + limit : 0, &p);
    struct cursor *cur;
    if (p.sorted) {
        struct lazy *l = lazy_new(coll, c->db, name, &filter, &proj, &p, skip, limit);
        cur = l ? cursors_add(c->sim->cursors, c->member, ns, NULL, 0, NULL, l, c->now) : NULL;
        if (cur)
            cur->store = view;
    } else {
        bson_t **docs;
        size_t n;
        if (find_sorted(coll, &filter, &sort, &proj, skip, limit, &docs, &n, reply) != 0)
            return;
        cur = cursors_add(c->sim->cursors, c->member, ns, docs, n, NULL, NULL, c->now);
    }
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
    return cmd_change_stream_more(c, cur, cmd, ns, batch, reply);
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
    const char *name = cmd_coll_name(cmd);
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
    int64_t n =
        exec_count(store_coll(msim_store(c->sim, c->member), c->db, name, 0), &filter, skip, limit);
    bson_init(reply);
    if (n <= INT32_MAX)
        BSON_APPEND_INT32(reply, "n", (int32_t)n);
    else
        BSON_APPEND_INT64(reply, "n", n);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

static int cmp_values(const void *a, const void *b)
{
    return query_compare(a, b);
}

void cmd_distinct(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    const char *name = cmd_coll_name(cmd);
    bson_t filter, sort, proj;
    bson_iter_t it;
    char err[256] = "";
    if (name == NULL) {
        cmd_error(reply, 73, "distinct needs a collection name");
        return;
    }
    if (!bson_iter_init_find(&it, cmd, "key") || !BSON_ITER_HOLDS_UTF8(&it) ||
        bson_iter_utf8(&it, NULL)[0] == '\0') {
        cmd_error(reply, 14, "BSON field 'distinct.key' must be a non-empty string");
        return;
    }
    const char *key = bson_iter_utf8(&it, NULL);
    if (read_query(cmd, "query", &filter, &sort, &proj, reply) != 0)
        return;
    struct rec **recs;
    size_t n, nv = 0, cap = 64;
    int code = exec_collect(store_coll(msim_store(c->sim, c->member), c->db, name, 0), &filter,
                            NULL, 0, 0, &recs, &n, err, sizeof err);
    if (code != 0) {
        cmd_error(reply, code, "%s", err);
        return;
    }
    bson_value_t *v = malloc(cap * sizeof *v);
    for (size_t i = 0; i < n && v; i++) {
        bson_t d;
        bson_value_t x;
        sdoc_view(recs[i]->doc, &d);
        if (!query_get(&d, key, &x))
            continue;
        bson_iter_t ai;
        int is_arr = x.value_type == BSON_TYPE_ARRAY &&
                     bson_iter_init_from_data(&ai, x.value.v_doc.data, x.value.v_doc.data_len);
        /* Distinct counts each element of an array on its own, as MongoDB does. */
        for (int more = 1; more && v;) {
            bson_value_t e = x;
            if (is_arr) {
                if (!bson_iter_next(&ai))
                    break;
                e = *bson_iter_value(&ai);
            } else {
                more = 0;
            }
            if (nv == cap) {
                bson_value_t *nvp = realloc(v, cap * 2 * sizeof *v);
                if (nvp == NULL) {
                    free(v);
                    v = NULL;
                    break;
                }
                v = nvp;
                cap *= 2;
            }
            v[nv++] = e;
        }
    }
    if (v == NULL) {
        free(recs);
        cmd_error(reply, 146, "out of memory");
        return;
    }
    qsort(v, nv, sizeof *v, cmp_values);
    bson_t arr;
    uint32_t k = 0;
    bson_init(reply);
    BSON_APPEND_ARRAY_BEGIN(reply, "values", &arr);
    for (size_t i = 0; i < nv; i++) {
        if (i > 0 && query_compare(&v[i - 1], &v[i]) == 0)
            continue;
        char kb[16];
        const char *ks;
        bson_uint32_to_string(k++, &ks, kb, sizeof kb);
        bson_append_value(&arr, ks, -1, &v[i]);
    }
    bson_append_array_end(reply, &arr);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
    free(v);
    free(recs);
}
