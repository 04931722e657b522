/* Histogram percentiles against a sorted array of the same samples. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "hist.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p)
{
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

static void check_against_sorted(uint64_t *v, size_t n)
{
    struct hist *h = hist_new();
    for (size_t i = 0; i < n; i++)
        hist_record(h, v[i]);
    qsort(v, n, sizeof *v, cmp_u64);
    const double ps[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        uint64_t want = exact_percentile(v, n, ps[i]);
        uint64_t got = hist_percentile(h, ps[i]);
        double rel = want ? fabs((double)got - (double)want) / (double)want : (double)got;
        ck_assert_msg(rel <= 0.01, "p%.2f: got %lu want %lu (rel error %.4f)", ps[i],
                      (unsigned long)got, (unsigned long)want, rel);
    }
    ck_assert_uint_eq(hist_count(h), n);
    ck_assert_uint_eq(hist_max(h), v[n - 1]);
    ck_assert_uint_eq(hist_min(h), v[0]);
    hist_free(h);
}

START_TEST(uniform_wide_range)
{
    size_t n = 100000;
    uint64_t *v = malloc(n * sizeof *v);
    srand(42);
    for (size_t i = 0; i < n; i++)
        v[i] = (uint64_t)rand() % 10000000;
    check_against_sorted(v, n);
    free(v);
}
END_TEST

START_TEST(lognormal_latencies)
{
    size_t n = 50000;
    uint64_t *v = malloc(n * sizeof *v);
    srand(7);
    for (size_t i = 0; i < n; i++) {
        double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = (rand() + 1.0) / (RAND_MAX + 2.0);
        double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
        v[i] = (uint64_t)exp(7.0 + 1.5 * z); /* microseconds around 1 ms, long tail */
    }
    check_against_sorted(v, n);
    free(v);
}
END_TEST

START_TEST(small_values_exact)
{
    struct hist *h = hist_new();
    for (uint64_t i = 1; i <= 100; i++)
        hist_record(h, i);
    ck_assert_uint_eq(hist_percentile(h, 50), 50);
    ck_assert_uint_eq(hist_percentile(h, 99), 99);
    ck_assert_uint_eq(hist_percentile(h, 100), 100);
    ck_assert(fabs(hist_mean(h) - 50.5) < 1e-9);
    hist_free(h);
}
END_TEST

START_TEST(merge_and_empty)
{
    struct hist *a = hist_new(), *b = hist_new();
    ck_assert_uint_eq(hist_percentile(a, 99), 0);
    hist_record_n(a, 1000, 99);
    hist_record(b, 5000000);
    hist_merge(a, b);
    ck_assert_uint_eq(hist_count(a), 100);
    /* Reported as the top of 1000's bucket: never below, at most 1/256 above. */
    ck_assert_uint_ge(hist_percentile(a, 99), 1000);
    ck_assert_uint_le(hist_percentile(a, 99), 1004);
    ck_assert_uint_eq(hist_percentile(a, 100), 5000000);
    hist_reset(a);
    ck_assert_uint_eq(hist_count(a), 0);
    hist_free(a);
    hist_free(b);
    hist_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hist");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, uniform_wide_range);
    tcase_add_test(tc, lognormal_latencies);
    tcase_add_test(tc, small_values_exact);
    tcase_add_test(tc, merge_and_empty);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
