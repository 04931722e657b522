#include "httpd.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "httpd_linger.h"
#include "jsonx.h"
#include "log.h"

/* Lingering bounds. Discarding costs no memory (MSG_TRUNC) and little CPU, so the byte bound
 * is generous: Node's fetch may write a whole 100 MB body before it reads the answer, and
 * on loopback that takes well under a second; 10 s and 2 s of silence bound slow senders. */
#define HTTPD_DRAIN_MAX_DEFAULT ((size_t)1024 * 1024 * 1024)
#define HTTPD_DRAIN_MS_DEFAULT 10000L
#define HTTPD_DRAIN_IDLE_MS 2000L
#define HTTPD_MAX_DRAINING_DEFAULT 64u

struct httpd {
    struct httpd_config cfg;
    struct MHD_Daemon *d;
    struct httpd_linger *linger;
    int port;
    struct metric *m_class[6]; /* index = status / 100 */
    atomic_int active;         /* requests between their first call and their completion */
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

static void response_cleanup(struct httpd_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    for (int i = 0; i < resp->nheaders; i++) {
        free(resp->headers[i][0]);
        free(resp->headers[i][1]);
    }
    resp->nheaders = 0;
}

static void count_status(struct httpd *h, int status)
{
    if (status >= 100 && status < 600)
        metric_inc(h->m_class[status / 100]);
}

static enum MHD_Result send_response(struct httpd *h, struct MHD_Connection *conn,
                                     struct httpd_response *resp)
{
    count_status(h, resp->status);
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
    response_cleanup(resp);
    return ret;
}

/* 1 when the request announces a body (Content-Length above 0, or any Transfer-Encoding). */
static int request_has_body(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
    return te != NULL || (cl != NULL && strtoull(cl, NULL, 10) > 0);
}

/*
 * Writes resp straight to the client's socket as a complete HTTP/1.1 answer with
 * Connection: close. libmicrohttpd 0.9.75 only queues a response before the body or after
 * all of it, and then closes with the body unread; this is how a refusal in the middle of a
 * body (or one that must not be followed by an abortive close) reaches the client. Nothing
 * else is being written on the socket at that point: no response is queued yet.
 * Returns 0 when all of it was accepted by the kernel.
 */
static int write_raw(int fd, const char *method, const struct httpd_response *resp)
{
    char head[1024];
    const char *reason = MHD_get_reason_phrase_for((unsigned)resp->status);
    int head_only = strcmp(method, "HEAD") == 0;
    size_t blen = resp->body ? resp->len : 0;
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n",
                     resp->status, reason && *reason ? reason : "Error",
                     resp->content_type ? resp->content_type : "application/json", blen);
    for (int i = 0; i < resp->nheaders && n > 0 && (size_t)n < sizeof head; i++)
        if (resp->headers[i][0] && resp->headers[i][1])
            n += snprintf(head + n, sizeof head - (size_t)n, "%s: %s\r\n", resp->headers[i][0],
                          resp->headers[i][1]);
    if (n < 0 || (size_t)n + 2 >= sizeof head)
        return -1;
    memcpy(head + n, "\r\n", 2);
    n += 2;
    struct iovec iov[2] = {{head, (size_t)n}, {resp->body, head_only ? 0 : blen}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    return w == (ssize_t)(iov[0].iov_len + iov[1].iov_len) ? 0 : -1;
}

/*
 * Answers a request that is refused while its body has not been read (all of it, or any of
 * it): the answer is written at once, and the connection is closed lingeringly (see
 * httpd_linger.h) so that the unread body does not turn the close into a reset that would
 * destroy the answer. Without a body pending it is an ordinary early response.
 */
static enum MHD_Result refuse(struct httpd *h, struct MHD_Connection *conn, const char *method,
                              struct httpd_response *resp, int body_pending)
{
    if (!body_pending)
        return send_response(h, conn, resp);
    count_status(h, resp->status);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci != NULL && write_raw(ci->connect_fd, method, resp) == 0 && h->linger != NULL &&
        httpd_linger_add(h->linger, ci->connect_fd) != 0)
        LOG_DEBUG("linger_full server=%s status=%d", h->cfg.name ? h->cfg.name : "http",
                  resp->status);
    response_cleanup(resp);
    return MHD_NO; /* libmicrohttpd closes its descriptor; the lingering copy keeps the socket */
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

/* An error decided from the headers: refused lingeringly when a body follows. */
static enum MHD_Result refuse_error(struct httpd *h, struct MHD_Connection *conn,
                                    const char *method, int status, const char *code,
                                    const char *msg, const char *hname, const char *hvalue)
{
    struct httpd_response resp = {0};
    httpd_reply_error(&resp, status, code, "%s", msg);
    if (hname)
        httpd_add_header(&resp, hname, hvalue);
    return refuse(h, conn, method, &resp, request_has_body(conn));
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
struct framing {
    int cl_count;
    int cl_differ;
    char cl_first[32];
};

static enum MHD_Result count_lengths(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (strcasecmp(key, "Content-Length") == 0) {
        if (f->cl_count++ == 0)
            snprintf(f->cl_first, sizeof f->cl_first, "%s", value ? value : "");
        else if (value == NULL || strcmp(value, f->cl_first) != 0)
            f->cl_differ = 1;
    }
    return MHD_YES;
}

/*
 * How the body is framed, checked before anything else (RFC 9112 section 6): libmicrohttpd
 * 0.9.75 takes the first of two different Content-Length headers, lets Transfer-Encoding win
 * over Content-Length and keeps the connection, and waits forever on a transfer coding it
 * does not know. Each of those lets a proxy and this server disagree on where a request
 * ends (request smuggling), so each is refused, and the connection closed.
 * Returns 0, or the status with a message.
 */
static int framing_error(struct MHD_Connection *conn, char *msg, size_t msglen)
{
    struct framing f = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_lengths, &f);
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
    if (f.cl_differ) {
        snprintf(msg, msglen, "conflicting Content-Length headers");
        return MHD_HTTP_BAD_REQUEST;
    }
    if (te != NULL && f.cl_count > 0) {
        snprintf(msg, msglen, "both Content-Length and Transfer-Encoding");
        return MHD_HTTP_BAD_REQUEST;
    }
    if (te != NULL && strcasecmp(te, "chunked") != 0) {
        snprintf(msg, msglen, "Transfer-Encoding '%.40s' is not supported (only chunked)", te);
        return MHD_HTTP_NOT_IMPLEMENTED;
    }
    return 0;
}

static enum MHD_Result start_request(struct httpd *h, struct MHD_Connection *conn, const char *url,
                                     const char *method, void **con_cls)
{
    char fmsg[96];
    int fst = framing_error(conn, fmsg, sizeof fmsg);
    if (fst != 0) {
        struct httpd_response resp = {0};
        httpd_reply_error(&resp, fst,
                          fst == MHD_HTTP_NOT_IMPLEMENTED ? "not_implemented" : "bad_request", "%s",
                          fmsg);
        return refuse(h, conn, method, &resp, 1); /* the connection must not be reused */
    }
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
        return refuse_error(h, conn, method, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", msg,
                            "Allow", allow);
    }
    if (route == NULL) {
        char msg[200];
        snprintf(msg, sizeof msg, "no such endpoint: %.120s", url);
        return refuse_error(h, conn, method, MHD_HTTP_NOT_FOUND, "not_found", msg, NULL, NULL);
    }
    if (route->auth && h->cfg.bearer_token) {
        const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0 ||
            !httpd_secret_equal(a + 7, h->cfg.bearer_token))
            return refuse_error(h, conn, method, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                                a ? "bad bearer token" : "missing Authorization: Bearer token",
                                "WWW-Authenticate", "Bearer");
    }
    if (route->json_body) {
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (!is_json_type(ct)) {
            char msg[200];
            snprintf(msg, sizeof msg, "Content-Type must be application/json, got '%.64s'",
                     ct ? ct : "(none)");
            return refuse_error(h, conn, method, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                "unsupported_media_type", msg, NULL, NULL);
        }
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > h->cfg.max_body) {
        char msg[200];
        snprintf(msg, sizeof msg, "body of %.20s bytes exceeds the limit of %zu bytes", cl,
                 h->cfg.max_body);
        return refuse_error(h, conn, method, 413, "body_too_large", msg, NULL, NULL);
    }
    struct req_state *st = calloc(1, sizeof *st);
    if (st)
        atomic_fetch_add(&h->active, 1);
    if (st == NULL)
        return MHD_NO;
    st->route = route;
    clock_gettime(CLOCK_MONOTONIC, &st->start);
    *con_cls = st;
    return MHD_YES;
}

static enum MHD_Result take_body(struct httpd *h, struct MHD_Connection *conn, const char *method,
                                 struct req_state *st, const char *data, size_t *size)
{
    size_t n = *size;
    *size = 0;
    long limit = h->cfg.body_timeout_ms > 0 ? h->cfg.body_timeout_ms : 10000;
    char msg[160];
    if (elapsed_ms(&st->start) > limit) {
        snprintf(msg, sizeof msg, "request body took longer than %ld ms to arrive", limit);
        struct httpd_response resp = {0};
        httpd_reply_error(&resp, MHD_HTTP_REQUEST_TIMEOUT, "body_timeout", "%s", msg);
        return refuse(h, conn, method, &resp, 1);
    }
    if (st->len + n > h->cfg.max_body) {
        /* A chunked body (or one without a length) that outgrows the limit: answer now and
         * discard the rest while lingering, rather than read it all through the server. */
        snprintf(msg, sizeof msg, "body exceeds the limit of %zu bytes", h->cfg.max_body);
        struct httpd_response resp = {0};
        httpd_reply_error(&resp, 413, "body_too_large", "%s", msg);
        return refuse(h, conn, method, &resp, 1);
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
        return take_body(h, conn, method, st, upload_data, upload_data_size);

    long limit = h->cfg.body_timeout_ms > 0 ? h->cfg.body_timeout_ms : 10000;
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
    struct httpd *h = cls;
    (void)conn;
    (void)toe;
    struct req_state *st = *con_cls;
    if (st) {
        atomic_fetch_sub(&h->active, 1);
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
    struct httpd_linger_config lc = {
        .slots = c->max_draining ? c->max_draining : HTTPD_MAX_DRAINING_DEFAULT,
        .max_bytes = c->drain_max ? c->drain_max : HTTPD_DRAIN_MAX_DEFAULT,
        .max_ms = c->drain_ms > 0 ? c->drain_ms : HTTPD_DRAIN_MS_DEFAULT,
        .idle_ms = HTTPD_DRAIN_IDLE_MS,
        .metrics = c->metrics,
    };
    if (lc.idle_ms > lc.max_ms)
        lc.idle_ms = lc.max_ms;
    h->linger = httpd_linger_new(&lc, err, errlen);
    if (h->linger == NULL) {
        free(h);
        return NULL;
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
        httpd_linger_free(h->linger);
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

int httpd_wait_idle(struct httpd *h, long timeout_ms)
{
    if (h == NULL)
        return 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int n;
    while ((n = atomic_load(&h->active)) > 0 && elapsed_ms(&t0) < timeout_ms) {
        struct timespec nap = {0, 10 * 1000000L};
        nanosleep(&nap, NULL);
    }
    return n;
}

void httpd_free(struct httpd *h)
{
    if (h == NULL)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    httpd_linger_free(h->linger);
    free(h);
}

int httpd_port(const struct httpd *h)
{
    return h->port;
}
