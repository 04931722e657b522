/*
 * history — the bounded ring of recent events that makes replay after reconnect possible.
 *
 * Offsets start at 1 and grow by one per event within an epoch. The ring keeps the newest
 * `capacity` frames; older ones are released. history_plan() decides what a client that
 * reconnects with (since, epoch) gets. Not thread-safe: the hub serialises access.
 */
#ifndef RELAYLAB_HISTORY_H
#define RELAYLAB_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct history;

/* capacity >= 1. Returns NULL when out of memory. Caller frees with history_free. */
struct history *history_new(size_t capacity, const char *epoch);
void history_free(struct history *h); /* accepts NULL; drops every frame reference */

const char *history_epoch(const struct history *h);
/* Offset the next appended event will get. */
uint64_t history_next_offset(const struct history *h);
/* Offset of the newest event (0 when none yet) and of the oldest one still held. */
uint64_t history_last(const struct history *h);
uint64_t history_first(const struct history *h); /* == last + 1 when empty */

/* Takes ownership of f, whose offset must be history_next_offset(). Evicts the oldest when full. */
void history_append(struct history *h, struct frame *f);

/* Returns a new reference to the frame at offset (caller unrefs), or NULL when not held. */
struct frame *history_get(const struct history *h, uint64_t offset);

/* Drops every frame and starts a new epoch whose offsets restart at 1 (history was lost). */
void history_reset(struct history *h, const char *epoch);

enum history_plan_result {
    HISTORY_RECOVERED = 0,      /* *from = since + 1: replay from there, nothing missed */
    HISTORY_EPOCH_CHANGED,      /* the client's epoch is not ours: its offsets mean nothing here */
    HISTORY_TRUNCATED,          /* events since+1 .. first-1 are gone */
    HISTORY_AHEAD,              /* since is beyond the newest offset: not ours */
};

/*
 * Decides the replay for a client that last saw `since` in `epoch`. On HISTORY_RECOVERED
 * *from is since + 1; otherwise *from is last + 1 (live events only).
 */
enum history_plan_result history_plan(const struct history *h, const char *epoch, uint64_t since,
                                      uint64_t *from);
const char *history_plan_name(enum history_plan_result r);

#endif
