/*
 * history — the bounded ring of recent events that makes replay after reconnect possible.
 *
 * Offsets start at 1 and grow by one per event. The ring keeps the newest `capacity` frames;
 * older ones are released. history_plan() decides what a client that reconnects with
 * (since, epoch) gets. Not thread-safe: the hub serialises access.
 *
 * Epochs and lineage: an epoch names one sequencer's run of offsets. A relay that takes over
 * sequencing (failover) continues the offsets under a new epoch, and the history keeps the
 * lineage — which epoch owned which offsets: [(E1, from 1), (E2, from 501), ...]. A client
 * that last saw (E1, 480) is on the lineage and can be replayed; one that saw (E1, 520) saw
 * offsets that the surviving history gave to other events (a diverged branch), and is told.
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

#define HISTORY_LINEAGE_MAX 16

struct history_epoch_span {
    char epoch[33];
    uint64_t first; /* first offset sequenced under this epoch */
};

/* The current epoch: the one new events are appended under. */
const char *history_epoch(const struct history *h);
/* Copies up to max lineage entries, oldest first. Returns how many. */
size_t history_lineage(const struct history *h, struct history_epoch_span *out, size_t max);
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

/* Continues the offsets under a new epoch (a new sequencer took over). */
void history_begin_epoch(struct history *h, const char *epoch);

/*
 * Drops every frame and adopts another history's lineage (a follower resyncing with its
 * leader): the next append must carry offset `next`. n >= 1 entries, oldest first.
 */
void history_adopt(struct history *h, const struct history_epoch_span *lineage, size_t n,
                   uint64_t next);

/*
 * Appends a frame sequenced elsewhere (a follower mirroring its leader) under `epoch`; its
 * offset must be history_next_offset(). A new epoch extends the lineage. Takes ownership of f.
 */
void history_append_mirrored(struct history *h, struct frame *f, const char *epoch);

enum history_plan_result {
    HISTORY_RECOVERED = 0,      /* *from = since + 1: replay from there, nothing missed */
    HISTORY_EPOCH_CHANGED,      /* the client's epoch is not ours: its offsets mean nothing here */
    HISTORY_TRUNCATED,          /* events since+1 .. first-1 are gone */
    HISTORY_AHEAD,              /* since is beyond the newest offset: not ours */
    HISTORY_DIVERGED,           /* the client saw offsets of an epoch past where our lineage left it */
};

/*
 * Decides the replay for a client that last saw `since` in `epoch`. On HISTORY_RECOVERED
 * *from is since + 1; otherwise *from is last + 1 (live events only).
 */
enum history_plan_result history_plan(const struct history *h, const char *epoch, uint64_t since,
                                      uint64_t *from);
const char *history_plan_name(enum history_plan_result r);

#endif
