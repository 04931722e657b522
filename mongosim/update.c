#include "update.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdoc.h"
#include "update_ops.h"
#include "query.h"
#include "sim.h"

#define MAX_PATHS 256

static const char *const ops[] = {"$set",      "$unset",       "$inc",    "$mul",         "$min",
                                  "$max",      "$currentDate", "$rename", "$setOnInsert", "$push",
                                  "$addToSet", "$pop",         "$pull",   "$pullAll"};

static int known_op(const char *k)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(k, ops[i]) == 0)
            return 1;
    return 0;
}

/* Checks one update path. Returns 0 or an error code. */
static int check_path(const char *p, char *err, size_t errlen)
{
    if (*p == '\0') {
        snprintf(err, errlen, "An empty update path is not valid.");
        return 56;
    }
    for (const char *s = p;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        if (len == 0) {
            snprintf(err, errlen,
                     "The update path '%s' contains an empty field name, which is not allowed.", p);
            return 56;
        }
        if (s[0] == '$') {
            snprintf(err, errlen, "mongosim does not support positional updates ('%s')", p);
            return 2;
        }
        if (!dot)
            return 0;
        s = dot + 1;
    }
}

/* Does path a conflict with path b (equal, or one a prefix of the other at a dot)? */
static int conflicts(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), l = la < lb ? la : lb;
    return strncmp(a, b, l) == 0 && (la == lb || (la < lb ? b[la] : a[lb]) == '.');
}

static int is_number(const bson_value_t *v)
{
    return v->value_type == BSON_TYPE_INT32 || v->value_type == BSON_TYPE_INT64 ||
           v->value_type == BSON_TYPE_DOUBLE;
}

/* Checks the argument of op for path. */
static int check_arg(const char *op, const char *path, bson_iter_t *it, char *err, size_t errlen)
{
    const bson_value_t *v = bson_iter_value(it);
    if ((strcmp(op, "$inc") == 0 || strcmp(op, "$mul") == 0) && !is_number(v)) {
        snprintf(err, errlen, "Cannot %s with non-numeric argument: {%s: ...}",
                 op[1] == 'i' ? "increment" : "multiply", path);
        return 14;
    }
    if (strcmp(op, "$rename") == 0 && (!BSON_ITER_HOLDS_UTF8(it) || v->value.v_utf8.len == 0)) {
        snprintf(err, errlen, "The 'to' field for $rename must be a string: %s", path);
        return 2;
    }
    if (strcmp(op, "$pop") == 0 &&
        !(is_number(v) && (bson_iter_as_int64(it) == 1 || bson_iter_as_int64(it) == -1))) {
        snprintf(err, errlen, "$pop expects 1 or -1, found something else for '%s'", path);
        return 9;
    }
    if (strcmp(op, "$pullAll") == 0 && !BSON_ITER_HOLDS_ARRAY(it)) {
        snprintf(err, errlen, "$pullAll requires an array argument (field '%s')", path);
        return 2;
    }
    if (strcmp(op, "$currentDate") == 0 && !BSON_ITER_HOLDS_BOOL(it)) {
        bson_iter_t t;
        const char *ty = "";
        if (BSON_ITER_HOLDS_DOCUMENT(it) && bson_iter_recurse(it, &t) &&
            bson_iter_find(&t, "$type") && BSON_ITER_HOLDS_UTF8(&t))
            ty = bson_iter_utf8(&t, NULL);
        if (strcmp(ty, "date") != 0 && strcmp(ty, "timestamp") != 0) {
            snprintf(err, errlen, "$currentDate needs true or {$type: \"date\"|\"timestamp\"}");
            return 2;
        }
    }
    if ((strcmp(op, "$push") == 0 || strcmp(op, "$addToSet") == 0) &&
        BSON_ITER_HOLDS_DOCUMENT(it)) {
        bson_iter_t m;
        if (bson_iter_recurse(it, &m) && bson_iter_next(&m) && bson_iter_key(&m)[0] == '$') {
            int each = 0;
            bson_iter_recurse(it, &m);
            while (bson_iter_next(&m)) {
                const char *k = bson_iter_key(&m);
                if (strcmp(k, "$each") == 0 && BSON_ITER_HOLDS_ARRAY(&m)) {
                    each = 1;
                } else if (op[1] == 'p' &&
                           (strcmp(k, "$slice") == 0 || strcmp(k, "$position") == 0) &&
                           BSON_ITER_HOLDS_NUMBER(&m)) {
                    continue;
                } else {
                    snprintf(err, errlen, "mongosim supports %s in %s, not '%s' (field '%s')",
                             op[1] == 'p' ? "$each, $slice and $position" : "$each", op, k, path);
                    return 2;
                }
            }
            if (!each) {
                snprintf(err, errlen, "%s modifiers need an $each array (field '%s')", op, path);
                return 2;
            }
        }
    }
    return 0;
}

int update_parse(const bson_t *u, struct update *out, char *err, size_t errlen)
{
    bson_iter_t it;
    bson_init_static(&out->u, bson_get_data(u), u->len);
    if (!bson_iter_init(&it, u))
        return 9;
    if (!bson_iter_next(&it) || bson_iter_key(&it)[0] != '$') {
        out->replace = 1;
        bson_iter_init(&it, u);
        while (bson_iter_next(&it)) {
            if (bson_iter_key(&it)[0] == '$') {
                snprintf(err, errlen,
                         "The dollar ($) prefixed field '%s' in '%s' is not valid for storage.",
                         bson_iter_key(&it), bson_iter_key(&it));
                return 52;
            }
        }
        return 0;
    }
    out->replace = 0;
    const char *paths[MAX_PATHS];
    size_t np = 0;
    bson_iter_init(&it, u);
    while (bson_iter_next(&it)) {
        const char *op = bson_iter_key(&it);
        bson_iter_t f;
        if (!known_op(op)) {
            snprintf(err, errlen,
                     "Unknown modifier: %s. Expected a valid update modifier or pipeline-style "
                     "update specified as an array",
                     op);
            return 9;
        }
        if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &f)) {
            snprintf(err, errlen,
                     "Modifiers operate on fields but we found another type instead. For "
                     "example: {$mod: {<field>: ...}} not {%s: ...}",
                     op);
            return 9;
        }
        while (bson_iter_next(&f)) {
            const char *p = bson_iter_key(&f);
            int code = check_path(p, err, errlen);
            if (code == 0)
                code = check_arg(op, p, &f, err, errlen);
            if (code == 0 && strcmp(op, "$rename") == 0) {
                if (strcmp(p, bson_iter_utf8(&f, NULL)) == 0) {
                    snprintf(err, errlen, "The source and target field for $rename must differ: %s",
                             p);
                    code = 2;
                } else {
                    code = check_path(bson_iter_utf8(&f, NULL), err, errlen);
                }
            }
            if (code != 0)
                return code;
            const char *both[2] = {p, strcmp(op, "$rename") == 0 ? bson_iter_utf8(&f, NULL) : NULL};
            for (int b = 0; b < 2 && both[b]; b++) {
                for (size_t j = 0; j < np; j++) {
                    if (conflicts(paths[j], both[b])) {
                        snprintf(err, errlen,
                                 "Updating the path '%s' would create a conflict at '%s'", both[b],
                                 strlen(paths[j]) < strlen(both[b]) ? paths[j] : both[b]);
                        return 40;
                    }
                }
                if (np < MAX_PATHS)
                    paths[np++] = both[b];
            }
        }
    }
    return 0;
}

/* The same type and value (for _id: 1 and 1.0 differ). */
static int same_value(const bson_value_t *a, const bson_value_t *b)
{
    return a->value_type == b->value_type && query_compare(a, b) == 0;
}

/* Is new_doc's _id the same as old_doc's? */
static int same_id(const bson_t *a, const bson_t *b)
{
    bson_iter_t ia, ib;
    int ha = bson_iter_init_find(&ia, a, "_id"), hb = bson_iter_init_find(&ib, b, "_id");
    if (!ha || !hb)
        return ha == hb;
    return same_value(bson_iter_value(&ia), bson_iter_value(&ib));
}

int update_apply(const struct update *up, const bson_t *doc, int inserting, bson_t *out, char *err,
                 size_t errlen)
{
    bson_iter_t it;
    if (up->replace) {
        bson_init(out);
        if (bson_iter_init_find(&it, doc, "_id"))
            bson_append_value(out, "_id", 3, bson_iter_value(&it));
        else if (bson_iter_init_find(&it, &up->u, "_id"))
            bson_append_value(out, "_id", 3, bson_iter_value(&it));
        bson_copy_to_excluding_noinit(&up->u, out, "_id", NULL);
        if (!inserting && bson_iter_init_find(&it, &up->u, "_id") && !same_id(doc, &up->u)) {
            bson_destroy(out);
            snprintf(err, errlen,
                     "After applying the update, the (immutable) field '_id' was "
                     "found to have been altered");
            return 66;
        }
        return 0;
    }
    struct mnode root;
    if (mdoc_init(&root, doc) != 0) {
        snprintf(err, errlen, "out of memory");
        return 146;
    }
    int code = 0;
    if (bson_iter_init(&it, &up->u)) {
        while (code == 0 && bson_iter_next(&it)) {
            bson_iter_t f;
            if (bson_iter_recurse(&it, &f))
                code = update_apply_op(&root, bson_iter_key(&it), &f, inserting, err, errlen);
        }
    }
    if (code == 0) {
        mdoc_to_bson(&root, out);
        if (!inserting && !same_id(doc, out)) {
            bson_destroy(out);
            snprintf(err, errlen,
                     "Performing an update on the path '_id' would modify the "
                     "immutable field '_id'");
            code = 66;
        }
    }
    mnode_cleanup(&root);
    return code;
}

/* Adds the equality conditions of query to root (first one wins for a path). */
static void seed(struct mnode *root, const bson_t *query, int depth)
{
    bson_iter_t it;
    if (depth > 20 || !bson_iter_init(&it, query))
        return;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        const bson_value_t *v = bson_iter_value(&it);
        if (strcmp(k, "$and") == 0 && BSON_ITER_HOLDS_ARRAY(&it)) {
            bson_iter_t a;
            bson_iter_recurse(&it, &a);
            while (bson_iter_next(&a)) {
                bson_t sub;
                uint32_t l;
                const uint8_t *d;
                if (!BSON_ITER_HOLDS_DOCUMENT(&a))
                    continue;
                bson_iter_document(&a, &l, &d);
                if (bson_init_static(&sub, d, l))
                    seed(root, &sub, depth + 1);
            }
            continue;
        }
        if (k[0] == '$' || check_path(k, (char[8]){0}, 8) != 0)
            continue;
        bson_iter_t ops;
        const bson_value_t *eq = v;
        if (BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &ops) && bson_iter_next(&ops) &&
            bson_iter_key(&ops)[0] == '$') {
            eq = NULL;
            bson_iter_recurse(&it, &ops);
            if (bson_iter_find(&ops, "$eq"))
                eq = bson_iter_value(&ops);
        }
        if (eq == NULL || mdoc_get(root, k) != NULL)
            continue;
        int code;
        char err[8];
        struct mnode *n = mdoc_make(root, k, &code, err, sizeof err);
        if (n)
            mnode_set(n, eq);
    }
}

int update_upsert_doc(const struct update *up, const bson_t *query, bson_t *out, char *err,
                      size_t errlen)
{
    bson_t base = BSON_INITIALIZER;
    struct mnode root;
    if (mdoc_init(&root, &base) != 0) {
        bson_destroy(&base);
        snprintf(err, errlen, "out of memory");
        return 146;
    }
    bson_destroy(&base);
    seed(&root, query, 0);
    bson_t seeded;
    mdoc_to_bson(&root, &seeded);
    mnode_cleanup(&root);
    int code;
    if (up->replace) {
        /* A replacement upsert takes only the query's _id. */
        bson_t idonly = BSON_INITIALIZER;
        bson_iter_t it;
        if (bson_iter_init_find(&it, &seeded, "_id"))
            bson_append_value(&idonly, "_id", 3, bson_iter_value(&it));
        code = update_apply(up, &idonly, 1, out, err, errlen);
        bson_destroy(&idonly);
    } else {
        code = update_apply(up, &seeded, 1, out, err, errlen);
    }
    bson_destroy(&seeded);
    return code;
}

int update_same(const bson_t *a, const bson_t *b)
{
    return a->len == b->len && memcmp(bson_get_data(a), bson_get_data(b), a->len) == 0;
}

static void describe(const bson_t *old, const bson_t *nw, const char *prefix, bson_t *upd,
                     bson_t *rem, uint32_t *nrem, int depth)
{
    bson_iter_t it, o;
    char path[1024];
    if (!bson_iter_init(&it, nw))
        return;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", k);
        const bson_value_t *nv = bson_iter_value(&it);
        if (!bson_iter_init_find(&o, old, k)) {
            bson_append_value(upd, path, -1, nv);
            continue;
        }
        const bson_value_t *ov = bson_iter_value(&o);
        if (ov->value_type == BSON_TYPE_DOCUMENT && nv->value_type == BSON_TYPE_DOCUMENT &&
            depth < 20) {
            bson_t a, b;
            if (bson_init_static(&a, ov->value.v_doc.data, ov->value.v_doc.data_len) &&
                bson_init_static(&b, nv->value.v_doc.data, nv->value.v_doc.data_len) &&
                !update_same(&a, &b))
                describe(&a, &b, path, upd, rem, nrem, depth + 1);
            continue;
        }
        if (ov->value_type != nv->value_type || query_compare(ov, nv) != 0 ||
            ((nv->value_type == BSON_TYPE_ARRAY) &&
             (ov->value.v_doc.data_len != nv->value.v_doc.data_len ||
              memcmp(ov->value.v_doc.data, nv->value.v_doc.data, nv->value.v_doc.data_len) != 0)))
            bson_append_value(upd, path, -1, nv);
    }
    if (!bson_iter_init(&o, old))
        return;
    while (bson_iter_next(&o)) {
        if (bson_iter_init_find(&it, nw, bson_iter_key(&o)))
            continue;
        char kb[16];
        const char *key;
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", bson_iter_key(&o));
        bson_uint32_to_string((*nrem)++, &key, kb, sizeof kb);
        bson_append_utf8(rem, key, -1, path, -1);
    }
}

void update_describe(const bson_t *old, const bson_t *newdoc, bson_t *desc)
{
    bson_t upd = BSON_INITIALIZER, rem = BSON_INITIALIZER, empty = BSON_INITIALIZER;
    uint32_t nrem = 0;
    describe(old, newdoc, "", &upd, &rem, &nrem, 0);
    bson_init(desc);
    BSON_APPEND_DOCUMENT(desc, "updatedFields", &upd);
    BSON_APPEND_ARRAY(desc, "removedFields", &rem);
    BSON_APPEND_ARRAY(desc, "truncatedArrays", &empty);
    bson_destroy(&upd);
    bson_destroy(&rem);
}
