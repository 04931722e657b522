/*
 * Helpers shared by the end-to-end drivers written in C (tests/e2e): PASS/FAIL lines in the
 * form tests/run counts, and a monotonic clock.
 */
#ifndef RELAYLAB_E2E_H
#define RELAYLAB_E2E_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Failed checks so far; a driver exits non-zero when it is not 0. */
static int e2e_failures;

/* Prints "PASS: name", or "FAIL: name: <why>" and counts a failure. */
static void check(int ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), unused));
static void check(int ok, const char *name, const char *fmt, ...)
{
    if (ok) {
        printf("PASS: %s\n", name);
    } else {
        char why[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        printf("FAIL: %s: %s\n", name, why);
        e2e_failures++;
    }
    fflush(stdout);
}

static inline int64_t e2e_now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static inline double now_s(void)
{
    return (double)e2e_now_us() / 1e6;
}

/* A response body kept up to 8 KiB (the rest is read and dropped), NUL-terminated. */
struct e2e_buf {
    char data[8192];
    size_t len;
};

/* libcurl CURLOPT_WRITEFUNCTION for a struct e2e_buf passed as CURLOPT_WRITEDATA. */
static size_t e2e_sink(char *p, size_t s, size_t n, void *ud) __attribute__((unused));
static size_t e2e_sink(char *p, size_t s, size_t n, void *ud)
{
    struct e2e_buf *b = ud;
    size_t k = s * n, room = sizeof b->data - 1 - b->len, c = k < room ? k : room;
    memcpy(b->data + b->len, p, c);
    b->len += c;
    b->data[b->len] = '\0';
    return k;
}

#endif
