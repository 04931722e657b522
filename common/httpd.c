#include "httpd.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "jsonx.h"
#include "log.h"

struct httpd {
    struct httpd_config cfg;
    struct MHD_Daemon *d;
    int port;
    struct metric *m_class[6]; /* index = status / 100 */
};

int httpd_secret_equal(const char *presented, const char *expected)
{
    size_t pl = strlen(presented), el = strlen(expected);
    unsigned char d = (unsigned char)(pl != el);
    for (size_t i = 0; i < el; i++)
        d |= (unsigned char)((i < pl ? presented[i] : 0) ^ expected[i]);
    return d == 0;
}

/* Per-request state kept across libmicrohttpd's calls for one request. */
struct req_state {
    const struct httpd_route *route;
    char *body;
    size_t len, cap;
    int too_big;
    struct timespec start;
};

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

void httpd_reply_json(struct httpd_response *resp, int status, json_t *v)
{
    free(resp->body);
    resp->status = status;
    resp->body = v ? jsonx_dump(v, &resp->len) : NULL;
    if (resp->body == NULL)
        resp->len = 0;
    resp->content_type = "application/json";
    json_decref(v);
}

void httpd_reply_error(struct httpd_response *resp, int status, const char *code, const char *fmt,
                       ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(resp->body);
    resp->status = status;
    resp->body = jsonx_error_body(code, msg, &resp->len);
    if (resp->body == NULL)
        resp->len = 0;
    resp->content_type = "application/json";
}

void httpd_reply_text(struct httpd_response *resp, int status, const char *content_type,
                      const char *text, size_t len)
{
    free(resp->body);
    resp->status = status;
    resp->body = malloc(len + 1);
    if (resp->body) {
        memcpy(resp->body, text, len);
        resp->body[len] = '\0';
        resp->len = len;
    } else {
        resp->len = 0;
    }
    resp->content_type = content_type;
}

void httpd_add_header(struct httpd_response *resp, const char *name, const char *value)
{
    if (resp->nheaders >= HTTPD_MAX_HEADERS)
        return;
    resp->headers[resp->nheaders][0] = strdup(name);
    resp->headers[resp->nheaders][1] = strdup(value);
    resp->nheaders++;
}

const char *httpd_header(const struct httpd_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *httpd_query(const struct httpd_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result send_response(struct httpd *h, struct MHD_Connection *conn,
                                     struct httpd_response *resp)
{
    if (resp->status >= 100 && resp->status < 600)
        metric_inc(h->m_class[resp->status / 100]);
    const char *body = resp->body ? resp->body : "";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(resp->len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_NO;
    if (r != NULL) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type : "application/json");
        for (int i = 0; i < resp->nheaders; i++)
            if (resp->headers[i][0] && resp->headers[i][1])
                MHD_add_response_header(r, resp->headers[i][0], resp->headers[i][1]);
        ret = MHD_queue_response(conn, (unsigned)resp->status, r);
        MHD_destroy_response(r);
    }
    free(resp->body);
    for (int i = 0; i < resp->nheaders; i++) {
        free(resp->headers[i][0]);
        free(resp->headers[i][1]);
    }
    return ret;
}

static enum MHD_Result reply_error_now(struct httpd *h, struct MHD_Connection *conn, int status,
                                       const char *code, const char *msg, const char *allow)
{
    struct httpd_response resp = {0};
    httpd_reply_error(&resp, status, code, "%s", msg);
    if (allow)
        httpd_add_header(&resp, "Allow", allow);
    return send_response(h, conn, &resp);
}

static int path_matches(const struct httpd_route *r, const char *path)
{
    if (r->prefix)
        return strncmp(path, r->path, strlen(r->path)) == 0;
    return strcmp(path, r->path) == 0;
}

static int is_json_type(const char *ct)
{
    if (ct == NULL)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* First call for a request: route it and check what can be checked from the headers. */
static enum MHD_Result start_request(struct httpd *h, struct MHD_Connection *conn, const char *url,
                                     const char *method, void **con_cls)
{
    const struct httpd_route *route = NULL;
    char allow[128] = "";
    for (size_t i = 0; i < h->cfg.nroutes; i++) {
        const struct httpd_route *r = &h->cfg.routes[i];
        if (!path_matches(r, url))
            continue;
        if (strcmp(r->method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
            route = r;
            break;
        }
        if (strstr(allow, r->method) == NULL &&
            strlen(allow) + strlen(r->method) + 3 < sizeof allow) {
            if (*allow)
                strcat(allow, ", ");
            strcat(allow, r->method);
        }
    }
    if (route == NULL && *allow) {
        char msg[320];
        snprintf(msg, sizeof msg, "method %.16s not allowed on %.64s; allowed: %s", method, url,
                 allow);
        return reply_error_now(h, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", msg,
                               allow);
    }
    if (route == NULL) {
        char msg[200];
        snprintf(msg, sizeof msg, "no such endpoint: %.120s", url);
        return reply_error_now(h, conn, MHD_HTTP_NOT_FOUND, "not_found", msg, NULL);
    }
    if (route->auth && h->cfg.bearer_token) {
        const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0 ||
            !httpd_secret_equal(a + 7, h->cfg.bearer_token)) {
            struct httpd_response resp = {0};
            httpd_reply_error(&resp, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                              a ? "bad bearer token" : "missing Authorization: Bearer token");
            httpd_add_header(&resp, "WWW-Authenticate", "Bearer");
            return send_response(h, conn, &resp);
        }
    }
    if (route->json_body) {
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (!is_json_type(ct)) {
            char msg[200];
            snprintf(msg, sizeof msg, "Content-Type must be application/json, got '%.64s'",
                     ct ? ct : "(none)");
            return reply_error_now(h, conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                   "unsupported_media_type", msg, NULL);
        }
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > h->cfg.max_body) {
        char msg[200];
        snprintf(msg, sizeof msg, "body of %.20s bytes exceeds the limit of %zu bytes", cl,
                 h->cfg.max_body);
        return reply_error_now(h, conn, 413, "body_too_large", msg, NULL);
    }
    struct req_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return MHD_NO;
    st->route = route;
    clock_gettime(CLOCK_MONOTONIC, &st->start);
    *con_cls = st;
    return MHD_YES;
}

static enum MHD_Result take_body(struct httpd *h, struct req_state *st, const char *data,
                                 size_t *size)
{
    size_t n = *size;
    *size = 0;
    long limit = h->cfg.body_timeout_ms > 0 ? h->cfg.body_timeout_ms : 10000;
    if (elapsed_ms(&st->start) > 2 * limit)
        return MHD_NO; /* a drip far past the deadline: drop the connection */
    if (st->too_big || st->len + n > h->cfg.max_body) {
        st->too_big = 1;
        return MHD_YES; /* keep reading (and discarding) to answer 413 at the end */
    }
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 1024;
        while (cap < st->len + n + 1)
            cap *= 2;
        char *b = realloc(st->body, cap);
        if (b == NULL)
            return MHD_NO;
        st->body = b;
        st->cap = cap;
    }
    memcpy(st->body + st->len, data, n);
    st->len += n;
    st->body[st->len] = '\0';
    return MHD_YES;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct httpd *h = cls;
    struct req_state *st = *con_cls;
    if (st == NULL)
        return start_request(h, conn, url, method, con_cls);
    if (*upload_data_size > 0)
        return take_body(h, st, upload_data, upload_data_size);

    long limit = h->cfg.body_timeout_ms > 0 ? h->cfg.body_timeout_ms : 10000;
    if (st->too_big) {
        char msg[160];
        snprintf(msg, sizeof msg, "body exceeds the limit of %zu bytes", h->cfg.max_body);
        return reply_error_now(h, conn, 413, "body_too_large", msg, NULL);
    }
    if (st->len > 0 && elapsed_ms(&st->start) > limit) {
        char msg[160];
        snprintf(msg, sizeof msg, "request body took longer than %ld ms to arrive", limit);
        return reply_error_now(h, conn, MHD_HTTP_REQUEST_TIMEOUT, "body_timeout", msg, NULL);
    }
    struct httpd_request req = {
        .method = method,
        .path = url,
        .body = st->body ? st->body : "",
        .body_len = st->len,
        .conn = conn,
    };
    struct httpd_response resp = {.status = 500};
    st->route->fn(&req, &resp, h->cfg.ud);
    if (resp.body == NULL && resp.status >= 400)
        httpd_reply_error(&resp, resp.status, "error", "request failed");
    return send_response(h, conn, &resp);
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct req_state *st = *con_cls;
    if (st) {
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct httpd *h = cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    LOG_DEBUG("mhd server=%s text=\"%s\"", h->cfg.name ? h->cfg.name : "http", line);
}

struct httpd *httpd_new(const struct httpd_config *c, char *err, size_t errlen)
{
    struct httpd *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->cfg = *c;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)c->port);
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    if (c->bind && *c->bind && inet_pton(AF_INET, c->bind, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "bind address '%s' is not an IPv4 address", c->bind);
        free(h);
        return NULL;
    }
    if (c->metrics) {
        static const char *classes[] = {"", "1xx", "2xx", "3xx", "4xx", "5xx"};
        for (int i = 1; i < 6; i++) {
            char labels[32];
            snprintf(labels, sizeof labels, "class=\"%s\"", classes[i]);
            h->m_class[i] = metrics_add(c->metrics, METRIC_COUNTER, "http_responses_total", labels,
                                        "HTTP responses by status class.");
        }
    }
    unsigned threads = c->threads ? c->threads : 2;
    unsigned maxc = c->max_connections ? c->max_connections : 1024;
    if (c->thread_per_connection) {
        h->d = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                MHD_USE_ITC | MHD_USE_ERROR_LOG,
            (uint16_t)c->port, NULL, NULL, access_cb, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, maxc,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
            (size_t)64 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
            MHD_OPTION_THREAD_STACK_SIZE, (size_t)256 * 1024, MHD_OPTION_NOTIFY_COMPLETED,
            completed_cb, h, MHD_OPTION_END);
    } else {
        h->d = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
            (uint16_t)c->port, NULL, NULL, access_cb, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
            MHD_OPTION_CONNECTION_LIMIT, maxc, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE,
            (unsigned)1024, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, h, MHD_OPTION_END);
    }
    if (h->d == NULL) {
        snprintf(err, errlen, "cannot listen for HTTP on %s:%d (address in use?)",
                 (c->bind && *c->bind) ? c->bind : "0.0.0.0", c->port);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : c->port;
    return h;
}

void httpd_quiesce(struct httpd *h)
{
    if (h && h->d) {
        MHD_socket s = MHD_quiesce_daemon(h->d);
        if (s != MHD_INVALID_SOCKET)
            close(s);
    }
}

void httpd_free(struct httpd *h)
{
    if (h == NULL)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    free(h);
}

int httpd_port(const struct httpd *h)
{
    return h->port;
}
