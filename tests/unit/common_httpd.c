/*
 * httpd: refusals reach a client that is still sending (lingering close), and the drain is
 * bounded — in bytes, in time, in idle time and in the number of sockets draining at once.
 * Raw sockets, so each test controls exactly when the client sends and reads.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "metrics.h"

static void ok_handler(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)ud;
    httpd_reply_text(resp, 200, "text/plain", req->body, req->body_len);
}

static const struct httpd_route routes[] = {
    {"POST", "/echo", 0, 1, 1, ok_handler},
};

struct fixture {
    struct metrics *m;
    struct httpd *h;
    int port;
};

static void start(struct fixture *f, size_t drain_max, long drain_ms, unsigned slots)
{
    char err[256];
    f->m = metrics_new();
    struct httpd_config c = {
        .bind = "127.0.0.1",
        .max_body = 1024,
        .body_timeout_ms = 400,
        .routes = routes,
        .nroutes = 1,
        .name = "test",
        .bearer_token = "secret",
        .metrics = f->m,
        .drain_max = drain_max,
        .drain_ms = drain_ms,
        .max_draining = slots,
    };
    f->h = httpd_new(&c, err, sizeof err);
    ck_assert_msg(f->h != NULL, "%s", err);
    f->port = httpd_port(f->h);
}

static void stop(struct fixture *f)
{
    httpd_free(f->h);
    metrics_free(f->m);
}

/* The value of metric `name` (exact, no labels), or -1. */
static long long metric(struct fixture *f, const char *name)
{
    size_t len;
    char *text = metrics_render(f->m, &len);
    long long v = -1;
    size_t n = strlen(name);
    for (char *line = text; line && *line;) {
        if (strncmp(line, name, n) == 0 && line[n] == ' ')
            v = atoll(line + n + 1);
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return v;
}

static int wait_metric(struct fixture *f, const char *name, long long want, int ms)
{
    for (int t = 0; t < ms; t += 20) {
        if (metric(f, name) == want)
            return 1;
        usleep(20000);
    }
    return metric(f, name) == want;
}

/* Waits until metric name reaches at least want. */
static int wait_metric_ge(struct fixture *f, const char *name, long long want, int ms)
{
    for (int t = 0; t < ms && metric(f, name) < want; t += 20)
        usleep(20000);
    return metric(f, name) >= want;
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_str(int fd, const char *s)
{
    ck_assert_int_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Sends n filler bytes; returns how many the kernel took before an error. */
static size_t send_filler(int fd, size_t n)
{
    static char buf[16384];
    memset(buf, 'a', sizeof buf);
    size_t sent = 0;
    while (sent < n) {
        size_t k = n - sent < sizeof buf ? n - sent : sizeof buf;
        ssize_t w = send(fd, buf, k, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        sent += (size_t)w;
    }
    return sent;
}

/* Reads what arrives within ms (or until EOF/reset) into out. Returns bytes read. */
static size_t read_some(int fd, char *out, size_t cap, int ms)
{
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got + 1 < cap && poll(&p, 1, ms) == 1) {
        ssize_t r = recv(fd, out + got, cap - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    out[got] = '\0';
    return got;
}

static const char *HDR_BIG = "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"
                             "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n";

/* A client that sends its whole (too big) body before reading still finds the 413. */
START_TEST(refusal_survives_send_first_client)
{
    struct fixture f;
    start(&f, 4 * 1024 * 1024, 5000, 4);
    int fd = dial(f.port);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"
                 "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n");
    ck_assert_uint_eq(send_filler(fd, 2000000), 2000000);
    char buf[2048];
    read_some(fd, buf, sizeof buf, 3000);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 413 ", 13) == 0, "got: %.200s", buf);
    ck_assert_ptr_nonnull(strstr(buf, "Connection: close"));
    ck_assert_ptr_nonnull(strstr(buf, "body of 2000000 bytes exceeds the limit of 1024 bytes"));
    close(fd);
    /* The drain may still be starting on a loaded machine: "nothing lingering" also holds
     * before it began, so wait for the bytes first. */
    ck_assert(wait_metric_ge(&f, "http_drained_bytes_total", 1900000, 5000));
    ck_assert(wait_metric(&f, "http_lingering_connections", 0, 3000));
    ck_assert_int_eq(metric(&f, "http_linger_cut_total"), 0);
    stop(&f);
}
END_TEST

/* A client that never stops sending is cut once drain_max bytes were discarded. */
START_TEST(drain_stops_at_byte_bound)
{
    struct fixture f;
    start(&f, 256 * 1024, 5000, 4);
    int fd = dial(f.port);
    send_str(fd, HDR_BIG);
    size_t sent = send_filler(fd, 10000000);
    ck_assert_uint_lt(sent, 10000000); /* the server closed before the end */
    char buf[2048];
    read_some(fd, buf, sizeof buf, 200);
    close(fd);
    ck_assert(wait_metric(&f, "http_linger_cut_total", 1, 3000));
    ck_assert(wait_metric(&f, "http_lingering_connections", 0, 3000));
    long long drained = metric(&f, "http_drained_bytes_total");
    ck_assert_int_gt(drained, 256 * 1024);
    ck_assert_int_lt(drained, 256 * 1024 + 2 * 1024 * 1024); /* one wake-up's worth past it */
    stop(&f);
}
END_TEST

/* A client that stalls without closing is cut after the idle time; one that reads the answer
 * and closes leaves at once, uncut. */
START_TEST(idle_and_closing_clients)
{
    struct fixture f;
    start(&f, 1024 * 1024, 1500, 4);
    int stall = dial(f.port), polite = dial(f.port);
    send_str(stall, HDR_BIG);
    send_str(polite, HDR_BIG);
    char buf[2048];
    read_some(polite, buf, sizeof buf, 500);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 413 ", 13) == 0, "got: %.200s", buf);
    close(polite);
    ck_assert(wait_metric(&f, "http_lingering_connections", 1, 2000));
    ck_assert_int_eq(metric(&f, "http_linger_cut_total"), 0);
    ck_assert(wait_metric(&f, "http_lingering_connections", 0, 5000));
    ck_assert_int_eq(metric(&f, "http_linger_cut_total"), 1);
    close(stall);
    stop(&f);
}
END_TEST

/* Past max_draining the refusal is still written, the socket just is not kept. */
START_TEST(slots_are_bounded)
{
    struct fixture f;
    start(&f, 1024 * 1024, 3000, 1);
    int a = dial(f.port), b = dial(f.port);
    send_str(a, HDR_BIG);
    ck_assert(wait_metric(&f, "http_lingering_connections", 1, 2000));
    send_str(b, HDR_BIG);
    char buf[2048];
    read_some(b, buf, sizeof buf, 2000);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 413 ", 13) == 0, "got: %.200s", buf);
    ck_assert(wait_metric(&f, "http_linger_full_total", 1, 2000));
    ck_assert_int_eq(metric(&f, "http_lingering_connections"), 1);
    close(a);
    close(b);
    stop(&f); /* frees the lingering socket too (LeakSanitizer and fd checks) */
}
END_TEST

/* Refusals decided from the headers reach a sending client too: 401, 404, 415; Expect:
 * 100-continue gets the 413 instead of a 100. */
START_TEST(header_refusals_with_body)
{
    struct fixture f;
    start(&f, 4 * 1024 * 1024, 5000, 8);
    static const struct {
        const char *req, *want, *text;
    } cases[] = {
        {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: 500000\r\n\r\n",
         "HTTP/1.1 401 ", "WWW-Authenticate: Bearer"},
        {"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n", "HTTP/1.1 404 ",
         "no such endpoint: /nope"},
        {"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n", "HTTP/1.1 405 ",
         "Allow: POST"},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"
         "Content-Type: text/plain\r\nContent-Length: 500000\r\n\r\n",
         "HTTP/1.1 415 ", "got 'text/plain'"},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"
         "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
         "7A120\r\n",
         "HTTP/1.1 413 ", "body exceeds the limit of 1024 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = dial(f.port);
        send_str(fd, cases[i].req);
        ck_assert_uint_eq(send_filler(fd, 500000), 500000);
        char buf[2048];
        read_some(fd, buf, sizeof buf, 3000);
        ck_assert_msg(strncmp(buf, cases[i].want, strlen(cases[i].want)) == 0, "case %zu: %.200s",
                      i, buf);
        ck_assert_msg(strstr(buf, cases[i].text) != NULL, "case %zu: %.300s", i, buf);
        close(fd);
    }
    int fd = dial(f.port);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"
                 "Content-Type: application/json\r\nExpect: 100-continue\r\n"
                 "Content-Length: 5000000\r\n\r\n");
    char buf[2048];
    read_some(fd, buf, sizeof buf, 1000);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 413 ", 13) == 0, "got: %.200s", buf);
    close(fd);
    ck_assert(wait_metric(&f, "http_lingering_connections", 0, 3000));
    stop(&f);
}
END_TEST

/* A body that stalls past body_timeout gets 408 at its next bytes; a good request on a
 * keep-alive connection still works and leaves nothing lingering. */
START_TEST(slow_body_and_normal_request)
{
    struct fixture f;
    start(&f, 1024 * 1024, 3000, 4);
    int fd = dial(f.port);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"
                 "Content-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"a\":");
    usleep(600000);
    send_str(fd, "1}       ");
    char buf[2048];
    read_some(fd, buf, sizeof buf, 2000);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 408 ", 13) == 0, "got: %.200s", buf);
    ck_assert_ptr_nonnull(strstr(buf, "took longer than 400 ms"));
    close(fd);

    fd = dial(f.port);
    for (int i = 0; i < 2; i++) {
        send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"
                     "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
        read_some(fd, buf, sizeof buf, 300);
        ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "got: %.200s", buf);
        ck_assert_ptr_nonnull(strstr(buf, "{\"a\":1}"));
    }
    close(fd);
    ck_assert(wait_metric(&f, "http_lingering_connections", 0, 3000));
    stop(&f);
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("httpd");
    TCase *tc = tcase_create("linger");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, refusal_survives_send_first_client);
    tcase_add_test(tc, drain_stops_at_byte_bound);
    tcase_add_test(tc, idle_and_closing_clients);
    tcase_add_test(tc, slots_are_bounded);
    tcase_add_test(tc, header_refusals_with_body);
    tcase_add_test(tc, slow_body_and_normal_request);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
