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

START_TEST(lineage_across_failovers)
{
    struct history *h = history_new(100, "E1");
    uint64_t from;
    for (int i = 1; i <= 10; i++)
        history_append(h, ev(h, i));
    history_begin_epoch(h, "E2"); /* a new sequencer takes over at offset 11 */
    ck_assert_str_eq(history_epoch(h), "E2");
    for (int i = 11; i <= 15; i++)
        history_append(h, ev(h, i));
    /* Saw E1 up to 7: on the lineage, replayed from 8 across the epoch change. */
    ck_assert_int_eq(history_plan(h, "E1", 7, &from), HISTORY_RECOVERED);
    ck_assert_uint_eq(from, 8);
    ck_assert_int_eq(history_plan(h, "E1", 10, &from), HISTORY_RECOVERED);
    ck_assert_uint_eq(from, 11);
    /* Saw E1 offset 12: the old sequencer gave 12 to an event the survivor never had. */
    ck_assert_int_eq(history_plan(h, "E1", 12, &from), HISTORY_DIVERGED);
    ck_assert_uint_eq(from, 16);
    ck_assert_int_eq(history_plan(h, "E2", 13, &from), HISTORY_RECOVERED);
    ck_assert_uint_eq(from, 14);
    ck_assert_int_eq(history_plan(h, "E2", 10, &from), HISTORY_RECOVERED); /* _connected at 10 */
    ck_assert_int_eq(history_plan(h, "E2", 5, &from), HISTORY_DIVERGED);
    ck_assert_int_eq(history_plan(h, "E2", 16, &from), HISTORY_AHEAD);
    ck_assert_int_eq(history_plan(h, "E9", 3, &from), HISTORY_EPOCH_CHANGED);
    /* An epoch that sequenced nothing is replaced, not kept. */
    history_begin_epoch(h, "E3");
    history_begin_epoch(h, "E4");
    struct history_epoch_span l[HISTORY_LINEAGE_MAX];
    ck_assert_uint_eq(history_lineage(h, l, HISTORY_LINEAGE_MAX), 3);
    ck_assert_str_eq(l[2].epoch, "E4");
    ck_assert_uint_eq(l[2].first, 16);

    /* A follower adopts the lineage and mirrors frames; a new epoch in the stream extends it. */
    struct history *f = history_new(100, "mine");
    history_adopt(f, l, 3, 14);
    ck_assert_uint_eq(history_next_offset(f), 14);
    ck_assert_uint_eq(history_last(f), 13);
    for (uint64_t o = 14; o <= 16; o++) {
        struct frame *fr = frame_from("x", 1);
        fr->offset = o;
        history_append_mirrored(f, fr, o < 16 ? "E2" : "E5");
    }
    ck_assert_str_eq(history_epoch(f), "E5");
    ck_assert_int_eq(history_plan(f, "E1", 10, &from), HISTORY_TRUNCATED); /* 11..13 not held */
    ck_assert_int_eq(history_plan(f, "E2", 14, &from), HISTORY_RECOVERED);
    /* E4 (from 16) in the adopted lineage was contradicted by the stream's E5 at 16. */
    ck_assert_uint_eq(history_lineage(f, l, HISTORY_LINEAGE_MAX), 3);
    ck_assert_str_eq(l[1].epoch, "E2");
    ck_assert_uint_eq(l[1].first, 11);
    ck_assert_str_eq(l[2].epoch, "E5");
    ck_assert_uint_eq(l[2].first, 16);
    ck_assert_int_eq(history_plan(f, "E4", 15, &from), HISTORY_EPOCH_CHANGED);
    ck_assert_int_eq(history_plan(f, "E2", 15, &from), HISTORY_RECOVERED);
    ck_assert_int_eq(history_plan(f, "E2", 16, &from), HISTORY_DIVERGED);
    history_free(f);
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
    tcase_add_test(tc, lineage_across_failovers);
    tcase_add_test(tc, envelope_round_trip);
    tcase_add_test(tc, event_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
