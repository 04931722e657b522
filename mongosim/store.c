#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "sim.h"

struct coll {
    char db[128], name[128];
    int64_t uuid, next_rid;
    struct skiplist recs; /* payload: struct rec, ordered by rid */
    struct index **idx;
    size_t nidx;
};

struct store {
    struct coll **colls;
    size_t ncolls, capcolls;
    struct oplog *log;
    int64_t next_uuid;
    const struct index *dup_ix; /* the index of the last 11000, for store_dup_info */
    struct sdoc *dup_doc;       /* the document that collided */
    int post_images;            /* a copy: its 'u' entries keep the new document (for rollback) */
};

static int cmp_rid(const struct sl_node *n, const void *probe, const void *ctx)
{
    (void)ctx;
    int64_t a = ((const struct rec *)sl_payload(n))->rid, b = *(const int64_t *)probe;
    return a < b ? -1 : a > b;
}

static void coll_free(struct coll *c)
{
    if (c == NULL)
        return;
    for (struct sl_node *n = sl_first(&c->recs); n; n = sl_next(n))
        sdoc_unref(((struct rec *)sl_payload(n))->doc);
    sl_cleanup(&c->recs);
    for (size_t i = 0; i < c->nidx; i++) {
        index_cleanup(c->idx[i]);
        free(c->idx[i]);
    }
    free(c->idx);
    free(c);
}

struct store *store_new(size_t oplog_max, size_t oplog_bytes)
{
    struct store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->log = oplog_new(oplog_max, oplog_bytes);
    if (s->log == NULL) {
        free(s);
        return NULL;
    }
    s->next_uuid = 1;
    return s;
}

void store_free(struct store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->ncolls; i++)
        coll_free(s->colls[i]);
    free(s->colls);
    oplog_free(s->log);
    sdoc_unref(s->dup_doc);
    free(s);
}

/* Appends index ix (taking it over) to c. Returns 0 or -1 on OOM. */
static int coll_push_index(struct coll *c, struct index *ix)
{
    struct index **n = realloc(c->idx, (c->nidx + 1) * sizeof *n);
    if (n == NULL)
        return -1;
    c->idx = n;
    c->idx[c->nidx++] = ix;
    return 0;
}

/* A copy of index o of c (same name, key, options) over c's records. NULL on OOM. */
static struct index *index_copy(const struct coll *c, const struct index *o)
{
    struct index *ix = calloc(1, sizeof *ix);
    char err[128];
    bson_t spec;
    sdoc_view(o->spec, &spec);
    if (ix == NULL || index_init(ix, o->name, &spec, o->unique, o->sparse, err, sizeof err) != 0) {
        free(ix);
        return NULL;
    }
    ix->multikey = o->multikey;
    for (struct sl_node *n = sl_first(&c->recs); n; n = sl_next(n)) {
        if (index_add(ix, sl_payload(n)) != 0) {
            index_cleanup(ix);
            free(ix);
            return NULL;
        }
    }
    return ix;
}

/* A copy of collection o (same uuid and record ids; documents shared). NULL on OOM. */
static struct coll *coll_copy(const struct coll *o)
{
    struct coll *c = calloc(1, sizeof *c);
    if (c == NULL || sl_init(&c->recs, (uint64_t)o->uuid * 7919) != 0) {
        free(c);
        return NULL;
    }
    memcpy(c->db, o->db, sizeof c->db);
    memcpy(c->name, o->name, sizeof c->name);
    c->uuid = o->uuid;
    c->next_rid = o->next_rid;
    for (struct sl_node *n = sl_first(&o->recs); n; n = sl_next(n)) {
        const struct rec *src = sl_payload(n);
        struct sl_node *node = sl_node_new(&c->recs, sizeof(struct rec));
        if (node == NULL) {
            coll_free(c);
            return NULL;
        }
        struct rec *r = sl_payload(node);
        *r = (struct rec){.rid = src->rid, .doc = sdoc_ref(src->doc), .node = node};
        node->item = r;
        sl_insert(&c->recs, node, cmp_rid, &r->rid, NULL);
    }
    for (size_t i = 0; i < o->nidx; i++) {
        struct index *ix = index_copy(c, o->idx[i]);
        if (ix == NULL || coll_push_index(c, ix) != 0) {
            if (ix)
                index_cleanup(ix);
            free(ix);
            coll_free(c);
            return NULL;
        }
    }
    return c;
}

struct coll *store_coll(struct store *s, const char *db, const char *name, int create)
{
    for (size_t i = 0; i < s->ncolls; i++)
        if (strcmp(s->colls[i]->db, db) == 0 && strcmp(s->colls[i]->name, name) == 0)
            return s->colls[i];
    if (!create || strlen(db) >= 128 || strlen(name) >= 128 || !*db || !*name)
        return NULL;
    if (s->ncolls == s->capcolls) {
        size_t ncap = s->capcolls ? s->capcolls * 2 : 16;
        struct coll **nc = realloc(s->colls, ncap * sizeof *nc);
        if (nc == NULL)
            return NULL;
        s->colls = nc;
        s->capcolls = ncap;
    }
    struct coll *c = calloc(1, sizeof *c);
    struct index *id = calloc(1, sizeof *id);
    char err[128];
    bson_t key = BSON_INITIALIZER;
    BSON_APPEND_INT32(&key, "_id", 1);
    int bad = c == NULL || id == NULL || sl_init(&c->recs, (uint64_t)s->next_uuid * 7919) != 0 ||
              index_init(id, "_id_", &key, 1, 0, err, sizeof err) != 0;
    bson_destroy(&key);
    if (bad || coll_push_index(c, id) != 0) {
        if (id && id->spec)
            index_cleanup(id);
        free(id);
        coll_free(c);
        return NULL;
    }
    strcpy(c->db, db);
    strcpy(c->name, name);
    c->uuid = s->next_uuid++;
    c->next_rid = 1;
    s->colls[s->ncolls++] = c;
    return c;
}

size_t coll_count(const struct coll *c)
{
    return c ? c->recs.n : 0;
}

int64_t coll_uuid(const struct coll *c)
{
    return c->uuid;
}

static struct rec *node_rec(struct sl_node *n)
{
    return n ? (struct rec *)sl_payload(n) : NULL;
}

struct rec *coll_first(const struct coll *c)
{
    return c ? node_rec(sl_first(&c->recs)) : NULL;
}

struct rec *coll_next(const struct rec *r)
{
    return node_rec(sl_next(r->node));
}

struct rec *coll_seek_rid(const struct coll *c, int64_t rid, int strict)
{
    return node_rec(sl_seek(&c->recs, cmp_rid, &rid, NULL, strict));
}

struct rec *coll_find_id(const struct coll *c, const bson_value_t *id)
{
    if (c == NULL)
        return NULL;
    return index_find_equal(c->idx[0], id, -1);
}

size_t coll_nindexes(const struct coll *c)
{
    return c ? c->nidx : 0;
}

struct index *coll_index(const struct coll *c, size_t i)
{
    return c->idx[i];
}

/* Remembers the collision for store_dup_info and formats a message like a real server's. */
static int dup_error(struct store *s, const struct coll *c, const struct index *ix,
                     struct sdoc *doc, char *err, size_t errlen)
{
    bson_t shown = BSON_INITIALIZER, d;
    sdoc_view(doc, &d);
    for (int i = 0; i < ix->nf; i++) {
        bson_value_t v;
        if (query_get(&d, ix->paths[i], &v))
            bson_append_value(&shown, ix->paths[i], -1, &v);
        else
            bson_append_null(&shown, ix->paths[i], -1);
    }
    char *kv = bson_as_relaxed_extended_json(&shown, NULL);
    snprintf(err, errlen, "E11000 duplicate key error collection: %s.%s index: %s dup key: %s",
             c->db, c->name, ix->name, kv ? kv : "{}");
    bson_free(kv);
    bson_destroy(&shown);
    sdoc_unref(s->dup_doc);
    s->dup_doc = sdoc_ref(doc);
    s->dup_ix = ix;
    return 11000;
}

void store_dup_info(const struct store *s, bson_t *out)
{
    if (s->dup_ix == NULL || s->dup_doc == NULL)
        return;
    bson_t kv, d, spec;
    sdoc_view(s->dup_ix->spec, &spec);
    sdoc_view(s->dup_doc, &d);
    BSON_APPEND_DOCUMENT(out, "keyPattern", &spec);
    BSON_APPEND_DOCUMENT_BEGIN(out, "keyValue", &kv);
    for (int i = 0; i < s->dup_ix->nf; i++) {
        bson_value_t v;
        if (query_get(&d, s->dup_ix->paths[i], &v))
            bson_append_value(&kv, s->dup_ix->paths[i], -1, &v);
        else
            bson_append_null(&kv, s->dup_ix->paths[i], -1);
    }
    bson_append_document_end(out, &kv);
}

/* Checks every unique index of c for another record (not rid) with doc's key. */
static int unique_check(struct store *s, const struct coll *c, struct sdoc *doc, int64_t rid,
                        char *err, size_t errlen)
{
    bson_t d;
    sdoc_view(doc, &d);
    for (size_t i = 0; i < c->nidx; i++) {
        const struct index *ix = c->idx[i];
        bson_value_t kv[INDEX_MAX_FIELDS];
        int arr;
        if (!ix->unique || !index_key_of(ix, &d, kv, &arr))
            continue;
        if (index_find_equal(ix, kv, rid) != NULL)
            return dup_error(s, c, ix, doc, err, errlen);
    }
    return 0;
}

/* {_id: <doc's _id>} as a new sdoc, or NULL. */
static struct sdoc *id_key(const struct sdoc *doc)
{
    bson_t d, k = BSON_INITIALIZER;
    bson_iter_t it;
    sdoc_view(doc, &d);
    if (bson_iter_init_find(&it, &d, "_id"))
        bson_append_value(&k, "_id", 3, bson_iter_value(&it));
    struct sdoc *out = sdoc_from_bson(&k);
    bson_destroy(&k);
    return out;
}

int store_insert_rec(struct store *s, struct coll *c, const bson_t *doc, struct rec **out,
                     char *err, size_t errlen)
{
    bson_iter_t it;
    bson_t copy = BSON_INITIALIZER;
    if (bson_iter_init_find(&it, doc, "_id")) {
        if (BSON_ITER_HOLDS_ARRAY(&it) || BSON_ITER_HOLDS_REGEX(&it) ||
            BSON_ITER_HOLDS_UNDEFINED(&it)) {
            snprintf(err, errlen, "can't use an %s for _id",
                     BSON_ITER_HOLDS_ARRAY(&it) ? "array" : "regex or undefined");
            bson_destroy(&copy);
            return 2;
        }
        bson_append_value(&copy, "_id", 3, bson_iter_value(&it));
        bson_copy_to_excluding_noinit(doc, &copy, "_id", NULL);
    } else {
        bson_oid_t oid;
        bson_oid_init(&oid, NULL);
        BSON_APPEND_OID(&copy, "_id", &oid);
        bson_concat(&copy, doc);
    }
    if (copy.len > STORE_MAX_DOC + 16 * 1024) {
        snprintf(err, errlen, "object to insert too large. size in bytes: %u, max size: %d",
                 copy.len, STORE_MAX_DOC);
        bson_destroy(&copy);
        return 10334;
    }
    struct sdoc *sd = sdoc_from_bson(&copy);
    bson_destroy(&copy);
    struct sl_node *node = sl_node_new(&c->recs, sizeof(struct rec));
    int code = sd == NULL || node == NULL ? 146 : unique_check(s, c, sd, -1, err, errlen);
    if (code == 146)
        snprintf(err, errlen, "out of memory");
    if (code != 0) {
        sdoc_unref(sd);
        free(node);
        return code;
    }
    struct rec *r = sl_payload(node);
    *r = (struct rec){.rid = c->next_rid++, .doc = sd, .node = node};
    node->item = r;
    for (size_t i = 0; i < c->nidx; i++) {
        if (index_add(c->idx[i], r) != 0) {
            while (i-- > 0)
                index_del(c->idx[i], r);
            sdoc_unref(sd);
            free(node);
            snprintf(err, errlen, "out of memory");
            return 146;
        }
    }
    sl_insert(&c->recs, node, cmp_rid, &r->rid, NULL);
    (void)oplog_append(s->log, 'i', c->db, c->name, sdoc_ref(sd), NULL, NULL);
    if (out)
        *out = r;
    return 0;
}

int store_insert(struct store *s, const char *db, const char *coll, const bson_t *doc, char *err,
                 size_t errlen)
{
    struct coll *c = store_coll(s, db, coll, 1);
    if (c == NULL) {
        snprintf(err, errlen, "invalid namespace %s.%s", db, coll);
        return 73;
    }
    return store_insert_rec(s, c, doc, NULL, err, errlen);
}

int store_update(struct store *s, struct coll *c, struct rec *r, const bson_t *newdoc,
                 const bson_t *desc, char *err, size_t errlen)
{
    if (newdoc->len > STORE_MAX_DOC) {
        snprintf(err, errlen, "Resulting document after update is larger than %d", STORE_MAX_DOC);
        return 17419;
    }
    struct sdoc *nd = sdoc_from_bson(newdoc);
    struct sdoc *dd = desc ? sdoc_from_bson(desc) : NULL;
    int code =
        nd == NULL || (desc && dd == NULL) ? 146 : unique_check(s, c, nd, r->rid, err, errlen);
    if (code == 146)
        snprintf(err, errlen, "out of memory");
    for (size_t i = 0; code == 0 && i < c->nidx; i++) {
        if (index_move(c->idx[i], r, r->doc, nd) != 0) {
            while (i-- > 0)
                if (index_move(c->idx[i], r, nd, r->doc) != 0)
                    c->idx[i]->multikey = 1; /* out of memory twice: keep the planner off it */
            snprintf(err, errlen, "out of memory");
            code = 146;
        }
    }
    if (code != 0) {
        sdoc_unref(nd);
        sdoc_unref(dd);
        return code;
    }
    struct sdoc *old = r->doc;
    r->doc = nd;
    sdoc_unref(old);
    (void)oplog_append(s->log, desc ? 'u' : 'r', c->db, c->name,
                       desc && !s->post_images ? NULL : sdoc_ref(nd), id_key(nd), dd);
    return 0;
}

void store_delete(struct store *s, struct coll *c, struct rec *r)
{
    for (size_t i = 0; i < c->nidx; i++)
        index_del(c->idx[i], r);
    struct sdoc *key = id_key(r->doc);
    struct sdoc *doc = r->doc;
    int64_t rid = r->rid;
    free(sl_remove(&c->recs, cmp_rid, &rid, NULL));
    sdoc_unref(doc);
    (void)oplog_append(s->log, 'd', c->db, c->name, NULL, key, NULL);
}

int store_create_index(struct store *s, const char *db, const char *coll, const char *name,
                       const bson_t *key, int unique, int sparse, char *err, size_t errlen)
{
    struct index *ix = calloc(1, sizeof *ix);
    if (ix == NULL) {
        snprintf(err, errlen, "out of memory");
        return 146;
    }
    int code = index_init(ix, name, key, unique, sparse, err, errlen);
    if (code != 0) {
        free(ix);
        return code;
    }
    struct coll *c = store_coll(s, db, coll, 1);
    if (c == NULL) {
        snprintf(err, errlen, "invalid namespace %s.%s", db, coll);
        code = 73;
        goto fail;
    }
    for (size_t i = 0; i < c->nidx; i++) {
        const struct index *o = c->idx[i];
        bson_t ospec;
        sdoc_view(o->spec, &ospec);
        int same_key = bson_equal(&ospec, key);
        int same_opts = (o->unique || i == 0) == unique && o->sparse == sparse;
        if (i == 0 && same_key && strcmp(name, "_id_") == 0)
            same_opts = 1;
        if (strcmp(o->name, name) == 0) {
            if (same_key && same_opts)
                code = -1;
            else {
                snprintf(err, errlen,
                         "An existing index has the same name as the requested index: %s", name);
                code = same_key ? 85 : 86;
            }
            goto fail;
        }
        if (same_key) {
            if (same_opts) {
                code = -1;
            } else {
                snprintf(err, errlen, "Index already exists with a different name: %s", o->name);
                code = 85;
            }
            goto fail;
        }
    }
    for (struct rec *r = coll_first(c); r; r = coll_next(r)) {
        if (ix->unique) {
            bson_t d;
            bson_value_t kv[INDEX_MAX_FIELDS];
            int arr;
            sdoc_view(r->doc, &d);
            if (index_key_of(ix, &d, kv, &arr) && index_find_equal(ix, kv, r->rid)) {
                code = dup_error(s, c, ix, r->doc, err, errlen);
                goto fail;
            }
        }
        if (index_add(ix, r) != 0) {
            snprintf(err, errlen, "out of memory");
            code = 146;
            goto fail;
        }
    }
    if (coll_push_index(c, ix) != 0) {
        snprintf(err, errlen, "out of memory");
        code = 146;
        goto fail;
    }
    return 0;
fail:
    index_cleanup(ix);
    free(ix);
    return code < 0 ? 0 : code;
}

void coll_list_indexes(const struct coll *c, bson_t *arr)
{
    for (size_t i = 0; i < c->nidx; i++) {
        char kbuf[16];
        const char *k;
        bson_t d, spec;
        bson_uint32_to_string((uint32_t)i, &k, kbuf, sizeof kbuf);
        sdoc_view(c->idx[i]->spec, &spec);
        bson_append_document_begin(arr, k, -1, &d);
        BSON_APPEND_INT32(&d, "v", 2);
        BSON_APPEND_DOCUMENT(&d, "key", &spec);
        BSON_APPEND_UTF8(&d, "name", c->idx[i]->name);
        if (c->idx[i]->unique && i > 0)
            BSON_APPEND_BOOL(&d, "unique", true);
        if (c->idx[i]->sparse)
            BSON_APPEND_BOOL(&d, "sparse", true);
        bson_append_document_end(arr, &d);
    }
}

int store_drop(struct store *s, const char *db, const char *coll)
{
    for (size_t i = 0; i < s->ncolls; i++) {
        struct coll *c = s->colls[i];
        if (strcmp(c->db, db) == 0 && strcmp(c->name, coll) == 0) {
            s->dup_ix = NULL; /* it may be one of c's */
            coll_free(c);
            memmove(&s->colls[i], &s->colls[i + 1], (s->ncolls - i - 1) * sizeof *s->colls);
            s->ncolls--;
            (void)oplog_append(s->log, 'c', db, coll, NULL, NULL, NULL);
            return 1;
        }
    }
    return 0;
}

int store_drop_db(struct store *s, const char *db)
{
    int n = 0;
    for (size_t i = 0; i < s->ncolls;) {
        if (strcmp(s->colls[i]->db, db) == 0) {
            char name[128];
            strcpy(name, s->colls[i]->name);
            n += store_drop(s, db, name);
        } else {
            i++;
        }
    }
    if (n > 0)
        (void)oplog_append(s->log, 'D', db, "", NULL, NULL, NULL);
    return n;
}

struct coll *store_coll_at(struct store *s, size_t i, const char **db, const char **name)
{
    if (i >= s->ncolls)
        return NULL;
    *db = s->colls[i]->db;
    *name = s->colls[i]->name;
    return s->colls[i];
}

uint64_t store_last_seq(const struct store *s)
{
    return oplog_last_seq(s->log);
}

uint64_t store_first_seq(const struct store *s)
{
    return oplog_first_seq(s->log);
}

const struct oplog_entry *store_oplog(const struct store *s, uint64_t seq)
{
    return oplog_get(s->log, seq);
}

void store_last_ts(const struct store *s, uint32_t *t, uint32_t *i)
{
    oplog_last_ts(s->log, t, i);
}

int64_t store_last_wall(const struct store *s)
{
    return oplog_last_wall(s->log);
}

struct store *store_snapshot(const struct store *s, size_t oplog_max, size_t oplog_bytes)
{
    struct store *n = store_new(oplog_max, oplog_bytes);
    if (n == NULL)
        return NULL;
    n->post_images = 1;
    n->colls = calloc(s->ncolls ? s->ncolls : 1, sizeof *n->colls);
    n->capcolls = s->ncolls ? s->ncolls : 1;
    n->next_uuid = s->next_uuid;
    for (size_t i = 0; n->colls && i < s->ncolls; i++) {
        n->colls[i] = coll_copy(s->colls[i]);
        if (n->colls[i] == NULL)
            break;
        n->ncolls++;
    }
    if (n->colls == NULL || n->ncolls != s->ncolls) {
        store_free(n);
        return NULL;
    }
    return n;
}
