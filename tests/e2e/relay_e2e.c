/*
 * relay_e2e — end-to-end checks of a running relay with real libwebsockets clients.
 *
 *   relay_e2e fanout  WS_PORT HTTP_PORT CLIENTS EVENTS
 *   relay_e2e resume  WS_PORT HTTP_PORT
 *   relay_e2e slow    WS_PORT HTTP_PORT        (relay started with a small --queue-limit)
 *   relay_e2e badws   WS_PORT HTTP_PORT
 *   relay_e2e onesegment WS_PORT HTTP_PORT
 *   relay_e2e truncated WS_PORT HTTP_PORT      (relay started with --history 10)
 *   relay_e2e shutdown WS_PORT HTTP_PORT PIDFILE
 *   relay_e2e closes WS_PORT HTTP_PORT PIDFILE (a relay of its own; stops it for moments)
 *   relay_e2e ping WS_PORT HTTP_PORT           (relay started with --ping-interval 1s)
 *   relay_e2e keepalive WS_PORT HTTP_PORT      (the same relay; takes 14 s)
 *   relay_e2e silent WS_PORT HTTP_PORT         (the same relay; takes 12-18 s)
 *
 * Prints "PASS: name" or "FAIL: name: why" lines; exits 0 only when all passed.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_data_segs_in */
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "e2e.h"
#include "envelope.h"
#include "wsclient.h"

#define MAXC 2000

struct client {
    int id;
    struct wsc *ws;
    int open, closed, close_code;
    char close_reason[128];
    uint64_t last_offset;
    int events, dups, disorder, bad;
    int connected_frames, recovery_frames, recovered;
    char epoch[40];
    uint64_t first_offset;
};

static struct client clients[MAXC];
static CURL *curl;
static int http_port, ws_port;

static void on_open(struct wsc *c, void *ud)
{
    (void)ud;
    struct client *cl = wsc_user(c);
    cl->open = 1;
}

static void on_message(struct wsc *c, const char *data, size_t len, int binary, void *ud)
{
    (void)ud;
    struct client *cl = wsc_user(c);
    struct envelope e;
    char err[128];
    if (binary || envelope_decode(data, len, &e, err, sizeof err) != 0) {
        cl->bad++;
        return;
    }
    if (strcmp(e.event, "_connected") == 0) {
        cl->connected_frames++;
        json_t *ep = json_object_get(e.data, "epoch");
        if (json_is_string(ep))
            snprintf(cl->epoch, sizeof cl->epoch, "%s", json_string_value(ep));
    } else if (strcmp(e.event, "_recovery") == 0) {
        cl->recovery_frames++;
        cl->recovered = json_is_true(json_object_get(e.data, "recovered"));
    } else if (strcmp(e.event, "new_product") == 0) {
        if (cl->events == 0)
            cl->first_offset = e.offset;
        if (e.offset == cl->last_offset)
            cl->dups++;
        else if (e.offset < cl->last_offset || (cl->last_offset && e.offset != cl->last_offset + 1))
            cl->disorder++;
        cl->last_offset = e.offset;
        cl->events++;
    } else {
        cl->bad++;
    }
    envelope_cleanup(&e);
}

static void on_close(struct wsc *c, int code, const char *reason, void *ud)
{
    (void)ud;
    struct client *cl = wsc_user(c);
    cl->closed = 1;
    cl->open = 0;
    cl->close_code = code;
    snprintf(cl->close_reason, sizeof cl->close_reason, "%s", reason ? reason : "");
    cl->ws = NULL;
}

static const struct wsc_callbacks cbs = {on_open, on_message, on_close, NULL, NULL};

static struct wsc_pool *pool_new(int n)
{
    char err[256];
    struct wsc_pool *p = wsc_pool_new(n + 8, &cbs, NULL, err, sizeof err);
    if (p == NULL) {
        fprintf(stderr, "pool: %s\n", err);
        exit(1);
    }
    return p;
}

static int connect_client(struct wsc_pool *p, int i, const char *path)
{
    char err[256];
    memset(&clients[i], 0, sizeof clients[i]);
    clients[i].id = i;
    struct wsc_options o = {
        .host = "127.0.0.1", .port = ws_port, .path = path, .user = &clients[i]};
    clients[i].ws = wsc_connect(p, &o, err, sizeof err);
    return clients[i].ws ? 0 : -1;
}

/* Services the pool until cond(i) holds for clients [from, to) or timeout_s passes. */
static int wait_for(struct wsc_pool *p, int from, int to, int (*cond)(struct client *, long),
                    long arg, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        int all = 1;
        for (int i = from; i < to; i++)
            if (!cond(&clients[i], arg)) {
                all = 0;
                break;
            }
        if (all)
            return 1;
        wsc_pool_service(p, 20);
    }
    return 0;
}

static int is_ready(struct client *c, long arg)
{
    (void)arg;
    return c->open && c->connected_frames >= 1;
}

static int has_events(struct client *c, long n)
{
    return c->events >= n || c->closed;
}

static int is_closed(struct client *c, long arg)
{
    (void)arg;
    return c->closed;
}

/* POSTs one event; returns the HTTP status (0 on transport error). */
static long emit(int seq, size_t pad)
{
    static char *body;
    static size_t cap;
    if (cap < pad + 256) {
        cap = pad + 256;
        body = realloc(body, cap);
    }
    int n =
        snprintf(body, cap, "{\"event\":\"new_product\",\"payload\":{\"seq\":%d,\"pad\":\"", seq);
    memset(body + n, 'x', pad);
    n += (int)pad;
    n += snprintf(body + n, cap - (size_t)n, "\"}}");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/emit", http_port);
    struct e2e_buf out = {.len = 0};
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)n);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, e2e_sink);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
    long code = 0;
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    return code;
}

static void test_fanout(int n, int events)
{
    struct wsc_pool *p = pool_new(n);
    for (int i = 0; i < n; i++)
        connect_client(p, i, "/websocket-service");
    int ready = wait_for(p, 0, n, is_ready, 0, 30);
    int nready = 0;
    for (int i = 0; i < n; i++)
        nready += is_ready(&clients[i], 0);
    check(ready, "fanout_connect", "%d of %d clients connected", nready, n);
    int sent_ok = 0;
    double t0 = now_s();
    for (int e = 0; e < events; e++) {
        sent_ok += emit(e, 16) == 202;
        wsc_pool_service(p, 0);
    }
    check(sent_ok == events, "fanout_emit_202", "%d of %d emits answered 202", sent_ok, events);
    wait_for(p, 0, n, has_events, events, 30);
    double dt = now_s() - t0;
    int complete = 0, dups = 0, disorder = 0, bad = 0, first_ok = 0, closed = 0;
    for (int i = 0; i < n; i++) {
        closed += clients[i].closed;
        complete += clients[i].events == events;
        dups += clients[i].dups;
        disorder += clients[i].disorder;
        bad += clients[i].bad;
        first_ok += clients[i].first_offset == clients[0].first_offset;
    }
    check(complete == n, "fanout_every_client_got_every_event",
          "%d of %d clients got all %d events (%d closed, first close code %d)", complete, n,
          events, closed, clients[0].close_code);
    check(dups == 0 && disorder == 0 && bad == 0, "fanout_once_in_order",
          "duplicates=%d out_of_order=%d malformed=%d", dups, disorder, bad);
    check(first_ok == n, "fanout_same_offsets", "clients disagree on the first offset");
    printf("info: fanout %d clients x %d events = %d deliveries in %.2fs\n", n, events, n * events,
           dt);
    wsc_pool_free(p);
}

static void test_resume(void)
{
    struct wsc_pool *p = pool_new(4);
    connect_client(p, 0, "/websocket-service");
    wait_for(p, 0, 1, is_ready, 0, 10);
    for (int e = 0; e < 5; e++)
        emit(e, 8);
    wait_for(p, 0, 1, has_events, 5, 10);
    uint64_t seen = clients[0].last_offset;
    char epoch[40];
    snprintf(epoch, sizeof epoch, "%s", clients[0].epoch);
    wsc_close(clients[0].ws, 1000, "bye");
    wait_for(p, 0, 1, is_closed, 0, 10);
    for (int e = 0; e < 20; e++)
        emit(100 + e, 8);
    char path[160];
    snprintf(path, sizeof path, "/websocket-service?since=%" PRIu64 "&epoch=%s", seen, epoch);
    connect_client(p, 1, path);
    wait_for(p, 1, 2, has_events, 20, 10);
    struct client *c = &clients[1];
    check(c->recovery_frames == 1 && c->recovered, "resume_recovered_frame",
          "recovery frames=%d recovered=%d", c->recovery_frames, c->recovered);
    check(c->events == 20 && c->first_offset == seen + 1 && c->last_offset == seen + 20 &&
              c->dups == 0 && c->disorder == 0,
          "resume_exactly_the_missed",
          "got %d events, offsets %" PRIu64 "..%" PRIu64 " (want 20, %" PRIu64 "..%" PRIu64 ")",
          c->events, c->first_offset, c->last_offset, seen + 1, seen + 20);
    /* Live events continue after the replay with no gap. */
    emit(999, 8);
    wait_for(p, 1, 2, has_events, 21, 10);
    check(c->events == 21 && c->last_offset == seen + 21 && c->disorder == 0, "resume_then_live",
          "events=%d last=%" PRIu64, c->events, c->last_offset);

    connect_client(p, 2, "/websocket-service?since=3&epoch=someotherepoch");
    wait_for(p, 2, 3, is_ready, 0, 10);
    wsc_pool_service(p, 100);
    check(clients[2].recovery_frames == 1 && !clients[2].recovered && clients[2].events == 0,
          "resume_wrong_epoch_told", "recovery=%d recovered=%d events=%d",
          clients[2].recovery_frames, clients[2].recovered, clients[2].events);
    emit(1000, 8);
    wait_for(p, 2, 3, has_events, 1, 10);
    check(clients[2].events == 1, "resume_wrong_epoch_then_live", "events=%d", clients[2].events);
    wsc_pool_free(p);
}

static void test_truncated(void)
{
    struct wsc_pool *p = pool_new(2);
    connect_client(p, 0, "/websocket-service");
    wait_for(p, 0, 1, is_ready, 0, 10);
    emit(1, 8);
    wait_for(p, 0, 1, has_events, 1, 10);
    uint64_t seen = clients[0].last_offset;
    char epoch[40];
    snprintf(epoch, sizeof epoch, "%s", clients[0].epoch);
    wsc_close(clients[0].ws, 1000, "bye");
    wait_for(p, 0, 1, is_closed, 0, 10);
    for (int e = 0; e < 30; e++) /* history holds 10: the reconnect cannot be covered */
        emit(e, 8);
    char path[160];
    snprintf(path, sizeof path, "/websocket-service?since=%" PRIu64 "&epoch=%s", seen, epoch);
    connect_client(p, 1, path);
    wait_for(p, 1, 2, is_ready, 0, 10);
    wsc_pool_service(p, 200);
    check(clients[1].recovery_frames == 1 && !clients[1].recovered && clients[1].events == 0,
          "truncated_history_told", "recovery=%d recovered=%d events=%d",
          clients[1].recovery_frames, clients[1].recovered, clients[1].events);
    wsc_pool_free(p);
}

static int slow_others_done(struct client *c, long n)
{
    return c->id == 0 || c->events >= n || c->closed;
}

static int slow_others_done_all(struct client *c, long n)
{
    return c->events >= n || c->closed;
}

static void test_slow(int n)
{
    const int events = 3000;
    struct wsc_pool *p = pool_new(n);
    for (int i = 0; i < n; i++)
        connect_client(p, i, "/websocket-service");
    wait_for(p, 0, n, is_ready, 0, 10);
    wsc_set_reading(clients[0].ws, 0); /* client 0 never reads again */
    double t0 = now_s();
    for (int e = 0; e < events; e++) {
        emit(e, 2000);
        wsc_pool_service(p, 0);
    }
    wait_for(p, 1, n, slow_others_done, events, 30);
    double dt = now_s() - t0;
    int complete = 0;
    for (int i = 1; i < n; i++)
        complete += clients[i].events == events && !clients[i].closed;
    check(complete == n - 1, "slow_others_unaffected", "%d of %d reading clients got all %d",
          complete, n - 1, events);
    /* A sanity bound on the whole run, not a speed test: the test process itself is the
     * limit here (it parses every frame of every client with jansson, about 70 ns a byte:
     * 8.5 s of its CPU for 20 readers, 33 s for 79, on the 2-core build machines; 10-16 s
     * and 30-45 s of wall time, beside other tests), so the bound grows with the readers. A
     * relay that held the readers back behind the one that does not read would have them
     * closed as slow too (slow_others_unaffected). */
    double bound = 30.0 * ((n - 1 + 19) / 20);
    check(dt < bound, "slow_others_full_rate", "took %.1fs (bound %.0fs for %d readers)", dt, bound,
          n - 1);
    /* Resume reading: the slow client must find its connection closed by the server. */
    wsc_set_reading(clients[0].ws, 1);
    wait_for(p, 0, 1, is_closed, 0, 10);
    check(clients[0].closed && clients[0].events < events, "slow_client_closed",
          "closed=%d code=%d events=%d", clients[0].closed, clients[0].close_code,
          clients[0].events);
    printf("info: slow client closed with code %d after %d events; others took %.2fs\n",
           clients[0].close_code, clients[0].events, dt);
    wsc_pool_free(p);
}

/*
 * A client that falls behind for a while, within --queue-limit, and then reads again gets
 * every event, even when the keepalive ping fell due while its socket was full and lws held
 * the tail of its events (the relay once closed it then as a failed write: lws returns what
 * it could send of its own tail, not the count of the ping it took). The relay runs with
 * --ping-interval 4s: client 0 stops reading and says nothing, 200 events of 30 KB (6 MB,
 * more than the socket buffers take) go out at once, and the first ping falls due 4-4.5 s
 * after it joined, on a full socket. At 6.5 s it reads again: it must get all 200, in
 * order, and not be closed. Client 1 reads throughout. Sending the 200 takes 0.2 s, and
 * 0.85 s in a sanitized run beside a CI run: they must all be out 1 s before the ping.
 */
static void test_backlog(void)
{
    const int events = 200;
    struct wsc_pool *p = pool_new(2);
    for (int i = 0; i < 2; i++)
        connect_client(p, i, "/websocket-service");
    wait_for(p, 0, 2, is_ready, 0, 10);
    double joined = now_s();
    wsc_set_reading(clients[0].ws, 0);
    for (int e = 0; e < events; e++) {
        emit(e, 30000);
        wsc_pool_service(p, 0);
    }
    double filled = now_s() - joined;
    while (now_s() < joined + 6.5)
        wsc_pool_service(p, 50);
    check(!clients[0].closed && clients[0].events < events && filled < 3.0, "backlog_held",
          "closed=%d events=%d of %d while not reading, sent in %.2f s (before the ping)",
          clients[0].closed, clients[0].events, events, filled);
    if (clients[0].ws)
        wsc_set_reading(clients[0].ws, 1);
    wait_for(p, 0, 2, slow_others_done_all, events, 15);
    check(!clients[0].closed && clients[0].events == events && clients[0].disorder == 0 &&
              clients[0].dups == 0,
          "backlog_survives_ping", "closed=%d code=%d (%s) events=%d of %d disorder=%d dups=%d",
          clients[0].closed, clients[0].close_code, clients[0].close_reason, clients[0].events,
          events, clients[0].disorder, clients[0].dups);
    check(clients[1].events == events, "backlog_reader_unaffected", "events=%d of %d",
          clients[1].events, events);
    wsc_pool_free(p);
}

static void test_badws(void)
{
    struct wsc_pool *p = pool_new(8);
    for (int i = 0; i < 4; i++)
        connect_client(p, i, "/websocket-service");
    wait_for(p, 0, 4, is_ready, 0, 10);
    char *big = malloc(200000);
    memset(big, 'a', 200000);
    wsc_send_text(clients[0].ws, big, 200000);
    free(big);
    /* A binary frame, hand-made: FIN+binary, masked, 3 bytes. */
    static const unsigned char bin[] = {0x82, 0x83, 1, 2, 3, 4, 'a' ^ 1, 'b' ^ 2, 'c' ^ 3};
    wsc_send_raw(clients[1].ws, bin, sizeof bin);
    static const char garbage[] = "\xff\xff\xff\xff GET / HTTP/1.1\r\n\r\n";
    wsc_send_raw(clients[2].ws, garbage, sizeof garbage - 1);
    wait_for(p, 0, 3, is_closed, 0, 10);
    check(clients[0].closed && clients[0].close_code == 1009, "badws_oversized_closed_1009",
          "closed=%d code=%d", clients[0].closed, clients[0].close_code);
    check(clients[1].closed && clients[1].close_code == 1003, "badws_binary_closed_1003",
          "closed=%d code=%d", clients[1].closed, clients[1].close_code);
    check(clients[2].closed, "badws_garbage_closed", "closed=%d", clients[2].closed);
    emit(1, 8);
    wait_for(p, 3, 4, has_events, 1, 10);
    check(!clients[3].closed && clients[3].events == 1, "badws_others_unaffected",
          "closed=%d events=%d", clients[3].closed, clients[3].events);
    wsc_pool_free(p);
}

/* The pid written in pidfile (by tests/e2e/lib.sh start_bg); 0 when there is none. */
static int read_pid(const char *pidfile)
{
    FILE *f = fopen(pidfile, "r");
    int pid = 0;
    if (f == NULL || fscanf(f, "%d", &pid) != 1 || pid < 0)
        pid = 0;
    if (f)
        fclose(f);
    return pid;
}

static void test_shutdown(const char *pidfile)
{
    struct wsc_pool *p = pool_new(10);
    for (int i = 0; i < 10; i++)
        connect_client(p, i, "/websocket-service");
    wait_for(p, 0, 10, is_ready, 0, 10);
    int pid = read_pid(pidfile);
    if (pid <= 0) {
        check(0, "shutdown_going_away", "cannot read pid from %s", pidfile);
        wsc_pool_free(p);
        return;
    }
    for (int e = 0; e < 50; e++)
        emit(e, 8);
    kill(pid, SIGTERM);
    wait_for(p, 0, 10, is_closed, 0, 10);
    int ok = 0, drained = 0;
    for (int i = 0; i < 10; i++) {
        ok += clients[i].closed && clients[i].close_code == 1001;
        drained += clients[i].events == 50;
    }
    check(ok == 10, "shutdown_going_away", "%d of 10 clients closed with 1001 (first code %d)", ok,
          clients[0].close_code);
    check(drained == 10, "shutdown_drained_first", "%d of 10 clients got all 50 events first",
          drained);
    wsc_pool_free(p);
}

/* Sends a masked client frame (FIN + opcode) with a payload of at most 125 bytes. */
static int send_client_frame(int fd, int opcode, const unsigned char *p, size_t len)
{
    unsigned char f[2 + 4 + 125];
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    f[0] = (unsigned char)(0x80 | opcode);
    f[1] = (unsigned char)(0x80 | len);
    memcpy(f + 2, mask, 4);
    for (size_t i = 0; i < len; i++)
        f[6 + i] = p[i] ^ mask[i % 4];
    return write(fd, f, 6 + len) == (ssize_t)(6 + len) ? 0 : -1;
}

/* What a raw websocket client saw of the relay (raw_client). */
struct raw_seen {
    int ok;         /* connected and sent the upgrade request */
    int upgraded;   /* 101 */
    int pings;      /* PING frames (answered with a PONG echoing the payload when asked) */
    int closed;     /* a close frame or the end of the connection */
    int close_code; /* the close frame's code; 0 when the connection just ended */
    double closed_at;
};

/* A socket to the relay that has sent an upgrade request for /websocket-service; -1 when
 * the connect or the write failed. */
static int raw_upgrade_request(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ws_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    const char req[] = "GET /websocket-service HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n";
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Connects a raw client to /websocket-service, upgrades, and reads the server's (unmasked)
 * frames for at most `seconds`, until it is closed or, with stop_at_ping, pinged. */
static struct raw_seen raw_client(double seconds, int answer_pings, int stop_at_ping)
{
    struct raw_seen r = {0};
    int fd = raw_upgrade_request();
    if (fd < 0)
        return r;
    r.ok = 1;
    unsigned char buf[4096];
    size_t have = 0;
    double start = now_s(), end = start + seconds;
    while (now_s() < end && !r.closed && !(stop_at_ping && r.pings > 0)) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0) {
            r.closed = 1;
            r.closed_at = now_s() - start;
            break;
        }
        have += (size_t)n;
        size_t pos = 0;
        if (!r.upgraded) {
            unsigned char *e = memmem(buf, have, "\r\n\r\n", 4);
            if (e == NULL)
                continue;
            r.upgraded = memmem(buf, have, "101", 3) != NULL;
            pos = (size_t)(e - buf) + 4;
        }
        while (pos + 2 <= have) {
            size_t len = buf[pos + 1] & 0x7f, hl = 2;
            if (len == 126) {
                if (pos + 4 > have)
                    break;
                len = ((size_t)buf[pos + 2] << 8) | buf[pos + 3];
                hl = 4;
            }
            if (pos + hl + len > have)
                break;
            int op = buf[pos] & 0x0f;
            if (op == 0x9) {
                r.pings++;
                if (answer_pings)
                    send_client_frame(fd, 0xA, buf + pos + hl, len);
            } else if (op == 0x8) {
                r.closed = 1;
                r.closed_at = now_s() - start;
                r.close_code = len >= 2 ? buf[pos + hl] << 8 | buf[pos + hl + 1] : 1005;
            }
            pos += hl + len;
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
    }
    close(fd);
    return r;
}

/*
 * A raw client that completes the upgrade and then stays silent must receive a websocket
 * ping (opcode 0x9) within the relay's --ping-interval (started with 1s here), since
 * ingress-nginx drops connections idle for 60 s.
 */
static void test_ping(void)
{
    struct raw_seen r = raw_client(5, 0, 1);
    if (!r.ok) {
        check(0, "ping_idle_client", "connect or write failed");
        return;
    }
    check(r.upgraded && r.pings > 0, "ping_idle_client", "upgraded=%d ping=%d", r.upgraded,
          r.pings > 0);
}

/*
 * A client that only receives, and answers every ping with a pong echoing its payload (as
 * browsers do, RFC 6455 5.5.3), is alive: the relay (--ping-interval 1s, so it closes
 * clients silent for 2 * 1 s + 10 s) must not close it. Watched for 14 s; it must still be
 * open, and must have been pinged more than once (each pong counted).
 */
static void test_keepalive(void)
{
    struct raw_seen r = raw_client(14, 1, 0);
    if (!r.ok) {
        check(0, "keepalive_ponging_client_stays", "connect or write failed");
        return;
    }
    check(r.upgraded && !r.closed && r.pings >= 2, "keepalive_ponging_client_stays",
          "upgraded=%d closed=%d after %.1f s, pings answered=%d", r.upgraded, r.closed,
          r.closed_at, r.pings);
}

/*
 * A client that never answers pings (a dead peer behind a NAT that still ACKs, a frozen
 * tab) is closed after 2 * --ping-interval + 10 s of silence (12 s here), and is told why:
 * a close frame with 1001, not just the end of the TCP connection.
 */
static void test_silent(void)
{
    struct raw_seen r = raw_client(18, 0, 0);
    if (!r.ok) {
        check(0, "silent_client_closed_1001", "connect or write failed");
        return;
    }
    check(r.upgraded && r.closed && r.close_code == 1001 && r.closed_at >= 11 && r.closed_at < 17,
          "silent_client_closed_1001",
          "upgraded=%d closed=%d code=%d after %.1f s (want 1001 after 12 s)", r.upgraded, r.closed,
          r.close_code, r.closed_at);
}

/*
 * Reads a raw upgrade's answer up to its first frame (the _connected frame) into buf (NUL-
 * terminated), for at most 10 s; sets *segs to the segments that carried data (the kernel's
 * tcpi_data_segs_in, -1 when unknown). Returns the bytes read, 0 when nothing came.
 */
static size_t raw_first_frame(char *buf, size_t cap, int *segs)
{
    *segs = -1;
    int fd = raw_upgrade_request();
    if (fd < 0)
        return 0;
    size_t have = 0;
    double end = now_s() + 10;
    buf[0] = '\0';
    while (now_s() < end && !strstr(buf, "}}") && have + 1 < cap) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + have, cap - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
    }
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 &&
        tl >= offsetof(struct tcp_info, tcpi_data_segs_in) + sizeof ti.tcpi_data_segs_in)
        *segs = (int)ti.tcpi_data_segs_in;
    close(fd);
    return have;
}

/* The _connected frame's offset and epoch from a raw answer; -1 when it is not one. */
static int64_t connected_offset(const char *answer, char *epoch, size_t eplen)
{
    const char *hdr_end = strstr(answer, "\r\n\r\n");
    struct envelope e;
    char err[128];
    if (hdr_end == NULL || strstr(answer, " 101 ") == NULL)
        return -1;
    const char *p = hdr_end + 4 + 2; /* a short unmasked text frame: a 2-byte header */
    if (envelope_decode(p, strlen(p), &e, err, sizeof err) != 0)
        return -1;
    json_t *o = json_object_get(e.data, "offset"), *ep = json_object_get(e.data, "epoch");
    int64_t r = strcmp(e.event, "_connected") == 0 && json_is_integer(o) && json_is_string(ep)
                    ? (int64_t)json_integer_value(o)
                    : -1;
    snprintf(epoch, eplen, "%s", json_is_string(ep) ? json_string_value(ep) : "");
    return r;
}

/*
 * The 101 and the _connected frame reach the client in one TCP segment (the relay corks the
 * socket between them, hub.c): in a 10,000-client connect storm every segment costs the
 * relay a transmit and, on loopback, the client's receive path. Two data segments means the
 * frame left on its own. And _connected (one frame shared by the clients that join while
 * the stream stands still) names the stream's last offset: the same for two clients in a
 * row, one more after an emit.
 */
static void test_onesegment(void)
{
    char a[1024], b[1024], c[1024], ea[64], eb[64], ec[64];
    int sa, sb, sc;
    raw_first_frame(a, sizeof a, &sa);
    raw_first_frame(b, sizeof b, &sb);
    int64_t oa = connected_offset(a, ea, sizeof ea), ob = connected_offset(b, eb, sizeof eb);
    check(oa >= 0 && sa == 1, "upgrade_and_connected_one_segment",
          "_connected offset=%lld, data segments=%d (want 1)", (long long)oa, sa);
    long st = emit(1, 0);
    raw_first_frame(c, sizeof c, &sc);
    int64_t oc = connected_offset(c, ec, sizeof ec);
    check(oa >= 0 && ob == oa && strcmp(ea, eb) == 0 && st == 202 && oc == oa + 1 &&
              strcmp(ea, ec) == 0 && *ea,
          "connected_names_last_offset",
          "offsets %lld, %lld, then %lld after an emit (status %ld); epochs %s %s %s",
          (long long)oa, (long long)ob, (long long)oc, st, ea, eb, ec);
}

/* The relay's /metrics page (malloc'd, NUL-terminated); NULL when it did not answer. */
static char *metrics_page(void)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", http_port);
    char *page = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&page, &len);
    CURL *c = f ? curl_easy_init() : NULL;
    if (c == NULL) {
        if (f)
            fclose(f);
        free(page);
        return NULL;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    fclose(f);
    if (rc != CURLE_OK) {
        free(page);
        return NULL;
    }
    return page;
}

/* The value of the series `series` ("name" or "name{labels}") on a /metrics page; -1 if absent. */
static long long metric_in(const char *page, const char *series)
{
    long long v = -1;
    size_t n = strlen(series);
    for (const char *l = page; l && *l;) {
        const char *nl = strchr(l, '\n');
        if (strncmp(l, series, n) == 0 && l[n] == ' ') {
            v = strtoll(l + n + 1, NULL, 10);
            break;
        }
        l = nl ? nl + 1 : NULL;
    }
    return v;
}

/* ws_client_closes_total{reason="<reason>"} on a page. */
static long long closes_in(const char *page, const char *reason)
{
    char series[96];
    snprintf(series, sizeof series, "ws_client_closes_total{reason=\"%s\"}", reason);
    return metric_in(page, series);
}

/* The same, read from the relay now. */
static long long closes(const char *reason)
{
    char *page = metrics_page();
    long long v = closes_in(page, reason);
    free(page);
    return v;
}

/* Waits up to `seconds` for closes(reason) to exceed `above`; returns its last value. */
static long long closes_above(const char *reason, long long above, double seconds)
{
    long long v = closes(reason);
    for (double end = now_s() + seconds; v <= above && now_s() < end; v = closes(reason))
        usleep(50000);
    return v;
}

/* Reads a raw upgrade's answer (the 101 and whatever follows) for up to 5 s; 1 when upgraded. */
static int raw_upgraded(int fd)
{
    char buf[2048];
    size_t have = 0;
    for (double end = now_s() + 5; now_s() < end && have < sizeof buf - 1;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            return 0;
        have += (size_t)n;
        buf[have] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            return strstr(buf, " 101 ") != NULL;
    }
    return 0;
}

/* Waits (up to 2 s) until every thread of pid is stopped: kill() returns before the signal
 * has stopped them, and a thread still running would see the reset first. */
static void wait_stopped(int pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", pid);
    for (double end = now_s() + 2; now_s() < end; usleep(1000)) {
        DIR *d = opendir(dir);
        if (d == NULL)
            return;
        int running = 0;
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            if (e->d_name[0] == '.')
                continue;
            char path[400], buf[512];
            snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
            FILE *f = fopen(path, "r");
            size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
            if (f)
                fclose(f);
            buf[n] = '\0';
            const char *paren = strrchr(buf, ')'); /* "pid (comm) S ..." */
            running += paren && paren[1] == ' ' && paren[2] != 'T' && paren[2] != 't';
        }
        closedir(d);
        if (!running)
            return;
    }
}

/* The test's one publish, from a thread: the main thread leaves the shared handle alone
 * until it joins it. */
static void *emit_one(void *arg)
{
    (void)arg;
    emit(1, 8);
    return NULL;
}

/*
 * ws_client_closes_total{reason} (a relay of its own): a client's close frame counts as
 * "client"; a client that resets its connection while the relay writes to it counts as
 * "write_failed" and is logged, not closed in silence (a keepalive ping on a full socket was
 * once closed that way, unseen: hub_send.c). The reset is arranged with the relay stopped
 * (SIGSTOP): the client resets, an event is published, the relay continues and its sweep
 * sends into the reset socket. Its loop may see the reset first (then "dropped"), so up to
 * twenty tries. Last, every close is counted once: the reasons add up to ws_connections_total
 * minus ws_clients.
 */
static void test_closes(const char *pidfile)
{
    int pid = read_pid(pidfile);
    if (pid <= 0) {
        check(0, "closes_relay_pid", "cannot read pid from %s", pidfile);
        return;
    }

    long long before = closes("client");
    int fd = raw_upgrade_request();
    int up = fd >= 0 && raw_upgraded(fd);
    const unsigned char code[2] = {0x03, 0xe8}; /* 1000 */
    if (up)
        send_client_frame(fd, 0x8, code, sizeof code);
    long long after = closes_above("client", before, 5);
    if (fd >= 0)
        close(fd);
    check(up && before >= 0 && after == before + 1, "closes_client_close_frame",
          "upgraded=%d ws_client_closes_total{reason=\"client\"} %lld -> %lld (want +1)", up,
          before, after);

    int tries = 0, got = 0;
    long long wf0 = closes("write_failed"), wf = wf0;
    while (!got && tries < 20) {
        tries++;
        fd = raw_upgrade_request();
        if (fd < 0 || !raw_upgraded(fd)) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        long long dropped = closes("dropped");
        kill(pid, SIGSTOP);
        wait_stopped(pid);
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd); /* RST */
        pthread_t t;
        int started = pthread_create(&t, NULL, emit_one, NULL) == 0;
        usleep(200000); /* the publish waits in the stopped relay's backlog */
        kill(pid, SIGCONT);
        if (started)
            pthread_join(t, NULL);
        for (double end = now_s() + 5; now_s() < end; usleep(50000)) {
            wf = closes("write_failed");
            if (wf > wf0 || closes("dropped") > dropped)
                break;
        }
        got = wf > wf0;
    }
    kill(pid, SIGCONT); /* never leave it stopped */
    check(got, "closes_write_failed",
          "ws_client_closes_total{reason=\"write_failed\"} %lld -> %lld "
          "after %d reset clients",
          wf0, wf, tries);

    static const char *const reasons[] = {"dropped",      "client",       "slow",
                                          "ping_timeout", "write_failed", "unauthorized",
                                          "full",         "stopping",     "protocol"};
    char *page = metrics_page(); /* one page: the sum and the counts from one moment */
    long long sum = 0, missing = 0;
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        long long v = closes_in(page, reasons[i]);
        missing += v < 0;
        sum += v > 0 ? v : 0;
    }
    long long conns = metric_in(page, "ws_connections_total");
    long long now = metric_in(page, "ws_clients");
    free(page);
    check(missing == 0 && conns > 0 && sum == conns - now, "closes_add_up",
          "reasons sum to %lld, ws_connections_total %lld - ws_clients %lld (%lld series missing)",
          sum, conns, now, missing);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: relay_e2e TEST WS_PORT HTTP_PORT [ARGS]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    ws_port = atoi(argv[2]);
    http_port = atoi(argv[3]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    const char *t = argv[1];
    if (strcmp(t, "fanout") == 0 && argc >= 6)
        test_fanout(atoi(argv[4]) < MAXC ? atoi(argv[4]) : MAXC, atoi(argv[5]));
    else if (strcmp(t, "resume") == 0)
        test_resume();
    else if (strcmp(t, "truncated") == 0)
        test_truncated();
    else if (strcmp(t, "slow") == 0) /* [CLIENTS]: one never reads, the others do (21) */
        test_slow(argc >= 5 && atoi(argv[4]) >= 2 && atoi(argv[4]) < MAXC ? atoi(argv[4]) : 21);
    else if (strcmp(t, "ping") == 0)
        test_ping();
    else if (strcmp(t, "backlog") == 0)
        test_backlog();
    else if (strcmp(t, "keepalive") == 0)
        test_keepalive();
    else if (strcmp(t, "silent") == 0)
        test_silent();
    else if (strcmp(t, "badws") == 0)
        test_badws();
    else if (strcmp(t, "onesegment") == 0)
        test_onesegment();
    else if (strcmp(t, "shutdown") == 0 && argc >= 5)
        test_shutdown(argv[4]);
    else if (strcmp(t, "closes") == 0 && argc >= 5)
        test_closes(argv[4]);
    else {
        printf("FAIL: relay_e2e_unknown_test %s\n", t); /* counted, never silently skipped */
        return 2;
    }
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return e2e_failures ? 1 : 0;
}
