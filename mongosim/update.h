/*
 * update — MongoDB update documents: a replacement document, or operators ($set, $unset,
 * $inc, $mul, $min, $max, $currentDate, $rename, $setOnInsert, $push and $addToSet with
 * $each (and $slice, $position for $push), $pop, $pull, $pullAll) on top-level or dotted
 * fields. Parses and checks them as a server does, applies them to a document, builds the
 * document an upsert inserts, and describes a change as a change stream's
 * updateDescription.
 */
#ifndef MONGOSIM_UPDATE_H
#define MONGOSIM_UPDATE_H

#include <bson/bson.h>
#include <stddef.h>

struct update {
    int replace; /* u is a replacement document */
    bson_t u;    /* view of the update document (borrowed) */
};

/*
 * Parses update document u (borrowed; it must outlive out). Returns 0, or an error code
 * (9 FailedToParse: unknown modifier or a non-object argument; 40 ConflictingUpdateOperators;
 * 56 EmptyFieldName; 2 BadValue; 14 TypeMismatch; 52 a $-field in a replacement) with a
 * message in err.
 */
int update_parse(const bson_t *u, struct update *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Applies up to doc into out (initialised here on success). inserting: doc is an upsert's
 * new document ($setOnInsert applies, _id may be set). Returns 0, or an error code (66
 * ImmutableField when _id would change, 28 PathNotViable, 14 TypeMismatch, 2 BadValue, ...)
 * with a message in err.
 */
int update_apply(const struct update *up, const bson_t *doc, int inserting, bson_t *out, char *err,
                 size_t errlen) __attribute__((warn_unused_result));

/*
 * The document an upsert inserts when nothing matched query: the query's equality
 * conditions (top level and in $and) with the update applied, or for a replacement the
 * replacement with the query's _id. Initialises out on success. Returns 0 or an error code.
 */
int update_upsert_doc(const struct update *up, const bson_t *query, bson_t *out, char *err,
                      size_t errlen) __attribute__((warn_unused_result));

/* Describes old -> new as {updatedFields, removedFields, truncatedArrays} into desc
 * (initialised here). */
void update_describe(const bson_t *old, const bson_t *newdoc, bson_t *desc);

/* Are two documents byte for byte the same? */
int update_same(const bson_t *a, const bson_t *b);

#endif
