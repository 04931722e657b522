#include "wsclient.h"

#include <ev.h>
#include <libwebsockets.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define WSC_OUTQ_MAX 64

enum wsc_out_kind { WSC_OUT_TEXT = 0, WSC_OUT_RAW, WSC_OUT_PING };

struct wsc_out {
    struct wsc_out *next;
    enum wsc_out_kind kind;
    size_t len;
    unsigned char buf[]; /* LWS_PRE headroom, then len bytes */
};

struct wsc {
    struct wsc_pool *pool;
    struct wsc *prev, *next;
    struct lws *wsi;
    void *user;
    int open;
    int closing;
    int local_close_code;
    char local_reason[124];
    int peer_close_code;
    char peer_reason[124];
    int aborted; /* wsc_abort: dropped without a close handshake, local_reason says why */
    size_t max_message;
    char *msg;
    size_t msg_len, msg_cap;
    int msg_too_big;
    struct wsc_out *outq, *outq_tail;
    int noutq;
    char *headers; /* extra handshake header lines, or NULL */
    void (*on_set_cookie)(struct wsc *c, const char *value, size_t len);
};

struct wsc_pool {
    struct lws_context *ctx;
    struct ev_loop *loop; /* the epoll loop lws runs on, or NULL: lws's own poll() loop */
    ev_timer wait;        /* bounds one wsc_pool_service() on that loop */
    struct lws_protocols protocols[2];
    struct wsc_callbacks cb;
    void *ud;
    int max_clients;
    int count;
    struct wsc *clients;
    lws_sorted_usec_list_t timeout_sul;
    atomic_int wake_asked; /* wsc_pool_wake() was called: on_wake runs once */
};

static void outq_free(struct wsc *c)
{
    struct wsc_out *o = c->outq;
    while (o) {
        struct wsc_out *n = o->next;
        free(o);
        o = n;
    }
    c->outq = c->outq_tail = NULL;
    c->noutq = 0;
}

static void client_release(struct wsc *c)
{
    struct wsc_pool *p = c->pool;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->count--;
    outq_free(c);
    free(c->msg);
    free(c->headers);
    free(c);
}

static void deliver(struct wsc *c, const char *data, size_t len, int binary)
{
    if (c->pool->cb.on_message)
        c->pool->cb.on_message(c, data, len, binary, c->pool->ud);
}

static int on_receive(struct wsc *c, struct lws *wsi, const char *in, size_t len)
{
    int first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
    int binary = lws_frame_is_binary(wsi);
    if (first && final && lws_remaining_packet_payload(wsi) == 0) {
        if (len <= c->max_message)
            deliver(c, in, len, binary);
        return 0;
    }
    if (first) {
        c->msg_len = 0;
        c->msg_too_big = 0;
    }
    if (!c->msg_too_big) {
        if (c->msg_len + len > c->max_message) {
            c->msg_too_big = 1;
        } else {
            if (c->msg_len + len > c->msg_cap) {
                size_t cap = c->msg_cap ? c->msg_cap * 2 : 4096;
                while (cap < c->msg_len + len)
                    cap *= 2;
                char *m = realloc(c->msg, cap);
                if (m == NULL)
                    return -1;
                c->msg = m;
                c->msg_cap = cap;
            }
            memcpy(c->msg + c->msg_len, in, len);
            c->msg_len += len;
        }
    }
    if (final && lws_remaining_packet_payload(wsi) == 0) {
        if (!c->msg_too_big)
            deliver(c, c->msg, c->msg_len, binary);
        c->msg_len = 0;
        c->msg_too_big = 0;
        /* Do not keep a large buffer around for an idle client. */
        if (c->msg_cap > 65536) {
            free(c->msg);
            c->msg = NULL;
            c->msg_cap = 0;
        }
    }
    return 0;
}

static int on_writeable(struct wsc *c, struct lws *wsi)
{
    if (c->closing) {
        lws_close_reason(wsi, (enum lws_close_status)c->local_close_code,
                         (unsigned char *)c->local_reason, strlen(c->local_reason));
        return -1;
    }
    struct wsc_out *o = c->outq;
    if (o == NULL)
        return 0;
    c->outq = o->next;
    if (c->outq == NULL)
        c->outq_tail = NULL;
    c->noutq--;
    int rc = 0;
    if (o->kind == WSC_OUT_RAW) {
        /* Bypasses websocket framing on purpose: used to test servers with garbage. */
        if (send(lws_get_socket_fd(wsi), o->buf + LWS_PRE, o->len, MSG_NOSIGNAL) < 0)
            rc = -1;
    } else if (lws_write(wsi, o->buf + LWS_PRE, o->len,
                         o->kind == WSC_OUT_PING ? LWS_WRITE_PING : LWS_WRITE_TEXT) < (int)o->len) {
        rc = -1;
    }
    free(o);
    if (rc == 0 && c->outq)
        lws_callback_on_writable(wsi);
    return rc;
}

static int wsc_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct wsc *c = user;
    struct lws_context *ctx = lws_get_context(wsi);
    struct wsc_pool *p = ctx ? lws_context_user(ctx) : NULL;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (c && c->headers) {
            char **pp = in;
            size_t n = strlen(c->headers);
            if (n >= len)
                return -1;
            memcpy(*pp, c->headers, n);
            *pp += n;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
        if (c && c->on_set_cookie) {
            char v[4096];
            for (int i = 0;; i++) {
                int n = lws_hdr_copy_fragment(wsi, v, sizeof v, WSI_TOKEN_HTTP_SET_COOKIE, i);
                if (n <= 0)
                    break;
                c->on_set_cookie(c, v, (size_t)n);
            }
        }
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->open = 1;
        if (p->cb.on_open)
            p->cb.on_open(c, p->ud);
        if (c->outq || c->closing)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return on_receive(c, wsi, in, len);
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        if (c && p->cb.on_pong)
            p->cb.on_pong(c, p->ud);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(c, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c && len >= 2) {
            const unsigned char *b = in;
            c->peer_close_code = (b[0] << 8) | b[1];
            size_t rl = len - 2 < sizeof c->peer_reason - 1 ? len - 2 : sizeof c->peer_reason - 1;
            memcpy(c->peer_reason, b + 2, rl);
            c->peer_reason[rl] = '\0';
        } else if (c) {
            c->peer_close_code = 1005;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) {
            char reason_buf[160];
            snprintf(reason_buf, sizeof reason_buf, "%.*s", in ? (int)len : 7,
                     in ? (const char *)in : "unknown");
            if (c->aborted)
                snprintf(reason_buf, sizeof reason_buf, "%s", c->local_reason);
            if (c->open) {
                if (p->cb.on_close)
                    p->cb.on_close(c, c->peer_close_code ? c->peer_close_code : 1006,
                                   c->aborted ? c->local_reason : c->peer_reason, p->ud);
            } else if (p->cb.on_close) {
                p->cb.on_close(c, 0, reason_buf, p->ud);
            }
            client_release(c);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c) {
            int code = c->aborted           ? 1006
                       : c->peer_close_code ? c->peer_close_code
                       : c->closing         ? c->local_close_code
                                            : 1006;
            const char *r = c->aborted           ? c->local_reason
                            : c->peer_close_code ? c->peer_reason
                            : c->closing         ? c->local_reason
                                                 : "";
            if (p->cb.on_close)
                p->cb.on_close(c, code, r, p->ud);
            client_release(c);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (p && atomic_exchange(&p->wake_asked, 0) && p->cb.on_wake)
            p->cb.on_wake(p, p->ud);
        return 0;
    default:
        return 0;
    }
}

static void wait_cb(struct ev_loop *loop, ev_timer *w, int revents);

/*
 * The context on an epoll loop (Debian's libwebsockets-evlib-ev plugin, a libev loop of
 * ours given to lws as a foreign loop, as the hub does): lws's own loop is poll(), which
 * scans every socket on each wake-up (17 % of a core for loadgen holding 10,000 idle
 * clients). Without the plugin, lws's poll() loop is used.
 */
static struct lws_context *create_context(struct wsc_pool *p,
                                          struct lws_context_creation_info *info)
{
    p->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (p->loop != NULL) {
        ev_timer_init(&p->wait, wait_cb, 0., 0.);
        p->wait.data = p;
        void *loops[1] = {p->loop};
        info->options |= LWS_SERVER_OPTION_LIBEV;
        info->foreign_loops = loops;
        struct lws_context *ctx = lws_create_context(info);
        info->options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
        info->foreign_loops = NULL;
        if (ctx != NULL)
            return ctx;
        ev_loop_destroy(p->loop);
        p->loop = NULL;
    }
    return lws_create_context(info);
}

struct wsc_pool *wsc_pool_new(int max_clients, const struct wsc_callbacks *cb, void *ud, char *err,
                              size_t errlen)
{
    struct wsc_pool *p = calloc(1, sizeof *p);
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cb = *cb;
    p->ud = ud;
    p->max_clients = max_clients;
    p->protocols[0] = (struct lws_protocols){
        .name = "wsc",
        .callback = wsc_callback,
        .per_session_data_size = 0,
        .rx_buffer_size = 4096,
    };
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = p->protocols;
    info.user = p;
    info.timeout_secs = 10;
    /* No fd_limit_per_thread: below the fd limit it turns lws's fd-to-connection table into
     * a list searched from its head on every event. The program sizes its fd limit instead
     * (fdlimit_fit). */
    p->ctx = create_context(p, &info);
    if (p->ctx == NULL) {
        snprintf(err, errlen, "cannot create the websocket client context");
        free(p);
        return NULL;
    }
    return p;
}

void wsc_pool_free(struct wsc_pool *p)
{
    if (p == NULL)
        return;
    lws_context_destroy(p->ctx);
    if (p->loop)
        ev_loop_destroy(p->loop);
    /* Clients that never got a socket produce no callback: release what is left. */
    while (p->clients)
        client_release(p->clients);
    free(p);
}

struct wsc *wsc_connect(struct wsc_pool *p, const struct wsc_options *o, char *err, size_t errlen)
{
    if (p->count >= p->max_clients) {
        snprintf(err, errlen, "client pool full (%d)", p->max_clients);
        return NULL;
    }
    struct wsc *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->pool = p;
    c->user = o->user;
    c->max_message = o->max_message ? o->max_message : 1024 * 1024;
    c->on_set_cookie = o->on_set_cookie;
    if (o->headers && *o->headers && (c->headers = strdup(o->headers)) == NULL) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->next = p->clients;
    if (p->clients)
        p->clients->prev = c;
    p->clients = c;
    p->count++;

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = p->ctx;
    ci.address = o->host;
    ci.port = o->port;
    ci.path = o->path ? o->path : "/";
    ci.host = o->host_header ? o->host_header : o->host;
    ci.origin = ci.host;
    ci.iface = o->source_ip;
    ci.local_protocol_name = "wsc";
    ci.userdata = c;
    ci.pwsi = &c->wsi;
    if (lws_client_connect_via_info(&ci) == NULL) {
        /* lws may already have reported CONNECTION_ERROR (and released c) or not. */
        snprintf(err, errlen, "connect to %s:%d refused at once", o->host, o->port);
        for (struct wsc *x = p->clients; x; x = x->next)
            if (x == c) {
                client_release(c);
                break;
            }
        return NULL;
    }
    return c;
}

static void timeout_cb(lws_sorted_usec_list_t *sul)
{
    (void)sul;
}

/* The wait ended without an event: lws services its own timers (connect and close
 * timeouts) only after an event of its own; a wake-up through its pipe is one. A
 * connection whose SYN a partition drops would otherwise never time out in a quiet pool. */
static void wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct wsc_pool *p = w->data;
    lws_cancel_service(p->ctx);
}

int wsc_pool_service(struct wsc_pool *p, int timeout_ms)
{
    double secs = (timeout_ms > 0 ? timeout_ms : 1) / 1000.0;
    if (p->loop) {
        /* A timer of ours: lws 4.1 re-arms its libev timer only from its own callbacks, so
         * an lws timer scheduled here, between iterations, would not end the wait. */
        ev_timer_set(&p->wait, secs, 0.);
        ev_timer_start(p->loop, &p->wait);
        ev_run(p->loop, EVRUN_ONCE);
        ev_timer_stop(p->loop, &p->wait);
        return 0;
    }
    lws_sul_schedule(p->ctx, 0, &p->timeout_sul, timeout_cb, (lws_usec_t)(secs * LWS_US_PER_SEC));
    return lws_service(p->ctx, 0) < 0 ? -1 : 0;
}

void wsc_pool_wake(struct wsc_pool *p)
{
    atomic_store(&p->wake_asked, 1);
    lws_cancel_service(p->ctx);
}

static int enqueue(struct wsc *c, const void *data, size_t len, enum wsc_out_kind kind)
{
    if (c == NULL || c->closing || c->noutq >= WSC_OUTQ_MAX)
        return -1;
    struct wsc_out *o = malloc(sizeof *o + LWS_PRE + len);
    if (o == NULL)
        return -1;
    o->next = NULL;
    o->kind = kind;
    o->len = len;
    memcpy(o->buf + LWS_PRE, data, len);
    if (c->outq_tail)
        c->outq_tail->next = o;
    else
        c->outq = o;
    c->outq_tail = o;
    c->noutq++;
    if (c->open && c->wsi)
        lws_callback_on_writable(c->wsi);
    return 0;
}

int wsc_send_text(struct wsc *c, const char *data, size_t len)
{
    return enqueue(c, data, len, WSC_OUT_TEXT);
}

int wsc_send_raw(struct wsc *c, const void *data, size_t len)
{
    return enqueue(c, data, len, WSC_OUT_RAW);
}

int wsc_send_ping(struct wsc *c, const void *data, size_t len)
{
    if (len > 125)
        return -1;
    return enqueue(c, data, len, WSC_OUT_PING);
}

void wsc_abort(struct wsc *c, const char *reason)
{
    if (c == NULL || c->aborted)
        return;
    c->aborted = 1;
    snprintf(c->local_reason, sizeof c->local_reason, "%s", reason ? reason : "");
    /* The socket reads end-of-stream at once: lws closes the connection at its next service
     * without a close handshake (a dead peer would never answer one) and on_close follows. */
    int fd = c->wsi ? (int)lws_get_socket_fd(c->wsi) : -1;
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    else if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void wsc_set_reading(struct wsc *c, int reading)
{
    if (c && c->wsi)
        lws_rx_flow_control(c->wsi, reading ? 1 : 0);
}

void wsc_close(struct wsc *c, int code, const char *reason)
{
    if (c == NULL || c->closing)
        return;
    c->closing = 1;
    c->local_close_code = code;
    snprintf(c->local_reason, sizeof c->local_reason, "%s", reason ? reason : "");
    if (c->open && c->wsi)
        lws_callback_on_writable(c->wsi);
}

void *wsc_user(const struct wsc *c)
{
    return c->user;
}

void wsc_set_user(struct wsc *c, void *user)
{
    c->user = user;
}

int wsc_is_open(const struct wsc *c)
{
    return c->open;
}

int wsc_pool_count(const struct wsc_pool *p)
{
    return p->count;
}

struct lws_context *wsc_pool_lws_context(struct wsc_pool *p)
{
    return p->ctx;
}
