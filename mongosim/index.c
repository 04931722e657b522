#include "index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "sdoc.h"

struct entry_probe {
    const bson_value_t *kv;
    int64_t rid;
    int with_rid;
};

static int sign(int c)
{
    return c < 0 ? -1 : c > 0;
}

int index_cmp_keys(const struct index *ix, const bson_value_t *a, const bson_value_t *b)
{
    for (int i = 0; i < ix->nf; i++) {
        int c = query_compare(&a[i], &b[i]);
        if (c != 0)
            return sign(c) * ix->dirs[i];
    }
    return 0;
}

static int cmp_entry(const struct sl_node *n, const void *probe, const void *ctx)
{
    const struct index *ix = ctx;
    const struct entry_probe *p = probe;
    int c = index_cmp_keys(ix, index_kv(n), p->kv);
    if (c != 0 || !p->with_rid)
        return c;
    int64_t rid = index_rec(n)->rid;
    return rid < p->rid ? -1 : rid > p->rid;
}

int index_init(struct index *ix, const char *name, const bson_t *key, int unique, int sparse,
               char *err, size_t errlen)
{
    memset(ix, 0, sizeof *ix);
    bson_iter_t it;
    if (strlen(name) == 0 || strlen(name) >= sizeof ix->name) {
        snprintf(err, errlen, "index name must be 1 to %zu characters", sizeof ix->name - 1);
        return 67;
    }
    if (bson_empty(key) || !bson_iter_init(&it, key)) {
        snprintf(err, errlen, "index key pattern must be a nonempty object");
        return 67;
    }
    snprintf(ix->name, sizeof ix->name, "%s", name);
    ix->unique = unique;
    ix->sparse = sparse;
    ix->spec = sdoc_from_bson(key);
    if (ix->spec == NULL || sl_init(&ix->sl, (uint64_t)(uintptr_t)ix ^ 0x5bd1e995) != 0) {
        snprintf(err, errlen, "out of memory");
        index_cleanup(ix);
        return 146;
    }
    bson_t spec;
    sdoc_view(ix->spec, &spec);
    bson_iter_init(&it, &spec);
    while (bson_iter_next(&it)) {
        double d = BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_double(&it) : 0;
        if (ix->nf == INDEX_MAX_FIELDS || (d != 1 && d != -1) || bson_iter_key(&it)[0] == '\0') {
            snprintf(err, errlen,
                     ix->nf == INDEX_MAX_FIELDS
                         ? "index key patterns have at most 32 fields"
                         : "mongosim supports only ascending (1) and descending (-1) index keys "
                           "(field '%s')",
                     bson_iter_key(&it));
            index_cleanup(ix);
            return 67;
        }
        ix->paths[ix->nf] = bson_iter_key(&it);
        ix->dirs[ix->nf++] = d > 0 ? 1 : -1;
    }
    return 0;
}

void index_cleanup(struct index *ix)
{
    sl_cleanup(&ix->sl);
    sdoc_unref(ix->spec);
    ix->spec = NULL;
    ix->nf = 0;
}

int index_key_of(const struct index *ix, const bson_t *doc, bson_value_t *kv, int *has_array)
{
    int present = 0;
    *has_array = 0;
    for (int i = 0; i < ix->nf; i++) {
        if (query_get(doc, ix->paths[i], &kv[i])) {
            present = 1;
            if (kv[i].value_type == BSON_TYPE_ARRAY)
                *has_array = 1;
        } else {
            memset(&kv[i], 0, sizeof kv[i]);
            kv[i].value_type = BSON_TYPE_NULL;
        }
    }
    return present || !ix->sparse;
}

struct rec *index_find_equal(const struct index *ix, const bson_value_t *kv, int64_t rid)
{
    struct entry_probe p = {kv, 0, 0};
    for (struct sl_node *n = sl_seek(&ix->sl, cmp_entry, &p, ix, 0); n; n = sl_next(n)) {
        if (index_cmp_keys(ix, index_kv(n), kv) != 0)
            return NULL;
        if (index_rec(n)->rid != rid)
            return index_rec(n);
    }
    return NULL;
}

int index_add(struct index *ix, struct rec *r)
{
    bson_t doc;
    bson_value_t kv[INDEX_MAX_FIELDS];
    int arr;
    sdoc_view(r->doc, &doc);
    if (!index_key_of(ix, &doc, kv, &arr))
        return 0;
    struct sl_node *n = sl_node_new(&ix->sl, (size_t)ix->nf * sizeof(bson_value_t));
    if (n == NULL)
        return -1;
    memcpy(sl_payload(n), kv, (size_t)ix->nf * sizeof(bson_value_t));
    n->item = r;
    if (arr)
        ix->multikey = 1;
    struct entry_probe p = {kv, r->rid, 1};
    sl_insert(&ix->sl, n, cmp_entry, &p, ix);
    return 0;
}

void index_del(struct index *ix, struct rec *r)
{
    bson_t doc;
    bson_value_t kv[INDEX_MAX_FIELDS];
    int arr;
    sdoc_view(r->doc, &doc);
    if (!index_key_of(ix, &doc, kv, &arr))
        return;
    struct entry_probe p = {kv, r->rid, 1};
    free(sl_remove(&ix->sl, cmp_entry, &p, ix));
}

int index_move(struct index *ix, struct rec *r, const struct sdoc *olddoc,
               const struct sdoc *newdoc)
{
    bson_t od, nd;
    bson_value_t okv[INDEX_MAX_FIELDS], nkv[INDEX_MAX_FIELDS];
    int oarr, narr;
    sdoc_view(olddoc, &od);
    sdoc_view(newdoc, &nd);
    int oin = index_key_of(ix, &od, okv, &oarr), nin = index_key_of(ix, &nd, nkv, &narr);
    size_t kvbytes = (size_t)ix->nf * sizeof(bson_value_t);
    struct entry_probe op = {okv, r->rid, 1}, np = {nkv, r->rid, 1};
    if (oin && nin && index_cmp_keys(ix, okv, nkv) == 0) {
        struct sl_node *n = sl_seek(&ix->sl, cmp_entry, &op, ix, 0);
        if (n && index_rec(n) == r)
            memcpy(sl_payload(n), nkv, kvbytes);
        if (narr)
            ix->multikey = 1;
        return 0;
    }
    struct sl_node *fresh = NULL;
    if (nin) {
        fresh = sl_node_new(&ix->sl, kvbytes);
        if (fresh == NULL)
            return -1;
        memcpy(sl_payload(fresh), nkv, kvbytes);
        fresh->item = r;
    }
    if (oin)
        free(sl_remove(&ix->sl, cmp_entry, &op, ix));
    if (fresh) {
        sl_insert(&ix->sl, fresh, cmp_entry, &np, ix);
        if (narr)
            ix->multikey = 1;
    }
    return 0;
}

/* One field against one bound field, in index order. */
static int cmp_field(const bson_value_t *v, const struct ibound *b, int dir)
{
    int c;
    switch (b->kind) {
    case B_MIN:
        return 1;
    case B_MAX:
        return -1;
    case B_VALUE:
        c = sign(query_compare(v, &b->v));
        break;
    case B_CLASS_MIN:
        c = query_type_rank(v->value_type) < query_type_rank(b->v.value_type) ? -1 : 1;
        break;
    default: /* B_CLASS_MAX */
        c = query_type_rank(v->value_type) > query_type_rank(b->v.value_type) ? 1 : -1;
        break;
    }
    return c * dir;
}

int index_cmp_bound(const struct index *ix, const bson_value_t *kv, const struct ibound *b)
{
    for (int i = 0; i < ix->nf; i++) {
        int c = cmp_field(&kv[i], &b[i], ix->dirs[i]);
        if (c != 0)
            return c;
    }
    return 0;
}

static int cmp_bound_node(const struct sl_node *n, const void *probe, const void *ctx)
{
    return index_cmp_bound(ctx, index_kv(n), probe);
}

struct sl_node *index_seek(const struct index *ix, const struct ibound *b, int strict)
{
    return sl_seek(&ix->sl, cmp_bound_node, b, ix, strict);
}

struct sl_node *index_seek_last(const struct index *ix, const struct ibound *b, int strict)
{
    return sl_seek_last(&ix->sl, cmp_bound_node, b, ix, strict);
}

struct sl_node *index_after(const struct index *ix, const bson_value_t *kv, int64_t rid, int dir)
{
    struct entry_probe p = {kv, rid, 1};
    return dir > 0 ? sl_seek(&ix->sl, cmp_entry, &p, ix, 1)
                   : sl_seek_last(&ix->sl, cmp_entry, &p, ix, 1);
}
