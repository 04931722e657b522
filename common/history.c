#include "history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

struct history {
    size_t capacity;
    uint64_t first; /* oldest offset the ring covers (its slot may be empty: a gap) */
    uint64_t next;  /* offset after the newest one */
    char epoch[ENVELOPE_EPOCH_BUF];
    struct frame **slots; /* slot of offset o is o % capacity */
};

struct history *history_new(size_t capacity, const char *epoch, uint64_t next)
{
    if (capacity < 1)
        capacity = 1;
    struct history *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->slots = calloc(capacity, sizeof *h->slots);
    if (h->slots == NULL) {
        free(h);
        return NULL;
    }
    h->capacity = capacity;
    h->first = h->next = next < 1 ? 1 : next;
    snprintf(h->epoch, sizeof h->epoch, "%s", epoch);
    return h;
}

static struct frame **slot(const struct history *h, uint64_t o)
{
    return &h->slots[o % h->capacity];
}

static void drop_all(struct history *h)
{
    for (uint64_t o = h->first; o < h->next; o++) {
        frame_unref(*slot(h, o));
        *slot(h, o) = NULL;
    }
}

void history_free(struct history *h)
{
    if (h == NULL)
        return;
    drop_all(h);
    free(h->slots);
    free(h);
}

const char *history_epoch(const struct history *h)
{
    return h->epoch;
}

uint64_t history_next_offset(const struct history *h)
{
    return h->next;
}

uint64_t history_last(const struct history *h)
{
    return h->next - 1;
}

uint64_t history_first(const struct history *h)
{
    return h->first;
}

/* Releases offsets from the front until the ring covers at most capacity offsets up to upto. */
static void evict_for(struct history *h, uint64_t upto)
{
    if (upto - h->first < h->capacity)
        return;
    uint64_t keep_from = upto - h->capacity + 1;
    if (keep_from > h->next) {
        /* A jump past everything held: drop it all at once, whatever the distance. */
        drop_all(h);
        h->first = keep_from;
        return;
    }
    while (h->first < keep_from) {
        frame_unref(*slot(h, h->first));
        *slot(h, h->first) = NULL;
        h->first++;
    }
}

void history_append(struct history *h, struct frame *f)
{
    f->offset = h->next;
    evict_for(h, f->offset);
    *slot(h, f->offset) = f;
    h->next = f->offset + 1;
}

int history_append_at(struct history *h, struct frame *f)
{
    if (f->offset < h->next) {
        frame_unref(f);
        return -1;
    }
    evict_for(h, f->offset);
    *slot(h, f->offset) = f;
    h->next = f->offset + 1;
    return 0;
}

struct frame *history_get(const struct history *h, uint64_t offset)
{
    if (offset < h->first || offset >= h->next)
        return NULL;
    struct frame *f = *slot(h, offset);
    return f ? frame_ref(f) : NULL;
}

void history_reset(struct history *h, const char *epoch, uint64_t next)
{
    drop_all(h);
    h->first = h->next = next < 1 ? 1 : next;
    snprintf(h->epoch, sizeof h->epoch, "%s", epoch);
}

enum history_plan_result history_plan(const struct history *h, const char *epoch, uint64_t since,
                                      uint64_t *from)
{
    *from = h->next;
    if (strcmp(h->epoch, epoch) != 0)
        return HISTORY_EPOCH_CHANGED;
    if (since >= h->next)
        return HISTORY_AHEAD;
    if (since + 1 < h->first)
        return HISTORY_TRUNCATED;
    *from = since + 1;
    return HISTORY_RECOVERED;
}

const char *history_plan_name(enum history_plan_result r)
{
    switch (r) {
    case HISTORY_RECOVERED:
        return "recovered";
    case HISTORY_EPOCH_CHANGED:
        return "epoch_changed";
    case HISTORY_TRUNCATED:
        return "history_truncated";
    case HISTORY_AHEAD:
        return "offset_ahead";
    }
    return "unknown";
}
