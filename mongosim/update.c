#include "update.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdoc.h"
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

/* Equal as MongoDB compares array elements ($addToSet, $pull): 1 and 1.0 are equal. */
static int equal_value(const bson_value_t *a, const bson_value_t *b)
{
    return query_compare(a, b) == 0;
}

/* Reads node's value into v (tmp as in mnode_value). */
struct view {
    bson_value_t v;
    bson_t tmp;
    int used;
};

static void view_of(struct mnode *n, struct view *w)
{
    mnode_value(n, &w->v, &w->tmp, &w->used);
}

static void view_done(struct view *w)
{
    if (w->used)
        bson_destroy(&w->tmp);
}

static const char *type_name(bson_type_t t)
{
    switch (t) {
    case BSON_TYPE_UTF8:
        return "string";
    case BSON_TYPE_DOCUMENT:
        return "object";
    case BSON_TYPE_ARRAY:
        return "array";
    case BSON_TYPE_BOOL:
        return "bool";
    case BSON_TYPE_NULL:
        return "null";
    case BSON_TYPE_OID:
        return "objectId";
    case BSON_TYPE_DATE_TIME:
        return "date";
    default:
        return "a non-numeric type";
    }
}

/* $inc / $mul of node n by arg. */
static int arith(struct mnode *n, const char *op, const char *path, const bson_value_t *arg,
                 char *err, size_t errlen)
{
    bson_value_t r = {.value_type = BSON_TYPE_INT32};
    int mul = op[1] == 'm';
    if (n->kind == MN_VALUE && n->v.value_type == BSON_TYPE_EOD) {
        if (!mul) {
            mnode_set(n, arg);
            return 0;
        }
        r.value_type = arg->value_type; /* $mul of a missing field: 0 of the argument's type */
        memset(&r.value, 0, sizeof r.value);
        mnode_set(n, &r);
        return 0;
    }
    if (n->kind != MN_VALUE || !is_number(&n->v)) {
        snprintf(err, errlen,
                 "Cannot apply %s to a value of non-numeric type. The field '%s' has a value of "
                 "type %s",
                 op, path,
                 type_name(n->kind == MN_DOC     ? BSON_TYPE_DOCUMENT
                           : n->kind == MN_ARRAY ? BSON_TYPE_ARRAY
                                                 : n->v.value_type));
        return 14;
    }
    const bson_value_t *a = &n->v;
    if (a->value_type == BSON_TYPE_DOUBLE || arg->value_type == BSON_TYPE_DOUBLE) {
        double x = a->value_type == BSON_TYPE_DOUBLE  ? a->value.v_double
                   : a->value_type == BSON_TYPE_INT64 ? (double)a->value.v_int64
                                                      : a->value.v_int32;
        double y = arg->value_type == BSON_TYPE_DOUBLE  ? arg->value.v_double
                   : arg->value_type == BSON_TYPE_INT64 ? (double)arg->value.v_int64
                                                        : arg->value.v_int32;
        r.value_type = BSON_TYPE_DOUBLE;
        r.value.v_double = mul ? x * y : x + y;
    } else {
        int64_t x = a->value_type == BSON_TYPE_INT64 ? a->value.v_int64 : a->value.v_int32;
        int64_t y = arg->value_type == BSON_TYPE_INT64 ? arg->value.v_int64 : arg->value.v_int32;
        int64_t z;
        if (mul ? __builtin_mul_overflow(x, y, &z) : __builtin_add_overflow(x, y, &z)) {
            snprintf(err, errlen, "Failed to apply %s to field '%s': the result overflows", op,
                     path);
            return 2;
        }
        int wide = a->value_type == BSON_TYPE_INT64 || arg->value_type == BSON_TYPE_INT64 ||
                   z < INT32_MIN || z > INT32_MAX;
        r.value_type = wide ? BSON_TYPE_INT64 : BSON_TYPE_INT32;
        if (wide)
            r.value.v_int64 = z;
        else
            r.value.v_int32 = (int32_t)z;
    }
    mnode_set(n, &r);
    return 0;
}

/* The array node at path for $push/$addToSet (created when missing), or NULL with err. */
static struct mnode *array_at(struct mnode *root, const char *op, const char *path, int *code,
                              char *err, size_t errlen)
{
    struct mnode *n = mdoc_make(root, path, code, err, errlen);
    if (n == NULL)
        return NULL;
    if (n->kind == MN_VALUE && n->v.value_type == BSON_TYPE_EOD) {
        bson_t empty = BSON_INITIALIZER;
        bson_value_t v = {.value_type = BSON_TYPE_ARRAY};
        v.value.v_doc.data = (uint8_t *)bson_get_data(&empty);
        v.value.v_doc.data_len = empty.len;
        mnode_set(n, &v);
        bson_destroy(&empty);
    }
    if (mnode_as_array(n) != 0) {
        *code = 2;
        snprintf(err, errlen, "The field '%s' must be an array but is of type %s (%s)", path,
                 type_name(n->kind == MN_DOC ? BSON_TYPE_DOCUMENT : n->v.value_type), op);
        return NULL;
    }
    return n;
}

/* Does array node arr hold an element equal to v? */
static int array_has(struct mnode *arr, const bson_value_t *v)
{
    for (size_t i = 0; i < arr->n; i++) {
        struct view w;
        view_of(&arr->kids[i], &w);
        int same = equal_value(&w.v, v);
        view_done(&w);
        if (same)
            return 1;
    }
    return 0;
}

static int push(struct mnode *root, const char *op, const char *path, bson_iter_t *arg, char *err,
                size_t errlen)
{
    int code = 0;
    struct mnode *arr = array_at(root, op, path, &code, err, errlen);
    if (arr == NULL)
        return code;
    bson_iter_t m, each;
    int has_mods = BSON_ITER_HOLDS_DOCUMENT(arg) && bson_iter_recurse(arg, &m) &&
                   bson_iter_next(&m) && bson_iter_key(&m)[0] == '$';
    long pos = -1; /* -1: at the end */
    int has_slice = 0;
    int64_t slice = 0;
    if (has_mods) {
        bson_iter_recurse(arg, &m);
        while (bson_iter_next(&m)) {
            if (strcmp(bson_iter_key(&m), "$each") == 0)
                bson_iter_recurse(&m, &each);
            else if (strcmp(bson_iter_key(&m), "$position") == 0) {
                int64_t p = bson_iter_as_int64(&m); /* negative: from the end */
                if (p < 0)
                    p = (int64_t)arr->n + p > 0 ? (int64_t)arr->n + p : 0;
                pos = (long)(p > (int64_t)arr->n ? (int64_t)arr->n : p);
            } else if (strcmp(bson_iter_key(&m), "$slice") == 0) {
                has_slice = 1;
                slice = bson_iter_as_int64(&m);
            }
        }
    }
    int add_set = op[1] == 'a';
    for (int more = 1; more;) {
        const bson_value_t *v;
        if (has_mods) {
            if (!bson_iter_next(&each))
                break;
            v = bson_iter_value(&each);
        } else {
            v = bson_iter_value(arg);
            more = 0;
        }
        if (add_set && array_has(arr, v))
            continue;
        if (mnode_array_insert(arr, v, pos) != 0) {
            snprintf(err, errlen, "out of memory");
            return 146;
        }
        if (pos >= 0)
            pos++;
    }
    if (has_slice) {
        size_t keep = (size_t)(slice < 0 ? -slice : slice);
        while (arr->n > keep)
            mnode_array_remove(arr, slice < 0 ? 0 : arr->n - 1);
    }
    return 0;
}

/* Does element e match a $pull condition? */
static int pull_match(struct mnode *e, const bson_value_t *cond)
{
    struct view w;
    view_of(e, &w);
    int hit;
    bson_iter_t it;
    int op_doc =
        cond->value_type == BSON_TYPE_DOCUMENT &&
        bson_iter_init_from_data(&it, cond->value.v_doc.data, cond->value.v_doc.data_len) &&
        bson_iter_next(&it) && bson_iter_key(&it)[0] == '$';
    if (op_doc ||
        (cond->value_type == BSON_TYPE_DOCUMENT && w.v.value_type == BSON_TYPE_DOCUMENT)) {
        bson_t doc = BSON_INITIALIZER, filter = BSON_INITIALIZER, sub;
        if (op_doc) {
            bson_append_value(&doc, "v", 1, &w.v);
            bson_append_value(&filter, "v", 1, cond);
            hit = query_match(&doc, &filter);
        } else {
            bson_t c;
            bson_init_static(&sub, w.v.value.v_doc.data, w.v.value.v_doc.data_len);
            bson_init_static(&c, cond->value.v_doc.data, cond->value.v_doc.data_len);
            hit = query_match(&sub, &c);
        }
        bson_destroy(&doc);
        bson_destroy(&filter);
    } else {
        hit = equal_value(&w.v, cond);
    }
    view_done(&w);
    return hit;
}

static int pull(struct mnode *root, const char *op, const char *path, bson_iter_t *arg, char *err,
                size_t errlen)
{
    struct mnode *arr = mdoc_get(root, path);
    if (arr == NULL)
        return 0;
    if (mnode_as_array(arr) != 0) {
        snprintf(err, errlen, "Cannot apply %s to a non-array value (field '%s')", op, path);
        return 2;
    }
    if (strcmp(op, "$pop") == 0) {
        if (arr->n > 0)
            mnode_array_remove(arr, bson_iter_as_int64(arg) < 0 ? 0 : arr->n - 1);
        return 0;
    }
    for (size_t i = 0; i < arr->n;) {
        int hit = 0;
        if (strcmp(op, "$pullAll") == 0) {
            bson_iter_t l;
            bson_iter_recurse(arg, &l);
            while (!hit && bson_iter_next(&l)) {
                struct view w;
                view_of(&arr->kids[i], &w);
                hit = equal_value(&w.v, bson_iter_value(&l));
                view_done(&w);
            }
        } else {
            hit = pull_match(&arr->kids[i], bson_iter_value(arg));
        }
        if (hit)
            mnode_array_remove(arr, i);
        else
            i++;
    }
    return 0;
}

/* Applies operator op's fields to root. */
static int apply_op(struct mnode *root, const char *op, bson_iter_t *fields, int inserting,
                    char *err, size_t errlen)
{
    int code = 0;
    while (code == 0 && bson_iter_next(fields)) {
        const char *path = bson_iter_key(fields);
        const bson_value_t *arg = bson_iter_value(fields);
        struct mnode *n;
        if (strcmp(op, "$setOnInsert") == 0 && !inserting)
            continue;
        if (strcmp(op, "$set") == 0 || strcmp(op, "$setOnInsert") == 0) {
            if ((n = mdoc_make(root, path, &code, err, errlen)) != NULL)
                mnode_set(n, arg);
        } else if (strcmp(op, "$unset") == 0) {
            mdoc_unset(root, path);
        } else if (strcmp(op, "$inc") == 0 || strcmp(op, "$mul") == 0) {
            if ((n = mdoc_make(root, path, &code, err, errlen)) != NULL)
                code = arith(n, op, path, arg, err, errlen);
        } else if (strcmp(op, "$min") == 0 || strcmp(op, "$max") == 0) {
            if ((n = mdoc_make(root, path, &code, err, errlen)) == NULL)
                break;
            struct view w;
            int set = n->kind == MN_VALUE && n->v.value_type == BSON_TYPE_EOD;
            if (!set) {
                view_of(n, &w);
                int c = query_compare(arg, &w.v);
                set = op[2] == 'i' ? c < 0 : c > 0;
                view_done(&w);
            }
            if (set)
                mnode_set(n, arg);
        } else if (strcmp(op, "$currentDate") == 0) {
            bson_value_t v = {.value_type = BSON_TYPE_DATE_TIME};
            bson_iter_t t;
            v.value.v_datetime = msim_wall_ms();
            if (BSON_ITER_HOLDS_DOCUMENT(fields) && bson_iter_recurse(fields, &t) &&
                bson_iter_find(&t, "$type") && strcmp(bson_iter_utf8(&t, NULL), "timestamp") == 0) {
                v.value_type = BSON_TYPE_TIMESTAMP;
                v.value.v_timestamp.timestamp = (uint32_t)(v.value.v_datetime / 1000);
                v.value.v_timestamp.increment = 1;
            }
            if ((n = mdoc_make(root, path, &code, err, errlen)) != NULL)
                mnode_set(n, &v);
        } else if (strcmp(op, "$rename") == 0) {
            struct mnode taken;
            if (mdoc_take(root, path, &taken)) {
                n = mdoc_make(root, bson_iter_utf8(fields, NULL), &code, err, errlen);
                if (n)
                    mnode_move(n, &taken);
                mnode_cleanup(&taken);
            }
        } else if (strcmp(op, "$push") == 0 || strcmp(op, "$addToSet") == 0) {
            code = push(root, op, path, fields, err, errlen);
        } else {
            code = pull(root, op, path, fields, err, errlen);
        }
    }
    return code;
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
                code = apply_op(&root, bson_iter_key(&it), &f, inserting, err, errlen);
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
