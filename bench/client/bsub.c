#include "bsub.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpub.h"
#include "bws.h"

struct sub {
    uint32_t got;
    uint8_t upgraded;
};

struct bsub {
    struct bsub_config cfg;
    struct bws *ws;
    struct sub *s;
    int64_t *last_k; /* per subscriber and publisher: the k seen last */
    int max, started;
    int upgraded, closed, failed;
    uint64_t frames, out_of_order, last_frame_us, start_us;
    int now_conn; /* the socket whose read now_us was taken for (-1: none) */
    uint64_t now_us;
    uint64_t *up_us; /* upgrade times in upgrade order, relative to the first connect */
    struct hist *lat;
    char first_error[160];
};

/*
 * Reads the unsigned integer after `"<key>":` in d[from..n) (key of one or two letters);
 * sets *at past it. -1 when absent. Hand-rolled: at millions of frames a second, memmem
 * was a fifth of the client's time.
 */
static int64_t scan_u(const char *d, size_t n, size_t from, const char *key, size_t *at)
{
    size_t kl = strlen(key);
    const char *p = d + from, *end = d + n;
    while ((p = memchr(p, key[0], (size_t)(end - p))) != NULL) {
        if (p > d && p[-1] == '"' && end - p > (ptrdiff_t)kl + 2 && memcmp(p, key, kl) == 0 &&
            p[kl] == '"' && p[kl + 1] == ':' && p[kl + 2] >= '0' && p[kl + 2] <= '9')
            break;
        p++;
    }
    if (p == NULL)
        return -1;
    p += kl + 2;
    int64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0');
    *at = (size_t)(p - d);
    return v;
}

static void note_error(struct bsub *s, int i, int code, const char *why)
{
    if (s->first_error[0] != '\0')
        return;
    snprintf(s->first_error, sizeof s->first_error, "subscriber %d: code %d: %s", i, code, why);
    for (char *p = s->first_error; *p; p++) /* printed inside a JSON string */
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            *p = '\'';
}

static void mark_upgraded(struct bsub *s, int i)
{
    if (s->s[i].upgraded)
        return;
    s->s[i].upgraded = 1;
    s->up_us[s->upgraded++] = bpub_now_us() - s->start_us;
}

static void on_open(struct bws *b, int i, void *ud)
{
    (void)b;
    struct bsub *s = ud;
    if (s->cfg.proto == BSUB_PLAIN)
        mark_upgraded(s, i);
}

/* The receive time: one clock read per socket read (its frames arrived together). */
static uint64_t now_for(struct bsub *s, int i)
{
    if (s->now_conn != i) {
        s->now_conn = i;
        s->now_us = bpub_now_us();
    }
    return s->now_us;
}

static void on_event(struct bsub *s, int i, const char *d, size_t n)
{
    size_t at = 0;
    int64_t k = scan_u(d, n, 0, "k", &at);
    if (k < 0)
        return; /* a control frame (_connected, _recovery, ...) */
    struct sub *u = &s->s[i];
    int64_t *last =
        &s->last_k[(size_t)i * (size_t)s->cfg.publishers + (size_t)(k % s->cfg.publishers)];
    if (k <= *last)
        s->out_of_order++;
    *last = k;
    u->got++;
    s->frames++;
    uint64_t now = now_for(s, i);
    s->last_frame_us = now;
    /* Sampled by event, so every subscriber records the same events. */
    int64_t ts;
    if (k % s->cfg.latency_every == 0 && (ts = scan_u(d, n, at, "ts", &at)) >= 0)
        hist_record(s->lat, now > (uint64_t)ts ? now - (uint64_t)ts : 0);
}

/* Engine.IO v4 / Socket.IO v4 packets a subscriber reacts to. */
static void on_sio(struct bws *b, struct bsub *s, int i, const char *d, size_t n)
{
    if (n >= 2 && d[0] == '4' && d[1] == '2') {
        on_event(s, i, d, n);
    } else if (n == 1 && d[0] == '2') {
        bws_send_text(b, i, "3", 1);
    } else if (n >= 1 && d[0] == '0') {
        /* Engine.IO open: join namespace "/" (with the channels as auth). */
        char msg[96];
        int len = s->cfg.channels > 0 ? snprintf(msg, sizeof msg, "40{\"channels\":[\"bench-%d\"]}",
                                                 i % s->cfg.channels)
                                      : snprintf(msg, sizeof msg, "40");
        bws_send_text(b, i, msg, (size_t)len);
    } else if (n >= 2 && d[0] == '4' && d[1] == '0') {
        mark_upgraded(s, i);
    } else if (n >= 2 && d[0] == '4' && d[1] == '4') {
        note_error(s, i, 0, "Socket.IO CONNECT_ERROR");
    }
}

static void on_text(struct bws *b, int i, const char *d, size_t n, void *ud)
{
    struct bsub *s = ud;
    if (s->cfg.proto == BSUB_SIO)
        on_sio(b, s, i, d, n);
    else
        on_event(s, i, d, n);
}

static void on_close(struct bws *b, int i, int code, const char *why, void *ud)
{
    (void)b;
    struct bsub *s = ud;
    if (code == 0 && !s->s[i].upgraded)
        s->failed++;
    else
        s->closed++;
    note_error(s, i, code, why);
}

struct bsub *bsub_new(const struct bsub_config *c, int max, char *err, size_t errlen)
{
    struct bsub *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = *c;
    if (s->cfg.latency_every < 1)
        s->cfg.latency_every = 1;
    if (s->cfg.publishers < 1)
        s->cfg.publishers = 1;
    s->max = max;
    s->s = calloc((size_t)max, sizeof *s->s);
    s->up_us = calloc((size_t)max, sizeof *s->up_us);
    s->last_k = malloc((size_t)max * (size_t)s->cfg.publishers * sizeof *s->last_k);
    s->lat = hist_new();
    static const struct bws_callbacks cbs = {on_open, on_text, on_close};
    s->ws = bws_new(max, s->cfg.polling, &cbs, s, err, errlen);
    if (s->s == NULL || s->up_us == NULL || s->last_k == NULL || s->lat == NULL || s->ws == NULL) {
        if (s->ws)
            snprintf(err, errlen, "out of memory");
        bsub_free(s);
        return NULL;
    }
    bsub_reset(s);
    s->now_conn = -1;
    return s;
}

void bsub_free(struct bsub *s)
{
    if (s == NULL)
        return;
    bws_free(s->ws);
    hist_free(s->lat);
    free(s->s);
    free(s->up_us);
    free(s->last_k);
    free(s);
}

/* Subscriber i's path: the configured one, plus its channel when channels are spread. */
static void sub_path(const struct bsub *s, int i, char *out, size_t outlen)
{
    const char *p = s->cfg.path;
    if (s->cfg.channels > 0 && s->cfg.proto == BSUB_PLAIN)
        snprintf(out, outlen, "%s%c%s=bench-%d", p, strchr(p, '?') ? '&' : '?',
                 s->cfg.channel_arg ? s->cfg.channel_arg : "channels", i % s->cfg.channels);
    else
        snprintf(out, outlen, "%s", p);
}

int bsub_connect(struct bsub *s, int to, int batch, int paced, double timeout_s, char *err,
                 size_t errlen)
{
    if (to > s->max)
        to = s->max;
    if (s->started == 0)
        s->start_us = bpub_now_us();
    uint64_t deadline = bpub_now_us() + (uint64_t)(timeout_s * 1e6);
    char path[512], src[32];
    while (s->started < to) {
        int end = s->started + batch < to ? s->started + batch : to;
        for (int i = s->started; i < end; i++) {
            /* Spread over 240 source addresses: no ephemeral-port exhaustion however many
             * runs leave sockets in TIME_WAIT. */
            snprintf(src, sizeof src, "127.0.0.%d", 10 + i % 240);
            sub_path(s, i, path, sizeof path);
            if (bws_connect(s->ws, i, s->cfg.ip, s->cfg.port, path, src, err, errlen) != 0)
                return -1;
        }
        s->started = end;
        if (!paced) {
            bsub_service(s, 0);
            continue;
        }
        while (s->upgraded + s->failed + s->closed < s->started && bpub_now_us() < deadline)
            bsub_service(s, 5);
    }
    while (s->upgraded + s->failed + s->closed < to && bpub_now_us() < deadline)
        bsub_service(s, 5);
    return s->upgraded;
}

int bsub_service(struct bsub *s, int timeout_ms)
{
    s->now_conn = -1;
    return bws_service(s->ws, timeout_ms);
}

int bsub_upgraded(const struct bsub *s)
{
    return s->upgraded;
}

uint64_t bsub_frames(const struct bsub *s)
{
    return s->frames;
}

uint64_t bsub_last_frame_us(const struct bsub *s)
{
    return s->last_frame_us;
}

struct hist *bsub_latency(struct bsub *s)
{
    return s->lat;
}

uint64_t bsub_upgrade_us(const struct bsub *s, int nth)
{
    return nth >= 0 && nth < s->upgraded ? s->up_us[nth] : 0;
}

void bsub_reset(struct bsub *s)
{
    for (int i = 0; i < s->max; i++)
        s->s[i].got = 0;
    for (size_t i = 0; i < (size_t)s->max * (size_t)s->cfg.publishers; i++)
        s->last_k[i] = -1;
    s->frames = s->out_of_order = s->last_frame_us = 0;
    hist_reset(s->lat);
}

void bsub_totals(const struct bsub *s, const uint64_t *owed, struct bsub_totals *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < s->started; i++) {
        if (!s->s[i].upgraded)
            continue;
        uint64_t want = owed[s->cfg.channels > 0 ? i % s->cfg.channels : 0];
        uint64_t got = s->s[i].got;
        out->expected += want;
        if (got < want)
            out->lost += want - got;
        else
            out->extra += got - want;
    }
    out->frames = s->frames;
    out->out_of_order = s->out_of_order;
    out->upgraded = s->upgraded;
    out->closed = s->closed;
    out->failed = s->failed;
}

const char *bsub_first_error(const struct bsub *s)
{
    return s->first_error;
}
