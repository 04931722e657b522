/*
 * checker — the Jepsen-style checker over a loadgen history (JSON lines, see docs/loadgen.md).
 *
 * Records are fed one line at a time (in file order; only the records of one client need to
 * be in order among themselves, which holds because a client lives on one thread). Nothing
 * is judged until lg_check_finish(), because the history of different threads interleaves.
 *
 * Definitions (the same words as the JSON report):
 * - a connected interval of a client runs from its `connect` record to its next
 *   `disconnect` (or to the end of the history); a `recovery` with recovered=true merges
 *   the current interval with the previous one, as if the client had never left;
 * - a client is entitled to a request when the request was acknowledged (`ok`) and, for one
 *   of its intervals, from <= invoke time and ack time <= until, and the request went to the
 *   broadcast channel or to a channel the client joined on that interval's `connect`;
 * - lost = entitled but never received by that client; duplicated = every copy after the
 *   first of one req_id at one client; out_of_order = a (non-duplicate) frame whose offset is
 *   below the highest offset that client already received in the same epoch; unexpected =
 *   a frame whose req_id was never invoked (or that has no req_id);
 * - event latency = receive time of the first copy - the request's invoke (scheduled) time;
 * - gap_lost = acknowledged products created during a client's session (first connect to last
 *   disconnect) that it neither was entitled to nor received: what reconnect gaps took away;
 *   undelivered = acknowledged products no client received at all;
 * - with `verify` records (loadgen run --verify-path): committed_unknown = requests of unknown
 *   outcome whose product exists; unannounced = existing products that no client received
 *   although some client was connected throughout the request.
 *
 * Several histories (the shards of one run, each from its own loadgen process) are judged as
 * one: feed them with lg_check_files(). Each shard's client ids are renumbered after the
 * previous shards'. Each shard measures time on its own monotonic clock; when every shard's
 * `start` record carries `wall_us` (its wall clock at t = 0) the shards are put on one
 * timeline and a client may be owed a request of another shard, with a guard band (the skew
 * margin) on both sides of each connected interval. Without wall_us a client is only owed
 * the requests of its own shard, which it measured on its own clock.
 */
#ifndef LOADGEN_CHECKER_H
#define LOADGEN_CHECKER_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"

#define LG_MAX_LISTED 1000 /* anomalies listed by name in the report, per kind */
#define LG_REQ_ID_MAX 64
#define LG_NO_CLIENT UINT32_MAX
#define LG_DEFAULT_SKEW_MARGIN_US 50000LL

struct lg_anomaly {
    uint32_t client;
    char req_id[LG_REQ_ID_MAX];
    long long offset; /* -1 when unknown */
};

struct lg_anomaly_list {
    struct lg_anomaly *items; /* up to LG_MAX_LISTED */
    size_t n;
    uint64_t total;
};

struct lg_client_stats {
    uint32_t id;
    char src[48];
    uint64_t entitled, received, lost, duplicated, out_of_order, unexpected, frames, gap_lost;
    uint64_t connects, failed, drops;
};

struct lg_pod_count {
    char *name;
    uint64_t count;
};

struct lg_close_count {
    int code;
    uint64_t count;
};

struct lg_result {
    uint64_t clients;
    uint64_t req_sent, req_ok, req_failed, req_unknown;
    /* Verification (verify records): unknown requests whose product exists / that exist for
     * certain not / that got no definite answer; acknowledged requests found missing. */
    int has_verify; /* 0 when unknown requests exist but nothing verified them: null */
    uint64_t req_committed_unknown, req_uncommitted_unknown, req_unverified, req_acked_missing;
    uint64_t ev_expected, ev_received, ev_lost, ev_duplicated, ev_out_of_order, ev_unexpected;
    uint64_t ev_gap_lost;    /* see the definitions above; missed = lost + gap_lost */
    uint64_t ev_undelivered; /* acknowledged products no client received */
    uint64_t ev_unannounced; /* valid when has_verify */
    /* Stored products of unknown outcome (verified to exist) owed to a client: connected from
     * the request until the product's first copy reached any client; and of those, the ones
     * it never received. Valid when has_verify. */
    uint64_t ev_unknown_expected, ev_unknown_lost;
    uint64_t ev_frames;        /* every data frame received, copies included */
    uint64_t ev_unentitled;    /* distinct events received that the client was not entitled to */
    uint64_t ev_wrong_channel; /* of those, events of a channel the client never joined */
    int has_delivery_ratio;    /* 0 when nothing was expected: the ratio is null, not 1 */
    double delivery_ratio;
    int has_client_delivery;
    double client_delivery_min, client_delivery_mean, client_delivery_max;
    struct hist *latency;     /* event latency in microseconds; owned */
    struct hist *req_latency; /* ack time - invoke time in microseconds; owned */
    struct lg_pod_count *pods;
    size_t npods;
    int has_pod_share;
    double pod_share_max;
    uint64_t conn_opened, conn_failed, conn_dropped, conn_recovered, conn_recovery_failed;
    struct lg_close_count *close_codes;
    size_t nclose_codes;
    struct lg_anomaly_list lost, duplicated, out_of_order, unexpected;
    struct lg_anomaly_list unannounced; /* client is LG_NO_CLIENT */
    struct lg_anomaly_list unknown_lost;
    /* Socket.IO clients: Engine.IO handshakes that failed, HTTP errors of polls and posts
     * (of which "Session ID unknown", Engine.IO code 1), websocket upgrades done / failed. */
    uint64_t sio_handshake_failed, sio_transport_errors, sio_unknown_sid, sio_upgraded,
        sio_upgrade_failed;
    struct lg_client_stats *per_client; /* clients entries, by id */
    size_t nper_client;
    uint64_t history_lines, history_malformed;
    long long duration_us; /* last t in the history (from the earliest shard's start) */
    uint32_t shards;       /* histories judged together */
    int aligned;           /* the shards shared one timeline (wall_us in every start) */
    long long skew_margin_us;
};

struct lg_check;

/* Returns an empty checker, or NULL when out of memory. Caller frees with lg_check_free. */
struct lg_check *lg_check_new(void);
void lg_check_free(struct lg_check *c); /* accepts NULL */

/*
 * Feeds one history line (without the newline; blank lines are ignored). A malformed line is
 * counted in history_malformed and skipped. Returns 0, or -1 when out of memory.
 */
int lg_check_line(struct lg_check *c, const char *line, size_t len)
    __attribute__((warn_unused_result));

/* Feeds every line of the file at path. Returns 0, or -1 with a message in err. */
int lg_check_file(struct lg_check *c, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Starts the next shard: lines fed from now on come from another loadgen process (its own
 * client ids and clock). The first history needs no call.
 */
void lg_check_next_shard(struct lg_check *c);

/* Feeds n histories as the shards of one run. Returns 0, or -1 with a message in err. */
int lg_check_files(struct lg_check *c, const char *const *paths, size_t n, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The guard band for entitlement across aligned shards (default 50 ms). */
void lg_check_set_skew_margin(struct lg_check *c, long long us);

/* Judges everything fed so far. Returns the result (caller frees), or NULL when out of memory. */
struct lg_result *lg_check_finish(struct lg_check *c);
void lg_result_free(struct lg_result *r); /* accepts NULL */

#endif
