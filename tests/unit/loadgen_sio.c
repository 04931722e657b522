/* loadgen's Socket.IO client pieces: Engine.IO / Socket.IO codec, event scanning, the
 * HTTP/1.1 response parser, the cookie jar, body templates and the scanner's arrays/paths. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../loadgen/cookies.h"
#include "../../loadgen/frames.h"
#include "../../loadgen/http1.h"
#include "../../loadgen/scan.h"
#include "../../loadgen/sio.h"
#include "../../loadgen/template.h"

static int span_is(const char *p, size_t n, const char *lit)
{
    return p != NULL && n == strlen(lit) && memcmp(p, lit, n) == 0;
}

START_TEST(open_packet)
{
    struct sio_open o;
    char err[128];
    const char *ok = "{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],"
                     "\"pingInterval\":300,\"pingTimeout\":200,\"maxPayload\":1000000}";
    ck_assert_int_eq(sio_parse_open(ok, strlen(ok), &o, err, sizeof err), 0);
    ck_assert_str_eq(o.sid, "lv_VI97HAXpY6yYWAAAC");
    ck_assert_int_eq(o.can_websocket, 1);
    ck_assert_int_eq(o.ping_interval_ms, 300);
    ck_assert_int_eq(o.ping_timeout_ms, 200);
    ck_assert_int_eq(o.max_payload, 1000000);
    const char *no_up = "{\"sid\":\"a\",\"upgrades\":[]}";
    ck_assert_int_eq(sio_parse_open(no_up, strlen(no_up), &o, err, sizeof err), 0);
    ck_assert_int_eq(o.can_websocket, 0);
    ck_assert_int_eq(o.ping_interval_ms, 25000); /* Socket.IO's defaults */
    const char *bad[] = {"",
                         "[]",
                         "{\"upgrades\":[]}",
                         "{\"sid\":\"\"}",
                         "{\"sid\":7}",
                         "{\"sid\":\"a b\"}",
                         "{\"sid\":\"a\",\"pingInterval\":-5}",
                         "{\"sid\":\"a\",\"pingTimeout\":\"x\"}",
                         "{\"sid\":\"a\"",
                         NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(sio_parse_open(bad[i], strlen(bad[i]), &o, err, sizeof err) == -1,
                      "accepted %s", bad[i]);
}
END_TEST

START_TEST(connect_and_errors)
{
    char sid[SIO_SID_MAX], pid[SIO_SID_MAX], msg[64];
    int code;
    const char *a = "{\"sid\":\"s1\",\"pid\":\"p1\"}";
    ck_assert_int_eq(sio_parse_connect(a, strlen(a), sid, pid), 0);
    ck_assert_str_eq(sid, "s1");
    ck_assert_str_eq(pid, "p1");
    const char *b = "{\"sid\":\"s2\"}";
    ck_assert_int_eq(sio_parse_connect(b, strlen(b), sid, pid), 0);
    ck_assert_str_eq(pid, "");
    ck_assert_int_eq(sio_parse_connect("{}", 2, sid, pid), -1);
    ck_assert_int_eq(sio_parse_connect("x", 1, sid, pid), -1);

    const char *e = "{\"code\":1,\"message\":\"Session ID unknown\"}";
    sio_parse_error(e, strlen(e), &code, msg, sizeof msg);
    ck_assert_int_eq(code, 1);
    ck_assert_str_eq(msg, "Session ID unknown");
    const char *ce = "{\"message\":\"not authorized\",\"data\":{}}";
    sio_parse_error(ce, strlen(ce), &code, msg, sizeof msg);
    ck_assert_int_eq(code, -1);
    ck_assert_str_eq(msg, "not authorized");
    sio_parse_error("<html>\n502", 10, &code, msg, sizeof msg);
    ck_assert_str_eq(msg, "<html> 502"); /* not JSON: the start of the body, printable */
}
END_TEST

START_TEST(payload_and_packets)
{
    const char body[] = "40{\"sid\":\"x\"}\x1e"
                        "2\x1e"
                        "42[\"a\",1]";
    const char *p = body, *end = body + strlen(body), *pkt;
    size_t n;
    ck_assert_int_eq(sio_payload_next(&p, end, &pkt, &n), 1);
    ck_assert(span_is(pkt, n, "40{\"sid\":\"x\"}"));
    ck_assert_int_eq(sio_payload_next(&p, end, &pkt, &n), 1);
    ck_assert(span_is(pkt, n, "2"));
    ck_assert_int_eq(sio_payload_next(&p, end, &pkt, &n), 1);
    ck_assert(span_is(pkt, n, "42[\"a\",1]"));
    ck_assert_int_eq(sio_payload_next(&p, end, &pkt, &n), 0);

    char buf[256];
    ck_assert_int_eq(sio_connect_packet(buf, sizeof buf, "", "", "", -1, ""), 2);
    ck_assert_str_eq(buf, "40");
    ck_assert_int_gt(sio_connect_packet(buf, sizeof buf, "store-3", "", "", -1, ""), 0);
    ck_assert_str_eq(buf, "40{\"channels\":[\"store-3\"]}");
    ck_assert_int_gt(sio_connect_packet(buf, sizeof buf, "store-3", "p\"1", "E:7", 9, "E"), 0);
    ck_assert_str_eq(buf, "40{\"channels\":[\"store-3\"],\"pid\":\"p\\\"1\",\"offset\":\"E:7\"}");
    ck_assert_int_gt(sio_connect_packet(buf, sizeof buf, "", "", "", 12, "ab"), 0);
    ck_assert_str_eq(buf, "40{\"since\":12,\"epoch\":\"ab\"}");
    ck_assert_int_eq(sio_connect_packet(buf, 10, "store-3", "", "", -1, ""), -1);

    ck_assert_int_gt(sio_path(buf, sizeof buf, "/socket.io/", "polling", "a+b/c", 0xff), 0);
    ck_assert_str_eq(buf, "/socket.io/?EIO=4&transport=polling&sid=a%2Bb%2Fc&t=ff");
    ck_assert_int_gt(sio_path(buf, sizeof buf, "/io/?x=1", "websocket", "", 1), 0);
    ck_assert_str_eq(buf, "/io/?x=1&EIO=4&transport=websocket&t=1");
}
END_TEST

START_TEST(sio_events)
{
    struct lg_frame_fields f;
    const char *ev = "2[\"new_product\",{\"name\":\"a]\",\"req_id\":\"r-1\",\"pod\":\"app-3\"},"
                     "\"E1:42\"]";
    ck_assert_int_eq(lg_scan_sio_event(ev, strlen(ev), "req_id", &f), 0);
    ck_assert(span_is(f.event, f.event_len, "new_product"));
    ck_assert(span_is(f.req_id, f.req_id_len, "r-1"));
    ck_assert(span_is(f.pod, f.pod_len, "app-3"));
    ck_assert(span_is(f.epoch, f.epoch_len, "E1"));
    ck_assert_int_eq(f.offset, 42);
    ck_assert(span_is(f.sio_offset, f.sio_offset_len, "E1:42"));
    /* An app's own server: two arguments, no offset; a dotted id path; an ack id. */
    const char *own = "217[\"created\",{\"product\":{\"ref\":\"x9\"}}]";
    ck_assert_int_eq(lg_scan_sio_event(own, strlen(own), "product.ref", &f), 0);
    ck_assert(span_is(f.req_id, f.req_id_len, "x9"));
    ck_assert_int_eq(f.offset, -1);
    ck_assert_ptr_null(f.sio_offset);
    /* The relay's older meta object; socket.io's own opaque offsets. */
    const char *meta = "2[\"e\",{\"req_id\":7},{\"offset\":5,\"epoch\":\"P\"}]";
    ck_assert_int_eq(lg_scan_sio_event(meta, strlen(meta), "req_id", &f), 0);
    ck_assert(span_is(f.req_id, f.req_id_len, "7"));
    ck_assert_int_eq(f.offset, 5);
    ck_assert(span_is(f.epoch, f.epoch_len, "P"));
    const char *opaque = "2[\"e\",{},\"MjAyNA\"]";
    ck_assert_int_eq(lg_scan_sio_event(opaque, strlen(opaque), "req_id", &f), 0);
    ck_assert(span_is(f.sio_offset, f.sio_offset_len, "MjAyNA"));
    ck_assert_int_eq(f.offset, -1);
    /* Control events carry offset/epoch in data. */
    const char *rec = "2[\"_recovery\",{\"recovered\":true,\"offset\":9,\"epoch\":\"Q\"}]";
    ck_assert_int_eq(lg_scan_sio_event(rec, strlen(rec), "req_id", &f), 0);
    ck_assert_int_eq(f.recovered, 1);
    ck_assert_int_eq(f.offset, 9);
    /* Other namespaces are not ours; broken packets are errors. */
    const char *nsp = "2/admin,[\"e\",{}]";
    ck_assert_int_eq(lg_scan_sio_event(nsp, strlen(nsp), "req_id", &f), 1);
    const char *root = "2/,[\"e\",{\"req_id\":\"z\"}]";
    ck_assert_int_eq(lg_scan_sio_event(root, strlen(root), "req_id", &f), 0);
    const char *bad[] = {"2", "2[", "2[]", "2[1,2]", "2{\"a\":1}", "3[\"e\"]", "2/x", NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(lg_scan_sio_event(bad[i], strlen(bad[i]), "req_id", &f) == -1, "accepted %s",
                      bad[i]);
}
END_TEST

START_TEST(plain_frames_with_paths)
{
    struct lg_frame_fields f;
    const char *fr = "{\"event\":\"new_product\",\"data\":{\"item\":{\"ids\":[\"a\",\"r-5\"]}},"
                     "\"offset\":3,\"epoch\":\"E\",\"channel\":\"store-2\"}";
    ck_assert_int_eq(lg_scan_frame(fr, strlen(fr), "item.ids.1", &f), 0);
    ck_assert(span_is(f.req_id, f.req_id_len, "r-5"));
    ck_assert(span_is(f.channel, f.channel_len, "store-2"));
    ck_assert_int_eq(lg_scan_frame(fr, strlen(fr), "item.nope", &f), 0);
    ck_assert_ptr_null(f.req_id);

    struct js_val v = {JS_OBJECT, "{\"a\":{\"b\":[10,{\"c\":true}]}}", 27}, out;
    ck_assert_int_eq(js_path(&v, "a.b.1.c", &out), 1);
    ck_assert_int_eq(out.type, JS_TRUE);
    ck_assert_int_eq(js_path(&v, "a.b.2", &out), 0);
    ck_assert_int_eq(js_path(&v, "a.x", &out), 0);
    struct js_arr a;
    ck_assert_int_eq(js_arr_open(&a, " [ 1 , \"x\" ,[2] ] ", 19), 0);
    int n = 0;
    while (js_arr_next(&a, &out) == 1)
        n++;
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(js_arr_open(&a, "[1,]", 4), 0);
    ck_assert_int_eq(js_arr_next(&a, &out), 1);
    ck_assert_int_eq(js_arr_next(&a, &out), -1);
}
END_TEST

/* Feeds a response in pieces of k bytes. */
static enum h1_result feed_split(struct h1_resp *r, const char *s, size_t k)
{
    size_t len = strlen(s), used;
    enum h1_result res = H1_MORE;
    for (size_t off = 0; off < len && res == H1_MORE; off += k) {
        size_t n = len - off < k ? len - off : k;
        res = h1_feed(r, s + off, n, &used);
    }
    return res;
}

START_TEST(http_responses)
{
    struct h1_resp r;
    ck_assert_int_eq(h1_init(&r, 1024), 0);
    const char *cl = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: io=abc; Path=/\r\n"
                     "set-cookie: INGRESSCOOKIE=77|x; Path=/; HttpOnly\r\nContent-Length: 5\r\n\r\n"
                     "hello";
    for (size_t k = 1; k <= strlen(cl); k += 7) {
        h1_reset(&r);
        ck_assert_int_eq(feed_split(&r, cl, k), H1_DONE);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello");
        ck_assert_int_eq(r.keep_alive, 1);
    }
    const char *v;
    size_t vl;
    ck_assert_int_eq(h1_header(&r, "set-cookie", 0, &v, &vl), 1);
    ck_assert(span_is(v, vl, "io=abc; Path=/"));
    ck_assert_int_eq(h1_header(&r, "Set-Cookie", 1, &v, &vl), 1);
    ck_assert(span_is(v, vl, "INGRESSCOOKIE=77|x; Path=/; HttpOnly"));
    ck_assert_int_eq(h1_header(&r, "Set-Cookie", 2, &v, &vl), 0);

    const char *ch =
        "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n5\r\n{\"cod\r\n18;x=y\r\ne\":1,\"message\":\"no sid\"}\r\n"
        "0\r\nTrailer: 1\r\n\r\n";
    for (size_t k = 1; k <= 9; k++) {
        h1_reset(&r);
        ck_assert_int_eq(feed_split(&r, ch, k), H1_DONE);
        ck_assert_int_eq(r.status, 400);
        ck_assert_str_eq(r.body, "{\"code\":1,\"message\":\"no sid\"}");
        ck_assert_int_eq(r.keep_alive, 0);
    }
    /* No length: the body ends with the connection. HTTP/1.0 is not kept alive. */
    h1_reset(&r);
    ck_assert_int_eq(feed_split(&r, "HTTP/1.0 200 OK\r\n\r\nabc", 4), H1_MORE);
    ck_assert_int_eq(h1_eof(&r), H1_DONE);
    ck_assert_str_eq(r.body, "abc");
    ck_assert_int_eq(r.keep_alive, 0);
    /* A second response's bytes are not swallowed. */
    h1_reset(&r);
    const char *two = "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n";
    size_t used;
    ck_assert_int_eq(h1_feed(&r, two, strlen(two), &used), H1_DONE);
    ck_assert_int_eq(used, strlen("HTTP/1.1 204 No Content\r\n\r\n"));
    /* Errors: garbage, body over the limit (declared or chunked), truncated. */
    const char *bad[] = {"SSH-2.0-OpenSSH\r\n\r\n",
                         "HTTP/1.1 2x0 OK\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffff\r\n",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                         "HTTP/1.1 100 Continue\r\n\r\n",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        h1_reset(&r);
        ck_assert_msg(feed_split(&r, bad[i], 3) == H1_ERROR, "accepted %s", bad[i]);
        ck_assert(r.err[0] != '\0');
    }
    h1_reset(&r);
    ck_assert_int_eq(feed_split(&r, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 5), H1_MORE);
    ck_assert_int_eq(h1_eof(&r), H1_ERROR);
    h1_reset(&r);
    ck_assert_int_eq(h1_eof(&r), H1_ERROR);
    /* A header block that never ends is cut at the limit. */
    h1_reset(&r);
    char *big = malloc(H1_HEAD_MAX + 64);
    strcpy(big, "HTTP/1.1 200 OK\r\n");
    while (strlen(big) < H1_HEAD_MAX)
        strcat(big, "X-Pad: 0123456789\r\n");
    ck_assert_int_eq(feed_split(&r, big, 1000), H1_ERROR);
    free(big);
    h1_cleanup(&r);
}
END_TEST

START_TEST(cookie_jar)
{
    struct ck_jar j;
    char buf[512];
    long long now = 1700000000;
    ck_jar_init(&j);
    ck_assert_int_eq(ck_jar_header(&j, "/socket.io/", now, buf, sizeof buf), 0);
    const char *aff = "INGRESSCOOKIE=1700.1.2|abc; Path=/; HttpOnly";
    ck_assert_int_eq(ck_jar_set(&j, aff, strlen(aff), "/socket.io/?EIO=4", now), 1);
    const char *io = "io=sid1; Path=/socket.io; SameSite=Lax";
    ck_assert_int_eq(ck_jar_set(&j, io, strlen(io), "/socket.io/?EIO=4", now), 1);
    /* Longer path first; only matching paths. */
    ck_assert_int_gt(ck_jar_header(&j, "/socket.io/?EIO=4&t=1", now, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "io=sid1; INGRESSCOOKIE=1700.1.2|abc");
    ck_assert_int_gt(ck_jar_header(&j, "/products", now, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "INGRESSCOOKIE=1700.1.2|abc");
    ck_assert_int_gt(ck_jar_header(&j, "/socket.iox", now, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "INGRESSCOOKIE=1700.1.2|abc");
    /* Replaced by name and path; removed by Max-Age=0 and by a past Expires. */
    const char *io2 = "io=sid2; Path=/socket.io";
    ck_assert_int_eq(ck_jar_set(&j, io2, strlen(io2), "/", now), 1);
    ck_assert_int_gt(ck_jar_header(&j, "/socket.io/", now, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "io=sid2; INGRESSCOOKIE=1700.1.2|abc");
    const char *del = "io=; Path=/socket.io; Max-Age=0";
    ck_assert_int_eq(ck_jar_set(&j, del, strlen(del), "/", now), 0);
    const char *old = "INGRESSCOOKIE=x; Path=/; Expires=Wed, 21 Oct 2015 07:28:00 GMT";
    ck_assert_int_eq(ck_jar_set(&j, old, strlen(old), "/", now), 0);
    ck_assert_int_eq(ck_jar_header(&j, "/socket.io/", now, buf, sizeof buf), 0);
    /* Expiry in time; the default path is the request's directory. */
    const char *short_lived = "s=1; Max-Age=10";
    ck_assert_int_eq(ck_jar_set(&j, short_lived, strlen(short_lived), "/socket.io/?x", now), 1);
    ck_assert_int_gt(ck_jar_header(&j, "/socket.io/", now + 5, buf, sizeof buf), 0);
    ck_assert_int_eq(ck_jar_header(&j, "/socket.io/", now + 11, buf, sizeof buf), 0);
    ck_assert_int_eq(ck_jar_header(&j, "/other", now + 5, buf, sizeof buf), 0);
    /* Malformed, oversized, and a full jar. */
    ck_assert_int_eq(ck_jar_set(&j, "novalue", 7, "/", now), -1);
    ck_assert_int_eq(ck_jar_set(&j, "=v", 2, "/", now), -1);
    ck_assert_int_eq(ck_jar_set(&j, "a b=v", 5, "/", now), -1);
    char *huge = malloc(CK_MAX_BYTES + 16);
    memset(huge, 'v', CK_MAX_BYTES + 15);
    huge[0] = 'k';
    huge[1] = '=';
    ck_assert_int_eq(ck_jar_set(&j, huge, CK_MAX_BYTES + 15, "/", now), -1);
    free(huge);
    for (int i = 0; i < CK_MAX_COOKIES + 5; i++) {
        char c[32];
        int n = snprintf(c, sizeof c, "c%d=%d; Path=/", i, i);
        ck_assert_int_eq(ck_jar_set(&j, c, (size_t)n, "/", now), i < CK_MAX_COOKIES - 1 ? 1 : -1);
    }
    ck_assert_int_eq(ck_jar_header(&j, "/", now, buf, 16), -1); /* does not fit */
    ck_jar_cleanup(&j);
}
END_TEST

START_TEST(body_templates)
{
    char err[200], out[512];
    struct lg_template_vars v = {.req_id = "lgX-12", .i = 11, .store = 3};
    ck_assert_int_eq(lg_template_check(lg_template_default, err, sizeof err), 0);
    ck_assert_int_gt(lg_template_render(lg_template_default, &v, out, sizeof out), 0);
    ck_assert_str_eq(out, "{\"name\":\"product-12\",\"price\":11.5,\"req_id\":\"lgX-12\"}");
    ck_assert_int_gt(lg_template_render(lg_template_default_store, &v, out, sizeof out), 0);
    ck_assert_str_eq(out, "{\"name\":\"product-12\",\"price\":11.5,\"req_id\":\"lgX-12\","
                          "\"store\":\"3\"}");
    const char *mine = "{\"sku\":\"{{req_id}}\",\"seq\":{{i}},\"shop\":{{store}}} {not a {{";
    ck_assert_int_eq(lg_template_check(mine, err, sizeof err), -1); /* "{{" without a name */
    const char *mine2 = "{\"sku\":\"{{req_id}}\",\"seq\":{{i}},\"shop\":{{store}}}";
    ck_assert_int_eq(lg_template_check(mine2, err, sizeof err), 0);
    ck_assert_int_eq(lg_template_render(mine2, &v, out, sizeof out), 34);
    ck_assert_str_eq(out, "{\"sku\":\"lgX-12\",\"seq\":11,\"shop\":3}");
    ck_assert_int_le(strlen(out) + 1, lg_template_cap(mine2));
    ck_assert_int_eq(lg_template_render(mine2, &v, out, 10), -1);
    ck_assert_int_eq(lg_template_check("{\"name\":\"x\"}", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "{{req_id}}"));
    ck_assert_int_eq(lg_template_check("{{req_id}}{{reqid}}", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "reqid"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loadgen_sio");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, open_packet);
    tcase_add_test(tc, connect_and_errors);
    tcase_add_test(tc, payload_and_packets);
    tcase_add_test(tc, sio_events);
    tcase_add_test(tc, plain_frames_with_paths);
    tcase_add_test(tc, http_responses);
    tcase_add_test(tc, cookie_jar);
    tcase_add_test(tc, body_templates);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
