/*
 * The lab's judge: reconnect gaps, undelivered and unannounced products, verification of
 * unknown outcomes, shards merged into one verdict (aligned by wall clock or not), the
 * --shard split, the verify URL and the expectations written into the JSON report.
 */
#include <check.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../loadgen/checker.h"
#include "../../loadgen/config.h"
#include "../../loadgen/report.h"
#include "../../loadgen/verify.h"

static void feed(struct lg_check *c, const char *const *lines)
{
    for (size_t i = 0; lines[i]; i++)
        ck_assert_int_eq(lg_check_line(c, lines[i], strlen(lines[i])), 0);
}

static struct lg_result *judge(const char *const *lines)
{
    struct lg_check *c = lg_check_new();
    ck_assert_ptr_nonnull(c);
    feed(c, lines);
    struct lg_result *r = lg_check_finish(c);
    ck_assert_ptr_nonnull(r);
    lg_check_free(c);
    return r;
}

#define INVOKE(id, t) "{\"t\":" #t ",\"type\":\"invoke\",\"req_id\":\"" id "\"}"
#define OK(id, t)                                                                                  \
    "{\"t\":" #t ",\"type\":\"ok\",\"req_id\":\"" id "\",\"status\":201,\"pod\":\"a\"}"
#define INFO(id, t) "{\"t\":" #t ",\"type\":\"info\",\"req_id\":\"" id "\",\"status\":502}"
#define REQ(id, ti, ta) INVOKE(id, ti), OK(id, ta)
#define CONNECT(c, t) "{\"t\":" #t ",\"type\":\"connect\",\"client\":" #c "}"
#define DISCONNECT(c, t) "{\"t\":" #t ",\"type\":\"disconnect\",\"client\":" #c ",\"code\":1001}"
#define FINAL(c, t)                                                                                \
    "{\"t\":" #t ",\"type\":\"disconnect\",\"client\":" #c ",\"code\":1000,\"final\":true}"
#define RECOVERY(c, t, ok)                                                                         \
    "{\"t\":" #t ",\"type\":\"recovery\",\"client\":" #c ",\"recovered\":" #ok "}"
#define FRAME(c, t, id) "{\"t\":" #t ",\"type\":\"frame\",\"client\":" #c ",\"req_id\":\"" id "\"}"
#define VERIFY(id, t, ex)                                                                          \
    "{\"t\":" #t ",\"type\":\"verify\",\"req_id\":\"" id "\",\"exists\":" #ex "}"
#define VERIFY_ERR(id, t) "{\"t\":" #t ",\"type\":\"verify\",\"req_id\":\"" id "\",\"error\":\"x\"}"

/* A restart: client 0 drops at 300 and comes back at 500 into a new epoch (recovered:false).
 * r2 is created inside the gap (not owed, never received): gap_lost. r4 was received by
 * nobody although client 1 was connected: lost for client 1, undelivered overall. */
START_TEST(gap_lost_and_undelivered)
{
    const char *h[] = {"{\"t\":0,\"type\":\"start\",\"clients\":2}",
                       CONNECT(0, 1),
                       CONNECT(1, 2),
                       REQ("r1", 100, 150),
                       FRAME(0, 140, "r1"),
                       FRAME(1, 141, "r1"),
                       DISCONNECT(0, 300),
                       REQ("r2", 350, 380),
                       FRAME(1, 360, "r2"),
                       CONNECT(0, 500),
                       RECOVERY(0, 501, false),
                       REQ("r3", 600, 650),
                       FRAME(0, 640, "r3"),
                       FRAME(1, 641, "r3"),
                       REQ("r4", 700, 750),
                       FINAL(0, 1000),
                       FINAL(1, 1000),
                       NULL};
    struct lg_result *r = judge(h);
    ck_assert_uint_eq(r->ev_expected, 7); /* client 0: r1 r3 r4; client 1: r1..r4 */
    ck_assert_uint_eq(r->ev_lost, 2);     /* r4 at both */
    ck_assert_uint_eq(r->ev_gap_lost, 1); /* r2 at client 0 */
    ck_assert_uint_eq(r->per_client[0].gap_lost, 1);
    ck_assert_uint_eq(r->per_client[1].gap_lost, 0);
    ck_assert_uint_eq(r->ev_undelivered, 1); /* r4 */
    ck_assert_int_eq(r->has_verify, 1);      /* nothing unknown: nothing to verify */
    /* r4 exists (acknowledged), nobody received it, both were connected throughout. */
    ck_assert_uint_eq(r->ev_unannounced, 1);
    ck_assert_str_eq(r->unannounced.items[0].req_id, "r4");
    lg_result_free(r);
}
END_TEST

/* A replayed gap is owed: a successful recovery merges the intervals, so r2 is lost, not
 * gap-lost, when it does not arrive. */
START_TEST(recovered_gap_is_owed)
{
    const char *h[] = {CONNECT(0, 1),          REQ("r1", 100, 150), FRAME(0, 140, "r1"),
                       DISCONNECT(0, 300),     REQ("r2", 350, 380), CONNECT(0, 500),
                       RECOVERY(0, 501, true), FINAL(0, 1000),      NULL};
    struct lg_result *r = judge(h);
    ck_assert_uint_eq(r->ev_expected, 2);
    ck_assert_uint_eq(r->ev_lost, 1);
    ck_assert_uint_eq(r->ev_gap_lost, 0);
    lg_result_free(r);
}
END_TEST

/* The dual-write gap: u1 and u2 timed out (502); the app stored u1 but nobody was told;
 * u2 was never stored; u3 was not verified (the check failed); a1 was acknowledged but is
 * gone. */
START_TEST(verification)
{
    const char *h[] = {CONNECT(0, 1),
                       CONNECT(1, 2),
                       INVOKE("u1", 100),
                       INFO("u1", 5100),
                       INVOKE("u2", 200),
                       INFO("u2", 5200),
                       INVOKE("u3", 300),
                       INFO("u3", 5300),
                       REQ("a1", 400, 450),
                       FRAME(0, 430, "a1"),
                       FRAME(1, 431, "a1"),
                       INVOKE("u4", 500),
                       INFO("u4", 5500),
                       FRAME(0, 520, "u4"), /* committed and announced: not unannounced */
                       FINAL(0, 9000),
                       FINAL(1, 9000),
                       VERIFY("u1", 9100, true),
                       VERIFY("u2", 9101, false),
                       VERIFY_ERR("u3", 9102),
                       VERIFY("a1", 9103, false),
                       VERIFY("u4", 9104, true),
                       NULL};
    struct lg_result *r = judge(h);
    ck_assert_uint_eq(r->req_unknown, 4);
    ck_assert_int_eq(r->has_verify, 1);
    ck_assert_uint_eq(r->req_committed_unknown, 2); /* u1, u4 */
    ck_assert_uint_eq(r->req_uncommitted_unknown, 1);
    ck_assert_uint_eq(r->req_unverified, 1);
    ck_assert_uint_eq(r->req_acked_missing, 1);
    ck_assert_uint_eq(r->ev_unannounced, 1);
    ck_assert_str_eq(r->unannounced.items[0].req_id, "u1");
    ck_assert_uint_eq(r->ev_unexpected, 0); /* u4's frame belongs to an invoked request */
    /* u4 was stored and announced, to client 0 only: client 1, connected throughout, was owed
     * it as much as an acknowledged product. u1 reached nobody (unannounced, above). */
    ck_assert_uint_eq(r->ev_unknown_expected, 2);
    ck_assert_uint_eq(r->ev_unknown_lost, 1);
    ck_assert_uint_eq(r->unknown_lost.items[0].client, 1);
    ck_assert_str_eq(r->unknown_lost.items[0].req_id, "u4");
    lg_result_free(r);
}
END_TEST

/* Who is owed a stored product of unknown outcome: a client connected from the invoke (100)
 * until its first copy arrived anywhere (800). Client 0 got it; client 1 came after the
 * copy, client 2 left before it, client 4 came after the invoke: none owed; client 3 was
 * there throughout and did not get it: lost. u2 (not stored) and a1 (acknowledged, judged
 * by lost) are not counted here. */
START_TEST(stored_unknown_owed)
{
    const char *h[] = {CONNECT(0, 1),
                       CONNECT(2, 3),
                       CONNECT(3, 4),
                       INVOKE("u1", 100),
                       CONNECT(4, 150),
                       INVOKE("u2", 200),
                       FRAME(0, 250, "u2"),
                       REQ("a1", 300, 350),
                       FRAME(0, 340, "a1"),
                       FRAME(2, 342, "a1"),
                       FRAME(4, 343, "a1"),
                       FRAME(3, 341, "a1"),
                       INFO("u1", 2100),
                       INFO("u2", 2200),
                       DISCONNECT(2, 700),
                       FRAME(0, 800, "u1"),
                       CONNECT(1, 900),
                       FRAME(1, 950, "u1"),
                       FRAME(4, 960, "u1"),
                       FINAL(0, 9000),
                       FINAL(1, 9000),
                       FINAL(3, 9000),
                       FINAL(4, 9000),
                       VERIFY("u1", 9100, true),
                       VERIFY("u2", 9101, false),
                       NULL};
    struct lg_result *r = judge(h);
    ck_assert_uint_eq(r->req_committed_unknown, 1);
    ck_assert_uint_eq(r->ev_unannounced, 0);
    ck_assert_uint_eq(r->ev_lost, 0);
    ck_assert_uint_eq(r->ev_unknown_expected, 2);
    ck_assert_uint_eq(r->ev_unknown_lost, 1);
    ck_assert_uint_eq(r->unknown_lost.items[0].client, 3);
    ck_assert_str_eq(r->unknown_lost.items[0].req_id, "u1");
    lg_result_free(r);
}
END_TEST

/* Unknown outcomes without any verify record: the products are unknown, so null. A product
 * created while no client was connected is not unannounced. */
START_TEST(unverified_is_null)
{
    const char *h[] = {INVOKE("u1", 100), INFO("u1", 5100), CONNECT(0, 6000), FINAL(0, 9000), NULL};
    struct lg_result *r = judge(h);
    ck_assert_int_eq(r->has_verify, 0);
    json_t *j = lg_report_json(r, 0);
    ck_assert(json_is_null(json_object_get(json_object_get(j, "events"), "unannounced")));
    ck_assert(json_is_null(json_object_get(json_object_get(j, "requests"), "committed_unknown")));
    json_decref(j);
    lg_result_free(r);
    const char *h2[] = {INVOKE("u1", 100), INFO("u1", 5100),         CONNECT(0, 6000),
                        FINAL(0, 9000),    VERIFY("u1", 9100, true), NULL};
    r = judge(h2);
    ck_assert_int_eq(r->has_verify, 1);
    ck_assert_uint_eq(r->req_committed_unknown, 1);
    ck_assert_uint_eq(r->ev_unannounced, 0); /* nobody was connected during u1 */
    lg_result_free(r);
}
END_TEST

/* Two shards on one timeline: shard 1 started 1 ms after shard 0 (wall_us), so its t = 0 is
 * shard 0's t = 1000. Shard 1's client (global id 2) is owed shard 0's request s0-1 and
 * receives it; shard 0's clients are owed s1-1 (created at 2000 + 1000 = 3000 on the common
 * timeline); s0-2 falls within the skew margin of client 2's connect: not owed to it. */
START_TEST(aligned_shards)
{
    const char *s0[] = {"{\"t\":0,\"type\":\"start\",\"clients\":2,\"wall_us\":1000000000}",
                        CONNECT(0, 10),
                        CONNECT(1, 10),
                        REQ("s0-1", 2000, 2100),
                        FRAME(0, 2050, "s0-1"),
                        FRAME(1, 2050, "s0-1"),
                        REQ("s0-2", 1020, 1030),
                        FRAME(0, 1025, "s0-2"),
                        FRAME(1, 1025, "s0-2"),
                        FRAME(0, 3050, "s1-1"),
                        FINAL(0, 9000),
                        FINAL(1, 9000),
                        NULL};
    const char *s1[] = {"{\"t\":0,\"type\":\"start\",\"clients\":1,\"wall_us\":1000001000}",
                        CONNECT(0, 0), /* 1000 on the common timeline */
                        REQ("s1-1", 2000, 2080),
                        FRAME(0, 2040, "s1-1"),
                        FRAME(0, 1060, "s0-1"), /* 2060 */
                        FINAL(0, 8000),
                        NULL};
    struct lg_check *c = lg_check_new();
    lg_check_set_skew_margin(c, 100);
    feed(c, s0);
    lg_check_next_shard(c);
    feed(c, s1);
    struct lg_result *r = lg_check_finish(c);
    lg_check_free(c);
    ck_assert_uint_eq(r->shards, 2);
    ck_assert_int_eq(r->aligned, 1);
    ck_assert_uint_eq(r->clients, 3);
    ck_assert_uint_eq(r->req_ok, 3);
    /* client 0: s0-1 s0-2 s1-1; client 1: the same, lost s1-1; client 2: s0-1 s1-1. */
    ck_assert_uint_eq(r->per_client[0].entitled, 3);
    ck_assert_uint_eq(r->per_client[1].entitled, 3);
    ck_assert_uint_eq(r->per_client[1].lost, 1);
    ck_assert_uint_eq(r->per_client[2].entitled, 2);
    ck_assert_uint_eq(r->per_client[2].received, 2);
    ck_assert_uint_eq(r->ev_lost, 1);
    ck_assert_uint_eq(r->ev_unexpected, 0);
    /* Latency across shards on the common timeline: s1-1 at client 0: 3050 - 3000 = 50. */
    ck_assert_uint_eq(hist_count(r->latency), 7);
    ck_assert_uint_le(hist_max(r->latency), 60);
    lg_result_free(r);
}
END_TEST

/* Without wall clocks a client is judged only against its own shard's requests. */
START_TEST(unaligned_shards)
{
    const char *s0[] = {"{\"t\":0,\"type\":\"start\",\"clients\":1}",
                        CONNECT(0, 10),
                        REQ("s0-1", 100, 150),
                        FRAME(0, 120, "s0-1"),
                        FRAME(0, 130, "s1-1"),
                        FINAL(0, 900),
                        NULL};
    const char *s1[] = {"{\"t\":0,\"type\":\"start\",\"clients\":1}", CONNECT(0, 10),
                        REQ("s1-1", 100, 150), FINAL(0, 900), NULL};
    struct lg_check *c = lg_check_new();
    feed(c, s0);
    lg_check_next_shard(c);
    feed(c, s1);
    struct lg_result *r = lg_check_finish(c);
    lg_check_free(c);
    ck_assert_int_eq(r->aligned, 0);
    ck_assert_uint_eq(r->clients, 2);
    ck_assert_uint_eq(r->ev_expected, 2); /* each client its own shard's one request */
    ck_assert_uint_eq(r->ev_lost, 1);     /* client 1 never got s1-1 */
    ck_assert_uint_eq(r->ev_unentitled, 1);
    ck_assert_uint_eq(r->ev_unexpected, 0);
    ck_assert_uint_eq(hist_count(r->latency), 1); /* another clock: no latency for s1-1 at 0 */
    ck_assert_uint_eq(r->ev_undelivered, 0);      /* client 0 got s1-1 */
    lg_result_free(r);
}
END_TEST

static int parse(struct lg_config *c, char *err, size_t errlen, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, errlen);
    argv[argc++] = "loadgen";
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    FILE *devnull = fopen("/dev/null", "w");
    int rc = lg_config_parse(c, argc, argv, devnull, err, errlen);
    fclose(devnull);
    return rc;
}

START_TEST(shard_split)
{
    struct lg_config c;
    char err[256];
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://x", "--clients", "10",
                           "--rate", "20", "--duration", "5s", "--source-ips",
                           "127.0.0.10-127.0.0.19", "--shard", "1/3", NULL),
                     0);
    ck_assert_int_eq(c.shard_index, 1);
    ck_assert_int_eq(c.shard_count, 3);
    ck_assert_int_eq(c.clients, 3);   /* 4 + 3 + 3 */
    ck_assert_int_eq(c.requests, 33); /* 34 + 33 + 33 of 100 */
    ck_assert_double_eq_tol(c.rate, 20.0 / 3, 1e-9);
    ck_assert_uint_eq(c.nips, 3);
    ck_assert_str_eq(c.ips[0], "127.0.0.11");
    ck_assert_str_eq(c.ips[2], "127.0.0.17");
    lg_config_cleanup(&c);
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://x", "--clients", "10",
                           "--requests", "7", "--source-ips", "1", "--shard", "0/3", NULL),
                     0);
    ck_assert_int_eq(c.clients, 4);
    ck_assert_int_eq(c.requests, 3);
    ck_assert_uint_eq(c.nips, 1); /* one address for every shard */
    lg_config_cleanup(&c);
    ck_assert_int_eq(
        parse(&c, err, sizeof err, "run", "--target", "http://x", "--shard", "3/3", NULL), -1);
    ck_assert_int_eq(
        parse(&c, err, sizeof err, "run", "--target", "http://x", "--shard", "a", NULL), -1);
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://x", "--clients", "2",
                           "--shard", "0/3", NULL),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "fewer clients"));
    ck_assert_int_eq(
        parse(&c, err, sizeof err, "check", "a", "b", "c", "--skew-margin", "5ms", NULL), 0);
    ck_assert_uint_eq(c.nhistories, 3);
    ck_assert_str_eq(c.histories[2], "c");
    ck_assert_int_eq(c.skew_margin_ms, 5);
    lg_config_cleanup(&c);
}
END_TEST

START_TEST(verify_urls)
{
    struct lg_config c;
    char err[256], url[256];
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://h:81", "--verify-path",
                           "/products?req_id={{req_id}}", NULL),
                     0);
    ck_assert_int_eq(lg_verify_url(&c, "lg1-7", url, sizeof url), 0);
    ck_assert_str_eq(url, "http://h:81/products?req_id=lg1-7");
    ck_assert_int_eq(lg_verify_url(&c, "a b", url, sizeof url), 0);
    ck_assert_str_eq(url, "http://h:81/products?req_id=a%20b");
    ck_assert_int_eq(lg_verify_url(&c, "x", url, 20), -1); /* does not fit */
    lg_config_cleanup(&c);
    ck_assert_int_eq(
        parse(&c, err, sizeof err, "run", "--target", "http://h", "--verify-path", "/p?x=1", NULL),
        0);
    ck_assert_int_eq(lg_verify_url(&c, "r1", url, sizeof url), 0);
    ck_assert_str_eq(url, "http://h:80/p?x=1&req_id=r1");
    lg_config_cleanup(&c);
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://h", "--verify-path",
                           "/items/{{req_id}}/{{req_id}}", NULL),
                     0);
    ck_assert_int_eq(lg_verify_url(&c, "r1", url, sizeof url), 0);
    ck_assert_str_eq(url, "http://h:80/items/r1/r1");
    lg_config_cleanup(&c);
}
END_TEST

/* The JSON report carries the verdict, each expectation with its actual value, the new
 * counts and a latency CDF that ends at 1. */
START_TEST(report_verdict_json)
{
    const char *h[] = {CONNECT(0, 1),
                       REQ("r1", 100, 150),
                       FRAME(0, 140, "r1"),
                       REQ("r2", 200, 260),
                       FRAME(0, 290, "r2"),
                       FINAL(0, 1000),
                       NULL};
    struct lg_result *r = judge(h);
    struct lg_expect e[2];
    char err[128], path[] = "/tmp/lg-shards-XXXXXX";
    ck_assert_int_eq(lg_expect_parse("gap_lost == 0", &e[0], err, sizeof err), 0);
    ck_assert_int_eq(lg_expect_parse("undelivered >= 1", &e[1], err, sizeof err), 0);
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct lg_output o = {.json_path = path, .expects = e, .nexpects = 2};
    ck_assert_int_eq(lg_report_verdict(r, &o), 1);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    unlink(path);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "verdict")), "fail");
    json_t *ex = json_object_get(j, "expectations");
    ck_assert_uint_eq(json_array_size(ex), 2);
    ck_assert(json_is_true(json_object_get(json_array_get(ex, 0), "pass")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ex, 0), "name")),
                     "events.gap_lost");
    ck_assert(json_is_false(json_object_get(json_array_get(ex, 1), "pass")));
    ck_assert_double_eq(json_number_value(json_object_get(json_array_get(ex, 1), "actual")), 0);
    json_t *ev = json_object_get(j, "events");
    ck_assert_int_eq(json_integer_value(json_object_get(ev, "missed")), 0);
    json_t *cdf = json_object_get(j, "latency_cdf");
    ck_assert_uint_eq(json_array_size(cdf), 2);
    ck_assert_double_eq(json_number_value(json_array_get(json_array_get(cdf, 1), 1)), 1.0);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "history"), "shards")),
                     1);
    json_decref(j);
    lg_result_free(r);
}
END_TEST

Suite *shards_suite(void)
{
    Suite *s = suite_create("loadgen_shards");
    TCase *tc = tcase_create("judge");
    tcase_add_test(tc, gap_lost_and_undelivered);
    tcase_add_test(tc, recovered_gap_is_owed);
    tcase_add_test(tc, verification);
    tcase_add_test(tc, stored_unknown_owed);
    tcase_add_test(tc, unverified_is_null);
    tcase_add_test(tc, aligned_shards);
    tcase_add_test(tc, unaligned_shards);
    tcase_add_test(tc, shard_split);
    tcase_add_test(tc, verify_urls);
    tcase_add_test(tc, report_verdict_json);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(shards_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
