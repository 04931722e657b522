/*
 * cursor — open server-side cursors: the remaining documents of an aggregate (or a find that
 * needed an in-memory sort), a lazy find's parked scan, or a change stream's position. Ids are
 * positive int64 values, never reused.
 */
#ifndef MONGOSIM_CURSOR_H
#define MONGOSIM_CURSOR_H

#include <bson/bson.h>
#include <stdint.h>

struct cs;
struct lazy;
struct store;

struct cursor {
    int64_t id;
    int member;    /* the member that created it */
    char ns[260];  /* "db.coll" */
    bson_t **docs; /* owned documents still to return (find/aggregate) */
    size_t n, pos;
    struct cs *cs;       /* owned change-stream state, or NULL */
    struct lazy *lazy;   /* owned lazy find state, or NULL */
    struct store *store; /* borrowed: the data set a lazy find walks (a member's copy while it
                            is cut off), or NULL */
    int64_t last_used;   /* monotonic ms */
    struct cursor *next;
};

struct cursors;

/* Creates an empty table. NULL on OOM. */
struct cursors *cursors_new(void);

/* Frees the table and every cursor in it. Accepts NULL. */
void cursors_free(struct cursors *t);

/* Adds a cursor of member on ns; takes ownership of docs[0..n), cs and lazy (any may be
 * absent). NULL on OOM (then frees them). */
struct cursor *cursors_add(struct cursors *t, int member, const char *ns, bson_t **docs, size_t n,
                           struct cs *cs, struct lazy *lazy, int64_t now);

/* Returns the cursor with id, or NULL. */
struct cursor *cursors_get(struct cursors *t, int64_t id);

/* Closes cursor id. Returns 1 when it existed, else 0. */
int cursors_kill(struct cursors *t, int64_t id);

/* Closes every cursor of member (killed members lose their cursors). */
void cursors_kill_member(struct cursors *t, int member);

/* Closes every lazy find walking data set s (a cut-off member's copy that is going away). */
void cursors_kill_store(struct cursors *t, const struct store *s);

/* Closes cursors unused for idle_ms. Returns how many. */
int cursors_expire(struct cursors *t, int64_t now, int64_t idle_ms);

/* Number of open cursors. */
size_t cursors_count(const struct cursors *t);

#endif
