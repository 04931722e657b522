/* checker_impl.h — the checker's state, shared by checker.c (ingest), checker_judge.c
 * (entitlement, per client) and checker_products.c (per product). Private.
 */
#ifndef LOADGEN_CHECKER_IMPL_H
#define LOADGEN_CHECKER_IMPL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "checker.h"
#include "strtab.h"

#define MAX_CLIENT_ID (1u << 24)
#define T_OPEN LLONG_MIN /* interval still open (times may be negative once shards are aligned) */

enum outcome { OUT_NONE = 0, OUT_OK, OUT_FAIL, OUT_INFO };
/* What a `verify` record said about a request's product. */
enum verified { VER_NONE = 0, VER_EXISTS, VER_ABSENT, VER_ERROR };

struct req {
    long long invoke_t, ack_t; /* ack_t: time of the first outcome record, whatever it was */
    uint8_t invoked, outcome, verified, seen_any; /* seen_any: some client received a copy */
    uint16_t shard;                               /* the history the invoke came from */
    uint32_t pod1;    /* pod index + 1 from the ok record, 0 when unknown */
    uint32_t chan1;   /* channel index + 1 from the invoke record, 0 = broadcast */
    uint32_t stamp;   /* client id + 1 of the client being judged that received it */
    uint32_t mark;    /* client id + 1 of the client being judged that was entitled to it */
    long long seen_t; /* the first copy's arrival at any client, on the request's clock; or
                       * LLONG_MAX (none, or only on clocks it cannot be compared with) */
};

struct frame_rec {
    long long t, offset;
    uint32_t req, epoch;
};

struct interval {
    long long from, until;
    uint32_t chan_off, chan_n; /* the channels joined: client->chans[chan_off .. +chan_n) */
};

struct client {
    int seen;
    uint16_t shard;
    char src[48];
    struct frame_rec *frames;
    size_t nframes, capframes;
    struct interval *iv;
    size_t niv, capiv;
    uint32_t *chans; /* channel indexes, per interval (see struct interval) */
    size_t nchans, capchans;
    uint64_t connects, failed, drops;
};

struct lg_check {
    struct strtab *req_ids, *epochs, *pods, *channels;
    struct req *reqs;
    size_t capreqs;
    struct client *clients;
    size_t nclients; /* slots allocated; a slot is a client when seen */
    uint64_t declared_clients;
    uint64_t recovered, recovery_failed, opened;
    uint64_t sio_handshake_failed, sio_transport_errors, sio_unknown_sid, sio_upgraded,
        sio_upgrade_failed;
    struct lg_close_count *codes;
    size_t ncodes, capcodes;
    long long first_t, last_t;
    int has_t;
    uint64_t lines, malformed;
    uint64_t verify_records;
    /* Shards: histories of several loadgen processes judged as one run. */
    uint16_t shard;           /* index of the history being fed */
    uint32_t client_base;     /* global id of the current shard's client 0 */
    uint32_t next_base;       /* first global id after every client seen so far */
    long long t_offset;       /* added to every t of the current shard */
    int shard_has_wall;       /* the current shard's start record carried wall_us */
    int aligned;              /* every shard so far had wall_us: one timeline */
    int has_ref_wall;         /* ref_wall holds shard 0's wall clock at its t = 0 */
    long long ref_wall;       /* microseconds since the epoch */
    long long skew_margin_us; /* guard band for entitlement across shards */
    long long *shard_last;    /* last t of each shard (an open interval ends there) */
    size_t capshards;
};

/* The last t of a shard's history: where its clients' open intervals end. */
long long lg_shard_end(const struct lg_check *c, uint16_t shard);

/* 1 when client cl may be judged against request q at all, with the window [from, until]
 * narrowed by the skew margin when they come from different shards. */
int lg_window(const struct lg_check *c, const struct client *cl, const struct req *q,
              long long *from, long long *until);

/* The interval of client cl (its index + 1) that covers q's invoke through until, within
 * lg_window; 0 when none does. Intervals do not overlap: at most one can. */
size_t lg_covering_interval(const struct lg_check *c, const struct client *cl, const struct req *q,
                            long long until);

/* Counts an anomaly and names it while fewer than LG_MAX_LISTED are named. */
void lg_list_add(struct lg_anomaly_list *l, const struct lg_check *c, uint32_t client, uint32_t req,
                 long long offset);

/* Per-product judgement (undelivered, unannounced, verification). Returns 0 or -1 (memory). */
int lg_judge_products(struct lg_check *c, struct lg_result *res);

#endif
