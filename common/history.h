/*
 * history — the bounded ring of recent events that makes replay after reconnect possible.
 *
 * Offsets grow by one per event within an epoch (an epoch names one offset space). The ring
 * keeps the frames of the newest `capacity` offsets; older ones are released. An in-memory
 * relay sequences events itself and starts at offset 1 under a random epoch. A relay over
 * MongoDB appends what the shared stream sequenced, starting wherever the stream is, so the
 * ring can start at any offset, and it tolerates a missing offset (a gap is never filled
 * later: appends only move forward). history_plan() decides what a client that reconnects
 * with (since, epoch) gets. Not thread-safe: the hub serialises access.
 */
#ifndef RELAYLAB_HISTORY_H
#define RELAYLAB_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct history;

/*
 * capacity >= 1; the first append will carry offset `next` (>= 1). Returns NULL when out of
 * memory. Caller frees with history_free.
 */
struct history *history_new(size_t capacity, const char *epoch, uint64_t next);
void history_free(struct history *h); /* accepts NULL; drops every frame reference */

/* The epoch every held offset belongs to. */
const char *history_epoch(const struct history *h);
/* Offset the next event will get (history_append) or must exceed - 1 (history_append_at). */
uint64_t history_next_offset(const struct history *h);
/* Offset of the newest event (next - 1) and of the oldest one the ring still covers. */
uint64_t history_last(const struct history *h);
uint64_t history_first(const struct history *h); /* == last + 1 when empty */

/* Takes ownership of f and gives it offset history_next_offset(). Evicts the oldest when full. */
void history_append(struct history *h, struct frame *f);

/*
 * Takes ownership of f, whose offset (>= next) was sequenced elsewhere. Offsets skipped
 * between next and f->offset stay empty for good. Returns 0, or -1 (f released) when
 * f->offset is below next.
 */
int history_append_at(struct history *h, struct frame *f);

/* Returns a new reference to the frame at offset (caller unrefs), or NULL when not held. */
struct frame *history_get(const struct history *h, uint64_t offset);

/* Drops every frame and restarts under epoch at offset next (the stream was replaced). */
void history_reset(struct history *h, const char *epoch, uint64_t next);

enum history_plan_result {
    HISTORY_RECOVERED = 0, /* *from = since + 1: replay from there, nothing missed */
    HISTORY_EPOCH_CHANGED, /* the client's epoch is not ours: its offsets mean nothing here */
    HISTORY_TRUNCATED,     /* events since+1 .. first-1 are not in the ring */
    HISTORY_AHEAD,         /* since is beyond the newest offset held */
};

/*
 * Decides the replay for a client that last saw `since` in `epoch`. On HISTORY_RECOVERED
 * *from is since + 1; otherwise *from is last + 1 (live events only).
 */
enum history_plan_result history_plan(const struct history *h, const char *epoch, uint64_t since,
                                      uint64_t *from);
const char *history_plan_name(enum history_plan_result r);

#endif
