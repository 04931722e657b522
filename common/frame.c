#include "frame.h"

#include <stdlib.h>
#include <string.h>

struct frame *frame_new(size_t len)
{
    struct frame *f = malloc(sizeof *f + FRAME_PRE + len + 1);
    if (f == NULL)
        return NULL;
    atomic_init(&f->refs, 1);
    f->offset = 0;
    f->len = len;
    f->hdr = 0;
    f->alt = NULL;
    f->channel = NULL;
    f->chash = 0;
    f->buf[FRAME_PRE + len] = '\0';
    return f;
}

struct frame *frame_from(const char *data, size_t len)
{
    struct frame *f = frame_new(len);
    if (f)
        memcpy(frame_payload(f), data, len);
    return f;
}

void frame_seal_text(struct frame *f)
{
    unsigned char *p = f->buf + FRAME_PRE;
    uint64_t n = f->len;
    if (n < 126) {
        f->hdr = 2;
        p[-1] = (unsigned char)n;
    } else if (n < 65536) {
        f->hdr = 4;
        p[-3] = 126;
        p[-2] = (unsigned char)(n >> 8);
        p[-1] = (unsigned char)n;
    } else {
        f->hdr = 10;
        p[-9] = 127;
        for (int i = 0; i < 8; i++)
            p[-8 + i] = (unsigned char)(n >> (56 - 8 * i));
    }
    p[-(int)f->hdr] = 0x81; /* FIN + text */
}

struct frame *frame_ref(struct frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void frame_unref(struct frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) {
        frame_unref(f->alt);
        free(f->channel);
        free(f);
    }
}

uint64_t frame_channel_hash(const char *name, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

int frame_set_channel(struct frame *f, const char *channel)
{
    if (channel == NULL || *channel == '\0')
        return 0;
    f->channel = strdup(channel);
    if (f->channel == NULL)
        return -1;
    f->chash = frame_channel_hash(channel, strlen(channel));
    return 0;
}
