/* The checker with channels: an event of channel X is owed only to the clients that joined X
 * (on the connection that was open), a broadcast event to every client. Exact counts. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../loadgen/checker.h"

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

#define REQ(id, ch, ti, ta)                                                                        \
    "{\"t\":" #ti ",\"type\":\"invoke\",\"req_id\":\"" id "\",\"channel\":\"" ch "\"}",            \
        "{\"t\":" #ta ",\"type\":\"ok\",\"req_id\":\"" id "\",\"status\":201}"
#define BREQ(id, ti, ta)                                                                           \
    "{\"t\":" #ti ",\"type\":\"invoke\",\"req_id\":\"" id "\"}",                                   \
        "{\"t\":" #ta ",\"type\":\"ok\",\"req_id\":\"" id "\",\"status\":201}"
#define JOIN(c, t, chans)                                                                          \
    "{\"t\":" #t ",\"type\":\"connect\",\"client\":" #c ",\"channels\":\"" chans "\"}"
#define PLAIN(c, t) "{\"t\":" #t ",\"type\":\"connect\",\"client\":" #c "}"
#define DROP(c, t) "{\"t\":" #t ",\"type\":\"disconnect\",\"client\":" #c ",\"code\":1006}"
#define FRAME(c, t, id) "{\"t\":" #t ",\"type\":\"frame\",\"client\":" #c ",\"req_id\":\"" id "\"}"

START_TEST(owed_per_channel)
{
    /* Client 0 joins store-0, client 1 store-1, client 2 both, client 3 none (broadcast only).
     * a: store-0, b: store-1, c: broadcast. */
    const char *h[] = {JOIN(0, 1, "store-0"),
                       JOIN(1, 1, "store-1"),
                       JOIN(2, 1, "store-0,store-1"),
                       PLAIN(3, 1),
                       REQ("a", "store-0", 10, 20),
                       REQ("b", "store-1", 30, 40),
                       BREQ("c", 50, 60),
                       FRAME(0, 15, "a"),
                       FRAME(0, 55, "c"),
                       FRAME(1, 35, "b"), /* client 1 misses c */
                       FRAME(2, 15, "a"),
                       FRAME(2, 35, "b"),
                       FRAME(2, 55, "c"),
                       FRAME(3, 55, "c"),
                       NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->ev_expected, 2 + 2 + 3 + 1);
    ck_assert_uint_eq(r->ev_received, 7);
    ck_assert_uint_eq(r->ev_lost, 1);
    ck_assert_str_eq(r->lost.items[0].req_id, "c");
    ck_assert_uint_eq(r->lost.items[0].client, 1);
    ck_assert_uint_eq(r->ev_unentitled, 0);
    ck_assert_uint_eq(r->ev_wrong_channel, 0);
    lg_result_free(r);
}
END_TEST

START_TEST(leaks_are_counted)
{
    /* An event of store-1 reaching a store-0 client is not owed and is a wrong delivery; an
     * event of a joined channel sent while away is merely unentitled. */
    const char *h[] = {JOIN(0, 1, "store-0"),
                       REQ("a", "store-1", 10, 20),
                       DROP(0, 30),
                       REQ("b", "store-0", 40, 50),
                       JOIN(0, 60, "store-0"),
                       FRAME(0, 15, "a"),
                       FRAME(0, 65, "b"),
                       NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->ev_expected, 0);
    ck_assert_int_eq(r->has_delivery_ratio, 0);
    ck_assert_uint_eq(r->ev_unentitled, 2);
    ck_assert_uint_eq(r->ev_wrong_channel, 1);
    lg_result_free(r);
}
END_TEST

START_TEST(channels_follow_the_connection)
{
    /* The channels of each connection count for that connection only: client 0 joins store-0,
     * reconnects into store-1. */
    const char *h[] = {JOIN(0, 1, "store-0"),       REQ("a", "store-0", 10, 20),
                       REQ("b", "store-1", 11, 21), DROP(0, 30),
                       JOIN(0, 40, "store-1"),      REQ("c", "store-0", 50, 60),
                       REQ("d", "store-1", 51, 61), FRAME(0, 15, "a"),
                       FRAME(0, 55, "d"),           NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->ev_expected, 2); /* a and d */
    ck_assert_uint_eq(r->ev_received, 2);
    ck_assert_uint_eq(r->ev_lost, 0);
    lg_result_free(r);
}
END_TEST

START_TEST(gaps_count_only_joined_channels)
{
    /* Client 0 (store-0) is away from 30 to 60 without recovery: b (store-0) was created in
     * the gap and never arrived: a gap loss; c (store-1) was never its to lose. */
    const char *h[] = {JOIN(0, 1, "store-0"),
                       REQ("a", "store-0", 10, 20),
                       DROP(0, 30),
                       REQ("b", "store-0", 40, 45),
                       REQ("c", "store-1", 41, 46),
                       JOIN(0, 60, "store-0"),
                       FRAME(0, 15, "a"),
                       NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->ev_expected, 1);
    ck_assert_uint_eq(r->ev_lost, 0);
    ck_assert_uint_eq(r->ev_gap_lost, 1);
    lg_result_free(r);
}
END_TEST

START_TEST(socketio_counters)
{
    const char *h[] = {
        "{\"t\":1,\"type\":\"connect_fail\",\"client\":0,\"error\":\"handshake: HTTP 502\","
        "\"stage\":\"handshake\"}",
        "{\"t\":2,\"type\":\"connect_fail\",\"client\":1,\"error\":\"x\",\"stage\":\"connect\"}",
        "{\"t\":3,\"type\":\"connect_fail\",\"client\":1,\"error\":\"x\",\"stage\":\"handshake\","
        "\"final\":true}",
        "{\"t\":4,\"type\":\"transport_error\",\"client\":2,\"method\":\"GET\",\"status\":400,"
        "\"code\":1,\"error\":\"Session ID unknown\"}",
        "{\"t\":5,\"type\":\"transport_error\",\"client\":2,\"method\":\"POST\",\"status\":400,"
        "\"code\":1,\"error\":\"Session ID unknown\"}",
        "{\"t\":6,\"type\":\"transport_error\",\"client\":3,\"method\":\"GET\",\"error\":"
        "\"reset\"}",
        "{\"t\":7,\"type\":\"upgrade\",\"client\":3}",
        "{\"t\":8,\"type\":\"upgrade_fail\",\"client\":4,\"error\":\"websocket failed\"}",
        "{\"t\":9,\"type\":\"upgrade_fail\",\"client\":5,\"error\":\"websocket failed\"}",
        NULL};
    struct lg_result *r = run_lines(h);
    ck_assert_uint_eq(r->sio_handshake_failed, 1); /* not the one during loadgen's own stop */
    ck_assert_uint_eq(r->sio_transport_errors, 3);
    ck_assert_uint_eq(r->sio_unknown_sid, 2);
    ck_assert_uint_eq(r->sio_upgraded, 1);
    ck_assert_uint_eq(r->sio_upgrade_failed, 2);
    lg_result_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loadgen_channels");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, owed_per_channel);
    tcase_add_test(tc, leaks_are_counted);
    tcase_add_test(tc, channels_follow_the_connection);
    tcase_add_test(tc, gaps_count_only_joined_channels);
    tcase_add_test(tc, socketio_counters);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
