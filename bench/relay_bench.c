/*
 * relay_bench — measures one running websocket fan-out server from outside, as a user would,
 * and prints one JSON object per measurement on stdout (bench/run collects them).
 *
 *   relay_bench MODE --port N [--path P] [--sio] --pub-url URL [--body emit|frame]
 *               --pids PID[,PID..] [--label NAME] [--clients N] ...
 *
 * Modes:
 *   fanout   saturated fan-out: N subscribers; the publisher sends as fast as the server
 *            delivers (at most --window deliveries in flight) for --seconds, then every
 *            event is counted in (per subscriber: lost, duplicated, reordered). Prints
 *            deliveries/s and the CPU seconds the server (--pids) and this client used.
 *   latency  N subscribers, --rate events/s for --seconds; publish-to-receive percentiles
 *            (and the CDF into --cdf FILE).
 *   idle     VmRSS of the server before any client and after each of --steps idle
 *            upgraded subscribers; bytes per connection at the last step.
 *   storm    N subscribers connect at once; time until all are upgraded.
 *
 * The subscribers are bws (bench/client/bws.c): raw sockets on one epoll loop, so that
 * the client is cheap next to the server it measures; its own CPU use is printed beside
 * the server's. The publisher is one libcurl keep-alive connection on its own thread.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/bproc.h"
#include "client/bpub.h"
#include "client/bsub.h"

struct opts {
    const char *mode, *label, *pub_url, *cdf, *steps, *event;
    struct bsub_config sub;
    enum bpub_body body;
    struct bproc_set pids;
    int clients;
    double seconds, rate;
    uint64_t window;
    double drain_s;
};

static void usage(void)
{
    fprintf(stderr,
            "usage: relay_bench fanout|latency|idle|storm --port N --pids LIST [options]\n"
            "  --path P         websocket path and query (default /websocket-service)\n"
            "  --sio            subscribers speak Socket.IO v4 (Engine.IO over websocket)\n"
            "  --pub-url URL    where events are POSTed (fanout, latency)\n"
            "  --body emit|frame  {event,payload} (default) or the frame itself (Nchan)\n"
            "  --label NAME     server name in the output\n"
            "  --clients N      subscribers (default 1000)\n"
            "  --seconds S      publishing time (default 5)\n"
            "  --rate R         latency: events per second (default 200)\n"
            "  --window D       fanout: deliveries in flight at most (default 200000)\n"
            "  --channels K     subscriber i joins bench-<i %% K>; event k goes to bench-<k %% K>\n"
            "  --channel-arg A  query argument carrying the channel (default channels)\n"
            "  --cdf FILE       latency: write 'ms fraction' lines\n"
            "  --steps LIST     idle: client counts at which memory is read (default 1000,"
            "2000,5000,10000)\n"
            "  --event NAME     event name published (default bench)\n"
            "  --publishers P   publishing threads, one connection each (default 1)\n"
            "  --polling        Socket.IO subscribers on HTTP long-polling (implies --sio)\n");
}

static int parse(struct opts *o, int argc, char **argv)
{
    static const struct option lo[] = {{"port", 1, 0, 'p'},
                                       {"path", 1, 0, 'P'},
                                       {"sio", 0, 0, 's'},
                                       {"pub-url", 1, 0, 'u'},
                                       {"body", 1, 0, 'b'},
                                       {"pids", 1, 0, 'i'},
                                       {"label", 1, 0, 'l'},
                                       {"clients", 1, 0, 'n'},
                                       {"seconds", 1, 0, 't'},
                                       {"rate", 1, 0, 'r'},
                                       {"window", 1, 0, 'w'},
                                       {"channels", 1, 0, 'c'},
                                       {"channel-arg", 1, 0, 'a'},
                                       {"cdf", 1, 0, 'f'},
                                       {"steps", 1, 0, 'S'},
                                       {"event", 1, 0, 'e'},
                                       {"publishers", 1, 0, 'j'},
                                       {"polling", 0, 0, 'L'},
                                       {0, 0, 0, 0}};
    char err[160];
    *o = (struct opts){.label = "server",
                       .clients = 1000,
                       .seconds = 5,
                       .rate = 200,
                       .window = 200000,
                       .drain_s = 15,
                       .steps = "1000,2000,5000,10000",
                       .event = "bench"};
    o->sub = (struct bsub_config){.ip = "127.0.0.1", .path = "/websocket-service", .publishers = 1};
    if (argc < 2)
        return -1;
    o->mode = argv[1];
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'p':
            o->sub.port = atoi(optarg);
            break;
        case 'P':
            o->sub.path = optarg;
            break;
        case 's':
            o->sub.proto = BSUB_SIO;
            break;
        case 'u':
            o->pub_url = optarg;
            break;
        case 'b':
            o->body = strcmp(optarg, "frame") == 0 ? BPUB_FRAME : BPUB_EMIT;
            break;
        case 'i':
            if (bproc_parse(&o->pids, optarg, err, sizeof err) != 0) {
                fprintf(stderr, "relay_bench: %s\n", err);
                return -1;
            }
            break;
        case 'l':
            o->label = optarg;
            break;
        case 'n':
            o->clients = atoi(optarg);
            break;
        case 't':
            o->seconds = atof(optarg);
            break;
        case 'r':
            o->rate = atof(optarg);
            break;
        case 'w':
            o->window = strtoull(optarg, NULL, 10);
            break;
        case 'c':
            o->sub.channels = atoi(optarg);
            break;
        case 'a':
            o->sub.channel_arg = optarg;
            break;
        case 'f':
            o->cdf = optarg;
            break;
        case 'S':
            o->steps = optarg;
            break;
        case 'e':
            o->event = optarg;
            break;
        case 'j':
            o->sub.publishers = atoi(optarg);
            break;
        case 'L':
            o->sub.polling = 1;
            o->sub.proto = BSUB_SIO;
            break;
        default:
            return -1;
        }
    }
    if (o->sub.port <= 0 || o->pids.n == 0 || o->clients <= 0)
        return -1;
    return 0;
}

static void json_error(const struct opts *o, const char *fmt, const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, detail);
    for (char *p = msg; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            *p = '\'';
    printf("{\"mode\":\"%s\",\"server\":\"%s\",\"clients\":%d,\"error\":\"%s\"}\n", o->mode,
           o->label, o->clients, msg);
    fprintf(stderr, "relay_bench: %s %s: %s\n", o->label, o->mode, msg);
}

/* Connects o->clients subscribers in paced batches; NULL (error printed) when not all made it. */
static struct bsub *subscribe(const struct opts *o, int max)
{
    char err[256], why[320];
    struct bsub *s = bsub_new(&o->sub, max, err, sizeof err);
    if (s == NULL) {
        json_error(o, "%s", err);
        return NULL;
    }
    int up = bsub_connect(s, o->clients, 500, 1, 120, err, sizeof err);
    if (up < o->clients) {
        snprintf(why, sizeof why, "%d of %d subscribers upgraded: %s", up < 0 ? 0 : up, o->clients,
                 up < 0 ? err : bsub_first_error(s));
        json_error(o, "%s", why);
        bsub_free(s);
        return NULL;
    }
    /* Let the server finish the upgrades' work (welcome frames, freed headers). */
    for (uint64_t until = bpub_now_us() + 500000; bpub_now_us() < until;)
        bsub_service(s, 10);
    return s;
}

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static int cdf_line(uint64_t v, uint64_t count, void *ud)
{
    uint64_t *acc = ud; /* [0] running count, [1] total, [2] FILE* as integer */
    acc[0] += count;
    fprintf((FILE *)(uintptr_t)acc[2], "%.3f %.6f\n", ms(v), (double)acc[0] / (double)acc[1]);
    return 0;
}

/* fanout and latency: publish, count everything in, print one JSON object. */
static int publish_run(struct opts *o, int saturated)
{
    /* Saturated, the client must stay cheap: latency of 1 event in 16 is plenty there. */
    o->sub.latency_every = saturated ? 16 : 1;
    struct bsub *s = subscribe(o, o->clients);
    if (s == NULL)
        return 1;
    bsub_reset(s);
    _Atomic uint64_t delivered;
    atomic_init(&delivered, 0);
    int k = o->sub.channels;
    struct bpub_config pc = {.url = o->pub_url,
                             .body = o->body,
                             .event = o->event,
                             .publishers = o->sub.publishers,
                             .channels = k,
                             .rate = saturated ? 0 : o->rate,
                             .seconds = o->seconds,
                             .window = o->window,
                             .per_event = (uint64_t)o->clients / (uint64_t)(k > 0 ? k : 1),
                             .delivered = &delivered};
    struct bpub pub;
    char err[256];
    uint64_t *owed = calloc((size_t)(k > 0 ? k : 1), sizeof *owed);
    double srv0 = bproc_cpu_s(&o->pids), self0 = bproc_self_cpu_s();
    uint64_t t0 = bpub_now_us(), done_at = 0, expected = UINT64_MAX;
    if (owed == NULL || bpub_start(&pub, &pc, err, sizeof err) != 0) {
        json_error(o, "%s", owed ? err : "out of memory");
        free(owed);
        bsub_free(s);
        return 1;
    }
    for (;;) {
        bsub_service(s, 2);
        atomic_store_explicit(&delivered, bsub_frames(s), memory_order_relaxed);
        if (!done_at && bpub_done(&pub)) {
            done_at = bpub_now_us();
            owed[0] = atomic_load(&pub.sent);
            for (int c = 0; c < k; c++)
                owed[c] = atomic_load(&pub.per_channel[c]);
            struct bsub_totals t;
            bsub_totals(s, owed, &t);
            expected = t.expected;
        }
        if (done_at &&
            (bsub_frames(s) >= expected || bpub_now_us() > done_at + (uint64_t)(o->drain_s * 1e6)))
            break;
    }
    bpub_join(&pub);
    double srv = bproc_cpu_s(&o->pids) - srv0, self = bproc_self_cpu_s() - self0;
    uint64_t wall = bpub_now_us() - t0;
    struct bsub_totals t;
    bsub_totals(s, owed, &t);
    uint64_t span = bsub_last_frame_us(s) > pub.start_us ? bsub_last_frame_us(s) - pub.start_us : 1;
    uint64_t sent = atomic_load(&pub.sent), failed = atomic_load(&pub.failed);
    struct hist *h = bsub_latency(s);
    printf("{\"mode\":\"%s\",\"server\":\"%s\",\"clients\":%d,\"channels\":%d,"
           "\"events\":%" PRIu64 ",\"publish_failed\":%" PRIu64 ",\"events_per_s\":%.1f,"
           "\"deliveries\":%" PRIu64 ",\"expected\":%" PRIu64 ",\"lost\":%" PRIu64
           ",\"duplicates\":%" PRIu64 ",\"out_of_order\":%" PRIu64 ",\"closed\":%d,"
           "\"deliveries_per_s\":%.0f,\"seconds\":%.3f,"
           "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
           "\"server_cpu_s\":%.2f,\"server_cpu_s_per_M\":%.3f,\"server_cpu_pct\":%.0f,"
           "\"client_cpu_s\":%.2f,\"client_cpu_pct\":%.0f%s%s%s}\n",
           o->mode, o->label, o->clients, k, sent, failed, (double)sent * 1e6 / (double)span,
           t.frames, t.expected, t.lost, t.extra, t.out_of_order, t.closed,
           (double)t.frames * 1e6 / (double)span, (double)span / 1e6, ms(hist_percentile(h, 50)),
           ms(hist_percentile(h, 90)), ms(hist_percentile(h, 99)), ms(hist_percentile(h, 99.9)),
           ms(hist_max(h)), srv, t.frames ? srv / ((double)t.frames / 1e6) : 0.0,
           srv * 1e8 / (double)wall, self, self * 1e8 / (double)wall,
           *bsub_first_error(s) ? ",\"first_error\":\"" : "",
           *bsub_first_error(s) ? bsub_first_error(s) : "", *bsub_first_error(s) ? "\"" : "");
    fflush(stdout);
    if (o->cdf && hist_count(h) > 0) {
        FILE *f = fopen(o->cdf, "w");
        if (f) {
            uint64_t acc[3] = {0, hist_count(h), (uint64_t)(uintptr_t)f};
            hist_foreach(h, cdf_line, acc);
            fclose(f);
        }
    }
    int rc = t.lost || t.extra || t.out_of_order || t.closed || failed ? 1 : 0;
    bpub_cleanup(&pub);
    free(owed);
    bsub_free(s);
    return rc;
}

/* idle: server memory before any client and after each step of idle upgraded clients. */
static int idle_run(struct opts *o)
{
    int steps[16], ns = 0, max = 0;
    for (const char *p = o->steps; *p && ns < 16;) {
        steps[ns] = atoi(p);
        if (steps[ns] > max)
            max = steps[ns];
        ns++;
        p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p);
    }
    o->clients = max;
    char err[256];
    struct bsub *s = bsub_new(&o->sub, max, err, sizeof err);
    if (s == NULL) {
        json_error(o, "%s", err);
        return 1;
    }
    long rss0 = bproc_rss_kib(&o->pids), rss = rss0;
    printf("{\"mode\":\"idle\",\"server\":\"%s\",\"rss0_kib\":%ld,\"points\":[[0,%ld]", o->label,
           rss0, rss0);
    int rc = 0, reached = 0;
    for (int i = 0; i < ns; i++) {
        int up = bsub_connect(s, steps[i], 500, 1, 120, err, sizeof err);
        for (uint64_t until = bpub_now_us() + 1000000; bpub_now_us() < until;)
            bsub_service(s, 10);
        if (up < steps[i]) {
            rc = 1;
            break;
        }
        rss = bproc_rss_kib(&o->pids);
        reached = steps[i];
        printf(",[%d,%ld]", steps[i], rss);
    }
    printf("],\"clients\":%d,\"rss_kib\":%ld,\"bytes_per_conn\":%.0f", reached, rss,
           reached ? (double)(rss - rss0) * 1024.0 / reached : 0.0);
    if (rc)
        printf(",\"error\":\"only %d of %d subscribers upgraded\"", bsub_upgraded(s), max);
    printf("}\n");
    bsub_free(s);
    return rc;
}

/* storm: every subscriber connects at once; when was the last one upgraded? */
static int storm_run(const struct opts *o)
{
    char err[256];
    struct bsub *s = bsub_new(&o->sub, o->clients, err, sizeof err);
    if (s == NULL) {
        json_error(o, "%s", err);
        return 1;
    }
    double srv0 = bproc_cpu_s(&o->pids), self0 = bproc_self_cpu_s();
    int up = bsub_connect(s, o->clients, 256, 0, 120, err, sizeof err);
    double srv = bproc_cpu_s(&o->pids) - srv0, self = bproc_self_cpu_s() - self0;
    int n = up > 0 ? up : 0;
    printf("{\"mode\":\"storm\",\"server\":\"%s\",\"clients\":%d,\"upgraded\":%d,"
           "\"p50_s\":%.3f,\"p99_s\":%.3f,\"all_s\":%.3f,\"server_cpu_s\":%.2f,"
           "\"client_cpu_s\":%.2f%s%s%s}\n",
           o->label, o->clients, n, (double)bsub_upgrade_us(s, n / 2) / 1e6,
           (double)bsub_upgrade_us(s, n * 99 / 100) / 1e6,
           n == o->clients ? (double)bsub_upgrade_us(s, n - 1) / 1e6 : -1.0, srv, self,
           n < o->clients ? ",\"error\":\"not all upgraded: " : "",
           n < o->clients ? bsub_first_error(s) : "", n < o->clients ? "\"" : "");
    bsub_free(s);
    return n == o->clients ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse(&o, argc, argv) != 0) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 2;
    if (strcmp(o.mode, "fanout") == 0 || strcmp(o.mode, "latency") == 0) {
        if (o.pub_url == NULL) {
            usage();
            return 2;
        }
        rc = publish_run(&o, strcmp(o.mode, "fanout") == 0);
    } else if (strcmp(o.mode, "idle") == 0) {
        rc = idle_run(&o);
    } else if (strcmp(o.mode, "storm") == 0) {
        rc = storm_run(&o);
    } else {
        usage();
    }
    curl_global_cleanup();
    return rc;
}
