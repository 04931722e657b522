/*
 * eio — the Socket.IO v5 / Engine.IO v4 packets the hub speaks on /socket.io/, over either
 * transport (websocket, HTTP long-polling). Pure encode/classify functions, no I/O.
 *
 *   server -> client 0{"sid":..,"upgrades":[..],"pingInterval":..,"pingTimeout":..,"maxPayload":..}
 *                     40{"sid":..,"pid":..}          namespace "/" joined (pid: recovery)
 *                     42["event",data,"E:N"]          an event; "E:N" = epoch:offset
 *                     42["_connected",data,"E:N"]     control events carry the position too
 *                     43<id>[...]                     acknowledgement of a client event
 *                     2 / 3probe / 6 / 1              ping, probe answer, noop, close
 *                     44/nsp,{"message":..}           namespace refused
 *   client -> server  40 or 40{auth}, 41, 42[..], 43<id>[..], 3, 2probe, 5, 6, 1
 *                     45<n>-[..] / 46<n>-<id>[..] followed by n attachments (binary frames,
 *                     or "b<base64>" packets): read and dropped, like other client events
 * Only the default namespace "/" is served.
 */
#ifndef RELAYLAB_EIO_H
#define RELAYLAB_EIO_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

/* Attachments one binary packet (45/46) may announce; more is refused. */
#define EIO_ATTACHMENTS_MAX 16

enum eio_packet {
    EIO_INVALID = 0,
    EIO_CLOSE,            /* "1" */
    EIO_PING,             /* "2" (Engine.IO v3 clients ping; we answer "3") */
    EIO_PING_PROBE,       /* "2probe": the first packet on an upgrading websocket */
    EIO_PONG,             /* "3" */
    EIO_UPGRADE,          /* "5": completes an upgrade */
    EIO_NOOP,             /* "6" */
    EIO_SIO_CONNECT,      /* "40" or "40{auth}" on the default namespace */
    EIO_SIO_CONNECT_NSP,  /* "40/other,..." : a namespace we do not serve */
    EIO_SIO_DISCONNECT,   /* "41" */
    EIO_SIO_EVENT,        /* "42[..]" with a valid event array, optionally "42<id>[..]" */
    EIO_SIO_ACK,          /* "43<id>[..]" */
    EIO_SIO_BINARY_EVENT, /* "45<n>-[..]" or "45<n>-<id>[..]": n attachments follow */
    EIO_SIO_BINARY_ACK,   /* "46<n>-<id>[..]" */
    EIO_BINARY,           /* "b<base64>": an attachment sent as text (polling, forceBase64) */
};

/* The parts of a Socket.IO packet that eio_classify() located (pointers into the message). */
struct eio_sio {
    const char *payload; /* CONNECT: the auth object (empty when none); EVENT/ACK: the array */
    size_t plen;
    const char *nsp; /* "/admin" for CONNECT_NSP (no trailing ','); "/" otherwise */
    size_t nsp_len;
    int64_t ack_id;  /* EVENT/ACK: the id after the type, -1 when none */
    int attachments; /* BINARY_EVENT/BINARY_ACK: the attachments announced (<= 9999), else 0 */
};

/*
 * Classifies one complete Engine.IO packet from a client (one websocket message, or one
 * packet of a polling payload). Socket.IO packets are checked as the reference parser
 * does: a known type, an optional namespace and ack id, and a payload that is valid JSON of
 * the right shape (CONNECT: an object; EVENT and BINARY_EVENT: an array starting with a
 * non-reserved name; ACK and BINARY_ACK: an array; DISCONNECT: none), and binary packets
 * announce their attachments ("<n>-"). "b..." must be base64. out may be NULL. Returns
 * EIO_INVALID for anything else. (The attachment limit is the caller's to check.)
 */
enum eio_packet eio_classify(const char *msg, size_t len, struct eio_sio *out);

/*
 * Parses an offset string "EPOCH:N" (what events carry as their last argument). epoch is
 * copied to epoch_out (>= 33 bytes). Returns 0, or -1 when malformed.
 */
int eio_offset_parse(const char *s, size_t len, char *epoch_out, size_t epoch_len, uint64_t *n);

/* 1 when s is a private session id we accept from a client: 1..64 of [A-Za-z0-9_-]. */
int eio_pid_valid(const char *s);

/* Encoders: each returns a new sealed frame (caller unrefs), or NULL when out of memory. */
/* 0{...}; upgrades is 1 for ["websocket"] (polling sessions), 0 for []. */
struct frame *eio_open(const char *sid, int upgrades, long ping_interval_ms, long ping_timeout_ms,
                       size_t max_payload);
/* 40{"sid":..,"pid":..}; pid NULL omits it. */
struct frame *eio_joined(const char *sid, const char *pid);
struct frame *eio_ping(void);
struct frame *eio_pong(void);
struct frame *eio_probe_answer(void); /* "3probe" */
struct frame *eio_noop(void);         /* "6" */
struct frame *eio_close(void);        /* "1" */
/* 44/nsp,{"message":..}: nsp_packet is what followed "40" in the client's packet ("/nsp,..."). */
struct frame *eio_namespace_refused(const char *nsp_packet, size_t len, const char *message);
/*
 * 42["event",data_json,"EPOCH:OFFSET"]. With epoch NULL or "" the offset argument is left
 * out. The frame's offset field is set to offset.
 */
struct frame *eio_event(const char *event, const char *data_json, size_t data_len, uint64_t offset,
                        const char *epoch);
/*
 * A copy of the event frame ev (eio_event with an epoch: 42[..,"EPOCH:N"]) whose offset
 * argument also records the client's rooms: "EPOCH:N~a,b" ("EPOCH:N~" for none). rooms:
 * comma-separated channel names (JSON-safe by their charset). NULL when ev has no offset
 * argument or out of memory.
 */
struct frame *eio_event_rooms(const struct frame *ev, const char *rooms);
/*
 * Splits a recovery offset "EPOCH:N" or "EPOCH:N~rooms" at the '~': *head_len is the length
 * of "EPOCH:N", *rooms and *rooms_len the recorded rooms (NULL when none are recorded).
 * Returns 0, or -1 when the rooms part holds a character no channel name has.
 */
int eio_offset_rooms(const char *s, size_t len, size_t *head_len, const char **rooms,
                     size_t *rooms_len);
/* 43<id>[args...]: args_json is a JSON array. */
struct frame *eio_ack(int64_t id, const char *args_json, size_t args_len);

#endif
