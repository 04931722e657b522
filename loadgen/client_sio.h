/*
 * client_sio.h — one Socket.IO client session's state, shared by client_sio.c (the session,
 * its packets, the websocket transport and the upgrade) and client_sio_poll.c (the HTTP
 * long-polling transport). Private to loadgen; runs on the client's thread only.
 */
#ifndef LOADGEN_CLIENT_SIO_H
#define LOADGEN_CLIENT_SIO_H

#include <time.h>

#include "clients_impl.h"
#include "cookies.h"
#include "sio.h"

struct hc_conn;

#define CONNECT_TIMEOUT_US 10000000LL /* handshake + CONNECT answer */
#define PROBE_TIMEOUT_US 10000000LL

enum phase { SP_IDLE = 0, SP_OPENING, SP_JOINING, SP_JOINED };
enum transport { TR_POLLING = 0, TR_WEBSOCKET };
enum probe { PR_NONE = 0, PR_CONNECTING, PR_SENT, PR_PAUSING, PR_DONE, PR_FAILED };

struct lg_sio {
    struct lg_client *c;
    struct lg_thread *t;
    enum phase phase;
    enum transport transport;
    enum probe probe;
    struct sio_open open;
    char pid[SIO_SID_MAX];      /* from the last CONNECT answer: resume with it */
    char sent_pid[SIO_SID_MAX]; /* the pid this connection asked to resume */
    char offset[SIO_OFFSET_MAX];
    long long deadline_us, last_rx_us, probe_at_us, post_at_us;
    struct hc_conn *get, *post;
    char *outq; /* packets waiting for a POST (or for the upgrade), 0x1e-separated */
    size_t outq_len, outq_cap;
    char *early; /* events that came before the CONNECT answer (a recovery replays them
                    first), handled after it as socket.io-client does; 0x1e-separated */
    size_t early_len, early_cap;
    struct wsc *ws;
    struct ck_jar jar;
};

static inline const struct lg_config *sio_cfg(struct lg_sio *s)
{
    return s->t->owner->cfg;
}

/* Cookies expire on the wall clock. */
static inline long long sio_wall_s(void)
{
    return (long long)time(NULL);
}

/* The session is over: transports closed, records written, the reconnect scheduled. */
void sio_session_end(struct lg_sio *s, int code, const char *reason, long long now);
/* Queues one Engine.IO packet on the transport in use. Returns 0, or -1 (session ended). */
int sio_send_packet(struct lg_sio *s, const char *pkt, size_t len);
/* Sends the Socket.IO CONNECT (auth: channel, pid/offset or since/epoch). */
void sio_send_connect(struct lg_sio *s);
/* Handles a long-polling payload (0x1e-separated packets). Returns -1 when the session ended. */
int sio_on_payload(struct lg_sio *s, const char *body, size_t len, long long now);
/* Opens the websocket probe of the upgrade. */
void sio_start_probe(struct lg_sio *s, long long now);
/* Switches to the websocket once the probe answered and no poll or post is in flight. */
void sio_finish_upgrade(struct lg_sio *s, long long now);

/* client_sio_poll.c: the long-polling transport. */
/* Starts the Engine.IO handshake (GET ...&transport=polling). */
void sio_poll_handshake(struct lg_sio *s);
/* Keeps one GET poll in flight while polling is the transport. */
void sio_poll_next(struct lg_sio *s);
/* POSTs what is queued, one POST at a time. */
void sio_flush_out(struct lg_sio *s);
/* A transport_error record: an HTTP error (status, Engine.IO code, message) or a failure. */
void sio_rec_transport_error(struct lg_sio *s, const char *method, int status, const char *body,
                             size_t blen, const char *error, long long now);

#endif
