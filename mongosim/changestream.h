/*
 * changestream — change streams over the oplog: opening from a $changeStream stage
 * (resumeAfter, startAfter, startAtOperationTime, fullDocument), producing change events
 * (insert, update, replace, delete, drop, dropDatabase, invalidate) in oplog order, and
 * resume tokens of the form {_data: "82" + 16 hex digits [+ "01" for an invalidate]} that
 * name an oplog position.
 */
#ifndef MONGOSIM_CHANGESTREAM_H
#define MONGOSIM_CHANGESTREAM_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct cs;

/* Oplog entries one cs_next_batch call examines at most, so a long backlog never stalls. */
#define CS_SCAN_MAX 20000

enum cs_state {
    CS_CAUGHT_UP = 0, /* every oplog entry has been examined */
    CS_MORE = 1,      /* entries remain: call again */
    CS_INVALIDATED,   /* the watched collection or database is gone: the stream is over */
};

/*
 * Opens a change stream on db.coll (coll NULL: the whole database; db "admin" with
 * allChangesForCluster: every database). spec is the $changeStream argument; rest the
 * pipeline stages after it (only $match is supported). Without a resume point it starts
 * after entry last (the member's last oplog entry: s's last, or less on a member cut off
 * from the others). Returns 0 and *out (free with
 * cs_free), or an error code (9, 40324, 260 InvalidResumeToken, 286
 * ChangeStreamHistoryLost, ...) with err.
 */
int cs_open(struct cs **out, const struct store *s, uint64_t last, const char *db, const char *coll,
            const bson_t *spec, const bson_t *rest, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Frees a change stream. Accepts NULL. */
void cs_free(struct cs *c);

/*
 * Appends up to max events after the stream's position to arr (keys "0", "1", ...),
 * examining at most CS_SCAN_MAX oplog entries of s up to entry upto (what the member has),
 * and advances the position past everything examined. updateLookup reads view (the
 * member's data set). Returns the number appended and *state, or -1 when the oplog no longer covers
 * the position (ChangeStreamHistoryLost).
 */
int cs_next_batch(struct cs *c, struct store *s, uint64_t upto, struct store *view, bson_t *arr,
                  int max, enum cs_state *state);

/* Appends the stream's current resume token (postBatchResumeToken) to b under key. */
void cs_append_pbrt(const struct cs *c, bson_t *b, const char *key);

/* Appends the resume token of oplog position seq (of its invalidate event when inval) to b. */
void cs_append_token(bson_t *b, const char *key, uint64_t seq, int inval);

/* Parses a resume token document. Returns 0 with the position (and *inval set for the token
 * of an invalidate event), or -1. */
int cs_parse_token(const bson_t *token, uint64_t *seq, int *inval);

#endif
