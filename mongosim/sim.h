/*
 * sim — the shared state of one mongosim process: configuration, data set, replica-set
 * state, cursors and sessions. Every command handler receives a struct msim; only the
 * event loop (server.c) owns sockets.
 */
#ifndef MONGOSIM_SIM_H
#define MONGOSIM_SIM_H

#include <stdint.h>
#include <time.h>

#include "config.h"

struct mongosim_config;
struct store;
struct repl;
struct cursors;
struct sessions;
struct rollbacks;

/* The rolled-back writes kept for mongosimRollbacks (and logged per cut-off member): the
 * newest this many, and about this many bytes of them. */
#define MSIM_ROLLBACK_OPS 10000
#define MSIM_ROLLBACK_BYTES (8u * 1024 * 1024)

struct msim {
    const struct mongosim_config *cfg; /* borrowed */
    struct store *store;
    struct repl *repl;
    struct cursors *cursors;
    struct sessions *sessions;
    struct rollbacks *rollbacks;
    int changed; /* data or topology changed since the loop last woke its waiters */
    /* What a member cut off from the others (mongosimPartition) still has: a copy of the data
     * set and of the retryable-write memory as of the cut (a stale primary writes to these
     * alone), and the last oplog entry it had then. NULL/0 for a connected member. */
    struct msim_cut {
        struct store *data;
        struct sessions *sessions;
        uint64_t seq;
        uint32_t ts_t, ts_i;
        int64_t wall_ms;
    } cut[MONGOSIM_MAX_MEMBERS];
};

/* Monotonic milliseconds. */
static inline int64_t msim_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wall-clock milliseconds since the epoch (for BSON dates). */
static inline int64_t msim_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Creates the whole simulated state for cfg (which must outlive it). Returns NULL with a
 * message in err on failure. Free with msim_free.
 */
struct msim *msim_new(const struct mongosim_config *cfg, char *err, size_t errlen);

/*
 * Cuts member off from replication: from now on it reads (and, while it is a stale primary,
 * writes) a copy of the data set and of the retryable-write memory as they are now, and its
 * change streams stop at the current oplog entry. Returns 0, or -1 on OOM.
 */
int msim_cut(struct msim *sim, int member) __attribute__((warn_unused_result));

/*
 * Replication reaches member again: it catches up at once (the copy goes; the cursors that
 * read it are closed), and its change streams go on from where they stopped. What it wrote
 * while cut off (a stale primary's writes) is rolled back: recorded in sim->rollbacks and
 * logged, and its retryable-write memory of them forgotten.
 */
void msim_rejoin(struct msim *sim, int member);

/* The data set member reads: its copy while cut off, else the shared one. */
struct store *msim_store(const struct msim *sim, int member);

/* The retryable-write memory member uses: its copy's while cut off, else the shared one. */
struct sessions *msim_sessions(const struct msim *sim, int member);

/* The last oplog entry member has (its change streams read no further). */
uint64_t msim_last_seq(const struct msim *sim, int member);

/* The Timestamp and wall-clock ms of member's last write. */
void msim_last_ts(const struct msim *sim, int member, uint32_t *t, uint32_t *i, int64_t *wall);

/* Frees everything msim_new created. Accepts NULL. */
void msim_free(struct msim *sim);

#endif
