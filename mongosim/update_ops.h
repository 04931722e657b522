/*
 * update_ops — the update operators themselves, applied to a mutable document tree (mdoc):
 * $set, $unset, $inc, $mul, $min, $max, $currentDate, $rename, $setOnInsert, $push and
 * $addToSet (with $each; $slice and $position for $push), $pop, $pull, $pullAll. Their
 * arguments were checked by update_parse (update.c), the module that uses this one.
 */
#ifndef MONGOSIM_UPDATE_OPS_H
#define MONGOSIM_UPDATE_OPS_H

#include <bson/bson.h>
#include <stddef.h>

struct mnode;

/*
 * Applies operator op to root for each field of fields (an iterator over the operator's
 * document, before its first field). inserting: an upsert's new document ($setOnInsert
 * applies). Returns 0, or an error code (28, 14, 2, 146) with a message in err.
 */
int update_apply_op(struct mnode *root, const char *op, bson_iter_t *fields, int inserting,
                    char *err, size_t errlen);

#endif
