#include "client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim.h"
#include "wire.h"

int client_connect(const char *host, int port, int timeout_ms)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    int64_t until = msim_now_ms() + timeout_ms;
    do {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        close(fd);
        usleep(20000);
    } while (msim_now_ms() < until);
    return -1;
}

int client_send(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Reads exactly n bytes before the deadline. Returns 0, or -1. */
static int read_full(int fd, uint8_t *p, size_t n, int64_t until)
{
    while (n > 0) {
        int64_t left = until - msim_now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            return -1;
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int32_t rd32le(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

int client_read_reply(int fd, bson_t *reply, int timeout_ms)
{
    struct client_reply_info info;
    return client_read_reply_info(fd, reply, &info, timeout_ms);
}

int client_read_reply_info(int fd, bson_t *reply, struct client_reply_info *info, int timeout_ms)
{
    int64_t until = msim_now_ms() + timeout_ms;
    uint8_t hdr[WIRE_HEADER_LEN];
    if (read_full(fd, hdr, sizeof hdr, until) != 0)
        return -1;
    uint32_t len =
        (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
    int op = hdr[12] | hdr[13] << 8;
    if (len < WIRE_HEADER_LEN + 5 || len > WIRE_MAX_MESSAGE)
        return -1;
    uint8_t *body = malloc(len - WIRE_HEADER_LEN);
    if (body == NULL || read_full(fd, body, len - WIRE_HEADER_LEN, until) != 0) {
        free(body);
        return -1;
    }
    size_t off = op == WIRE_OP_MSG ? 5 : op == WIRE_OP_REPLY ? 20 : (size_t)-1;
    info->request_id = rd32le(hdr + 4);
    info->response_to = rd32le(hdr + 8);
    info->flags = op == WIRE_OP_MSG ? (uint32_t)rd32le(body) : 0;
    bson_t view;
    int rc = -1;
    if (off != (size_t)-1 && off < len - WIRE_HEADER_LEN &&
        bson_init_static(&view, body + off, len - WIRE_HEADER_LEN - off)) {
        bson_copy_to(&view, reply);
        rc = 0;
    }
    free(body);
    return rc;
}

int client_command(int fd, const char *db, const bson_t *cmd, bson_t *reply, int timeout_ms)
{
    static int32_t next_id = 1;
    bson_t full = BSON_INITIALIZER;
    bson_concat(&full, cmd);
    BSON_APPEND_UTF8(&full, "$db", db);
    size_t n;
    uint8_t *msg = wire_encode_msg(next_id++, 0, &full, &n);
    bson_destroy(&full);
    if (msg == NULL)
        return -1;
    int rc = client_send(fd, msg, n);
    free(msg);
    return rc == 0 ? client_read_reply(fd, reply, timeout_ms) : -1;
}

int client_wait_closed(int fd, int timeout_ms)
{
    int64_t until = msim_now_ms() + timeout_ms;
    uint8_t buf[4096];
    for (;;) {
        int64_t left = until - msim_now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            return 0;
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
            return 1;
    }
}
