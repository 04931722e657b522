#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <string.h>

#include "envelope.h"
#include "flags.h"
#include "log.h"

#define RELAY_FLAGS(c)                                                                             \
    {                                                                                              \
        {"ws-port",                                                                                \
         "RELAY_WS_PORT",                                                                          \
         FLAG_INT,                                                                                 \
         &(c)->ws_port,                                                                            \
         "websocket port for clients: /websocket-service, /, /socket.io/ (default 8080)",          \
         0,                                                                                        \
         65535},                                                                                   \
            {"http-port",                                                                          \
             "RELAY_HTTP_PORT",                                                                    \
             FLAG_INT,                                                                             \
             &(c)->http_port,                                                                      \
             "intake: POST /emit, GET /healthz /readyz /metrics /cluster (default 8081)",          \
             0,                                                                                    \
             65535},                                                                               \
            {"bind",                                                                               \
             "RELAY_BIND",                                                                         \
             FLAG_STR,                                                                             \
             &(c)->bind,                                                                           \
             "address both ports listen on (default 0.0.0.0)",                                     \
             0,                                                                                    \
             0},                                                                                   \
            {"http-bind",                                                                          \
             "RELAY_HTTP_BIND",                                                                    \
             FLAG_STR,                                                                             \
             &(c)->http_bind,                                                                      \
             "address the intake listens on, if not --bind",                                       \
             0,                                                                                    \
             0},                                                                                   \
            {"token",                                                                              \
             "RELAY_TOKEN",                                                                        \
             FLAG_STR,                                                                             \
             &(c)->token,                                                                          \
             "require 'Authorization: Bearer TOKEN' on /emit (default: none)",                     \
             0,                                                                                    \
             0},                                                                                   \
            {"history",                                                                            \
             "RELAY_HISTORY",                                                                      \
             FLAG_INT,                                                                             \
             &(c)->history,                                                                        \
             "events kept for replay after reconnect (default 10000)",                             \
             1,                                                                                    \
             10000000},                                                                            \
            {"max-clients",                                                                        \
             "RELAY_MAX_CLIENTS",                                                                  \
             FLAG_INT,                                                                             \
             &(c)->max_clients,                                                                    \
             "websocket clients accepted at once; more are closed with 1013 (default 15000)",      \
             1,                                                                                    \
             1000000},                                                                             \
            {"queue-limit",                                                                        \
             "RELAY_QUEUE_LIMIT",                                                                  \
             FLAG_INT,                                                                             \
             &(c)->queue_limit,                                                                    \
             "events a client may fall behind before it is closed with 4008 (default 1000)",       \
             1,                                                                                    \
             10000000},                                                                            \
            {"max-body",                                                                           \
             "RELAY_MAX_BODY",                                                                     \
             FLAG_SIZE,                                                                            \
             &(c)->max_body,                                                                       \
             "largest /emit body; larger gets 413 (default 64k)",                                  \
             64,                                                                                   \
             64L * 1024 * 1024},                                                                   \
            {"max-message",                                                                        \
             "RELAY_MAX_MESSAGE",                                                                  \
             FLAG_SIZE,                                                                            \
             &(c)->max_message,                                                                    \
             "largest message accepted from a client; larger closes it with 1009 (default 4k)",    \
             16,                                                                                   \
             16L * 1024 * 1024},                                                                   \
            {"ping-interval",                                                                      \
             "RELAY_PING_INTERVAL",                                                                \
             FLAG_DURATION,                                                                        \
             &(c)->ping_interval_ms,                                                               \
             "ping after this much silence, 0 = never (Socket.IO: 25s) (default 25s)",             \
             0,                                                                                    \
             3600000},                                                                             \
            {"drain-timeout",                                                                      \
             "RELAY_DRAIN_TIMEOUT",                                                                \
             FLAG_DURATION,                                                                        \
             &(c)->drain_ms,                                                                       \
             "on SIGTERM, time to flush queued events before closing clients (default 2s)",        \
             0,                                                                                    \
             600000},                                                                              \
            {"dedup-window",                                                                       \
             "RELAY_DEDUP_WINDOW",                                                                 \
             FLAG_DURATION,                                                                        \
             &(c)->dedup_window_ms,                                                                \
             "how long an emit id is remembered (default 5m)",                                     \
             0,                                                                                    \
             86400000},                                                                            \
            {"dedup-max",                                                                          \
             "RELAY_DEDUP_MAX",                                                                    \
             FLAG_INT,                                                                             \
             &(c)->dedup_max,                                                                      \
             "emit ids remembered at most (default 100000)",                                       \
             1,                                                                                    \
             10000000},                                                                            \
            {"body-timeout",                                                                       \
             "RELAY_BODY_TIMEOUT",                                                                 \
             FLAG_DURATION,                                                                        \
             &(c)->body_timeout_ms,                                                                \
             "an /emit body must arrive within this time, else 408 (default 10s)",                 \
             1,                                                                                    \
             600000},                                                                              \
            {"http-threads",                                                                       \
             "RELAY_HTTP_THREADS",                                                                 \
             FLAG_INT,                                                                             \
             &(c)->http_threads,                                                                   \
             "intake worker threads (default 2)",                                                  \
             1,                                                                                    \
             64},                                                                                  \
            {"epoch",                                                                              \
             "RELAY_EPOCH",                                                                        \
             FLAG_STR,                                                                             \
             &(c)->epoch,                                                                          \
             "epoch name (in memory; default random at start: a restart is a new epoch)",          \
             0,                                                                                    \
             0},                                                                                   \
            {"log-level",                                                                          \
             "RELAY_LOG_LEVEL",                                                                    \
             FLAG_STR,                                                                             \
             &(c)->log_level,                                                                      \
             "debug, info, warn or error (default info)",                                          \
             0,                                                                                    \
             0},                                                                                   \
            {"send-threads",                                                                       \
             "RELAY_SEND_THREADS",                                                                 \
             FLAG_INT,                                                                             \
             &(c)->send_threads,                                                                   \
             "threads that help send each event to its clients (default 0: the loop alone)",       \
             0,                                                                                    \
             64},                                                                                  \
            {"max-channels",                                                                       \
             "RELAY_MAX_CHANNELS",                                                                 \
             FLAG_INT,                                                                             \
             &(c)->max_channels,                                                                   \
             "channels one client may join (default 32)",                                          \
             1,                                                                                    \
             256},                                                                                 \
            {"mongo-uri",                                                                          \
             "RELAY_MONGO_URI",                                                                    \
             FLAG_STR,                                                                             \
             &(c)->mongo_uri,                                                                      \
             "serve one stream with every relay of this MongoDB replica set (default: in memory)", \
             0,                                                                                    \
             0},                                                                                   \
            {"mongo-db",                                                                           \
             "RELAY_MONGO_DB",                                                                     \
             FLAG_STR,                                                                             \
             &(c)->mongo_db,                                                                       \
             "database of the stream: collections events and meta (default relay)",                \
             0,                                                                                    \
             0},                                                                                   \
            {"emit-timeout",                                                                       \
             "RELAY_EMIT_TIMEOUT",                                                                 \
             FLAG_DURATION,                                                                        \
             &(c)->emit_timeout_ms,                                                                \
             "MongoDB: an emit a majority has not confirmed by then gets 503 (default 5s)",        \
             100,                                                                                  \
             600000},                                                                              \
            {"replay-wait",                                                                        \
             "RELAY_REPLAY_WAIT",                                                                  \
             FLAG_DURATION,                                                                        \
             &(c)->replay_wait_ms,                                                                 \
             "MongoDB: a replay read that fails is retried this long before the client is told "   \
             "store_unavailable (default 15s)",                                                    \
             0,                                                                                    \
             600000},                                                                              \
            {"retention",                                                                          \
             "RELAY_RETENTION",                                                                    \
             FLAG_DURATION,                                                                        \
             &(c)->retention_ms,                                                                   \
             "MongoDB: events older than this are trimmed, ids forgotten (default 24h)",           \
             1000,                                                                                 \
             LONG_MAX / 4},                                                                        \
            {"retention-events",                                                                   \
             "RELAY_RETENTION_EVENTS",                                                             \
             FLAG_INT,                                                                             \
             &(c)->retention_events,                                                               \
             "MongoDB: at most this many events are kept (default 1000000)",                       \
             100,                                                                                  \
             1000000000},                                                                          \
            {"client-jwt-secret",                                                                  \
             "RELAY_CLIENT_JWT_SECRET",                                                            \
             FLAG_STR,                                                                             \
             &(c)->client_jwt_secret,                                                              \
             "clients must present an HS256 JWT signed with this secret (>= 32 bytes)",            \
             0,                                                                                    \
             0},                                                                                   \
            {"client-jwt-key",                                                                     \
             "RELAY_CLIENT_JWT_KEY",                                                               \
             FLAG_STR,                                                                             \
             &(c)->client_jwt_key,                                                                 \
             "clients must present an RS256 JWT verified by this PEM public key file",             \
             0,                                                                                    \
             0},                                                                                   \
            {"client-jwt-issuer",                                                                  \
             "RELAY_CLIENT_JWT_ISSUER",                                                            \
             FLAG_STR,                                                                             \
             &(c)->client_jwt_issuer,                                                              \
             "client JWTs must carry this iss (default: not checked)",                             \
             0,                                                                                    \
             0},                                                                                   \
            {"client-jwt-audience",                                                                \
             "RELAY_CLIENT_JWT_AUDIENCE",                                                          \
             FLAG_STR,                                                                             \
             &(c)->client_jwt_audience,                                                            \
             "client JWTs must carry this aud (default: none)",                                    \
             0,                                                                                    \
             0},                                                                                   \
            {"cors-origin",                                                                        \
             "RELAY_CORS_ORIGIN",                                                                  \
             FLAG_STR,                                                                             \
             &(c)->cors_origin,                                                                    \
             "browser Origins allowed (comma-separated, e.g. https://shop.example): others are "   \
             "refused 403 on upgrade and polling (default: any, echoed)",                          \
             0,                                                                                    \
             0},                                                                                   \
            {"client-jwt-leeway",                                                                  \
             "RELAY_CLIENT_JWT_LEEWAY",                                                            \
             FLAG_DURATION,                                                                        \
             &(c)->client_jwt_leeway_ms,                                                           \
             "clock skew allowed on exp and nbf (default 30s)",                                    \
             0,                                                                                    \
             3600000},                                                                             \
            {"watch",                                                                              \
             "RELAY_WATCH",                                                                        \
             FLAG_LIST,                                                                            \
             &(c)->watch_arg,                                                                      \
             "MongoDB: DB.COLL=EVENT[@CHANNEL], every insert into DB.COLL is announced as "        \
             "EVENT, to everyone or on CHANNEL (\"store-{store}\": from the document's field) "    \
             "(repeatable)",                                                                       \
             0,                                                                                    \
             0},                                                                                   \
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
    c->max_channels = 32;
    c->log_level = "info";
    c->mongo_db = "relay";
    c->emit_timeout_ms = 5000;
    c->replay_wait_ms = 15000;
    c->retention_ms = 24L * 3600 * 1000;
    c->retention_events = 1000000;
    c->client_jwt_leeway_ms = 30000;
}

static int valid_name(const char *s, size_t n, int dots)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(isalnum(ch) || ch == '_' || ch == '-' || (dots && ch == '.')))
            return 0;
    }
    return 1;
}

/* "store-{store}" -> pre "store-", field "store", post ""; a template without braces is a
 * fixed channel. Returns 0, or -1 when it is not one of those. */
static int watch_channel_parse(struct relay_watch *w, const char *s, size_t n)
{
    const char *open = memchr(s, '{', n);
    const char *close = open ? memchr(open, '}', n - (size_t)(open - s)) : NULL;
    size_t pl = open ? (size_t)(open - s) : n;
    size_t fl = close ? (size_t)(close - open - 1) : 0;
    size_t ql = close ? n - (size_t)(close - s) - 1 : 0;
    if ((open && !close) || pl >= sizeof w->chan_pre || fl >= sizeof w->chan_field ||
        ql >= sizeof w->chan_post || (pl && !envelope_channel_valid(s, pl)) ||
        (ql && !envelope_channel_valid(close + 1, ql)) || (!open && !pl) ||
        (open && !valid_name(open + 1, fl, 0)))
        return -1;
    if (!open && (memchr(s, '}', n) || !envelope_channel_valid(s, n)))
        return -1;
    memcpy(w->chan_pre, s, pl);
    w->chan_pre[pl] = '\0';
    if (open) {
        memcpy(w->chan_field, open + 1, fl);
        w->chan_field[fl] = '\0';
        memcpy(w->chan_post, close + 1, ql);
        w->chan_post[ql] = '\0';
    }
    w->has_channel = 1;
    return 0;
}

int relay_watch_parse(struct relay_config *c, const char *s, char *err, size_t errlen)
{
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        const char *at = eq ? memchr(eq, '@', n - (size_t)(eq - p)) : NULL;
        const char *dot = eq ? memchr(p, '.', (size_t)(eq - p)) : NULL;
        struct relay_watch *w = &c->watch[c->nwatch];
        size_t dl = dot ? (size_t)(dot - p) : 0, cl = dot ? (size_t)(eq - dot - 1) : 0;
        size_t el = eq ? (at ? (size_t)(at - eq - 1) : n - (size_t)(eq - p) - 1) : 0;
        if (c->nwatch == RELAY_WATCH_MAX) {
            snprintf(err, errlen, "--watch: at most %d collections", RELAY_WATCH_MAX);
            return -1;
        }
        if (dot == NULL || dl >= sizeof w->db || cl >= sizeof w->coll || !valid_name(p, dl, 0) ||
            !valid_name(dot + 1, cl, 1) || !envelope_event_valid(eq + 1, el)) {
            snprintf(err, errlen, "--watch: '%.*s' is not DB.COLLECTION=EVENT[@CHANNEL]",
                     (int)(n < 200 ? n : 200), p);
            return -1;
        }
        memcpy(w->db, p, dl);
        w->db[dl] = '\0';
        memcpy(w->coll, dot + 1, cl);
        w->coll[cl] = '\0';
        memcpy(w->event, eq + 1, el);
        w->event[el] = '\0';
        if (at && watch_channel_parse(w, at + 1, n - (size_t)(at - p) - 1) != 0) {
            snprintf(err, errlen,
                     "--watch: channel '%.*s' must be 1-%d characters of [A-Za-z0-9_.:-] with at "
                     "most one {field} (a top-level field of [A-Za-z0-9_])",
                     (int)(n - (size_t)(at - p) - 1 < 200 ? n - (size_t)(at - p) - 1 : 200), at + 1,
                     ENVELOPE_CHANNEL_MAX);
            return -1;
        }
        c->nwatch++;
        p += n;
        if (*p == ',')
            p++;
    }
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
    if (c->mongo_uri && *c->mongo_uri == '\0')
        c->mongo_uri = NULL;
    if (c->mongo_uri && strncmp(c->mongo_uri, "mongodb://", 10) != 0 &&
        strncmp(c->mongo_uri, "mongodb+srv://", 14) != 0) {
        snprintf(err, errlen, "--mongo-uri must start with mongodb:// or mongodb+srv://");
        return -1;
    }
    if (!valid_name(c->mongo_db, strlen(c->mongo_db), 0) || strlen(c->mongo_db) > 63) {
        snprintf(err, errlen, "--mongo-db must be 1..63 characters of [A-Za-z0-9_-]");
        return -1;
    }
    for (int i = 0; i < c->watch_arg.n; i++)
        if (relay_watch_parse(c, c->watch_arg.v[i], err, errlen) != 0)
            return -1;
    if (c->client_jwt_secret && *c->client_jwt_secret == '\0')
        c->client_jwt_secret = NULL;
    if (c->client_jwt_key && *c->client_jwt_key == '\0')
        c->client_jwt_key = NULL;
    if (c->client_jwt_secret && c->client_jwt_key) {
        snprintf(err, errlen, "--client-jwt-secret and --client-jwt-key exclude each other");
        return -1;
    }
    if (c->epoch && *c->epoch && c->mongo_uri) {
        snprintf(
            err, errlen,
            "--epoch is for the in-memory relay; with --mongo-uri the stream's epoch is kept in "
            "MongoDB (%s.meta)",
            c->mongo_db);
        return -1;
    }
    if (c->nwatch > 0 && c->mongo_uri == NULL) {
        snprintf(err, errlen, "--watch needs --mongo-uri (the collections live there)");
        return -1;
    }
    return 0;
}

void relay_config_usage(FILE *out)
{
    struct relay_config c;
    struct flag flags[] = RELAY_FLAGS(&c);
    flags_usage(
        out, "relay [flags]",
        "relaylab relay: app replicas POST events to the intake port, every websocket client\n"
        "connected to the relay receives them. Frames:\n"
        "  {\"event\":NAME,\"data\":PAYLOAD,\"offset\":N,\"epoch\":E}\n"
        "Reconnect with /websocket-service?since=N&epoch=E to be replayed what was missed;\n"
        "join channels with ?channels=a,b. With --mongo-uri any number of relays serve\n"
        "one stream (same offsets everywhere) over the MongoDB replica set.\n"
        "Close codes: 1001 shutting down or no pong, 1003 binary frame, 1009 message too\n"
        "big, 1013 server full, 4008 slow client (fell --queue-limit events behind),\n"
        "4401 unauthorized.",
        flags, sizeof flags / sizeof flags[0]);
}
