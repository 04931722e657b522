/* cmd_agg — aggregate: $match, $sort, $skip, $limit, $project, $group ($sum), $count, and a
 * leading $changeStream stage (with its getMore). A leading $match (and $sort, $skip,
 * $limit right after it) runs through the query planner, so it uses indexes. */
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

/* The documents flowing through the pipeline: shared, immutable. */
struct docs {
    struct sdoc **v;
    size_t n;
};

static void docs_free(struct docs *d)
{
    for (size_t i = 0; i < d->n; i++)
        sdoc_unref(d->v[i]);
    free(d->v);
    d->v = NULL;
    d->n = 0;
}

/* Replaces the pipeline's documents by the n new ones in v (taking them over). */
static void docs_set(struct docs *d, struct sdoc **v, size_t n)
{
    docs_free(d);
    d->v = v;
    d->n = n;
}

static void sdoc_item_view(const void *item, bson_t *out)
{
    sdoc_view(item, out);
}

struct group {
    bson_value_t key; /* deep copy */
    int64_t *isum;
    double *dsum;
    unsigned char *is_double, *all_i32;
};

/* Evaluates a $group expression: "$path" reads the field, anything else is a constant. */
static int eval(const bson_t *doc, const bson_value_t *expr, bson_value_t *out)
{
    if (expr->value_type == BSON_TYPE_UTF8 && expr->value.v_utf8.str[0] == '$')
        return query_get(doc, expr->value.v_utf8.str + 1, out);
    *out = *expr;
    return 1;
}

static struct sdoc *group_doc(const struct group *g, const char **names, size_t na)
{
    bson_t out = BSON_INITIALIZER;
    bson_append_value(&out, "_id", 3, &g->key);
    for (size_t a = 0; a < na; a++) {
        if (g->is_double[a])
            BSON_APPEND_DOUBLE(&out, names[a], g->dsum[a] + (double)g->isum[a]);
        else if (g->all_i32[a] && g->isum[a] >= INT32_MIN && g->isum[a] <= INT32_MAX)
            BSON_APPEND_INT32(&out, names[a], (int32_t)g->isum[a]);
        else
            BSON_APPEND_INT64(&out, names[a], g->isum[a]);
    }
    struct sdoc *sd = sdoc_from_bson(&out);
    bson_destroy(&out);
    return sd;
}

static int stage_group(struct docs *d, const bson_t *spec, char *err, size_t errlen)
{
    bson_iter_t it;
    const char *names[64];
    bson_value_t exprs[64], idv;
    size_t na = 0;
    int have_id = 0;
    if (!bson_iter_init(&it, spec))
        return -1;
    while (bson_iter_next(&it)) {
        if (strcmp(bson_iter_key(&it), "_id") == 0) {
            idv = *bson_iter_value(&it);
            have_id = 1;
            continue;
        }
        bson_iter_t acc;
        if (na == 64 || !BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &acc) ||
            !bson_iter_next(&acc) || strcmp(bson_iter_key(&acc), "$sum") != 0) {
            snprintf(err, errlen, "mongosim supports only {$sum: ...} in $group (field '%s')",
                     bson_iter_key(&it));
            return -1;
        }
        names[na] = bson_iter_key(&it);
        exprs[na++] = *bson_iter_value(&acc);
    }
    if (!have_id) {
        snprintf(err, errlen, "a group specification must include an _id");
        return -1;
    }
    struct group *g = NULL;
    size_t ng = 0;
    int oom = 0;
    for (size_t i = 0; i < d->n && !oom; i++) {
        bson_t doc;
        bson_value_t key, null = {.value_type = BSON_TYPE_NULL};
        sdoc_view(d->v[i], &doc);
        if (!eval(&doc, &idv, &key))
            key = null;
        size_t k;
        for (k = 0; k < ng; k++)
            if (query_compare(&g[k].key, &key) == 0)
                break;
        if (k == ng) {
            struct group *ngp = realloc(g, (ng + 1) * sizeof *g);
            if (ngp == NULL) {
                oom = 1;
                break;
            }
            g = ngp;
            bson_value_copy(&key, &g[ng].key);
            g[ng].isum = calloc(na + 1, sizeof(int64_t));
            g[ng].dsum = calloc(na + 1, sizeof(double));
            g[ng].is_double = calloc(na + 1, 1);
            g[ng].all_i32 = malloc(na + 1);
            ng++;
            if (!g[k].isum || !g[k].dsum || !g[k].is_double || !g[k].all_i32) {
                oom = 1;
                break;
            }
            memset(g[k].all_i32, 1, na + 1);
        }
        for (size_t a = 0; a < na; a++) {
            bson_value_t v;
            if (!eval(&doc, &exprs[a], &v))
                continue;
            switch (v.value_type) {
            case BSON_TYPE_INT32:
                g[k].isum[a] += v.value.v_int32;
                break;
            case BSON_TYPE_INT64:
                g[k].isum[a] += v.value.v_int64;
                g[k].all_i32[a] = 0;
                break;
            case BSON_TYPE_DOUBLE:
                g[k].dsum[a] += v.value.v_double;
                g[k].is_double[a] = 1;
                break;
            default:
                break; /* $sum ignores non-numbers */
            }
        }
    }
    struct sdoc **out = oom ? NULL : malloc((ng ? ng : 1) * sizeof *out);
    size_t nout = 0;
    for (size_t k = 0; k < ng; k++) {
        if (out && !oom) {
            out[nout] = group_doc(&g[k], names, na);
            oom = out[nout++] == NULL;
        }
        bson_value_destroy(&g[k].key);
        free(g[k].isum);
        free(g[k].dsum);
        free(g[k].is_double);
        free(g[k].all_i32);
    }
    free(g);
    if (oom || out == NULL) {
        for (size_t k = 0; out && k < nout; k++)
            sdoc_unref(out[k]);
        free(out);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    docs_set(d, out, nout);
    return 0;
}

/* Keeps the documents for which keep(i) holds. */
static void docs_keep_range(struct docs *d, size_t from, size_t to)
{
    size_t j = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (i >= from && i < to)
            d->v[j++] = d->v[i];
        else
            sdoc_unref(d->v[i]);
    }
    d->n = j;
}

/* Applies one stage to d. Returns 0, or an error code with err. */
static int apply_stage(struct docs *d, const char *name, bson_iter_t *arg, char *err, size_t errlen)
{
    bson_t spec;
    uint32_t l;
    const uint8_t *p;
    int is_doc = BSON_ITER_HOLDS_DOCUMENT(arg);
    if (is_doc) {
        bson_iter_document(arg, &l, &p);
        if (!bson_init_static(&spec, p, l))
            return 9;
    }
    if (strcmp(name, "$match") == 0 || strcmp(name, "$sort") == 0 ||
        strcmp(name, "$project") == 0 || strcmp(name, "$group") == 0) {
        if (!is_doc) {
            snprintf(err, errlen, "the %s stage specification must be an object", name);
            return 15955;
        }
    }
    if (strcmp(name, "$match") == 0) {
        if (query_check(&spec, err, errlen) != 0)
            return 2;
        size_t j = 0;
        for (size_t i = 0; i < d->n; i++) {
            bson_t doc;
            sdoc_view(d->v[i], &doc);
            if (query_match(&doc, &spec))
                d->v[j++] = d->v[i];
            else
                sdoc_unref(d->v[i]);
        }
        d->n = j;
    } else if (strcmp(name, "$sort") == 0) {
        if (query_sort_by((void **)d->v, d->n, sdoc_item_view, &spec, err, errlen) != 0)
            return 15973;
    } else if (strcmp(name, "$skip") == 0 || strcmp(name, "$limit") == 0) {
        if (!BSON_ITER_HOLDS_NUMBER(arg) || bson_iter_as_int64(arg) < 0 ||
            (name[1] == 'l' && bson_iter_as_int64(arg) == 0)) {
            snprintf(err, errlen, "%s needs a %s number", name,
                     name[1] == 'l' ? "positive" : "non-negative");
            return 15956;
        }
        size_t k = (size_t)bson_iter_as_int64(arg);
        if (name[1] == 's')
            docs_keep_range(d, k, d->n);
        else
            docs_keep_range(d, 0, k);
    } else if (strcmp(name, "$project") == 0) {
        if (query_check_projection(&spec, err, errlen) != 0)
            return 2;
        for (size_t i = 0; i < d->n; i++) {
            bson_t doc;
            sdoc_view(d->v[i], &doc);
            bson_t *np = query_project(&doc, &spec);
            struct sdoc *sd = sdoc_from_bson(np);
            bson_destroy(np);
            if (sd == NULL) {
                snprintf(err, errlen, "out of memory");
                return 146;
            }
            sdoc_unref(d->v[i]);
            d->v[i] = sd;
        }
    } else if (strcmp(name, "$group") == 0) {
        if (stage_group(d, &spec, err, errlen) != 0)
            return 15952;
    } else if (strcmp(name, "$count") == 0) {
        if (!BSON_ITER_HOLDS_UTF8(arg) || bson_iter_utf8(arg, NULL)[0] == '\0') {
            snprintf(err, errlen, "the count field must be a non-empty string");
            return 40156;
        }
        bson_t out = BSON_INITIALIZER;
        BSON_APPEND_INT32(&out, bson_iter_utf8(arg, NULL), (int32_t)d->n);
        struct sdoc **v = malloc(sizeof *v);
        if (v && (v[0] = sdoc_from_bson(&out)) == NULL) {
            free(v);
            v = NULL;
        }
        bson_destroy(&out);
        if (v == NULL) {
            snprintf(err, errlen, "out of memory");
            return 146;
        }
        docs_set(d, v, 1);
    } else {
        snprintf(err, errlen, "Unrecognized pipeline stage name: '%s'", name);
        return 40324;
    }
    return 0;
}

/* Closes cur when the stream is over, else reports its id. */
static void cs_reply(struct cmd_ctx *c, struct cursor *cur, const char *ns, bson_t *arr, int first,
                     enum cs_state state, bson_t *reply)
{
    bson_t cd;
    bson_init(reply);
    BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cd);
    BSON_APPEND_ARRAY(&cd, first ? "firstBatch" : "nextBatch", arr);
    cs_append_pbrt(cur->cs, &cd, "postBatchResumeToken");
    BSON_APPEND_INT64(&cd, "id", state == CS_INVALIDATED ? 0 : cur->id);
    BSON_APPEND_UTF8(&cd, "ns", ns);
    bson_append_document_end(reply, &cd);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
    if (state == CS_INVALIDATED)
        cursors_kill(c->sim->cursors, cur->id);
}

static void change_stream(struct cmd_ctx *c, const char *coll, bson_iter_t *stage0,
                          const bson_t *pipeline, int64_t batch, bson_t *reply)
{
    char err[256] = "", ns[260];
    bson_t spec, rest = BSON_INITIALIZER;
    uint32_t l;
    const uint8_t *p;
    if (!BSON_ITER_HOLDS_DOCUMENT(stage0)) {
        cmd_error(reply, 9, "$changeStream needs an object");
        return;
    }
    bson_iter_document(stage0, &l, &p);
    if (!bson_init_static(&spec, p, l)) {
        cmd_error(reply, 9, "bad $changeStream");
        return;
    }
    bson_iter_t it;
    uint32_t k = 0;
    if (bson_iter_init(&it, pipeline)) {
        bson_iter_next(&it);
        while (bson_iter_next(&it)) {
            char kb[16];
            const char *key;
            bson_uint32_to_string(k++, &key, kb, sizeof kb);
            bson_append_value(&rest, key, -1, bson_iter_value(&it));
        }
    }
    struct cs *cs = NULL;
    int code = cs_open(&cs, c->sim->store, msim_last_seq(c->sim, c->member), c->db, coll, &spec,
                       &rest, err, sizeof err);
    bson_destroy(&rest);
    if (code != 0) {
        cmd_error(reply, code, "%s", err);
        return;
    }
    snprintf(ns, sizeof ns, "%s.%s", c->db, coll ? coll : "$cmd.aggregate");
    bson_t arr = BSON_INITIALIZER;
    enum cs_state state = CS_CAUGHT_UP;
    if (batch > 0 && cs_next_batch(cs, c->sim->store, msim_last_seq(c->sim, c->member),
                                   msim_store(c->sim, c->member), &arr, (int)batch, &state) < 0) {
        bson_destroy(&arr);
        cs_free(cs);
        cmd_error(reply, 286,
                  "Resume of change stream was not possible, as the resume point "
                  "may no longer be in the oplog.");
        return;
    }
    struct cursor *cur = cursors_add(c->sim->cursors, c->member, ns, NULL, 0, cs, NULL, c->now);
    if (cur == NULL) {
        bson_destroy(&arr);
        cmd_error(reply, 146, "out of memory");
        return;
    }
    cs_reply(c, cur, ns, &arr, 1, state, reply);
    bson_destroy(&arr);
}

enum cmd_status cmd_change_stream_more(struct cmd_ctx *c, struct cursor *cur, const bson_t *cmd,
                                       const char *ns, int64_t batch, bson_t *reply)
{
    bson_t arr = BSON_INITIALIZER;
    enum cs_state state;
    int n =
        cs_next_batch(cur->cs, c->sim->store, msim_last_seq(c->sim, c->member),
                      msim_store(c->sim, c->member), &arr, batch > 0 ? (int)batch : 1000, &state);
    if (n < 0) {
        bson_destroy(&arr);
        cursors_kill(c->sim->cursors, cur->id);
        cmd_error(reply, 286,
                  "Resume of change stream was not possible, as the resume point "
                  "may no longer be in the oplog.");
        return CMD_REPLY;
    }
    if (n == 0 && state != CS_INVALIDATED) {
        /* Nothing yet: wait for a write until maxTimeMS (the driver's maxAwaitTimeMS). */
        int64_t wait = cmd_get_int(cmd, "maxTimeMS", 1000);
        if (c->wait_deadline == 0)
            c->wait_deadline = c->now + (wait > 0 ? wait : 1000);
        if (c->now < c->wait_deadline) {
            if (state == CS_MORE)
                c->sim->changed = 1; /* a long backlog: run again on the next pass */
            bson_destroy(&arr);
            return CMD_WAIT;
        }
    }
    cs_reply(c, cur, ns, &arr, 0, state, reply);
    bson_destroy(&arr);
    return CMD_REPLY;
}

/* Runs a leading $match (with a $sort, $skip and $limit right after it) through the planner.
 * Returns how many stages it consumed (0 when the pipeline does not start with $match), or
 * -1 with reply set. */
static int leading_match(struct coll *cl, const bson_t *pipeline, struct docs *d, bson_t *reply)
{
    bson_iter_t st, s;
    bson_t match, sort = BSON_INITIALIZER;
    int64_t skip = 0, limit = 0;
    int used = 0;
    char err[256] = "";
    if (!bson_iter_init(&st, pipeline) || !bson_iter_next(&st) || !BSON_ITER_HOLDS_DOCUMENT(&st) ||
        !bson_iter_recurse(&st, &s) || !bson_iter_next(&s) ||
        strcmp(bson_iter_key(&s), "$match") != 0 || cmd_get_doc_at(&s, &match) != 1)
        return 0;
    if (query_check(&match, err, sizeof err) != 0) {
        cmd_error(reply, 2, "%s", err);
        return -1;
    }
    used = 1;
    int have_sort = 0;
    while (bson_iter_next(&st) && BSON_ITER_HOLDS_DOCUMENT(&st) && bson_iter_recurse(&st, &s) &&
           bson_iter_next(&s)) {
        const char *name = bson_iter_key(&s);
        if (strcmp(name, "$sort") == 0 && !have_sort && skip == 0 && limit == 0 &&
            cmd_get_doc_at(&s, &sort) == 1) {
            have_sort = 1;
        } else if (strcmp(name, "$skip") == 0 && limit == 0 && BSON_ITER_HOLDS_NUMBER(&s) &&
                   bson_iter_as_int64(&s) >= 0) {
            skip += bson_iter_as_int64(&s);
        } else if (strcmp(name, "$limit") == 0 && limit == 0 && BSON_ITER_HOLDS_NUMBER(&s) &&
                   bson_iter_as_int64(&s) > 0) {
            limit = bson_iter_as_int64(&s);
        } else {
            break;
        }
        used++;
    }
    struct rec **recs;
    size_t n;
    int code =
        exec_collect(cl, &match, have_sort ? &sort : NULL, skip, limit, &recs, &n, err, sizeof err);
    if (code != 0) {
        cmd_error(reply, code == 2 ? 15973 : code, "%s", err);
        return -1;
    }
    struct sdoc **v = malloc((n ? n : 1) * sizeof *v);
    if (v == NULL) {
        free(recs);
        cmd_error(reply, 146, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = sdoc_ref(recs[i]->doc);
    free(recs);
    docs_set(d, v, n);
    return used;
}

/* The pipeline's output as a cursor reply. */
static void finish(struct cmd_ctx *c, const char *coll, struct docs *d, int64_t batch,
                   bson_t *reply)
{
    char ns[260];
    bson_t **out = malloc((d->n + 1) * sizeof *out);
    if (out == NULL) {
        docs_free(d);
        cmd_error(reply, 146, "out of memory");
        return;
    }
    for (size_t i = 0; i < d->n; i++)
        out[i] = bson_new_from_data(d->v[i]->data, d->v[i]->len);
    size_t n = d->n;
    docs_free(d);
    snprintf(ns, sizeof ns, "%s.%s", c->db, coll);
    struct cursor *cur = cursors_add(c->sim->cursors, c->member, ns, out, n, NULL, NULL, c->now);
    if (cur == NULL) {
        cmd_error(reply, 146, "out of memory");
        return;
    }
    cmd_cursor_reply(c, cur, ns, batch, 1, reply);
}

void cmd_aggregate(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    bson_iter_t it;
    const char *coll = NULL;
    bson_t pipeline, cursor_opt;
    char err[256] = "";
    if (!bson_iter_init(&it, cmd) || !bson_iter_next(&it)) {
        cmd_error(reply, 9, "empty aggregate");
        return;
    }
    if (BSON_ITER_HOLDS_UTF8(&it) && bson_iter_utf8(&it, NULL)[0])
        coll = bson_iter_utf8(&it, NULL);
    else if (!(BSON_ITER_HOLDS_NUMBER(&it) && bson_iter_as_int64(&it) == 1)) {
        cmd_error(reply, 73, "aggregate needs a collection name or 1");
        return;
    }
    if (cmd_get_doc(cmd, "pipeline", &pipeline) != 1) {
        cmd_error(reply, 14, "'pipeline' option must be specified as an array");
        return;
    }
    if (cmd_get_doc(cmd, "cursor", &cursor_opt) != 1) {
        cmd_error(reply, 9, "The 'cursor' option is required");
        return;
    }
    if (cmd_check_read_concern(cmd, reply) != 0)
        return;
    int64_t batch = cmd_get_int(&cursor_opt, "batchSize", 101);
    bson_iter_t st, first;
    if (bson_iter_init(&st, &pipeline) && bson_iter_next(&st) && BSON_ITER_HOLDS_DOCUMENT(&st) &&
        bson_iter_recurse(&st, &first) && bson_iter_next(&first) &&
        strcmp(bson_iter_key(&first), "$changeStream") == 0) {
        change_stream(c, coll, &first, &pipeline, batch, reply);
        return;
    }
    if (coll == NULL) {
        cmd_error(reply, 73, "aggregate: 1 needs a $changeStream first stage in mongosim");
        return;
    }
    struct coll *cl = store_coll(msim_store(c->sim, c->member), c->db, coll, 0);
    struct docs d = {NULL, 0};
    int skip_stages = leading_match(cl, &pipeline, &d, reply);
    if (skip_stages < 0)
        return;
    if (skip_stages == 0) {
        /* No leading $match: the whole collection enters the pipeline (shared, not copied). */
        d.v = malloc((coll_count(cl) + 1) * sizeof *d.v);
        if (d.v == NULL) {
            cmd_error(reply, 146, "out of memory");
            return;
        }
        for (struct rec *r = coll_first(cl); r; r = coll_next(r))
            d.v[d.n++] = sdoc_ref(r->doc);
    }
    int i = 0;
    if (bson_iter_init(&st, &pipeline)) {
        while (bson_iter_next(&st)) {
            bson_iter_t s;
            if (!BSON_ITER_HOLDS_DOCUMENT(&st) || !bson_iter_recurse(&st, &s) ||
                !bson_iter_next(&s)) {
                docs_free(&d);
                cmd_error(reply, 14, "each pipeline stage must be an object");
                return;
            }
            if (i++ < skip_stages)
                continue;
            const char *name = bson_iter_key(&s);
            if (strcmp(name, "$changeStream") == 0) {
                docs_free(&d);
                cmd_error(reply, 40602, "$changeStream is only valid as the first stage");
                return;
            }
            int code = apply_stage(&d, name, &s, err, sizeof err);
            if (code != 0) {
                docs_free(&d);
                cmd_error(reply, code, "%s", err[0] ? err : "bad stage");
                return;
            }
        }
    }
    finish(c, coll, &d, batch, reply);
}
