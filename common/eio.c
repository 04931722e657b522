#include "eio.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "envelope.h"
#include "jsonx.h"

#define EIO_JSON_DEPTH 32

/* Event names the Socket.IO reference parser refuses from clients. */
static int reserved_event(const char *s, size_t n)
{
    static const char *const names[] = {"connect",       "connect_error", "disconnect",
                                        "disconnecting", "newListener",   "removeListener"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
            return 1;
    return 0;
}

/* Checks the JSON payload of a Socket.IO packet of the given type (0..3). */
static int payload_valid(int type, const char *p, size_t n)
{
    if (n == 0)
        return type == 0 || type == 1; /* CONNECT without auth, DISCONNECT */
    if (type == 1)
        return 0; /* DISCONNECT carries nothing */
    char err[8];
    json_t *v = jsonx_parse(p, n, EIO_JSON_DEPTH, err, sizeof err);
    int ok = 0;
    if (v == NULL)
        return 0;
    if (type == 0) {
        ok = json_is_object(v);
    } else if (type == 3 || type == 6) {
        ok = json_is_array(v);
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        json_t *name = json_array_get(v, 0);
        ok = json_is_number(name) ||
             (json_is_string(name) &&
              !reserved_event(json_string_value(name), json_string_length(name)));
    }
    json_decref(v);
    return ok;
}

/* A Socket.IO packet: s is what followed the Engine.IO message type '4'. */
static enum eio_packet classify_sio(const char *s, size_t n, struct eio_sio *o)
{
    if (n == 0 || s[0] < '0' || s[0] > '6')
        return EIO_INVALID;
    int type = s[0] - '0';
    if (type == 4)
        return EIO_INVALID; /* CONNECT_ERROR is server-only */
    size_t i = 1;
    o->attachments = 0;
    if (type >= 5) {
        /* "<n>-": the attachments that follow, as the reference decoder reads them. */
        int digits = 0, count = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (++digits > 4)
                return EIO_INVALID;
            count = count * 10 + (s[i] - '0');
            i++;
        }
        if (digits == 0 || i >= n || s[i] != '-')
            return EIO_INVALID;
        o->attachments = count;
        i++;
    }
    o->nsp = "/";
    o->nsp_len = 1;
    int other_nsp = 0;
    if (i < n && s[i] == '/') {
        size_t start = i;
        while (i < n && s[i] != ',')
            i++;
        if (!(i - start == 1)) { /* "/," is the default namespace spelled out */
            o->nsp = s + start;
            o->nsp_len = i - start;
            other_nsp = 1;
        }
        if (i < n)
            i++; /* the ',' */
    }
    o->ack_id = -1;
    if (i < n && s[i] >= '0' && s[i] <= '9') {
        int64_t id = 0;
        size_t digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (++digits > 15)
                return EIO_INVALID; /* beyond what a JavaScript number holds exactly */
            id = id * 10 + (s[i] - '0');
            i++;
        }
        if (type == 0 || type == 1)
            return EIO_INVALID;
        o->ack_id = id;
    }
    o->payload = s + i;
    o->plen = n - i;
    if ((type == 3 || type == 6) && o->ack_id < 0)
        return EIO_INVALID;
    if (!payload_valid(type, o->payload, o->plen))
        return EIO_INVALID;
    if (other_nsp)
        return type == 0 ? EIO_SIO_CONNECT_NSP : EIO_INVALID; /* never joined: refused */
    switch (type) {
    case 0:
        return EIO_SIO_CONNECT;
    case 1:
        return EIO_SIO_DISCONNECT;
    case 2:
        return EIO_SIO_EVENT;
    case 3:
        return EIO_SIO_ACK;
    case 5:
        return EIO_SIO_BINARY_EVENT;
    default:
        return EIO_SIO_BINARY_ACK;
    }
}

/* "b<base64>": standard alphabet, padded (as engine.io-parser encodes). */
static int base64_valid(const char *s, size_t n)
{
    if (n % 4 != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int pad_ok = c == '=' && i >= n - 2 && (i == n - 1 || s[n - 1] == '=');
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || pad_ok))
            return 0;
    }
    return 1;
}

enum eio_packet eio_classify(const char *msg, size_t len, struct eio_sio *out)
{
    struct eio_sio scratch;
    struct eio_sio *o = out ? out : &scratch;
    memset(o, 0, sizeof *o);
    o->payload = "";
    o->nsp = "/";
    o->nsp_len = 1;
    o->ack_id = -1;
    if (len == 0)
        return EIO_INVALID;
    switch (msg[0]) {
    case '1':
        return len == 1 ? EIO_CLOSE : EIO_INVALID;
    case '2':
        if (len == 6 && memcmp(msg, "2probe", 6) == 0)
            return EIO_PING_PROBE;
        return len == 1 ? EIO_PING : EIO_INVALID;
    case '3':
        return len == 1 ? EIO_PONG : EIO_INVALID;
    case '4':
        return classify_sio(msg + 1, len - 1, o);
    case '5':
        return len == 1 ? EIO_UPGRADE : EIO_INVALID;
    case '6':
        return len == 1 ? EIO_NOOP : EIO_INVALID;
    case 'b':
        return base64_valid(msg + 1, len - 1) ? EIO_BINARY : EIO_INVALID;
    default:
        return EIO_INVALID;
    }
}

int eio_offset_parse(const char *s, size_t len, char *epoch_out, size_t epoch_len, uint64_t *n)
{
    const char *colon = memchr(s, ':', len);
    if (colon == NULL)
        return -1;
    size_t el = (size_t)(colon - s), nl = len - el - 1;
    if (el == 0 || el > ENVELOPE_EPOCH_MAX || el >= epoch_len || nl == 0 || nl > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < nl; i++) {
        char ch = colon[1 + i];
        if (ch < '0' || ch > '9')
            return -1;
        uint64_t d = (uint64_t)(ch - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    memcpy(epoch_out, s, el);
    epoch_out[el] = '\0';
    if (!envelope_epoch_valid(epoch_out))
        return -1;
    *n = v;
    return 0;
}

int eio_pid_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static struct frame *sealed(const char *text, size_t len)
{
    struct frame *f = frame_from(text, len);
    if (f)
        frame_seal_text(f);
    return f;
}

struct frame *eio_open(const char *sid, int upgrades, long ping_interval_ms, long ping_timeout_ms,
                       size_t max_payload)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "0{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%ld,\"pingTimeout\":%ld,"
                     "\"maxPayload\":%zu}",
                     sid, upgrades ? "\"websocket\"" : "", ping_interval_ms, ping_timeout_ms,
                     max_payload);
    return n > 0 && (size_t)n < sizeof buf ? sealed(buf, (size_t)n) : NULL;
}

struct frame *eio_joined(const char *sid, const char *pid)
{
    char buf[192];
    int n = pid ? snprintf(buf, sizeof buf, "40{\"sid\":\"%s\",\"pid\":\"%s\"}", sid, pid)
                : snprintf(buf, sizeof buf, "40{\"sid\":\"%s\"}", sid);
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

struct frame *eio_probe_answer(void)
{
    return sealed("3probe", 6);
}

struct frame *eio_noop(void)
{
    return sealed("6", 1);
}

struct frame *eio_close(void)
{
    return sealed("1", 1);
}

struct frame *eio_namespace_refused(const char *nsp_packet, size_t len, const char *message)
{
    /* The namespace runs from '/' to the first ',' (or the end); echo at most 64 bytes of it. */
    size_t n_nsp = 0;
    while (n_nsp < len && n_nsp < 64 && nsp_packet[n_nsp] != ',')
        n_nsp++;
    for (size_t i = 0; i < n_nsp; i++)
        if (nsp_packet[i] == '"' || nsp_packet[i] == '\\' || (unsigned char)nsp_packet[i] < 0x20 ||
            (unsigned char)nsp_packet[i] >= 0x80)
            return NULL; /* not a namespace name we would echo */
    char buf[256];
    int n =
        snprintf(buf, sizeof buf, "44%.*s,{\"message\":\"%s\"}", (int)n_nsp, nsp_packet, message);
    return n > 0 && (size_t)n < sizeof buf ? sealed(buf, (size_t)n) : NULL;
}

struct frame *eio_event(const char *event, const char *data_json, size_t data_len, uint64_t offset,
                        const char *epoch)
{
    char tail[96];
    int tl = epoch && *epoch ? snprintf(tail, sizeof tail, ",\"%s:%" PRIu64 "\"]", epoch, offset)
                             : snprintf(tail, sizeof tail, "]");
    if (tl <= 0 || (size_t)tl >= sizeof tail)
        return NULL;
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

struct frame *eio_event_rooms(const struct frame *ev, const char *rooms)
{
    const char *p = (const char *)ev->buf + FRAME_PRE;
    size_t len = ev->len, rl = strlen(rooms);
    if (len < 4 || p[len - 2] != '"' || p[len - 1] != ']')
        return NULL;
    struct frame *f = frame_new(len + 1 + rl);
    if (f == NULL)
        return NULL;
    char *q = frame_payload(f);
    memcpy(q, p, len - 2);
    q[len - 2] = '~';
    memcpy(q + len - 1, rooms, rl);
    memcpy(q + len - 1 + rl, "\"]", 2);
    f->offset = ev->offset;
    frame_seal_text(f);
    return f;
}

int eio_offset_rooms(const char *s, size_t len, size_t *head_len, const char **rooms,
                     size_t *rooms_len)
{
    const char *t = memchr(s, '~', len);
    *head_len = t ? (size_t)(t - s) : len;
    *rooms = NULL;
    *rooms_len = 0;
    if (t == NULL)
        return 0;
    *rooms = t + 1;
    *rooms_len = len - *head_len - 1;
    for (size_t i = 0; i < *rooms_len; i++) {
        char ch = (*rooms)[i];
        if (ch != ',' && !envelope_channel_valid(&ch, 1))
            return -1;
    }
    return 0;
}

struct frame *eio_ack(int64_t id, const char *args_json, size_t args_len)
{
    char head[32];
    int hl = snprintf(head, sizeof head, "43%" PRId64, id);
    if (hl <= 0 || (size_t)hl >= sizeof head)
        return NULL;
    struct frame *f = frame_new((size_t)hl + args_len);
    if (f == NULL)
        return NULL;
    memcpy(frame_payload(f), head, (size_t)hl);
    memcpy(frame_payload(f) + hl, args_json, args_len);
    frame_seal_text(f);
    return f;
}
