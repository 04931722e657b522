/* cmd_agg — aggregate: $match, $sort, $skip, $limit, $project, $group ($sum), $count, and a
 * leading $changeStream stage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changestream.h"
#include "cmd.h"
#include "cursor.h"
#include "query.h"
#include "sim.h"
#include "store.h"

struct docs {
    bson_t **v;
    size_t n;
};

static void docs_free(struct docs *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i])
            bson_destroy(d->v[i]);
    free(d->v);
    d->v = NULL;
    d->n = 0;
}

/* Keeps the documents for which keep[i] is set, in order. */
static void docs_filter(struct docs *d, const unsigned char *keep)
{
    size_t j = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (keep[i])
            d->v[j++] = d->v[i];
        else
            bson_destroy(d->v[i]);
    }
    d->n = j;
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

static int stage_group(struct docs *d, const bson_t *spec, char *err, size_t errlen)
{
    bson_iter_t it;
    const bson_value_t *idexpr = NULL;
    const char *names[64];
    bson_value_t exprs[64];
    size_t na = 0;
    if (!bson_iter_init(&it, spec))
        return -1;
    while (bson_iter_next(&it)) {
        if (strcmp(bson_iter_key(&it), "_id") == 0) {
            idexpr = bson_iter_value(&it);
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
    if (idexpr == NULL) {
        snprintf(err, errlen, "a group specification must include an _id");
        return -1;
    }
    /* idexpr points into spec, which outlives this function; copy it before iterating more. */
    bson_value_t idv = *idexpr;
    struct group *g = NULL;
    size_t ng = 0;
    for (size_t i = 0; i < d->n; i++) {
        bson_value_t key, null = {.value_type = BSON_TYPE_NULL};
        if (!eval(d->v[i], &idv, &key))
            key = null;
        size_t k;
        for (k = 0; k < ng; k++)
            if (query_compare(&g[k].key, &key) == 0)
                break;
        if (k == ng) {
            struct group *ngp = realloc(g, (ng + 1) * sizeof *g);
            if (ngp == NULL)
                break;
            g = ngp;
            bson_value_copy(&key, &g[ng].key);
            g[ng].isum = calloc(na + 1, sizeof(int64_t));
            g[ng].dsum = calloc(na + 1, sizeof(double));
            g[ng].is_double = calloc(na + 1, 1);
            g[ng].all_i32 = malloc(na + 1);
            memset(g[ng].all_i32, 1, na + 1);
            ng++;
        }
        for (size_t a = 0; a < na; a++) {
            bson_value_t v;
            if (!eval(d->v[i], &exprs[a], &v))
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
    docs_free(d);
    d->v = malloc((ng ? ng : 1) * sizeof *d->v);
    for (size_t k = 0; k < ng; k++) {
        bson_t *out = bson_new();
        bson_append_value(out, "_id", 3, &g[k].key);
        for (size_t a = 0; a < na; a++) {
            if (g[k].is_double[a])
                BSON_APPEND_DOUBLE(out, names[a], g[k].dsum[a] + (double)g[k].isum[a]);
            else if (g[k].all_i32[a] && g[k].isum[a] >= INT32_MIN && g[k].isum[a] <= INT32_MAX)
                BSON_APPEND_INT32(out, names[a], (int32_t)g[k].isum[a]);
            else
                BSON_APPEND_INT64(out, names[a], g[k].isum[a]);
        }
        if (d->v)
            d->v[d->n++] = out;
        else
            bson_destroy(out);
        bson_value_destroy(&g[k].key);
        free(g[k].isum);
        free(g[k].dsum);
        free(g[k].is_double);
        free(g[k].all_i32);
    }
    free(g);
    return 0;
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
        unsigned char *keep = malloc(d->n + 1);
        if (keep == NULL)
            return 146;
        for (size_t i = 0; i < d->n; i++)
            keep[i] = (unsigned char)query_match(d->v[i], &spec);
        docs_filter(d, keep);
        free(keep);
    } else if (strcmp(name, "$sort") == 0) {
        if (query_sort((const bson_t **)d->v, d->n, &spec, err, errlen) != 0)
            return 15973;
    } else if (strcmp(name, "$skip") == 0 || strcmp(name, "$limit") == 0) {
        if (!BSON_ITER_HOLDS_NUMBER(arg) || bson_iter_as_int64(arg) < 0 ||
            (name[1] == 'l' && bson_iter_as_int64(arg) == 0)) {
            snprintf(err, errlen, "%s needs a %s number", name,
                     name[1] == 'l' ? "positive" : "non-negative");
            return 15956;
        }
        size_t k = (size_t)bson_iter_as_int64(arg);
        unsigned char *keep = malloc(d->n + 1);
        if (keep == NULL)
            return 146;
        for (size_t i = 0; i < d->n; i++)
            keep[i] = name[1] == 's' ? i >= k : i < k;
        docs_filter(d, keep);
        free(keep);
    } else if (strcmp(name, "$project") == 0) {
        if (query_check_projection(&spec, err, errlen) != 0)
            return 2;
        for (size_t i = 0; i < d->n; i++) {
            bson_t *np = query_project(d->v[i], &spec);
            bson_destroy(d->v[i]);
            d->v[i] = np;
        }
    } else if (strcmp(name, "$group") == 0) {
        if (stage_group(d, &spec, err, errlen) != 0)
            return 15952;
    } else if (strcmp(name, "$count") == 0) {
        if (!BSON_ITER_HOLDS_UTF8(arg) || bson_iter_utf8(arg, NULL)[0] == '\0') {
            snprintf(err, errlen, "the count field must be a non-empty string");
            return 40156;
        }
        bson_t *out = bson_new();
        BSON_APPEND_INT32(out, bson_iter_utf8(arg, NULL), (int32_t)d->n);
        docs_free(d);
        d->v = malloc(sizeof *d->v);
        if (d->v)
            d->v[d->n++] = out;
        else
            bson_destroy(out);
    } else {
        snprintf(err, errlen, "Unrecognized pipeline stage name: '%s'", name);
        return 40324;
    }
    return 0;
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
    int code = cs_open(&cs, c->sim->store, c->db, coll, &spec, &rest, err, sizeof err);
    bson_destroy(&rest);
    if (code != 0) {
        cmd_error(reply, code, "%s", err);
        return;
    }
    snprintf(ns, sizeof ns, "%s.%s", c->db, coll ? coll : "$cmd.aggregate");
    bson_t arr = BSON_INITIALIZER;
    if (batch > 0)
        cs_next_batch(cs, c->sim->store, &arr, (int)batch);
    struct cursor *cur = cursors_add(c->sim->cursors, c->member, ns, NULL, 0, cs, c->now);
    if (cur == NULL) {
        bson_destroy(&arr);
        cmd_error(reply, 146, "out of memory");
        return;
    }
    bson_t cd;
    bson_init(reply);
    BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cd);
    BSON_APPEND_ARRAY(&cd, "firstBatch", &arr);
    BSON_APPEND_INT64(&cd, "id", cur->id);
    BSON_APPEND_UTF8(&cd, "ns", ns);
    cs_append_pbrt(cs, &cd, "postBatchResumeToken");
    bson_append_document_end(reply, &cd);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
    bson_destroy(&arr);
}

void cmd_aggregate(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    bson_iter_t it;
    const char *coll = NULL;
    bson_t pipeline, cursor_opt;
    char err[256] = "", ns[260];
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
    struct coll *cl = store_coll(c->sim->store, c->db, coll, 0);
    struct docs d = {malloc((coll_count(cl) + 1) * sizeof(bson_t *)), 0};
    if (d.v == NULL) {
        cmd_error(reply, 146, "out of memory");
        return;
    }
    for (size_t i = 0; i < coll_count(cl); i++)
        d.v[d.n++] = bson_copy(coll_doc(cl, i));
    if (bson_iter_init(&st, &pipeline)) {
        while (bson_iter_next(&st)) {
            bson_iter_t s;
            if (!BSON_ITER_HOLDS_DOCUMENT(&st) || !bson_iter_recurse(&st, &s) ||
                !bson_iter_next(&s)) {
                docs_free(&d);
                {
                    cmd_error(reply, 14, "each pipeline stage must be an object");
                    return;
                }
            }
            const char *name = bson_iter_key(&s);
            if (strcmp(name, "$changeStream") == 0) {
                docs_free(&d);
                {
                    cmd_error(reply, 40602, "$changeStream is only valid as the first stage");
                    return;
                }
            }
            int code = apply_stage(&d, name, &s, err, sizeof err);
            if (code != 0) {
                docs_free(&d);
                {
                    cmd_error(reply, code, "%s", err[0] ? err : "bad stage");
                    return;
                }
            }
        }
    }
    snprintf(ns, sizeof ns, "%s.%s", c->db, coll);
    struct cursor *cur = cursors_add(c->sim->cursors, c->member, ns, d.v, d.n, NULL, c->now);
    if (cur == NULL) {
        cmd_error(reply, 146, "out of memory");
        return;
    }
    cmd_cursor_reply(c, cur, ns, batch, 1, reply);
}
