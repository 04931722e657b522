/* The Engine.IO v4 / Socket.IO v4 codec. */
#include <check.h>
#include <string.h>

#include "eio.h"

static enum eio_packet classify(const char *s, const char **p, size_t *n)
{
    return eio_classify(s, strlen(s), p, n);
}

START_TEST(classifies_client_packets)
{
    const char *p;
    size_t n;
    ck_assert_int_eq(classify("3", &p, &n), EIO_PONG);
    ck_assert_int_eq(classify("2", &p, &n), EIO_PING);
    ck_assert_int_eq(classify("2probe", &p, &n), EIO_PING);
    ck_assert_int_eq(classify("1", &p, &n), EIO_CLOSE);
    ck_assert_int_eq(classify("6", &p, &n), EIO_NOOP);
    ck_assert_int_eq(classify("40", &p, &n), EIO_SIO_CONNECT);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(classify("40{\"since\":3}", &p, &n), EIO_SIO_CONNECT);
    ck_assert_uint_eq(n, 11);
    ck_assert(strncmp(p, "{\"since\":3}", n) == 0);
    ck_assert_int_eq(classify("40/,{\"a\":1}", &p, &n), EIO_SIO_CONNECT);
    ck_assert(strncmp(p, "{\"a\":1}", n) == 0);
    ck_assert_int_eq(classify("40/admin,", &p, &n), EIO_SIO_CONNECT_NSP);
    ck_assert_int_eq(classify("41", &p, &n), EIO_SIO_DISCONNECT);
    ck_assert_int_eq(classify("42[\"x\",1]", &p, &n), EIO_SIO_EVENT);
    ck_assert_int_eq(classify("", &p, &n), EIO_INVALID);
    ck_assert_int_eq(classify("4", &p, &n), EIO_INVALID);
    ck_assert_int_eq(classify("49", &p, &n), EIO_INVALID);
    ck_assert_int_eq(classify("hello", &p, &n), EIO_INVALID);
    ck_assert_int_eq(classify("11", &p, &n), EIO_INVALID);
}
END_TEST

START_TEST(encodes_server_packets)
{
    struct frame *f = eio_event("new_product", "{\"a\":1}", 7, 42, "ep");
    ck_assert_str_eq(frame_payload(f), "42[\"new_product\",{\"a\":1},{\"offset\":42,\"epoch\":\"ep\"}]");
    /* Sealed: a websocket text frame header sits right before the payload. */
    ck_assert_uint_eq(f->hdr, 2);
    ck_assert_uint_eq(frame_wire(f)[0], 0x81);
    ck_assert_uint_eq(frame_wire(f)[1], f->len);
    frame_unref(f);
    f = eio_event("_connected", "{}", 2, 0, "");
    ck_assert_str_eq(frame_payload(f), "42[\"_connected\",{}]");
    frame_unref(f);
    f = eio_open("abc", 25000, 20000, 4096);
    ck_assert_str_eq(frame_payload(f), "0{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":25000,"
                                       "\"pingTimeout\":20000,\"maxPayload\":4096}");
    frame_unref(f);
    f = eio_joined("abc");
    ck_assert_str_eq(frame_payload(f), "40{\"sid\":\"abc\"}");
    frame_unref(f);
    const char *nsp = "/admin,{\"token\":1}";
    f = eio_namespace_refused(nsp, strlen(nsp), "Invalid namespace");
    ck_assert_str_eq(frame_payload(f), "44/admin,{\"message\":\"Invalid namespace\"}");
    frame_unref(f);
    ck_assert_ptr_null(eio_namespace_refused("/a\"b", 4, "x")); /* never echoes a quote */
}
END_TEST

START_TEST(long_frames_get_long_headers)
{
    char big[70000];
    memset(big, '1', sizeof big);
    struct frame *f = eio_event("e", big, 200, 1, "x");
    ck_assert_uint_eq(f->hdr, 4);
    ck_assert_uint_eq(frame_wire(f)[1], 126);
    ck_assert_uint_eq((frame_wire(f)[2] << 8) | frame_wire(f)[3], f->len);
    frame_unref(f);
    f = eio_event("e", big, sizeof big, 1, "x");
    ck_assert_uint_eq(f->hdr, 10);
    ck_assert_uint_eq(frame_wire(f)[1], 127);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n = (n << 8) | frame_wire(f)[2 + i];
    ck_assert_uint_eq(n, f->len);
    frame_unref(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("eio");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, classifies_client_packets);
    tcase_add_test(tc, encodes_server_packets);
    tcase_add_test(tc, long_frames_get_long_headers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
