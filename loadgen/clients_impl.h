/*
 * clients_impl.h — the client threads' state, shared by clients.c (threads, scheduling, the
 * history records every protocol writes, the plain protocol) and client_sio.c (Socket.IO).
 * Private to loadgen. Everything here runs on the client's own thread.
 */
#ifndef LOADGEN_CLIENTS_IMPL_H
#define LOADGEN_CLIENTS_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "clients.h"
#include "frames.h"
#include "hlog.h"

struct wsc;
struct wsc_pool;
struct hc_ctx;
struct lg_sio;

enum cstate { CS_WAIT = 0, CS_CONNECTING, CS_OPEN, CS_DONE };

struct lg_client {
    uint32_t id;
    enum cstate state;
    struct wsc *ws;   /* the websocket of this connection (plain), or NULL */
    long long due_us; /* CS_WAIT: when to connect */
    int attempts;
    int opened;            /* a connection of it opened once (later connects are reconnects) */
    int resuming;          /* asked to resume on this connection, answer not seen yet */
    long long last_offset; /* -1 = no position yet */
    char epoch[64];
    const char *src;
    const char *channel; /* the channel it joins ("" = broadcast only); owned by lg_clients */
    uint64_t acks_at_open;
    long long heard_us;  /* plain heartbeat: when the server last sent anything */
    long long pinged_us; /* plain heartbeat: when the PING went out, 0 = none outstanding */
    struct lg_sio *sio;  /* Socket.IO session, NULL with the plain protocol */
};

struct lg_thread {
    struct lg_clients *owner;
    pthread_t th;
    int started;
    struct wsc_pool *pool;
    struct hc_ctx *http; /* Socket.IO long-polling connections (NULL when not needed) */
    struct hlog log;
    struct lg_client *clients;
    size_t n;
    uint64_t rng;
    _Atomic int stop;
    _Atomic uint64_t connected, opened, failed, dropped, frames, closed_expected, open_acks_sum;
};

struct lg_clients {
    const struct lg_config *cfg;
    _Atomic uint64_t *acks;
    struct lg_thread *threads;
    int nthreads;
    char (*channels)[LG_CHANNEL_MAX + 1]; /* the K channel names */
};

/* The connection of c opened (websocket upgraded / Socket.IO connected): a connect record. */
void lg_client_opened(struct lg_thread *t, struct lg_client *c, long long now,
                      const char *transport);
/*
 * The connection of c ended: a disconnect record when it was open (code, reason), else a
 * connect_fail record (reason, and stage when not NULL: handshake, connect, ...). Schedules
 * the reconnect with backoff.
 */
void lg_client_closed(struct lg_thread *t, struct lg_client *c, long long now, int code,
                      const char *reason, const char *stage);
/* A scanned server event (control or data): hello / recovery / frame / other records. */
void lg_client_event(struct lg_thread *t, struct lg_client *c, const struct lg_frame_fields *f,
                     long long now);
/* A message that could not be read: a junk record. */
void lg_client_junk(struct lg_thread *t, struct lg_client *c, size_t bytes, long long now);
/* Records a recovery answer (Socket.IO: from the CONNECT reply). */
void lg_client_recovery(struct lg_thread *t, struct lg_client *c, int recovered, long long now);
uint64_t lg_thread_rand(struct lg_thread *t);

/* Socket.IO (client_sio.c). */
int lg_sio_init(struct lg_client *c);  /* 0, or -1 out of memory */
void lg_sio_free(struct lg_client *c); /* accepts a client without a session */
void lg_sio_connect(struct lg_thread *t, struct lg_client *c, long long now);
void lg_sio_tick(struct lg_thread *t, struct lg_client *c, long long now); /* timeouts */
/* Loadgen is done: final records, closes everything without callbacks to the session. */
void lg_sio_stop(struct lg_thread *t, struct lg_client *c, long long now);
void lg_sio_ws_open(struct lg_thread *t, struct lg_client *c, struct wsc *w);
void lg_sio_ws_message(struct lg_thread *t, struct lg_client *c, struct wsc *w, const char *data,
                       size_t len, int binary);
void lg_sio_ws_close(struct lg_thread *t, struct lg_client *c, struct wsc *w, int code,
                     const char *reason);

#endif
