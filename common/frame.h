/*
 * frame — an immutable, reference-counted websocket text payload.
 *
 * An event is encoded once into a frame and the same bytes are written to every client.
 * FRAME_PRE bytes of headroom sit before the payload, as lws_write() requires (it writes
 * the websocket header there). References may be taken and dropped from any thread.
 */
#ifndef RELAYLAB_FRAME_H
#define RELAYLAB_FRAME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_PRE 32

struct frame {
    _Atomic int refs;
    uint64_t offset;     /* 0 for control frames */
    size_t len;          /* payload bytes */
    unsigned hdr;        /* websocket header bytes written just before the payload (0 = none) */
    struct frame *alt;   /* the same event in another framing (Socket.IO), owned; or NULL */
    char *channel;       /* the event's channel (malloc'd, owned), NULL for broadcast */
    uint64_t chash;      /* frame_channel_hash(channel), 0 for broadcast */
    unsigned char buf[]; /* FRAME_PRE headroom, then len payload bytes, then a NUL */
};

/* Allocates a frame with room for len payload bytes and one reference. NULL when out of memory. */
struct frame *frame_new(size_t len);
/* Copies len bytes into a new frame. */
struct frame *frame_from(const char *data, size_t len);
static inline char *frame_payload(struct frame *f)
{
    return (char *)f->buf + FRAME_PRE;
}
/*
 * Writes the server-to-client websocket header of a final unmasked text frame into the
 * headroom, so the frame can be sent as raw bytes (frame_wire) and batched with others.
 */
void frame_seal_text(struct frame *f);
static inline const unsigned char *frame_wire(const struct frame *f)
{
    return f->buf + FRAME_PRE - f->hdr;
}
static inline size_t frame_wire_len(const struct frame *f)
{
    return f->hdr + f->len;
}
/* Gives f a channel (copied). Returns 0, or -1 when out of memory. NULL or "" = broadcast. */
int frame_set_channel(struct frame *f, const char *channel);
/* FNV-1a of a channel name (never 0), so clients compare channels without strcmp first. */
uint64_t frame_channel_hash(const char *name, size_t len);
struct frame *frame_ref(struct frame *f);
void frame_unref(struct frame *f); /* accepts NULL; frees on the last reference */

#endif
