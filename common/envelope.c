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

int envelope_channel_valid(const char *name, size_t len)
{
    if (len == 0 || len > ENVELOPE_CHANNEL_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(isalnum(c) || c == '_' || c == '.' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

struct frame *envelope_encode(const char *event, const char *channel, const char *data_json,
                              size_t data_len, uint64_t offset, const char *epoch)
{
    char tail[64 + ENVELOPE_EPOCH_MAX + ENVELOPE_CHANNEL_MAX];
    int tl = channel && *channel
                 ? snprintf(tail, sizeof tail,
                            ",\"offset\":%" PRIu64 ",\"epoch\":\"%s\",\"channel\":\"%s\"}", offset,
                            epoch, channel)
                 : snprintf(tail, sizeof tail, ",\"offset\":%" PRIu64 ",\"epoch\":\"%s\"}", offset,
                            epoch);
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
    if (frame_set_channel(f, channel) != 0) {
        frame_unref(f);
        return NULL;
    }
    return f;
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
    json_t *ch = json_object_get(o, "channel");
    if (ch != NULL) {
        if (!json_is_string(ch) || json_string_length(ch) > ENVELOPE_CHANNEL_MAX) {
            snprintf(err, errlen, "\"channel\" is not a short string");
            goto out;
        }
        strcpy(out->channel, json_string_value(ch));
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
