#include "intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

static int id_valid(const char *s, size_t n)
{
    if (n == 0 || n > INTAKE_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

int intake_parse(const char *body, size_t len, struct emit_req *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *root = jsonx_parse_object(body, len, INTAKE_MAX_DEPTH, err, errlen);
    if (root == NULL)
        return -1;
    int rc = -1;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "event") != 0 && strcmp(key, "payload") != 0 && strcmp(key, "id") != 0 &&
            strcmp(key, "channel") != 0) {
            snprintf(err, errlen, "unknown field '%.64s' (allowed: event, payload, id, channel)",
                     key);
            goto out;
        }
    }
    json_t *ev = json_object_get(root, "event");
    if (ev == NULL) {
        snprintf(err, errlen, "missing field 'event'");
        goto out;
    }
    if (!json_is_string(ev)) {
        snprintf(err, errlen, "'event' must be a string, got %s", jsonx_type_name(ev));
        goto out;
    }
    if (!envelope_event_valid(json_string_value(ev), json_string_length(ev))) {
        snprintf(err, errlen,
                 "'event' must be 1-%d characters of [A-Za-z0-9_.:-] starting with a letter",
                 ENVELOPE_EVENT_MAX);
        goto out;
    }
    json_t *pl = json_object_get(root, "payload");
    if (pl == NULL) {
        snprintf(err, errlen, "missing field 'payload'");
        goto out;
    }
    if (!json_is_object(pl)) {
        snprintf(err, errlen, "'payload' must be an object, got %s", jsonx_type_name(pl));
        goto out;
    }
    json_t *id = json_object_get(root, "id");
    if (id != NULL && !json_is_null(id)) {
        if (!json_is_string(id)) {
            snprintf(err, errlen, "'id' must be a string, got %s", jsonx_type_name(id));
            goto out;
        }
        if (!id_valid(json_string_value(id), json_string_length(id))) {
            snprintf(err, errlen, "'id' must be 1-%d printable ASCII characters without spaces",
                     INTAKE_ID_MAX);
            goto out;
        }
        memcpy(out->id, json_string_value(id), json_string_length(id) + 1);
    }
    json_t *ch = json_object_get(root, "channel");
    if (ch != NULL && !json_is_null(ch)) {
        if (!json_is_string(ch)) {
            snprintf(err, errlen, "'channel' must be a string, got %s", jsonx_type_name(ch));
            goto out;
        }
        if (!envelope_channel_valid(json_string_value(ch), json_string_length(ch))) {
            snprintf(err, errlen, "'channel' must be 1-%d characters of [A-Za-z0-9_.:-]",
                     ENVELOPE_CHANNEL_MAX);
            goto out;
        }
        memcpy(out->channel, json_string_value(ch), json_string_length(ch) + 1);
    }
    out->payload = jsonx_dump(pl, &out->payload_len);
    if (out->payload == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    memcpy(out->event, json_string_value(ev), json_string_length(ev) + 1);
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void emit_req_cleanup(struct emit_req *r)
{
    free(r->payload);
    r->payload = NULL;
}
