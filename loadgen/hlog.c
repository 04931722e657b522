#include "hlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct timespec clock_zero;

void lg_clock_start(void)
{
    clock_gettime(CLOCK_MONOTONIC, &clock_zero);
}

long long lg_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)(ts.tv_sec - clock_zero.tv_sec) * 1000000LL +
           (ts.tv_nsec - clock_zero.tv_nsec) / 1000;
}

int hlog_init(struct hlog *h, int fd, size_t cap)
{
    if (cap < 4 * HLOG_LINE_MAX)
        cap = 4 * HLOG_LINE_MAX;
    h->fd = fd;
    h->len = 0;
    h->cap = cap;
    h->write_errors = 0;
    h->buf = malloc(cap);
    return h->buf ? 0 : -1;
}

int hlog_flush(struct hlog *h)
{
    size_t off = 0;
    int rc = 0;
    while (off < h->len) {
        ssize_t n = write(h->fd, h->buf + off, h->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            h->write_errors++;
            rc = -1;
            break;
        }
        off += (size_t)n;
    }
    h->len = 0;
    return rc;
}

void hlog_cleanup(struct hlog *h)
{
    if (h->buf == NULL)
        return;
    (void)hlog_flush(h);
    free(h->buf);
    h->buf = NULL;
}

static inline void put(struct hlog *h, const char *s, size_t n)
{
    memcpy(h->buf + h->len, s, n);
    h->len += n;
}

static inline void put_lit(struct hlog *h, const char *s)
{
    put(h, s, strlen(s));
}

static void put_ll(struct hlog *h, long long v)
{
    char tmp[24];
    int i = sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    put(h, tmp + i, sizeof tmp - (size_t)i);
}

static void put_key(struct hlog *h, const char *key)
{
    h->buf[h->len++] = ',';
    h->buf[h->len++] = '"';
    put_lit(h, key);
    h->buf[h->len++] = '"';
    h->buf[h->len++] = ':';
}

void hlog_begin(struct hlog *h, long long t, const char *type)
{
    /* Room for a whole line, so a line is never split across two writes. */
    if (h->cap - h->len < HLOG_LINE_MAX)
        (void)hlog_flush(h);
    put_lit(h, "{\"t\":");
    put_ll(h, t);
    put_lit(h, ",\"type\":\"");
    put_lit(h, type);
    h->buf[h->len++] = '"';
}

void hlog_int(struct hlog *h, const char *key, long long v)
{
    put_key(h, key);
    put_ll(h, v);
}

void hlog_bool(struct hlog *h, const char *key, int v)
{
    put_key(h, key);
    put_lit(h, v ? "true" : "false");
}

void hlog_str(struct hlog *h, const char *key, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (len > HLOG_STR_MAX)
        len = HLOG_STR_MAX;
    put_key(h, key);
    h->buf[h->len++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            h->buf[h->len++] = '\\';
            h->buf[h->len++] = (char)c;
        } else if (c < 0x20) {
            put_lit(h, "\\u00");
            h->buf[h->len++] = hex[c >> 4];
            h->buf[h->len++] = hex[c & 15];
        } else {
            h->buf[h->len++] = (char)c;
        }
    }
    h->buf[h->len++] = '"';
}

void hlog_raw_str(struct hlog *h, const char *key, const char *s, size_t len)
{
    if (len > HLOG_STR_MAX)
        len = HLOG_STR_MAX;
    /* Do not cut an escape in half: drop a trailing partial one. */
    size_t bs = 0;
    while (bs < len && s[len - 1 - bs] == '\\')
        bs++;
    if (bs % 2)
        len--;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20) {
            hlog_str(h, key, s, len); /* not valid JSON content: escape it ourselves */
            return;
        }
    }
    put_key(h, key);
    h->buf[h->len++] = '"';
    put(h, s, len);
    h->buf[h->len++] = '"';
}

void hlog_end(struct hlog *h)
{
    h->buf[h->len++] = '}';
    h->buf[h->len++] = '\n';
}
