/* The Engine.IO v4 / Socket.IO v5 codec. */
#include <check.h>
#include <string.h>

#include "eio.h"

static enum eio_packet classify(const char *s, struct eio_sio *p)
{
    return eio_classify(s, strlen(s), p);
}

START_TEST(classifies_engine_packets)
{
    ck_assert_int_eq(classify("3", NULL), EIO_PONG);
    ck_assert_int_eq(classify("2", NULL), EIO_PING);
    ck_assert_int_eq(classify("2probe", NULL), EIO_PING_PROBE);
    ck_assert_int_eq(classify("2other", NULL), EIO_INVALID);
    ck_assert_int_eq(classify("1", NULL), EIO_CLOSE);
    ck_assert_int_eq(classify("5", NULL), EIO_UPGRADE);
    ck_assert_int_eq(classify("6", NULL), EIO_NOOP);
    ck_assert_int_eq(classify("0", NULL), EIO_INVALID); /* open is server-only */
    ck_assert_int_eq(classify("", NULL), EIO_INVALID);
    ck_assert_int_eq(classify("11", NULL), EIO_INVALID);
    ck_assert_int_eq(classify("hello", NULL), EIO_INVALID);
    ck_assert_int_eq(classify("bAQID", NULL), EIO_BINARY);
    ck_assert_int_eq(classify("bAQIDB", NULL), EIO_INVALID); /* not padded base64 */
    ck_assert_int_eq(classify("bAQIDBA==", NULL), EIO_BINARY);
    ck_assert_int_eq(classify("bAQIDBA=A", NULL), EIO_INVALID);
    ck_assert_int_eq(classify("bAQ=DBA=", NULL), EIO_INVALID);
    ck_assert_int_eq(classify("bAQI\"BA==", NULL), EIO_INVALID);
    ck_assert_int_eq(classify("b", NULL), EIO_BINARY); /* an empty attachment */
}
END_TEST

START_TEST(classifies_socketio_packets_like_the_reference_parser)
{
    struct eio_sio p;
    ck_assert_int_eq(classify("40", &p), EIO_SIO_CONNECT);
    ck_assert_uint_eq(p.plen, 0);
    ck_assert_int_eq(classify("40{\"since\":3}", &p), EIO_SIO_CONNECT);
    ck_assert_uint_eq(p.plen, 11);
    ck_assert(strncmp(p.payload, "{\"since\":3}", p.plen) == 0);
    ck_assert_int_eq(classify("40/,{\"a\":1}", &p), EIO_SIO_CONNECT);
    ck_assert(strncmp(p.payload, "{\"a\":1}", p.plen) == 0);
    ck_assert_int_eq(classify("40/admin,", &p), EIO_SIO_CONNECT_NSP);
    ck_assert_uint_eq(p.nsp_len, 6);
    ck_assert(strncmp(p.nsp, "/admin", 6) == 0);
    ck_assert_int_eq(classify("40/random", &p), EIO_SIO_CONNECT_NSP);
    ck_assert_int_eq(classify("40[1]", &p), EIO_INVALID); /* auth must be an object */
    ck_assert_int_eq(classify("40\"x\"", &p), EIO_INVALID);
    ck_assert_int_eq(classify("40{bad", &p), EIO_INVALID);
    ck_assert_int_eq(classify("41", &p), EIO_SIO_DISCONNECT);
    ck_assert_int_eq(classify("41{}", &p), EIO_INVALID); /* DISCONNECT carries nothing */
    ck_assert_int_eq(classify("42[\"x\",1]", &p), EIO_SIO_EVENT);
    ck_assert_int_eq(p.ack_id, -1);
    ck_assert_int_eq(classify("4212[\"x\"]", &p), EIO_SIO_EVENT);
    ck_assert_int_eq(p.ack_id, 12);
    ck_assert_int_eq(classify("42[7,1]", &p), EIO_SIO_EVENT); /* numeric event names pass */
    ck_assert_int_eq(classify("42{}", &p), EIO_INVALID);      /* not an array */
    ck_assert_int_eq(classify("42[]", &p), EIO_INVALID);      /* no event name */
    ck_assert_int_eq(classify("42", &p), EIO_INVALID);
    ck_assert_int_eq(classify("42abc[\"x\"]", &p), EIO_INVALID);    /* bad ack id */
    ck_assert_int_eq(classify("42[\"connect\"]", &p), EIO_INVALID); /* reserved */
    ck_assert_int_eq(classify("42[\"disconnecting\",1]", &p), EIO_INVALID);
    ck_assert_int_eq(classify("42/admin,[\"x\"]", &p), EIO_INVALID); /* namespace never joined */
    ck_assert_int_eq(classify("43[1]", &p), EIO_INVALID);            /* ACK needs an id */
    ck_assert_int_eq(classify("437[1]", &p), EIO_SIO_ACK);
    ck_assert_int_eq(classify("44{\"message\":\"x\"}", &p), EIO_INVALID); /* server-only */
    ck_assert_int_eq(classify("451-[\"x\",{\"_placeholder\":true,\"num\":0}]", &p),
                     EIO_SIO_BINARY_EVENT);
    ck_assert_int_eq(p.attachments, 1);
    ck_assert_int_eq(p.ack_id, -1);
    ck_assert_int_eq(classify("452-789[\"x\",1,2]", &p), EIO_SIO_BINARY_EVENT);
    ck_assert_int_eq(p.attachments, 2);
    ck_assert_int_eq(p.ack_id, 789);
    ck_assert_int_eq(classify("4617-3[{}]", &p),
                     EIO_SIO_BINARY_ACK); /* the limit is the caller's */
    ck_assert_int_eq(p.attachments, 17);
    ck_assert_int_eq(classify("461-[{}]", &p), EIO_INVALID);        /* BINARY_ACK needs an id */
    ck_assert_int_eq(classify("45-[\"x\"]", &p), EIO_INVALID);      /* no count */
    ck_assert_int_eq(classify("451[\"x\"]", &p), EIO_INVALID);      /* no '-' */
    ck_assert_int_eq(classify("4512345-[\"x\"]", &p), EIO_INVALID); /* count too long */
    ck_assert_int_eq(classify("451-{}", &p), EIO_INVALID);
    ck_assert_int_eq(classify("451-[\"connect\"]", &p), EIO_INVALID); /* reserved */
    ck_assert_int_eq(classify("451-/admin,[\"x\"]", &p), EIO_INVALID);
    ck_assert_int_eq(classify("4abc", &p), EIO_INVALID);
    ck_assert_int_eq(classify("49", &p), EIO_INVALID);
    ck_assert_int_eq(classify("4", &p), EIO_INVALID);
    ck_assert_int_eq(classify("421234567890123456[\"x\"]", &p), EIO_INVALID); /* id too long */
}
END_TEST

START_TEST(parses_offsets_and_pids)
{
    char e[33];
    uint64_t n = 0;
    ck_assert_int_eq(eio_offset_parse("abc123:42", 9, e, sizeof e, &n), 0);
    ck_assert_str_eq(e, "abc123");
    ck_assert_uint_eq(n, 42);
    ck_assert_int_eq(eio_offset_parse("e:0", 3, e, sizeof e, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(eio_offset_parse("e:18446744073709551615", 22, e, sizeof e, &n), 0);
    ck_assert_int_eq(eio_offset_parse("e:18446744073709551616", 22, e, sizeof e, &n), -1);
    ck_assert_int_eq(eio_offset_parse(":1", 2, e, sizeof e, &n), -1);
    ck_assert_int_eq(eio_offset_parse("e:", 2, e, sizeof e, &n), -1);
    ck_assert_int_eq(eio_offset_parse("e:1x", 4, e, sizeof e, &n), -1);
    ck_assert_int_eq(eio_offset_parse("e 1", 3, e, sizeof e, &n), -1);
    ck_assert_int_eq(eio_offset_parse("bad epoch:1", 11, e, sizeof e, &n), -1);
    const char *long_epoch = "0123456789012345678901234567890123:1";
    ck_assert_int_eq(eio_offset_parse(long_epoch, strlen(long_epoch), e, sizeof e, &n), -1);
    ck_assert(eio_pid_valid("AbC-_09"));
    ck_assert(!eio_pid_valid(""));
    ck_assert(!eio_pid_valid("a\"b"));
    ck_assert(!eio_pid_valid("a b"));
}
END_TEST

START_TEST(encodes_server_packets)
{
    struct frame *f = eio_event("new_product", "{\"a\":1}", 7, 42, "ep");
    ck_assert_str_eq(frame_payload(f), "42[\"new_product\",{\"a\":1},\"ep:42\"]");
    ck_assert_uint_eq(f->offset, 42);
    /* Sealed: a websocket text frame header sits right before the payload. */
    ck_assert_uint_eq(f->hdr, 2);
    ck_assert_uint_eq(frame_wire(f)[0], 0x81);
    ck_assert_uint_eq(frame_wire(f)[1], f->len);
    frame_unref(f);
    f = eio_event("_connected", "{}", 2, 0, NULL);
    ck_assert_str_eq(frame_payload(f), "42[\"_connected\",{}]");
    frame_unref(f);
    f = eio_event("_connected", "{}", 2, 0, "ep");
    ck_assert_str_eq(frame_payload(f), "42[\"_connected\",{},\"ep:0\"]");
    frame_unref(f);
    f = eio_open("abc", 0, 25000, 20000, 4096);
    ck_assert_str_eq(frame_payload(f), "0{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":25000,"
                                       "\"pingTimeout\":20000,\"maxPayload\":4096}");
    frame_unref(f);
    f = eio_open("abc", 1, 25000, 20000, 4096);
    ck_assert(strstr(frame_payload(f), "\"upgrades\":[\"websocket\"]") != NULL);
    frame_unref(f);
    f = eio_joined("abc", "pid1");
    ck_assert_str_eq(frame_payload(f), "40{\"sid\":\"abc\",\"pid\":\"pid1\"}");
    frame_unref(f);
    f = eio_joined("abc", NULL);
    ck_assert_str_eq(frame_payload(f), "40{\"sid\":\"abc\"}");
    frame_unref(f);
    f = eio_ack(17, "[null,\"ok\"]", 11);
    ck_assert_str_eq(frame_payload(f), "4317[null,\"ok\"]");
    frame_unref(f);
    f = eio_probe_answer();
    ck_assert_str_eq(frame_payload(f), "3probe");
    frame_unref(f);
    const char *nsp = "/admin,{\"token\":1}";
    f = eio_namespace_refused(nsp, strlen(nsp), "Invalid namespace");
    ck_assert_str_eq(frame_payload(f), "44/admin,{\"message\":\"Invalid namespace\"}");
    frame_unref(f);
    ck_assert_ptr_null(eio_namespace_refused("/a\"b", 4, "x")); /* never echoes a quote */
}
END_TEST

START_TEST(records_rooms_in_offsets)
{
    struct frame *ev = eio_event("new_product", "{\"n\":1}", 7, 42, "ep1");
    ck_assert_ptr_nonnull(ev);
    struct frame *r = eio_event_rooms(ev, "store-7,a.b");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->offset, 42);
    ck_assert_str_eq(frame_payload(r), "42[\"new_product\",{\"n\":1},\"ep1:42~store-7,a.b\"]");
    struct frame *none = eio_event_rooms(ev, "");
    ck_assert_str_eq(frame_payload(none), "42[\"new_product\",{\"n\":1},\"ep1:42~\"]");
    struct frame *plain = eio_event("_x", "{}", 2, 0, NULL); /* no offset argument */
    ck_assert_ptr_null(eio_event_rooms(plain, "a"));
    frame_unref(ev);
    frame_unref(r);
    frame_unref(none);
    frame_unref(plain);

    size_t head, rl;
    const char *rooms;
    const char *s = "ep1:42~store-7,a.b";
    ck_assert_int_eq(eio_offset_rooms(s, strlen(s), &head, &rooms, &rl), 0);
    ck_assert_uint_eq(head, 6);
    ck_assert_uint_eq(rl, 11);
    ck_assert_int_eq(memcmp(rooms, "store-7,a.b", rl), 0);
    s = "ep1:42";
    ck_assert_int_eq(eio_offset_rooms(s, strlen(s), &head, &rooms, &rl), 0);
    ck_assert_uint_eq(head, 6);
    ck_assert_ptr_null(rooms);
    s = "ep1:42~";
    ck_assert_int_eq(eio_offset_rooms(s, strlen(s), &head, &rooms, &rl), 0);
    ck_assert_uint_eq(rl, 0);
    s = "ep1:42~a b"; /* a space is in no channel name */
    ck_assert_int_eq(eio_offset_rooms(s, strlen(s), &head, &rooms, &rl), -1);
    s = "ep1:42~a~b";
    ck_assert_int_eq(eio_offset_rooms(s, strlen(s), &head, &rooms, &rl), -1);
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
    tcase_add_test(tc, classifies_engine_packets);
    tcase_add_test(tc, classifies_socketio_packets_like_the_reference_parser);
    tcase_add_test(tc, parses_offsets_and_pids);
    tcase_add_test(tc, encodes_server_packets);
    tcase_add_test(tc, long_frames_get_long_headers);
    tcase_add_test(tc, records_rooms_in_offsets);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
