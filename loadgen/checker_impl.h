/* checker_impl.h — the checker's state, shared by checker.c (ingest) and checker_judge.c. Private.
 */
#ifndef LOADGEN_CHECKER_IMPL_H
#define LOADGEN_CHECKER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "checker.h"
#include "strtab.h"

#define MAX_CLIENT_ID (1u << 24)
#define T_OPEN (-1LL) /* interval still open */

enum outcome { OUT_NONE = 0, OUT_OK, OUT_FAIL, OUT_INFO };

struct req {
    long long invoke_t, ack_t;
    uint8_t invoked, outcome;
    uint32_t pod1;  /* pod index + 1 from the ok record, 0 when unknown */
    uint32_t chan1; /* channel index + 1 from the invoke record, 0 = broadcast */
    uint32_t stamp; /* client id + 1 of the client being judged that received it */
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
    long long last_t;
    uint64_t lines, malformed;
};

#endif
