#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "log.h"

#define FAKEAPP_FLAGS(c)                                                                           \
    {                                                                                              \
        {"port",                                                                                   \
         "FAKEAPP_PORT",                                                                           \
         FLAG_INT,                                                                                 \
         &(c)->port,                                                                               \
         "HTTP API port: /products, /healthz, /readyz, /metrics (default 3000)",                   \
         0,                                                                                        \
         65535},                                                                                   \
            {"ws-port",                                                                            \
             "FAKEAPP_WS_PORT",                                                                    \
             FLAG_INT,                                                                             \
             &(c)->ws_port,                                                                        \
             "embedded mode: websocket port, paths /socket.io/ and /websocket-service (default "   \
             "3001)",                                                                              \
             0,                                                                                    \
             65535},                                                                               \
            {"bind",                                                                               \
             "FAKEAPP_BIND",                                                                       \
             FLAG_STR,                                                                             \
             &(c)->bind,                                                                           \
             "address both ports listen on (default 0.0.0.0)",                                     \
             0,                                                                                    \
             0},                                                                                   \
            {"mongo-uri",                                                                          \
             "MONGO_URI",                                                                          \
             FLAG_STR,                                                                             \
             &(c)->mongo_uri,                                                                      \
             "MongoDB connection string (default mongodb://127.0.0.1:27017/?replicaSet=rs0)",      \
             0,                                                                                    \
             0},                                                                                   \
            {"db", "FAKEAPP_DB", FLAG_STR, &(c)->db, "database name (default relaylab)", 0, 0},    \
            {"ws-mode",                                                                            \
             "FAKEAPP_WS_MODE",                                                                    \
             FLAG_STR,                                                                             \
             &(c)->ws_mode_name,                                                                   \
             "how new_product reaches clients: embedded, relay or none (default embedded)",        \
             0,                                                                                    \
             0},                                                                                   \
            {"relay-url",                                                                          \
             "RELAY_URL",                                                                          \
             FLAG_STR,                                                                             \
             &(c)->relay_url,                                                                      \
             "relay mode: the relay's intake (default http://127.0.0.1:8081/emit)",                \
             0,                                                                                    \
             0},                                                                                   \
            {"relay-token",                                                                        \
             "RELAY_TOKEN",                                                                        \
             FLAG_STR,                                                                             \
             &(c)->relay_token,                                                                    \
             "relay mode: bearer token for the intake (default: none)",                            \
             0,                                                                                    \
             0},                                                                                   \
            {"pod",                                                                                \
             "POD_NAME",                                                                           \
             FLAG_STR,                                                                             \
             &(c)->pod,                                                                            \
             "name of this replica, in X-Served-By and in every product (default: host name)",     \
             0,                                                                                    \
             0},                                                                                   \
            {"log-level",                                                                          \
             "FAKEAPP_LOG_LEVEL",                                                                  \
             FLAG_STR,                                                                             \
             &(c)->log_level,                                                                      \
             "debug, info, warn or error (default info)",                                          \
             0,                                                                                    \
             0},                                                                                   \
            {"http-threads",                                                                       \
             "FAKEAPP_HTTP_THREADS",                                                               \
             FLAG_INT,                                                                             \
             &(c)->http_threads,                                                                   \
             "HTTP worker threads, each with its own MongoDB client from the pool (default 4)",    \
             1,                                                                                    \
             64},                                                                                  \
            {"max-body",                                                                           \
             "FAKEAPP_MAX_BODY",                                                                   \
             FLAG_SIZE,                                                                            \
             &(c)->max_body,                                                                       \
             "largest request body; larger gets 413 (default 16k)",                                \
             64,                                                                                   \
             16L * 1024 * 1024},                                                                   \
            {"db-timeout",                                                                         \
             "FAKEAPP_DB_TIMEOUT",                                                                 \
             FLAG_DURATION,                                                                        \
             &(c)->db_timeout_ms,                                                                  \
             "MongoDB server selection timeout; socket timeout is twice this (default 3s)",        \
             100,                                                                                  \
             60000},                                                                               \
            {"write-concern",                                                                      \
             "FAKEAPP_WRITE_CONCERN",                                                              \
             FLAG_STR,                                                                             \
             &(c)->write_concern,                                                                  \
             "a product's write concern: majority, or N members (1 acknowledges what a "           \
             "split-brain primary may roll back; default majority)",                               \
             0,                                                                                    \
             0},                                                                                   \
            {"emit-queue",                                                                         \
             "FAKEAPP_EMIT_QUEUE",                                                                 \
             FLAG_INT,                                                                             \
             &(c)->emit_queue,                                                                     \
             "relay mode: events queued for the relay; more are dropped and counted (default "     \
             "10000)",                                                                             \
             1,                                                                                    \
             10000000},                                                                            \
            {"emit-retries",                                                                       \
             "FAKEAPP_EMIT_RETRIES",                                                               \
             FLAG_INT,                                                                             \
             &(c)->emit_retries,                                                                   \
             "relay mode: retries of a failed POST /emit, with jittered backoff (default 8)",      \
             0,                                                                                    \
             100},                                                                                 \
            {"emit-timeout",                                                                       \
             "FAKEAPP_EMIT_TIMEOUT",                                                               \
             FLAG_DURATION,                                                                        \
             &(c)->emit_timeout_ms,                                                                \
             "relay mode: time allowed for one POST /emit (default 2s)",                           \
             10,                                                                                   \
             600000},                                                                              \
            {"drain-timeout",                                                                      \
             "FAKEAPP_DRAIN_TIMEOUT",                                                              \
             FLAG_DURATION,                                                                        \
             &(c)->drain_ms,                                                                       \
             "on SIGTERM: time to finish requests and flush queued events (default 5s)",           \
             0,                                                                                    \
             600000},                                                                              \
            {"store-channels",                                                                     \
             "FAKEAPP_STORE_CHANNELS",                                                             \
             FLAG_BOOL,                                                                            \
             &(c)->store_channels,                                                                 \
             "announce a product that has a store on channel store-<store>, not to everyone",      \
             0,                                                                                    \
             0},                                                                                   \
            {"client-jwt-secret",                                                                  \
             "FAKEAPP_CLIENT_JWT_SECRET",                                                          \
             FLAG_STR,                                                                             \
             &(c)->client_jwt_secret,                                                              \
             "GET /token mints the page's relay token (HS256) with it; the relay's secret",        \
             0,                                                                                    \
             0},                                                                                   \
            {"client-jwt-ttl",                                                                     \
             "FAKEAPP_CLIENT_JWT_TTL",                                                             \
             FLAG_DURATION,                                                                        \
             &(c)->client_jwt_ttl_ms,                                                              \
             "lifetime of a token from GET /token (default 1h)",                                   \
             10000,                                                                                \
             86400000},                                                                            \
            {"emit-delay",                                                                         \
             "FAKEAPP_EMIT_DELAY",                                                                 \
             FLAG_DURATION,                                                                        \
             &(c)->emit_delay_ms,                                                                  \
             "lab only: after storing a product, wait this long before announcing it (default 0)", \
             0,                                                                                    \
             60000},                                                                               \
            {"sio-client",                                                                         \
             "FAKEAPP_SIO_CLIENT",                                                                 \
             FLAG_STR,                                                                             \
             &(c)->sio_client,                                                                     \
             "socket.io-client's dist/socket.io.min.js for the page at / (default: "               \
             "web/socket.io-client/ next to the program, copied there by make)",                   \
             0,                                                                                    \
             0},                                                                                   \
    }

static void defaults(struct fakeapp_config *c)
{
    memset(c, 0, sizeof *c);
    c->port = 3000;
    c->ws_port = 3001;
    c->bind = "0.0.0.0";
    c->mongo_uri = "mongodb://127.0.0.1:27017/?replicaSet=rs0";
    c->db = "relaylab";
    c->ws_mode_name = "embedded";
    c->relay_url = "http://127.0.0.1:8081/emit";
    c->log_level = "info";
    c->http_threads = 4;
    c->max_body = 16 * 1024;
    c->db_timeout_ms = 3000;
    c->emit_queue = 10000;
    c->emit_retries = 8; /* backoff caps at 2 s: ~6 s of retrying rides out a relay failover */
    c->emit_timeout_ms = 2000;
    c->drain_ms = 5000;
    c->client_jwt_ttl_ms = 3600 * 1000;
}

const char *fakeapp_ws_mode_name(enum fakeapp_ws_mode m)
{
    switch (m) {
    case FAKEAPP_WS_EMBEDDED:
        return "embedded";
    case FAKEAPP_WS_RELAY:
        return "relay";
    case FAKEAPP_WS_NONE:
        return "none";
    }
    return "none";
}

/* 1 when s is 1..63 characters of [A-Za-z0-9._-]: safe in a header and in a log line. */
static int pod_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

static int db_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return 0;
    return strpbrk(s, "/\\. \"$") == NULL;
}

int fakeapp_config_parse(struct fakeapp_config *c, int argc, char **argv, char *err, size_t errlen)
{
    defaults(c);
    struct flag flags[] = FAKEAPP_FLAGS(c);
    int r = flags_parse_program(flags, sizeof flags / sizeof flags[0], argc, argv, err, errlen);
    if (r != 0)
        return r;
    enum log_level lvl;
    if (log_level_from_flag(c->log_level, &lvl, err, errlen) != 0)
        return -1;
    if (strcmp(c->ws_mode_name, "embedded") == 0) {
        c->ws_mode = FAKEAPP_WS_EMBEDDED;
    } else if (strcmp(c->ws_mode_name, "relay") == 0) {
        c->ws_mode = FAKEAPP_WS_RELAY;
    } else if (strcmp(c->ws_mode_name, "none") == 0) {
        c->ws_mode = FAKEAPP_WS_NONE;
    } else {
        snprintf(err, errlen, "--ws-mode must be embedded, relay or none, got '%s'",
                 c->ws_mode_name);
        return -1;
    }
    if (c->ws_mode == FAKEAPP_WS_EMBEDDED && c->ws_port != 0 && c->ws_port == c->port) {
        snprintf(err, errlen, "--port and --ws-port must differ (both %ld)", c->port);
        return -1;
    }
    if (c->client_jwt_secret && *c->client_jwt_secret == '\0')
        c->client_jwt_secret = NULL;
    if (c->client_jwt_secret && strlen(c->client_jwt_secret) < 32) {
        snprintf(err, errlen, "--client-jwt-secret must be at least 32 bytes (RFC 7518 3.2)");
        return -1;
    }
    if (c->ws_mode == FAKEAPP_WS_RELAY && strncmp(c->relay_url, "http://", 7) != 0 &&
        strncmp(c->relay_url, "https://", 8) != 0) {
        snprintf(err, errlen, "--relay-url must start with http:// or https://, got '%s'",
                 c->relay_url);
        return -1;
    }
    if (strncmp(c->mongo_uri, "mongodb://", 10) != 0 &&
        strncmp(c->mongo_uri, "mongodb+srv://", 14) != 0) {
        snprintf(err, errlen, "--mongo-uri must start with mongodb://");
        return -1;
    }
    if (!db_valid(c->db)) {
        snprintf(err, errlen, "--db must be 1-63 characters without / \\ . space \" $");
        return -1;
    }
    if (c->pod && *c->pod == '\0')
        c->pod = NULL;
    if (c->pod && !pod_valid(c->pod)) {
        snprintf(err, errlen, "--pod must be 1-63 characters of [A-Za-z0-9._-], got '%.80s'",
                 c->pod);
        return -1;
    }
    if (c->write_concern == NULL || strcmp(c->write_concern, "majority") == 0) {
        c->write_w = 0;
    } else {
        char *end;
        long w = strtol(c->write_concern, &end, 10);
        if (end == c->write_concern || *end != '\0' || w < 1 || w > 50) {
            snprintf(err, errlen, "--write-concern must be majority or 1-50, got '%.40s'",
                     c->write_concern);
            return -1;
        }
        c->write_w = (int)w;
    }
    if (c->relay_token && *c->relay_token == '\0')
        c->relay_token = NULL;
    if (c->sio_client && *c->sio_client == '\0')
        c->sio_client = NULL;
    return 0;
}

void fakeapp_config_usage(FILE *out)
{
    struct fakeapp_config c;
    struct flag flags[] = FAKEAPP_FLAGS(&c);
    flags_usage(
        out, "fakeapp [flags]",
        "relaylab fakeapp: the product app. POST /products stores a product in MongoDB\n"
        "(unique req_id, w:majority unless --write-concern says otherwise, retryable writes)\n"
        "and announces it as new_product:\n"
        "  embedded  on its own websocket port, to its own clients only (the broken setup)\n"
        "  relay     by POST /emit to the relay, which reaches every client (the fix)\n"
        "  none      not at all (the relay's --watch announces the insert)\n"
        "API: POST /products, GET /products?limit=N|req_id=X, GET /products/<id>,\n"
        "GET /token, GET /healthz, GET /readyz, GET /metrics; GET / is the product page\n"
        "(live over Socket.IO), GET /socket.io/socket.io.js its client bundle.\n"
        "SIGTERM: stop accepting, finish requests, flush, exit 0.",
        flags, sizeof flags / sizeof flags[0]);
}
