/*
 * config — loadgen's command line: `loadgen run ...` and `loadgen check HISTORY ...`,
 * parsed by one pure function (no I/O besides reading LOADGEN_* environment twins).
 */
#ifndef LOADGEN_CONFIG_H
#define LOADGEN_CONFIG_H

#include <stdio.h>

#include "expect.h"

#define LG_MAX_EXPECTS 64
#define LG_MAX_SOURCE_IPS 65536

enum lg_mode { LG_MODE_RUN = 0, LG_MODE_CHECK };
/* How clients speak to the server: plain JSON frames on a websocket, or Socket.IO v5 over
 * Engine.IO v4 (long-polling, websocket, or polling upgraded to websocket as browsers do). */
enum lg_protocol { LG_PROTO_PLAIN = 0, LG_PROTO_SOCKETIO };

#define LG_MAX_CHANNELS 100000
#define LG_CHANNEL_MAX 64 /* a channel name's length, as the relay accepts it */

struct lg_endpoint {
    char host[256];
    int port;
};

struct lg_config {
    enum lg_mode mode;
    /* run */
    const char *target, *ws_target, *ws_path, *products_path, *host_header, *source_ips;
    struct lg_endpoint http, ws;
    long clients, threads; /* threads 0 = one per core, resolved by the program */
    const char *rate_text;
    double rate;      /* requests per second; 0 = only listen */
    long duration_ms; /* how long to send when requests == 0 */
    long requests;    /* total requests; 0 = rate * duration */
    long warmup_ms, settle_ms, request_timeout_ms, reconnect_min_ms, reconnect_max_ms;
    long ping_interval_ms, ping_timeout_ms; /* plain heartbeat; 0 = none */
    long connect_rate, max_inflight;
    int resume, progress;
    int reconnect_paced;    /* reconnects spend --connect-rate tokens like first connects */
    const char *req_prefix; /* "" = a random one per run */
    /* the app's API (fakeapp's by default) */
    const char *protocol_text, *transport_text, *event, *id_path, *body;
    const char *event_key, *data_key; /* plain frames: {"event":..,"data":..} by default */
    const char *header; /* "Name: value" sent with the create (and verify) requests; "" = none */
    enum lg_protocol protocol;
    int polling, websocket; /* Socket.IO transports: polling first when both (the upgrade) */
    int cookies;            /* keep the Set-Cookies each client receives and send them back */
    long channels;          /* K: client c joins PREFIX<c % K>, request i goes to PREFIX<i % K> */
    const char *channel_prefix;
    char (*ips)[16]; /* parsed source addresses (owned), nips == 0 = no binding */
    size_t nips;
    /* --- the lab's block (shards, start gate, verification; checker options) --- */
    const char *shard_text; /* "I/K": this process is shard I of K; "" = not sharded */
    long shard_index, shard_count;
    const char *start_gate; /* start sending once this file exists ("" = no gate) */
    long gate_timeout_ms;
    const char *verify_path; /* GET template with {{req_id}}: verify unknown outcomes */
    int verify_all;          /* verify acknowledged requests too */
    const char **histories;  /* check: the shards' histories (owned array, argv strings) */
    size_t nhistories;
    long skew_margin_ms; /* check: guard band for entitlement across shards */
    const char *facts;   /* check: JSON object of the lab's own observations ("" = none) */
    /* --- end of the lab's block --- */
    /* both */
    const char *history, *json, *junit, *log_level;
    int details;
    struct lg_expect expects[LG_MAX_EXPECTS];
    size_t nexpects;
};

/*
 * Parses argv (argv[1] is the subcommand) into c. Returns 0, 1 when help was asked (usage
 * printed to out), or -1 with a message in err (a usage error: exit 2). On 0 the caller
 * releases c with lg_config_cleanup.
 */
int lg_config_parse(struct lg_config *c, int argc, char **argv, FILE *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void lg_config_cleanup(struct lg_config *c);

/*
 * Parses a source address pool: "127.0.0.10-127.0.0.250" (inclusive range), a comma list
 * whose items may be ranges, or a count "N" meaning N addresses from 127.0.0.10 up.
 * Returns the number of addresses with *out malloc'd (caller frees), or -1 with err.
 */
long lg_parse_source_ips(const char *spec, char (**out)[16], char *err, size_t errlen);

/* Parses "http://HOST[:PORT][/...]" (or "ws://"). Returns 0, or -1 with err. */
int lg_parse_endpoint(const char *url, struct lg_endpoint *e, char *err, size_t errlen);

#endif
