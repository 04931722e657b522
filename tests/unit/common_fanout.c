/* The sender threads of hub_fanout: every job sent exactly once, whoever takes it, batch
 * after batch; the threads take part; a socket that takes only part reports it. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hub_fanout.h"

#define NSOCK 200

static int sv[NSOCK][2];

static void open_pairs(void)
{
    for (int i = 0; i < NSOCK; i++) {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv[i]), 0);
    }
}

static void close_pairs(void)
{
    for (int i = 0; i < NSOCK; i++) {
        close(sv[i][0]);
        close(sv[i][1]);
    }
}

/* Reads what socket i's peer holds; returns the byte count. */
static size_t drain(int i, char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t r = read(sv[i][1], buf + got, cap - got);
        if (r <= 0)
            return got;
        got += (size_t)r;
    }
}

START_TEST(every_job_once_batch_after_batch)
{
    open_pairs();
    struct hub_fanout *f = hub_fanout_new(2);
    ck_assert_ptr_nonnull(f);
    struct hub_send_job jobs[NSOCK];
    char msg[NSOCK][32], buf[256];
    size_t helped = 0;
    for (int round = 0; round < 300; round++) {
        size_t n = 1 + (size_t)(round * 7) % NSOCK; /* sizes below and above a chunk */
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(msg[i], sizeof msg[i], "r%d-j%zu;", round, i);
            jobs[i] =
                (struct hub_send_job){.fd = sv[i][0], .p = msg[i], .len = (size_t)len, .sent = -2};
        }
        helped += hub_fanout_run(f, jobs, n);
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_eq(jobs[i].sent, (ssize_t)jobs[i].len);
            size_t got = drain((int)i, buf, sizeof buf);
            ck_assert_uint_eq(got, jobs[i].len); /* once: not twice, not lost */
            ck_assert(memcmp(buf, msg[i], got) == 0);
        }
    }
    ck_assert_uint_gt(helped, 0); /* the threads did take jobs */
    hub_fanout_free(f);
    close_pairs();
}
END_TEST

START_TEST(partial_and_failed_sends_reported)
{
    int s[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    int small = 4096;
    setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    size_t big = 1 << 20;
    char *p = calloc(1, big);
    int dead[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, dead), 0);
    close(dead[1]);
    struct hub_send_job jobs[2] = {{.fd = s[0], .p = p, .len = big},
                                   {.fd = dead[0], .p = "x", .len = 1}};
    hub_send_jobs(jobs, 2);
    ck_assert(jobs[0].sent > 0 && (size_t)jobs[0].sent < big); /* the rest is the caller's */
    ck_assert_int_eq(jobs[1].sent, -1);
    ck_assert_int_eq(jobs[1].err, EPIPE);
    free(p);
    close(s[0]);
    close(s[1]);
    close(dead[0]);
}
END_TEST

START_TEST(free_without_work)
{
    hub_fanout_free(NULL);
    ck_assert_ptr_null(hub_fanout_new(0));
    struct hub_fanout *f = hub_fanout_new(3);
    ck_assert_ptr_nonnull(f);
    hub_fanout_free(f); /* threads parked, never given a batch */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fanout");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_job_once_batch_after_batch);
    tcase_add_test(tc, partial_and_failed_sends_reported);
    tcase_add_test(tc, free_without_work);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
