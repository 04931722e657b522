#include "sio.h"

#include <stdio.h>
#include <string.h>

#include "scan.h"

/* Copies a JSON string span into out when it is 1..cap-1 printable characters. */
static int copy_id(const struct js_val *v, char *out, size_t cap)
{
    if (v->type != JS_STRING || v->len == 0 || v->len >= cap)
        return -1;
    for (size_t i = 0; i < v->len; i++)
        if (v->p[i] <= ' ' || v->p[i] == '"' || v->p[i] == '\\' || (unsigned char)v->p[i] >= 0x7f)
            return -1;
    memcpy(out, v->p, v->len);
    out[v->len] = '\0';
    return 0;
}

int sio_parse_open(const char *json, size_t len, struct sio_open *o, char *err, size_t errlen)
{
    struct js_obj obj;
    struct js_val k, v;
    int rc;
    memset(o, 0, sizeof *o);
    o->ping_interval_ms = 25000;
    o->ping_timeout_ms = 20000;
    if (js_obj_open(&obj, json, len) != 0) {
        snprintf(err, errlen, "open packet is not a JSON object");
        return -1;
    }
    while ((rc = js_obj_next(&obj, &k, &v)) == 1) {
        long long n;
        if (js_eq(&k, "sid")) {
            if (copy_id(&v, o->sid, sizeof o->sid) != 0) {
                snprintf(err, errlen, "open packet has a bad sid");
                return -1;
            }
        } else if (js_eq(&k, "upgrades") && v.type == JS_ARRAY) {
            struct js_arr a;
            struct js_val x;
            if (js_arr_open_val(&a, &v) == 0)
                while (js_arr_next(&a, &x) == 1)
                    if (js_eq(&x, "websocket"))
                        o->can_websocket = 1;
        } else if (js_eq(&k, "pingInterval") || js_eq(&k, "pingTimeout")) {
            if (js_int(&v, &n) != 0 || n < 1 || n > 3600000) {
                snprintf(err, errlen, "open packet has a bad %.*s", (int)k.len, k.p);
                return -1;
            }
            if (k.len == 12)
                o->ping_interval_ms = (long)n;
            else
                o->ping_timeout_ms = (long)n;
        } else if (js_eq(&k, "maxPayload") && js_int(&v, &n) == 0 && n > 0) {
            o->max_payload = n;
        }
    }
    if (rc < 0 || o->sid[0] == '\0') {
        snprintf(err, errlen, rc < 0 ? "open packet is malformed JSON" : "open packet has no sid");
        return -1;
    }
    return 0;
}

int sio_parse_connect(const char *json, size_t len, char sid[SIO_SID_MAX], char pid[SIO_SID_MAX])
{
    struct js_obj obj;
    struct js_val k, v;
    int rc;
    sid[0] = pid[0] = '\0';
    if (js_obj_open(&obj, json, len) != 0)
        return -1;
    while ((rc = js_obj_next(&obj, &k, &v)) == 1) {
        if (js_eq(&k, "sid") && copy_id(&v, sid, SIO_SID_MAX) != 0)
            return -1;
        if (js_eq(&k, "pid") && copy_id(&v, pid, SIO_SID_MAX) != 0)
            pid[0] = '\0';
    }
    return rc < 0 || sid[0] == '\0' ? -1 : 0;
}

void sio_parse_error(const char *body, size_t len, int *code, char *msg, size_t cap)
{
    struct js_obj obj;
    struct js_val k, v;
    *code = -1;
    if (cap == 0)
        return;
    msg[0] = '\0';
    if (js_obj_open(&obj, body, len) == 0) {
        while (js_obj_next(&obj, &k, &v) == 1) {
            long long n;
            if (js_eq(&k, "code") && js_int(&v, &n) == 0 && n >= 0 && n < 1000000)
                *code = (int)n;
            else if (js_eq(&k, "message") && v.type == JS_STRING)
                js_str_copy(&v, msg, cap);
        }
        if (msg[0] != '\0' || *code >= 0)
            return;
    }
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++)
        msg[i] = body[i] >= ' ' && (unsigned char)body[i] < 0x7f ? body[i] : ' ';
    msg[n] = '\0';
}

int sio_payload_next(const char **p, const char *end, const char **pkt, size_t *len)
{
    if (*p >= end)
        return 0;
    const char *sep = memchr(*p, 0x1e, (size_t)(end - *p));
    *pkt = *p;
    *len = (size_t)((sep ? sep : end) - *p);
    *p = sep ? sep + 1 : end;
    return 1;
}

/* Appends s as a JSON string. Returns the new length, or -1 when out of room. */
static long put_json_str(char *buf, size_t cap, size_t o, const char *s)
{
    if (o + 1 >= cap)
        return -1;
    buf[o++] = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char esc[8];
        size_t n = 1;
        esc[0] = (char)ch;
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            n = 2;
        } else if (ch < 0x20) {
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", ch);
        }
        if (o + n + 1 >= cap)
            return -1;
        memcpy(buf + o, esc, n);
        o += n;
    }
    buf[o++] = '"';
    return (long)o;
}

/* Appends printf output. */
static long put(char *buf, size_t cap, long o, const char *s)
{
    if (o < 0)
        return -1;
    size_t n = strlen(s);
    if ((size_t)o + n >= cap)
        return -1;
    memcpy(buf + o, s, n);
    return o + (long)n;
}

long sio_connect_packet(char *buf, size_t cap, const char *channel, const char *pid,
                        const char *offset, long long since, const char *epoch)
{
    long o = put(buf, cap, 0, "40");
    int fields = 0;
    if (*channel) {
        o = put(buf, cap, o, "{\"channels\":[");
        o = o < 0 ? -1 : put_json_str(buf, cap, (size_t)o, channel);
        o = put(buf, cap, o, "]");
        fields++;
    }
    if (*pid) {
        o = put(buf, cap, o, fields++ ? ",\"pid\":" : "{\"pid\":");
        o = o < 0 ? -1 : put_json_str(buf, cap, (size_t)o, pid);
        if (*offset) {
            o = put(buf, cap, o, ",\"offset\":");
            o = o < 0 ? -1 : put_json_str(buf, cap, (size_t)o, offset);
        }
    } else if (since >= 0 && epoch && *epoch) {
        char num[32];
        snprintf(num, sizeof num, "%lld", since);
        o = put(buf, cap, o, fields++ ? ",\"since\":" : "{\"since\":");
        o = put(buf, cap, o, num);
        o = put(buf, cap, o, ",\"epoch\":");
        o = o < 0 ? -1 : put_json_str(buf, cap, (size_t)o, epoch);
    }
    if (fields)
        o = put(buf, cap, o, "}");
    if (o >= 0)
        buf[o] = '\0';
    return o;
}

long sio_path(char *buf, size_t cap, const char *base, const char *transport, const char *sid,
              unsigned long long token)
{
    char enc[3 * SIO_SID_MAX + 1];
    size_t k = 0;
    for (const char *p = sid; *p && k + 4 < sizeof enc; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || ch == '-' ||
            ch == '_' || ch == '.' || ch == '~')
            enc[k++] = (char)ch;
        else
            k += (size_t)snprintf(enc + k, sizeof enc - k, "%%%02X", ch);
    }
    enc[k] = '\0';
    int n = snprintf(buf, cap, "%s%cEIO=4&transport=%s%s%s&t=%llx", base,
                     strchr(base, '?') ? '&' : '?', transport, *sid ? "&sid=" : "", enc, token);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}
