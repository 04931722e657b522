/*
 * sio — the client side of Engine.IO v4 / Socket.IO v5 framing, as loadgen speaks it.
 * Pure functions (no I/O): reading the open packet, splitting a long-polling payload,
 * reading CONNECT answers and error bodies, writing the CONNECT auth and request paths.
 *
 *   Engine.IO packet   <type digit>[data]: 0 open, 1 close, 2 ping, 3 pong, 4 message,
 *                      5 upgrade, 6 noop; a polling payload joins packets with 0x1e
 *   Socket.IO packet   inside an Engine.IO message: 0 CONNECT, 1 DISCONNECT, 2 EVENT,
 *                      3 ACK, 4 CONNECT_ERROR (5/6 binary: not read)
 */
#ifndef LOADGEN_SIO_H
#define LOADGEN_SIO_H

#include <stddef.h>

#define SIO_SID_MAX 64    /* session and recovery ids are 20 characters in socket.io */
#define SIO_OFFSET_MAX 96 /* a recovery offset: "<epoch>:<offset>" or socket.io's own */

/* The handshake data of an open packet ("0{...}"). */
struct sio_open {
    char sid[SIO_SID_MAX];
    int can_websocket; /* "websocket" is among upgrades */
    long ping_interval_ms, ping_timeout_ms;
    long long max_payload; /* 0 when absent */
};

/*
 * Reads the JSON of an open packet (after the '0'). Returns 0, or -1 with err when it is not
 * an object, lacks a sid (1..63 printable characters) or has bad numbers. Missing intervals
 * default to Socket.IO's 25000 / 20000 ms.
 */
int sio_parse_open(const char *json, size_t len, struct sio_open *o, char *err, size_t errlen);

/*
 * Reads a CONNECT answer's JSON ({"sid":..,"pid":..}): copies sid and pid (empty when absent).
 * Returns 0, or -1 when it is not an object or sid is missing or too long.
 */
int sio_parse_connect(const char *json, size_t len, char sid[SIO_SID_MAX], char pid[SIO_SID_MAX]);

/*
 * Reads an error body: Engine.IO's {"code":1,"message":"Session ID unknown"} or a
 * CONNECT_ERROR's {"message":..,"data":..}. *code is -1 when absent; msg gets the message
 * (or the start of the body when it is not JSON). Never fails.
 */
void sio_parse_error(const char *body, size_t len, int *code, char *msg, size_t cap);

/*
 * The next packet of a long-polling payload: *p advances past it (and its separator).
 * Returns 1 with the packet, 0 at the end.
 */
int sio_payload_next(const char **p, const char *end, const char **pkt, size_t *len);

/*
 * Writes the CONNECT packet "40" or "40{auth}" into buf: "channels":[channel] when channel
 * is not empty; "pid" and "offset" when pid is not empty (connection state recovery);
 * otherwise "since" and "epoch" when since >= 0 (the relay's own resume). Strings are JSON
 * escaped. Returns the length, or -1 when it does not fit cap.
 */
long sio_connect_packet(char *buf, size_t cap, const char *channel, const char *pid,
                        const char *offset, long long since, const char *epoch);

/*
 * Writes an Engine.IO request path: base ("/socket.io/"), then
 * "?EIO=4&transport=T[&sid=S]&t=TOKEN". Returns the length, or -1 when it does not fit.
 */
long sio_path(char *buf, size_t cap, const char *base, const char *transport, const char *sid,
              unsigned long long token);

#endif
