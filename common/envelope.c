#include "envelope.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int envelope_event_valid(const char *name, size_t len)
{
    if (len == 0 || len > ENVELOPE_EVENT_MAX || !isalpha((unsigned char)name[0]))
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(isalnum(c) || c == '_' || c == '.' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

int envelope_epoch_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ENVELOPE_EPOCH_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static struct frame *encode(const char *event, const char *data_json, size_t data_len,
                            uint64_t offset, const char *epoch, const char *id)
{
    char tail[256];
    int tl = id && *id ? snprintf(tail, sizeof tail,
                                  ",\"offset\":%" PRIu64 ",\"epoch\":\"%s\",\"id\":\"%s\"}",
                                  offset, epoch, id)
                       : snprintf(tail, sizeof tail, ",\"offset\":%" PRIu64 ",\"epoch\":\"%s\"}",
                                  offset, epoch);
    if (tl < 0 || (size_t)tl >= sizeof tail)
        return NULL;
    size_t el = strlen(event);
    size_t len = 10 + el + 9 + data_len + (size_t)tl; /* {"event":" + name + ","data": */
    struct frame *f = frame_new(len);
    if (f == NULL)
        return NULL;
    char *p = frame_payload(f);
    memcpy(p, "{\"event\":\"", 10);
    p += 10;
    memcpy(p, event, el);
    p += el;
    memcpy(p, "\",\"data\":", 9);
    p += 9;
    memcpy(p, data_json, data_len);
    p += data_len;
    memcpy(p, tail, (size_t)tl);
    f->offset = offset;
    return f;
}

struct frame *envelope_encode(const char *event, const char *data_json, size_t data_len,
                              uint64_t offset, const char *epoch)
{
    return encode(event, data_json, data_len, offset, epoch, NULL);
}

struct frame *envelope_encode_with_id(const char *event, const char *data_json, size_t data_len,
                                      uint64_t offset, const char *epoch, const char *id)
{
    return encode(event, data_json, data_len, offset, epoch, id);
}

/* Reads "...": a JSON string of safe characters (no escapes) starting at p. */
static const char *plain_string(const char *p, const char *end, size_t *n)
{
    if (p >= end || *p != '"')
        return NULL;
    const char *q = ++p;
    while (q < end && *q != '"') {
        if (*q == '\\' || (unsigned char)*q < 0x20)
            return NULL;
        q++;
    }
    if (q >= end)
        return NULL;
    *n = (size_t)(q - p);
    return p;
}

int envelope_parse_wire(const char *buf, size_t len, struct envelope_wire *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *end = buf + len, *p = buf;
    static const char pre[] = "{\"event\":";
    if (len < sizeof pre || memcmp(p, pre, sizeof pre - 1) != 0) {
        snprintf(err, errlen, "frame does not start with {\"event\":");
        return -1;
    }
    p += sizeof pre - 1;
    out->event = plain_string(p, end, &out->event_len);
    if (out->event == NULL || !envelope_event_valid(out->event, out->event_len)) {
        snprintf(err, errlen, "bad event name");
        return -1;
    }
    p = out->event + out->event_len + 1;
    static const char dat[] = ",\"data\":";
    if ((size_t)(end - p) < sizeof dat || memcmp(p, dat, sizeof dat - 1) != 0) {
        snprintf(err, errlen, "no data after the event name");
        return -1;
    }
    out->data = p + sizeof dat - 1;
    static const char off[] = ",\"offset\":";
    const char *o = NULL;
    for (const char *q = out->data; (q = memmem(q, (size_t)(end - q), off, sizeof off - 1));
         q += sizeof off - 1)
        o = q;
    if (o == NULL || o == out->data) {
        snprintf(err, errlen, "no offset");
        return -1;
    }
    out->data_len = (size_t)(o - out->data);
    p = o + sizeof off - 1;
    if (p >= end || !isdigit((unsigned char)*p)) {
        snprintf(err, errlen, "offset is not a number");
        return -1;
    }
    while (p < end && isdigit((unsigned char)*p)) {
        if (out->offset > (UINT64_MAX - 9) / 10) {
            snprintf(err, errlen, "offset too large");
            return -1;
        }
        out->offset = out->offset * 10 + (uint64_t)(*p++ - '0');
    }
    static const char ep[] = ",\"epoch\":";
    if ((size_t)(end - p) < sizeof ep || memcmp(p, ep, sizeof ep - 1) != 0) {
        snprintf(err, errlen, "no epoch after the offset");
        return -1;
    }
    p += sizeof ep - 1;
    out->epoch = plain_string(p, end, &out->epoch_len);
    if (out->epoch == NULL || out->epoch_len == 0 || out->epoch_len > ENVELOPE_EPOCH_MAX) {
        snprintf(err, errlen, "bad epoch");
        return -1;
    }
    p = out->epoch + out->epoch_len + 1;
    static const char idk[] = ",\"id\":";
    if ((size_t)(end - p) >= sizeof idk && memcmp(p, idk, sizeof idk - 1) == 0) {
        p += sizeof idk - 1;
        out->id = plain_string(p, end, &out->id_len);
        if (out->id == NULL || out->id_len == 0 || out->id_len > 128) {
            snprintf(err, errlen, "bad id");
            return -1;
        }
        p = out->id + out->id_len + 1;
    }
    if (p + 1 != end || *p != '}') {
        snprintf(err, errlen, "trailing bytes after the frame");
        return -1;
    }
    return 0;
}

int envelope_decode(const char *buf, size_t len, struct envelope *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = json_loadb(buf, len, 0, &je);
    if (o == NULL) {
        snprintf(err, errlen, "frame is not JSON: %s", je.text);
        return -1;
    }
    int rc = -1;
    json_t *ev = json_object_get(o, "event");
    json_t *off = json_object_get(o, "offset");
    json_t *ep = json_object_get(o, "epoch");
    if (!json_is_object(o) || !json_is_string(ev)) {
        snprintf(err, errlen, "frame has no string \"event\"");
        goto out;
    }
    if (json_string_length(ev) > ENVELOPE_EVENT_MAX + 1) {
        snprintf(err, errlen, "event name too long");
        goto out;
    }
    strcpy(out->event, json_string_value(ev));
    if (off != NULL) {
        if (!json_is_integer(off) || json_integer_value(off) < 0) {
            snprintf(err, errlen, "\"offset\" is not a non-negative integer");
            goto out;
        }
        out->offset = (uint64_t)json_integer_value(off);
    }
    if (ep != NULL) {
        if (!json_is_string(ep) || json_string_length(ep) > ENVELOPE_EPOCH_MAX) {
            snprintf(err, errlen, "\"epoch\" is not a short string");
            goto out;
        }
        strcpy(out->epoch, json_string_value(ep));
    }
    out->data = json_incref(json_object_get(o, "data"));
    rc = 0;
out:
    json_decref(o);
    return rc;
}

void envelope_cleanup(struct envelope *e)
{
    json_decref(e->data);
    e->data = NULL;
}

int envelope_scan_u64(const char *buf, size_t len, const char *key, uint64_t *out)
{
    char pat[72];
    int pl = snprintf(pat, sizeof pat, "\"%s\":", key);
    if (pl <= 0 || (size_t)pl >= sizeof pat)
        return -1;
    const char *found = NULL;
    const char *p = buf, *end = buf + len;
    while ((p = memmem(p, (size_t)(end - p), pat, (size_t)pl)) != NULL) {
        found = p;
        p += pl;
    }
    if (found == NULL)
        return -1;
    const char *q = found + pl;
    if (q >= end || !isdigit((unsigned char)*q))
        return -1;
    uint64_t v = 0;
    while (q < end && isdigit((unsigned char)*q)) {
        uint64_t d = (uint64_t)(*q - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        q++;
    }
    *out = v;
    return 0;
}
