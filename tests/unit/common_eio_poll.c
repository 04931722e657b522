/* Engine.IO long-polling: the request checks (reference order) and payload splitting. */
#include <check.h>
#include <string.h>

#include "eio_poll.h"

static enum eio_error check(const char *method, const char *transport, const char *eio,
                            const char *sid, int upgrade, enum eio_session_kind kind)
{
    struct eio_request r = {method, transport, eio, sid, upgrade, kind};
    return eio_check_request(&r);
}

START_TEST(checks_requests_in_the_reference_order)
{
    ck_assert_int_eq(check("GET", "polling", "4", NULL, 0, 0), EIO_ERR_NONE);
    ck_assert_int_eq(check("GET", "websocket", "4", NULL, 1, 0), EIO_ERR_NONE);
    /* transport first */
    ck_assert_int_eq(check("GET", NULL, "4", NULL, 0, 0), EIO_ERR_TRANSPORT);
    ck_assert_int_eq(check("GET", "abc", "4", NULL, 0, 0), EIO_ERR_TRANSPORT);
    ck_assert_int_eq(check("POST", "abc", "3", "x", 0, 0), EIO_ERR_TRANSPORT);
    /* then the session */
    ck_assert_int_eq(check("GET", "polling", "4", "x", 0, EIO_SID_UNKNOWN), EIO_ERR_SID);
    ck_assert_int_eq(check("POST", "polling", NULL, "x", 0, EIO_SID_POLLING), EIO_ERR_NONE);
    ck_assert_int_eq(check("GET", "websocket", "4", "x", 0, EIO_SID_POLLING),
                     EIO_ERR_BAD_REQUEST); /* websocket without an upgrade */
    ck_assert_int_eq(check("GET", "polling", "4", "x", 0, EIO_SID_OTHER), EIO_ERR_BAD_REQUEST);
    ck_assert_int_eq(check("GET", "websocket", "4", "x", 1, EIO_SID_POLLING), EIO_ERR_NONE);
    /* a handshake: GET only, websocket only by upgrade, EIO=4 only */
    ck_assert_int_eq(check("POST", "polling", "4", NULL, 0, 0), EIO_ERR_METHOD);
    ck_assert_int_eq(check("PUT", "polling", "4", NULL, 0, 0), EIO_ERR_METHOD);
    ck_assert_int_eq(check("GET", "websocket", "4", NULL, 0, 0), EIO_ERR_BAD_REQUEST);
    ck_assert_int_eq(check("GET", "polling", NULL, NULL, 0, 0), EIO_ERR_VERSION);
    ck_assert_int_eq(check("GET", "polling", "3", NULL, 0, 0), EIO_ERR_VERSION);
    ck_assert_int_eq(check("GET", "polling", "abc", NULL, 0, 0), EIO_ERR_VERSION);
    ck_assert_str_eq(eio_error_message(EIO_ERR_SID), "Session ID unknown");
    ck_assert_str_eq(eio_error_message(EIO_ERR_TRANSPORT), "Transport unknown");
    ck_assert_str_eq(eio_error_message(EIO_ERR_METHOD), "Bad handshake method");
    ck_assert_int_eq(eio_error_status(EIO_ERR_FORBIDDEN), 403);
    ck_assert_int_eq(eio_error_status(EIO_ERR_SID), 400);
}
END_TEST

START_TEST(splits_payloads)
{
    const char *b = "40\x1e"
                    "3\x1e"
                    "42[\"a\"]";
    size_t pos = 0, n;
    const char *p;
    ck_assert(eio_payload_next(b, strlen(b), &pos, &p, &n));
    ck_assert(n == 2 && strncmp(p, "40", 2) == 0);
    ck_assert(eio_payload_next(b, strlen(b), &pos, &p, &n));
    ck_assert(n == 1 && p[0] == '3');
    ck_assert(eio_payload_next(b, strlen(b), &pos, &p, &n));
    ck_assert(n == 7 && strncmp(p, "42[\"a\"]", 7) == 0);
    ck_assert(!eio_payload_next(b, strlen(b), &pos, &p, &n));
    /* a trailing separator yields an empty packet */
    pos = 0;
    ck_assert(eio_payload_next("3\x1e", 2, &pos, &p, &n) && n == 1);
    ck_assert(eio_payload_next("3\x1e", 2, &pos, &p, &n) && n == 0);
    ck_assert(!eio_payload_next("3\x1e", 2, &pos, &p, &n));
}
END_TEST

START_TEST(checks_payloads_whole)
{
    char err[128];
    ck_assert_int_eq(eio_payload_check("40\x1e"
                                       "3",
                                       4, 8, err, sizeof err),
                     0);
    ck_assert_int_eq(eio_payload_check("", 0, 8, err, sizeof err), -1);
    ck_assert_str_eq(err, "empty payload");
    ck_assert_int_eq(eio_payload_check("abc", 3, 8, err, sizeof err), -1);
    ck_assert(strstr(err, "packet 1") != NULL);
    ck_assert_int_eq(eio_payload_check("3\x1e\x1e"
                                       "3",
                                       4, 8, err, sizeof err),
                     -1);
    ck_assert(strstr(err, "packet 2 is empty") != NULL);
    ck_assert_int_eq(eio_payload_check("3\x1e", 2, 8, err, sizeof err), -1);
    /* Binary attachments as base64 packets pass (the session decides whether one is due). */
    ck_assert_int_eq(eio_payload_check("451-[\"x\",{\"_placeholder\":true,\"num\":0}]\x1e"
                                       "bAQIDBA==",
                                       49, 8, err, sizeof err),
                     0);
    ck_assert_int_eq(eio_payload_check("bAQID!A==", 9, 8, err, sizeof err), -1);
    ck_assert(strstr(err, "not base64") != NULL);
    ck_assert_int_eq(eio_payload_check("4517-[\"x\"]", 10, 8, err, sizeof err), -1);
    ck_assert(strstr(err, "17 binary attachments") != NULL);
    ck_assert_int_eq(eio_payload_check("42[\"\xff\"]", 7, 8, err, sizeof err), -1);
    ck_assert(strstr(err, "UTF-8") != NULL);
    ck_assert_int_eq(eio_payload_check("3\0", 2, 8, err, sizeof err), -1);
    ck_assert(strstr(err, "NUL") != NULL);
    ck_assert_int_eq(eio_payload_check("3\x1e"
                                       "3\x1e"
                                       "3",
                                       5, 2, err, sizeof err),
                     -1);
    ck_assert(strstr(err, "more than 2") != NULL);
    ck_assert_int_eq(eio_payload_check("42[\"x\",\"\xc3\xa9\"]", 12, 8, err, sizeof err), 0);
}
END_TEST

START_TEST(validates_utf8)
{
    ck_assert(eio_utf8_valid("abc", 3));
    ck_assert(eio_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    ck_assert(!eio_utf8_valid("\xc0\xaf", 2));         /* overlong */
    ck_assert(!eio_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    ck_assert(!eio_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!eio_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    ck_assert(!eio_utf8_valid("\xc3", 1));             /* truncated */
    ck_assert(!eio_utf8_valid("\x80", 1));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("eio_poll");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, checks_requests_in_the_reference_order);
    tcase_add_test(tc, splits_payloads);
    tcase_add_test(tc, checks_payloads_whole);
    tcase_add_test(tc, validates_utf8);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
