#include "eio.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum eio_packet eio_classify(const char *msg, size_t len, const char **payload, size_t *plen)
{
    *payload = "";
    *plen = 0;
    if (len == 0)
        return EIO_INVALID;
    switch (msg[0]) {
    case '1': return len == 1 ? EIO_CLOSE : EIO_INVALID;
    case '2': return EIO_PING; /* may carry "probe" */
    case '3': return EIO_PONG;
    case '6': return len == 1 ? EIO_NOOP : EIO_INVALID;
    case '4': break;
    default: return EIO_INVALID;
    }
    if (len < 2)
        return EIO_INVALID;
    switch (msg[1]) {
    case '0':
        if (len > 2 && msg[2] == '/') {
            /* "40/,{...}" is still the default namespace; anything else is not. */
            if (len >= 4 && msg[3] == ',') {
                *payload = msg + 4;
                *plen = len - 4;
                return EIO_SIO_CONNECT;
            }
            return EIO_SIO_CONNECT_NSP;
        }
        *payload = msg + 2;
        *plen = len - 2;
        return EIO_SIO_CONNECT;
    case '1': return EIO_SIO_DISCONNECT;
    case '2':
    case '3': return EIO_SIO_EVENT;
    default: return EIO_INVALID;
    }
}

static struct frame *sealed(const char *text, size_t len)
{
    struct frame *f = frame_from(text, len);
    if (f)
        frame_seal_text(f);
    return f;
}

struct frame *eio_open(const char *sid, long ping_interval_ms, long ping_timeout_ms,
                       size_t max_payload)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "0{\"sid\":\"%s\",\"upgrades\":[],\"pingInterval\":%ld,\"pingTimeout\":%ld,"
                     "\"maxPayload\":%zu}",
                     sid, ping_interval_ms, ping_timeout_ms, max_payload);
    return n > 0 && (size_t)n < sizeof buf ? sealed(buf, (size_t)n) : NULL;
}

struct frame *eio_joined(const char *sid)
{
    char buf[96];
    int n = snprintf(buf, sizeof buf, "40{\"sid\":\"%s\"}", sid);
    return n > 0 && (size_t)n < sizeof buf ? sealed(buf, (size_t)n) : NULL;
}

struct frame *eio_ping(void)
{
    return sealed("2", 1);
}

struct frame *eio_pong(void)
{
    return sealed("3", 1);
}

struct frame *eio_namespace_refused(const char *nsp_packet, size_t len, const char *message)
{
    /* The namespace runs from '/' to the first ',' (or the end); echo at most 64 bytes of it. */
    size_t n_nsp = 0;
    while (n_nsp < len && n_nsp < 64 && nsp_packet[n_nsp] != ',')
        n_nsp++;
    for (size_t i = 0; i < n_nsp; i++)
        if (nsp_packet[i] == '"' || nsp_packet[i] == '\\' || (unsigned char)nsp_packet[i] < 0x20)
            return NULL; /* not a namespace name we would echo */
    char buf[256];
    int n = snprintf(buf, sizeof buf, "44%.*s,{\"message\":\"%s\"}", (int)n_nsp, nsp_packet,
                     message);
    return n > 0 && (size_t)n < sizeof buf ? sealed(buf, (size_t)n) : NULL;
}

struct frame *eio_event(const char *event, const char *data_json, size_t data_len, uint64_t offset,
                        const char *epoch)
{
    char tail[96];
    int tl = offset ? snprintf(tail, sizeof tail, ",{\"offset\":%" PRIu64 ",\"epoch\":\"%s\"}]",
                               offset, epoch)
                    : snprintf(tail, sizeof tail, "]");
    size_t el = strlen(event);
    size_t len = 4 + el + 2 + data_len + (size_t)tl; /* 42[" event ", data tail */
    struct frame *f = frame_new(len);
    if (f == NULL)
        return NULL;
    char *p = frame_payload(f);
    memcpy(p, "42[\"", 4);
    p += 4;
    memcpy(p, event, el);
    p += el;
    memcpy(p, "\",", 2);
    p += 2;
    memcpy(p, data_json, data_len);
    p += data_len;
    memcpy(p, tail, (size_t)tl);
    f->offset = offset;
    frame_seal_text(f);
    return f;
}
