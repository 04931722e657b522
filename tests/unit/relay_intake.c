/* The /emit body parser and the idempotency table. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "dedup.h"
#include "intake.h"

static int parse_err(const char *body, size_t len, char *err)
{
    struct emit_req r;
    int rc = intake_parse(body, len, &r, err, 256);
    emit_req_cleanup(&r);
    return rc;
}

START_TEST(good_body)
{
    struct emit_req r;
    char err[256];
    const char *b = "{\"event\":\"new_product\", \"payload\": {\"name\": \"x\", \"price\": 1.5},"
                    " \"id\":\"p-1\"}";
    ck_assert_int_eq(intake_parse(b, strlen(b), &r, err, sizeof err), 0);
    ck_assert_str_eq(r.event, "new_product");
    ck_assert_str_eq(r.payload, "{\"name\":\"x\",\"price\":1.5}");
    ck_assert_str_eq(r.id, "p-1");
    emit_req_cleanup(&r);
    b = "{\"event\":\"x\",\"payload\":{}}";
    ck_assert_int_eq(intake_parse(b, strlen(b), &r, err, sizeof err), 0);
    ck_assert_str_eq(r.id, "");
    emit_req_cleanup(&r);
}
END_TEST

START_TEST(bad_bodies_named)
{
    char err[256];
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    char deep_body[300];
    snprintf(deep_body, sizeof deep_body, "{\"event\":\"x\",\"payload\":{\"a\":%.200s}}", deep);
    struct {
        const char *body;
        size_t len;
        const char *want;
    } cases[] = {
        {"", 0, "empty body"},
        {"{", 0, "invalid JSON"},
        {"[1,2]", 0, "must be a JSON object, got array"},
        {"{\"payload\":{}}", 0, "missing field 'event'"},
        {"{\"event\":5,\"payload\":{}}", 0, "'event' must be a string, got integer"},
        {"{\"event\":\"\",\"payload\":{}}", 0, "'event' must be 1-64"},
        {"{\"event\":\"_connected\",\"payload\":{}}", 0, "'event' must be 1-64"},
        {"{\"event\":\"x\"}", 0, "missing field 'payload'"},
        {"{\"event\":\"x\",\"payload\":[1]}", 0, "'payload' must be an object, got array"},
        {"{\"event\":\"x\",\"payload\":{},\"id\":7}", 0, "'id' must be a string"},
        {"{\"event\":\"x\",\"payload\":{},\"id\":\"a b\"}", 0, "printable"},
        {"{\"event\":\"x\",\"payload\":{},\"extra\":1}", 0, "unknown field 'extra'"},
        {"{\"event\":\"x\",\"event\":\"y\",\"payload\":{}}", 0, "invalid JSON"},
        {"{\"event\":\"x\",\"payload\":{\"n\":\"\xff\xfe\"}}", 0, "invalid JSON"},
        {"{\"event\":\"x\",\0\"payload\":{}}", 26, "NUL byte"},
        {"{\"event\":\"x\",\"payload\":{\"s\":\"\\u0000\"}}", 0, "invalid JSON"},
        {deep_body, 0, "nested deeper than 32"},
        {"{\"event\":\"x\",\"payload\":{}} trailing", 0, "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].body);
        ck_assert_msg(parse_err(cases[i].body, len, err) == -1, "case %zu accepted", i);
        ck_assert_msg(strstr(err, cases[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                      cases[i].want);
    }
}
END_TEST

START_TEST(dedup_window_and_capacity)
{
    struct dedup *d = dedup_new(3, 1000);
    uint64_t off;
    ck_assert_int_eq(dedup_lookup(d, "a", 0, &off), 0);
    ck_assert_int_eq(dedup_insert(d, "a", 1, 0), 0);
    ck_assert_int_eq(dedup_insert(d, "b", 2, 10), 0);
    ck_assert_int_eq(dedup_lookup(d, "a", 20, &off), 1);
    ck_assert_uint_eq(off, 1);
    ck_assert_int_eq(dedup_insert(d, "c", 3, 30), 0);
    ck_assert_int_eq(dedup_insert(d, "d", 4, 40), 0); /* evicts "a", the oldest */
    ck_assert_int_eq(dedup_lookup(d, "a", 50, &off), 0);
    ck_assert_int_eq(dedup_lookup(d, "d", 50, &off), 1);
    ck_assert_uint_eq(off, 4);
    ck_assert_uint_eq(dedup_size(d), 3);
    /* Past the window everything is forgotten. */
    ck_assert_int_eq(dedup_lookup(d, "d", 5000, &off), 0);
    ck_assert_uint_eq(dedup_size(d), 0);
    /* Many ids through a small table: chains stay consistent. */
    char id[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        ck_assert_int_eq(dedup_insert(d, id, (uint64_t)i, 6000), 0);
    }
    ck_assert_int_eq(dedup_lookup(d, "id-9999", 6000, &off), 1);
    ck_assert_uint_eq(off, 9999);
    ck_assert_int_eq(dedup_lookup(d, "id-9996", 6000, &off), 0);
    dedup_free(d);
    dedup_free(NULL);
}
END_TEST

/* The ring grows with what the window holds, not with the count bound: RSS must not creep up
 * by one slot per emit until --dedup-max slots were written (found by the soak: 32 bytes per
 * emit, 3.2 MB after 100,000 emits with only the last 30 s remembered). */
START_TEST(dedup_memory_follows_the_window)
{
    struct dedup *d = dedup_new(100000, 30000);
    uint64_t off;
    char id[32];
    /* 20 emits/s for 10 minutes: ~600 ids in the 30 s window at any time. */
    for (int i = 0; i < 12000; i++) {
        snprintf(id, sizeof id, "emit-%d", i);
        ck_assert_int_eq(dedup_insert(d, id, (uint64_t)i + 1, (int64_t)i * 50), 0);
    }
    ck_assert_uint_le(dedup_size(d), 601);
    ck_assert_uint_le(dedup_capacity(d), 1024);
    ck_assert_int_eq(dedup_lookup(d, "emit-11999", 599950, &off), 1);
    ck_assert_uint_eq(off, 12000);
    ck_assert_int_eq(dedup_lookup(d, "emit-11400", 599950, &off), 1); /* 29.95 s old */
    ck_assert_int_eq(dedup_lookup(d, "emit-11398", 599950, &off), 0); /* 30.05 s old */
    /* A burst within the window: the ring grows, and every id held stays found. */
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "burst-%d", i);
        ck_assert_int_eq(dedup_insert(d, id, 100000 + (uint64_t)i, 600000), 0);
    }
    ck_assert_uint_eq(dedup_capacity(d), 8192);
    for (int i = 0; i < 5000; i += 7) {
        snprintf(id, sizeof id, "burst-%d", i);
        ck_assert_int_eq(dedup_lookup(d, id, 600000, &off), 1);
        ck_assert_uint_eq(off, 100000 + (uint64_t)i);
    }
    ck_assert_int_eq(dedup_lookup(d, "emit-11999", 600000, &off), 1);
    ck_assert_uint_eq(off, 12000);
    dedup_free(d);
    /* The count bound still holds while growing: the oldest ids go past it. */
    d = dedup_new(1500, 1000000);
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        ck_assert_int_eq(dedup_insert(d, id, (uint64_t)i + 1, i), 0);
    }
    ck_assert_uint_eq(dedup_size(d), 1500);
    ck_assert_uint_eq(dedup_capacity(d), 1500);
    ck_assert_int_eq(dedup_lookup(d, "id-499", 2000, &off), 0);
    ck_assert_int_eq(dedup_lookup(d, "id-500", 2000, &off), 1);
    ck_assert_uint_eq(off, 501);
    ck_assert_int_eq(dedup_lookup(d, "id-1999", 2000, &off), 1);
    dedup_free(d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("relay_intake");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, good_body);
    tcase_add_test(tc, bad_bodies_named);
    tcase_add_test(tc, dedup_window_and_capacity);
    tcase_add_test(tc, dedup_memory_follows_the_window);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
