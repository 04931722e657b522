#include "history.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "envelope.h"

struct history {
    size_t capacity;
    uint64_t first; /* oldest offset held */
    uint64_t next;  /* offset of the next append */
    struct history_epoch_span lineage[HISTORY_LINEAGE_MAX]; /* oldest first; last = current */
    size_t nlineage;
    struct frame **slots; /* slot of offset o is (o - 1) % capacity */
};

static void lineage_push(struct history *h, const char *epoch, uint64_t first)
{
    struct history_epoch_span *top = h->nlineage ? &h->lineage[h->nlineage - 1] : NULL;
    if (top && top->first == first) {
        /* The current epoch sequenced nothing: replace it rather than keep an empty span. */
        snprintf(top->epoch, sizeof top->epoch, "%s", epoch);
        return;
    }
    if (h->nlineage == HISTORY_LINEAGE_MAX) {
        memmove(h->lineage, h->lineage + 1, sizeof h->lineage[0] * (HISTORY_LINEAGE_MAX - 1));
        h->nlineage--;
    }
    snprintf(h->lineage[h->nlineage].epoch, sizeof h->lineage[0].epoch, "%s", epoch);
    h->lineage[h->nlineage].first = first;
    h->nlineage++;
}

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
    snprintf(h->lineage[0].epoch, sizeof h->lineage[0].epoch, "%s", epoch);
    h->lineage[0].first = 1;
    h->nlineage = 1;
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
    return h->lineage[h->nlineage - 1].epoch;
}

size_t history_lineage(const struct history *h, struct history_epoch_span *out, size_t max)
{
    size_t n = h->nlineage < max ? h->nlineage : max;
    memcpy(out, h->lineage + (h->nlineage - n), n * sizeof *out);
    return n;
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
    snprintf(h->lineage[0].epoch, sizeof h->lineage[0].epoch, "%s", epoch);
    h->lineage[0].first = 1;
    h->nlineage = 1;
}

void history_begin_epoch(struct history *h, const char *epoch)
{
    lineage_push(h, epoch, h->next);
}

void history_adopt(struct history *h, const struct history_epoch_span *lineage, size_t n,
                   uint64_t next)
{
    drop_all(h);
    if (n > HISTORY_LINEAGE_MAX) {
        lineage += n - HISTORY_LINEAGE_MAX;
        n = HISTORY_LINEAGE_MAX;
    }
    memcpy(h->lineage, lineage, n * sizeof *lineage);
    h->nlineage = n;
    h->first = h->next = next < 1 ? 1 : next;
}

void history_append_mirrored(struct history *h, struct frame *f, const char *epoch)
{
    /* The entry that covers this offset must name the frame's epoch; entries from here on
     * that say otherwise came from an adopted lineage the stream now contradicts. */
    size_t i = h->nlineage;
    while (i > 1 && h->lineage[i - 1].first > h->next)
        i--;
    if (strcmp(h->lineage[i - 1].epoch, epoch) != 0) {
        while (h->nlineage > 1 && h->lineage[h->nlineage - 1].first >= h->next)
            h->nlineage--;
        lineage_push(h, epoch, h->next);
    }
    history_append(h, f);
}

enum history_plan_result history_plan(const struct history *h, const char *epoch, uint64_t since,
                                      uint64_t *from)
{
    *from = h->next;
    size_t i = h->nlineage;
    while (i > 0 && strcmp(h->lineage[i - 1].epoch, epoch) != 0)
        i--;
    if (i == 0)
        return HISTORY_EPOCH_CHANGED;
    i--;
    if (since + 1 < h->lineage[i].first)
        return HISTORY_DIVERGED; /* claims an offset this epoch never sequenced */
    if (i + 1 < h->nlineage) {
        /* An earlier epoch: valid up to the offset before the next epoch took over. */
        if (since >= h->lineage[i + 1].first)
            return HISTORY_DIVERGED;
    } else if (since >= h->next) {
        return HISTORY_AHEAD;
    }
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
    case HISTORY_DIVERGED: return "diverged";
    }
    return "unknown";
}
