/*
 * relay_bench — measures a running relay with real libwebsockets clients.
 *
 *   relay_bench fanout WS_PORT HTTP_PORT CLIENTS RATES SECONDS
 *       For each event rate in RATES (comma-separated), emits events at that rate for
 *       SECONDS and prints deliveries/s and publish->receive latency percentiles.
 *       BENCH_TARGET=relay|nchan|socketio picks the server under test (default relay):
 *         relay    ws /websocket-service, POST HTTP_PORT/emit {"event","payload"}
 *         nchan    ws /sub, POST WS_PORT/pub with the whole frame as the message
 *         socketio ws /socket.io/?EIO=4&transport=websocket, POST HTTP_PORT/emit (bench/socketio)
 *   relay_bench idle WS_PORT HTTP_PORT CLIENTS RELAY_PID
 *       Prints the relay's RSS before and after CLIENTS idle connections, and per connection.
 *
 * Latency: each event carries its publish time (CLOCK_MONOTONIC, shared by processes on one
 * machine); a client records now - ts on receipt into one histogram.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "hist.h"
#include "wsclient.h"

static int ws_port, http_port;
enum target { T_RELAY, T_NCHAN, T_SOCKETIO };
static enum target target = T_RELAY;
static const char *event_name = "bench"; /* BENCH_EVENT: new_product makes loadgen count them */
static char frame_prefix[96];            /* {"event":"<event_name>" */
static uint64_t frames;
static int opened, closed_early;
static struct hist *lat;

static uint64_t mono_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void on_open(struct wsc *c, void *ud)
{
    (void)ud;
    if (target == T_SOCKETIO)
        wsc_send_text(c, "40", 2); /* Socket.IO: join the default namespace */
    else
        opened++;
}

static void on_message(struct wsc *c, const char *d, size_t n, int binary, void *ud)
{
    (void)ud;
    (void)binary;
    uint64_t ts;
    if (target == T_SOCKETIO) {
        /* Engine.IO: "2" is a ping to answer with "3"; "40{...}" acknowledges the namespace;
         * events arrive as 42["bench",{...}]. */
        if (n == 1 && d[0] == '2') {
            wsc_send_text(c, "3", 1);
            return;
        }
        if (n >= 2 && d[0] == '4' && d[1] == '0') {
            opened++;
            return;
        }
        if (!(n > 12 && memcmp(d, "42[\"bench\"", 10) == 0))
            return;
    } else if (!(n > 20 && strncmp(d, frame_prefix, strlen(frame_prefix)) == 0)) {
        return;
    }
    if (envelope_scan_u64(d, n, "ts", &ts) == 0) {
        frames++;
        uint64_t now = mono_us();
        hist_record(lat, now > ts ? now - ts : 0);
    }
}

static void on_close(struct wsc *c, int code, const char *reason, void *ud)
{
    (void)c;
    (void)code;
    (void)reason;
    (void)ud;
    closed_early++;
}

static const struct wsc_callbacks cbs = {on_open, on_message, on_close, NULL};

struct emitter {
    double rate;
    double seconds;
    atomic_int done;
    uint64_t sent, failed, late;
};

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

/* Emits at a fixed rate on its own thread; a send that is late is sent at once (open model). */
static void *emit_loop(void *arg)
{
    struct emitter *e = arg;
    CURL *curl = curl_easy_init();
    char url[96], body[256];
    if (target == T_NCHAN)
        snprintf(url, sizeof url, "http://127.0.0.1:%d/pub", ws_port);
    else
        snprintf(url, sizeof url, "http://127.0.0.1:%d/emit", http_port);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
    uint64_t start = mono_us();
    uint64_t total = (uint64_t)(e->rate * e->seconds);
    for (uint64_t k = 0; k < total; k++) {
        uint64_t due = start + (uint64_t)((double)k * 1e6 / e->rate);
        uint64_t now = mono_us();
        if (now < due)
            usleep((useconds_t)(due - now));
        else if (now - due > 10000)
            e->late++;
        int n = snprintf(body, sizeof body,
                         "{\"event\":\"%s\",\"%s\":{\"name\":\"p-%" PRIu64
                         "\",\"req_id\":\"bench-%" PRIu64 "\",\"price\":9.99,\"ts\":%" PRIu64 "}}",
                         event_name, target == T_NCHAN ? "data" : "payload", k, k, mono_us());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)n);
        long code = 0;
        if (curl_easy_perform(curl) == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300)
            e->sent++;
        else
            e->failed++;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    atomic_store(&e->done, 1);
    return NULL;
}

static struct wsc_pool *connect_all(int n)
{
    char err[256];
    struct wsc_pool *p = wsc_pool_new(n + 16, &cbs, NULL, err, sizeof err);
    if (p == NULL) {
        fprintf(stderr, "relay_bench: %s\n", err);
        exit(1);
    }
    const char *path = target == T_NCHAN      ? "/sub"
                       : target == T_SOCKETIO ? "/socket.io/?EIO=4&transport=websocket"
                                              : "/websocket-service";
    struct wsc_options o = {.host = "127.0.0.1", .port = ws_port, .path = path};
    uint64_t deadline = mono_us() + 60 * 1000000u;
    for (int i = 0; i < n; i++) {
        if (wsc_connect(p, &o, err, sizeof err) == NULL) {
            fprintf(stderr, "relay_bench: %s\n", err);
            exit(1);
        }
        if (i % 200 == 199)
            wsc_pool_service(p, 1);
    }
    while (opened < n && mono_us() < deadline)
        wsc_pool_service(p, 10);
    if (opened < n) {
        fprintf(stderr, "relay_bench: only %d of %d clients connected\n", opened, n);
        exit(1);
    }
    return p;
}

static int fanout(int n, const char *rates, double seconds)
{
    lat = hist_new();
    struct wsc_pool *p = connect_all(n);
    printf("%-10s %-10s %-14s %-14s %-9s %-9s %-9s %-9s %s\n", "clients", "events/s",
           "deliveries/s", "expected/s", "p50_ms", "p99_ms", "p999_ms", "max_ms", "lost");
    char *list = strdup(rates);
    int rc = 0;
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        struct emitter e = {.rate = atof(tok), .seconds = seconds};
        atomic_init(&e.done, 0);
        hist_reset(lat);
        frames = 0;
        pthread_t t;
        uint64_t t0 = mono_us();
        pthread_create(&t, NULL, emit_loop, &e);
        uint64_t expect = 0;
        uint64_t settle_until = 0;
        for (;;) {
            wsc_pool_service(p, 5);
            if (atomic_load(&e.done)) {
                expect = e.sent * (uint64_t)n;
                if (settle_until == 0)
                    settle_until = mono_us() + 3000000u;
                if (frames >= expect || mono_us() > settle_until)
                    break;
            }
        }
        uint64_t t1 = mono_us();
        pthread_join(t, NULL);
        double secs = (double)(t1 - t0) / 1e6;
        printf("%-10d %-10.0f %-14.0f %-14.0f %-9.2f %-9.2f %-9.2f %-9.2f %" PRIu64 "\n", n,
               (double)e.sent / secs, (double)frames / secs, (double)expect / secs,
               (double)hist_percentile(lat, 50) / 1000.0, (double)hist_percentile(lat, 99) / 1000.0,
               (double)hist_percentile(lat, 99.9) / 1000.0, (double)hist_max(lat) / 1000.0,
               expect > frames ? expect - frames : 0);
        fflush(stdout);
        if (e.failed || closed_early)
            fprintf(stderr, "relay_bench: %" PRIu64 " emits failed, %d clients closed\n", e.failed,
                    closed_early);
        if (expect > frames || closed_early)
            rc = 1;
    }
    free(list);
    wsc_pool_free(p);
    hist_free(lat);
    return rc;
}

static long rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static int idle(int n, int pid)
{
    lat = hist_new();
    /* Warm the relay's allocator and tables with a few connections first. */
    struct wsc_pool *warm = connect_all(50);
    wsc_pool_free(warm);
    opened = 0;
    sleep(1);
    long before = rss_kib(pid);
    struct wsc_pool *p = connect_all(n);
    for (int i = 0; i < 100; i++)
        wsc_pool_service(p, 10);
    long after = rss_kib(pid);
    printf("idle_clients=%d relay_rss_before_kib=%ld relay_rss_after_kib=%ld "
           "per_connection_bytes=%.0f\n",
           n, before, after, (double)(after - before) * 1024.0 / n);
    wsc_pool_free(p);
    hist_free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: relay_bench fanout WS HTTP CLIENTS RATES SECONDS\n"
                        "       relay_bench idle WS HTTP CLIENTS RELAY_PID\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (getenv("BENCH_EVENT") && *getenv("BENCH_EVENT"))
        event_name = getenv("BENCH_EVENT");
    snprintf(frame_prefix, sizeof frame_prefix, "{\"event\":\"%s\"", event_name);
    const char *t = getenv("BENCH_TARGET");
    if (t && strcmp(t, "nchan") == 0)
        target = T_NCHAN;
    else if (t && strcmp(t, "socketio") == 0)
        target = T_SOCKETIO;
    ws_port = atoi(argv[2]);
    http_port = atoi(argv[3]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 2;
    if (strcmp(argv[1], "fanout") == 0 && argc >= 7)
        rc = fanout(atoi(argv[4]), argv[5], atof(argv[6]));
    else if (strcmp(argv[1], "idle") == 0)
        rc = idle(atoi(argv[4]), atoi(argv[5]));
    curl_global_cleanup();
    return rc;
}
