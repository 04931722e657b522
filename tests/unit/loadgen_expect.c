/* --expect parsing and evaluation against a report object. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../loadgen/expect.h"

START_TEST(parse_forms)
{
    struct lg_expect e;
    char err[256];
    ck_assert_int_eq(lg_expect_parse("delivery_ratio>=0.999", &e, err, sizeof err), 0);
    ck_assert_str_eq(e.path, "delivery_ratio");
    ck_assert_int_eq(e.op, LG_OP_GE);
    ck_assert_double_eq(e.value, 0.999);
    ck_assert_int_eq(lg_expect_parse("  lost == 0 ", &e, err, sizeof err), 0);
    ck_assert_str_eq(e.path, "events.lost");
    ck_assert_int_eq(e.op, LG_OP_EQ);
    ck_assert_int_eq(lg_expect_parse("latency_ms.p99<250", &e, err, sizeof err), 0);
    ck_assert_int_eq(e.op, LG_OP_LT);
    ck_assert_str_eq(e.path, "latency_ms.p99");
    ck_assert_int_eq(lg_expect_parse("p99<=1e3", &e, err, sizeof err), 0);
    ck_assert_str_eq(e.path, "latency_ms.p99");
    ck_assert_int_eq(e.op, LG_OP_LE);
    ck_assert_double_eq(e.value, 1000);
    ck_assert_int_eq(lg_expect_parse("pod_share_max!=1", &e, err, sizeof err), 0);
    ck_assert_int_eq(e.op, LG_OP_NE);
    ck_assert_int_eq(lg_expect_parse("requests_per_pod.app-1>-1", &e, err, sizeof err), 0);
    ck_assert_int_eq(e.op, LG_OP_GT);
    ck_assert_double_eq(e.value, -1);
    ck_assert_str_eq(e.text, "requests_per_pod.app-1>-1");
}
END_TEST

START_TEST(parse_errors)
{
    struct lg_expect e;
    char err[256];
    const char *bad[] = {"",          "lost",    "lost=0",   "lost==",    "lost==x",   "==1",
                         "lost==1 2", "lost=>1", ".lost==1", "failed==0", "lost==nan", NULL};
    for (int i = 0; bad[i]; i++) {
        err[0] = '\0';
        ck_assert_msg(lg_expect_parse(bad[i], &e, err, sizeof err) == -1, "accepted '%s'", bad[i]);
        ck_assert_msg(err[0] != '\0', "no message for '%s'", bad[i]);
    }
    ck_assert_int_eq(lg_expect_parse("failed==0", &e, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "requests.failed"));
}
END_TEST

START_TEST(evaluate)
{
    json_error_t jerr;
    json_t *r = json_loads("{\"delivery_ratio\":0.5,\"events\":{\"lost\":3},\"latency_ms\":"
                           "{\"p99\":null},\"requests_per_pod\":{\"a\":4},\"clients\":\"x\"}",
                           0, &jerr);
    ck_assert_ptr_nonnull(r);
    struct lg_expect e;
    char err[256], msg[256];
    struct {
        const char *expr;
        int holds;
    } cases[] = {
        {"delivery_ratio>=0.5", 1},
        {"delivery_ratio>0.5", 0},
        {"delivery_ratio==0.5", 1},
        {"delivery_ratio!=0.5", 0},
        {"delivery_ratio<0.6", 1},
        {"delivery_ratio<=0.4", 0},
        {"lost==3", 1},
        {"lost<3", 0},
        {"p99<1000", 0}, /* null fails */
        {"requests_per_pod.a==4", 1},
        {"requests_per_pod.b==0", 1}, /* absent pod counts 0 */
        {"events.nope==0", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(lg_expect_parse(cases[i].expr, &e, err, sizeof err), 0);
        ck_assert_msg(lg_expect_eval(&e, r, msg, sizeof msg) == cases[i].holds, "%s: %s",
                      cases[i].expr, msg);
    }
    ck_assert_int_eq(lg_expect_parse("p99<1000", &e, err, sizeof err), 0);
    lg_expect_eval(&e, r, msg, sizeof msg);
    ck_assert_ptr_nonnull(strstr(msg, "null"));
    ck_assert_int_eq(lg_expect_validate(&e, r, err, sizeof err), 0);
    ck_assert_int_eq(lg_expect_parse("events.nope==0", &e, err, sizeof err), 0);
    ck_assert_int_eq(lg_expect_validate(&e, r, err, sizeof err), -1);
    ck_assert_int_eq(lg_expect_parse("clients==0", &e, err, sizeof err), 0);
    ck_assert_int_eq(lg_expect_validate(&e, r, err, sizeof err), -1); /* not a number */
    ck_assert_int_eq(lg_expect_parse("requests_per_pod.zz==0", &e, err, sizeof err), 0);
    ck_assert_int_eq(lg_expect_validate(&e, r, err, sizeof err), 0);
    json_decref(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loadgen_expect");
    TCase *tc = tcase_create("expect");
    tcase_add_test(tc, parse_forms);
    tcase_add_test(tc, parse_errors);
    tcase_add_test(tc, evaluate);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
