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
 * - event latency = receive time of the first copy - the request's invoke (scheduled) time.
 */
#ifndef LOADGEN_CHECKER_H
#define LOADGEN_CHECKER_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"

#define LG_MAX_LISTED 1000 /* anomalies listed by name in the report, per kind */
#define LG_REQ_ID_MAX 64

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
    uint64_t entitled, received, lost, duplicated, out_of_order, unexpected, frames;
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
    uint64_t ev_expected, ev_received, ev_lost, ev_duplicated, ev_out_of_order, ev_unexpected;
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
    /* Socket.IO clients: Engine.IO handshakes that failed, HTTP errors of polls and posts
     * (of which "Session ID unknown", Engine.IO code 1), websocket upgrades done / failed. */
    uint64_t sio_handshake_failed, sio_transport_errors, sio_unknown_sid, sio_upgraded,
        sio_upgrade_failed;
    struct lg_client_stats *per_client; /* clients entries, by id */
    size_t nper_client;
    uint64_t history_lines, history_malformed;
    long long duration_us; /* last t in the history */
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

/* Judges everything fed so far. Returns the result (caller frees), or NULL when out of memory. */
struct lg_result *lg_check_finish(struct lg_check *c);
void lg_result_free(struct lg_result *r); /* accepts NULL */

#endif
