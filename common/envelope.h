/*
 * envelope — the frame every server in the lab sends to websocket clients:
 *   {"event":"new_product","data":{...},"offset":N,"epoch":"E"}
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

/* 1 when name[0..len) is a valid application event name, else 0. */
int envelope_event_valid(const char *name, size_t len);
/* 1 when s is 1..32 characters of [A-Za-z0-9_-], else 0. */
int envelope_epoch_valid(const char *s);

/*
 * Encodes an event into a new frame (caller unrefs). data_json must be one complete JSON
 * value (it is copied verbatim: no re-encoding); event and epoch must be valid. The frame's
 * offset field is set too. Returns NULL when out of memory.
 */
struct frame *envelope_encode(const char *event, const char *data_json, size_t data_len,
                              uint64_t offset, const char *epoch);

/* A decoded envelope; data is a new reference (release with envelope_cleanup). */
struct envelope {
    char event[ENVELOPE_EVENT_MAX + 2];
    json_t *data;
    uint64_t offset; /* 0 when absent (control frames) */
    char epoch[ENVELOPE_EPOCH_MAX + 1];
};

/* Parses a frame. Returns 0, or -1 with a message in err. */
int envelope_decode(const char *buf, size_t len, struct envelope *out, char *err, size_t errlen);
void envelope_cleanup(struct envelope *e);

/*
 * A view into one of our own frames as the hub writes them:
 *   {"event":"NAME","data":DATA,"offset":N,"epoch":"E"}  optionally with ,"id":"X" before }
 * Pointers refer into the parsed buffer (no copies, not NUL-terminated).
 */
struct envelope_wire {
    const char *event, *data, *epoch, *id;
    size_t event_len, data_len, epoch_len, id_len; /* id_len 0 when absent */
    uint64_t offset;
};

/*
 * Parses a frame in exactly that layout (what a follower relay receives from its leader).
 * Validates the event name, epoch, id and offset; DATA is located, not parsed (it is whatever
 * lies between "data": and the last ,"offset":). Returns 0, or -1 with a message in err.
 */
int envelope_parse_wire(const char *buf, size_t len, struct envelope_wire *out, char *err,
                        size_t errlen);

/* Encodes the replication form: the plain frame with ,"id":"ID" added (id non-empty). */
struct frame *envelope_encode_with_id(const char *event, const char *data_json, size_t data_len,
                                      uint64_t offset, const char *epoch, const char *id);

/*
 * Finds `"key":<unsigned integer>` in a frame without parsing it (the client hot path).
 * Only top-level-looking matches are found; the lab's frames put offset last, after data,
 * so the last match wins. Returns 0 and stores the value, or -1 when absent.
 */
int envelope_scan_u64(const char *buf, size_t len, const char *key, uint64_t *out);

#endif
