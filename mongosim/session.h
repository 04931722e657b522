/*
 * session — the retryable-write memory: for each logical session (lsid) the last
 * txnNumber executed and its reply, shared by all members (as config.transactions is
 * replicated), so a write retried on a new primary is answered, not executed twice.
 */
#ifndef MONGOSIM_SESSION_H
#define MONGOSIM_SESSION_H

#include <bson/bson.h>
#include <stdint.h>

struct sessions;

enum session_check { SESSION_EXECUTE = 0, SESSION_RETRY = 1, SESSION_TOO_OLD = 2 };

/* Creates an empty table remembering at most max sessions (least recently used go first). */
struct sessions *sessions_new(size_t max);

/* A copy of t (a member cut off from the others goes on with its own). NULL on OOM. */
struct sessions *sessions_copy(const struct sessions *t);

/* Frees the table. Accepts NULL. */
void sessions_free(struct sessions *t);

/*
 * Looks up (lsid, txn). SESSION_EXECUTE: not seen, run it. SESSION_RETRY: already executed;
 * the stored reply is copied into *reply (initialised here; caller destroys).
 * SESSION_TOO_OLD: a newer txnNumber was already seen.
 */
enum session_check sessions_check(struct sessions *t, const bson_t *lsid, int64_t txn,
                                  bson_t *reply, int64_t now);

/* Remembers reply (copied) as the result of (lsid, txn). */
void sessions_record(struct sessions *t, const bson_t *lsid, int64_t txn, const bson_t *reply,
                     int64_t now);

/* Forgets a session (endSessions). */
void sessions_end(struct sessions *t, const bson_t *lsid);

#endif
