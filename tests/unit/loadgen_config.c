/* loadgen's command line, source address pools, and the frame / history scanners. */
#include <check.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "../../loadgen/frames.h"
#include "../../loadgen/config.h"
#include "../../loadgen/hlog.h"
#include "../../loadgen/scan.h"
#include "../../loadgen/template.h"

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

START_TEST(run_defaults_and_flags)
{
    struct lg_config c;
    char err[256];
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://127.0.0.1:8080", NULL),
                     0);
    ck_assert_int_eq(c.mode, LG_MODE_RUN);
    ck_assert_str_eq(c.http.host, "127.0.0.1");
    ck_assert_int_eq(c.http.port, 8080);
    ck_assert_int_eq(c.ws.port, 8080);
    ck_assert_str_eq(c.ws_path, "/websocket-service");
    ck_assert_int_eq(c.clients, 100);
    ck_assert_double_eq(c.rate, 10);
    ck_assert_int_eq(c.duration_ms, 10000);
    ck_assert_int_eq(c.resume, 1);
    ck_assert_uint_eq(c.nips, 0);
    lg_config_cleanup(&c);

    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target=http://lab.local", "--ws-target",
                           "ws://127.0.0.1:9000/x", "--clients", "7", "--rate", "2.5", "--duration",
                           "1m", "--expect", "lost==0", "--source-ips", "3", "--no-resume",
                           "--expect=delivery_ratio>=0.99", "--ws-path", "/socket.io/", NULL),
                     0);
    ck_assert_str_eq(c.http.host, "lab.local");
    ck_assert_int_eq(c.http.port, 80);
    ck_assert_int_eq(c.ws.port, 9000);
    ck_assert_int_eq(c.clients, 7);
    ck_assert_double_eq(c.rate, 2.5);
    ck_assert_int_eq(c.duration_ms, 60000);
    ck_assert_int_eq(c.resume, 0);
    ck_assert_uint_eq(c.nexpects, 2);
    ck_assert_str_eq(c.expects[0].path, "events.lost");
    ck_assert_str_eq(c.expects[1].path, "delivery_ratio");
    ck_assert_uint_eq(c.nips, 3);
    ck_assert_str_eq(c.ips[0], "127.0.0.10");
    ck_assert_str_eq(c.ips[2], "127.0.0.12");
    ck_assert_str_eq(c.ws_path, "/socket.io/");
    lg_config_cleanup(&c);
}
END_TEST

START_TEST(env_twins)
{
    struct lg_config c;
    char err[256];
    setenv("LOADGEN_CLIENTS", "33", 1);
    setenv("LOADGEN_TARGET", "http://10.0.0.1:81", 1);
    setenv("LOADGEN_EXPECT", "lost==0;p99<100", 1);
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--clients", "44", NULL), 0);
    ck_assert_int_eq(c.clients, 44); /* argv wins */
    ck_assert_int_eq(c.http.port, 81);
    ck_assert_uint_eq(c.nexpects, 2);
    ck_assert_str_eq(c.expects[1].path, "latency_ms.p99");
    lg_config_cleanup(&c);
    unsetenv("LOADGEN_CLIENTS");
    unsetenv("LOADGEN_TARGET");
    unsetenv("LOADGEN_EXPECT");
}
END_TEST

START_TEST(usage_errors)
{
    struct lg_config c;
    char err[256];
    ck_assert_int_eq(parse(&c, err, sizeof err, NULL), -1);
    ck_assert_int_eq(parse(&c, err, sizeof err, "walk", NULL), -1);
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", NULL), -1);
    ck_assert_ptr_nonnull(strstr(err, "--target"));
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "https://x", NULL), -1);
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://x:0", NULL), -1);
    ck_assert_int_eq(
        parse(&c, err, sizeof err, "run", "--target", "http://x", "--rate", "fast", NULL), -1);
    ck_assert_int_eq(
        parse(&c, err, sizeof err, "run", "--target", "http://x", "--rate", "-1", NULL), -1);
    ck_assert_int_eq(
        parse(&c, err, sizeof err, "run", "--target", "http://x", "--expect", "lost=0", NULL), -1);
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://x", "--expect", NULL),
                     -1);
    ck_assert_int_eq(
        parse(&c, err, sizeof err, "run", "--target", "http://x", "--source-ips", "1.2.3", NULL),
        -1);
    ck_assert_int_eq(
        parse(&c, err, sizeof err, "run", "--target", "http://x", "--clients", "-1", NULL), -1);
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://x", "--bogus", NULL),
                     -1);
    ck_assert_int_eq(
        parse(&c, err, sizeof err, "run", "--target", "http://x", "--ws-path", "x", NULL), -1);
    ck_assert_int_eq(parse(&c, err, sizeof err, "check", NULL), -1);
    ck_assert_int_eq(parse(&c, err, sizeof err, "check", "a", "--clients", "3", NULL), -1);
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--help", NULL), 1);
    ck_assert_int_eq(parse(&c, err, sizeof err, "check", "h.jsonl", "--json", "r.json", NULL), 0);
    ck_assert_str_eq(c.history, "h.jsonl");
    ck_assert_str_eq(c.json, "r.json");
    lg_config_cleanup(&c);
}
END_TEST

START_TEST(heartbeat_flags)
{
    struct lg_config c;
    char err[256];
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://x", NULL), 0);
    ck_assert_int_eq(c.ping_interval_ms, 0); /* off: a browser's WebSocket */
    ck_assert_int_eq(c.ping_timeout_ms, 0);
    lg_config_cleanup(&c);
    ck_assert_int_eq(
        parse(&c, err, sizeof err, "run", "--target", "http://x", "--ping-interval", "2s", NULL),
        0);
    ck_assert_int_eq(c.ping_interval_ms, 2000);
    ck_assert_int_eq(c.ping_timeout_ms, 2000); /* defaults to the interval */
    lg_config_cleanup(&c);
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://x", "--ping-interval",
                           "1s", "--ping-timeout", "300ms", NULL),
                     0);
    ck_assert_int_eq(c.ping_timeout_ms, 300);
    lg_config_cleanup(&c);
    ck_assert_int_eq(
        parse(&c, err, sizeof err, "run", "--target", "http://x", "--ping-timeout", "1s", NULL),
        -1);
    ck_assert_ptr_nonnull(strstr(err, "--ping-interval"));
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://x", "--protocol",
                           "socketio", "--ping-interval", "1s", NULL),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "plain"));
}
END_TEST

START_TEST(app_api_flags)
{
    struct lg_config c;
    char err[256];
    /* fakeapp's API is the default. */
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://x", NULL), 0);
    ck_assert_int_eq(c.protocol, LG_PROTO_PLAIN);
    ck_assert_str_eq(c.event, "new_product");
    ck_assert_str_eq(c.id_path, "req_id");
    ck_assert_str_eq(c.body, lg_template_default);
    ck_assert_int_eq(c.websocket, 1);
    ck_assert_int_eq(c.polling, 0);
    ck_assert_int_eq(c.channels, 0);
    ck_assert_int_eq(c.cookies, 1);
    lg_config_cleanup(&c);

    /* Socket.IO: the browser's transports and /socket.io/ by default. */
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://x", "--protocol",
                           "socketio", "--channels", "4", NULL),
                     0);
    ck_assert_int_eq(c.protocol, LG_PROTO_SOCKETIO);
    ck_assert_int_eq(c.polling, 1);
    ck_assert_int_eq(c.websocket, 1);
    ck_assert_str_eq(c.ws_path, "/socket.io/");
    ck_assert_str_eq(c.body, lg_template_default_store); /* channels add the store field */
    lg_config_cleanup(&c);

    setenv("LOADGEN_TRANSPORT", "polling", 1);
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://x", "--protocol",
                           "socketio", "--ws-path", "/io/", "--event", "created", "--id-path",
                           "product.ref", "--body", "{\"ref\":\"{{req_id}}\",\"n\":{{n}}}",
                           "--products-path", "/api/items", "--header", "Authorization: Bearer t0k",
                           NULL),
                     0);
    unsetenv("LOADGEN_TRANSPORT");
    ck_assert_str_eq(c.header, "Authorization: Bearer t0k");
    ck_assert_int_eq(c.polling, 1);
    ck_assert_int_eq(c.websocket, 0);
    ck_assert_str_eq(c.ws_path, "/io/");
    ck_assert_str_eq(c.event, "created");
    ck_assert_str_eq(c.id_path, "product.ref");
    ck_assert_str_eq(c.products_path, "/api/items");
    lg_config_cleanup(&c);

    const char *bad[][2] = {
        {"--protocol", "mqtt"},
        {"--transport", "polling"}, /* needs socketio */
        {"--id-path", "a..b"},
        {"--id-path", ""},
        {"--body", "{\"name\":\"x\"}"},
        {"--body", "{{req_id}} {{nope}}"},
        {"--channels", "-1"},
        {"--channel-prefix", "store 1"},
        {"--req-prefix", "a\"b"},
        {"--header", "Authorization"},
        {"--header", ": x"},
        {"--header", "X-Key: a\r\nHost: evil"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(parse(&c, err, sizeof err, "run", "--target", "http://x", bad[i][0],
                            bad[i][1], NULL) == -1,
                      "accepted %s %s", bad[i][0], bad[i][1]);
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://x", "--protocol",
                           "socketio", "--transport", "carrier-pigeon", NULL),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "--transport"));
}
END_TEST

START_TEST(source_ip_pools)
{
    char(*ips)[16];
    char err[256];
    ck_assert_int_eq(lg_parse_source_ips("127.0.0.10-127.0.0.250", &ips, err, sizeof err), 241);
    ck_assert_str_eq(ips[240], "127.0.0.250");
    free(ips);
    ck_assert_int_eq(
        lg_parse_source_ips("127.0.0.5,127.0.0.9-127.0.0.10,127.0.1.1", &ips, err, sizeof err), 4);
    ck_assert_str_eq(ips[0], "127.0.0.5");
    ck_assert_str_eq(ips[2], "127.0.0.10");
    ck_assert_str_eq(ips[3], "127.0.1.1");
    free(ips);
    ck_assert_int_eq(lg_parse_source_ips("250", &ips, err, sizeof err), 250);
    ck_assert_str_eq(ips[245], "127.0.0.255");
    ck_assert_str_eq(ips[246], "127.0.1.0"); /* the count form runs on past .255 */
    free(ips);
    ck_assert_int_eq(lg_parse_source_ips("127.0.0.9-127.0.0.8", &ips, err, sizeof err), -1);
    ck_assert_int_eq(lg_parse_source_ips("0", &ips, err, sizeof err), -1);
    ck_assert_int_eq(lg_parse_source_ips("localhost", &ips, err, sizeof err), -1);
    ck_assert_int_eq(lg_parse_source_ips("", &ips, err, sizeof err), 0);
}
END_TEST

START_TEST(frame_scanner)
{
    struct lg_frame_fields f;
    const char *ev =
        "{\"event\":\"new_product\",\"data\":{\"_id\":\"x\",\"name\":\"a \\\"q\\\" }\","
        "\"price\":1.5,\"tags\":[1,{\"a\":\"}\"}],\"req_id\":\"r-9\",\"pod\":\"app-2\"},"
        "\"offset\":42,\"epoch\":\"E1\"}";
    ck_assert_int_eq(lg_scan_frame(ev, strlen(ev), "req_id", &f), 0);
    ck_assert_int_eq(f.event_len, 11);
    ck_assert_int_eq(f.offset, 42);
    ck_assert_int_eq(f.req_id_len, 3);
    ck_assert_int_eq(memcmp(f.req_id, "r-9", 3), 0);
    ck_assert_int_eq(memcmp(f.pod, "app-2", 5), 0);
    ck_assert_int_eq(memcmp(f.epoch, "E1", 2), 0);
    const char *rec =
        "{\"event\":\"_recovery\",\"data\":{\"recovered\":false,\"epoch\":\"E2\",\"offset\":7}}";
    ck_assert_int_eq(lg_scan_frame(rec, strlen(rec), "req_id", &f), 0);
    ck_assert_int_eq(f.recovered, 0);
    ck_assert_int_eq(f.offset, 7);
    ck_assert_int_eq(memcmp(f.epoch, "E2", 2), 0);
    const char *bad[] = {"",    "[]", "{\"event\":", "{\"event\":\"x\",}", "{\"data\":{\"a\":[}}",
                         "nul", NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(lg_scan_frame(bad[i], strlen(bad[i]), "req_id", &f) == -1, "accepted %s",
                      bad[i]);
}
END_TEST

/* An app whose frames are {"type":..,"payload":..}: --event-key/--data-key name the members. */
START_TEST(frame_scanner_keys)
{
    struct lg_frame_fields f;
    const char *ev = "{\"type\":\"item.created\",\"payload\":{\"item\":{\"rid\":\"r-7\"}},"
                     "\"event\":\"other\",\"data\":{\"item\":{\"rid\":\"no\"}}}";
    ck_assert_int_eq(lg_scan_frame_keys(ev, strlen(ev), "item.rid", "type", "payload", &f), 0);
    ck_assert_int_eq(f.event_len, 12);
    ck_assert_int_eq(memcmp(f.event, "item.created", 12), 0);
    ck_assert_int_eq(f.req_id_len, 3);
    ck_assert_int_eq(memcmp(f.req_id, "r-7", 3), 0);
    /* The defaults read the other members of the same frame. */
    ck_assert_int_eq(lg_scan_frame(ev, strlen(ev), "item.rid", &f), 0);
    ck_assert_int_eq(memcmp(f.event, "other", 5), 0);
    ck_assert_int_eq(memcmp(f.req_id, "no", 2), 0);

    struct lg_config c;
    char err[256];
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://127.0.0.1:8080",
                           "--event-key", "type", "--data-key", "payload", NULL),
                     0);
    ck_assert_str_eq(c.event_key, "type");
    ck_assert_str_eq(c.data_key, "payload");
    ck_assert_int_eq(parse(&c, err, sizeof err, "run", "--target", "http://127.0.0.1:8080", NULL),
                     0);
    ck_assert_str_eq(c.event_key, "event");
    ck_assert_str_eq(c.data_key, "data");
    const char *bad[][2] = {{"--event-key", ""},
                            {"--data-key", "a.b"},
                            {"--event-key", "data"},
                            {"--data-key", "x\"y"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse(&c, err, sizeof err, "run", "--target", "http://127.0.0.1:8080",
                            bad[i][0], bad[i][1], NULL) == -1,
                      "accepted %s '%s'", bad[i][0], bad[i][1]);
        ck_assert_ptr_nonnull(strstr(err, "--event-key"));
    }
}
END_TEST

START_TEST(history_lines)
{
    char path[] = "/tmp/loadgen-unit-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    struct hlog h;
    ck_assert_int_eq(hlog_init(&h, fd, 0), 0);
    hlog_begin(&h, -5, "frame");
    hlog_int(&h, "client", 12);
    hlog_str(&h, "req_id", "a\"b\\c\n", 6);
    hlog_raw_str(&h, "epoch", "E\\\"", 3);
    hlog_bool(&h, "final", 1);
    hlog_end(&h);
    hlog_cleanup(&h);
    char buf[256] = {0};
    ck_assert_int_gt(pread(fd, buf, sizeof buf - 1, 0), 0);
    ck_assert_str_eq(buf,
                     "{\"t\":-5,\"type\":\"frame\",\"client\":12,\"req_id\":\"a\\\"b\\\\c\\u000a\","
                     "\"epoch\":\"E\\\"\",\"final\":true}\n");
    struct js_obj o;
    struct js_val k, v;
    ck_assert_int_eq(js_obj_open(&o, buf, strlen(buf)), 0);
    int n = 0;
    char s[32];
    while (js_obj_next(&o, &k, &v) == 1) {
        if (js_eq(&k, "req_id")) {
            js_str_copy(&v, s, sizeof s);
            ck_assert_str_eq(s, "a\"b\\c\n");
        }
        n++;
    }
    ck_assert_int_eq(n, 6);
    close(fd);
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loadgen_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, run_defaults_and_flags);
    tcase_add_test(tc, env_twins);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, heartbeat_flags);
    tcase_add_test(tc, app_api_flags);
    tcase_add_test(tc, source_ip_pools);
    tcase_add_test(tc, frame_scanner);
    tcase_add_test(tc, frame_scanner_keys);
    tcase_add_test(tc, history_lines);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
