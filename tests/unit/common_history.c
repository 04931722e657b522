/* The history ring: wrap-around, gaps, epochs, replay plans; and the envelope encoding. */
#include <check.h>
#include <string.h>

#include "envelope.h"
#include "history.h"

static struct frame *ev(struct history *h, int seq)
{
    char data[32];
    int n = snprintf(data, sizeof data, "{\"seq\":%d}", seq);
    return envelope_encode("new_product", data, (size_t)n, history_next_offset(h),
                           history_epoch(h));
}

START_TEST(wraps_around_and_keeps_newest)
{
    struct history *h = history_new(4, "e1");
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

START_TEST(plans_cover_gaps_and_epochs)
{
    struct history *h = history_new(5, "e1");
    uint64_t from;
    /* Empty history: since=0 in our epoch is fully covered. */
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
    ck_assert_uint_eq(from, 9);
    history_reset(h, "e2");
    ck_assert_uint_eq(history_last(h), 0);
    ck_assert_int_eq(history_plan(h, "e1", 8, &from), HISTORY_EPOCH_CHANGED);
    ck_assert_uint_eq(from, 1);
    ck_assert_str_eq(history_plan_name(HISTORY_TRUNCATED), "history_truncated");
    history_free(h);
}
END_TEST

START_TEST(envelope_round_trip)
{
    const char *data = "{\"_id\":\"abc\",\"name\":\"caf\\u00e9\",\"price\":9.5}";
    struct frame *f = envelope_encode("new_product", data, strlen(data), 42, "ep0ch");
    ck_assert_str_eq(frame_payload(f), "{\"event\":\"new_product\",\"data\":{\"_id\":\"abc\",\"name\":"
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
    envelope_cleanup(&e);
    frame_unref(f);
    ck_assert_int_eq(envelope_decode("[1]", 3, &e, err, sizeof err), -1);
    ck_assert_int_eq(envelope_decode("{\"event\":1}", 11, &e, err, sizeof err), -1);
    ck_assert_int_eq(envelope_decode("{\"event\":\"x\",\"offset\":-1}", 25, &e, err, sizeof err), -1);
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
    tcase_add_test(tc, plans_cover_gaps_and_epochs);
    tcase_add_test(tc, envelope_round_trip);
    tcase_add_test(tc, event_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
