/*
 * relay_channels — channels end to end (driven by relay_channels.sh).
 *
 *   relay_channels MODE CLIENTS EVENTS RELAY_PID WS0 HTTP0 [WS1 HTTP1]
 *
 * MODE memory: one in-memory relay; a quarter of the clients are disconnected by the client
 * mid-stream and resume with since/epoch. MODE mongo: two relays over MongoDB; relay 0 is
 * stopped (SIGTERM, pid RELAY_PID) mid-stream and its clients resume on relay 1.
 *
 * Clients join channels ch-0..ch-4 at connect (?channels=): client i joins ch-(i%5), every
 * 7th also ch-((i+2)%5), every 11th none (broadcast only); every 13th subscribes to ch-4
 * mid-stream with a {"subscribe":[..]} message, and is owed ch-4's events from the offset
 * its _subscribed names. Events go to ch-(j%5), every 6th to everyone. Each client must get
 * exactly the events it is owed — its channels' and the broadcast ones — in order, nothing
 * else, nothing twice, across its resume.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"
#include "envelope.h"
#include "wsclient.h"

#define MAXC 2000
#define MAXE 5000
#define NCH 5

static int ws_port[2], http_port[2], nrelays;
static char epoch[ENVELOPE_EPOCH_BUF];

struct client {
    int idx, relay, joined, resumes, recovered_false, subscribed_late;
    unsigned chans;     /* bit k: joined ch-k at connect */
    uint64_t late_from; /* ch-4 owed from here (mid-stream subscribe), 0 = never */
    uint64_t first_head, last;
    uint64_t *got;
    size_t ngot, cap;
    int foreign, dups;
    struct wsc *ws;
    int64_t reconnect_at;
};
static struct client clients[MAXC];
static int nclients;
static int ev_channel[MAXE + 1]; /* by offset: -1 broadcast, k = ch-k, -2 not ours */
static uint64_t ev_max;

static unsigned initial_chans(int i)
{
    if (i % 11 == 0)
        return 0;
    unsigned m = 1u << (i % NCH);
    if (i % 7 == 0)
        m |= 1u << ((i + 2) % NCH);
    return m;
}

static void on_open(struct wsc *c, void *ud)
{
    (void)c;
    (void)ud;
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
            if (!*epoch)
                snprintf(epoch, sizeof epoch, "%s",
                         json_string_value(json_object_get(e.data, "epoch")));
        }
    } else if (strcmp(e.event, "_recovery") == 0) {
        cl->resumes++;
        cl->recovered_false += !json_is_true(json_object_get(e.data, "recovered"));
    } else if (strcmp(e.event, "_subscribed") == 0) {
        json_t *chs = json_object_get(e.data, "channels");
        size_t i;
        json_t *v;
        json_array_foreach(chs, i, v)
        {
            if (strcmp(json_string_value(v), "ch-4") == 0 && cl->subscribed_late == 1 &&
                !(cl->chans & (1u << 4)) && cl->late_from == 0)
                cl->late_from = (uint64_t)json_integer_value(json_object_get(e.data, "from"));
        }
    } else if (e.offset > 0) {
        if (e.offset <= cl->last) {
            cl->dups++;
        } else {
            if (cl->ngot == cl->cap) {
                cl->cap = cl->cap ? cl->cap * 2 : 512;
                cl->got = realloc(cl->got, cl->cap * sizeof *cl->got);
            }
            cl->got[cl->ngot++] = e.offset;
            cl->last = e.offset;
        }
    }
    envelope_cleanup(&e);
}

static void connect_client(struct wsc_pool *p, struct client *cl)
{
    char path[256], ch[64] = "";
    for (int k = 0; k < NCH; k++)
        if (cl->chans & (1u << k))
            snprintf(ch + strlen(ch), sizeof ch - strlen(ch), "%sch-%d", *ch ? "," : "", k);
    /* A late subscriber resumes with its late channel too: channels are the client's. */
    if (cl->late_from)
        snprintf(ch + strlen(ch), sizeof ch - strlen(ch), "%sch-4", *ch ? "," : "");
    if (cl->joined)
        snprintf(path, sizeof path, "/websocket-service?since=%" PRIu64 "&epoch=%s&channels=%s",
                 cl->last, epoch, ch);
    else
        snprintf(path, sizeof path, "/websocket-service?channels=%s", ch);
    struct wsc_options o = {
        .host = "127.0.0.1", .port = ws_port[cl->relay], .path = path, .user = cl};
    char err[128];
    cl->ws = wsc_connect(p, &o, err, sizeof err);
    if (cl->ws == NULL)
        cl->reconnect_at = e2e_now_us() + 200000;
}

static void on_close(struct wsc *c, int code, const char *reason, void *ud)
{
    (void)code;
    (void)reason;
    (void)ud;
    struct client *cl = wsc_user(c);
    cl->ws = NULL;
    cl->relay = nrelays > 1 ? 1 : 0;
    cl->reconnect_at = e2e_now_us() + 50000;
}

static void service(struct wsc_pool *p, int ms)
{
    wsc_pool_service(p, ms);
    int64_t now = e2e_now_us();
    for (int i = 0; i < nclients; i++)
        if (clients[i].ws == NULL && clients[i].reconnect_at && now >= clients[i].reconnect_at) {
            clients[i].reconnect_at = 0;
            connect_client(p, &clients[i]);
        }
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    return e2e_sink(p, s, n, ud);
}

/* Emits event j (channel by j) to a live relay; returns its offset or 0. */
static uint64_t emit(CURL *h, struct curl_slist *hdr, int j, int relay)
{
    char url[64], body[192], ch[40] = "";
    if (j % 6 != 0)
        snprintf(ch, sizeof ch, ",\"channel\":\"ch-%d\"", j % NCH);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/emit", http_port[relay]);
    snprintf(body, sizeof body,
             "{\"event\":\"new_product\",\"payload\":{\"j\":%d},\"id\":\"c%d\"%s}", j, j, ch);
    struct e2e_buf b = {.len = 0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    long st = 0;
    if (curl_easy_perform(h) != CURLE_OK || curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st) ||
        st != 202)
        return 0;
    b.data[b.len] = '\0';
    json_t *o = json_loads(b.data, 0, NULL);
    uint64_t off = (uint64_t)json_integer_value(json_object_get(o, "offset"));
    json_decref(o);
    return off;
}

static int owed(const struct client *cl, uint64_t off)
{
    int k = ev_channel[off];
    if (k == -2)
        return 0;
    if (k < 0)
        return 1;
    if (cl->chans & (1u << k))
        return 1;
    return k == 4 && cl->late_from && off >= cl->late_from;
}

int main(int argc, char **argv)
{
    if (argc != 7 && argc != 9) {
        fprintf(
            stderr,
            "usage: relay_channels memory|mongo CLIENTS EVENTS RELAY_PID WS0 HTTP0 [WS1 HTTP1]\n");
        return 2;
    }
    int mongo = strcmp(argv[1], "mongo") == 0;
    nclients = atoi(argv[2]);
    int nevents = atoi(argv[3]);
    pid_t relay0 = (pid_t)atoi(argv[4]);
    nrelays = argc == 9 ? 2 : 1;
    if (nclients > MAXC)
        nclients = MAXC;
    if (nevents > MAXE)
        nevents = MAXE;
    for (int r = 0; r < nrelays; r++) {
        ws_port[r] = atoi(argv[5 + 2 * r]);
        http_port[r] = atoi(argv[6 + 2 * r]);
    }
    for (int o = 0; o <= MAXE; o++)
        ev_channel[o] = -2; /* not emitted by us: owed to nobody */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char err[128];
    struct wsc_callbacks cb = {on_open, on_message, on_close, NULL, NULL};
    struct wsc_pool *p = wsc_pool_new(nclients + 8, &cb, NULL, err, sizeof err);
    for (int i = 0; i < nclients; i++) {
        clients[i] = (struct client){.idx = i, .relay = i % nrelays, .chans = initial_chans(i)};
        connect_client(p, &clients[i]);
    }
    int64_t until = e2e_now_us() + 30 * 1000000LL;
    int joined = 0;
    while (joined < nclients && e2e_now_us() < until) {
        service(p, 20);
        joined = 0;
        for (int i = 0; i < nclients; i++)
            joined += clients[i].joined;
    }
    check(joined == nclients, "channels_clients_joined", "%d of %d", joined, nclients);

    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    int acked = 0, disrupted = 0;
    for (int j = 1; j <= nevents; j++) {
        int relay = nrelays > 1 && disrupted ? 1 : 0;
        uint64_t off = 0;
        for (int attempt = 0; attempt < 20 && off == 0; attempt++) {
            off = emit(h, hdr, j, relay);
            if (off == 0) {
                relay = nrelays - 1;
                service(p, 50);
            }
        }
        if (off > 0 && off <= MAXE) {
            ev_channel[off] = j % 6 == 0 ? -1 : j % NCH;
            if (off > ev_max)
                ev_max = off;
            acked++;
        }
        if (j == nevents / 3) {
            /* Some clients join ch-4 mid-stream. */
            for (int i = 13; i < nclients; i += 13) {
                if (clients[i].ws && !(clients[i].chans & (1u << 4))) {
                    clients[i].subscribed_late = 1;
                    wsc_send_text(clients[i].ws, "{\"subscribe\":[\"ch-4\"]}", 22);
                }
            }
        }
        if (j == nevents / 2) {
            disrupted = 1;
            if (mongo) {
                kill(relay0, SIGTERM); /* its clients resume on relay 1 */
            } else {
                for (int i = 0; i < nclients; i += 4)
                    if (clients[i].ws)
                        wsc_close(clients[i].ws, 1000, "client leaves for a while");
            }
        }
        service(p, 1);
    }
    check(acked == nevents, "channels_events_acknowledged", "%d of %d", acked, nevents);
    until = e2e_now_us() + 30 * 1000000LL;
    for (;;) {
        service(p, 20);
        int behind = 0;
        for (int i = 0; i < nclients; i++) {
            uint64_t want = 0;
            for (uint64_t o = ev_max; o > clients[i].first_head && want == 0; o--)
                if (ev_channel[o] != -2 && owed(&clients[i], o))
                    want = o;
            behind += clients[i].last < want;
        }
        if (behind == 0 || e2e_now_us() > until)
            break;
    }
    int missing = 0, extra = 0, dups = 0, resumes = 0, rec_false = 0, late = 0, perfect = 0;
    for (int i = 0; i < nclients; i++) {
        struct client *cl = &clients[i];
        size_t j = 0;
        int bad = 0;
        for (uint64_t o = cl->first_head + 1; o <= ev_max; o++) {
            int is_owed = owed(cl, o);
            int got = j < cl->ngot && cl->got[j] == o;
            if (got)
                j++;
            if (is_owed && !got)
                missing++, bad = 1;
            if (!is_owed && got)
                extra++, bad = 1;
        }
        extra += (int)(cl->ngot - j);
        dups += cl->dups;
        resumes += cl->resumes;
        rec_false += cl->recovered_false;
        late += cl->late_from != 0;
        perfect += !bad && cl->dups == 0;
    }
    printf("info: mode=%s clients=%d events=%d resumes=%d late_subscribers=%d\n", argv[1], nclients,
           nevents, resumes, late);
    check(resumes >= nclients / 5, "channels_clients_resumed", "only %d resumes", resumes);
    check(rec_false == 0, "channels_resumes_recovered", "%d resumes not recovered", rec_false);
    check(late > 0, "channels_late_subscribe_answered", "no _subscribed for a mid-stream join");
    check(missing == 0, "channels_nothing_missed", "%d owed events missed", missing);
    check(extra == 0, "channels_nothing_foreign", "%d events of channels not joined", extra);
    check(dups == 0, "channels_no_duplicates", "%d duplicates", dups);
    check(perfect == nclients, "channels_every_client_exact", "%d of %d clients exact", perfect,
          nclients);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    for (int i = 0; i < nclients; i++)
        free(clients[i].got);
    wsc_pool_free(p);
    curl_global_cleanup();
    return e2e_failures ? 1 : 0;
}
