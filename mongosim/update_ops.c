#include "update_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdoc.h"
#include "query.h"
#include "sim.h"

static int is_number(const bson_value_t *v)
{
    return v->value_type == BSON_TYPE_INT32 || v->value_type == BSON_TYPE_INT64 ||
           v->value_type == BSON_TYPE_DOUBLE;
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
    case BSON_TYPE_INT32:
        return "int";
    case BSON_TYPE_INT64:
        return "long";
    case BSON_TYPE_DOUBLE:
        return "double";
    case BSON_TYPE_DECIMAL128:
        return "decimal";
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

int update_apply_op(struct mnode *root, const char *op, bson_iter_t *fields, int inserting,
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
