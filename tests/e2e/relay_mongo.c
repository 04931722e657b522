/*
 * relay_mongo — the Jepsen-style check of relays over MongoDB (driven by relay_mongo.sh,
 * which injects the faults: a relay paused and resumed, one killed and restarted, the
 * MongoDB primary stepped down, one stopped and restarted).
 *
 *   relay_mongo SECONDS RATE CLIENTS WS0 HTTP0 WS1 HTTP1 WS2 HTTP2
 *
 * Emitters post events with unique ids to the relays in turn; an emit that fails, times out
 * or gets 503 is retried with the same id on the next relay until one answers 202. Clients
 * are spread over the relays; a client whose connection ends resumes on the next relay with
 * since/epoch. At the end every relay's whole stream is read back (since=0, which goes
 * through MongoDB for what the relays' small rings no longer hold) and checked:
 *   - every acknowledged emit is there exactly once, at the offset it was acknowledged with;
 *   - offsets strictly increase; the three relays hold the same sequence;
 *   - an id acknowledged twice (a retry) got the same offset both times;
 *   - every client got every event of the stream from its first connect on, in order,
 *     without duplicates, and every resume was answered recovered:true.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"
#include "envelope.h"
#include "wsclient.h"

#define RELAYS 3
#define MAXC 64
#define MAXE 20000
#define EMITTERS 3

static int ws_port[RELAYS], http_port[RELAYS];
static char epoch[ENVELOPE_EPOCH_BUF];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Emits: id "e<N>" -> acknowledged offset (0 = never acknowledged). */
static uint64_t acked[MAXE];
static int nemits;
static atomic_int mismatched_acks, retries, gave_up;

struct client {
    int idx, relay, open, joined;
    uint64_t last;       /* newest offset received */
    uint64_t first_head; /* _connected offset of the very first connection */
    uint64_t *got;       /* offsets received, in order */
    int *emit;           /* the emit each of them carries (payload "eN" -> N; -1 if none) */
    size_t ngot, cap;
    int dups, disorder, resumes, recovered_false;
    struct wsc *ws;
};
static struct client clients[MAXC];
static int nclients;
static int64_t reconnect_at[MAXC];

static void on_open(struct wsc *c, void *ud)
{
    (void)ud;
    ((struct client *)wsc_user(c))->open = 1;
}

static void on_message(struct wsc *c, const char *d, size_t n, int binary, void *ud)
{
    (void)ud;
    struct client *cl = wsc_user(c);
    struct envelope e;
    char err[128];
    if (binary || envelope_decode(d, n, &e, err, sizeof err) != 0)
        return;
    if (strcmp(e.event, "_connected") == 0) {
        if (!cl->joined) {
            cl->first_head = (uint64_t)json_integer_value(json_object_get(e.data, "offset"));
            cl->last = cl->first_head;
            cl->joined = 1;
            pthread_mutex_lock(&lock);
            if (!*epoch)
                snprintf(epoch, sizeof epoch, "%s",
                         json_string_value(json_object_get(e.data, "epoch")));
            pthread_mutex_unlock(&lock);
        }
    } else if (strcmp(e.event, "_recovery") == 0) {
        cl->resumes++;
        if (!json_is_true(json_object_get(e.data, "recovered")))
            cl->recovered_false++;
    } else if (e.offset > 0) {
        if (e.offset <= cl->last) {
            if (e.offset == cl->last || cl->ngot == 0)
                cl->dups++;
            else
                cl->disorder++;
        } else {
            if (cl->ngot == cl->cap) {
                cl->cap = cl->cap ? cl->cap * 2 : 1024;
                cl->got = realloc(cl->got, cl->cap * sizeof *cl->got);
                cl->emit = realloc(cl->emit, cl->cap * sizeof *cl->emit);
            }
            const char *em = json_string_value(json_object_get(e.data, "emit"));
            cl->emit[cl->ngot] = em && em[0] == 'e' ? atoi(em + 1) : -1;
            cl->got[cl->ngot++] = e.offset;
            cl->last = e.offset;
        }
    }
    envelope_cleanup(&e);
}

static void connect_client(struct wsc_pool *p, struct client *cl)
{
    char path[160];
    if (cl->joined)
        snprintf(path, sizeof path, "/websocket-service?since=%" PRIu64 "&epoch=%s", cl->last,
                 epoch);
    else
        snprintf(path, sizeof path, "/websocket-service");
    struct wsc_options o = {
        .host = "127.0.0.1", .port = ws_port[cl->relay], .path = path, .user = cl};
    char err[128];
    cl->ws = wsc_connect(p, &o, err, sizeof err);
    if (cl->ws == NULL)
        reconnect_at[cl->idx] = e2e_now_us() + 200000;
}

static void on_close(struct wsc *c, int code, const char *reason, void *ud)
{
    (void)code;
    (void)reason;
    (void)ud;
    struct client *cl = wsc_user(c);
    cl->open = 0;
    cl->ws = NULL;
    cl->relay = (cl->relay + 1) % RELAYS; /* resume somewhere else */
    reconnect_at[cl->idx] = e2e_now_us() + 100000;
}

static size_t keep(char *p, size_t s, size_t n, void *ud)
{
    struct e2e_buf *b = ud;
    return e2e_sink(p, s, n, b);
}

/* Posts one emit to relay r. Returns the offset, or 0 when not acknowledged. */
static uint64_t post(CURL *h, struct curl_slist *hdr, int r, int id, int *dup)
{
    char url[64], body[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/emit", http_port[r]);
    snprintf(body, sizeof body,
             "{\"event\":\"new_product\",\"payload\":{\"emit\":\"e%d\"},\"id\":\"e%d\"}", id, id);
    struct e2e_buf b = {.len = 0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2500L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 500L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    long status = 0;
    if (curl_easy_perform(h) != CURLE_OK ||
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 202)
        return 0;
    b.data[b.len] = '\0';
    json_t *o = json_loads(b.data, 0, NULL);
    uint64_t off = (uint64_t)json_integer_value(json_object_get(o, "offset"));
    *dup = json_is_true(json_object_get(o, "duplicate"));
    json_decref(o);
    return off;
}

struct emitter_arg {
    int k, per_emitter;
    double rate, seconds;
};

static void *emitter(void *arg)
{
    struct emitter_arg *a = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    int64_t t0 = e2e_now_us();
    for (int i = 0; i < a->per_emitter; i++) {
        int id = a->k * a->per_emitter + i;
        int64_t due = t0 + (int64_t)((double)i * 1e6 / a->rate);
        while (e2e_now_us() < due)
            usleep(1000);
        int r = id % RELAYS, dup = 0, attempts = 0;
        uint64_t off = 0;
        int64_t give_up = e2e_now_us() + 30 * 1000000LL;
        while ((off = post(h, hdr, r, id, &dup)) == 0 && e2e_now_us() < give_up) {
            r = (r + 1) % RELAYS; /* another relay, same id */
            attempts++;
            usleep(50000);
        }
        atomic_fetch_add(&retries, attempts);
        pthread_mutex_lock(&lock);
        if (off == 0)
            atomic_fetch_add(&gave_up, 1);
        else if (acked[id] && acked[id] != off)
            atomic_fetch_add(&mismatched_acks, 1);
        else
            acked[id] = off;
        pthread_mutex_unlock(&lock);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

static void probe_close(struct wsc *c, int code, const char *reason, void *ud)
{
    (void)code;
    (void)reason;
    (void)ud;
    ((struct client *)wsc_user(c))->ws = NULL;
}

/*
 * Reads relay r's whole stream from since=0 up to offset head. A relay that is still
 * restarting refuses the connection: the read is retried (resuming where it got to) for up
 * to 30 s.
 */
static size_t read_all(int r, uint64_t head, uint64_t *offs, int *emits, size_t max)
{
    struct client probe = {.idx = 0, .joined = 1}; /* joined: offsets count from 0 */
    struct wsc_callbacks cb = {on_open, on_message, probe_close, NULL, NULL};
    char err[128], path[160];
    struct wsc_pool *p = wsc_pool_new(2, &cb, NULL, err, sizeof err);
    int64_t until = e2e_now_us() + 30 * 1000000LL;
    while (probe.last < head && e2e_now_us() < until) {
        if (probe.ws == NULL) {
            snprintf(path, sizeof path, "/websocket-service?since=%" PRIu64 "&epoch=%s", probe.last,
                     epoch);
            struct wsc_options o = {.host = "127.0.0.1",
                                    .port = ws_port[r],
                                    .path = path,
                                    .user = &probe,
                                    .max_message = 1 << 20};
            probe.ws = wsc_connect(p, &o, err, sizeof err);
            if (probe.ws == NULL)
                usleep(200000);
        }
        wsc_pool_service(p, 50);
    }
    wsc_pool_free(p);
    size_t n = probe.ngot < max ? probe.ngot : max;
    memcpy(offs, probe.got, n * sizeof *offs);
    memcpy(emits, probe.emit, n * sizeof *emits);
    free(probe.got);
    free(probe.emit);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr, "usage: relay_mongo SECONDS RATE CLIENTS WS0 HTTP0 WS1 HTTP1 WS2 HTTP2\n");
        return 2;
    }
    double seconds = atof(argv[1]), rate = atof(argv[2]);
    nclients = atoi(argv[3]);
    if (nclients > MAXC)
        nclients = MAXC;
    for (int r = 0; r < RELAYS; r++) {
        ws_port[r] = atoi(argv[4 + 2 * r]);
        http_port[r] = atoi(argv[5 + 2 * r]);
    }
    nemits = (int)(seconds * rate);
    if (nemits > MAXE)
        nemits = MAXE;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char err[128];
    struct wsc_callbacks cb = {on_open, on_message, on_close, NULL, NULL};
    struct wsc_pool *p = wsc_pool_new(nclients + 4, &cb, NULL, err, sizeof err);
    for (int i = 0; i < nclients; i++) {
        clients[i].idx = i;
        clients[i].relay = i % RELAYS;
        connect_client(p, &clients[i]);
    }
    int64_t until = e2e_now_us() + 5000000;
    int joined = 0;
    while (e2e_now_us() < until && joined < nclients) {
        wsc_pool_service(p, 20);
        joined = 0;
        for (int i = 0; i < nclients; i++)
            joined += clients[i].joined;
    }
    check(joined == nclients, "mongo_clients_connected", "%d of %d", joined, nclients);

    pthread_t th[EMITTERS];
    struct emitter_arg args[EMITTERS];
    for (int k = 0; k < EMITTERS; k++) {
        args[k] = (struct emitter_arg){k, nemits / EMITTERS, rate / EMITTERS, seconds};
        pthread_create(&th[k], NULL, emitter, &args[k]);
    }
    /* Serve the clients while the emitters run (and the script injects faults). */
    int64_t end = e2e_now_us() + (int64_t)(seconds * 1e6) + 40 * 1000000LL;
    atomic_int done;
    atomic_init(&done, 0);
    while (e2e_now_us() < end) {
        wsc_pool_service(p, 20);
        int64_t now = e2e_now_us();
        for (int i = 0; i < nclients; i++)
            if (clients[i].ws == NULL && reconnect_at[i] && now >= reconnect_at[i]) {
                reconnect_at[i] = 0;
                connect_client(p, &clients[i]);
            }
        if (pthread_tryjoin_np(th[0], NULL) == 0) {
            for (int k = 1; k < EMITTERS; k++)
                pthread_join(th[k], NULL);
            atomic_store(&done, 1);
            break;
        }
    }
    check(atomic_load(&done), "mongo_emitters_finished", "still emitting after the deadline");
    nemits = (nemits / EMITTERS) * EMITTERS;
    uint64_t head = 0;
    int nacked = 0;
    for (int i = 0; i < nemits; i++) {
        if (acked[i] > head)
            head = acked[i];
        nacked += acked[i] != 0;
    }
    check(nacked == nemits, "mongo_every_emit_acknowledged", "%d of %d (gave up on %d)", nacked,
          nemits, atomic_load(&gave_up));
    check(atomic_load(&mismatched_acks) == 0, "mongo_retry_acks_same_offset",
          "%d retried ids acknowledged under another offset", atomic_load(&mismatched_acks));
    printf("info: emits=%d retries=%d head=%" PRIu64 "\n", nemits, atomic_load(&retries), head);
    /* Let the clients drain the end of the stream. */
    until = e2e_now_us() + 15 * 1000000LL;
    for (;;) {
        wsc_pool_service(p, 20);
        int64_t now = e2e_now_us();
        int behind = 0;
        for (int i = 0; i < nclients; i++) {
            if (clients[i].ws == NULL && reconnect_at[i] && now >= reconnect_at[i]) {
                reconnect_at[i] = 0;
                connect_client(p, &clients[i]);
            }
            behind += clients[i].last < head;
        }
        if (behind == 0 || now > until)
            break;
    }

    /* Every relay's whole stream. */
    static uint64_t offs[RELAYS][MAXE * 2];
    static int emits[RELAYS][MAXE * 2];
    size_t nread[RELAYS];
    for (int r = 0; r < RELAYS; r++)
        nread[r] = read_all(r, head, offs[r], emits[r], MAXE * 2);
    for (int r = 0; r < RELAYS; r++) {
        int increasing = 1;
        for (size_t i = 1; i < nread[r]; i++)
            increasing &= offs[r][i] > offs[r][i - 1];
        char name[64];
        snprintf(name, sizeof name, "mongo_relay%d_stream_ordered", r);
        check(increasing && nread[r] > 0, name, "%zu events, increasing=%d", nread[r], increasing);
        snprintf(name, sizeof name, "mongo_relay%d_same_stream", r);
        check(nread[r] == nread[0] && memcmp(offs[r], offs[0], nread[0] * sizeof offs[0][0]) == 0 &&
                  memcmp(emits[r], emits[0], nread[0] * sizeof emits[0][0]) == 0,
              name, "relay %d holds %zu events, relay 0 %zu", r, nread[r], nread[0]);
    }
    /* Every acknowledged offset is in the stream exactly once (the stream is increasing, so
     * once); and nothing is in the stream that nobody emitted. */
    int missing = 0, misplaced = 0;
    for (int i = 0; i < nemits; i++) {
        if (acked[i] == 0)
            continue;
        size_t lo = 0, hi = nread[0];
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (offs[0][mid] < acked[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        if (!(lo < nread[0] && offs[0][lo] == acked[i]))
            missing++;
        else if (emits[0][lo] != i)
            misplaced++; /* another emit sits at the offset this one was acknowledged with */
    }
    check(missing == 0, "mongo_every_ack_in_stream", "%d acknowledged offsets missing", missing);
    check(misplaced == 0, "mongo_every_ack_at_its_offset",
          "%d acknowledged offsets hold another emit", misplaced);
    check(nread[0] == (size_t)nacked, "mongo_stream_holds_only_acked",
          "stream %zu, acknowledged %d", nread[0], nacked);

    int lost = 0, dups = 0, disorder = 0, rec_false = 0, resumes = 0;
    for (int i = 0; i < nclients; i++) {
        struct client *cl = &clients[i];
        size_t j = 0;
        for (size_t k = 0; k < nread[0]; k++) {
            if (offs[0][k] <= cl->first_head)
                continue;
            while (j < cl->ngot && cl->got[j] < offs[0][k])
                j++;
            if (j >= cl->ngot || cl->got[j] != offs[0][k])
                lost++;
        }
        dups += cl->dups;
        disorder += cl->disorder;
        rec_false += cl->recovered_false;
        resumes += cl->resumes;
    }
    printf("info: clients=%d resumes=%d\n", nclients, resumes);
    check(resumes > 0, "mongo_clients_resumed", "no client had to resume: the faults did not bite");
    check(rec_false == 0, "mongo_resumes_recovered", "%d resumes answered recovered:false",
          rec_false);
    check(lost == 0, "mongo_clients_missed_nothing", "%d events missed by clients", lost);
    check(dups == 0 && disorder == 0, "mongo_clients_no_dup_no_disorder", "dups=%d disorder=%d",
          dups, disorder);
    for (int i = 0; i < nclients; i++) {
        free(clients[i].got);
        free(clients[i].emit);
    }
    wsc_pool_free(p);
    curl_global_cleanup();
    return e2e_failures ? 1 : 0;
}
