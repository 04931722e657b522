/*
 * index — one ordered index of a collection: its key pattern ({a: 1, b: -1}), options
 * (unique, sparse) and a skip list of entries ordered by (key values, record id). Entries
 * hold the key values as views into the record's immutable document, so a key costs no
 * copy. The query planner walks entries between bounds (struct ibound) in either
 * direction.
 */
#ifndef MONGOSIM_INDEX_H
#define MONGOSIM_INDEX_H

#include <bson/bson.h>
#include <stdint.h>

#include "skiplist.h"

#define INDEX_MAX_FIELDS 32

struct sdoc;

/* A stored document: its record id (insertion order) and current version. */
struct rec {
    int64_t rid;
    struct sdoc *doc;
    struct sl_node *node; /* its node in the collection's record list */
};

struct index {
    char name[128];
    struct sdoc *spec; /* the key pattern */
    int unique, sparse;
    int multikey; /* some document had an array under a key path: the planner skips it */
    int nf;
    const char *paths[INDEX_MAX_FIELDS]; /* views into spec */
    int dirs[INDEX_MAX_FIELDS];          /* 1 or -1 */
    struct skiplist sl;                  /* payload: bson_value_t kv[nf]; item: struct rec * */
};

/* One field of a bound on an index key, in value order (kind B_MIN/B_MAX: in index order). */
enum bkind {
    B_VALUE,     /* the value v */
    B_CLASS_MIN, /* before every value of v's type class */
    B_CLASS_MAX, /* after every value of v's type class */
    B_MIN,       /* before everything, in index order */
    B_MAX,       /* after everything, in index order */
};

struct ibound {
    enum bkind kind;
    bson_value_t v; /* borrowed */
};

/*
 * Sets up ix for key pattern key (copied). Returns 0, or 67 (CannotCreateIndex) with a
 * message in err for a pattern mongosim cannot index (empty, over 32 fields, a direction
 * other than 1/-1 such as "text" or "hashed").
 */
int index_init(struct index *ix, const char *name, const bson_t *key, int unique, int sparse,
               char *err, size_t errlen) __attribute__((warn_unused_result));

/* Frees the entries and the pattern (not the records). */
void index_cleanup(struct index *ix);

/*
 * Computes the key of doc into kv[ix->nf] (views into doc; a missing field is null). Returns
 * 0 when the index skips doc (sparse, every key field missing), else 1. *has_array is set when
 * a key value is an array.
 */
int index_key_of(const struct index *ix, const bson_t *doc, bson_value_t *kv, int *has_array);

/* Compares two keys of ix in index order. */
int index_cmp_keys(const struct index *ix, const bson_value_t *a, const bson_value_t *b);

/* The record of another entry whose key equals kv (rid excluded), or NULL. */
struct rec *index_find_equal(const struct index *ix, const bson_value_t *kv, int64_t rid);

/* Adds r's entry (key from r->doc). Returns 0, or -1 on OOM. */
int index_add(struct index *ix, struct rec *r) __attribute__((warn_unused_result));

/* Removes r's entry (key from r->doc, which must be the version that was added). */
void index_del(struct index *ix, struct rec *r);

/*
 * Moves r's entry from its key under olddoc to its key under newdoc (r->doc is not read).
 * When the keys compare equal the entry stays in place and only refers to newdoc. Returns
 * 0, or -1 on OOM with the index unchanged.
 */
int index_move(struct index *ix, struct rec *r, const struct sdoc *olddoc,
               const struct sdoc *newdoc) __attribute__((warn_unused_result));

/* An entry's key values and record. */
static inline const bson_value_t *index_kv(const struct sl_node *n)
{
    return (const bson_value_t *)sl_payload(n);
}

static inline struct rec *index_rec(const struct sl_node *n)
{
    return (struct rec *)n->item;
}

/*
 * Compares key kv with bound b (nf fields) in index order: <0 when kv sorts before the
 * bound, >0 after, 0 when every field equals a B_VALUE field.
 */
int index_cmp_bound(const struct index *ix, const bson_value_t *kv, const struct ibound *b);

/* First entry >= bound (> when strict), or NULL. */
struct sl_node *index_seek(const struct index *ix, const struct ibound *b, int strict);

/* Last entry <= bound (< when strict), or NULL. */
struct sl_node *index_seek_last(const struct index *ix, const struct ibound *b, int strict);

/*
 * The entry after position (kv, rid) in walk direction dir (1 forwards, -1 backwards),
 * whether or not the entry at the position still exists. NULL at the end.
 */
struct sl_node *index_after(const struct index *ix, const bson_value_t *kv, int64_t rid, int dir);

#endif
