/*
 * query — document matching, ordering and projection over libbson documents: the subset of
 * the MongoDB query language mongosim supports (equality, $eq, $ne, $in, $nin, $gt, $gte,
 * $lt, $lte, $exists on top-level or dotted fields, $and/$or; top-level sort and
 * projection).
 */
#ifndef MONGOSIM_QUERY_H
#define MONGOSIM_QUERY_H

#include <bson/bson.h>
#include <stddef.h>

/*
 * Compares two BSON values in MongoDB's cross-type order (MinKey < null < numbers <
 * strings < objects < arrays < binData < ObjectId < bool < date < timestamp < MaxKey).
 * Returns <0, 0 or >0.
 */
int query_compare(const bson_value_t *a, const bson_value_t *b);

/* MongoDB's canonical rank of a BSON type (values of equal rank compare by value). */
int query_type_rank(bson_type_t t);

/* Checks that filter only uses supported operators. Returns 0, or -1 with a reason in err. */
int query_check(const bson_t *filter, char *err, size_t errlen);

/* Returns 1 when doc matches filter (which passed query_check), else 0. */
int query_match(const bson_t *doc, const bson_t *filter);

/*
 * Sorts docs[0..n) in place by spec ({field: 1|-1, ...}); stable. Returns 0, or -1 with a
 * reason in err for a malformed spec. The documents are borrowed.
 */
int query_sort(const bson_t **docs, size_t n, const bson_t *spec, char *err, size_t errlen);

/*
 * query_sort over any items: view(item, &doc) initialises a read-only view of an item's
 * document (it must stay valid during the sort).
 */
int query_sort_by(void **items, size_t n, void (*view)(const void *item, bson_t *out),
                  const bson_t *spec, char *err, size_t errlen);

/* Checks a projection ({a:1,b:1} or {a:0}); returns 0, or -1 with a reason in err. */
int query_check_projection(const bson_t *proj, char *err, size_t errlen);

/* Returns a new document: doc projected by proj (NULL or empty: a copy). Caller destroys. */
bson_t *query_project(const bson_t *doc, const bson_t *proj);

/* Finds a top-level or dotted field of doc. Returns 1 and fills v (borrowed), or 0. */
int query_get(const bson_t *doc, const char *path, bson_value_t *v);

#endif
