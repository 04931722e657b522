#include "history.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "envelope.h"

struct history {
    size_t capacity;
    uint64_t first; /* oldest offset held */
    uint64_t next;  /* offset of the next append */
    char epoch[ENVELOPE_EPOCH_MAX + 1];
    struct frame **slots; /* slot of offset o is (o - 1) % capacity */
};

struct history *history_new(size_t capacity, const char *epoch)
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
    h->first = h->next = 1;
    snprintf(h->epoch, sizeof h->epoch, "%s", epoch);
    return h;
}

static void drop_all(struct history *h)
{
    for (uint64_t o = h->first; o < h->next; o++) {
        size_t i = (size_t)((o - 1) % h->capacity);
        frame_unref(h->slots[i]);
        h->slots[i] = NULL;
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

void history_append(struct history *h, struct frame *f)
{
    if (h->next - h->first == h->capacity) {
        size_t old = (size_t)((h->first - 1) % h->capacity);
        frame_unref(h->slots[old]);
        h->slots[old] = NULL;
        h->first++;
    }
    f->offset = h->next;
    h->slots[(h->next - 1) % h->capacity] = f;
    h->next++;
}

struct frame *history_get(const struct history *h, uint64_t offset)
{
    if (offset < h->first || offset >= h->next)
        return NULL;
    return frame_ref(h->slots[(offset - 1) % h->capacity]);
}

void history_reset(struct history *h, const char *epoch)
{
    drop_all(h);
    h->first = h->next = 1;
    snprintf(h->epoch, sizeof h->epoch, "%s", epoch);
}

enum history_plan_result history_plan(const struct history *h, const char *epoch, uint64_t since,
                                      uint64_t *from)
{
    *from = h->next;
    if (strcmp(epoch, h->epoch) != 0)
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
    case HISTORY_RECOVERED: return "recovered";
    case HISTORY_EPOCH_CHANGED: return "epoch_changed";
    case HISTORY_TRUNCATED: return "history_truncated";
    case HISTORY_AHEAD: return "offset_ahead";
    }
    return "unknown";
}
