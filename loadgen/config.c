#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "template.h"

static const char run_synopsis[] =
    "loadgen run --target http://HOST:PORT [--clients N] [--rate R] [--duration 30s | --requests "
    "N]\n"
    "            [--source-ips 127.0.0.10-127.0.0.250 | N] [--history F] [--json F] [--junit F]\n"
    "            [--expect EXPR]...";
static const char run_description[] =
    "Opens N clients, plain websocket or Socket.IO (each bound to its own source address when\n"
    "asked), creates products with POST on a fixed open-model schedule (the app's API is\n"
    "described by --products-path, --body, --event, --id-path; fakeapp's by default), records\n"
    "a JSON-lines history and checks it: entitled, received, lost, duplicated, out-of-order\n"
    "and unexpected events, latency from the scheduled send time. Exit 0 when every --expect\n"
    "holds, 1 otherwise, 2 on usage errors. See docs/loadgen.md.";
static const char check_synopsis[] =
    "loadgen check HISTORY... [--json F] [--junit F] [--details] [--expect EXPR]...";
static const char check_description[] =
    "Checks a history written by `loadgen run` (same report, same expectations). Several\n"
    "histories are the shards of one run (loadgen run --shard I/K) and get one verdict.";

/* ---------------------------------------------------------------------------------------
 * The lab's block: sharded runs, the start gate, post-run verification and the checker's
 * options (owned by the lab; the rest of this file is the run's own configuration).
 */

static void lab_defaults(struct lg_config *c)
{
    c->shard_text = "";
    c->start_gate = "";
    c->gate_timeout_ms = 120000;
    c->verify_path = "";
    c->skew_margin_ms = 50;
    c->facts = "";
}

#define LAB_RUN_FLAGS 5
static size_t lab_run_flags(struct lg_config *c, struct flag *f)
{
    struct flag t[LAB_RUN_FLAGS] = {
        {"shard", "LOADGEN_SHARD", FLAG_STR, &c->shard_text,
         "I/K: be shard I of K (0-based): a K-th of the clients, requests and rate", 0, 0},
        {"start-gate", "LOADGEN_START_GATE", FLAG_STR, &c->start_gate,
         "after warmup, start sending only once this file exists", 0, 0},
        {"gate-timeout", "LOADGEN_GATE_TIMEOUT", FLAG_DURATION, &c->gate_timeout_ms,
         "wait at most this long for --start-gate (2m)", 1, 3600000},
        {"verify-path", "LOADGEN_VERIFY_PATH", FLAG_STR, &c->verify_path,
         "after the run GET this ({{req_id}} replaced) for unknown outcomes", 0, 0},
        {"verify-all", "LOADGEN_VERIFY_ALL", FLAG_BOOL, &c->verify_all,
         "verify acknowledged requests too (default false)", 0, 0},
    };
    memcpy(f, t, sizeof t);
    return LAB_RUN_FLAGS;
}

/* The checker's own flags, for `check`. */
static size_t lab_check_flags(struct lg_config *c, struct flag *f)
{
    struct flag t[] = {
        {"skew-margin", "LOADGEN_SKEW_MARGIN", FLAG_DURATION, &c->skew_margin_ms,
         "guard band for entitlement across shards (50ms)", 0, 600000},
        {"facts", "LOADGEN_FACTS", FLAG_STR, &c->facts,
         "JSON object of the lab's observations, judged as lab.* (a fault's record)", 0, 0},
    };
    memcpy(f, t, sizeof t);
    return sizeof t / sizeof t[0];
}

/* Keeps the addresses of positions index, index + count, ... (or one, when too few). */
static void shard_source_ips(struct lg_config *c)
{
    if (c->nips == 0)
        return;
    size_t k = (size_t)c->shard_count, i = (size_t)c->shard_index, n = 0;
    if (c->nips < k) {
        memmove(c->ips[0], c->ips[i % c->nips], sizeof c->ips[0]);
        c->nips = 1;
        return;
    }
    for (size_t j = i; j < c->nips; j += k)
        memmove(c->ips[n++], c->ips[j], sizeof c->ips[0]);
    c->nips = n;
}

/*
 * --shard I/K: this process runs the I-th share of the workload the other flags describe:
 * clients and requests split as evenly as possible (the first shards take the remainders),
 * the rate divided by K, every K-th source address. The shards' histories are judged
 * together by `loadgen check H0 ... HK-1`.
 */
static int lab_finish_run(struct lg_config *c, char *err, size_t errlen)
{
    if (*c->shard_text == '\0')
        return 0;
    char *end;
    long i = strtol(c->shard_text, &end, 10);
    long k = *end == '/' ? strtol(end + 1, &end, 10) : 0;
    if (*end != '\0' || k < 1 || k > 65535 || i < 0 || i >= k) {
        snprintf(err, errlen, "--shard expects I/K with 0 <= I < K <= 65535, got '%s'",
                 c->shard_text);
        return -1;
    }
    if (c->clients < k) {
        snprintf(err, errlen, "--shard %s: fewer clients (%ld) than shards", c->shard_text,
                 c->clients);
        return -1;
    }
    c->shard_index = i;
    c->shard_count = k;
    c->clients = c->clients / k + (i < c->clients % k);
    if (c->rate > 0) {
        long total =
            c->requests > 0 ? c->requests : (long)floor(c->rate * (double)c->duration_ms / 1000.0);
        long mine = total / k + (i < total % k);
        c->rate /= (double)k;
        if (mine > 0)
            c->requests = mine;
        else
            c->rate = 0; /* nothing to send: listen for --duration like the others */
    }
    shard_source_ips(c);
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * end of the lab's block */

static void set_defaults(struct lg_config *c)
{
    memset(c, 0, sizeof *c);
    c->target = "";
    c->ws_target = "";
    c->ws_path = ""; /* /websocket-service, or /socket.io/ with --protocol socketio */
    c->products_path = "/products";
    c->host_header = "";
    c->source_ips = "";
    c->clients = 100;
    c->rate_text = "10";
    c->duration_ms = 10000;
    c->warmup_ms = 10000;
    c->settle_ms = 2000;
    c->request_timeout_ms = 5000;
    c->reconnect_min_ms = 100;
    c->reconnect_max_ms = 5000;
    c->connect_rate = 2000;
    c->max_inflight = 1000;
    c->resume = 1;
    c->reconnect_paced = 1;
    c->progress = 1;
    c->req_prefix = "";
    c->protocol_text = "plain";
    c->transport_text = "";
    c->event = "new_product";
    c->id_path = "req_id";
    c->event_key = "event";
    c->data_key = "data";
    c->body = "";
    c->header = "";
    c->cookies = 1;
    c->channel_prefix = "store-";
    c->history = "";
    c->json = "";
    c->junit = "";
    c->log_level = "info";
    lab_defaults(c);
}

#define F(n, e, t, d, h, lo, hi)                                                                   \
    {                                                                                              \
        n, "LOADGEN_" e, t, d, h, lo, hi                                                           \
    }

/* Flags common to both subcommands come last so both tables share their wording. */
static size_t run_flags(struct lg_config *c, struct flag *f)
{
    struct flag t[] = {
        F("target", "TARGET", FLAG_STR, &c->target, "base URL for POST /products and the websocket",
          0, 0),
        F("ws-target", "WS_TARGET", FLAG_STR, &c->ws_target, "websocket base URL when not --target",
          0, 0),
        F("ws-path", "WS_PATH", FLAG_STR, &c->ws_path,
          "client path (default /websocket-service; /socket.io/ with socketio)", 0, 0),
        F("protocol", "PROTOCOL", FLAG_STR, &c->protocol_text,
          "client protocol: plain (JSON frames) or socketio", 0, 0),
        F("transport", "TRANSPORT", FLAG_STR, &c->transport_text,
          "socketio: polling, websocket, or polling,websocket (default, as browsers)", 0, 0),
        F("cookies", "COOKIES", FLAG_BOOL, &c->cookies,
          "keep each client's cookies, send them back (default true)", 0, 0),
        F("products-path", "PRODUCTS_PATH", FLAG_STR, &c->products_path,
          "path products are POSTed to", 0, 0),
        F("body", "BODY", FLAG_STR, &c->body,
          "JSON body template: {{req_id}} {{i}} {{n}} {{store}} {{price}} (default fakeapp's)", 0,
          0),
        F("header", "HEADER", FLAG_STR, &c->header,
          "'Name: value' sent with each create request (an API key, Authorization)", 0, 0),
        F("event", "EVENT", FLAG_STR, &c->event,
          "event name to count (default new_product; empty = every event)", 0, 0),
        F("id-path", "ID_PATH", FLAG_STR, &c->id_path,
          "where the request id is in the event's data, dotted (default req_id)", 0, 0),
        F("event-key", "EVENT_KEY", FLAG_STR, &c->event_key,
          "plain frames: the member naming the event (default event)", 0, 0),
        F("data-key", "DATA_KEY", FLAG_STR, &c->data_key,
          "plain frames: the member holding the event's data (default data)", 0, 0),
        F("channels", "CHANNELS", FLAG_INT, &c->channels,
          "K: client c joins PREFIX<c%K>, request i goes to PREFIX<i%K> (0 = broadcast)", 0,
          LG_MAX_CHANNELS),
        F("channel-prefix", "CHANNEL_PREFIX", FLAG_STR, &c->channel_prefix,
          "channel name prefix (default store-)", 0, 0),
        F("host-header", "HOST_HEADER", FLAG_STR, &c->host_header, "Host: header for both paths", 0,
          0),
        F("clients", "CLIENTS", FLAG_INT, &c->clients, "clients (default 100)", 0, 19000),
        F("threads", "THREADS", FLAG_INT, &c->threads, "client threads (default one per core)", 0,
          256),
        F("rate", "RATE", FLAG_STR, &c->rate_text, "products created per second (default 10)", 0,
          0),
        F("duration", "DURATION", FLAG_DURATION, &c->duration_ms, "how long to send (default 10s)",
          0, 0),
        F("requests", "REQUESTS", FLAG_INT, &c->requests, "send exactly N requests instead", 1,
          100000000),
        F("source-ips", "SOURCE_IPS", FLAG_STR, &c->source_ips,
          "source address pool: A-B, list, or count N", 0, 0),
        F("warmup", "WARMUP", FLAG_DURATION, &c->warmup_ms,
          "wait at most this long for all clients (10s)", 0, 0),
        F("settle", "SETTLE", FLAG_DURATION, &c->settle_ms,
          "wait after the last answer for frames (2s)", 0, 0),
        F("request-timeout", "REQUEST_TIMEOUT", FLAG_DURATION, &c->request_timeout_ms,
          "per request (5s)", 1, 600000),
        F("reconnect-min", "RECONNECT_MIN", FLAG_DURATION, &c->reconnect_min_ms,
          "first reconnect backoff (100ms)", 1, 600000),
        F("reconnect-max", "RECONNECT_MAX", FLAG_DURATION, &c->reconnect_max_ms,
          "largest reconnect backoff (5s)", 1, 600000),
        F("ping-interval", "PING_INTERVAL", FLAG_DURATION, &c->ping_interval_ms,
          "plain: PING a server silent this long (0 = never, a browser's WebSocket)", 0, 600000),
        F("ping-timeout", "PING_TIMEOUT", FLAG_DURATION, &c->ping_timeout_ms,
          "plain: still silent this long after the PING: drop, reconnect (= --ping-interval)", 0,
          600000),
        F("connect-rate", "CONNECT_RATE", FLAG_INT, &c->connect_rate,
          "new connections per second (2000)", 1, 1000000),
        F("reconnect-paced", "RECONNECT_PACED", FLAG_BOOL, &c->reconnect_paced,
          "reconnects share --connect-rate with first connects (default true); false: each "
          "client's backoff alone, as a fleet of browsers",
          0, 0),
        F("max-inflight", "MAX_INFLIGHT", FLAG_INT, &c->max_inflight,
          "requests in flight at most (1000)", 1, 100000),
        F("resume", "RESUME", FLAG_BOOL, &c->resume,
          "resume after a reconnect: ?since=N&epoch=E, Socket.IO pid/offset (default true)", 0, 0),
        F("req-prefix", "REQ_PREFIX", FLAG_STR, &c->req_prefix,
          "req_id prefix (default random per run)", 0, 0),
        F("progress", "PROGRESS", FLAG_BOOL, &c->progress, "live line on a terminal (default true)",
          0, 0),
        F("history", "HISTORY", FLAG_STR, &c->history, "keep the JSON-lines history in this file",
          0, 0),
    };
    memcpy(f, t, sizeof t);
    return sizeof t / sizeof t[0];
}

static size_t common_flags(struct lg_config *c, struct flag *f)
{
    struct flag t[] = {
        F("json", "JSON", FLAG_STR, &c->json, "write the JSON report here", 0, 0),
        F("junit", "JUNIT", FLAG_STR, &c->junit, "write JUnit XML here (one case per --expect)", 0,
          0),
        F("details", "DETAILS", FLAG_BOOL, &c->details, "per-client entries in the JSON report", 0,
          0),
        /* Taken out of argv before the parse (repeatable); listed for --help only. */
        {"expect", NULL, FLAG_STR, NULL,
         "NAME OP NUMBER, repeatable [env LOADGEN_EXPECT, ';'-separated]", 0, 0},
        F("log-level", "LOG_LEVEL", FLAG_STR, &c->log_level, "debug, info, warn, error", 0, 0),
    };
    memcpy(f, t, sizeof t);
    return sizeof t / sizeof t[0];
}

static int add_expect(struct lg_config *c, const char *s, char *err, size_t errlen)
{
    if (c->nexpects == LG_MAX_EXPECTS) {
        snprintf(err, errlen, "at most %d --expect", LG_MAX_EXPECTS);
        return -1;
    }
    if (lg_expect_parse(s, &c->expects[c->nexpects], err, errlen) != 0)
        return -1;
    c->nexpects++;
    return 0;
}

/* Takes the repeatable --expect out of argv (into c) before the table-driven parse. */
static int take_expects(struct lg_config *c, int argc, char **argv, char **rest, int *nrest,
                        char *err, size_t errlen)
{
    const char *env = getenv("LOADGEN_EXPECT");
    if (env && *env) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", env);
        char *save = NULL;
        for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
            if (add_expect(c, tok, err, errlen) != 0)
                return -1;
    }
    *nrest = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                rest[(*nrest)++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--expect") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--expect needs a value");
                return -1;
            }
            if (add_expect(c, argv[++i], err, errlen) != 0)
                return -1;
        } else if (strncmp(argv[i], "--expect=", 9) == 0) {
            if (add_expect(c, argv[i] + 9, err, errlen) != 0)
                return -1;
        } else {
            rest[(*nrest)++] = argv[i];
        }
    }
    return 0;
}

int lg_parse_endpoint(const char *url, struct lg_endpoint *e, char *err, size_t errlen)
{
    const char *p = url;
    int port = 80;
    if (strncmp(p, "http://", 7) == 0 || strncmp(p, "ws://", 5) == 0) {
        p = strchr(p, '/') + 2;
    } else if (strstr(p, "://") != NULL) {
        snprintf(err, errlen, "'%s': only http:// and ws:// targets are supported", url);
        return -1;
    }
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof e->host) {
        snprintf(err, errlen, "'%s': missing or overlong host", url);
        return -1;
    }
    memcpy(e->host, p, hl);
    e->host[hl] = '\0';
    p += hl;
    if (*p == ':') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 1 || v > 65535 || (*end != '\0' && *end != '/')) {
            snprintf(err, errlen, "'%s': bad port", url);
            return -1;
        }
        port = (int)v;
    }
    e->port = port;
    return 0;
}

static int parse_ipv4(const char *s, size_t len, uint32_t *out)
{
    char buf[16];
    struct in_addr a;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, &a) != 1)
        return -1;
    *out = ntohl(a.s_addr);
    return 0;
}

static int push_ip(uint32_t ip, char (**v)[16], size_t *n, size_t *cap)
{
    if (*n >= LG_MAX_SOURCE_IPS)
        return -1;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char(*p)[16] = realloc(*v, nc * sizeof *p);
        if (p == NULL)
            return -1;
        *v = p;
        *cap = nc;
    }
    struct in_addr a = {.s_addr = htonl(ip)};
    inet_ntop(AF_INET, &a, (*v)[*n], 16);
    (*n)++;
    return 0;
}

long lg_parse_source_ips(const char *spec, char (**out)[16], char *err, size_t errlen)
{
    char(*v)[16] = NULL;
    size_t n = 0, cap = 0;
    *out = NULL;
    if (spec == NULL || *spec == '\0')
        return 0;
    if (strspn(spec, "0123456789") == strlen(spec)) {
        long count = strtol(spec, NULL, 10);
        if (count < 1 || count > LG_MAX_SOURCE_IPS) {
            snprintf(err, errlen, "--source-ips %s: a count must be 1..%d", spec,
                     LG_MAX_SOURCE_IPS);
            return -1;
        }
        for (long i = 0; i < count; i++) {
            if (push_ip(0x7f00000aU + (uint32_t)i, &v, &n, &cap) != 0)
                goto oom;
        }
        *out = v;
        return (long)n;
    }
    for (const char *p = spec; *p;) {
        size_t len = strcspn(p, ",");
        const char *dash = memchr(p, '-', len);
        uint32_t a, b;
        if (dash ? (parse_ipv4(p, (size_t)(dash - p), &a) != 0 ||
                    parse_ipv4(dash + 1, len - (size_t)(dash - p) - 1, &b) != 0)
                 : parse_ipv4(p, len, &a) != 0) {
            snprintf(err, errlen, "--source-ips: '%.*s' is not an IPv4 address or A-B range",
                     (int)len, p);
            free(v);
            return -1;
        }
        if (!dash)
            b = a;
        if (b < a || b - a >= LG_MAX_SOURCE_IPS) {
            snprintf(err, errlen, "--source-ips: range '%.*s' is empty or too large", (int)len, p);
            free(v);
            return -1;
        }
        for (uint64_t ip = a; ip <= b; ip++)
            if (push_ip((uint32_t)ip, &v, &n, &cap) != 0)
                goto oom;
        p += len;
        if (*p == ',')
            p++;
    }
    *out = v;
    return (long)n;
oom:
    snprintf(err, errlen, "--source-ips: more than %d addresses", LG_MAX_SOURCE_IPS);
    free(v);
    return -1;
}

/* 1 when s has only [A-Za-z0-9_.:-] (the charset of request ids and channel names). */
static int charset_ok(const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (!((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || ch == '_' ||
              ch == '.' || ch == ':' || ch == '-'))
            return 0;
    }
    return 1;
}

/* A JSON member name a frame is matched on as written: 1..64 of [A-Za-z0-9_$@-]. */
static int member_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 64)
        return 0;
    for (; *k; k++)
        if (!((*k >= '0' && *k <= '9') || ((*k | 0x20) >= 'a' && (*k | 0x20) <= 'z') || *k == '_' ||
              *k == '-' || *k == '$' || *k == '@'))
            return 0;
    return 1;
}

/* A dotted path: segments of 1..64 characters without '.', at most 8 of them. */
static int id_path_ok(const char *p)
{
    int segs = 0;
    size_t len = strlen(p);
    if (len == 0 || len > 128)
        return 0;
    for (const char *s = p;; s++) {
        size_t n = strcspn(s, ".");
        if (n == 0 || n > 64 || ++segs > 8)
            return 0;
        s += n;
        if (*s == '\0')
            return 1;
    }
}

/* 1 when h is "Name: value": a token name, then printable text (no CR/LF), 1..1024 chars. */
static int header_ok(const char *h)
{
    size_t name = strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                            "!#$%&'*+-.^_`|~");
    if (name == 0 || h[name] != ':' || strlen(h) > 1024)
        return 0;
    for (const char *p = h + name + 1; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return 0;
    return 1;
}

/* The app-API settings: protocol, transports, event, id path, body template, channels. */
static int finish_app_api(struct lg_config *c, char *err, size_t errlen)
{
    if (strcmp(c->protocol_text, "plain") == 0) {
        c->protocol = LG_PROTO_PLAIN;
    } else if (strcmp(c->protocol_text, "socketio") == 0) {
        c->protocol = LG_PROTO_SOCKETIO;
    } else {
        snprintf(err, errlen, "--protocol must be plain or socketio, got '%s'", c->protocol_text);
        return -1;
    }
    const char *t = c->transport_text;
    if (c->protocol == LG_PROTO_PLAIN && *t && strcmp(t, "websocket") != 0) {
        snprintf(err, errlen, "--transport %s needs --protocol socketio", t);
        return -1;
    }
    if (*t == '\0' || strcmp(t, "polling,websocket") == 0) {
        c->polling = c->protocol == LG_PROTO_SOCKETIO;
        c->websocket = 1;
    } else if (strcmp(t, "polling") == 0) {
        c->polling = 1;
    } else if (strcmp(t, "websocket") == 0) {
        c->websocket = 1;
    } else {
        snprintf(err, errlen,
                 "--transport must be polling, websocket or polling,websocket, got '%s'", t);
        return -1;
    }
    if (*c->ws_path == '\0')
        c->ws_path = c->protocol == LG_PROTO_SOCKETIO ? "/socket.io/" : "/websocket-service";
    if (strlen(c->event) > 128) {
        snprintf(err, errlen, "--event is limited to 128 characters");
        return -1;
    }
    if (!id_path_ok(c->id_path)) {
        snprintf(err, errlen, "--id-path '%s': want dotted names like req_id or product.id",
                 c->id_path);
        return -1;
    }
    if (!member_ok(c->event_key) || !member_ok(c->data_key) ||
        strcmp(c->event_key, c->data_key) == 0) {
        snprintf(err, errlen,
                 "--event-key '%s', --data-key '%s': want two different member names of 1..64 "
                 "letters, digits, '_', '-', '$' or '@'",
                 c->event_key, c->data_key);
        return -1;
    }
    if (*c->body == '\0')
        c->body = c->channels > 0 ? lg_template_default_store : lg_template_default;
    if (lg_template_check(c->body, err, errlen) != 0)
        return -1;
    if (*c->header && !header_ok(c->header)) {
        snprintf(err, errlen,
                 "--header '%.80s': want 'Name: value' on one line, 1..1024 characters", c->header);
        return -1;
    }
    if (!charset_ok(c->channel_prefix) || strlen(c->channel_prefix) + 6 > LG_CHANNEL_MAX) {
        snprintf(err, errlen, "--channel-prefix is 0-%d characters of [A-Za-z0-9_.:-]",
                 LG_CHANNEL_MAX - 6);
        return -1;
    }
    return 0;
}

/* Checks and derives the run settings after the flags are in. */
static int finish_run(struct lg_config *c, char *err, size_t errlen)
{
    if (*c->target == '\0') {
        snprintf(err, errlen, "--target is required (e.g. --target http://127.0.0.1:8080)");
        return -1;
    }
    if (lg_parse_endpoint(c->target, &c->http, err, errlen) != 0)
        return -1;
    if (lg_parse_endpoint(*c->ws_target ? c->ws_target : c->target, &c->ws, err, errlen) != 0)
        return -1;
    char *end;
    errno = 0;
    c->rate = strtod(c->rate_text, &end);
    if (end == c->rate_text || *end != '\0' || errno != 0 || !isfinite(c->rate) || c->rate < 0 ||
        c->rate > 1e6) {
        snprintf(err, errlen, "--rate expects a number of requests per second, got '%s'",
                 c->rate_text);
        return -1;
    }
    if (c->requests > 0 && c->rate == 0) {
        snprintf(err, errlen, "--requests needs a --rate above 0");
        return -1;
    }
    if (finish_app_api(c, err, errlen) != 0)
        return -1;
    if (c->ws_path[0] != '/' || c->products_path[0] != '/') {
        snprintf(err, errlen, "--ws-path and --products-path must start with /");
        return -1;
    }
    if (c->reconnect_max_ms < c->reconnect_min_ms) {
        snprintf(err, errlen, "--reconnect-max must not be below --reconnect-min");
        return -1;
    }
    if ((c->ping_interval_ms > 0 || c->ping_timeout_ms > 0) && c->protocol != LG_PROTO_PLAIN) {
        snprintf(err, errlen,
                 "--ping-interval and --ping-timeout are for --protocol plain "
                 "(Socket.IO has its own heartbeat)");
        return -1;
    }
    if (c->ping_timeout_ms > 0 && c->ping_interval_ms == 0) {
        snprintf(err, errlen, "--ping-timeout needs --ping-interval");
        return -1;
    }
    if (c->ping_timeout_ms == 0)
        c->ping_timeout_ms = c->ping_interval_ms;
    if (strlen(c->req_prefix) > 32 || !charset_ok(c->req_prefix)) {
        snprintf(err, errlen, "--req-prefix is 0-32 characters of [A-Za-z0-9_.:-]");
        return -1;
    }
    long n = lg_parse_source_ips(c->source_ips, &c->ips, err, errlen);
    if (n < 0)
        return -1;
    c->nips = (size_t)n;
    return lab_finish_run(c, err, errlen);
}

int lg_config_parse(struct lg_config *c, int argc, char **argv, FILE *out, char *err, size_t errlen)
{
    set_defaults(c);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc >= 2) {
            fprintf(out, "usage: loadgen run ...   (loadgen run --help)\n"
                         "       loadgen check HISTORY ...   (loadgen check --help)\n");
            return 1;
        }
        snprintf(err, errlen, "missing subcommand: run or check (see --help)");
        return -1;
    }
    if (strcmp(argv[1], "run") == 0) {
        c->mode = LG_MODE_RUN;
    } else if (strcmp(argv[1], "check") == 0) {
        c->mode = LG_MODE_CHECK;
    } else {
        snprintf(err, errlen, "unknown subcommand '%s': run or check", argv[1]);
        return -1;
    }
    struct flag flags[64];
    size_t nf = c->mode == LG_MODE_RUN ? run_flags(c, flags) : 0;
    nf += c->mode == LG_MODE_RUN ? lab_run_flags(c, flags + nf) : lab_check_flags(c, flags + nf);
    nf += common_flags(c, flags + nf);
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (rest == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int nrest = 0;
    int rc = take_expects(c, argc - 1, argv + 1, rest, &nrest, err, errlen);
    /* check: every positional argument is a history (argv strings, kept by pointer). */
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    size_t npos = 0;
    enum flags_result fr = FLAGS_ERROR;
    if (rc == 0 && pos != NULL)
        fr = flags_parse(flags, nf, nrest, rest, pos, c->mode == LG_MODE_CHECK ? (size_t)argc : 0,
                         &npos, err, errlen);
    else if (rc == 0)
        snprintf(err, errlen, "out of memory");
    free(rest);
    if (rc != 0 || fr == FLAGS_ERROR) {
        free(pos);
        return -1;
    }
    if (fr == FLAGS_HELP) {
        free(pos);
        flags_usage(out, c->mode == LG_MODE_RUN ? run_synopsis : check_synopsis,
                    c->mode == LG_MODE_RUN ? run_description : check_description, flags, nf);
        return 1;
    }
    if (c->mode == LG_MODE_CHECK) {
        if (npos < 1) {
            free(pos);
            snprintf(err, errlen, "check needs at least one HISTORY file");
            return -1;
        }
        c->history = pos[0];
        c->histories = (const char **)pos;
        c->nhistories = npos;
        return 0;
    }
    free(pos);
    if (finish_run(c, err, errlen) != 0) {
        lg_config_cleanup(c);
        return -1;
    }
    return 0;
}

void lg_config_cleanup(struct lg_config *c)
{
    free(c->histories);
    c->histories = NULL;
    c->nhistories = 0;
    free(c->ips);
    c->ips = NULL;
    c->nips = 0;
}
