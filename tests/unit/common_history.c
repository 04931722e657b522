/* The history ring: wrap-around, a start anywhere, gaps, epochs, replay plans; and the
 * envelope encoding with channels. */
#include <check.h>
#include <string.h>

#include "envelope.h"
#include "history.h"

static struct frame *ev(struct history *h, int seq)
{
    char data[32];
    int n = snprintf(data, sizeof data, "{\"seq\":%d}", seq);
    return envelope_encode("new_product", NULL, data, (size_t)n, history_next_offset(h),
                           history_epoch(h));
}

START_TEST(wraps_around_and_keeps_newest)
{
    struct history *h = history_new(4, "e1", 1);
    ck_assert_uint_eq(history_last(h), 0);
    ck_assert_uint_eq(history_first(h), 1);
    for (int i = 1; i <= 10; i++)
        history_append(h, ev(h, i));
    ck_assert_uint_eq(history_last(h), 10);
    ck_assert_uint_eq(history_first(h), 7);
    ck_assert_ptr_null(history_get(h, 6));
    ck_assert_ptr_null(history_get(h, 11));
    for (uint64_t o = 7; o <= 10; o++) {
        struct frame *f = history_get(h, o);
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(f->offset, o);
        char want[32];
        snprintf(want, sizeof want, "{\"seq\":%d}", (int)o);
        ck_assert_ptr_nonnull(strstr(frame_payload(f), want));
        frame_unref(f);
    }
    history_free(h);
}
END_TEST

static struct frame *at(uint64_t off)
{
    char data[32];
    int n = snprintf(data, sizeof data, "{\"off\":%d}", (int)off);
    return envelope_encode("new_product", NULL, data, (size_t)n, off, "E1");
}

START_TEST(plans_cover_truncation_and_epochs)
{
    struct history *h = history_new(5, "e1", 1);
    uint64_t from;
    /* Empty: a client that saw nothing (since=0) is recovered from 1. */
    ck_assert_int_eq(history_plan(h, "e1", 0, &from), HISTORY_RECOVERED);
    ck_assert_uint_eq(from, 1);
    for (int i = 1; i <= 8; i++)
        history_append(h, ev(h, i)); /* holds 4..8 */
    ck_assert_int_eq(history_plan(h, "e1", 8, &from), HISTORY_RECOVERED);
    ck_assert_uint_eq(from, 9);
    ck_assert_int_eq(history_plan(h, "e1", 3, &from), HISTORY_RECOVERED);
    ck_assert_uint_eq(from, 4);
    ck_assert_int_eq(history_plan(h, "e1", 2, &from), HISTORY_TRUNCATED); /* 3 is gone */
    ck_assert_uint_eq(from, 9);
    ck_assert_int_eq(history_plan(h, "e1", 9, &from), HISTORY_AHEAD);
    ck_assert_int_eq(history_plan(h, "e0", 8, &from), HISTORY_EPOCH_CHANGED);
    history_reset(h, "e2", 1);
    ck_assert_uint_eq(history_last(h), 0);
    ck_assert_int_eq(history_plan(h, "e1", 8, &from), HISTORY_EPOCH_CHANGED);
    ck_assert_str_eq(history_plan_name(HISTORY_TRUNCATED), "history_truncated");
    history_free(h);
}
END_TEST

START_TEST(starts_anywhere_and_keeps_gaps)
{
    /* A relay over MongoDB joins a stream at offset 1000. */
    struct history *h = history_new(4, "E1", 1000);
    uint64_t from;
    ck_assert_uint_eq(history_last(h), 999);
    ck_assert_uint_eq(history_first(h), 1000);
    ck_assert_int_eq(history_plan(h, "E1", 999, &from), HISTORY_RECOVERED);
    ck_assert_int_eq(history_plan(h, "E1", 500, &from), HISTORY_TRUNCATED);
    ck_assert_int_eq(history_append_at(h, at(1000)), 0);
    ck_assert_int_eq(history_append_at(h, at(1002)), 0);  /* 1001 never stored: a gap */
    ck_assert_int_eq(history_append_at(h, at(1002)), -1); /* a repeat is refused */
    ck_assert_int_eq(history_append_at(h, at(1001)), -1); /* the gap is never filled later */
    ck_assert_uint_eq(history_last(h), 1002);
    ck_assert_ptr_null(history_get(h, 1001));
    struct frame *f = history_get(h, 1002);
    ck_assert_ptr_nonnull(f);
    frame_unref(f);
    /* A jump far ahead drops everything older than the capacity allows. */
    ck_assert_int_eq(history_append_at(h, at(2000)), 0);
    ck_assert_uint_eq(history_first(h), 1997);
    ck_assert_ptr_null(history_get(h, 1002));
    ck_assert_int_eq(history_plan(h, "E1", 1996, &from), HISTORY_RECOVERED);
    ck_assert_uint_eq(from, 1997);
    ck_assert_int_eq(history_plan(h, "E1", 1995, &from), HISTORY_TRUNCATED);
    history_append(h, at(0)); /* sequenced here: continues after 2000 */
    ck_assert_uint_eq(history_last(h), 2001);
    f = history_get(h, 2001);
    ck_assert_uint_eq(f->offset, 2001);
    frame_unref(f);
    history_free(h);
}
END_TEST

START_TEST(envelope_round_trip)
{
    const char *data = "{\"_id\":\"abc\",\"name\":\"caf\\u00e9\",\"price\":9.5}";
    struct frame *f = envelope_encode("new_product", NULL, data, strlen(data), 42, "ep0ch");
    ck_assert_str_eq(frame_payload(f),
                     "{\"event\":\"new_product\",\"data\":{\"_id\":\"abc\",\"name\":"
                     "\"caf\\u00e9\",\"price\":9.5},\"offset\":42,\"epoch\":\"ep0ch\"}");
    struct envelope e;
    char err[128];
    ck_assert_int_eq(envelope_decode(frame_payload(f), f->len, &e, err, sizeof err), 0);
    ck_assert_str_eq(e.event, "new_product");
    ck_assert_uint_eq(e.offset, 42);
    ck_assert_str_eq(e.epoch, "ep0ch");
    ck_assert_str_eq(json_string_value(json_object_get(e.data, "name")), "caf\xc3\xa9");
    uint64_t off;
    ck_assert_int_eq(envelope_scan_u64(frame_payload(f), f->len, "offset", &off), 0);
    ck_assert_uint_eq(off, 42);
    ck_assert_str_eq(e.channel, "");
    ck_assert_ptr_null(f->channel);
    envelope_cleanup(&e);
    frame_unref(f);
    f = envelope_encode("new_product", "store-7", "{}", 2, 43, "ep0ch");
    ck_assert_str_eq(frame_payload(f), "{\"event\":\"new_product\",\"data\":{},\"offset\":43,"
                                       "\"epoch\":\"ep0ch\",\"channel\":\"store-7\"}");
    ck_assert_str_eq(f->channel, "store-7");
    ck_assert_uint_eq(f->chash, frame_channel_hash("store-7", 7));
    ck_assert_int_eq(envelope_decode(frame_payload(f), f->len, &e, err, sizeof err), 0);
    ck_assert_str_eq(e.channel, "store-7");
    ck_assert_int_eq(envelope_scan_u64(frame_payload(f), f->len, "offset", &off), 0);
    ck_assert_uint_eq(off, 43);
    envelope_cleanup(&e);
    frame_unref(f);
    ck_assert(envelope_channel_valid("store-7", 7));
    ck_assert(envelope_channel_valid("user:42.orders_x", 16));
    ck_assert(!envelope_channel_valid("", 0));
    ck_assert(!envelope_channel_valid("a b", 3));
    ck_assert(!envelope_channel_valid("a,b", 3));
    ck_assert(!envelope_channel_valid("caf\xc3\xa9", 5));
    char long_ch[65];
    memset(long_ch, 'c', sizeof long_ch);
    ck_assert(envelope_channel_valid(long_ch, 64));
    ck_assert(!envelope_channel_valid(long_ch, 65));
    ck_assert_int_eq(envelope_decode("[1]", 3, &e, err, sizeof err), -1);
    ck_assert_int_eq(envelope_decode("{\"event\":1}", 11, &e, err, sizeof err), -1);
    ck_assert_int_eq(envelope_decode("{\"event\":\"x\",\"offset\":-1}", 25, &e, err, sizeof err),
                     -1);
}
END_TEST

START_TEST(event_names)
{
    ck_assert(envelope_event_valid("new_product", 11));
    ck_assert(envelope_event_valid("a.b:c-d_e", 9));
    ck_assert(!envelope_event_valid("", 0));
    ck_assert(!envelope_event_valid("_connected", 10)); /* reserved for control frames */
    ck_assert(!envelope_event_valid("9lives", 6));
    ck_assert(!envelope_event_valid("has space", 9));
    char long_name[80];
    memset(long_name, 'a', sizeof long_name);
    ck_assert(envelope_event_valid(long_name, 64));
    ck_assert(!envelope_event_valid(long_name, 65));
    ck_assert(envelope_epoch_valid("0123abcd"));
    ck_assert(!envelope_epoch_valid("bad\"epoch"));
    ck_assert(!envelope_epoch_valid(""));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("history");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, wraps_around_and_keeps_newest);
    tcase_add_test(tc, plans_cover_truncation_and_epochs);
    tcase_add_test(tc, starts_anywhere_and_keeps_gaps);
    tcase_add_test(tc, envelope_round_trip);
    tcase_add_test(tc, event_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
