/*
 * hub_poll_http — HTTP answers of the Socket.IO long-polling transport: status, headers,
 * the CORS headers the Socket.IO server sends (cors {origin: true, credentials: true}: the
 * request's Origin echoed, credentials allowed, preflight answered 204), and the Engine.IO
 * error bodies. lws service thread only.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "eio_poll.h"
#include "hub_poll.h"
#include "log.h"

#define ORIGIN_MAX 256

/* The Origin header when present and made of visible ASCII; "" when absent; NULL when bad. */
static const char *origin_of(struct lws *wsi, char *buf, size_t len)
{
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (n <= 0)
        return "";
    if ((size_t)n >= len || lws_hdr_copy(wsi, buf, (int)len, WSI_TOKEN_ORIGIN) != n)
        return NULL;
    for (int i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x21 || (unsigned char)buf[i] > 0x7e)
            return NULL;
    return buf;
}

int hub_http_origin_ok(struct lws *wsi)
{
    char buf[ORIGIN_MAX];
    return origin_of(wsi, buf, sizeof buf) != NULL;
}

/* Whether origin (non-empty) is one of the comma-separated list's entries, exactly. */
static int listed(const char *list, const char *origin)
{
    size_t ol = strlen(origin);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && *p == ' ')
            p++, n--;
        while (n && p[n - 1] == ' ')
            n--;
        if ((n == 1 && *p == '*') || (n == ol && strncasecmp(p, origin, n) == 0))
            return 1;
        p += n;
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
    }
    return 0;
}

int hub_origin_allowed(struct hub *h, struct lws *wsi)
{
    const char *list = h->cfg.cors_origins;
    if (list == NULL || *list == '\0')
        return 1;
    char buf[ORIGIN_MAX];
    const char *o = origin_of(wsi, buf, sizeof buf);
    if (o != NULL && (*o == '\0' || listed(list, o)))
        return 1;
    metric_inc(h->m_origin_refused);
    LOG_INFO("origin_refused hub=%s origin=\"%.80s\"", h->cfg.name, o ? o : "(malformed)");
    return 0;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

static int add_cors(struct lws *wsi, unsigned char **p, unsigned char *end)
{
    char origin[ORIGIN_MAX];
    const char *o = origin_of(wsi, origin, sizeof origin);
    const struct hub *h = lws_context_user(lws_get_context(wsi));
    if (o && *o && h && h->cfg.cors_origins && *h->cfg.cors_origins &&
        !listed(h->cfg.cors_origins, o))
        o = NULL; /* not one of the allowed origins: no CORS grant */
    if (o && *o &&
        (add_header(wsi, "access-control-allow-origin:", o, p, end) ||
         add_header(wsi, "access-control-allow-credentials:", "true", p, end)))
        return -1;
    return add_header(wsi, "vary:", "Origin", p, end);
}

/* The request asked to close the connection after the answer: say so in the answer too
 * (lws closes it; a client that is not told may send its next request on it). */
static int add_connection(struct lws *wsi, unsigned char **p, unsigned char *end)
{
    char conn[32];
    if (lws_hdr_copy(wsi, conn, sizeof conn, WSI_TOKEN_CONNECTION) > 0 &&
        strcasecmp(conn, "close") == 0)
        return add_header(wsi, "connection:", "close", p, end);
    return 0;
}

int hub_http_send(struct lws *wsi, int status, const char *ctype, const char *body, size_t len,
                  int cors)
{
    unsigned char hdr[LWS_PRE + 2048];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    if (lws_add_http_header_status(wsi, (unsigned)status, &p, end))
        return -1;
    if (ctype &&
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, (const unsigned char *)ctype,
                                     (int)strlen(ctype), &p, end))
        return -1;
    if (lws_add_http_header_content_length(wsi, len, &p, end))
        return -1;
    if (add_header(wsi, "cache-control:", "no-store", &p, end))
        return -1;
    if (cors && add_cors(wsi, &p, end))
        return -1;
    if (add_connection(wsi, &p, end) || lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (len == 0)
        return 0;
    /* lws_write wants LWS_PRE bytes of headroom before what it sends. */
    if (len <= 512) {
        unsigned char b[LWS_PRE + 512];
        memcpy(b + LWS_PRE, body, len);
        return lws_write(wsi, b + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) < 0 ? -1 : 0;
    }
    return lws_write(wsi, (unsigned char *)body, len, LWS_WRITE_HTTP_FINAL) < 0 ? -1 : 0;
}

static size_t error_body(char *buf, size_t len, int code, const char *detail)
{
    int n = detail ? snprintf(buf, len, "{\"code\":%d,\"message\":\"%s\",\"detail\":\"%s\"}", code,
                              eio_error_message((enum eio_error)code), detail)
                   : snprintf(buf, len, "{\"code\":%d,\"message\":\"%s\"}", code,
                              eio_error_message((enum eio_error)code));
    return n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n;
}

int hub_http_error_status(struct lws *wsi, int status, int code, const char *detail)
{
    char body[256];
    size_t n = error_body(body, sizeof body, code, detail);
    return hub_http_send(wsi, status, "application/json", body, n, 1);
}

int hub_http_error(struct lws *wsi, int code, const char *detail)
{
    return hub_http_error_status(wsi, eio_error_status((enum eio_error)code), code, detail);
}

int hub_http_file(struct lws *wsi, const struct hub_file *f, int head_only)
{
    unsigned char hdr[LWS_PRE + 2048];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    char inm[128];
    int not_modified = 0;
    if (f->etag && lws_hdr_copy(wsi, inm, sizeof inm, WSI_TOKEN_HTTP_IF_NONE_MATCH) > 0) {
        /* The strong tag, or its weak form W/"..." */
        not_modified = strcmp(inm, f->etag) == 0 ||
                       (strncmp(inm, "W/", 2) == 0 && strcmp(inm + 2, f->etag) == 0);
    }
    size_t len = not_modified ? 0 : f->len;
    if (lws_add_http_header_status(wsi, not_modified ? 304 : 200, &p, end) ||
        (!not_modified && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                                       (const unsigned char *)f->content_type,
                                                       (int)strlen(f->content_type), &p, end)) ||
        lws_add_http_header_content_length(wsi, len, &p, end) ||
        (f->etag && add_header(wsi, "etag:", f->etag, &p, end)) ||
        (f->cache_control && add_header(wsi, "cache-control:", f->cache_control, &p, end)) ||
        add_cors(wsi, &p, end) || add_connection(wsi, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (len == 0 || head_only)
        return 0;
    /* lws copies what the socket does not take at once. The body needs LWS_PRE of headroom,
     * which a borrowed buffer may not have: send it through a bounce buffer. */
    unsigned char bounce[LWS_PRE + 16384];
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < 16384 ? len - off : 16384;
        memcpy(bounce + LWS_PRE, f->body + off, n);
        off += n;
        /* A short count only means lws buffered the rest (it sends it in order). */
        if (lws_write(wsi, bounce + LWS_PRE, n,
                      off == len ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0)
            return -1;
    }
    return 0;
}

int hub_http_preflight(struct lws *wsi)
{
    unsigned char hdr[LWS_PRE + 2048];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    char want[512];
    int n = lws_hdr_copy(wsi, want, sizeof want, WSI_TOKEN_HTTP_AC_REQUEST_HEADERS);
    if (lws_add_http_header_status(wsi, 204, &p, end) || add_cors(wsi, &p, end) ||
        add_header(wsi, "access-control-allow-methods:", "GET,HEAD,PUT,PATCH,POST,DELETE", &p, end))
        return -1;
    if (n > 0) {
        for (int i = 0; i < n; i++)
            if ((unsigned char)want[i] < 0x20 || (unsigned char)want[i] > 0x7e)
                return hub_http_error(wsi, EIO_ERR_BAD_REQUEST,
                                      "bad access-control-request-headers");
        if (add_header(wsi, "access-control-allow-headers:", want, &p, end) ||
            add_header(wsi, "vary:", "Access-Control-Request-Headers", &p, end))
            return -1;
    }
    if (lws_add_http_header_content_length(wsi, 0, &p, end) || add_connection(wsi, &p, end))
        return -1;
    return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

void hub_http_defer(struct lws *wsi, int status, const char *ctype, const char *body, size_t len)
{
    struct hub_http *x = lws_wsi_user(wsi);
    if (x == NULL)
        return;
    if (len > sizeof x->reply)
        len = sizeof x->reply;
    x->kind = HTTP_REPLY;
    x->s = NULL;
    x->status = status;
    x->ctype = ctype;
    memcpy(x->reply, body, len);
    x->rlen = (unsigned short)len;
    lws_callback_on_writable(wsi);
}

int hub_http_done(struct lws *wsi)
{
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

const char *hub_http_arg(struct lws *wsi, const char *name, char *out, size_t outlen)
{
    /* Walks the query arguments one fragment at a time (lws_get_urlarg_by_name stops at the
     * first that does not fit its buffer; this one holds any: lws caps the whole header block
     * at 4 KiB). A value of the argument asked for that is longer than outlen is reported as
     * present but unusable: out gets "\x01", which matches nothing valid. */
    size_t nl = strlen(name);
    char buf[4200];
    for (int i = 0; i < 64; i++) {
        int fl = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (fl <= 0)
            return NULL;
        if ((size_t)fl >= sizeof buf) {
            continue;
        }
        if (lws_hdr_copy_fragment(wsi, buf, (int)sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
            return NULL;
        if (strncmp(buf, name, nl) != 0)
            continue;
        size_t vl = strlen(buf + nl);
        if (vl >= outlen) {
            if (outlen < 2)
                return NULL;
            out[0] = '\x01'; /* present, but longer than anything valid */
            out[1] = '\0';
            return out;
        }
        memcpy(out, buf + nl, vl + 1);
        return out;
    }
    return NULL;
}
