#include "httpc.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hc_ctx {
    struct lws_context *lc;
    struct lws_vhost *vh;
    size_t max_body;
    int count;
};

struct hc_conn {
    struct hc_ctx *x;
    struct lws *wsi;
    struct hc_conn **slot; /* the owner's pointer to this connection, or NULL */
    struct hc_target t;
    hc_done_fn done; /* the request in flight: done/owner, or done == NULL */
    void *owner;
    unsigned char *out; /* LWS_PRE + the request, kept until its answer starts */
    size_t out_len;
    int connected, written, reused, got_bytes, fresh, closing, retried;
    struct h1_resp resp;
};

static const char proto_name[] = "lg-http";

static void conn_free(struct hc_conn *c)
{
    c->x->count--;
    free(c->out);
    h1_cleanup(&c->resp);
    free(c);
}

static void detach(struct hc_conn *c)
{
    if (c->slot && *c->slot == c)
        *c->slot = NULL;
    c->slot = NULL;
}

static void close_async(struct hc_conn *c)
{
    if (!c->closing && c->wsi) {
        c->closing = 1;
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
}

static struct hc_conn *conn_open(struct hc_ctx *x, const struct hc_target *t, char *err,
                                 size_t errlen)
{
    struct hc_conn *c = calloc(1, sizeof *c);
    if (c == NULL || h1_init(&c->resp, x->max_body) != 0) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->x = x;
    c->t = *t;
    x->count++;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = x->lc;
    ci.vhost = x->vh;
    ci.address = t->host;
    ci.port = t->port;
    ci.path = "/";
    ci.host = t->host;
    ci.method = "RAW";
    ci.local_protocol_name = proto_name;
    ci.iface = t->source_ip;
    ci.userdata = c;
    ci.pwsi = &c->wsi;
    if (lws_client_connect_via_info(&ci) == NULL) {
        /* lws may have reported CONNECTION_ERROR already; it then freed nothing of ours. */
        snprintf(err, errlen, "connect to %s:%d refused at once", t->host, t->port);
        conn_free(c);
        return NULL;
    }
    return c;
}

static int set_request(struct hc_conn *c, const char *req, size_t len)
{
    unsigned char *out = malloc(LWS_PRE + len);
    if (out == NULL)
        return -1;
    memcpy(out + LWS_PRE, req, len);
    free(c->out);
    c->out = out;
    c->out_len = len;
    c->written = 0;
    c->got_bytes = 0;
    c->fresh = 1;
    return 0;
}

int hc_request(struct hc_ctx *x, struct hc_conn **slot, const struct hc_target *t, const char *req,
               size_t len, hc_done_fn done, void *owner, char *err, size_t errlen)
{
    struct hc_conn *c = *slot;
    if (c && (c->done || c->closing)) {
        snprintf(err, errlen, "connection busy");
        return -1;
    }
    if (c == NULL) {
        c = conn_open(x, t, err, errlen);
        if (c == NULL)
            return -1;
        c->slot = slot;
        *slot = c;
    } else {
        c->reused = 1;
    }
    if (set_request(c, req, len) != 0) {
        snprintf(err, errlen, "out of memory");
        hc_drop(slot);
        return -1;
    }
    c->done = done;
    c->owner = owner;
    c->retried = 0;
    if (c->connected)
        lws_callback_on_writable(c->wsi);
    return 0;
}

int hc_busy(struct hc_conn *const *slot)
{
    return *slot != NULL && (*slot)->done != NULL;
}

void hc_drop(struct hc_conn **slot)
{
    struct hc_conn *c = *slot;
    if (c == NULL)
        return;
    c->done = NULL;
    c->owner = NULL;
    detach(c);
    close_async(c);
}

int hc_count(const struct hc_ctx *x)
{
    return x->count;
}

/* Ends the request in flight with resp or error; the connection stays in its slot if kept. */
static void finish(struct hc_conn *c, const struct h1_resp *resp, const char *error, int keep)
{
    hc_done_fn done = c->done;
    void *owner = c->owner;
    c->done = NULL;
    c->owner = NULL;
    free(c->out);
    c->out = NULL;
    if (!keep) {
        detach(c);
        close_async(c);
    }
    if (done)
        done(owner, resp, error);
}

/*
 * The connection failed or closed with a request in flight. A reused connection that the
 * server closed before answering gets one more try on a new connection.
 */
static void failed(struct hc_conn *c, const char *why)
{
    if (c->done == NULL)
        return;
    if (c->reused && !c->got_bytes && !c->retried && c->out) {
        char err[96];
        struct hc_conn *n = conn_open(c->x, &c->t, err, sizeof err);
        if (n) {
            n->out = c->out;
            n->out_len = c->out_len;
            n->done = c->done;
            n->owner = c->owner;
            n->retried = 1;
            n->fresh = 1;
            n->slot = c->slot;
            if (n->slot)
                *n->slot = n;
            c->slot = NULL;
            c->out = NULL;
            c->done = NULL;
            c->owner = NULL;
            return;
        }
    }
    finish(c, NULL, why, 0);
}

static void on_rx(struct hc_conn *c, const char *in, size_t len)
{
    if (c->done == NULL) {
        close_async(c); /* bytes nobody asked for */
        detach(c);
        return;
    }
    if (c->fresh) {
        h1_reset(&c->resp);
        c->fresh = 0;
    }
    c->got_bytes = 1;
    size_t used;
    enum h1_result r = h1_feed(&c->resp, in, len, &used);
    if (r == H1_ERROR)
        finish(c, NULL, c->resp.err, 0);
    else if (r == H1_DONE)
        finish(c, &c->resp, NULL, c->resp.keep_alive && used == len);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct hc_conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED:
        if (c == NULL)
            return -1;
        c->connected = 1;
        if (c->closing)
            return -1;
        if (c->done)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE:
        if (c == NULL || c->closing)
            return -1;
        if (c->done && c->out && !c->written) {
            c->written = 1;
            if (lws_write(wsi, c->out + LWS_PRE, c->out_len, LWS_WRITE_RAW) < (int)c->out_len) {
                failed(c, "write failed");
                return -1;
            }
        }
        return 0;
    case LWS_CALLBACK_RAW_RX:
        if (c == NULL || c->closing)
            return c ? 0 : -1;
        on_rx(c, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) {
            char why[128];
            snprintf(why, sizeof why, "connect: %.*s", in ? (int)len : 7,
                     in ? (const char *)in : "failed");
            c->wsi = NULL;
            failed(c, why);
            detach(c);
            lws_set_wsi_user(wsi, NULL);
            conn_free(c);
        }
        return 0;
    case LWS_CALLBACK_RAW_CLOSE:
        if (c) {
            c->wsi = NULL;
            c->closing = 1;
            if (c->done && !c->got_bytes)
                failed(c, "connection closed before a response");
            else if (c->done && h1_eof(&c->resp) == H1_DONE)
                finish(c, &c->resp, NULL, 0);
            else if (c->done)
                finish(c, NULL, c->resp.err, 0);
            detach(c);
            lws_set_wsi_user(wsi, NULL);
            conn_free(c);
        }
        return 0;
    default:
        return 0;
    }
}

struct hc_ctx *hc_ctx_new(struct lws_context *lc, size_t max_body, char *err, size_t errlen)
{
    static const struct lws_protocols protocols[] = {
        {proto_name, callback, 0, 4096, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    struct hc_ctx *x = calloc(1, sizeof *x);
    if (x == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.vhost_name = proto_name;
    x->lc = lc;
    x->max_body = max_body;
    x->vh = lws_create_vhost(lc, &info);
    if (x->vh == NULL) {
        snprintf(err, errlen, "cannot create the HTTP client vhost");
        free(x);
        return NULL;
    }
    return x;
}

void hc_ctx_free(struct hc_ctx *x)
{
    free(x);
}
