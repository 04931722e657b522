#include "http1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    ST_HEAD = 0,
    ST_BODY_LEN,
    ST_BODY_CLOSE,
    ST_CHUNK_SIZE,
    ST_CHUNK_DATA,
    ST_CHUNK_CRLF,
    ST_TRAILER,
    ST_DONE
};

int h1_init(struct h1_resp *r, size_t max_body)
{
    memset(r, 0, sizeof *r);
    r->max_body = max_body;
    r->head_cap = 1024;
    r->head = malloc(r->head_cap);
    r->body_cap = 1024;
    r->body = malloc(r->body_cap);
    if (r->head == NULL || r->body == NULL) {
        h1_cleanup(r);
        return -1;
    }
    h1_reset(r);
    return 0;
}

void h1_reset(struct h1_resp *r)
{
    r->status = 0;
    r->keep_alive = 0;
    r->head_len = 0;
    r->head[0] = '\0';
    r->body_len = 0;
    r->body[0] = '\0';
    r->err[0] = '\0';
    r->state = ST_HEAD;
    r->http10 = r->close_hdr = r->chunked = 0;
    r->content_length = -1;
    r->chunk_left = 0;
    r->line_len = 0;
}

void h1_cleanup(struct h1_resp *r)
{
    free(r->head);
    free(r->body);
    r->head = r->body = NULL;
}

static enum h1_result fail(struct h1_resp *r, const char *why)
{
    snprintf(r->err, sizeof r->err, "%s", why);
    r->state = ST_DONE;
    return H1_ERROR;
}

static int grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap;
    while (n < need)
        n *= 2;
    char *q = realloc(*p, n);
    if (q == NULL)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int body_add(struct h1_resp *r, const char *in, size_t n)
{
    if (r->body_len + n > r->max_body)
        return -1;
    if (grow(&r->body, &r->body_cap, r->body_len + n + 1) != 0)
        return -1;
    memcpy(r->body + r->body_len, in, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

int h1_header(const struct h1_resp *r, const char *name, int index, const char **value,
              size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = strstr(r->head, "\r\n");
    while (p != NULL && p[2] != '\r' && p[2] != '\0') {
        const char *line = p + 2, *eol = strstr(line, "\r\n");
        if (eol == NULL)
            return 0;
        if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0 &&
            index-- == 0) {
            const char *v = line + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *e = eol;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            *value = v;
            *vlen = (size_t)(e - v);
            return 1;
        }
        p = eol;
    }
    return 0;
}

/* 1 when the comma-separated header value list contains token (case-insensitive). */
static int has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i < n;) {
        while (i < n && (v[i] == ' ' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && v[e - 1] == ' ')
            e--;
        if (e - s == tl && strncasecmp(v + s, token, tl) == 0)
            return 1;
    }
    return 0;
}

/* The header block is complete: status line, framing, connection. */
static enum h1_result parse_head(struct h1_resp *r)
{
    const char *h = r->head;
    if (strncmp(h, "HTTP/1.", 7) != 0 || (h[7] != '0' && h[7] != '1') || h[8] != ' ' ||
        h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9' ||
        (h[12] != ' ' && h[12] != '\r'))
        return fail(r, "malformed status line");
    r->http10 = h[7] == '0';
    r->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    const char *v;
    size_t vl;
    if (h1_header(r, "Transfer-Encoding", 0, &v, &vl))
        r->chunked = has_token(v, vl, "chunked");
    if (!r->chunked && h1_header(r, "Content-Length", 0, &v, &vl)) {
        long long n = 0;
        if (vl == 0 || vl > 15)
            return fail(r, "bad Content-Length");
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9')
                return fail(r, "bad Content-Length");
            n = n * 10 + (v[i] - '0');
        }
        r->content_length = n;
    }
    if (h1_header(r, "Connection", 0, &v, &vl)) {
        r->close_hdr = has_token(v, vl, "close");
        if (r->http10 && has_token(v, vl, "keep-alive"))
            r->http10 = 0; /* an HTTP/1.0 server that keeps the connection */
    }
    if (r->status < 200 && r->status >= 100)
        return fail(r, "informational responses are not expected");
    if (r->status == 204 || r->status == 304)
        r->content_length = 0;
    if (r->content_length >= 0 && (unsigned long long)r->content_length > r->max_body)
        return fail(r, "response body over the limit");
    if (r->chunked)
        r->state = ST_CHUNK_SIZE;
    else if (r->content_length >= 0)
        r->state = r->content_length == 0 ? ST_DONE : ST_BODY_LEN;
    else
        r->state = ST_BODY_CLOSE;
    return H1_MORE;
}

/* Reads a CRLF-terminated line of at most sizeof line into r->line. 1 when complete. */
static int read_line(struct h1_resp *r, const char *in, size_t len, size_t *i)
{
    while (*i < len) {
        char ch = in[(*i)++];
        if (ch == '\n') {
            if (r->line_len > 0 && r->line[r->line_len - 1] == '\r')
                r->line_len--;
            r->line[r->line_len] = '\0';
            return 1;
        }
        if (r->line_len + 1 >= sizeof r->line)
            return -1;
        r->line[r->line_len++] = ch;
    }
    return 0;
}

static enum h1_result done(struct h1_resp *r)
{
    r->state = ST_DONE;
    r->keep_alive = !r->http10 && !r->close_hdr;
    return H1_DONE;
}

enum h1_result h1_feed(struct h1_resp *r, const char *in, size_t len, size_t *used)
{
    size_t i = 0;
    *used = 0;
    while (i < len || r->state == ST_DONE) {
        switch (r->state) {
        case ST_HEAD:
            /* Byte by byte up to the blank line: header blocks are a few hundred bytes. */
            while (i < len && r->state == ST_HEAD) {
                if (r->head_len + 2 >= H1_HEAD_MAX)
                    return fail(r, "response headers over the limit");
                if (grow(&r->head, &r->head_cap, r->head_len + 2) != 0)
                    return fail(r, "out of memory");
                r->head[r->head_len++] = in[i++];
                r->head[r->head_len] = '\0';
                if (r->head_len >= 4 && memcmp(r->head + r->head_len - 4, "\r\n\r\n", 4) == 0 &&
                    parse_head(r) == H1_ERROR)
                    return H1_ERROR;
            }
            break;
        case ST_BODY_LEN: {
            size_t n = len - i;
            if ((long long)n > r->content_length - (long long)r->body_len)
                n = (size_t)(r->content_length - (long long)r->body_len);
            if (body_add(r, in + i, n) != 0)
                return fail(r, "response body over the limit");
            i += n;
            if ((long long)r->body_len == r->content_length)
                r->state = ST_DONE;
            break;
        }
        case ST_BODY_CLOSE:
            if (body_add(r, in + i, len - i) != 0)
                return fail(r, "response body over the limit");
            i = len;
            break;
        case ST_CHUNK_SIZE: {
            int rc = read_line(r, in, len, &i);
            if (rc < 0)
                return fail(r, "malformed chunk size");
            if (rc == 0)
                break;
            char *end;
            long long n = strtoll(r->line, &end, 16);
            if (end == r->line || n < 0 || (*end != '\0' && *end != ';' && *end != ' '))
                return fail(r, "malformed chunk size");
            r->line_len = 0;
            if (n == 0) {
                r->state = ST_TRAILER;
            } else {
                if ((unsigned long long)n > r->max_body - r->body_len)
                    return fail(r, "response body over the limit");
                r->chunk_left = n;
                r->state = ST_CHUNK_DATA;
            }
            break;
        }
        case ST_CHUNK_DATA: {
            size_t n = len - i;
            if ((long long)n > r->chunk_left)
                n = (size_t)r->chunk_left;
            if (body_add(r, in + i, n) != 0)
                return fail(r, "response body over the limit");
            i += n;
            r->chunk_left -= (long long)n;
            if (r->chunk_left == 0)
                r->state = ST_CHUNK_CRLF;
            break;
        }
        case ST_CHUNK_CRLF:
        case ST_TRAILER: {
            int rc = read_line(r, in, len, &i);
            if (rc < 0)
                return fail(r, "malformed chunked body");
            if (rc == 0)
                break;
            int empty = r->line_len == 0;
            r->line_len = 0;
            if (r->state == ST_CHUNK_CRLF) {
                if (!empty)
                    return fail(r, "malformed chunked body");
                r->state = ST_CHUNK_SIZE;
            } else if (empty) {
                r->state = ST_DONE; /* trailer lines are skipped */
            }
            break;
        }
        case ST_DONE:
            *used = i;
            if (r->err[0])
                return H1_ERROR;
            return done(r);
        }
    }
    *used = i;
    return H1_MORE;
}

enum h1_result h1_eof(struct h1_resp *r)
{
    if (r->state == ST_BODY_CLOSE) {
        r->state = ST_DONE;
        r->keep_alive = 0;
        return H1_DONE;
    }
    if (r->state == ST_DONE && !r->err[0])
        return H1_DONE;
    return fail(r, r->head_len == 0 ? "connection closed before a response"
                                    : "connection closed in the middle of a response");
}
