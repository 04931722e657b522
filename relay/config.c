#include "config.h"

#include <string.h>

#include "envelope.h"
#include "flags.h"
#include "log.h"

#define RELAY_FLAGS(c)                                                                             \
    {                                                                                              \
        {"ws-port", "RELAY_WS_PORT", FLAG_INT, &(c)->ws_port,                                      \
         "websocket port for clients, paths /websocket-service and / (default 8080)", 0, 65535},  \
        {"http-port", "RELAY_HTTP_PORT", FLAG_INT, &(c)->http_port,                                \
         "intake port: POST /emit, GET /healthz /readyz /metrics (default 8081)", 0, 65535},      \
        {"bind", "RELAY_BIND", FLAG_STR, &(c)->bind,                                               \
         "address both ports listen on (default 0.0.0.0)", 0, 0},                                  \
        {"http-bind", "RELAY_HTTP_BIND", FLAG_STR, &(c)->http_bind,                                \
         "address the intake listens on, if not --bind", 0, 0},                                    \
        {"token", "RELAY_TOKEN", FLAG_STR, &(c)->token,                                            \
         "require 'Authorization: Bearer TOKEN' on /emit (default: none)", 0, 0},                  \
        {"history", "RELAY_HISTORY", FLAG_INT, &(c)->history,                                      \
         "events kept for replay after reconnect (default 10000)", 1, 10000000},                   \
        {"max-clients", "RELAY_MAX_CLIENTS", FLAG_INT, &(c)->max_clients,                          \
         "websocket clients accepted at once; more are closed with 1013 (default 15000)", 1,      \
         1000000},                                                                                 \
        {"queue-limit", "RELAY_QUEUE_LIMIT", FLAG_INT, &(c)->queue_limit,                          \
         "events a client may fall behind before it is closed with 4008 (default 1000)", 1,       \
         10000000},                                                                                \
        {"max-body", "RELAY_MAX_BODY", FLAG_SIZE, &(c)->max_body,                                  \
         "largest /emit body; larger gets 413 (default 64k)", 64, 64L * 1024 * 1024},             \
        {"max-message", "RELAY_MAX_MESSAGE", FLAG_SIZE, &(c)->max_message,                         \
         "largest message accepted from a client; larger closes it with 1009 (default 4k)", 16,  \
         16L * 1024 * 1024},                                                                       \
        {"ping-interval", "RELAY_PING_INTERVAL", FLAG_DURATION, &(c)->ping_interval_ms,            \
         "websocket ping after this much silence, 0 = never (default 25s)", 0, 3600000},          \
        {"drain-timeout", "RELAY_DRAIN_TIMEOUT", FLAG_DURATION, &(c)->drain_ms,                    \
         "on SIGTERM, time to flush queued events before closing clients (default 2s)", 0,        \
         600000},                                                                                  \
        {"dedup-window", "RELAY_DEDUP_WINDOW", FLAG_DURATION, &(c)->dedup_window_ms,               \
         "how long an emit id is remembered (default 5m)", 0, 86400000},                           \
        {"dedup-max", "RELAY_DEDUP_MAX", FLAG_INT, &(c)->dedup_max,                                \
         "emit ids remembered at most (default 100000)", 1, 10000000},                             \
        {"body-timeout", "RELAY_BODY_TIMEOUT", FLAG_DURATION, &(c)->body_timeout_ms,               \
         "an /emit body must arrive within this time, else 408 (default 10s)", 1, 600000},       \
        {"http-threads", "RELAY_HTTP_THREADS", FLAG_INT, &(c)->http_threads,                       \
         "intake worker threads (default 2)", 1, 64},                                              \
        {"epoch", "RELAY_EPOCH", FLAG_STR, &(c)->epoch,                                            \
         "epoch name (default: random at start; a restart is a new epoch)", 0, 0},                 \
        {"log-level", "RELAY_LOG_LEVEL", FLAG_STR, &(c)->log_level,                                \
         "debug, info, warn or error (default info)", 0, 0},                                       \
        {"peers", "RELAY_PEERS", FLAG_STR, &(c)->peers_arg,                                        \
         "HA: every member as host:wsport:httpport, comma-separated, same order everywhere",      \
         0, 0},                                                                                    \
        {"id", "RELAY_ID", FLAG_STR, &(c)->id_arg,                                                 \
         "HA: this relay's index in --peers, or a name ending in -N (e.g. $POD_NAME relay-1)", 0, \
         0},                                                                                       \
        {"replica-timeout", "RELAY_REPLICA_TIMEOUT", FLAG_DURATION, &(c)->replica_timeout_ms,      \
         "HA: an in-sync follower that stops acknowledging this long is dropped (default 1s)",    \
         50, 60000},                                                                               \
        {"election-interval", "RELAY_ELECTION_INTERVAL", FLAG_DURATION, &(c)->election_ms,         \
         "HA: how often members look at each other (default 250ms)", 20, 10000},                  \
    }

static void defaults(struct relay_config *c)
{
    memset(c, 0, sizeof *c);
    c->ws_port = 8080;
    c->http_port = 8081;
    c->bind = "0.0.0.0";
    c->history = 10000;
    c->max_clients = 15000;
    c->queue_limit = 1000;
    c->max_body = 64 * 1024;
    c->max_message = 4096;
    c->ping_interval_ms = 25000;
    c->drain_ms = 2000;
    c->dedup_window_ms = 5 * 60 * 1000;
    c->dedup_max = 100000;
    c->http_threads = 2;
    c->body_timeout_ms = 10000;
    c->log_level = "info";
    c->replica_timeout_ms = 1000;
    c->election_ms = 250;
}

int relay_peers_parse(struct relay_config *c, const char *s, char *err, size_t errlen)
{
    c->npeers = 0;
    const char *p = s;
    while (*p) {
        if (c->npeers == RELAY_MAX_PEERS) {
            snprintf(err, errlen, "--peers: at most %d members", RELAY_MAX_PEERS);
            return -1;
        }
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[192];
        if (n == 0 || n >= sizeof item) {
            snprintf(err, errlen, "--peers: empty or too long member at position %d", c->npeers);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        struct relay_peer *peer = &c->peers[c->npeers];
        char *c2 = strrchr(item, ':');
        char *c1 = c2 ? memrchr(item, ':', (size_t)(c2 - item)) : NULL;
        long ws, http;
        if (c1 == NULL || c1 == item || (size_t)(c1 - item) >= sizeof peer->host) {
            snprintf(err, errlen, "--peers: '%s' is not host:wsport:httpport", item);
            return -1;
        }
        *c1 = *c2 = '\0';
        if (flags_parse_long(c1 + 1, &ws) != 0 || flags_parse_long(c2 + 1, &http) != 0 || ws < 1 ||
            ws > 65535 || http < 1 || http > 65535) {
            snprintf(err, errlen, "--peers: bad ports in member %d", c->npeers);
            return -1;
        }
        memcpy(peer->host, item, (size_t)(c1 - item) + 1); /* checked to fit above */
        peer->ws_port = (int)ws;
        peer->http_port = (int)http;
        c->npeers++;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* "2" or "relay-2" (a StatefulSet pod name) -> 2. */
static int parse_id(const char *s, int *out)
{
    const char *dash = strrchr(s, '-');
    long v;
    if (flags_parse_long(dash ? dash + 1 : s, &v) != 0 || v < 0 || v >= RELAY_MAX_PEERS)
        return -1;
    *out = (int)v;
    return 0;
}

int relay_config_parse(struct relay_config *c, int argc, char **argv, char *err, size_t errlen)
{
    defaults(c);
    struct flag flags[] = RELAY_FLAGS(c);
    int r = flags_parse_program(flags, sizeof flags / sizeof flags[0], argc, argv, err, errlen);
    if (r != 0)
        return r;
    enum log_level lvl;
    if (log_level_from_flag(c->log_level, &lvl, err, errlen) != 0)
        return -1;
    if (c->epoch && *c->epoch && !envelope_epoch_valid(c->epoch)) {
        snprintf(err, errlen, "--epoch must be 1..32 characters of [A-Za-z0-9_-]");
        return -1;
    }
    if (c->ws_port != 0 && c->ws_port == c->http_port) {
        snprintf(err, errlen, "--ws-port and --http-port must differ (both %ld)", c->ws_port);
        return -1;
    }
    if (c->token && *c->token == '\0')
        c->token = NULL;
    if (c->peers_arg && *c->peers_arg) {
        if (relay_peers_parse(c, c->peers_arg, err, errlen) != 0)
            return -1;
        if (c->id_arg == NULL || parse_id(c->id_arg, &c->id) != 0 || c->id >= c->npeers) {
            snprintf(err, errlen, "--id must name this relay's index in --peers (0..%d), got '%s'",
                     c->npeers - 1, c->id_arg ? c->id_arg : "(none)");
            return -1;
        }
    }
    return 0;
}

void relay_config_usage(FILE *out)
{
    struct relay_config c;
    struct flag flags[] = RELAY_FLAGS(&c);
    flags_usage(out, "relay [flags]",
                "relaylab relay: app replicas POST events to the intake port, every websocket client\n"
                "connected to the relay receives them. Frames:\n"
                "  {\"event\":NAME,\"data\":PAYLOAD,\"offset\":N,\"epoch\":E}\n"
                "Reconnect with /websocket-service?since=N&epoch=E to be replayed what was missed.\n"
                "Close codes: 1001 shutting down, 1003 binary frame, 1009 message too big,\n"
                "1013 server full, 4008 slow client (fell --queue-limit events behind).",
                flags, sizeof flags / sizeof flags[0]);
}
