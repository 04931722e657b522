/*
 * relay configuration: one struct, filled by one pure function from argv and the
 * environment (each flag has a RELAY_* twin).
 */
#ifndef RELAY_CONFIG_H
#define RELAY_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define RELAY_MAX_PEERS 9

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
    const char *epoch;
    const char *log_level;
    /* High availability (docs/relay-ha.md): every member lists all members in one order. */
    const char *peers_arg;   /* "host:wsport:httpport,..." or NULL for a single relay */
    const char *id_arg;      /* this relay's index in peers: "1", or a name ending "-1" */
    long replica_timeout_ms;
    long election_ms;
    struct relay_peer {
        char host[128];
        int ws_port, http_port;
    } peers[RELAY_MAX_PEERS];
    int npeers; /* 0 = not clustered */
    int id;
};

/* Parses "h:ws:http,..." into c->peers. Returns 0, or -1 with a message in err. */
int relay_peers_parse(struct relay_config *c, const char *s, char *err, size_t errlen);

/*
 * Parses argv and the environment into c (defaults first). Returns 0 on success, 1 when
 * --help was asked for, -1 with a message in err on a bad flag or value.
 */
int relay_config_parse(struct relay_config *c, int argc, char **argv, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Prints --help. */
void relay_config_usage(FILE *out);

#endif
