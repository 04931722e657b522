/*
 * eio — the Socket.IO v4 / Engine.IO v4 framing the hub speaks on /socket.io/ to clients
 * that ask for it (?EIO=4&transport=websocket, as socket.io-client with
 * transports: ["websocket"] does). Pure encode/classify functions, no I/O.
 *
 *   server -> client  0{"sid":..,"upgrades":[],"pingInterval":..,"pingTimeout":..,"maxPayload":..}
 *                     40{"sid":..}                 namespace "/" joined
 *                     42["event",data,meta]         an event; meta = {"offset":N,"epoch":"E"}
 *                     2                             heartbeat ping (client answers 3)
 *                     44{"message":..}              namespace refused
 *   client -> server  40 or 40{auth}, 3, 41, 42[...], 1
 * Only the default namespace "/" is served.
 */
#ifndef RELAYLAB_EIO_H
#define RELAYLAB_EIO_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

enum eio_packet {
    EIO_INVALID = 0,
    EIO_CLOSE,          /* "1" */
    EIO_PING,           /* "2" (Engine.IO v3 clients ping; we answer "3") */
    EIO_PONG,           /* "3" */
    EIO_NOOP,           /* "6" */
    EIO_SIO_CONNECT,    /* "40" or "40{auth}" on the default namespace */
    EIO_SIO_CONNECT_NSP,/* "40/other,..." : a namespace we do not serve */
    EIO_SIO_DISCONNECT, /* "41" */
    EIO_SIO_EVENT,      /* "42..." or "43..." (ack): from the client, ignored */
};

/*
 * Classifies one complete text message from a client. For EIO_SIO_CONNECT, *payload and
 * *plen point at the auth JSON after "40" (empty when none).
 */
enum eio_packet eio_classify(const char *msg, size_t len, const char **payload, size_t *plen);

/* Encoders: each returns a new sealed frame (caller unrefs), or NULL when out of memory. */
struct frame *eio_open(const char *sid, long ping_interval_ms, long ping_timeout_ms,
                       size_t max_payload);
struct frame *eio_joined(const char *sid);
struct frame *eio_ping(void);
struct frame *eio_pong(void);
/* 44/nsp,{"message":..}: nsp_packet is what followed "40" in the client's packet ("/nsp,..."). */
struct frame *eio_namespace_refused(const char *nsp_packet, size_t len, const char *message);
/* 42["event",data_json,{"offset":N,"epoch":"E"}]; offset 0 omits the meta argument. */
struct frame *eio_event(const char *event, const char *data_json, size_t data_len, uint64_t offset,
                        const char *epoch);

#endif
