/*
 * store — the one in-memory data set every member shares: databases and collections of
 * documents, indexes (unique ones enforced through a hash of their key values) and the
 * oplog that change streams read.
 */
#ifndef MONGOSIM_STORE_H
#define MONGOSIM_STORE_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct coll;

/* An oplog entry. Sequence numbers start at 1 and grow by one per entry. */
struct oplog_entry {
    uint64_t seq;
    uint32_t ts_t, ts_i; /* the entry's Timestamp(t, i) */
    int64_t wall_ms;
    char op; /* 'i' insert, 'd' drop collection */
    char db[128];
    char coll[128];
    bson_t *doc; /* the inserted document, NULL for drops */
};

/* Creates an empty data set keeping at most oplog_max oplog entries. NULL on OOM. */
struct store *store_new(size_t oplog_max);

/* Frees the data set. Accepts NULL. */
void store_free(struct store *s);

/* Returns the collection db.name, creating it (with its _id index) when create is set; else NULL.
 */
struct coll *store_coll(struct store *s, const char *db, const char *name, int create);

/* Number of documents; the i-th document (borrowed, valid until the collection is dropped). */
size_t coll_count(const struct coll *c);
const bson_t *coll_doc(const struct coll *c, size_t i);

/*
 * Inserts a copy of doc into db.coll (creating it), with an ObjectId _id put first when
 * doc has none, and logs it to the oplog. Returns 0, or 11000 (duplicate key) / 2 (bad
 * value) with a message in err; the data set is unchanged on error.
 */
int store_insert(struct store *s, const char *db, const char *coll, const bson_t *doc, char *err,
                 size_t errlen) __attribute__((warn_unused_result));

/*
 * Creates index name on key ({field: 1|-1, ...}) of db.coll. Returns 0 (also when an
 * identical index exists), or an error code (85 IndexOptionsConflict, 86
 * IndexKeySpecsConflict, 11000 when existing documents violate uniqueness, 67 bad spec)
 * with a message in err.
 */
int store_create_index(struct store *s, const char *db, const char *coll, const char *name,
                       const bson_t *key, int unique, int sparse, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Appends listIndexes entries ({v, key, name, unique?}) of c to arr, keys "0", "1", ... */
void coll_list_indexes(const struct coll *c, bson_t *arr);

/* Drops db.coll (logged as a 'd' oplog entry). Returns 1 when it existed, else 0. */
int store_drop(struct store *s, const char *db, const char *coll);

/* Drops every collection of db. Returns how many. */
int store_drop_db(struct store *s, const char *db);

/* Collection iteration: index 0.. until NULL. Names are borrowed. */
struct coll *store_coll_at(struct store *s, size_t i, const char **db, const char **name);

/* Oplog access: last sequence number (0 when empty), first one still kept, entry by seq. */
uint64_t store_last_seq(const struct store *s);
uint64_t store_first_seq(const struct store *s);
const struct oplog_entry *store_oplog(const struct store *s, uint64_t seq);

/* The Timestamp of the latest write (or of start-up when nothing was written yet). */
void store_last_ts(const struct store *s, uint32_t *t, uint32_t *i);

/* Wall-clock milliseconds of the latest write (or of start-up). */
int64_t store_last_wall(const struct store *s);

#endif
