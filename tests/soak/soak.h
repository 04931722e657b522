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
};

struct soak_counters {
    atomic_ullong emits_ok, emits_fail;
    atomic_ullong events, missed, duplicates, wrong_channel, gap_reports;
    atomic_ullong churn_connects, recovered, not_recovered, subscribed;
    atomic_ullong steady_dropped, connect_fail;
    atomic_ullong slow_started, slow_closed, slow_close_4008, slow_not_closed;
    atomic_ullong bad_ws_sent, bad_ws_ok, bad_ws_wrong, bad_reports;
    atomic_ullong bad_http_sent, bad_http_ok, bad_http_wrong;
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

/* One JSON object of every counter and the configuration. */
void soak_print_summary(FILE *f);

#endif
