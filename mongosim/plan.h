/*
 * plan — how a query reads a collection. From the filter's equality, $in and range
 * conditions (top level and inside $and) it derives bounds on each index's fields, picks
 * the index (a unique index matched on all fields at once; otherwise a short trial run of
 * each candidate, as MongoDB's multi-planner does) or a collection scan, and walks the
 * chosen index between those bounds, forwards or backwards, yielding candidate records.
 * The caller re-checks every candidate with query_match: bounds only ever widen a result.
 * A scan can be parked (its position copied) and resumed after writes, so a cursor reads a
 * large result lazily, batch by batch.
 */
#ifndef MONGOSIM_PLAN_H
#define MONGOSIM_PLAN_H

#include <bson/bson.h>
#include <stdint.h>

#include "index.h"

struct coll;

#define PLAN_COLLSCAN (-1)

struct plan {
    int ix;     /* index number, or PLAN_COLLSCAN (insertion order) */
    int dir;    /* 1 forwards, -1 backwards along the index */
    int sorted; /* the walk order satisfies the requested sort (always 1 without a sort) */
};

struct scan {
    const struct coll *c;
    const struct index *ix; /* NULL for a collection scan */
    int nf;                 /* ix's field count (kept for after a drop) */
    int dir;
    struct ibound *b; /* niv intervals: start[nf] then end[nf] each; borrowed from the filter */
    unsigned char *strict; /* per interval: bit 0 start exclusive, bit 1 end exclusive */
    size_t niv;
    long cur;             /* current interval */
    struct sl_node *node; /* current entry (or record node); valid within one command */
    int started, parked, eof;
    bson_value_t pos_kv[INDEX_MAX_FIELDS]; /* parked position: owned copies */
    int64_t pos_rid;
    int64_t works; /* entries examined */
};

/*
 * Chooses a plan for filter (which passed query_check) and sort ({} or NULL for none) on c.
 * want is how many results the caller needs at most (skip + limit), 0 for all.
 */
void plan_choose(const struct coll *c, const bson_t *filter, const bson_t *sort, int64_t want,
                 struct plan *out);

/*
 * Opens a scan of c along p for filter (borrowed: it must outlive the scan). Returns 0, or
 * -1 on OOM.
 */
int scan_open(struct scan *sc, const struct coll *c, const struct plan *p, const bson_t *filter)
    __attribute__((warn_unused_result));

/* The next candidate record in plan order, or NULL when the scan is done. */
struct rec *scan_next(struct scan *sc);

/* Copies the position so the scan can continue after writes (and a later command). */
void scan_park(struct scan *sc);

/* Continues a parked scan on c (the same collection, looked up again). */
void scan_resume(struct scan *sc, const struct coll *c);

/* Frees what the scan owns. Accepts a zeroed scan. */
void scan_close(struct scan *sc);

#endif
