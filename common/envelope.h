/*
 * envelope — the frame every server in the lab sends to websocket clients:
 *   {"event":"new_product","data":{...},"offset":N,"epoch":"E"}
 *   {"event":"new_product","data":{...},"offset":N,"epoch":"E","channel":"store-7"}
 * The second form is an event of a channel; without "channel" it was broadcast. Channel
 * names are 1..64 characters of [A-Za-z0-9_.:-].
 * Event names are 1..64 characters of [A-Za-z0-9_.:-] starting with a letter; names that
 * start with '_' are reserved for control frames (_connected, _recovery).
 */
#ifndef RELAYLAB_ENVELOPE_H
#define RELAYLAB_ENVELOPE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define ENVELOPE_EVENT_MAX 64
#define ENVELOPE_EPOCH_MAX 32
#define ENVELOPE_EPOCH_BUF (ENVELOPE_EPOCH_MAX + 1)
#define ENVELOPE_CHANNEL_MAX 64

/* 1 when name[0..len) is a valid application event name, else 0. */
int envelope_event_valid(const char *name, size_t len);
/* 1 when name[0..len) is a valid channel name, else 0. */
int envelope_channel_valid(const char *name, size_t len);
/* 1 when s is 1..32 characters of [A-Za-z0-9_-], else 0. */
int envelope_epoch_valid(const char *s);

/*
 * Encodes an event into a new frame (caller unrefs). data_json must be one complete JSON
 * value (it is copied verbatim: no re-encoding); event, epoch and channel (NULL or "" for
 * broadcast) must be valid. The frame's offset and channel are set too. Returns NULL when out of
 * memory.
 */
struct frame *envelope_encode(const char *event, const char *channel, const char *data_json,
                              size_t data_len, uint64_t offset, const char *epoch);

/* A decoded envelope; data is a new reference (release with envelope_cleanup). */
struct envelope {
    char event[ENVELOPE_EVENT_MAX + 2];
    json_t *data;
    uint64_t offset; /* 0 when absent (control frames) */
    char epoch[ENVELOPE_EPOCH_MAX + 1];
    char channel[ENVELOPE_CHANNEL_MAX + 1]; /* "" for broadcast */
};

/* Parses a frame. Returns 0, or -1 with a message in err. */
int envelope_decode(const char *buf, size_t len, struct envelope *out, char *err, size_t errlen);
void envelope_cleanup(struct envelope *e);

/*
 * Finds `"key":<unsigned integer>` in a frame without parsing it (the client hot path).
 * Only top-level-looking matches are found; the lab's frames put offset last, after data,
 * so the last match wins. Returns 0 and stores the value, or -1 when absent.
 */
int envelope_scan_u64(const char *buf, size_t len, const char *key, uint64_t *out);

#endif
