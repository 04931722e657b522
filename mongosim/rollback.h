/*
 * rollback — what mongosim's rollbacks threw away, as mongod keeps rollback files: the
 * writes a stale primary (partitioned, not yet stepped down) acknowledged that the majority
 * never had, which vanish when it is healed. The newest of them are kept for
 * {mongosimRollbacks: 1}, bounded in number and bytes; the totals count them all.
 */
#ifndef MONGOSIM_ROLLBACK_H
#define MONGOSIM_ROLLBACK_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

struct rollbacks;
struct store;

/* What one rollback threw away, by kind. */
struct rollback_sum {
    uint64_t ops, inserts, updates, deletes, others;
    uint64_t unlisted; /* rolled back, kind unknown: gone from the copy's bounded oplog */
};

/* Creates an empty record keeping at most max_ops operations and about max_bytes. NULL on OOM. */
struct rollbacks *rollbacks_new(size_t max_ops, size_t max_bytes);

/* Frees the record. Accepts NULL. */
void rollbacks_free(struct rollbacks *rb);

/*
 * Records the rollback of member: every entry of copy's oplog (the writes it took while cut
 * off) becomes one operation {rollback, member, ns, op, _id, doc?, wall}; the oldest kept
 * ones go when the bounds are reached. Fills *sum. An operation larger than the byte bound
 * on its own is counted, not listed.
 */
void rollbacks_record(struct rollbacks *rb, int member, const struct store *copy,
                      struct rollback_sum *sum);

/* Appends {rollbacks, ops, inserts, updates, deletes, others (drops), unlisted, listed,
 * operations: [...]} (oldest first) to reply. */
void rollbacks_report(const struct rollbacks *rb, bson_t *reply);

#endif
