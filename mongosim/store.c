#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* A set of key byte strings (for unique indexes), open addressing. */
struct keyset {
    struct kslot {
        uint8_t *key;
        size_t len;
        uint64_t hash;
    } * slots;
    size_t cap, used;
};

struct index {
    char name[128];
    bson_t *key; /* owned; a pointer because bson_t wants 128-byte alignment */
    int unique, sparse;
    struct keyset set; /* unique indexes only */
};

struct coll {
    char db[128], name[128];
    bson_t **docs;
    size_t n, cap;
    struct index *idx;
    size_t nidx;
};

struct store {
    struct coll **colls;
    size_t ncolls, capcolls;
    struct oplog_entry *ring;
    size_t ring_cap;
    uint64_t last_seq;
    uint32_t ts_t, ts_i;
    int64_t wall_ms;
};

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int keyset_has(const struct keyset *ks, const uint8_t *k, size_t n, uint64_t h)
{
    if (ks->cap == 0)
        return 0;
    for (size_t i = h & (ks->cap - 1);; i = (i + 1) & (ks->cap - 1)) {
        const struct kslot *s = &ks->slots[i];
        if (s->key == NULL)
            return 0;
        if (s->hash == h && s->len == n && memcmp(s->key, k, n) == 0)
            return 1;
    }
}

/* Adds a copy of k; returns 0 or -1 on OOM. */
static int keyset_add(struct keyset *ks, const uint8_t *k, size_t n, uint64_t h)
{
    if ((ks->used + 1) * 2 > ks->cap) {
        size_t ncap = ks->cap ? ks->cap * 2 : 64;
        struct kslot *ns = calloc(ncap, sizeof *ns);
        if (ns == NULL)
            return -1;
        for (size_t i = 0; i < ks->cap; i++) {
            if (ks->slots[i].key == NULL)
                continue;
            size_t j = ks->slots[i].hash & (ncap - 1);
            while (ns[j].key)
                j = (j + 1) & (ncap - 1);
            ns[j] = ks->slots[i];
        }
        free(ks->slots);
        ks->slots = ns;
        ks->cap = ncap;
    }
    uint8_t *copy = malloc(n ? n : 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, k, n);
    size_t j = h & (ks->cap - 1);
    while (ks->slots[j].key)
        j = (j + 1) & (ks->cap - 1);
    ks->slots[j] = (struct kslot){copy, n, h};
    ks->used++;
    return 0;
}

static void keyset_free(struct keyset *ks)
{
    for (size_t i = 0; i < ks->cap; i++)
        free(ks->slots[i].key);
    free(ks->slots);
    memset(ks, 0, sizeof *ks);
}

/*
 * Builds the key of doc under index ix into out ({"": v1, "": v2}, numbers as doubles so
 * that 1 and 1.0 collide). Returns 0 when every key field is missing (sparse skip), else 1.
 */
static int index_key(const struct index *ix, const bson_t *doc, bson_t *out)
{
    bson_iter_t it;
    int present = 0;
    bson_init(out);
    if (!bson_iter_init(&it, ix->key))
        return 1;
    while (bson_iter_next(&it)) {
        bson_iter_t di, found;
        const char *path = bson_iter_key(&it);
        int have = bson_iter_init(&di, doc) &&
                   (strchr(path, '.') ? bson_iter_find_descendant(&di, path, &found)
                                      : (found = di, bson_iter_find(&found, path)));
        if (!have) {
            bson_append_null(out, "", 0);
            continue;
        }
        present = 1;
        if (BSON_ITER_HOLDS_INT32(&found) || BSON_ITER_HOLDS_INT64(&found) ||
            BSON_ITER_HOLDS_DOUBLE(&found))
            bson_append_double(out, "", 0, bson_iter_as_double(&found));
        else
            bson_append_value(out, "", 0, bson_iter_value(&found));
    }
    return present || !ix->sparse;
}

/* Formats a duplicate-key message like a real server's. */
static void dup_message(const struct coll *c, const struct index *ix, const bson_t *doc, char *err,
                        size_t errlen)
{
    char *kv = NULL;
    bson_t shown = BSON_INITIALIZER;
    bson_iter_t it;
    if (bson_iter_init(&it, ix->key)) {
        while (bson_iter_next(&it)) {
            bson_iter_t di, found;
            const char *path = bson_iter_key(&it);
            if (bson_iter_init(&di, doc) && bson_iter_find_descendant(&di, path, &found))
                bson_append_value(&shown, path, -1, bson_iter_value(&found));
            else
                bson_append_null(&shown, path, -1);
        }
    }
    kv = bson_as_relaxed_extended_json(&shown, NULL);
    snprintf(err, errlen, "E11000 duplicate key error collection: %s.%s index: %s dup key: %s",
             c->db, c->name, ix->name, kv ? kv : "{}");
    bson_free(kv);
    bson_destroy(&shown);
}

static int index_add_doc(struct index *ix, const bson_t *doc)
{
    if (!ix->unique)
        return 0;
    bson_t k;
    int use = index_key(ix, doc, &k);
    int rc = 0;
    if (use)
        rc = keyset_add(&ix->set, bson_get_data(&k), k.len, fnv1a(bson_get_data(&k), k.len));
    bson_destroy(&k);
    return rc;
}

static int index_conflicts(const struct index *ix, const bson_t *doc)
{
    if (!ix->unique)
        return 0;
    bson_t k;
    int use = index_key(ix, doc, &k);
    int hit =
        use && keyset_has(&ix->set, bson_get_data(&k), k.len, fnv1a(bson_get_data(&k), k.len));
    bson_destroy(&k);
    return hit;
}

static void coll_free(struct coll *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        bson_destroy(c->docs[i]);
    free(c->docs);
    for (size_t i = 0; i < c->nidx; i++) {
        bson_destroy(c->idx[i].key);
        keyset_free(&c->idx[i].set);
    }
    free(c->idx);
    free(c);
}

struct store *store_new(size_t oplog_max)
{
    struct store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->ring_cap = oplog_max ? oplog_max : 1;
    s->ring = calloc(s->ring_cap, sizeof *s->ring);
    if (s->ring == NULL) {
        free(s);
        return NULL;
    }
    s->wall_ms = msim_wall_ms();
    s->ts_t = (uint32_t)(s->wall_ms / 1000);
    s->ts_i = 1;
    return s;
}

void store_free(struct store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->ncolls; i++)
        coll_free(s->colls[i]);
    free(s->colls);
    for (size_t i = 0; i < s->ring_cap; i++)
        if (s->ring[i].doc)
            bson_destroy(s->ring[i].doc);
    free(s->ring);
    free(s);
}

/* Appends an oplog entry; takes ownership of doc (may be NULL). */
static void oplog_append(struct store *s, char op, const char *db, const char *coll, bson_t *doc)
{
    int64_t wall = msim_wall_ms();
    uint32_t t = (uint32_t)(wall / 1000);
    if (t > s->ts_t) {
        s->ts_t = t;
        s->ts_i = 1;
    } else {
        s->ts_i++;
    }
    s->wall_ms = wall;
    struct oplog_entry *e = &s->ring[s->last_seq % s->ring_cap];
    if (e->doc)
        bson_destroy(e->doc);
    s->last_seq++;
    e->seq = s->last_seq;
    e->ts_t = s->ts_t;
    e->ts_i = s->ts_i;
    e->wall_ms = wall;
    e->op = op;
    snprintf(e->db, sizeof e->db, "%s", db);
    snprintf(e->coll, sizeof e->coll, "%s", coll);
    e->doc = doc;
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
    if (c == NULL || (c->idx = calloc(1, sizeof *c->idx)) == NULL) {
        free(c);
        return NULL;
    }
    strcpy(c->db, db);
    strcpy(c->name, name);
    struct index *id = &c->idx[0];
    strcpy(id->name, "_id_");
    id->key = BCON_NEW("_id", BCON_INT32(1));
    id->unique = 1;
    c->nidx = 1;
    s->colls[s->ncolls++] = c;
    return c;
}

size_t coll_count(const struct coll *c)
{
    return c ? c->n : 0;
}

const bson_t *coll_doc(const struct coll *c, size_t i)
{
    return c->docs[i];
}

int store_insert(struct store *s, const char *db, const char *coll, const bson_t *doc, char *err,
                 size_t errlen)
{
    struct coll *c = store_coll(s, db, coll, 1);
    if (c == NULL) {
        snprintf(err, errlen, "invalid namespace %s.%s", db, coll);
        return 73;
    }
    bson_t *copy = bson_new();
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "_id")) {
        bson_oid_t oid;
        bson_oid_init(&oid, NULL);
        BSON_APPEND_OID(copy, "_id", &oid);
    } else if (BSON_ITER_HOLDS_ARRAY(&it)) {
        bson_destroy(copy);
        snprintf(err, errlen, "can't use an array for _id");
        return 2;
    }
    bson_concat(copy, doc);
    for (size_t i = 0; i < c->nidx; i++) {
        if (index_conflicts(&c->idx[i], copy)) {
            dup_message(c, &c->idx[i], copy, err, errlen);
            bson_destroy(copy);
            return 11000;
        }
    }
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 64;
        bson_t **nd = realloc(c->docs, ncap * sizeof *nd);
        if (nd == NULL) {
            bson_destroy(copy);
            snprintf(err, errlen, "out of memory");
            return 146;
        }
        c->docs = nd;
        c->cap = ncap;
    }
    for (size_t i = 0; i < c->nidx; i++) {
        if (index_add_doc(&c->idx[i], copy) != 0) {
            bson_destroy(copy);
            snprintf(err, errlen, "out of memory");
            return 146;
        }
    }
    c->docs[c->n++] = copy;
    oplog_append(s, 'i', db, coll, bson_copy(copy));
    return 0;
}

int store_create_index(struct store *s, const char *db, const char *coll, const char *name,
                       const bson_t *key, int unique, int sparse, char *err, size_t errlen)
{
    if (bson_empty(key) || strlen(name) == 0 || strlen(name) >= 128) {
        snprintf(err, errlen, "index needs a name and a nonempty key");
        return 67;
    }
    struct coll *c = store_coll(s, db, coll, 1);
    if (c == NULL) {
        snprintf(err, errlen, "invalid namespace %s.%s", db, coll);
        return 73;
    }
    for (size_t i = 0; i < c->nidx; i++) {
        struct index *ix = &c->idx[i];
        int same_key = bson_equal(ix->key, key);
        if (strcmp(ix->name, name) == 0) {
            if (same_key && ix->unique == unique && ix->sparse == sparse)
                return 0;
            snprintf(err, errlen, "An existing index has the same name as the requested index: %s",
                     name);
            return same_key ? 85 : 86;
        }
        if (same_key) {
            if (ix->unique == unique && ix->sparse == sparse)
                return 0;
            snprintf(err, errlen, "Index already exists with a different name: %s", ix->name);
            return 85;
        }
    }
    struct index *nidx = realloc(c->idx, (c->nidx + 1) * sizeof *nidx);
    if (nidx == NULL) {
        snprintf(err, errlen, "out of memory");
        return 146;
    }
    c->idx = nidx;
    struct index *ix = &c->idx[c->nidx];
    memset(ix, 0, sizeof *ix);
    snprintf(ix->name, sizeof ix->name, "%s", name);
    ix->key = bson_copy(key);
    ix->unique = unique;
    ix->sparse = sparse;
    for (size_t d = 0; d < c->n; d++) {
        if (index_conflicts(ix, c->docs[d])) {
            dup_message(c, ix, c->docs[d], err, errlen);
            bson_destroy(ix->key);
            ix->key = NULL;
            keyset_free(&ix->set);
            return 11000;
        }
        if (index_add_doc(ix, c->docs[d]) != 0) {
            bson_destroy(ix->key);
            ix->key = NULL;
            keyset_free(&ix->set);
            snprintf(err, errlen, "out of memory");
            return 146;
        }
    }
    c->nidx++;
    return 0;
}

void coll_list_indexes(const struct coll *c, bson_t *arr)
{
    for (size_t i = 0; i < c->nidx; i++) {
        char kbuf[16];
        const char *k;
        bson_uint32_to_string((uint32_t)i, &k, kbuf, sizeof kbuf);
        bson_t d;
        bson_append_document_begin(arr, k, -1, &d);
        BSON_APPEND_INT32(&d, "v", 2);
        BSON_APPEND_DOCUMENT(&d, "key", c->idx[i].key);
        BSON_APPEND_UTF8(&d, "name", c->idx[i].name);
        if (c->idx[i].unique && i > 0)
            BSON_APPEND_BOOL(&d, "unique", true);
        if (c->idx[i].sparse)
            BSON_APPEND_BOOL(&d, "sparse", true);
        bson_append_document_end(arr, &d);
    }
}

int store_drop(struct store *s, const char *db, const char *coll)
{
    for (size_t i = 0; i < s->ncolls; i++) {
        struct coll *c = s->colls[i];
        if (strcmp(c->db, db) == 0 && strcmp(c->name, coll) == 0) {
            coll_free(c);
            memmove(&s->colls[i], &s->colls[i + 1], (s->ncolls - i - 1) * sizeof *s->colls);
            s->ncolls--;
            oplog_append(s, 'd', db, coll, NULL);
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
    return s->last_seq;
}

uint64_t store_first_seq(const struct store *s)
{
    return s->last_seq > s->ring_cap ? s->last_seq - s->ring_cap + 1 : 1;
}

const struct oplog_entry *store_oplog(const struct store *s, uint64_t seq)
{
    if (seq == 0 || seq > s->last_seq || seq < store_first_seq(s))
        return NULL;
    return &s->ring[(seq - 1) % s->ring_cap];
}

void store_last_ts(const struct store *s, uint32_t *t, uint32_t *i)
{
    *t = s->ts_t;
    *i = s->ts_i;
}

int64_t store_last_wall(const struct store *s)
{
    return s->wall_ms;
}
