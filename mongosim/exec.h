/*
 * exec — running a query with a plan: the matching records of a filter in order (the
 * plan's walk, or a sort when the plan does not provide it), skip and limit applied; and
 * lazy find cursors that fill each batch straight from a parked scan, so a large result
 * is never copied as a whole.
 */
#ifndef MONGOSIM_EXEC_H
#define MONGOSIM_EXEC_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "plan.h"

struct coll;
struct rec;
struct store;
struct sdoc;

/*
 * Collects the records of c matching filter (checked), ordered by sort ({} or NULL: plan
 * order), skip skipped, at most limit (0: all). *out is a malloc'd array of *n records
 * (caller frees it) valid until the next write. Returns 0, or 2 (bad sort spec) / 146
 * (out of memory) with a message in err.
 */
int exec_collect(const struct coll *c, const bson_t *filter, const bson_t *sort, int64_t skip,
                 int64_t limit, struct rec ***out, size_t *n, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Counts the records of c matching filter, after skip, at most limit (0: no limit). */
int64_t exec_count(const struct coll *c, const bson_t *filter, int64_t skip, int64_t limit);

/* A find cursor reading lazily from its collection along a plan that yields the right order. */
struct lazy;

/*
 * Starts a lazy read of db.coll (c, which may be NULL for a missing collection) along p for
 * filter, with projection proj (both copied), skip and limit (0: none). NULL on OOM.
 */
struct lazy *lazy_new(const struct coll *c, const char *db, const char *coll, const bson_t *filter,
                      const bson_t *proj, const struct plan *p, int64_t skip, int64_t limit);

/* Frees a lazy cursor. Accepts NULL. */
void lazy_free(struct lazy *l);

/*
 * Appends up to max documents (and about max_bytes) to arr under keys *k, *k+1, ... Returns
 * 1 when the cursor is exhausted, 0 when more may follow, or -1 with a message in err when
 * its collection was dropped meanwhile (QueryPlanKilled, 175).
 */
int lazy_fill(struct lazy *l, struct store *s, bson_t *arr, uint32_t *k, int64_t max,
              size_t max_bytes, char *err, size_t errlen);

#endif
