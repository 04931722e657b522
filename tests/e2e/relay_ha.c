/*
 * relay_ha — a Jepsen-style check of relays without a single point of failure.
 *
 *   relay_ha WS0 HTTP0 WS1 HTTP1 WS2 HTTP2 LEADER_PIDFILE EVENTS CLIENTS
 *
 * Clients are spread over three clustered relays; an emitter sends EVENTS events at about
 * 100/s, each with an idempotency id, to the relays in turn, retrying on another relay until
 * one answers 202. A third of the way in, the leader is killed with SIGKILL. Clients whose
 * relay dies reconnect to a live one with since/epoch of the last frame they saw. At the
 * end every client must hold every acknowledged event exactly once, in offset order, and
 * every resume must have been recovered. Prints PASS/FAIL lines.
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

#include "e2e.h"
#include "envelope.h"
#include "wsclient.h"

#define MAXC 300
#define MAXE 5000

struct client {
    int id, relay;
    struct wsc *ws;
    int open, connected_frames;
    uint64_t last_offset;
    char epoch[40];
    unsigned char got[MAXE]; /* times each seq was received */
    int disorder, reconnects, recovered, not_recovered;
    int64_t retry_at_us;
};

static struct client clients[MAXC];
static int ws_ports[3], http_ports[3];
static atomic_int dead[3];
static unsigned char acked[MAXE];
static int nclients, nevents;
static atomic_int emitted;
static int64_t kill_at_us, resumed_at_us;

static void on_open(struct wsc *c, void *ud)
{
    (void)ud;
    ((struct client *)wsc_user(c))->open = 1;
}

static void on_message(struct wsc *c, const char *d, size_t n, int binary, void *ud)
{
    (void)ud;
    (void)binary;
    struct client *cl = wsc_user(c);
    struct envelope e;
    char err[128];
    if (envelope_decode(d, n, &e, err, sizeof err) != 0)
        return;
    if (strcmp(e.event, "_connected") == 0) {
        cl->connected_frames++;
        if (cl->epoch[0] == '\0') {
            const char *ep = json_string_value(json_object_get(e.data, "epoch"));
            snprintf(cl->epoch, sizeof cl->epoch, "%s", ep ? ep : "");
            cl->last_offset = (uint64_t)json_integer_value(json_object_get(e.data, "offset"));
        }
    } else if (strcmp(e.event, "_recovery") == 0) {
        if (json_is_true(json_object_get(e.data, "recovered")))
            cl->recovered++;
        else
            cl->not_recovered++;
    } else if (strcmp(e.event, "new_product") == 0) {
        json_int_t seq = json_integer_value(json_object_get(e.data, "seq"));
        if (seq >= 0 && seq < MAXE && cl->got[seq] < 255)
            cl->got[seq]++;
        if (e.offset != cl->last_offset + 1)
            cl->disorder++;
        cl->last_offset = e.offset;
        snprintf(cl->epoch, sizeof cl->epoch, "%s", e.epoch);
    }
    envelope_cleanup(&e);
}

static void on_close(struct wsc *c, int code, const char *reason, void *ud)
{
    (void)code;
    (void)reason;
    (void)ud;
    struct client *cl = wsc_user(c);
    cl->ws = NULL;
    cl->open = 0;
    cl->retry_at_us = e2e_now_us() + 100000 + (rand() % 200000); /* jittered, as browsers do */
}

static void connect_client(struct wsc_pool *p, struct client *cl)
{
    char path[160], err[128];
    if (cl->epoch[0])
        snprintf(path, sizeof path, "/websocket-service?since=%" PRIu64 "&epoch=%s",
                 cl->last_offset, cl->epoch);
    else
        snprintf(path, sizeof path, "/websocket-service");
    struct wsc_options o = {.host = "127.0.0.1", .port = ws_ports[cl->relay], .path = path,
                            .user = cl};
    cl->ws = wsc_connect(p, &o, err, sizeof err);
    if (cl->ws == NULL)
        cl->retry_at_us = e2e_now_us() + 200000;
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static void *emitter(void *arg)
{
    (void)arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    int turn = 0;
    for (int seq = 0; seq < nevents; seq++) {
        char body[160], url[80];
        int n = snprintf(body, sizeof body,
                         "{\"event\":\"new_product\",\"payload\":{\"seq\":%d},\"id\":\"ev-%d\"}", seq,
                         seq);
        int64_t give_up = e2e_now_us() + 10000000;
        while (e2e_now_us() < give_up) {
            int r = turn++ % 3;
            if (atomic_load(&dead[r]))
                continue;
            snprintf(url, sizeof url, "http://127.0.0.1:%d/emit", http_ports[r]);
            curl_easy_setopt(h, CURLOPT_URL, url);
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)n);
            curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
            curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
            long code = 0;
            if (curl_easy_perform(h) == CURLE_OK)
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
            if (code == 202) {
                acked[seq] = 1;
                if (kill_at_us && !resumed_at_us)
                    resumed_at_us = e2e_now_us();
                break;
            }
            usleep(50000);
        }
        atomic_store(&emitted, seq + 1);
        usleep(10000);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 10) {
        fprintf(stderr, "usage: relay_ha WS0 HTTP0 WS1 HTTP1 WS2 HTTP2 PIDFILE EVENTS CLIENTS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < 3; i++) {
        ws_ports[i] = atoi(argv[1 + 2 * i]);
        http_ports[i] = atoi(argv[2 + 2 * i]);
    }
    const char *pidfile = argv[7];
    nevents = atoi(argv[8]) < MAXE ? atoi(argv[8]) : MAXE;
    nclients = atoi(argv[9]) < MAXC ? atoi(argv[9]) : MAXC;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char err[128];
    struct wsc_callbacks cb = {on_open, on_message, on_close, NULL};
    struct wsc_pool *p = wsc_pool_new(nclients + 8, &cb, NULL, err, sizeof err);
    for (int i = 0; i < nclients; i++) {
        clients[i].id = i;
        clients[i].relay = i % 3;
        connect_client(p, &clients[i]);
    }
    int64_t end = e2e_now_us() + 10000000;
    int ready = 0;
    while (e2e_now_us() < end && ready < nclients) {
        wsc_pool_service(p, 20);
        ready = 0;
        for (int i = 0; i < nclients; i++)
            ready += clients[i].open && clients[i].connected_frames > 0;
    }
    check(ready == nclients, "ha_clients_on_every_relay", "%d of %d connected", ready, nclients);

    pthread_t t;
    pthread_create(&t, NULL, emitter, NULL);
    int killed = 0;
    end = e2e_now_us() + 120000000;
    while (e2e_now_us() < end) {
        wsc_pool_service(p, 10);
        if (!killed && atomic_load(&emitted) >= nevents / 3) {
            int pid = 0;
            FILE *f = fopen(pidfile, "r");
            if (f && fscanf(f, "%d", &pid) == 1 && pid > 0) {
                kill(pid, SIGKILL);
                atomic_store(&dead[0], 1);
                kill_at_us = e2e_now_us();
            }
            if (f)
                fclose(f);
            killed = 1;
        }
        for (int i = 0; i < nclients; i++) {
            struct client *cl = &clients[i];
            if (cl->ws == NULL && e2e_now_us() >= cl->retry_at_us) {
                if (atomic_load(&dead[cl->relay]))
                    cl->relay = 1 + cl->id % 2; /* fail over to a live relay */
                cl->reconnects++;
                connect_client(p, cl);
            }
        }
        if (atomic_load(&emitted) >= nevents) {
            int done = 1;
            for (int i = 0; i < nclients && done; i++)
                for (int s = 0; s < nevents; s++)
                    if (acked[s] && !clients[i].got[s]) {
                        done = 0;
                        break;
                    }
            if (done)
                break;
        }
    }
    pthread_join(t, NULL);
    int nacked = 0, lost = 0, dup = 0, disorder = 0, recovered = 0, refused = 0, moved = 0;
    for (int s = 0; s < nevents; s++)
        nacked += acked[s];
    for (int i = 0; i < nclients; i++) {
        for (int s = 0; s < nevents; s++) {
            lost += acked[s] && !clients[i].got[s];
            dup += clients[i].got[s] > 1;
        }
        disorder += clients[i].disorder;
        recovered += clients[i].recovered;
        refused += clients[i].not_recovered;
        moved += clients[i].reconnects > 0;
    }
    check(killed && nacked == nevents, "ha_every_emit_acknowledged", "%d of %d acknowledged",
          nacked, nevents);
    check(lost == 0, "ha_no_acknowledged_event_lost", "%d (client, event) pairs lost", lost);
    check(dup == 0, "ha_no_duplicates", "%d duplicated deliveries", dup);
    check(disorder == 0, "ha_offsets_in_order", "%d out-of-order frames", disorder);
    check(moved > 0 && recovered >= moved && refused == 0, "ha_every_resume_recovered",
          "%d clients moved, %d resumes recovered, %d refused", moved, recovered, refused);
    double gap = resumed_at_us && kill_at_us ? (double)(resumed_at_us - kill_at_us) / 1e6 : -1;
    check(gap >= 0 && gap < 5, "ha_emits_resume_after_leader_loss", "gap %.2fs", gap);
    printf("info: %d events, %d clients, %d moved relays; emits resumed %.2fs after the kill\n",
           nevents, nclients, moved, gap);
    wsc_pool_free(p);
    curl_global_cleanup();
    return e2e_failures ? 1 : 0;
}
