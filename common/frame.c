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

struct frame *frame_ref(struct frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void frame_unref(struct frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
        free(f);
}
