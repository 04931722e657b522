/*
 * fakeapp_e2e — who receives new_product, with real websocket clients and three running
 * fakeapps.
 *
 *   fakeapp_e2e embedded EVENTS WS1,WS2,WS3 APP1,APP2,APP3
 *       two clients on each app's own websocket port; each must get exactly the events
 *       created on its app (the broken architecture, reproduced).
 *   fakeapp_e2e relay EVENTS RELAY_WS APP1,APP2,APP3
 *       clients on the relay; each must get every event, once, in offset order.
 *
 * Products are created round-robin over the apps. Prints "PASS: name" / "FAIL: name: why";
 * exits 0 only when all passed.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "envelope.h"
#include "wsclient.h"

#define MAX_APPS 3
#define MAX_CLIENTS 64
#define MAX_EVENTS 2000

struct client {
    struct wsc *ws;
    int app; /* embedded: index of the app it is connected to; relay: -1 */
    int open, closed, connected;
    int got[MAX_EVENTS]; /* times event k was received */
    int events, foreign, bad, disorder;
    uint64_t last_offset;
};

static struct client clients[MAX_CLIENTS];
static int nclients, nevents;
static int app_ports[MAX_APPS], ws_ports[MAX_APPS];
static char pods[MAX_APPS][64];
static int event_app[MAX_EVENTS]; /* which app created event k (-1 = not created) */
static char prefix[32];
static CURL *curl;

/* The event number of a req_id of this run, or -1. */
static int event_index(const char *req_id)
{
    size_t n = strlen(prefix);
    if (req_id == NULL || strncmp(req_id, prefix, n) != 0)
        return -1;
    int k = atoi(req_id + n);
    return k >= 0 && k < MAX_EVENTS ? k : -1;
}

static void on_open(struct wsc *c, void *ud)
{
    (void)ud;
    ((struct client *)wsc_user(c))->open = 1;
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
        cl->connected = 1;
    } else if (strcmp(e.event, "new_product") == 0) {
        int k = event_index(json_string_value(json_object_get(e.data, "req_id")));
        if (k < 0) {
            cl->bad++;
        } else {
            const char *pod = json_string_value(json_object_get(e.data, "pod"));
            if (cl->app >= 0 && (pod == NULL || strcmp(pod, pods[cl->app]) != 0))
                cl->foreign++;
            cl->got[k]++;
            cl->events++;
        }
        if (cl->last_offset && e.offset != cl->last_offset + 1)
            cl->disorder++;
        cl->last_offset = e.offset;
    }
    envelope_cleanup(&e);
}

static void on_close(struct wsc *c, int code, const char *reason, void *ud)
{
    (void)ud;
    (void)code;
    (void)reason;
    struct client *cl = wsc_user(c);
    cl->closed = 1;
    cl->open = 0;
    cl->ws = NULL;
}

static const struct wsc_callbacks cbs = {on_open, on_message, on_close, NULL, NULL};

/* Services the pool until cond() holds for every client or timeout_s passes. */
static int wait_all(struct wsc_pool *p, int (*cond)(const struct client *), double timeout_s)
{
    double end = now_s() + timeout_s;
    for (;;) {
        int all = 1;
        for (int i = 0; i < nclients && all; i++)
            all = cond(&clients[i]);
        if (all)
            return 1;
        if (now_s() > end)
            return 0;
        wsc_pool_service(p, 20);
    }
}

static int is_ready(const struct client *c)
{
    return c->closed || (c->open && c->connected);
}

/* Events client c should see: its app's (embedded) or all (relay). */
static int expected_for(const struct client *c)
{
    int n = 0;
    for (int k = 0; k < nevents; k++)
        n += event_app[k] >= 0 && (c->app < 0 || event_app[k] == c->app);
    return n;
}

static int has_all(const struct client *c)
{
    return c->closed || c->events >= expected_for(c);
}

/* POSTs product k to app a; returns the status and stores the answering pod in pod. */
static long create(int a, int k, char *pod, size_t podlen)
{
    char url[128], body[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/products", app_ports[a]);
    snprintf(body, sizeof body, "{\"name\":\"e2e product %d\",\"price\":%d.25,\"req_id\":\"%s%d\"}",
             k, k, prefix, k);
    struct e2e_buf out = {.len = 0};
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, e2e_sink);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
    long code = 0;
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    json_t *v = json_loads(out.data, 0, NULL);
    const char *p = json_string_value(json_object_get(v, "pod"));
    snprintf(pod, podlen, "%s", p ? p : "");
    json_decref(v);
    return code;
}

static int parse_ports(const char *s, int *out, int max)
{
    int n = 0;
    while (*s && n < max) {
        out[n++] = atoi(s);
        const char *c = strchr(s, ',');
        if (c == NULL)
            break;
        s = c + 1;
    }
    return n;
}

static void run(const char *mode, int relay_ws, int napps)
{
    int embedded = strcmp(mode, "embedded") == 0;
    char err[256];
    struct wsc_pool *p = wsc_pool_new(MAX_CLIENTS + 8, &cbs, NULL, err, sizeof err);
    if (p == NULL) {
        check(0, "pool", "%s", err);
        return;
    }
    nclients = embedded ? 2 * napps : 30;
    for (int i = 0; i < nclients; i++) {
        struct client *c = &clients[i];
        c->app = embedded ? i / 2 : -1;
        struct wsc_options o = {.host = "127.0.0.1",
                                .port = embedded ? ws_ports[c->app] : relay_ws,
                                .path = "/websocket-service",
                                .user = c};
        c->ws = wsc_connect(p, &o, err, sizeof err);
        if (c->ws == NULL)
            c->closed = 1;
    }
    int ready = wait_all(p, is_ready, 10), nopen = 0;
    for (int i = 0; i < nclients; i++)
        nopen += clients[i].open && clients[i].connected;
    check(ready && nopen == nclients, "ws_clients_connected", "%d of %d open", nopen, nclients);

    int created = 0, podok = 0;
    for (int k = 0; k < nevents; k++) {
        int a = k % napps;
        char pod[64];
        long st = create(a, k, pod, sizeof pod);
        event_app[k] = st == 201 ? a : -1;
        created += st == 201;
        podok += strcmp(pod, pods[a]) == 0;
        wsc_pool_service(p, 0);
    }
    check(created == nevents, "create_all_201", "%d of %d answered 201", created, nevents);
    check(podok == nevents, "pod_in_every_product", "%d of %d had the app's pod", podok, nevents);
    wait_all(p, has_all, 15);

    int complete = 0, foreign = 0, dups = 0, bad = 0, disorder = 0, closed = 0;
    for (int i = 0; i < nclients; i++) {
        struct client *c = &clients[i];
        int want = expected_for(c), have = 0;
        for (int k = 0; k < nevents; k++) {
            int should = event_app[k] >= 0 && (c->app < 0 || event_app[k] == c->app);
            have += should && c->got[k] == 1;
            dups += c->got[k] > 1;
        }
        complete += have == want && c->events == want;
        foreign += c->foreign;
        bad += c->bad;
        disorder += c->disorder;
        closed += c->closed;
    }
    if (embedded) {
        check(complete == nclients, "client_gets_its_app_events",
              "%d of %d clients got exactly their app's %d events (%d closed)", complete, nclients,
              nevents / napps, closed);
        check(foreign == 0, "client_gets_no_other_app_events",
              "%d events from other apps reached clients", foreign);
        printf("info: each client saw %d of %d events (1/%d): the broken architecture\n",
               clients[0].events, nevents, napps);
    } else {
        check(complete == nclients, "every_client_every_event",
              "%d of %d clients got all %d events (%d closed)", complete, nclients, nevents,
              closed);
    }
    check(dups == 0 && bad == 0 && disorder == 0, "events_once_in_order",
          "duplicates=%d malformed=%d out_of_order=%d", dups, bad, disorder);

    /* A retried POST (same req_id) answers 200 and announces nothing. */
    int before = clients[0].events;
    char pod[64];
    long st = create(0, 0, pod, sizeof pod);
    double end = now_s() + 0.5;
    while (now_s() < end)
        wsc_pool_service(p, 20);
    check(st == 200 && clients[0].events == before, "duplicate_req_id_200_no_event",
          "status=%ld events %d -> %d", st, before, clients[0].events);
    wsc_pool_free(p);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: fakeapp_e2e embedded|relay EVENTS WS_PORTS APP_PORTS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    nevents = atoi(argv[2]);
    if (nevents < 3 || nevents > MAX_EVENTS) {
        fprintf(stderr, "EVENTS must be 3..%d\n", MAX_EVENTS);
        return 2;
    }
    int nws = parse_ports(argv[3], ws_ports, MAX_APPS);
    int napps = parse_ports(argv[4], app_ports, MAX_APPS);
    for (int a = 0; a < napps; a++)
        snprintf(pods[a], sizeof pods[a], "app-%d", a + 1);
    snprintf(prefix, sizeof prefix, "e2e-%d-", (int)getpid());
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    if (strcmp(argv[1], "embedded") == 0 && nws == napps) {
        run("embedded", 0, napps);
    } else if (strcmp(argv[1], "relay") == 0 && nws == 1) {
        run("relay", ws_ports[0], napps);
    } else {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return e2e_failures ? 1 : 0;
}
