/*
 * client_sio_poll — the HTTP long-polling transport of a Socket.IO session: the handshake
 * GET, one GET poll in flight at a time, POSTs of queued packets (one at a time), cookies
 * kept from every answer and sent on every request, and HTTP errors recorded and turned into
 * the end of the session (as socket.io-client's "transport error"). Requests go through
 * httpc (keep-alive connections on the client thread's lws loop, bound to the client's
 * source address).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_sio.h"
#include "httpc.h"

#define REQ_HEAD_MAX 8192

static void on_handshake_done(void *owner, const struct h1_resp *resp, const char *error);
static void on_get_done(void *owner, const struct h1_resp *resp, const char *error);
static void on_post_done(void *owner, const struct h1_resp *resp, const char *error);

void sio_rec_transport_error(struct lg_sio *s, const char *method, int status, const char *body,
                             size_t blen, const char *error, long long now)
{
    struct hlog *h = &s->t->log;
    hlog_begin(h, now, "transport_error");
    hlog_int(h, "client", s->c->id);
    hlog_str(h, "transport", "polling", 7);
    hlog_str(h, "method", method, strlen(method));
    if (status > 0) {
        int code;
        char msg[160];
        sio_parse_error(body, blen, &code, msg, sizeof msg);
        hlog_int(h, "status", status);
        if (code >= 0)
            hlog_int(h, "code", code);
        hlog_str(h, "error", msg, strlen(msg));
    } else {
        hlog_str(h, "error", error, strlen(error));
    }
    if (s->phase < SP_JOINED)
        hlog_str(h, "stage", s->phase == SP_OPENING ? "handshake" : "connect",
                 s->phase == SP_OPENING ? 9 : 7);
    hlog_end(h);
}

/* Writes a request head (and body) into buf. Returns its length, or -1. */
static long build_request(struct lg_sio *s, const char *method, const char *path, const char *body,
                          size_t blen, char *buf, size_t cap)
{
    const struct lg_config *cfg = sio_cfg(s);
    char host[300], cookie[CK_MAX_COOKIES * 64];
    long cl = 0;
    if (*cfg->host_header)
        snprintf(host, sizeof host, "%s", cfg->host_header);
    else
        snprintf(host, sizeof host, "%s:%d", cfg->ws.host, cfg->ws.port);
    if (cfg->cookies)
        cl = ck_jar_header(&s->jar, path, sio_wall_s(), cookie, sizeof cookie);
    int n = snprintf(buf, cap, "%s %s HTTP/1.1\r\nHost: %s\r\nAccept: */*\r\n%s%s%s", method, path,
                     host, cl > 0 ? "Cookie: " : "", cl > 0 ? cookie : "", cl > 0 ? "\r\n" : "");
    if (n < 0 || (size_t)n >= cap)
        return -1;
    int m = body ? snprintf(buf + n, cap - (size_t)n,
                            "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n\r\n",
                            blen)
                 : snprintf(buf + n, cap - (size_t)n, "\r\n");
    if (m < 0 || (size_t)(n + m) + blen >= cap)
        return -1;
    n += m;
    if (body) {
        memcpy(buf + n, body, blen);
        n += (int)blen;
    }
    return n;
}

/* Sends a request on a slot; a failure to even start it ends the session. */
static int send_request(struct lg_sio *s, struct hc_conn **slot, const char *method,
                        const char *sid, const char *body, size_t blen, hc_done_fn done)
{
    const struct lg_config *cfg = sio_cfg(s);
    char path[1024], err[160];
    char *req = malloc(REQ_HEAD_MAX + blen);
    long n = -1;
    if (req && sio_path(path, sizeof path, cfg->ws_path, "polling", sid, lg_thread_rand(s->t)) >= 0)
        n = build_request(s, method, path, body, blen, req, REQ_HEAD_MAX + blen);
    struct hc_target target = {cfg->ws.host, cfg->ws.port, s->c->src};
    int rc = n < 0
                 ? -1
                 : hc_request(s->t->http, slot, &target, req, (size_t)n, done, s, err, sizeof err);
    free(req);
    if (rc != 0) {
        if (n < 0)
            snprintf(err, sizeof err, "request does not fit");
        sio_session_end(s, 1006, err, lg_clock_us());
    }
    return rc;
}

static void keep_cookies(struct lg_sio *s, const struct h1_resp *resp)
{
    const char *v;
    size_t vl;
    if (!sio_cfg(s)->cookies)
        return;
    for (int i = 0; h1_header(resp, "Set-Cookie", i, &v, &vl); i++)
        (void)ck_jar_set(&s->jar, v, vl, sio_cfg(s)->ws_path, sio_wall_s());
}

void sio_poll_next(struct lg_sio *s)
{
    if (s->phase >= SP_JOINING && s->transport == TR_POLLING && s->probe != PR_PAUSING &&
        !hc_busy(&s->get))
        (void)send_request(s, &s->get, "GET", s->open.sid, NULL, 0, on_get_done);
}

void sio_flush_out(struct lg_sio *s)
{
    if (s->phase == SP_IDLE || s->transport != TR_POLLING || s->probe == PR_PAUSING ||
        s->outq_len == 0 || hc_busy(&s->post))
        return;
    char *body = s->outq;
    size_t len = s->outq_len;
    s->outq = NULL;
    s->outq_len = s->outq_cap = 0;
    s->post_at_us = lg_clock_us();
    (void)send_request(s, &s->post, "POST", s->open.sid, body, len, on_post_done);
    free(body);
}

static void on_handshake_done(void *owner, const struct h1_resp *resp, const char *error)
{
    struct lg_sio *s = owner;
    long long now = lg_clock_us();
    char err[160];
    if (resp == NULL || resp->status != 200) {
        sio_rec_transport_error(s, "GET", resp ? resp->status : 0, resp ? resp->body : "",
                                resp ? resp->body_len : 0, error, now);
        if (resp)
            keep_cookies(s, resp);
        snprintf(err, sizeof err, "handshake: %s%d", resp ? "HTTP " : "", resp ? resp->status : 0);
        if (resp == NULL)
            snprintf(err, sizeof err, "handshake: %s", error);
        sio_session_end(s, 0, err, now);
        return;
    }
    keep_cookies(s, resp);
    const char *p = resp->body, *end = p + resp->body_len, *pkt;
    size_t n;
    if (!sio_payload_next(&p, end, &pkt, &n) || n == 0 || pkt[0] != '0' ||
        sio_parse_open(pkt + 1, n - 1, &s->open, err, sizeof err) != 0) {
        if (n == 0 || pkt[0] != '0')
            snprintf(err, sizeof err, "handshake answer is not an open packet");
        sio_session_end(s, 0, err, now);
        return;
    }
    s->last_rx_us = now;
    sio_send_connect(s);
    if (s->phase == SP_IDLE || sio_on_payload(s, p, (size_t)(end - p), now) < 0)
        return;
    sio_poll_next(s);
    if (s->phase != SP_IDLE && sio_cfg(s)->websocket && s->open.can_websocket)
        sio_start_probe(s, now);
}

static void on_http_failed(struct lg_sio *s, const char *method, const struct h1_resp *resp,
                           const char *error, long long now)
{
    char why[200];
    sio_rec_transport_error(s, method, resp ? resp->status : 0, resp ? resp->body : "",
                            resp ? resp->body_len : 0, error, now);
    if (resp) {
        int code;
        char msg[120];
        sio_parse_error(resp->body, resp->body_len, &code, msg, sizeof msg);
        snprintf(why, sizeof why, "transport error: %s HTTP %d %s", method, resp->status, msg);
    } else {
        snprintf(why, sizeof why, "transport error: %s %s", method, error);
    }
    sio_session_end(s, 1006, why, now);
}

static void on_get_done(void *owner, const struct h1_resp *resp, const char *error)
{
    struct lg_sio *s = owner;
    long long now = lg_clock_us();
    if (resp)
        keep_cookies(s, resp);
    if (resp == NULL || resp->status != 200) {
        on_http_failed(s, "GET", resp, error, now);
        return;
    }
    if (sio_on_payload(s, resp->body, resp->body_len, now) < 0)
        return;
    if (s->probe == PR_PAUSING)
        sio_finish_upgrade(s, now);
    else
        sio_poll_next(s);
}

static void on_post_done(void *owner, const struct h1_resp *resp, const char *error)
{
    struct lg_sio *s = owner;
    long long now = lg_clock_us();
    if (resp)
        keep_cookies(s, resp);
    if (resp == NULL || resp->status != 200) {
        on_http_failed(s, "POST", resp, error, now);
        return;
    }
    s->post_at_us = 0;
    if (s->probe == PR_PAUSING)
        sio_finish_upgrade(s, now);
    else
        sio_flush_out(s);
}

void sio_poll_handshake(struct lg_sio *s)
{
    (void)send_request(s, &s->get, "GET", "", NULL, 0, on_handshake_done);
}
