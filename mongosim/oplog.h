/*
 * oplog — the ordered log of every write, bounded by a number of entries and a number of
 * bytes (the oldest entries go first), which change streams read and resume tokens point
 * into. Timestamps are (wall-clock seconds, counter), like a real oplog's.
 */
#ifndef MONGOSIM_OPLOG_H
#define MONGOSIM_OPLOG_H

#include <stddef.h>
#include <stdint.h>

struct sdoc;

/*
 * An oplog entry. Sequence numbers start at 1 and grow by one per entry. op is 'i' insert,
 * 'u' update (operators), 'r' replace, 'd' delete, 'c' drop of a collection, 'D' drop of
 * a database (coll "").
 */
struct oplog_entry {
    uint64_t seq;
    uint32_t ts_t, ts_i; /* the entry's Timestamp(t, i) */
    int64_t wall_ms;
    char op;
    const char *db, *coll; /* interned: valid as long as the oplog */
    struct sdoc *doc;      /* i, r (and u in a cut-off member's copy): the new document */
    struct sdoc *key;      /* u, r, d: {_id: ...} */
    struct sdoc *desc;     /* u: {updatedFields, removedFields, truncatedArrays} */
};

struct oplog;

/* Creates an empty oplog keeping at most max_entries entries and about max_bytes. NULL on OOM. */
struct oplog *oplog_new(size_t max_entries, size_t max_bytes);

/* Frees the oplog and its references. Accepts NULL. */
void oplog_free(struct oplog *o);

/*
 * Appends an entry, taking over one reference of each of doc, key and desc (any may be
 * NULL), and drops the oldest entries beyond the bounds. Returns 0, or -1 on OOM (then the
 * references are dropped and nothing is logged: the write stands, unseen by change streams).
 */
int oplog_append(struct oplog *o, char op, const char *db, const char *coll, struct sdoc *doc,
                 struct sdoc *key, struct sdoc *desc);

/* The name of an entry's op, as change events and rollbacks give it ("insert" ...). */
const char *oplog_op_name(char op);

/* Last sequence number (0 when nothing was logged), first one still kept, entry by seq. */
uint64_t oplog_last_seq(const struct oplog *o);
uint64_t oplog_first_seq(const struct oplog *o);
const struct oplog_entry *oplog_get(const struct oplog *o, uint64_t seq);

/* The Timestamp and wall-clock ms of the latest entry (or of creation). */
void oplog_last_ts(const struct oplog *o, uint32_t *t, uint32_t *i);
int64_t oplog_last_wall(const struct oplog *o);

#endif
