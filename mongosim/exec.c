#include "exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "sdoc.h"
#include "store.h"

static void rec_view(const void *item, bson_t *view)
{
    sdoc_view(((const struct rec *)item)->doc, view);
}

int exec_collect(const struct coll *c, const bson_t *filter, const bson_t *sort, int64_t skip,
                 int64_t limit, struct rec ***out, size_t *n, char *err, size_t errlen)
{
    struct plan p;
    struct scan sc;
    *out = NULL;
    *n = 0;
    if (skip < 0)
        skip = 0;
    plan_choose(c, filter, sort, limit > 0 ? skip + limit : 0, &p);
    if (scan_open(&sc, c, &p, filter) != 0) {
        snprintf(err, errlen, "out of memory");
        return 146;
    }
    size_t cap = 64, k = 0;
    struct rec **v = malloc(cap * sizeof *v);
    int64_t stop = p.sorted && limit > 0 ? skip + limit : -1; /* enough once the order is final */
    for (struct rec *r; v && (stop < 0 || (int64_t)k < stop) && (r = scan_next(&sc)) != NULL;) {
        bson_t d;
        sdoc_view(r->doc, &d);
        if (!query_match(&d, filter))
            continue;
        if (k == cap) {
            struct rec **nv = realloc(v, cap * 2 * sizeof *nv);
            if (nv == NULL) {
                free(v);
                v = NULL;
                break;
            }
            v = nv;
            cap *= 2;
        }
        v[k++] = r;
    }
    scan_close(&sc);
    if (v == NULL) {
        snprintf(err, errlen, "out of memory");
        return 146;
    }
    if (!p.sorted && query_sort_by((void **)v, k, rec_view, sort, err, errlen) != 0) {
        free(v);
        return 2;
    }
    size_t from = (size_t)skip < k ? (size_t)skip : k;
    size_t to = limit > 0 && from + (size_t)limit < k ? from + (size_t)limit : k;
    memmove(v, v + from, (to - from) * sizeof *v);
    *out = v;
    *n = to - from;
    return 0;
}

int64_t exec_count(const struct coll *c, const bson_t *filter, int64_t skip, int64_t limit)
{
    int64_t n = 0;
    if (skip < 0)
        skip = 0;
    if (filter == NULL || bson_empty(filter)) {
        n = (int64_t)coll_count(c);
    } else {
        struct plan p;
        struct scan sc;
        plan_choose(c, filter, NULL, limit > 0 ? skip + limit : 0, &p);
        if (scan_open(&sc, c, &p, filter) != 0)
            return 0;
        for (struct rec *r; (limit <= 0 || n < skip + limit) && (r = scan_next(&sc)) != NULL;) {
            bson_t d;
            sdoc_view(r->doc, &d);
            n += query_match(&d, filter);
        }
        scan_close(&sc);
    }
    n = n > skip ? n - skip : 0;
    return limit > 0 && n > limit ? limit : n;
}

struct lazy {
    char db[128], coll[128];
    int64_t uuid;
    struct sdoc *filter, *proj;
    struct scan sc;
    int64_t skip, left; /* left: documents still to return, -1 for no limit */
    struct sdoc *ahead; /* the next matching document, already passed by the scan */
    int done;
};

struct lazy *lazy_new(const struct coll *c, const char *db, const char *coll, const bson_t *filter,
                      const bson_t *proj, const struct plan *p, int64_t skip, int64_t limit)
{
    struct lazy *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    snprintf(l->db, sizeof l->db, "%s", db);
    snprintf(l->coll, sizeof l->coll, "%s", coll);
    l->uuid = c ? coll_uuid(c) : 0;
    l->filter = sdoc_from_bson(filter);
    l->proj = proj && !bson_empty(proj) ? sdoc_from_bson(proj) : NULL;
    l->skip = skip > 0 ? skip : 0;
    l->left = limit > 0 ? limit : -1;
    l->done = c == NULL;
    bson_t f;
    if (l->filter == NULL || (proj && !bson_empty(proj) && l->proj == NULL)) {
        lazy_free(l);
        return NULL;
    }
    sdoc_view(l->filter, &f);
    if (scan_open(&l->sc, c, p, &f) != 0) {
        lazy_free(l);
        return NULL;
    }
    return l;
}

void lazy_free(struct lazy *l)
{
    if (l == NULL)
        return;
    scan_close(&l->sc);
    sdoc_unref(l->filter);
    sdoc_unref(l->proj);
    sdoc_unref(l->ahead);
    free(l);
}

/* Moves the scan to the next document to return and holds it in l->ahead (NULL: none). */
static void look_ahead(struct lazy *l)
{
    bson_t f;
    sdoc_view(l->filter, &f);
    while (l->ahead == NULL && l->left != 0) {
        struct rec *r = scan_next(&l->sc);
        if (r == NULL)
            break;
        bson_t d;
        sdoc_view(r->doc, &d);
        if (!query_match(&d, &f))
            continue;
        if (l->skip > 0) {
            l->skip--;
            continue;
        }
        l->ahead = sdoc_ref(r->doc);
    }
}

int lazy_fill(struct lazy *l, struct store *s, bson_t *arr, uint32_t *k, int64_t max,
              size_t max_bytes, char *err, size_t errlen)
{
    if (!l->done) {
        const struct coll *c = store_coll(s, l->db, l->coll, 0);
        if (c == NULL || coll_uuid(c) != l->uuid) {
            snprintf(err, errlen, "collection %s.%s was dropped while the cursor was open", l->db,
                     l->coll);
            return -1;
        }
        scan_resume(&l->sc, c);
    }
    size_t bytes = 0;
    int64_t got = 0;
    bson_t proj;
    if (l->proj)
        sdoc_view(l->proj, &proj);
    while (!l->done && (max < 0 || got < max)) {
        look_ahead(l);
        if (l->ahead == NULL)
            break;
        if (got > 0 && bytes + l->ahead->len > max_bytes)
            break;
        bson_t d;
        sdoc_view(l->ahead, &d);
        char kb[16];
        const char *key;
        bson_uint32_to_string((*k)++, &key, kb, sizeof kb);
        if (l->proj) {
            bson_t *pd = query_project(&d, &proj);
            bson_append_document(arr, key, -1, pd);
            bytes += pd->len;
            bson_destroy(pd);
        } else {
            bson_append_document(arr, key, -1, &d);
            bytes += d.len;
        }
        sdoc_unref(l->ahead);
        l->ahead = NULL;
        got++;
        if (l->left > 0)
            l->left--;
    }
    if (!l->done)
        look_ahead(l);
    if (l->ahead == NULL)
        l->done = 1;
    scan_park(&l->sc);
    return l->done;
}
