/*
 * hlog — writes history records (JSON lines) through a per-thread buffer.
 *
 * Each thread owns one hlog on a shared file descriptor opened with O_APPEND; lines are
 * built in the buffer and written in large chunks that always end at a line boundary, so
 * lines from different threads never interleave. A line is at most HLOG_LINE_MAX bytes:
 * strings longer than HLOG_STR_MAX are truncated. Building a line never allocates.
 *
 *   hlog_begin(h, t, "frame"); hlog_int(h, "client", 3); hlog_str(h, "req_id", s, n); hlog_end(h);
 */
#ifndef LOADGEN_HLOG_H
#define LOADGEN_HLOG_H

#include <stddef.h>
#include <stdint.h>

#define HLOG_LINE_MAX 8192
#define HLOG_STR_MAX 256

struct hlog {
    int fd;
    char *buf;
    size_t len, cap;
    uint64_t write_errors;
};

/* cap >= 4 * HLOG_LINE_MAX. Returns 0, or -1 when out of memory. Caller calls hlog_cleanup. */
int hlog_init(struct hlog *h, int fd, size_t cap) __attribute__((warn_unused_result));
/* Flushes and frees the buffer (does not close fd). */
void hlog_cleanup(struct hlog *h);
/* Writes out every complete line. Returns 0, or -1 (counted in write_errors). */
int hlog_flush(struct hlog *h);

void hlog_begin(struct hlog *h, long long t, const char *type);
void hlog_int(struct hlog *h, const char *key, long long v);
void hlog_bool(struct hlog *h, const char *key, int v);
/* Writes s[0..len) as a JSON string, escaping quotes, backslashes and control bytes. */
void hlog_str(struct hlog *h, const char *key, const char *s, size_t len);
/* Writes s[0..len), already valid JSON string content (a span from a JSON text), verbatim. */
void hlog_raw_str(struct hlog *h, const char *key, const char *s, size_t len);
void hlog_end(struct hlog *h);

/* Microseconds on the monotonic clock since lg_clock_start() (call it once, first). */
void lg_clock_start(void);
long long lg_clock_us(void);

#endif
