/*
 * relay configuration: one struct, filled by one pure function from argv and the
 * environment (each flag has a RELAY_* twin).
 */
#ifndef RELAY_CONFIG_H
#define RELAY_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "flags.h"

#define RELAY_WATCH_MAX 16

struct relay_config {
    long ws_port;
    long http_port;
    const char *bind;
    const char *http_bind;
    const char *token;
    long history;
    long max_clients;
    long queue_limit;
    size_t max_body;
    size_t max_message;
    long ping_interval_ms;
    long drain_ms;
    long dedup_window_ms;
    long dedup_max;
    long http_threads;
    long body_timeout_ms;
    long max_channels;
    long send_threads;
    const char *epoch;
    const char *log_level;
    /* Over MongoDB (docs/relay-ha.md): every relay with the same URI serves one stream. */
    const char *mongo_uri;
    const char *mongo_db;
    long emit_timeout_ms;  /* an emit not confirmed by a majority in this time gets 503 */
    long replay_wait_ms;   /* a failed replay read is retried this long */
    long retention_ms;     /* events older than this are trimmed from MongoDB */
    long retention_events; /* and beyond this many */
    /* Client authentication (relay/auth.c): off unless a key is given. */
    const char *client_jwt_secret; /* HS256 shared secret */
    const char *client_jwt_key;    /* RS256 public key file (PEM) */
    const char *client_jwt_issuer;
    const char *client_jwt_audience;
    long client_jwt_leeway_ms;
    const char *cors_origin;    /* browser Origins allowed, comma-separated; NULL = any */
    struct flag_list watch_arg; /* DB.COLL=EVENT items, each may hold several, comma-separated */
    struct relay_watch {
        char db[64], coll[128], event[65];
        /* @CHANNEL: the channel, or pre + the document's field + post ("store-{store}");
         * none: broadcast. */
        int has_channel;
        char chan_pre[65], chan_field[65], chan_post[65];
    } watch[RELAY_WATCH_MAX];
    int nwatch;
};

/* Parses "db.coll=event[@channel][,...]" into c->watch; channel may hold one {field} of
 * the inserted document ("store-{store}"). Returns 0, or -1 with err. */
int relay_watch_parse(struct relay_config *c, const char *s, char *err, size_t errlen);

/*
 * Parses argv and the environment into c (defaults first). Returns 0 on success, 1 when
 * --help was asked for, -1 with a message in err on a bad flag or value.
 */
int relay_config_parse(struct relay_config *c, int argc, char **argv, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Prints --help. */
void relay_config_usage(FILE *out);

#endif
