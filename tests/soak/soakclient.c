/*
 * soakclient — the client side of `make soak` (scripts/soak) against one relay:
 *
 *   - steady subscribers, connected for the whole run, checking that every broadcast event
 *     arrives exactly once and in order (each carries its broadcast number "b");
 *   - churn clients that drop after a few seconds and come back with ?since=&epoch=, each
 *     checking the _recovery answer and that the replay continues exactly after `since`;
 *   - slow clients on raw sockets that join channel soak-heavy (every fourth emit, 16 KiB) and
 *     stop reading, so that the relay must close them (4008) once the kernel's buffers are
 *     full (megabytes here); each is then drained to see the connection end;
 *   - Socket.IO sessions (soak_sio.c): long-polling ones that stay, ones that upgrade to
 *     websocket, ones that vanish (the relay must end them) and ones that close, all coming
 *     back with connection state recovery (auth {pid, offset}) and checked like the above;
 *   - emits at a steady rate (POST /emit with an id), and bad input on both surfaces: broken
 *     frames on the websocket, malformed requests on the intake, each checked for its answer.
 *
 * At the end emits stop, closed churn clients come back once more, and every client must
 * reach the last acknowledged offset. Prints one JSON object of counters on stdout; progress
 * on stderr when it is a terminal.
 *
 *   soakclient --ws-port P --http-port P [--token T] [--seconds 600] [--clients 2000]
 *              [--churn 300] [--slow 8] [--slow-hold 90] [--rate 20] [--payload 400]
 *              [--heavy 16384] [--max-message 4096] [--sio 200] [--sio-expire 45]
 */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "soak.h"
#include "wsclient.h"

struct soak_config cfg = {
    .host = "127.0.0.1",
    .seconds = 600,
    .clients = 2000,
    .churn = 300,
    .slow = 8,
    .slow_hold = 45,
    .rate = 20,
    .payload = 400,
    .max_message = 4096,
    .sio = 200,
    .sio_expire = 45,
};
struct soak_counters ctr;
atomic_int soak_stop_emits;
atomic_ullong soak_last_acked;
atomic_ullong soak_last_b_acked;

int64_t soak_now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

struct cl {
    enum soak_kind kind; /* first, as in struct sio */
    int idx;
    struct wsc *w;
    int open;
    int have_last;
    unsigned long long last; /* offset of the last event received (the since to resume at) */
    int have_b;
    unsigned long long b; /* broadcast number of the last broadcast event received */
    char epoch[64];
    int resumed;       /* connected with since: a _recovery is owed */
    int64_t action_at; /* churn: drop (open) or reconnect (closed) at this time */
    int bad_case;
    int bad_ok;
};

static struct wsc_pool *pool;
static struct cl *steady, *churn;
static int final_phase;

/* The number after "key": in s (keys of our own frames only), or -1. */
static long long num_after(const char *s, size_t len, const char *key)
{
    const char *p = memmem(s, len, key, strlen(key));
    if (p == NULL)
        return -1;
    return strtoll(p + strlen(key), NULL, 10);
}

static void str_after(const char *s, size_t len, const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    const char *p = memmem(s, len, key, strlen(key));
    if (p == NULL)
        return;
    p += strlen(key);
    size_t i = 0;
    while (i + 1 < cap && p + i < s + len && p[i] != '"')
        i++;
    memcpy(out, p, i);
    out[i] = '\0';
}

static void connect_client(struct cl *c)
{
    char path[256], err[256];
    if (c->have_last && c->epoch[0]) {
        snprintf(path, sizeof path, "/websocket-service?since=%llu&epoch=%s", c->last, c->epoch);
        c->resumed = 1;
    } else {
        snprintf(path, sizeof path, "/websocket-service");
        c->resumed = 0;
    }
    struct wsc_options o = {
        .host = cfg.host, .port = cfg.ws_port, .path = path, .max_message = 1 << 20, .user = c};
    c->w = wsc_connect(pool, &o, err, sizeof err);
    if (c->w == NULL) {
        atomic_fetch_add(&ctr.connect_fail, 1);
        c->action_at = soak_now_us() + 500000;
    }
}

static void on_open(struct wsc *w, void *ud)
{
    (void)ud;
    struct cl *c = wsc_user(w);
    if (c->kind == K_SIO) {
        soak_sio_ws_open(w);
        return;
    }
    c->open = 1;
    if (c->kind == K_BAD) {
        soak_bad_ws_send(w, c->bad_case);
        return;
    }
    if (c->kind == K_CHURN) {
        atomic_fetch_add(&ctr.churn_connects, 1);
        c->action_at = soak_now_us() + 1000000 + (rand() % 3000) * 1000;
        if (c->idx % 3 == 0) { /* some churn clients join a channel: the subscribe path */
            static const char sub[] = "{\"subscribe\":[\"soak-quiet\"]}";
            wsc_send_text(w, sub, sizeof sub - 1);
        }
    }
}

/* An event: offsets only grow; broadcast numbers grow by exactly one. */
static void check_event(struct cl *c, unsigned long long off, long long b, int channel)
{
    atomic_fetch_add(&ctr.events, 1);
    if (c->have_last && off <= c->last) {
        atomic_fetch_add(&ctr.duplicates, 1);
        return;
    }
    c->have_last = 1;
    c->last = off;
    if (channel) {
        atomic_fetch_add(&ctr.wrong_channel, 1); /* these clients joined no event channel */
        return;
    }
    if (b <= 0)
        return;
    if (c->have_b && (unsigned long long)b != c->b + 1) {
        if ((unsigned long long)b <= c->b) {
            atomic_fetch_add(&ctr.duplicates, 1);
        } else {
            atomic_fetch_add(&ctr.missed, (unsigned long long)b - c->b - 1);
            if (atomic_fetch_add(&ctr.gap_reports, 1) < 5)
                fprintf(stderr, "soakclient: gap kind=%d idx=%d b=%llu got=%lld resumed=%d\n",
                        c->kind, c->idx, c->b, b, c->resumed);
        }
    }
    c->have_b = 1;
    c->b = (unsigned long long)b;
}

static void on_message(struct wsc *w, const char *d, size_t len, int binary, void *ud)
{
    (void)ud;
    (void)binary;
    struct cl *c = wsc_user(w);
    if (c->kind == K_SIO) {
        soak_sio_ws_message(w, d, len);
        return;
    }
    if (c->kind == K_BAD) {
        if (c->bad_case == SOAK_BAD_SUBSCRIBE && memmem(d, len, "\"_error\"", 8)) {
            c->bad_ok = 1;
            wsc_close(w, 1000, "done");
        }
        return;
    }
    if (len > 20 && memcmp(d, "{\"event\":\"_", 11) == 0) {
        if (memmem(d, 30, "_connected", 10)) {
            str_after(d, len, "\"epoch\":\"", c->epoch, sizeof c->epoch);
            if (!c->resumed) {
                c->have_last = 1;
                c->last = (unsigned long long)num_after(d, len, "\"offset\":");
            }
        } else if (memmem(d, 30, "_recovery", 9)) {
            if (memmem(d, len, "\"recovered\":true", 16)) {
                atomic_fetch_add(&ctr.recovered, 1);
            } else {
                atomic_fetch_add(&ctr.not_recovered, 1);
                c->last = (unsigned long long)num_after(d, len, "\"from\":") - 1;
                c->have_b = 0; /* a gap the relay owned up to: count from the next one */
            }
        } else if (memmem(d, 30, "_subscribed", 11)) {
            atomic_fetch_add(&ctr.subscribed, 1);
        }
        return;
    }
    long long off = num_after(d, len, ",\"offset\":");
    if (off > 0)
        check_event(c, (unsigned long long)off, num_after(d, len, "{\"b\":"),
                    memmem(d, len, "\"channel\":", 10) != NULL);
}

static void on_close(struct wsc *w, int code, const char *reason, void *ud)
{
    (void)ud;
    (void)reason;
    struct cl *c = wsc_user(w);
    if (c->kind == K_SIO) {
        soak_sio_ws_close(w);
        return;
    }
    int was_open = c->open;
    c->open = 0;
    c->w = NULL;
    if (c->kind == K_BAD) {
        int want = soak_bad_ws_expect(c->bad_case);
        int ok = c->bad_case == SOAK_BAD_SUBSCRIBE ? c->bad_ok
                 : want == 0                       ? !was_open && code == 0
                                                   : code == want;
        atomic_fetch_add(ok ? &ctr.bad_ws_ok : &ctr.bad_ws_wrong, 1);
        if (!ok && atomic_fetch_add(&ctr.bad_reports, 1) < 5)
            fprintf(stderr, "soakclient: bad ws case %d: close %d, want %d\n", c->bad_case, code,
                    want);
        free(c);
        return;
    }
    if (c->kind == K_STEADY) {
        atomic_fetch_add(&ctr.steady_dropped, 1); /* never asked for: come back with since */
        c->action_at = soak_now_us() + 200000;
    } else {
        c->action_at = soak_now_us() + (rand() % 2000) * 1000;
    }
}

static void on_wake(struct wsc_pool *p, void *ud)
{
    (void)p;
    (void)ud;
}

/* Opens the steady clients in batches, so the relay's backlog is never the question. */
static void open_steady(void)
{
    for (int i = 0; i < cfg.clients; i++) {
        steady[i] = (struct cl){.kind = K_STEADY, .idx = i};
        connect_client(&steady[i]);
        if (i % 200 == 199)
            wsc_pool_service(pool, 50);
    }
}

static void schedule(int64_t now, int64_t end)
{
    for (int i = 0; i < cfg.churn; i++) {
        struct cl *c = &churn[i];
        if (c->w && c->open && now >= c->action_at && !final_phase) {
            wsc_close(c->w, i % 2 ? 1000 : 1001, "churn");
            c->action_at = INT64_MAX;
        } else if (c->w == NULL && now >= c->action_at) {
            connect_client(c);
        }
    }
    for (int i = 0; i < cfg.clients; i++)
        if (steady[i].w == NULL && now >= steady[i].action_at)
            connect_client(&steady[i]);
    static int64_t next_bad;
    if (!final_phase && now >= next_bad && now < end) {
        static int k;
        struct cl *b = calloc(1, sizeof *b);
        b->kind = K_BAD;
        b->bad_case = k++ % SOAK_BAD_WS_CASES;
        char path[64], err[256];
        snprintf(path, sizeof path, "%s",
                 soak_bad_ws_expect(b->bad_case) == 0 ? "/not-a-path" : "/websocket-service");
        struct wsc_options o = {.host = cfg.host, .port = cfg.ws_port, .path = path, .user = b};
        if (wsc_connect(pool, &o, err, sizeof err) == NULL)
            free(b);
        else
            atomic_fetch_add(&ctr.bad_ws_sent, 1);
        next_bad = now + 250000;
    }
}

/* Clients not open or short of the last acknowledged broadcast event. */
static int count_behind(unsigned long long want)
{
    int n = 0;
    for (int i = 0; i < cfg.clients; i++)
        n += !steady[i].open || steady[i].b < want;
    for (int i = 0; i < cfg.churn; i++)
        n += !churn[i].open || churn[i].b < want;
    return n + soak_sio_behind(want);
}

int main(int argc, char **argv)
{
    if (soak_parse_args(argc, argv) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    srand((unsigned)getpid());
    struct wsc_callbacks cb = {on_open, on_message, on_close, on_wake, NULL};
    char err[256];
    pool = wsc_pool_new(cfg.clients + cfg.churn + cfg.sio + 64, &cb, NULL, err, sizeof err);
    if (pool == NULL) {
        fprintf(stderr, "soakclient: %s\n", err);
        return 1;
    }
    steady = calloc((size_t)cfg.clients + 1, sizeof *steady);
    churn = calloc((size_t)cfg.churn + 1, sizeof *churn);
    open_steady();
    soak_sio_init(pool);
    for (int i = 0; i < cfg.churn; i++)
        churn[i] = (struct cl){.kind = K_CHURN, .idx = i, .action_at = soak_now_us() + i * 3000};

    pthread_t emitter, badhttp, slow;
    pthread_create(&emitter, NULL, soak_emitter_main, NULL);
    pthread_create(&badhttp, NULL, soak_bad_http_main, NULL);
    pthread_create(&slow, NULL, soak_slow_main, NULL);

    int64_t start = soak_now_us(), end = start + (int64_t)cfg.seconds * 1000000;
    int64_t next_progress = start + 10000000;
    int tty = isatty(2);
    while (soak_now_us() < end) {
        wsc_pool_service(pool, 20);
        int64_t now = soak_now_us();
        soak_sio_service(now);
        schedule(now, end);
        if (tty && now >= next_progress) {
            fprintf(stderr,
                    "soakclient: t=%llds emits=%llu events=%llu missed=%llu reconnects=%llu "
                    "slow_closed=%llu bad_ws=%llu/%llu bad_http=%llu/%llu sio=%llu/%llu\n",
                    (long long)((now - start) / 1000000), atomic_load(&ctr.emits_ok),
                    atomic_load(&ctr.events), atomic_load(&ctr.missed),
                    atomic_load(&ctr.churn_connects), atomic_load(&ctr.slow_closed),
                    atomic_load(&ctr.bad_ws_ok), atomic_load(&ctr.bad_ws_sent),
                    atomic_load(&ctr.bad_http_ok), atomic_load(&ctr.bad_http_sent),
                    atomic_load(&ctr.sio_recovered), atomic_load(&ctr.sio_connects));
            next_progress += 10000000;
        }
    }
    /* The end: no more emits; every churn client comes back; all must catch up. */
    atomic_store(&soak_stop_emits, 1);
    pthread_join(emitter, NULL);
    pthread_join(badhttp, NULL);
    final_phase = 1;
    for (int i = 0; i < cfg.churn; i++)
        churn[i].action_at = 0;
    soak_sio_final();
    int64_t deadline = soak_now_us() + 30000000;
    while (soak_now_us() < deadline && count_behind(atomic_load(&soak_last_b_acked)) > 0) {
        wsc_pool_service(pool, 20);
        soak_sio_service(soak_now_us());
        schedule(soak_now_us(), 0);
    }
    ctr.behind_at_end = (unsigned long long)count_behind(atomic_load(&soak_last_b_acked));
    soak_sio_close_all();
    pthread_join(slow, NULL);
    soak_print_summary(stdout);
    wsc_pool_free(pool);
    soak_sio_free();
    free(steady);
    free(churn);
    curl_global_cleanup();
    return 0;
}
