#include "run.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checker.h"
#include "clients.h"
#include "fdlimit.h"
#include "hlog.h"
#include "log.h"
#include "producer.h"
#include "report.h"
#include "verify.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !interrupted)
        ;
}

/* A descriptor per client (three per Socket.IO client: a websocket and two polling
 * requests) and 1,100 for the producer and the rest: the soft limit is set to that, at most
 * the hard limit, lowered as well as raised (fdlimit.h: lws walks a table of that size on
 * every close). */
static void fit_fd_limit(const struct lg_config *cfg)
{
    long need = cfg->clients * (cfg->protocol == LG_PROTO_SOCKETIO ? 3 : 1) + 1100;
    long got = fdlimit_fit(need);
    if (got >= 0 && got < cfg->clients + 1100)
        LOG_WARN("fd_limit_low clients=%ld nofile=%ld", cfg->clients, got);
}

/* One live line on a terminal; nothing otherwise. */
static void progress(const struct lg_config *cfg, struct lg_clients *cs, struct lg_producer *p,
                     const char *phase)
{
    if (!cfg->progress || !isatty(STDOUT_FILENO))
        return;
    struct lg_clients_totals ct;
    struct lg_producer_totals pt = {0};
    lg_clients_totals(cs, &ct);
    if (p)
        lg_producer_totals(p, &pt);
    long long missing = (long long)ct.expected_approx - (long long)ct.frames;
    printf("\r%-7s %5.1fs  clients %llu/%ld  sent %llu/%llu ok %llu fail %llu  frames %llu  "
           "behind~%lld  drops %llu   ",
           phase, (double)lg_clock_us() / 1e6, (unsigned long long)ct.connected, cfg->clients,
           (unsigned long long)pt.sent, (unsigned long long)pt.total, (unsigned long long)pt.ok,
           (unsigned long long)(pt.failed + pt.unknown), (unsigned long long)ct.frames,
           missing < 0 ? 0 : missing, (unsigned long long)ct.dropped);
    fflush(stdout);
}

static void progress_end(const struct lg_config *cfg)
{
    if (cfg->progress && isatty(STDOUT_FILENO))
        printf("\n");
}

/* Judges one history, or the shards of one run together. */
static int verdict_from_files(const struct lg_config *cfg, const char *const *paths, size_t n)
{
    char err[256];
    struct lg_check *c = lg_check_new();
    if (c == NULL) {
        LOG_ERROR("check_failed reason=\"out of memory\"");
        return 1;
    }
    lg_check_set_skew_margin(c, cfg->skew_margin_ms * 1000LL);
    if (lg_check_files(c, paths, n, err, sizeof err) != 0) {
        LOG_ERROR("check_failed reason=\"%s\"", err);
        lg_check_free(c);
        return 1;
    }
    struct lg_result *r = lg_check_finish(c);
    lg_check_free(c);
    if (r == NULL) {
        LOG_ERROR("check_failed reason=\"out of memory\"");
        return 1;
    }
    struct lg_output o = {
        .json_path = *cfg->json ? cfg->json : NULL,
        .junit_path = *cfg->junit ? cfg->junit : NULL,
        .expects = cfg->expects,
        .nexpects = cfg->nexpects,
        .facts_path = *cfg->facts ? cfg->facts : NULL,
        .details = cfg->details,
        .table = stdout,
    };
    int rc = lg_report_verdict(r, &o);
    lg_result_free(r);
    fflush(stdout);
    return rc;
}

int lg_check_history(const struct lg_config *cfg)
{
    if (cfg->nhistories > 0)
        return verdict_from_files(cfg, cfg->histories, cfg->nhistories);
    return verdict_from_files(cfg, &cfg->history, 1);
}

/*
 * --start-gate: the shards of one run connect their clients, then wait for the runner to
 * create the gate file, so that they start sending together. Bounded by --gate-timeout.
 */
static void wait_start_gate(const struct lg_config *cfg, struct lg_clients *cs)
{
    if (*cfg->start_gate == '\0' || interrupted)
        return;
    LOG_INFO("start_gate_wait path=%s", cfg->start_gate);
    long long until = lg_clock_us() + cfg->gate_timeout_ms * 1000LL;
    while (!interrupted && access(cfg->start_gate, F_OK) != 0) {
        if (lg_clock_us() >= until) {
            LOG_WARN("start_gate_timeout path=%s waited_ms=%ld", cfg->start_gate,
                     cfg->gate_timeout_ms);
            return;
        }
        progress(cfg, cs, NULL, "gate");
        sleep_ms(20);
    }
}

/* Opens the history: the named file, or a temporary one removed after the check. */
static int open_history(const struct lg_config *cfg, char *path, size_t cap)
{
    if (*cfg->history) {
        snprintf(path, cap, "%s", cfg->history);
        return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    }
    const char *dir = getenv("TMPDIR");
    snprintf(path, cap, "%s/loadgen-history-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd >= 0 && fcntl(fd, F_SETFL, O_APPEND) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void write_start(int fd, const struct lg_config *cfg, const char *prefix, uint64_t planned)
{
    struct hlog h;
    if (hlog_init(&h, fd, 0) != 0)
        return;
    long long t = lg_clock_us();
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    hlog_begin(&h, t, "start");
    /* The wall clock at t = 0: `loadgen check` puts shards on one timeline with it. */
    hlog_int(&h, "wall_us", (long long)now.tv_sec * 1000000LL + now.tv_nsec / 1000 - t);
    if (cfg->shard_count > 0) {
        hlog_int(&h, "shard", cfg->shard_index);
        hlog_int(&h, "shards", cfg->shard_count);
    }
    hlog_int(&h, "clients", cfg->clients);
    hlog_int(&h, "requests", (long long)planned);
    hlog_int(&h, "rate_milli", (long long)(cfg->rate * 1000));
    hlog_str(&h, "target", cfg->target, strlen(cfg->target));
    hlog_str(&h, "ws_path", cfg->ws_path, strlen(cfg->ws_path));
    hlog_str(&h, "req_prefix", prefix, strlen(prefix));
    hlog_int(&h, "source_ips", (long long)cfg->nips);
    hlog_str(&h, "protocol", cfg->protocol_text, strlen(cfg->protocol_text));
    if (cfg->protocol == LG_PROTO_SOCKETIO) {
        const char *tr = cfg->polling && cfg->websocket ? "polling,websocket"
                         : cfg->polling                 ? "polling"
                                                        : "websocket";
        hlog_str(&h, "transport", tr, strlen(tr));
    }
    hlog_str(&h, "event", cfg->event, strlen(cfg->event));
    hlog_int(&h, "channels", cfg->channels);
    hlog_end(&h);
    hlog_cleanup(&h);
}

static void write_end(int fd, const char *why)
{
    struct hlog h;
    if (hlog_init(&h, fd, 0) != 0)
        return;
    hlog_begin(&h, lg_clock_us(), "end");
    hlog_str(&h, "reason", why, strlen(why));
    hlog_end(&h);
    hlog_cleanup(&h);
}

int lg_run(const struct lg_config *cfg)
{
    char path[512], err[256], prefix[48];
    _Atomic uint64_t acks = 0;
    int threads = (int)cfg->threads;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    lg_clock_start();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fit_fd_limit(cfg);
    if (*cfg->req_prefix) {
        snprintf(prefix, sizeof prefix, "%s", cfg->req_prefix);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(prefix, sizeof prefix, "lg%08lx%04x-", (unsigned long)ts.tv_sec,
                 (unsigned)((ts.tv_nsec / 1000) ^ (long)getpid()) & 0xffffu);
    }
    /* Shards may start in the same second with the same pid (one per pod): keep them apart. */
    if (cfg->shard_count > 0) {
        size_t used = strlen(prefix);
        snprintf(prefix + used, sizeof prefix - used, "s%ld-", cfg->shard_index);
    }
    int fd = open_history(cfg, path, sizeof path);
    if (fd < 0) {
        LOG_ERROR("history_open_failed path=%s error=\"%s\"", path, strerror(errno));
        return 1;
    }
    uint64_t planned = lg_producer_planned(cfg);
    write_start(fd, cfg, prefix, planned);
    LOG_INFO("run_start target=%s ws=%s:%d%s protocol=%s clients=%ld threads=%d rate=%g "
             "requests=%llu source_ips=%zu channels=%ld history=%s",
             cfg->target, cfg->ws.host, cfg->ws.port, cfg->ws_path, cfg->protocol_text,
             cfg->clients, threads, cfg->rate, (unsigned long long)planned, cfg->nips,
             cfg->channels, path);
    struct lg_clients *cs = lg_clients_start(cfg, threads, fd, &acks, err, sizeof err);
    if (cs == NULL) {
        LOG_ERROR("clients_start_failed reason=\"%s\"", err);
        close(fd);
        return 1;
    }
    /* Warmup: until every client is connected, bounded by --warmup. */
    long long until = lg_clock_us() + cfg->warmup_ms * 1000LL;
    struct lg_clients_totals ct;
    for (;;) {
        lg_clients_totals(cs, &ct);
        if ((long)ct.connected >= cfg->clients || lg_clock_us() >= until || interrupted)
            break;
        progress(cfg, cs, NULL, "warmup");
        sleep_ms(20);
    }
    if ((long)ct.connected < cfg->clients)
        LOG_WARN("warmup_incomplete connected=%llu clients=%ld", (unsigned long long)ct.connected,
                 cfg->clients);
    wait_start_gate(cfg, cs);
    struct lg_producer *p = NULL;
    if (!interrupted && planned > 0) {
        p = lg_producer_start(cfg, prefix, lg_clock_us() + 10000, fd, &acks, err, sizeof err);
        if (p == NULL)
            LOG_ERROR("producer_start_failed reason=\"%s\"", err);
    }
    struct lg_producer_totals pt = {0};
    long long next_progress = 0;
    /* --rate 0: no requests, the clients just listen for --duration. */
    long long listen_until = planned == 0 ? lg_clock_us() + cfg->duration_ms * 1000LL : 0;
    while (!p && !interrupted && lg_clock_us() < listen_until) {
        progress(cfg, cs, NULL, "listen");
        sleep_ms(50);
    }
    while (p) {
        lg_producer_totals(p, &pt);
        if (pt.done)
            break;
        if (interrupted)
            lg_producer_cancel(p);
        if (lg_clock_us() >= next_progress) {
            progress(cfg, cs, p, "running");
            next_progress = lg_clock_us() + 250000;
        }
        sleep_ms(10);
    }
    /* Settle: the last acknowledged events still have to reach the clients. */
    until = lg_clock_us() + cfg->settle_ms * 1000LL;
    while (!interrupted && lg_clock_us() < until) {
        progress(cfg, cs, p, "settle");
        sleep_ms(50);
    }
    progress_end(cfg);
    lg_clients_stop(cs);
    lg_producer_free(p);
    if (*cfg->verify_path && !interrupted)
        lg_verify_run(cfg, path, fd, NULL);
    write_end(fd, interrupted ? "interrupted" : "done");
    close(fd);
    const char *paths[1] = {path};
    int rc = verdict_from_files(cfg, paths, 1);
    if (!*cfg->history)
        unlink(path);
    return rc;
}

int lg_validate_expects(const struct lg_config *cfg, char *err, size_t errlen)
{
    struct lg_check *c = lg_check_new();
    struct lg_result *r = c ? lg_check_finish(c) : NULL;
    json_t *j = r ? lg_report_json(r, 0) : NULL;
    int rc = j ? 0 : -1;
    if (j == NULL)
        snprintf(err, errlen, "out of memory");
    for (size_t i = 0; j && i < cfg->nexpects && rc == 0; i++)
        rc = lg_expect_validate(&cfg->expects[i], j, err, errlen);
    json_decref(j);
    lg_result_free(r);
    lg_check_free(c);
    return rc;
}
