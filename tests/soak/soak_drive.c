/*
 * soak_drive — the soak client's drivers beside the websocket loop: arguments, the steady
 * emitter, malformed intake requests, slow clients on raw sockets, the bytes of the bad
 * websocket cases, and the summary.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "soak.h"
#include "wsclient.h"

int soak_parse_args(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--host"))
            cfg.host = v;
        else if (!strcmp(k, "--ws-port"))
            cfg.ws_port = atoi(v);
        else if (!strcmp(k, "--http-port"))
            cfg.http_port = atoi(v);
        else if (!strcmp(k, "--token"))
            cfg.token = *v ? v : NULL;
        else if (!strcmp(k, "--seconds"))
            cfg.seconds = atoi(v);
        else if (!strcmp(k, "--clients"))
            cfg.clients = atoi(v);
        else if (!strcmp(k, "--churn"))
            cfg.churn = atoi(v);
        else if (!strcmp(k, "--slow"))
            cfg.slow = atoi(v);
        else if (!strcmp(k, "--slow-hold"))
            cfg.slow_hold = atoi(v);
        else if (!strcmp(k, "--rate"))
            cfg.rate = atof(v);
        else if (!strcmp(k, "--payload"))
            cfg.payload = atoi(v);
        else if (!strcmp(k, "--heavy"))
            cfg.heavy = atoi(v);
        else if (!strcmp(k, "--max-message"))
            cfg.max_message = atoi(v);
        else if (!strcmp(k, "--sio"))
            cfg.sio = atoi(v);
        else if (!strcmp(k, "--sio-expire"))
            cfg.sio_expire = atoi(v);
        else
            goto usage;
    }
    if (argc % 2 == 1 && cfg.ws_port > 0 && cfg.http_port > 0 && cfg.rate > 0 && cfg.seconds > 0 &&
        cfg.payload >= 0 && cfg.payload < 60000 && cfg.sio >= 0 && cfg.sio_expire > 0)
        return 0;
usage:
    fprintf(stderr, "usage: soakclient --ws-port P --http-port P [--token T] [--seconds N]\n"
                    "  [--clients N] [--churn N] [--slow N] [--slow-hold S] [--rate R]\n"
                    "  [--payload BYTES] [--heavy BYTES] [--max-message BYTES] [--host ADDR]\n"
                    "  [--sio N] [--sio-expire SECONDS]\n");
    return -1;
}

struct body {
    char data[512];
    size_t len;
};

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    struct body *b = ud;
    size_t k = s * n, room = sizeof b->data - 1 - b->len;
    memcpy(b->data + b->len, p, k < room ? k : room);
    b->len += k < room ? k : room;
    b->data[b->len] = '\0';
    return k;
}

static struct curl_slist *auth_headers(const char *content_type, const char *token)
{
    struct curl_slist *h = NULL;
    char line[300];
    snprintf(line, sizeof line, "Content-Type: %s", content_type);
    h = curl_slist_append(h, line);
    h = curl_slist_append(h, "Expect:");
    if (token) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, line);
    }
    return h;
}

static void raise_to(atomic_ullong *a, unsigned long long v)
{
    unsigned long long cur = atomic_load(a);
    while (v > cur && !atomic_compare_exchange_weak(a, &cur, v))
        ;
}

/*
 * Three emits in four are broadcast and carry "b", their number among broadcast events, so
 * that every client can check it got each one (offsets alone cannot say: the fourth emit
 * goes to channel soak-heavy, which only the slow clients join, so that they fall behind).
 */
void *soak_emitter_main(void *arg)
{
    (void)arg;
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://%s:%d/emit", cfg.host, cfg.http_port);
    struct curl_slist *h = auth_headers("application/json", cfg.token);
    int most = cfg.payload > cfg.heavy ? cfg.payload : cfg.heavy;
    char *pad = malloc((size_t)most + 1), *json = malloc((size_t)most + 256);
    memset(pad, 'p', (size_t)most);
    int64_t step = (int64_t)(1e6 / cfg.rate), next = soak_now_us();
    unsigned long long b = 0;
    for (unsigned long long n = 1; !atomic_load(&soak_stop_emits); n++) {
        int64_t now = soak_now_us();
        if (next > now)
            usleep((useconds_t)(next - now));
        next += step;
        if (soak_now_us() - next > 1000000)
            next = soak_now_us(); /* far behind (a stalled machine): no burst to catch up */
        int heavy = n % 4 == 0, len;
        if (heavy)
            len = snprintf(json, (size_t)most + 256,
                           "{\"event\":\"soak\",\"channel\":\"soak-heavy\",\"payload\":{\"n\":%llu,"
                           "\"pad\":\"%.*s\"},\"id\":\"soak-%d-%llu\"}",
                           n, cfg.heavy, pad, (int)getpid(), n);
        else
            len = snprintf(json, (size_t)most + 256,
                           "{\"event\":\"soak\",\"payload\":{\"b\":%llu,\"pad\":\"%.*s\"},"
                           "\"id\":\"soak-%d-%llu\"}",
                           ++b, cfg.payload, pad, (int)getpid(), n);
        struct body r = {.len = 0};
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        long st = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        const char *o = st == 202 ? strstr(r.data, "\"offset\":") : NULL;
        if (o) {
            raise_to(&soak_last_acked, strtoull(o + 9, NULL, 10));
            if (!heavy)
                raise_to(&soak_last_b_acked, b);
            atomic_fetch_add(&ctr.emits_ok, 1);
        } else {
            atomic_fetch_add(&ctr.emits_fail, 1);
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(pad);
    free(json);
    return NULL;
}

/* One malformed intake request: case k. Returns 1 when the status is the documented one. */
static int bad_http_case(CURL *c, int k)
{
    static char big[128 * 1024 + 1];
    if (big[0] == '\0')
        memset(big, 'a', sizeof big - 1);
    char url[128];
    snprintf(url, sizeof url, "http://%s:%d/emit", cfg.host, cfg.http_port);
    const char *ct = "application/json", *body = NULL, *token = cfg.token;
    long want = 400, size = -1;
    int chunked = 0, get = 0;
    switch (k) {
    case 0:
        body = "{\"event\":";
        break;
    case 1:
        body = "{\"event\":\"x\"}";
        break;
    case 2:
        ct = "text/plain", body = "{\"event\":\"x\",\"payload\":{}}", want = 415;
        break;
    case 3:
        body = "{\"event\":\"_reserved\",\"payload\":{}}";
        if (cfg.token)
            token = "not-the-token", want = 401;
        break;
    case 4:
        body = big, size = (long)sizeof big - 1, want = 413;
        break;
    case 5:
        body = big, chunked = 1, want = 413;
        break;
    case 6:
        get = 1, want = 405;
        break;
    default:
        snprintf(url, sizeof url, "http://%s:%d/emits", cfg.host, cfg.http_port);
        body = "{}", want = 404;
        break;
    }
    struct curl_slist *h = auth_headers(ct, token);
    if (chunked)
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
    struct body b = {.len = 0};
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (!get) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
                         chunked     ? -1L
                         : size >= 0 ? size
                                     : (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    long st = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(h);
    if (st != want && atomic_fetch_add(&ctr.bad_reports, 1) < 5)
        fprintf(stderr, "soakclient: bad http case %d: status %ld (%s), want %ld\n", k, st,
                curl_easy_strerror(rc), want);
    return st == want;
}

void *soak_bad_http_main(void *arg)
{
    (void)arg;
    CURL *c = curl_easy_init();
    for (int k = 0; !atomic_load(&soak_stop_emits); k++) {
        atomic_fetch_add(&ctr.bad_http_sent, 1);
        atomic_fetch_add(bad_http_case(c, k % 8) ? &ctr.bad_http_ok : &ctr.bad_http_wrong, 1);
        usleep(100000);
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* ---- slow clients ------------------------------------------------------------------- */

struct slow {
    int fd;
    int64_t since;
};

/* Connects with a 4 KiB receive buffer and reads only the 101 answer. Returns fd or -1. */
static int slow_open(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.ws_port)};
    inet_pton(AF_INET, cfg.host, &a.sin_addr);
    char req[512], head[1024];
    snprintf(req, sizeof req,
             "GET /websocket-service?channels=soak-heavy HTTP/1.1\r\nHost: %s:%d\r\n"
             "Upgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: c2xvdy1jbGllbnQtc29haw==\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n",
             cfg.host, cfg.ws_port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
        goto fail;
    size_t n = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (n + 1 < sizeof head && poll(&p, 1, 3000) == 1 && recv(fd, head + n, 1, 0) == 1) {
        n++;
        if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    head[n] = '\0';
    if (strncmp(head, "HTTP/1.1 101", 12) != 0)
        goto fail;
    return fd;
fail:
    close(fd);
    return -1;
}

/*
 * Reads everything left on a slow client and looks at how its stream ends. Returns 1 when
 * the relay closed it (EOF or reset), 0 when data was still flowing after 5 s.
 */
static int slow_drain(int fd, int *saw_4008)
{
    size_t cap = 1 << 20, len = 0;
    unsigned char *buf = malloc(cap);
    int closed = 0;
    int64_t until = soak_now_us() + 5000000;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (soak_now_us() < until && poll(&p, 1, 1000) >= 0) {
        if (len + 65536 > cap && cap < (64u << 20)) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t r = recv(fd, buf + (len + 65536 <= cap ? len : 0), 65536, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            closed = 1;
            break;
        }
        if (r > 0 && len + 65536 <= cap)
            len += (size_t)r;
    }
    /* Frames from the relay are unmasked: walk them to the last one. */
    *saw_4008 = 0;
    for (size_t off = 0; off + 2 <= len;) {
        size_t n = buf[off + 1] & 0x7f, h = 2;
        if (n == 126 && off + 4 <= len)
            n = (size_t)buf[off + 2] << 8 | buf[off + 3], h = 4;
        else if (n == 127)
            break;
        if ((buf[off] & 0x0f) == 0x8 && n >= 2 && off + h + 2 <= len)
            *saw_4008 = (buf[off + h] << 8 | buf[off + h + 1]) == 4008;
        off += h + n;
    }
    free(buf);
    return closed;
}

void *soak_slow_main(void *arg)
{
    (void)arg;
    struct slow *s = calloc((size_t)cfg.slow + 1, sizeof *s);
    for (int i = 0; i < cfg.slow; i++)
        s[i].fd = -1;
    while (!atomic_load(&soak_stop_emits)) {
        int64_t now = soak_now_us();
        for (int i = 0; i < cfg.slow; i++) {
            if (s[i].fd < 0) {
                s[i].fd = slow_open();
                s[i].since = now + (int64_t)i * 1000000; /* staggered */
                if (s[i].fd >= 0)
                    atomic_fetch_add(&ctr.slow_started, 1);
            } else if (now - s[i].since >= (int64_t)cfg.slow_hold * 1000000) {
                int saw = 0;
                if (slow_drain(s[i].fd, &saw)) {
                    atomic_fetch_add(&ctr.slow_closed, 1);
                    if (saw)
                        atomic_fetch_add(&ctr.slow_close_4008, 1);
                } else {
                    atomic_fetch_add(&ctr.slow_not_closed, 1);
                }
                close(s[i].fd);
                s[i].fd = -1;
            }
        }
        usleep(200000);
    }
    for (int i = 0; i < cfg.slow; i++)
        if (s[i].fd >= 0)
            close(s[i].fd); /* held too briefly to judge */
    free(s);
    return NULL;
}

/* ---- bad websocket input ------------------------------------------------------------- */

static size_t masked_frame(unsigned char *out, int op, const unsigned char *p, size_t n)
{
    static const unsigned char key[4] = {0x11, 0x22, 0x33, 0x44};
    size_t h = 0;
    out[h++] = (unsigned char)(0x80 | op);
    if (n < 126) {
        out[h++] = (unsigned char)(0x80 | n);
    } else {
        out[h++] = 0x80 | 126;
        out[h++] = (unsigned char)(n >> 8);
        out[h++] = (unsigned char)n;
    }
    memcpy(out + h, key, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        out[h + i] = p[i] ^ key[i % 4];
    return h + n;
}

int soak_bad_ws_expect(int k)
{
    static const int want[SOAK_BAD_WS_CASES] = {1003, 1007, 1009, 1002, -1, 0};
    return want[k % SOAK_BAD_WS_CASES];
}

void soak_bad_ws_send(struct wsc *w, int k)
{
    static unsigned char big[65536 + 16], frame[65536 + 32];
    size_t n = 0;
    switch (k % SOAK_BAD_WS_CASES) {
    case 0:
        n = masked_frame(frame, 0x2, (const unsigned char *)"\x01\x02\x03", 3);
        break;
    case 1:
        n = masked_frame(frame, 0x1, (const unsigned char *)"caf\xc3(", 5);
        break;
    case 2: {
        size_t m = (size_t)cfg.max_message + 1 < sizeof big ? (size_t)cfg.max_message + 1 : 65535;
        memset(big, 'a', m);
        n = masked_frame(frame, 0x1, big, m);
        break;
    }
    case 3:
        n = masked_frame(frame, 0x3, (const unsigned char *)"x", 1);
        break;
    case SOAK_BAD_SUBSCRIBE:
        wsc_send_text(w, "{\"subscribe\":\"not-a-list\"}", 26);
        return;
    default:
        return;
    }
    wsc_send_raw(w, frame, n);
}

void soak_print_summary(FILE *f)
{
    fprintf(f,
            "{\"seconds\":%d,\"clients\":%d,\"churn\":%d,\"slow\":%d,\"rate\":%g,"
            "\"emits_ok\":%llu,\"emits_fail\":%llu,\"last_offset\":%llu,\"events\":%llu,"
            "\"last_b\":%llu,\"missed\":%llu,\"duplicates\":%llu,\"wrong_channel\":%llu,"
            "\"churn_connects\":%llu,\"recovered\":%llu,"
            "\"not_recovered\":%llu,\"subscribed\":%llu,\"steady_dropped\":%llu,"
            "\"connect_fail\":%llu,\"slow_started\":%llu,\"slow_closed\":%llu,"
            "\"slow_close_4008\":%llu,\"slow_not_closed\":%llu,\"bad_ws_sent\":%llu,"
            "\"bad_ws_ok\":%llu,\"bad_ws_wrong\":%llu,\"bad_http_sent\":%llu,"
            "\"bad_http_ok\":%llu,\"bad_http_wrong\":%llu,\"behind_at_end\":%llu,"
            "\"sio\":%d,\"sio_connects\":%llu,\"sio_recovered\":%llu,\"sio_not_recovered\":%llu,"
            "\"sio_events\":%llu,\"sio_missed\":%llu,\"sio_duplicates\":%llu,"
            "\"sio_upgrades\":%llu,\"sio_upgrade_fail\":%llu,\"sio_vanished\":%llu,"
            "\"sio_expired_ok\":%llu,\"sio_expired_wrong\":%llu,\"sio_dropped\":%llu}\n",
            cfg.seconds, cfg.clients, cfg.churn, cfg.slow, cfg.rate, atomic_load(&ctr.emits_ok),
            atomic_load(&ctr.emits_fail), atomic_load(&soak_last_acked), atomic_load(&ctr.events),
            atomic_load(&soak_last_b_acked), atomic_load(&ctr.missed), atomic_load(&ctr.duplicates),
            atomic_load(&ctr.wrong_channel), atomic_load(&ctr.churn_connects),
            atomic_load(&ctr.recovered), atomic_load(&ctr.not_recovered),
            atomic_load(&ctr.subscribed), atomic_load(&ctr.steady_dropped),
            atomic_load(&ctr.connect_fail), atomic_load(&ctr.slow_started),
            atomic_load(&ctr.slow_closed), atomic_load(&ctr.slow_close_4008),
            atomic_load(&ctr.slow_not_closed), atomic_load(&ctr.bad_ws_sent),
            atomic_load(&ctr.bad_ws_ok), atomic_load(&ctr.bad_ws_wrong),
            atomic_load(&ctr.bad_http_sent), atomic_load(&ctr.bad_http_ok),
            atomic_load(&ctr.bad_http_wrong), ctr.behind_at_end, cfg.sio,
            atomic_load(&ctr.sio_connects), atomic_load(&ctr.sio_recovered),
            atomic_load(&ctr.sio_not_recovered), atomic_load(&ctr.sio_events),
            atomic_load(&ctr.sio_missed), atomic_load(&ctr.sio_duplicates),
            atomic_load(&ctr.sio_upgrades), atomic_load(&ctr.sio_upgrade_fail),
            atomic_load(&ctr.sio_vanished), atomic_load(&ctr.sio_expired_ok),
            atomic_load(&ctr.sio_expired_wrong), atomic_load(&ctr.sio_dropped));
}
