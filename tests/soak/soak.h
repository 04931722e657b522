/*
 * soak — what the soak client's parts share: its configuration, its counters (atomics, as
 * the emitter, the bad-HTTP and the slow-client threads update them beside the websocket
 * loop), and the drivers in soak_drive.c.
 */
#ifndef RELAYLAB_SOAK_H
#define RELAYLAB_SOAK_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

struct wsc;
struct wsc_pool;

/* What a websocket client of the pool is (the first member of its user data). */
enum soak_kind { K_STEADY, K_CHURN, K_BAD, K_SIO };

struct soak_config {
    const char *host;
    int ws_port, http_port;
    const char *token; /* intake bearer token, or NULL */
    int seconds;
    int clients;     /* steady subscribers */
    int churn;       /* clients that drop and resume with since */
    int slow;        /* raw-socket clients that stop reading, kept at this many */
    int slow_hold;   /* seconds a slow client stays unread before it is drained */
    double rate;     /* emits per second */
    int payload;     /* bytes of padding in each broadcast event */
    int heavy;       /* bytes of padding in each event of channel soak-heavy (every 4th emit) */
    int max_message; /* the relay's --max-message (the oversized-frame case) */
    int sio;         /* Socket.IO sessions (soak_sio.c) */
    int sio_expire;  /* seconds after which the relay ends an unpolled session (I + T) */
};

struct soak_counters {
    atomic_ullong emits_ok, emits_fail;
    atomic_ullong events, missed, duplicates, wrong_channel, gap_reports;
    atomic_ullong churn_connects, recovered, not_recovered, subscribed;
    atomic_ullong steady_dropped, connect_fail;
    atomic_ullong slow_started, slow_closed, slow_close_4008, slow_not_closed;
    atomic_ullong bad_ws_sent, bad_ws_ok, bad_ws_wrong, bad_reports;
    atomic_ullong bad_http_sent, bad_http_ok, bad_http_wrong;
    atomic_ullong sio_connects, sio_recovered, sio_not_recovered, sio_events, sio_missed;
    atomic_ullong sio_duplicates, sio_upgrades, sio_upgrade_fail, sio_vanished;
    atomic_ullong sio_expired_ok, sio_expired_wrong, sio_dropped;
    unsigned long long behind_at_end; /* clients not at the last offset after the catch-up */
};

extern struct soak_config cfg;
extern struct soak_counters ctr;
extern atomic_int soak_stop_emits;
extern atomic_ullong soak_last_acked;   /* highest offset the intake acknowledged */
extern atomic_ullong soak_last_b_acked; /* highest broadcast sequence number acknowledged */

int64_t soak_now_us(void);

/* Parses argv into cfg. Returns 0, or -1 after printing the usage. */
int soak_parse_args(int argc, char **argv);

/* Threads: POST /emit at cfg.rate until soak_stop_emits; malformed intake requests, each
 * checked for its status; slow clients on raw sockets until the run ends. */
void *soak_emitter_main(void *arg);
void *soak_bad_http_main(void *arg);
void *soak_slow_main(void *arg);

/* Bad websocket input: case k's bytes are sent on an open client; its answer is a close
 * code (0: the upgrade itself is refused; SOAK_BAD_SUBSCRIBE: an _error frame). */
#define SOAK_BAD_WS_CASES 6
#define SOAK_BAD_SUBSCRIBE 4
void soak_bad_ws_send(struct wsc *w, int k);
int soak_bad_ws_expect(int k);

/* Socket.IO sessions (soak_sio.c), on the main loop beside the websocket pool: init before
 * the loop, service at each turn; final makes every session come back for the catch-up;
 * behind counts sessions not connected or short of broadcast event `want`; close_all closes
 * every session (bounded wait); free releases everything (after wsc_pool_free). */
void soak_sio_init(struct wsc_pool *pool);
void soak_sio_service(int64_t now);
void soak_sio_final(void);
int soak_sio_behind(unsigned long long want);
void soak_sio_close_all(void);
void soak_sio_free(void);
/* The websocket callbacks of a K_SIO client (the upgrade probe, then the transport). */
void soak_sio_ws_open(struct wsc *w);
void soak_sio_ws_message(struct wsc *w, const char *d, size_t len);
void soak_sio_ws_close(struct wsc *w);

/* One JSON object of every counter and the configuration. */
void soak_print_summary(FILE *f);

#endif
