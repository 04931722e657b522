/*
 * repl — replica-set membership and elections: which member is primary, the term, each
 * member's topologyVersion, and the faults chaos scripts inject (kill, restart, pause,
 * resume, partition, heal, latency, step-down, freeze). Only state lives here; server.c acts
 * on it.
 */
#ifndef MONGOSIM_REPL_H
#define MONGOSIM_REPL_H

#include <bson/bson.h>
#include <stdint.h>

#include "config.h"

struct member {
    char host[256]; /* "host:port" as advertised */
    int port;
    int up;               /* listening (not killed) */
    int paused;           /* accepts but never answers */
    int partitioned;      /* cut off from every other member (clients still reach it) */
    long latency_ms;      /* added to every reply */
    int64_t frozen_until; /* monotonic ms; may not be elected before */
    bson_oid_t process_id;
    int64_t tv_counter; /* topologyVersion.counter */
};

struct repl {
    int n;
    struct member m[MONGOSIM_MAX_MEMBERS];
    int primary; /* index, or -1 */
    int64_t term;
    int64_t election_at; /* monotonic ms of the next election attempt, 0 when none due */
    long election_timeout_ms;
    int last_primary;
    /* A primary cut off from the others (mongosimPartition) that does not know it yet: it
     * goes on as primary of its old term until stale_until, as mongod's steps down one
     * electionTimeoutMillis after it last heard a majority. -1 when there is none. */
    int stale;
    int64_t stale_term;
    int64_t stale_until; /* monotonic ms */
    long stale_primary_ms;
    int *changed; /* set to 1 on every topology change (the msim wake-up flag) */
};

/* Initialises r from cfg with member 0 as primary in term 1. changed is borrowed. */
void repl_init(struct repl *r, const struct mongosim_config *cfg, int *changed);

/* Steps the primary down; it may not be re-elected for secs. Returns 0, or -1 when idx is not
 * primary. */
int repl_step_down(struct repl *r, int idx, long secs, int64_t now);

/* Kills, restarts, pauses or resumes member idx. Each returns 0, or -1 when it is already so. */
int repl_kill(struct repl *r, int idx, int64_t now);
int repl_restart(struct repl *r, int idx, int64_t now);
int repl_pause(struct repl *r, int idx, int64_t now);
int repl_resume(struct repl *r, int idx, int64_t now);

/* Cuts member idx off from every other member: it no longer counts toward anyone's
 * majority and it cannot be elected until repl_heal. A partitioned primary stays primary
 * of its term for stale_primary_ms (repl_tick steps it down then; at once when 0) while
 * the others elect a new one; repl_heal steps it down when it is still primary. Its
 * clients are not touched; what it replicates is msim_cut/msim_rejoin's part. Each returns
 * 0, or -1 when it is already so. */
int repl_partition(struct repl *r, int idx, int64_t now);
int repl_heal(struct repl *r, int idx, int64_t now);

/* Is member idx primary: the elected one, or a partitioned one that has not stepped down? */
int repl_is_primary(const struct repl *r, int idx);

/* The term member idx is primary in (the stale primary's is older), else the current one. */
int64_t repl_term_of(const struct repl *r, int idx);

/* Does member idx see member other (itself, or both on the connected side)? */
int repl_sees(const struct repl *r, int idx, int other);

/* Freezes member idx for secs (0 unfreezes). */
void repl_freeze(struct repl *r, int idx, long secs, int64_t now);

/* Runs a due election and a due step-down of a stale primary. Returns the monotonic ms of
 * the next timer, or 0 when none. */
int64_t repl_tick(struct repl *r, int64_t now);

/* Finds a member by "host:port". Returns its index or -1. */
int repl_find_host(const struct repl *r, const char *host);

/* Appends the electionId of the term member idx is primary in to b under key. */
void repl_append_election_id(const struct repl *r, int idx, bson_t *b, const char *key);

/* Marks a topology change: every member's topologyVersion counter grows, waiters wake. */
void repl_bump(struct repl *r);

#endif
