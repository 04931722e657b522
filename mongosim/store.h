/*
 * store — the one in-memory data set every member shares: databases and collections of
 * records (in insertion order), their indexes (kept in step with every insert, update and
 * delete) and the oplog that change streams read.
 */
#ifndef MONGOSIM_STORE_H
#define MONGOSIM_STORE_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "oplog.h"
#include "sdoc.h"

struct store;
struct coll;

/* Documents larger than this are refused, as by a real server (16 MB). */
#define STORE_MAX_DOC (16 * 1024 * 1024)

/*
 * Creates an empty data set whose oplog keeps at most oplog_max entries and about
 * oplog_bytes bytes (documents counted in full). NULL on OOM.
 */
struct store *store_new(size_t oplog_max, size_t oplog_bytes);

/*
 * A copy of s's collections and indexes as they are now (documents are shared, not copied),
 * with an empty oplog of its own (oplog_max entries, about oplog_bytes): what a member cut
 * off from the others still holds. Writes to s do not reach it; writes to it (a stale
 * primary's) are logged in its own oplog, updates with their new document too ('u' entries
 * carry doc), which is what a rollback reports. NULL on OOM. Free with store_free.
 */
struct store *store_snapshot(const struct store *s, size_t oplog_max, size_t oplog_bytes);

/* Frees the data set. Accepts NULL. */
void store_free(struct store *s);

/* Returns the collection db.name, creating it (with its _id index) when create is set; else NULL.
 */
struct coll *store_coll(struct store *s, const char *db, const char *name, int create);

/* Number of documents (0 for NULL). */
size_t coll_count(const struct coll *c);

/* An id unique to this incarnation of the collection (a dropped and re-created one differs). */
int64_t coll_uuid(const struct coll *c);

/* Records in insertion order: first, next; NULL at the end. Valid until the next change. */
struct rec *coll_first(const struct coll *c);
struct rec *coll_next(const struct rec *r);

/* The first record with a record id above rid (at or above when !strict), or NULL. */
struct rec *coll_seek_rid(const struct coll *c, int64_t rid, int strict);

/* The record whose _id equals id, or NULL. O(log n). */
struct rec *coll_find_id(const struct coll *c, const bson_value_t *id);

/* Indexes: 0 is always _id_. */
size_t coll_nindexes(const struct coll *c);
struct index *coll_index(const struct coll *c, size_t i);

/*
 * Inserts doc into c (a copy, with _id moved first, or a new ObjectId _id when it has none)
 * and logs it. Returns 0 and the new record in *out (when out is not NULL), or 11000
 * (duplicate key), 2 (bad _id), 10334 (too large), 146 (out of memory) with a message in
 * err; nothing changes on error.
 */
int store_insert_rec(struct store *s, struct coll *c, const bson_t *doc, struct rec **out,
                     char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Appends keyPattern and keyValue of the last duplicate-key error (11000) to out, as a real
 * server's write error carries them. Valid until the next write.
 */
void store_dup_info(const struct store *s, bson_t *out);

/* store_insert_rec into db.coll, creating the collection. Also 73 for a bad namespace. */
int store_insert(struct store *s, const char *db, const char *coll, const bson_t *doc, char *err,
                 size_t errlen) __attribute__((warn_unused_result));

/*
 * Replaces r's document by newdoc (which must keep r's _id) and logs it as an update with
 * update description desc (operator updates) or, when desc is NULL, as a replace. Returns
 * 0, or 11000 / 10334 / 146 with a message in err; nothing changes on error.
 */
int store_update(struct store *s, struct coll *c, struct rec *r, const bson_t *newdoc,
                 const bson_t *desc, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Deletes r (its pointer is invalid afterwards) and logs it. */
void store_delete(struct store *s, struct coll *c, struct rec *r);

/*
 * Creates index name on key ({field: 1|-1, ...}) of db.coll. Returns 0 (also when an
 * identical index exists), or an error code (85 IndexOptionsConflict, 86
 * IndexKeySpecsConflict, 11000 when existing documents violate uniqueness, 67 bad spec)
 * with a message in err.
 */
int store_create_index(struct store *s, const char *db, const char *coll, const char *name,
                       const bson_t *key, int unique, int sparse, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Appends listIndexes entries ({v, key, name, unique?, sparse?}) of c to arr, keys "0", "1", ... */
void coll_list_indexes(const struct coll *c, bson_t *arr);

/* Drops db.coll (logged as a 'c' oplog entry). Returns 1 when it existed, else 0. */
int store_drop(struct store *s, const char *db, const char *coll);

/* Drops every collection of db, then logs a 'D' entry. Returns how many collections. */
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
