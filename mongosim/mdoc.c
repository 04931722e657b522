#include "mdoc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mnode_cleanup(struct mnode *node)
{
    for (size_t i = 0; i < node->n; i++)
        mnode_cleanup(&node->kids[i]);
    free(node->kids);
    free(node->key);
    if (node->kind == MN_VALUE)
        bson_value_destroy(&node->v);
    memset(node, 0, sizeof *node);
}

static struct mnode *push_kid(struct mnode *p)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct mnode *k = realloc(p->kids, cap * sizeof *k);
        if (k == NULL)
            return NULL;
        p->kids = k;
        p->cap = cap;
    }
    struct mnode *k = &p->kids[p->n++];
    memset(k, 0, sizeof *k);
    k->kind = MN_VALUE;
    k->v.value_type = BSON_TYPE_EOD; /* "just created": no value yet */
    return k;
}

/* Turns a value node holding a document or array into an expanded node. Returns 0 or -1. */
static int expand(struct mnode *node)
{
    if (node->kind != MN_VALUE)
        return 0;
    bson_type_t t = node->v.value_type;
    if (t != BSON_TYPE_DOCUMENT && t != BSON_TYPE_ARRAY)
        return -1;
    bson_iter_t it;
    bson_value_t old = node->v;
    node->kind = t == BSON_TYPE_DOCUMENT ? MN_DOC : MN_ARRAY;
    memset(&node->v, 0, sizeof node->v);
    if (bson_iter_init_from_data(&it, old.value.v_doc.data, old.value.v_doc.data_len)) {
        while (bson_iter_next(&it)) {
            struct mnode *k = push_kid(node);
            if (k == NULL)
                break;
            if (node->kind == MN_DOC)
                k->key = strdup(bson_iter_key(&it));
            bson_value_copy(bson_iter_value(&it), &k->v);
        }
    }
    bson_value_destroy(&old);
    return 0;
}

int mdoc_init(struct mnode *root, const bson_t *doc)
{
    memset(root, 0, sizeof *root);
    root->kind = MN_VALUE;
    root->v.value_type = BSON_TYPE_DOCUMENT;
    root->v.value.v_doc.data_len = doc->len;
    root->v.value.v_doc.data = bson_malloc(doc->len);
    memcpy(root->v.value.v_doc.data, bson_get_data(doc), doc->len);
    return expand(root);
}

static void append_node(bson_t *out, const char *key, struct mnode *n);

static void append_kids(bson_t *out, struct mnode *n)
{
    for (size_t i = 0; i < n->n; i++) {
        char kb[16];
        const char *k = n->kids[i].key;
        if (n->kind == MN_ARRAY)
            bson_uint32_to_string((uint32_t)i, &k, kb, sizeof kb);
        append_node(out, k ? k : "", &n->kids[i]);
    }
}

static void append_node(bson_t *out, const char *key, struct mnode *n)
{
    bson_t sub;
    if (n->kind == MN_VALUE && n->v.value_type == BSON_TYPE_EOD) {
        bson_append_null(out, key, -1);
    } else if (n->kind == MN_VALUE) {
        bson_append_value(out, key, -1, &n->v);
    } else if (n->kind == MN_DOC) {
        bson_append_document_begin(out, key, -1, &sub);
        append_kids(&sub, n);
        bson_append_document_end(out, &sub);
    } else {
        bson_append_array_begin(out, key, -1, &sub);
        append_kids(&sub, n);
        bson_append_array_end(out, &sub);
    }
}

void mdoc_to_bson(struct mnode *root, bson_t *out)
{
    bson_init(out);
    append_kids(out, root);
}

/* Parses a non-negative array index; -1 when seg is not one. */
static long seg_index(const char *seg, size_t len)
{
    if (len == 0 || len > 9)
        return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (seg[i] < '0' || seg[i] > '9')
            return -1;
        v = v * 10 + (seg[i] - '0');
    }
    return v;
}

/* The child of p named by seg[0..len), created when create (and possible). */
static struct mnode *child(struct mnode *p, const char *seg, size_t len, int create)
{
    if (p->kind == MN_VALUE && expand(p) != 0)
        return NULL;
    if (p->kind == MN_DOC) {
        for (size_t i = 0; i < p->n; i++)
            if (strlen(p->kids[i].key) == len && memcmp(p->kids[i].key, seg, len) == 0)
                return &p->kids[i];
        if (!create)
            return NULL;
        struct mnode *k = push_kid(p);
        if (k && (k->key = strndup(seg, len)) == NULL) {
            p->n--;
            return NULL;
        }
        return k;
    }
    long i = seg_index(seg, len);
    if (i < 0)
        return NULL;
    while (create && (size_t)i >= p->n) {
        struct mnode *k = push_kid(p);
        if (k == NULL)
            return NULL;
        if ((size_t)i >= p->n)
            k->v.value_type = BSON_TYPE_NULL; /* padding, as MongoDB pads arrays */
    }
    return (size_t)i < p->n ? &p->kids[i] : NULL;
}

struct mnode *mdoc_get(struct mnode *root, const char *path)
{
    struct mnode *n = root;
    const char *s = path;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        n = child(n, s, len, 0);
        if (n == NULL || dot == NULL)
            return n;
        s = dot + 1;
    }
}

struct mnode *mdoc_make(struct mnode *root, const char *path, int *code, char *err, size_t errlen)
{
    struct mnode *n = root;
    const char *s = path;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        if (n->kind == MN_VALUE && n->v.value_type == BSON_TYPE_EOD) {
            /* A parent created on the way becomes a document. */
            n->kind = MN_DOC;
        }
        int viable = n->kind != MN_VALUE || n->v.value_type == BSON_TYPE_DOCUMENT ||
                     n->v.value_type == BSON_TYPE_ARRAY;
        if (viable && n->kind == MN_VALUE)
            viable = expand(n) == 0;
        if (viable && n->kind == MN_ARRAY && seg_index(s, len) < 0)
            viable = 0;
        if (!viable) {
            *code = 28;
            snprintf(err, errlen, "Cannot create field '%.*s' in element of path '%s'", (int)len, s,
                     path);
            return NULL;
        }
        n = child(n, s, len, 1);
        if (n == NULL) {
            *code = 146;
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        if (dot == NULL)
            return n;
        s = dot + 1;
    }
}

/* The parent of path's last segment (not created) and that segment. */
static struct mnode *parent_of(struct mnode *root, const char *path, const char **last)
{
    const char *dot = strrchr(path, '.');
    if (dot == NULL) {
        *last = path;
        return root;
    }
    char *pp = strndup(path, (size_t)(dot - path));
    struct mnode *p = pp ? mdoc_get(root, pp) : NULL;
    free(pp);
    *last = dot + 1;
    return p;
}

int mdoc_take(struct mnode *root, const char *path, struct mnode *out)
{
    const char *last;
    struct mnode *p = parent_of(root, path, &last);
    struct mnode *n = p ? child(p, last, strlen(last), 0) : NULL;
    if (n == NULL)
        return 0;
    *out = *n;
    size_t i = (size_t)(n - p->kids);
    if (p->kind == MN_ARRAY) {
        memset(n, 0, sizeof *n);
        n->kind = MN_VALUE;
        n->v.value_type = BSON_TYPE_NULL;
    } else {
        memmove(&p->kids[i], &p->kids[i + 1], (p->n - i - 1) * sizeof *n);
        p->n--;
    }
    return 1;
}

int mdoc_unset(struct mnode *root, const char *path)
{
    struct mnode gone;
    if (!mdoc_take(root, path, &gone))
        return 0;
    mnode_cleanup(&gone);
    return 1;
}

void mnode_set(struct mnode *node, const bson_value_t *v)
{
    char *key = node->key;
    node->key = NULL;
    mnode_cleanup(node);
    node->key = key;
    node->kind = MN_VALUE;
    bson_value_copy(v, &node->v);
}

void mnode_move(struct mnode *node, struct mnode *src)
{
    char *key = node->key;
    node->key = NULL;
    mnode_cleanup(node);
    free(src->key);
    *node = *src;
    node->key = key;
    memset(src, 0, sizeof *src);
}

int mnode_as_array(struct mnode *node)
{
    if (node->kind == MN_ARRAY)
        return 0;
    if (node->kind == MN_VALUE && node->v.value_type == BSON_TYPE_ARRAY)
        return expand(node);
    return -1;
}

int mnode_array_insert(struct mnode *arr, const bson_value_t *v, long pos)
{
    if (push_kid(arr) == NULL)
        return -1;
    size_t at = pos < 0 || (size_t)pos >= arr->n ? arr->n - 1 : (size_t)pos;
    memmove(&arr->kids[at + 1], &arr->kids[at], (arr->n - 1 - at) * sizeof *arr->kids);
    memset(&arr->kids[at], 0, sizeof arr->kids[at]);
    arr->kids[at].kind = MN_VALUE; /* an element: no key */
    bson_value_copy(v, &arr->kids[at].v);
    return 0;
}

void mnode_array_remove(struct mnode *arr, size_t i)
{
    mnode_cleanup(&arr->kids[i]);
    memmove(&arr->kids[i], &arr->kids[i + 1], (arr->n - i - 1) * sizeof *arr->kids);
    arr->n--;
}

void mnode_value(struct mnode *node, bson_value_t *v, bson_t *tmp, int *used)
{
    *used = 0;
    if (node->kind == MN_VALUE) {
        *v = node->v;
        return;
    }
    /* Serialise the expanded node as a one-field document and view its value. */
    bson_init(tmp);
    append_node(tmp, "v", node);
    *used = 1;
    bson_iter_t it;
    if (bson_iter_init_find(&it, tmp, "v"))
        *v = *bson_iter_value(&it);
}
