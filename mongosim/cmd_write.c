/*
 * cmd_write — the write commands as the drivers send them: insert, update
 * (updateOne/updateMany/replaceOne, upserts), delete (deleteOne/deleteMany) and
 * findAndModify (findOneAndUpdate/Replace/Delete). Each remembers its reply per (lsid,
 * txnNumber) when the driver sent one, so a retried write is answered, not run twice.
 * Writes go to the data set the member reads: the shared one, or a stale primary's copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "exec.h"
#include "plan.h"
#include "query.h"
#include "sim.h"
#include "store.h"
#include "update.h"

/* The data set a write goes to: the shared one, or a stale primary's copy of it (what its
 * clients read; the majority never sees it, and the heal rolls it back). */
static struct store *wstore(const struct cmd_ctx *c)
{
    return msim_store(c->sim, c->member);
}

/* Appends write error {index, code, codeName, errmsg[, keyPattern, keyValue]} to errs. */
static void write_error(struct cmd_ctx *c, bson_t *errs, uint32_t *nerr, int32_t index, int code,
                        const char *msg)
{
    bson_t we;
    char kb[16];
    const char *k;
    bson_uint32_to_string((*nerr)++, &k, kb, sizeof kb);
    bson_append_document_begin(errs, k, -1, &we);
    BSON_APPEND_INT32(&we, "index", index);
    BSON_APPEND_INT32(&we, "code", code);
    BSON_APPEND_UTF8(&we, "codeName", cmd_code_name(code));
    BSON_APPEND_UTF8(&we, "errmsg", msg);
    if (code == 11000)
        store_dup_info(wstore(c), &we);
    bson_append_document_end(errs, &we);
}

/* The statements array of a write command (documents, updates, deletes). */
static int statements(const bson_t *cmd, const char *key, const char *what, bson_t *out,
                      bson_t *reply)
{
    if (cmd_get_doc(cmd, key, out) != 1) {
        cmd_error(reply, 9, "BSON field '%s.%s' is missing but a required field", what, key);
        return -1;
    }
    return 0;
}

static int ordered_of(const bson_t *cmd)
{
    bson_iter_t it;
    return !bson_iter_init_find(&it, cmd, "ordered") || bson_iter_as_bool(&it);
}

/* Common end of insert/update/delete: writeErrors, ok, retry memory, waking the waiters. */
static void finish(struct cmd_ctx *c, const struct retry *r, bson_t *errs, uint32_t nerr,
                   bson_t *reply)
{
    if (nerr)
        BSON_APPEND_ARRAY(reply, "writeErrors", errs);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
    bson_destroy(errs);
    cmd_retry_done(c, r, reply);
    c->sim->changed = 1;
}

void cmd_insert(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    const char *coll = cmd_coll_name(cmd);
    bson_t docs;
    bson_iter_t it;
    struct retry r;
    if (coll == NULL) {
        cmd_error(reply, 73, "insert needs a collection name");
        return;
    }
    if (statements(cmd, "documents", "insert", &docs, reply) != 0 ||
        cmd_retry_check(c, cmd, &r, reply))
        return;
    int ordered = ordered_of(cmd);
    bson_t errs = BSON_INITIALIZER;
    uint32_t nerr = 0;
    int32_t n = 0, idx = 0;
    if (bson_iter_init(&it, &docs)) {
        while (bson_iter_next(&it)) {
            char err[512] = "";
            int code;
            bson_t d;
            if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !cmd_get_doc_at(&it, &d)) {
                code = 14;
                snprintf(err, sizeof err, "documents must be objects");
            } else {
                code = store_insert(wstore(c), c->db, coll, &d, err, sizeof err);
            }
            if (code == 0) {
                n++;
            } else {
                write_error(c, &errs, &nerr, idx, code, err);
                if (ordered)
                    break;
            }
            idx++;
        }
    }
    bson_init(reply);
    BSON_APPEND_INT32(reply, "n", n);
    finish(c, &r, &errs, nerr, reply);
}

/* Reads an optional boolean field of a statement. */
static int flag(const bson_t *stmt, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, stmt, key) && bson_iter_as_bool(&it);
}

/* Refuses statement options mongosim would otherwise silently ignore. */
static int unsupported(const bson_t *stmt, char *err, size_t errlen)
{
    static const char *keys[] = {"collation", "arrayFilters"};
    bson_iter_t it;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (bson_iter_init_find(&it, stmt, keys[i])) {
            snprintf(err, errlen, "mongosim does not support '%s'", keys[i]);
            return 2;
        }
    }
    return 0;
}

struct upd_result {
    int32_t n, nmod;
    int upserted;
    bson_value_t id; /* the upserted _id (a view into the stored document) */
    struct rec *rec; /* the matched (updated) or upserted record, or NULL */
};

/*
 * Runs update up on the documents of db.coll matching q (the first in sort order only
 * unless multi), or upserts. Returns 0 with *res filled, or an error code with err; on an
 * error part of a multi-update may have been applied, as in MongoDB.
 */
static int run_update(struct cmd_ctx *c, const char *coll, const bson_t *q, const bson_t *sort,
                      const struct update *up, int multi, int upsert, struct upd_result *res,
                      char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    struct coll *cl = store_coll(wstore(c), c->db, coll, 0);
    struct rec **recs;
    size_t n;
    int code = exec_collect(cl, q, sort, 0, multi ? 0 : 1, &recs, &n, err, errlen);
    if (code != 0)
        return code;
    for (size_t i = 0; i < n && code == 0; i++) {
        bson_t old, nd, desc;
        sdoc_view(recs[i]->doc, &old);
        if ((code = update_apply(up, &old, 0, &nd, err, errlen)) != 0)
            break;
        res->n++;
        res->rec = recs[i];
        if (!update_same(&old, &nd)) {
            if (!up->replace)
                update_describe(&old, &nd, &desc);
            code =
                store_update(wstore(c), cl, recs[i], &nd, up->replace ? NULL : &desc, err, errlen);
            if (!up->replace)
                bson_destroy(&desc);
            if (code == 0)
                res->nmod++;
            else
                res->n--;
        }
        bson_destroy(&nd);
    }
    free(recs);
    if (code != 0 || n > 0 || !upsert)
        return code;
    bson_t nd;
    if ((code = update_upsert_doc(up, q, &nd, err, errlen)) != 0)
        return code;
    cl = store_coll(wstore(c), c->db, coll, 1);
    if (cl == NULL) {
        bson_destroy(&nd);
        snprintf(err, errlen, "invalid namespace %s.%s", c->db, coll);
        return 73;
    }
    struct rec *rec;
    code = store_insert_rec(wstore(c), cl, &nd, &rec, err, errlen);
    bson_destroy(&nd);
    if (code != 0)
        return code;
    bson_t d;
    bson_iter_t it;
    sdoc_view(rec->doc, &d);
    if (bson_iter_init_find(&it, &d, "_id"))
        res->id = *bson_iter_value(&it);
    res->upserted = 1;
    res->rec = rec;
    res->n = 1;
    return 0;
}

/* One statement of an update command. */
static int update_stmt(struct cmd_ctx *c, const char *coll, const bson_t *stmt,
                       struct upd_result *res, char *err, size_t errlen)
{
    bson_t q, u;
    bson_iter_t it;
    struct update up;
    if (cmd_get_doc(stmt, "q", &q) != 1 || !bson_iter_init_find(&it, stmt, "u")) {
        snprintf(err, errlen, "each update statement needs q and u documents");
        return 9;
    }
    if (BSON_ITER_HOLDS_ARRAY(&it)) {
        snprintf(err, errlen, "mongosim does not support pipeline-style updates");
        return 2;
    }
    int code = cmd_get_doc(stmt, "u", &u) == 1 ? 0 : 9;
    if (code != 0)
        snprintf(err, errlen, "u must be an object");
    if (code == 0)
        code = unsupported(stmt, err, errlen);
    if (code == 0 && query_check(&q, err, errlen) != 0)
        code = 2;
    if (code == 0)
        code = update_parse(&u, &up, err, errlen);
    if (code == 0 && up.replace && flag(stmt, "multi")) {
        snprintf(err, errlen, "multi update is not supported for replacement-style update");
        code = 9;
    }
    if (code != 0)
        return code;
    return run_update(c, coll, &q, NULL, &up, flag(stmt, "multi"), flag(stmt, "upsert"), res, err,
                      errlen);
}

void cmd_update(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    const char *coll = cmd_coll_name(cmd);
    bson_t stmts, upserted = BSON_INITIALIZER, errs = BSON_INITIALIZER;
    bson_iter_t it;
    struct retry r;
    if (coll == NULL) {
        cmd_error(reply, 73, "update needs a collection name");
        return;
    }
    if (statements(cmd, "updates", "update", &stmts, reply) != 0 ||
        cmd_retry_check(c, cmd, &r, reply)) {
        bson_destroy(&upserted);
        bson_destroy(&errs);
        return;
    }
    int ordered = ordered_of(cmd);
    int32_t n = 0, nmod = 0, idx = 0;
    uint32_t nerr = 0, nups = 0;
    if (bson_iter_init(&it, &stmts)) {
        while (bson_iter_next(&it)) {
            char err[512] = "";
            bson_t stmt;
            struct upd_result res;
            int code = cmd_get_doc_at(&it, &stmt) && BSON_ITER_HOLDS_DOCUMENT(&it)
                           ? update_stmt(c, coll, &stmt, &res, err, sizeof err)
                           : (snprintf(err, sizeof err, "updates must be objects"), 14);
            if (code == 0) {
                n += res.n;
                nmod += res.nmod;
                if (res.upserted) {
                    bson_t e;
                    char kb[16];
                    const char *k;
                    bson_uint32_to_string(nups++, &k, kb, sizeof kb);
                    bson_append_document_begin(&upserted, k, -1, &e);
                    BSON_APPEND_INT32(&e, "index", idx);
                    bson_append_value(&e, "_id", 3, &res.id);
                    bson_append_document_end(&upserted, &e);
                }
            } else {
                write_error(c, &errs, &nerr, idx, code, err);
                if (ordered)
                    break;
            }
            idx++;
        }
    }
    bson_init(reply);
    BSON_APPEND_INT32(reply, "n", n);
    BSON_APPEND_INT32(reply, "nModified", nmod);
    if (nups)
        BSON_APPEND_ARRAY(reply, "upserted", &upserted);
    bson_destroy(&upserted);
    finish(c, &r, &errs, nerr, reply);
}

/* Documents a yielding deleteMany removes per run: a few milliseconds of work. */
#define DELETE_CHUNK 1000

/*
 * One statement of a delete command. With chunked set (the only statement of its command,
 * limit 0, an index-bounded plan) it deletes at most DELETE_CHUNK documents and sets
 * *more when more may match: the caller yields and runs it again.
 */
static int delete_stmt(struct cmd_ctx *c, const char *coll, const bson_t *stmt, int chunked,
                       int32_t *n, int *more, char *err, size_t errlen)
{
    bson_t q;
    bson_iter_t it;
    if (cmd_get_doc(stmt, "q", &q) != 1 || !bson_iter_init_find(&it, stmt, "limit") ||
        !BSON_ITER_HOLDS_NUMBER(&it)) {
        snprintf(err, errlen, "each delete statement needs a q document and a limit");
        return 9;
    }
    int64_t limit = bson_iter_as_int64(&it);
    if (limit != 0 && limit != 1) {
        snprintf(err, errlen, "The limit field in delete objects must be 0 or 1. Got %lld",
                 (long long)limit);
        return 9;
    }
    int code = unsupported(stmt, err, errlen);
    if (code == 0 && query_check(&q, err, errlen) != 0)
        code = 2;
    if (code != 0)
        return code;
    struct coll *cl = store_coll(wstore(c), c->db, coll, 0);
    struct rec **recs;
    size_t k;
    if (chunked && limit == 0) {
        /* Chunks only where the plan is index-bounded: then each run starts right at the
         * documents still to delete; a collection scan would rescan from the start. */
        struct plan p;
        plan_choose(cl, &q, NULL, 0, &p);
        chunked = p.ix != PLAN_COLLSCAN;
    }
    int64_t want = chunked && limit == 0 ? DELETE_CHUNK : limit;
    if ((code = exec_collect(cl, &q, NULL, 0, want, &recs, &k, err, errlen)) != 0)
        return code;
    for (size_t i = 0; i < k; i++)
        store_delete(wstore(c), cl, recs[i]);
    free(recs);
    *n = (int32_t)k;
    *more = chunked && limit == 0 && (int64_t)k == want;
    return 0;
}

void cmd_delete(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    const char *coll = cmd_coll_name(cmd);
    bson_t stmts, errs = BSON_INITIALIZER;
    bson_iter_t it;
    struct retry r;
    if (coll == NULL) {
        cmd_error(reply, 73, "delete needs a collection name");
        return;
    }
    if (statements(cmd, "deletes", "delete", &stmts, reply) != 0 ||
        cmd_retry_check(c, cmd, &r, reply)) {
        bson_destroy(&errs);
        return;
    }
    int ordered = ordered_of(cmd);
    int32_t n = (int32_t)c->progress, idx = 0;
    uint32_t nerr = 0;
    int single = bson_count_keys(&stmts) == 1;
    if (bson_iter_init(&it, &stmts)) {
        while (bson_iter_next(&it)) {
            char err[512] = "";
            bson_t stmt;
            int32_t k = 0;
            int more = 0;
            int code = BSON_ITER_HOLDS_DOCUMENT(&it) && cmd_get_doc_at(&it, &stmt)
                           ? delete_stmt(c, coll, &stmt, single, &k, &more, err, sizeof err)
                           : (snprintf(err, sizeof err, "deletes must be objects"), 14);
            n += k;
            if (code == 0 && more) {
                /* Yield: let other connections in, then continue where this run stopped. */
                c->progress = n;
                c->yield = 1;
                c->wait_deadline = c->now;
                c->sim->changed = 1;
                bson_destroy(&errs);
                return;
            }
            if (code != 0) {
                write_error(c, &errs, &nerr, idx, code, err);
                if (ordered)
                    break;
            }
            idx++;
        }
    }
    bson_init(reply);
    BSON_APPEND_INT32(reply, "n", n);
    finish(c, &r, &errs, nerr, reply);
}

/* Reads findAndModify's options. Returns 0, or an error code with err. */
static int fam_options(const bson_t *cmd, bson_t *q, bson_t *sort, bson_t *fields, bson_t *u,
                       int *remove, int *want_new, int *upsert, char *err, size_t errlen)
{
    bson_iter_t it;
    int hq = cmd_get_doc(cmd, "query", q), hs = cmd_get_doc(cmd, "sort", sort),
        hf = cmd_get_doc(cmd, "fields", fields);
    if (hq < 0 || hs < 0 || hf < 0) {
        snprintf(err, errlen, "query, sort and fields must be objects");
        return 14;
    }
    if (hq == 0)
        bson_init(q);
    if (hs == 0)
        bson_init(sort);
    if (hf == 0)
        bson_init(fields);
    *remove = flag(cmd, "remove");
    *want_new = flag(cmd, "new");
    *upsert = flag(cmd, "upsert");
    int hu = bson_iter_init_find(&it, cmd, "update");
    if (hu && BSON_ITER_HOLDS_ARRAY(&it)) {
        snprintf(err, errlen, "mongosim does not support pipeline-style updates");
        return 2;
    }
    if (hu && cmd_get_doc(cmd, "update", u) != 1) {
        snprintf(err, errlen, "update must be an object");
        return 14;
    }
    if (*remove && hu) {
        snprintf(err, errlen, "Cannot specify both an update and remove=true");
        return 9;
    }
    if (!*remove && !hu) {
        snprintf(err, errlen, "Either an update or remove=true must be specified");
        return 9;
    }
    if (*remove && (*want_new || *upsert)) {
        snprintf(err, errlen, "Cannot specify both %s=true and remove=true",
                 *want_new ? "new" : "upsert");
        return 9;
    }
    int code = unsupported(cmd, err, errlen);
    if (code == 0 &&
        (query_check(q, err, errlen) != 0 || query_check_projection(fields, err, errlen) != 0))
        code = 2;
    return code;
}

static void append_value_doc(bson_t *reply, const struct sdoc *d, const bson_t *fields)
{
    bson_t v;
    sdoc_view(d, &v);
    bson_t *p = query_project(&v, fields);
    BSON_APPEND_DOCUMENT(reply, "value", p);
    bson_destroy(p);
}

void cmd_find_and_modify(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    const char *coll = cmd_coll_name(cmd);
    bson_t q, sort, fields, u, leo;
    struct retry r;
    char err[512] = "";
    int remove, want_new, upsert;
    if (coll == NULL) {
        cmd_error(reply, 73, "findAndModify needs a collection name");
        return;
    }
    int code =
        fam_options(cmd, &q, &sort, &fields, &u, &remove, &want_new, &upsert, err, sizeof err);
    if (code != 0) {
        cmd_error(reply, code, "%s", err);
        return;
    }
    if (cmd_retry_check(c, cmd, &r, reply))
        return;
    struct sdoc *before = NULL;
    struct upd_result res = {0};
    if (remove) {
        struct coll *cl = store_coll(wstore(c), c->db, coll, 0);
        struct rec **recs;
        size_t n;
        code = exec_collect(cl, &q, &sort, 0, 1, &recs, &n, err, sizeof err);
        if (code == 0 && n == 1) {
            before = sdoc_ref(recs[0]->doc);
            store_delete(wstore(c), cl, recs[0]);
            res.n = 1;
        }
        if (code == 0)
            free(recs);
    } else {
        struct update up;
        code = update_parse(&u, &up, err, sizeof err);
        if (code == 0) {
            /* Keep the matched document's current version for new: false. */
            struct coll *cl = store_coll(wstore(c), c->db, coll, 0);
            struct rec **recs;
            size_t n;
            code = exec_collect(cl, &q, &sort, 0, 1, &recs, &n, err, sizeof err);
            if (code == 0) {
                if (n == 1)
                    before = sdoc_ref(recs[0]->doc);
                free(recs);
                code = run_update(c, coll, &q, &sort, &up, 0, upsert, &res, err, sizeof err);
            }
        }
    }
    if (code != 0) {
        sdoc_unref(before);
        cmd_error(reply, code, "%s", err);
        if (code == 11000)
            store_dup_info(wstore(c), reply);
        return;
    }
    bson_init(reply);
    BSON_APPEND_DOCUMENT_BEGIN(reply, "lastErrorObject", &leo);
    BSON_APPEND_INT32(&leo, "n", res.n);
    if (!remove) {
        BSON_APPEND_BOOL(&leo, "updatedExisting", res.n > 0 && !res.upserted);
        if (res.upserted)
            bson_append_value(&leo, "upserted", 8, &res.id);
    }
    bson_append_document_end(reply, &leo);
    const struct sdoc *show = NULL;
    if (remove)
        show = before;
    else if (want_new)
        show = res.rec ? res.rec->doc : NULL;
    else
        show = res.upserted ? NULL : before;
    if (show)
        append_value_doc(reply, show, &fields);
    else
        BSON_APPEND_NULL(reply, "value");
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
    sdoc_unref(before);
    cmd_retry_done(c, &r, reply);
    c->sim->changed = 1;
}
