/* Checker tests: hand-written histories with known anomalies, exact counts asserted. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../loadgen/checker.h"
#include "../../loadgen/expect.h"
#include "../../loadgen/report.h"

/* Feeds a NULL-terminated list of lines and judges them. */
static struct lg_result *run_lines(const char *const *lines)
{
    struct lg_check *c = lg_check_new();
    ck_assert_ptr_nonnull(c);
    for (size_t i = 0; lines[i]; i++)
        ck_assert_int_eq(lg_check_line(c, lines[i], strlen(lines[i])), 0);
    struct lg_result *r = lg_check_finish(c);
    ck_assert_ptr_nonnull(r);
    lg_check_free(c);
    return r;
}

#define REQ(id, ti, ta, pod)                                                                       \
    "{\"t\":" #ti ",\"type\":\"invoke\",\"req_id\":\"" id "\"}",                                   \
        "{\"t\":" #ta ",\"type\":\"ok\",\"req_id\":\"" id "\",\"status\":201,\"pod\":\"" pod "\"}"
#define CONNECT(c, t)                                                                              \
    "{\"t\":" #t ",\"type\":\"connect\",\"client\":" #c ",\"src\":\"127.0.0.1" #c "\"}"
#define DISCONNECT(c, t) "{\"t\":" #t ",\"type\":\"disconnect\",\"client\":" #c ",\"code\":1006}"
#define FINAL(c, t)                                                                                \
    "{\"t\":" #t ",\"type\":\"disconnect\",\"client\":" #c ",\"code\":1000,\"final\":true}"
#define FRAME(c, t, id, off)                                                                       \
    "{\"t\":" #t ",\"type\":\"frame\",\"client\":" #c ",\"req_id\":\"" id "\",\"offset\":" #off    \
    ",\"epoch\":\"E\"}"

START_TEST(all_delivered)
{
    const char *h[] = {"{\"t\":0,\"type\":\"start\",\"clients\":2}",
                       CONNECT(0, 1),
                       CONNECT(1, 2),
                       REQ("r1", 100, 150, "a"),
                       REQ("r2", 200, 250, "b"),
                       REQ("r3", 300, 350, "a"),
                       FRAME(0, 140, "r1", 1),
                       FRAME(1, 141, "r1", 1),
                       FRAME(0, 240, "r2", 2),
                       FRAME(1, 241, "r2", 2),
                       FRAME(0, 340, "r3", 3),
                       FRAME(1, 341, "r3", 3),
                       FINAL(0, 1000),
                       FINAL(1, 1000),
                       NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->clients, 2);
    ck_assert_uint_eq(r->req_sent, 3);
    ck_assert_uint_eq(r->req_ok, 3);
    ck_assert_uint_eq(r->ev_expected, 6);
    ck_assert_uint_eq(r->ev_received, 6);
    ck_assert_uint_eq(r->ev_lost, 0);
    ck_assert_uint_eq(r->ev_duplicated, 0);
    ck_assert_uint_eq(r->ev_out_of_order, 0);
    ck_assert_uint_eq(r->ev_unexpected, 0);
    ck_assert_int_eq(r->has_delivery_ratio, 1);
    ck_assert_double_eq(r->delivery_ratio, 1.0);
    ck_assert_uint_eq(r->conn_opened, 2);
    ck_assert_uint_eq(r->conn_dropped, 0); /* final closes are not drops */
    ck_assert_uint_eq(r->npods, 2);
    ck_assert_str_eq(r->pods[0].name, "a");
    ck_assert_uint_eq(r->pods[0].count, 2);
    ck_assert_uint_eq(r->pods[1].count, 1);
    ck_assert_double_eq_tol(r->pod_share_max, 2.0 / 3.0, 1e-12);
    /* Latencies 40, 41 us: receive time minus invoke time, even though the ack came later. */
    ck_assert_uint_eq(hist_count(r->latency), 6);
    ck_assert_uint_eq(hist_max(r->latency), 41);
    ck_assert_uint_eq(hist_min(r->latency), 40);
    ck_assert_uint_eq(hist_max(r->req_latency), 50);
    lg_result_free(r);
}
END_TEST

START_TEST(losses_named)
{
    const char *h[] = {CONNECT(0, 1),
                       CONNECT(1, 2),
                       REQ("r1", 100, 150, "a"),
                       REQ("r2", 200, 250, "a"),
                       REQ("r3", 300, 350, "a"),
                       FRAME(0, 140, "r1", 1),
                       FRAME(0, 240, "r2", 2),
                       FRAME(0, 340, "r3", 3),
                       FRAME(1, 141, "r1", 1),
                       FRAME(1, 341, "r3", 3),
                       NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->ev_expected, 6);
    ck_assert_uint_eq(r->ev_received, 5);
    ck_assert_uint_eq(r->ev_lost, 1);
    ck_assert_uint_eq(r->lost.total, 1);
    ck_assert_uint_eq(r->lost.n, 1);
    ck_assert_uint_eq(r->lost.items[0].client, 1);
    ck_assert_str_eq(r->lost.items[0].req_id, "r2");
    ck_assert_uint_eq(r->per_client[1].lost, 1);
    ck_assert_str_eq(r->per_client[1].src, "127.0.0.11");
    ck_assert_double_eq_tol(r->delivery_ratio, 5.0 / 6.0, 1e-12);
    ck_assert_double_eq(r->client_delivery_min, 2.0 / 3.0);
    ck_assert_double_eq(r->client_delivery_max, 1.0);
    ck_assert_double_eq_tol(r->client_delivery_mean, 5.0 / 6.0, 1e-12);
    /* No offset is below an earlier one: a gap is a loss, not a reordering. */
    ck_assert_uint_eq(r->ev_out_of_order, 0);
    lg_result_free(r);
}
END_TEST

START_TEST(duplicates_and_reordering)
{
    const char *h[] = {CONNECT(0, 1),
                       REQ("r1", 100, 150, "a"),
                       REQ("r2", 200, 250, "a"),
                       REQ("r3", 300, 350, "a"),
                       REQ("r4", 400, 450, "a"),
                       FRAME(0, 140, "r1", 1),
                       FRAME(0, 141, "r1", 1), /* duplicate, same offset */
                       FRAME(0, 360, "r3", 3),
                       FRAME(0, 361, "r2", 2), /* r2 after r3: out of order */
                       FRAME(0, 460, "r4", 4),
                       FRAME(0, 470, "r2", 2), /* late copy: duplicate only */
                       NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->ev_expected, 4);
    ck_assert_uint_eq(r->ev_received, 4);
    ck_assert_uint_eq(r->ev_lost, 0);
    ck_assert_uint_eq(r->ev_duplicated, 2);
    ck_assert_uint_eq(r->ev_out_of_order, 1);
    ck_assert_uint_eq(r->ev_frames, 6);
    ck_assert_str_eq(r->duplicated.items[0].req_id, "r1");
    ck_assert_str_eq(r->duplicated.items[1].req_id, "r2");
    ck_assert_str_eq(r->out_of_order.items[0].req_id, "r2");
    ck_assert_int_eq(r->out_of_order.items[0].offset, 2);
    lg_result_free(r);
}
END_TEST

START_TEST(new_epoch_is_not_reordering)
{
    const char *h[] = {CONNECT(0, 1),
                       REQ("r1", 100, 150, "a"),
                       REQ("r2", 200, 250, "a"),
                       FRAME(0, 140, "r1", 7),
                       "{\"t\":240,\"type\":\"frame\",\"client\":0,\"req_id\":\"r2\",\"offset\":1,"
                       "\"epoch\":\"F\"}",
                       NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->ev_out_of_order, 0);
    ck_assert_uint_eq(r->ev_received, 2);
    lg_result_free(r);
}
END_TEST

/*
 * Client 0 is connected [1, 100] and [300, end]. r1 is inside the first interval; r2 was
 * acked after the drop; r3 lived in the gap; r4 was invoked before the reconnect; r5 is inside
 * the second interval.
 */
#define WINDOW_HISTORY(recovery_line, ...)                                                         \
    CONNECT(0, 1), REQ("r1", 10, 20, "a"), FRAME(0, 15, "r1", 1), REQ("r2", 90, 110, "a"),         \
        __VA_ARGS__ DISCONNECT(0, 100), REQ("r3", 150, 160, "a"), REQ("r4", 290, 310, "a"),        \
        CONNECT(0, 300), recovery_line, REQ("r5", 310, 320, "a")

START_TEST(disconnect_window)
{
    const char *h[] = {
        WINDOW_HISTORY("{\"t\":301,\"type\":\"hello\",\"client\":0}", FRAME(0, 95, "r2", 2), ),
        FRAME(0, 330, "r5", 5), FINAL(0, 400), NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->ev_expected, 2);
    ck_assert_uint_eq(r->ev_received, 2);
    ck_assert_uint_eq(r->ev_lost, 0);
    ck_assert_uint_eq(r->ev_unentitled, 1); /* r2 arrived though it was acked after the drop */
    ck_assert_uint_eq(r->conn_opened, 2);
    ck_assert_uint_eq(r->conn_dropped, 1);
    ck_assert_uint_eq(r->nclose_codes, 1);
    ck_assert_int_eq(r->close_codes[0].code, 1006);
    ck_assert_uint_eq(r->close_codes[0].count, 1);
    lg_result_free(r);
}
END_TEST

START_TEST(recovery_succeeded)
{
    const char *h[] = {WINDOW_HISTORY("{\"t\":301,\"type\":\"recovery\",\"client\":0,"
                                      "\"recovered\":true}", ),
                       FRAME(0, 302, "r2", 2),
                       FRAME(0, 303, "r3", 3),
                       FRAME(0, 330, "r5", 5),
                       FRAME(0, 340, "r2", 2),
                       FINAL(0, 400),
                       NULL};
    struct lg_result *r = run_lines(h);
    /* The recovery covers the gap: r1..r5 are all owed; r4 never came. */
    ck_assert_uint_eq(r->ev_expected, 5);
    ck_assert_uint_eq(r->ev_received, 4);
    ck_assert_uint_eq(r->ev_lost, 1);
    ck_assert_str_eq(r->lost.items[0].req_id, "r4");
    ck_assert_uint_eq(r->conn_recovered, 1);
    ck_assert_uint_eq(r->conn_recovery_failed, 0);
    /* Offsets 1, 2, 3 (replayed), 5 (live) arrive in order; the second r2 is a duplicate only. */
    ck_assert_uint_eq(r->ev_out_of_order, 0);
    ck_assert_uint_eq(r->ev_duplicated, 1);
    lg_result_free(r);
}
END_TEST

START_TEST(recovery_failed)
{
    const char *h[] = {WINDOW_HISTORY("{\"t\":301,\"type\":\"recovery\",\"client\":0,"
                                      "\"recovered\":false}", ),
                       FRAME(0, 330, "r5", 5), FINAL(0, 400), NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->ev_expected, 2);
    ck_assert_uint_eq(r->ev_received, 2);
    ck_assert_uint_eq(r->ev_lost, 0);
    ck_assert_uint_eq(r->conn_recovered, 0);
    ck_assert_uint_eq(r->conn_recovery_failed, 1);
    lg_result_free(r);
}
END_TEST

START_TEST(unexpected_and_outcomes)
{
    const char *h[] = {
        CONNECT(0, 1),
        REQ("r1", 100, 150, "a"),
        "{\"t\":200,\"type\":\"invoke\",\"req_id\":\"r2\"}",
        "{\"t\":210,\"type\":\"fail\",\"req_id\":\"r2\",\"status\":400}",
        "{\"t\":300,\"type\":\"invoke\",\"req_id\":\"r3\"}",
        "{\"t\":9000,\"type\":\"info\",\"req_id\":\"r3\",\"error\":\"timeout\"}",
        "{\"t\":400,\"type\":\"invoke\",\"req_id\":\"r4\"}", /* no outcome: unknown */
        FRAME(0, 140, "r1", 1),
        FRAME(0, 310, "r3", 3),
        FRAME(0, 500, "zz", 9),
        "{\"t\":510,\"type\":\"frame\",\"client\":0}",
        NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->req_sent, 4);
    ck_assert_uint_eq(r->req_ok, 1);
    ck_assert_uint_eq(r->req_failed, 1);
    ck_assert_uint_eq(r->req_unknown, 2);
    ck_assert_uint_eq(r->ev_expected, 1);
    ck_assert_uint_eq(r->ev_received, 1);
    ck_assert_uint_eq(r->ev_unexpected, 2); /* zz was never invoked; the last frame has no req_id */
    ck_assert_str_eq(r->unexpected.items[0].req_id, "zz");
    ck_assert_uint_eq(r->ev_unentitled, 1); /* r3 (unknown outcome) arrived: not owed, not lost */
    lg_result_free(r);
}
END_TEST

START_TEST(open_interval_and_order_independence)
{
    /* Frames before their invoke lines (threads flush separately); the client never leaves. */
    const char *h[] = {CONNECT(0, 1),
                       FRAME(0, 1140, "r1", 1),
                       REQ("r1", 100, 2000, "a"),
                       CONNECT(1, 5),
                       "not json",
                       "{\"type\":\"frame\"}",
                       NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->ev_expected, 2); /* intervals stay open until the last t (2000) */
    ck_assert_uint_eq(r->ev_received, 1);
    ck_assert_uint_eq(r->ev_lost, 1);
    ck_assert_uint_eq(r->lost.items[0].client, 1);
    ck_assert_uint_eq(r->history_malformed, 2);
    ck_assert_uint_eq(r->history_lines, 7);
    ck_assert_uint_eq(hist_max(r->latency), 1040);
    lg_result_free(r);
}
END_TEST

START_TEST(connect_failures_and_nothing_expected)
{
    const char *h[] = {"{\"t\":0,\"type\":\"start\",\"clients\":3}",
                       "{\"t\":5,\"type\":\"connect_fail\",\"client\":2,\"error\":\"refused\"}",
                       "{\"t\":9,\"type\":\"connect_fail\",\"client\":2,\"error\":\"refused\"}",
                       NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->clients, 3);
    ck_assert_uint_eq(r->conn_failed, 2);
    ck_assert_uint_eq(r->per_client[2].failed, 2);
    ck_assert_int_eq(r->has_delivery_ratio, 0);
    ck_assert_int_eq(r->has_client_delivery, 0);
    ck_assert_int_eq(r->has_pod_share, 0);
    json_t *j = lg_report_json(r, 1);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_null(json_object_get(j, "delivery_ratio")));
    ck_assert(json_is_null(json_object_get(json_object_get(j, "latency_ms"), "p99")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "per_client")), 3);
    json_decref(j);
    lg_result_free(r);
}
END_TEST

START_TEST(report_json_fields)
{
    const char *h[] = {CONNECT(0, 1), REQ("r1", 100, 150, "a"), REQ("r2", 200, 250, "b"),
                       FRAME(0, 1100, "r1", 1), NULL};
    struct lg_result *r = run_lines(h);
    json_t *j = lg_report_json(r, 0);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "clients")), 1);
    json_t *ev = json_object_get(j, "events");
    ck_assert_int_eq(json_integer_value(json_object_get(ev, "expected")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(ev, "lost")), 1);
    ck_assert_double_eq(json_real_value(json_object_get(j, "delivery_ratio")), 0.5);
    json_t *lat = json_object_get(j, "latency_ms");
    ck_assert_double_eq_tol(json_real_value(json_object_get(lat, "max")), 1.0, 1e-9);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(j, "requests_per_pod"), "b")), 1);
    ck_assert_double_eq(json_real_value(json_object_get(j, "pod_share_max")), 0.5);
    json_t *lost = json_object_get(json_object_get(j, "anomalies"), "lost");
    ck_assert_int_eq(json_array_size(lost), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lost, 0), "req_id")), "r2");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lost, 0), "src")),
                     "127.0.0.10");
    ck_assert_ptr_null(json_object_get(j, "per_client"));
    json_decref(j);
    lg_result_free(r);
}
END_TEST

/* Judges h with one expectation and the facts in facts_json (NULL: no --facts). */
static int verdict_with_facts(const char *expect, const char *facts_json)
{
    const char *h[] = {CONNECT(0, 1), REQ("r1", 100, 150, "a"), FRAME(0, 300, "r1", 1), NULL};
    struct lg_result *r = run_lines(h);
    struct lg_expect e;
    char err[256], path[] = "/tmp/loadgen-facts-XXXXXX";
    ck_assert_int_eq(lg_expect_parse(expect, &e, err, sizeof err), 0);
    json_t *empty = json_object();
    ck_assert_int_eq(lg_expect_validate(&e, empty, err, sizeof err), 0); /* names a fact */
    json_decref(empty);
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    if (facts_json)
        ck_assert_int_eq(write(fd, facts_json, strlen(facts_json)), (ssize_t)strlen(facts_json));
    close(fd);
    struct lg_output o = {.expects = &e, .nexpects = 1, .facts_path = facts_json ? path : NULL};
    int rc = lg_report_verdict(r, &o);
    unlink(path);
    lg_result_free(r);
    return rc;
}

START_TEST(lab_facts_are_judged)
{
    /* A fact the lab recorded decides like a number of the history, both ways. */
    const char *f = "{\"mongo\": {\"primary_changed\": 1, \"primary_before\": 1}}";
    ck_assert_int_eq(verdict_with_facts("lab.mongo.primary_changed == 1", f), 0);
    ck_assert_int_eq(verdict_with_facts("lab.mongo.primary_changed == 0", f), 1);
    /* A fact nobody recorded, no facts at all, or a broken file: the expectation fails. */
    ck_assert_int_eq(verdict_with_facts("lab.mongo.elections >= 1", f), 1);
    ck_assert_int_eq(verdict_with_facts("lab.mongo.primary_changed == 1", NULL), 1);
    ck_assert_int_eq(verdict_with_facts("lab.mongo.primary_changed == 1", "[1]"), 1);
    ck_assert_int_eq(verdict_with_facts("lab.mongo.primary_changed == 1", "{"), 1);
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("loadgen_check");
    TCase *tc = tcase_create("checker");
    tcase_add_test(tc, all_delivered);
    tcase_add_test(tc, losses_named);
    tcase_add_test(tc, duplicates_and_reordering);
    tcase_add_test(tc, new_epoch_is_not_reordering);
    tcase_add_test(tc, disconnect_window);
    tcase_add_test(tc, recovery_succeeded);
    tcase_add_test(tc, recovery_failed);
    tcase_add_test(tc, unexpected_and_outcomes);
    tcase_add_test(tc, open_interval_and_order_independence);
    tcase_add_test(tc, connect_failures_and_nothing_expected);
    tcase_add_test(tc, report_json_fields);
    tcase_add_test(tc, lab_facts_are_judged);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(check_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
