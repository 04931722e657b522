#include "eio_poll.h"

#include <stdio.h>
#include <string.h>

#include "eio.h"

const char *eio_error_message(enum eio_error e)
{
    switch (e) {
    case EIO_ERR_TRANSPORT:
        return "Transport unknown";
    case EIO_ERR_SID:
        return "Session ID unknown";
    case EIO_ERR_METHOD:
        return "Bad handshake method";
    case EIO_ERR_BAD_REQUEST:
        return "Bad request";
    case EIO_ERR_FORBIDDEN:
        return "Forbidden";
    case EIO_ERR_VERSION:
        return "Unsupported protocol version";
    case EIO_ERR_NONE:
        break;
    }
    return "";
}

int eio_error_status(enum eio_error e)
{
    return e == EIO_ERR_FORBIDDEN ? 403 : 400;
}

enum eio_error eio_check_request(const struct eio_request *r)
{
    const char *t = r->transport;
    if (t == NULL || (strcmp(t, "polling") != 0 && strcmp(t, "websocket") != 0))
        return EIO_ERR_TRANSPORT;
    if (r->sid) {
        if (r->session == EIO_SID_UNKNOWN)
            return EIO_ERR_SID;
        /* Without an upgrade a request must use the session's transport. */
        if (!r->upgrade && (strcmp(t, "polling") != 0 || r->session != EIO_SID_POLLING))
            return EIO_ERR_BAD_REQUEST;
        return EIO_ERR_NONE;
    }
    if (r->method == NULL || strcmp(r->method, "GET") != 0)
        return EIO_ERR_METHOD;
    if (strcmp(t, "websocket") == 0 && !r->upgrade)
        return EIO_ERR_BAD_REQUEST;
    if (r->eio == NULL || strcmp(r->eio, "4") != 0)
        return EIO_ERR_VERSION;
    return EIO_ERR_NONE;
}

int eio_payload_next(const char *body, size_t len, size_t *pos, const char **pkt, size_t *plen)
{
    if (*pos > len)
        return 0;
    const char *start = body + *pos;
    const char *sep = memchr(start, 0x1e, len - *pos);
    size_t n = sep ? (size_t)(sep - start) : len - *pos;
    *pkt = start;
    *plen = n;
    *pos += n + 1; /* past the separator; past len + 1 at the end */
    return 1;
}

int eio_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t need;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i <= need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += need + 1;
    }
    return 1;
}

int eio_payload_check(const char *body, size_t len, size_t max_packets, char *err, size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "empty payload");
        return -1;
    }
    if (memchr(body, '\0', len)) {
        snprintf(err, errlen, "payload contains a NUL byte");
        return -1;
    }
    if (!eio_utf8_valid(body, len)) {
        snprintf(err, errlen, "payload is not valid UTF-8");
        return -1;
    }
    size_t pos = 0, n = 0, plen;
    const char *pkt;
    while (eio_payload_next(body, len, &pos, &pkt, &plen)) {
        if (++n > max_packets) {
            snprintf(err, errlen, "more than %zu packets in one payload", max_packets);
            return -1;
        }
        if (plen == 0) {
            snprintf(err, errlen, "packet %zu is empty (stray separator)", n);
            return -1;
        }
        struct eio_sio sio;
        enum eio_packet k = eio_classify(pkt, plen, &sio);
        if (k == EIO_INVALID) {
            snprintf(err, errlen, "packet %zu is not a valid Engine.IO/Socket.IO packet%s", n,
                     pkt[0] == 'b' ? " (binary: not base64)" : "");
            return -1;
        }
        if ((k == EIO_SIO_BINARY_EVENT || k == EIO_SIO_BINARY_ACK) &&
            sio.attachments > EIO_ATTACHMENTS_MAX) {
            snprintf(err, errlen, "packet %zu announces %d binary attachments, more than %d", n,
                     sio.attachments, EIO_ATTACHMENTS_MAX);
            return -1;
        }
    }
    return 0;
}
