#include "query.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int query_type_rank(bson_type_t t)
{
    switch (t) {
    case BSON_TYPE_MINKEY:
        return 0;
    case BSON_TYPE_UNDEFINED:
    case BSON_TYPE_NULL:
        return 1;
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_DECIMAL128:
        return 2;
    case BSON_TYPE_UTF8:
    case BSON_TYPE_SYMBOL:
        return 3;
    case BSON_TYPE_DOCUMENT:
        return 4;
    case BSON_TYPE_ARRAY:
        return 5;
    case BSON_TYPE_BINARY:
        return 6;
    case BSON_TYPE_OID:
        return 7;
    case BSON_TYPE_BOOL:
        return 8;
    case BSON_TYPE_DATE_TIME:
        return 9;
    case BSON_TYPE_TIMESTAMP:
        return 10;
    case BSON_TYPE_REGEX:
        return 11;
    case BSON_TYPE_MAXKEY:
        return 13;
    default:
        return 12;
    }
}

static int cmp_num(const bson_value_t *a, const bson_value_t *b)
{
    if (a->value_type != BSON_TYPE_DOUBLE && b->value_type != BSON_TYPE_DOUBLE &&
        a->value_type != BSON_TYPE_DECIMAL128 && b->value_type != BSON_TYPE_DECIMAL128) {
        int64_t x = a->value_type == BSON_TYPE_INT32 ? a->value.v_int32 : a->value.v_int64;
        int64_t y = b->value_type == BSON_TYPE_INT32 ? b->value.v_int32 : b->value.v_int64;
        return x < y ? -1 : x > y;
    }
    long double x, y;
    switch (a->value_type) {
    case BSON_TYPE_INT32:
        x = a->value.v_int32;
        break;
    case BSON_TYPE_INT64:
        x = (long double)a->value.v_int64;
        break;
    case BSON_TYPE_DOUBLE:
        x = a->value.v_double;
        break;
    default:
        x = 0; /* decimal128: not interpreted by mongosim */
    }
    switch (b->value_type) {
    case BSON_TYPE_INT32:
        y = b->value.v_int32;
        break;
    case BSON_TYPE_INT64:
        y = (long double)b->value.v_int64;
        break;
    case BSON_TYPE_DOUBLE:
        y = b->value.v_double;
        break;
    default:
        y = 0;
    }
    if (isnan(x) || isnan(y))
        return isnan(x) ? (isnan(y) ? 0 : -1) : 1; /* NaN sorts below every number */
    return x < y ? -1 : x > y;
}

static int cmp_bytes(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return al < bl ? -1 : al > bl;
}

/* Compares two documents (or arrays) field by field: key name, then value. */
static int cmp_docs(const uint8_t *ad, uint32_t al, const uint8_t *bd, uint32_t bl)
{
    bson_t a, b;
    bson_iter_t ia, ib;
    if (!bson_init_static(&a, ad, al) || !bson_init_static(&b, bd, bl) ||
        !bson_iter_init(&ia, &a) || !bson_iter_init(&ib, &b))
        return cmp_bytes(ad, al, bd, bl);
    for (;;) {
        int na = bson_iter_next(&ia), nb = bson_iter_next(&ib);
        if (!na || !nb)
            return na - nb;
        const bson_value_t *va = bson_iter_value(&ia), *vb = bson_iter_value(&ib);
        int c = query_type_rank(va->value_type) - query_type_rank(vb->value_type);
        if (c != 0)
            return c < 0 ? -1 : 1;
        c = strcmp(bson_iter_key(&ia), bson_iter_key(&ib));
        if (c != 0)
            return c < 0 ? -1 : 1;
        c = query_compare(va, vb);
        if (c != 0)
            return c;
    }
}

int query_compare(const bson_value_t *a, const bson_value_t *b)
{
    int ra = query_type_rank(a->value_type), rb = query_type_rank(b->value_type);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case 2:
        return cmp_num(a, b);
    case 3:
        return cmp_bytes((const uint8_t *)a->value.v_utf8.str, a->value.v_utf8.len,
                         (const uint8_t *)b->value.v_utf8.str, b->value.v_utf8.len);
    case 4:
    case 5:
        return cmp_docs(a->value.v_doc.data, a->value.v_doc.data_len, b->value.v_doc.data,
                        b->value.v_doc.data_len);
    case 6:
        if (a->value.v_binary.data_len != b->value.v_binary.data_len)
            return a->value.v_binary.data_len < b->value.v_binary.data_len ? -1 : 1;
        if (a->value.v_binary.subtype != b->value.v_binary.subtype)
            return a->value.v_binary.subtype < b->value.v_binary.subtype ? -1 : 1;
        return cmp_bytes(a->value.v_binary.data, a->value.v_binary.data_len, b->value.v_binary.data,
                         b->value.v_binary.data_len);
    case 7:
        return cmp_bytes(a->value.v_oid.bytes, 12, b->value.v_oid.bytes, 12);
    case 8:
        return (int)a->value.v_bool - (int)b->value.v_bool;
    case 9:
        return a->value.v_datetime < b->value.v_datetime
                   ? -1
                   : a->value.v_datetime > b->value.v_datetime;
    case 10: {
        uint64_t x =
            (uint64_t)a->value.v_timestamp.timestamp << 32 | a->value.v_timestamp.increment;
        uint64_t y =
            (uint64_t)b->value.v_timestamp.timestamp << 32 | b->value.v_timestamp.increment;
        return x < y ? -1 : x > y;
    }
    default:
        return 0;
    }
}

int query_get(const bson_t *doc, const char *path, bson_value_t *v)
{
    bson_iter_t it, found;
    if (!bson_iter_init(&it, doc))
        return 0;
    if (strchr(path, '.') == NULL) {
        if (!bson_iter_find(&it, path))
            return 0;
        *v = *bson_iter_value(&it);
        return 1;
    }
    if (!bson_iter_find_descendant(&it, path, &found))
        return 0;
    *v = *bson_iter_value(&found);
    return 1;
}

enum op { OP_EQ, OP_NE, OP_GT, OP_GTE, OP_LT, OP_LTE, OP_IN, OP_NIN, OP_EXISTS, OP_BAD };

static enum op op_of(const char *k)
{
    static const char *names[] = {"$eq",  "$ne", "$gt",  "$gte",   "$lt",
                                  "$lte", "$in", "$nin", "$exists"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(k, names[i]) == 0)
            return (enum op)i;
    return OP_BAD;
}

/* Is v an operator document ({$gt: ...}) rather than a literal? */
static int is_op_doc(const bson_value_t *v)
{
    if (v->value_type != BSON_TYPE_DOCUMENT)
        return 0;
    bson_t d;
    bson_iter_t it;
    if (!bson_init_static(&d, v->value.v_doc.data, v->value.v_doc.data_len) ||
        !bson_iter_init(&it, &d) || !bson_iter_next(&it))
        return 0;
    return bson_iter_key(&it)[0] == '$';
}

/* Equality as a query sees it: a scalar also matches an array element. */
static int eq_match(int have, const bson_value_t *field, const bson_value_t *want)
{
    if (!have)
        return want->value_type == BSON_TYPE_NULL;
    if (query_compare(field, want) == 0 &&
        (query_type_rank(field->value_type) == query_type_rank(want->value_type)))
        return 1;
    if (field->value_type == BSON_TYPE_ARRAY && want->value_type != BSON_TYPE_ARRAY) {
        bson_t arr;
        bson_iter_t it;
        if (bson_init_static(&arr, field->value.v_doc.data, field->value.v_doc.data_len) &&
            bson_iter_init(&it, &arr))
            while (bson_iter_next(&it))
                if (query_compare(bson_iter_value(&it), want) == 0)
                    return 1;
    }
    return 0;
}

static int in_match(int have, const bson_value_t *field, const bson_value_t *list)
{
    bson_t arr;
    bson_iter_t it;
    if (!bson_init_static(&arr, list->value.v_doc.data, list->value.v_doc.data_len) ||
        !bson_iter_init(&it, &arr))
        return 0;
    while (bson_iter_next(&it))
        if (eq_match(have, field, bson_iter_value(&it)))
            return 1;
    return 0;
}

/* Range comparisons only hold between values of the same type class. */
static int range_match(enum op op, int have, const bson_value_t *field, const bson_value_t *want)
{
    if (!have || query_type_rank(field->value_type) != query_type_rank(want->value_type))
        return 0;
    int c = query_compare(field, want);
    switch (op) {
    case OP_GT:
        return c > 0;
    case OP_GTE:
        return c >= 0;
    case OP_LT:
        return c < 0;
    default:
        return c <= 0;
    }
}

static int field_match(const bson_t *doc, const char *path, const bson_value_t *cond)
{
    bson_value_t field;
    int have = query_get(doc, path, &field);
    if (!is_op_doc(cond))
        return eq_match(have, &field, cond);
    bson_t ops;
    bson_iter_t it;
    if (!bson_init_static(&ops, cond->value.v_doc.data, cond->value.v_doc.data_len) ||
        !bson_iter_init(&it, &ops))
        return 0;
    while (bson_iter_next(&it)) {
        const bson_value_t *arg = bson_iter_value(&it);
        enum op op = op_of(bson_iter_key(&it));
        int ok;
        switch (op) {
        case OP_EQ:
            ok = eq_match(have, &field, arg);
            break;
        case OP_NE:
            ok = !eq_match(have, &field, arg);
            break;
        case OP_IN:
            ok = in_match(have, &field, arg);
            break;
        case OP_NIN:
            ok = !in_match(have, &field, arg);
            break;
        case OP_EXISTS:
            ok = have == bson_iter_as_bool(&it);
            break;
        case OP_GT:
        case OP_GTE:
        case OP_LT:
        case OP_LTE:
            ok = range_match(op, have, &field, arg);
            break;
        default:
            ok = 0;
        }
        if (!ok)
            return 0;
    }
    return 1;
}

static int check_depth(const bson_t *filter, int depth, char *err, size_t errlen)
{
    bson_iter_t it;
    if (depth > 20) {
        snprintf(err, errlen, "filter nested too deeply");
        return -1;
    }
    if (!bson_iter_init(&it, filter))
        return -1;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        const bson_value_t *v = bson_iter_value(&it);
        if (strcmp(k, "$and") == 0 || strcmp(k, "$or") == 0) {
            if (v->value_type != BSON_TYPE_ARRAY) {
                snprintf(err, errlen, "%s must be an array", k);
                return -1;
            }
            bson_t arr;
            bson_iter_t ai;
            if (!bson_init_static(&arr, v->value.v_doc.data, v->value.v_doc.data_len) ||
                !bson_iter_init(&ai, &arr))
                return -1;
            int n = 0;
            while (bson_iter_next(&ai)) {
                n++;
                if (!BSON_ITER_HOLDS_DOCUMENT(&ai)) {
                    snprintf(err, errlen, "%s entries must be objects", k);
                    return -1;
                }
                const bson_value_t *sv = bson_iter_value(&ai);
                bson_t sub;
                if (!bson_init_static(&sub, sv->value.v_doc.data, sv->value.v_doc.data_len) ||
                    check_depth(&sub, depth + 1, err, errlen) != 0)
                    return -1;
            }
            if (n == 0) {
                snprintf(err, errlen, "%s must be a nonempty array", k);
                return -1;
            }
            continue;
        }
        if (k[0] == '$') {
            snprintf(err, errlen, "unknown top level operator: %s", k);
            return -1;
        }
        /* A regular expression is a pattern to MongoDB; compared as a value it would match
         * nothing, silently. Refused, like $regex, rather than answered wrongly. */
        if (v->value_type == BSON_TYPE_REGEX) {
            snprintf(err, errlen, "regular expressions are not supported (field %s)", k);
            return -1;
        }
        if (!is_op_doc(v))
            continue;
        bson_t ops;
        bson_iter_t oi;
        if (!bson_init_static(&ops, v->value.v_doc.data, v->value.v_doc.data_len) ||
            !bson_iter_init(&oi, &ops))
            return -1;
        while (bson_iter_next(&oi)) {
            enum op op = op_of(bson_iter_key(&oi));
            if (op == OP_BAD) {
                snprintf(err, errlen, "unknown operator: %s", bson_iter_key(&oi));
                return -1;
            }
            if ((op == OP_IN || op == OP_NIN) && !BSON_ITER_HOLDS_ARRAY(&oi)) {
                snprintf(err, errlen, "%s needs an array", bson_iter_key(&oi));
                return -1;
            }
            bson_iter_t ei;
            if ((op == OP_IN || op == OP_NIN) && bson_iter_recurse(&oi, &ei))
                while (bson_iter_next(&ei))
                    if (BSON_ITER_HOLDS_REGEX(&ei)) {
                        snprintf(err, errlen, "regular expressions are not supported (%s of %s)",
                                 bson_iter_key(&oi), k);
                        return -1;
                    }
        }
    }
    return 0;
}

int query_check(const bson_t *filter, char *err, size_t errlen)
{
    if (check_depth(filter, 0, err, errlen) != 0) {
        if (err[0] == '\0')
            snprintf(err, errlen, "malformed filter");
        return -1;
    }
    return 0;
}

int query_match(const bson_t *doc, const bson_t *filter)
{
    bson_iter_t it;
    if (filter == NULL || !bson_iter_init(&it, filter))
        return 1;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        const bson_value_t *v = bson_iter_value(&it);
        if (strcmp(k, "$and") == 0 || strcmp(k, "$or") == 0) {
            int is_or = k[1] == 'o', any = 0;
            bson_t arr;
            bson_iter_t ai;
            if (v->value_type != BSON_TYPE_ARRAY ||
                !bson_init_static(&arr, v->value.v_doc.data, v->value.v_doc.data_len) ||
                !bson_iter_init(&ai, &arr))
                return 0;
            while (bson_iter_next(&ai)) {
                const bson_value_t *sv = bson_iter_value(&ai);
                bson_t sub;
                if (sv->value_type != BSON_TYPE_DOCUMENT ||
                    !bson_init_static(&sub, sv->value.v_doc.data, sv->value.v_doc.data_len))
                    return 0;
                int m = query_match(doc, &sub);
                if (is_or && m) {
                    any = 1;
                    break;
                }
                if (!is_or && !m)
                    return 0;
            }
            if (is_or && !any)
                return 0;
            continue;
        }
        if (!field_match(doc, k, v))
            return 0;
    }
    return 1;
}

struct sort_key {
    const char *path;
    int dir;
};

struct sort_ctx {
    const struct sort_key *keys;
    size_t nk;
};

struct sort_item {
    void *item;
    size_t idx;
    bson_value_t *vals; /* nk values: views into the item's document */
};

static int sort_cmp(const void *pa, const void *pb, void *arg)
{
    const struct sort_item *a = pa, *b = pb;
    const struct sort_ctx *cx = arg;
    for (size_t k = 0; k < cx->nk; k++) {
        int c = query_compare(&a->vals[k], &b->vals[k]);
        if (c != 0)
            return c * cx->keys[k].dir;
    }
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

int query_sort_by(void **items, size_t n, void (*view)(const void *item, bson_t *out),
                  const bson_t *spec, char *err, size_t errlen)
{
    struct sort_key keys[32];
    size_t nk = 0;
    bson_iter_t it;
    if (spec == NULL || !bson_iter_init(&it, spec))
        return 0;
    while (bson_iter_next(&it)) {
        if (nk == 32) {
            snprintf(err, errlen, "too many sort keys");
            return -1;
        }
        int64_t d = BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : 0;
        if (d != 1 && d != -1) {
            snprintf(err, errlen, "sort direction for '%s' must be 1 or -1", bson_iter_key(&it));
            return -1;
        }
        keys[nk].path = bson_iter_key(&it);
        keys[nk++].dir = (int)d;
    }
    if (nk == 0 || n < 2)
        return 0;
    struct sort_item *si = malloc(n * sizeof *si);
    bson_value_t *vals = malloc(n * nk * sizeof *vals);
    if (si == NULL || vals == NULL) {
        free(si);
        free(vals);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        bson_t doc;
        view(items[i], &doc);
        si[i] = (struct sort_item){items[i], i, vals + i * nk};
        for (size_t k = 0; k < nk; k++)
            if (!query_get(&doc, keys[k].path, &si[i].vals[k]))
                si[i].vals[k] = (bson_value_t){.value_type = BSON_TYPE_NULL};
    }
    struct sort_ctx cx = {keys, nk};
    qsort_r(si, n, sizeof *si, sort_cmp, &cx);
    for (size_t i = 0; i < n; i++)
        items[i] = si[i].item;
    free(si);
    free(vals);
    return 0;
}

static void bson_view(const void *item, bson_t *out)
{
    const bson_t *b = item;
    bson_init_static(out, bson_get_data(b), b->len);
}

int query_sort(const bson_t **docs, size_t n, const bson_t *spec, char *err, size_t errlen)
{
    return query_sort_by((void **)docs, n, bson_view, spec, err, errlen);
}

/* Returns 1 for an inclusion projection, 0 for exclusion; -1 when mixed. */
static int projection_kind(const bson_t *proj)
{
    bson_iter_t it;
    int incl = -2, id = 1;
    if (!bson_iter_init(&it, proj))
        return -1;
    while (bson_iter_next(&it)) {
        int on = bson_iter_as_bool(&it);
        if (strcmp(bson_iter_key(&it), "_id") == 0) {
            id = on;
            continue;
        }
        if (incl == -2)
            incl = on;
        else if (incl != on)
            return -1;
    }
    /* Only _id: {_id: 1} keeps just _id, {_id: 0} keeps everything else. */
    return incl == -2 ? id : incl;
}

int query_check_projection(const bson_t *proj, char *err, size_t errlen)
{
    bson_iter_t it;
    if (proj == NULL || bson_empty(proj))
        return 0;
    if (!bson_iter_init(&it, proj))
        return -1;
    while (bson_iter_next(&it)) {
        if (!BSON_ITER_HOLDS_NUMBER(&it) && !BSON_ITER_HOLDS_BOOL(&it)) {
            snprintf(err, errlen, "projection values must be 0/1 or true/false (field '%s')",
                     bson_iter_key(&it));
            return -1;
        }
        if (strchr(bson_iter_key(&it), '.') || bson_iter_key(&it)[0] == '$') {
            snprintf(err, errlen, "only top-level projection is supported (field '%s')",
                     bson_iter_key(&it));
            return -1;
        }
    }
    if (projection_kind(proj) < 0) {
        snprintf(err, errlen, "cannot mix inclusion and exclusion in a projection");
        return -1;
    }
    return 0;
}

bson_t *query_project(const bson_t *doc, const bson_t *proj)
{
    if (proj == NULL || bson_empty(proj))
        return bson_copy(doc);
    int incl = projection_kind(proj);
    int id_on = 1;
    bson_iter_t it, pi;
    if (bson_iter_init_find(&pi, proj, "_id"))
        id_on = bson_iter_as_bool(&pi);
    bson_t *out = bson_new();
    if (!bson_iter_init(&it, doc))
        return out;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        int keep;
        if (strcmp(k, "_id") == 0)
            keep = id_on;
        else if (bson_iter_init_find(&pi, proj, k))
            keep = bson_iter_as_bool(&pi);
        else
            keep = !incl;
        if (keep)
            bson_append_value(out, k, -1, bson_iter_value(&it));
    }
    return out;
}
