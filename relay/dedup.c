#include "dedup.h"

#include <stdlib.h>
#include <string.h>

/*
 * Entries live in a FIFO ring (insertion order = age); a chained hash indexes them. The ring
 * starts small and doubles (up to max) only when the ids held within the window fill it, so
 * its memory follows what the window holds, not --dedup-max: a ring of max slots allocated
 * at once is cheap until written, but its write position moves one slot per emit, so the
 * process's resident memory would creep up by one slot per emit until all max slots had
 * been written (32 bytes per emit: 3.2 MB after 100,000 emits at the default, whatever the
 * window holds).
 */
#define DEDUP_FIRST_CAP 1024

struct entry {
    char *id;
    uint32_t hash;
    int32_t chain; /* next entry index in the same bucket, -1 = end */
    uint64_t offset;
    int64_t t_ms;
};

struct dedup {
    struct entry *ring;
    size_t cap, max, head, count; /* oldest at head; cap slots now, at most max */
    int32_t *buckets;
    size_t nbuckets; /* power of two */
    int64_t window_ms;
};

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static size_t buckets_for(size_t cap)
{
    size_t n = 16;
    while (n < cap * 2)
        n *= 2;
    return n;
}

/* Moves the entries into a ring of cap slots (oldest at 0) with an index sized for it.
 * Returns 0, or -1 (nothing changed) when out of memory. */
static int resize(struct dedup *d, size_t cap)
{
    size_t nb = buckets_for(cap);
    struct entry *ring = malloc(cap * sizeof *ring);
    int32_t *b = malloc(nb * sizeof *b);
    if (ring == NULL || b == NULL) {
        free(ring);
        free(b);
        return -1;
    }
    memset(b, 0xff, nb * sizeof *b);
    for (size_t i = 0; i < d->count; i++) {
        ring[i] = d->ring[(d->head + i) % d->cap];
        int32_t *head = &b[ring[i].hash & (nb - 1)];
        ring[i].chain = *head;
        *head = (int32_t)i;
    }
    free(d->ring);
    free(d->buckets);
    d->ring = ring;
    d->buckets = b;
    d->cap = cap;
    d->nbuckets = nb;
    d->head = 0;
    return 0;
}

struct dedup *dedup_new(size_t max_entries, int64_t window_ms)
{
    if (max_entries < 1)
        max_entries = 1;
    if (max_entries > INT32_MAX / 2)
        max_entries = INT32_MAX / 2; /* entries are indexed by int32_t */
    struct dedup *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->max = max_entries;
    d->window_ms = window_ms;
    if (resize(d, max_entries < DEDUP_FIRST_CAP ? max_entries : DEDUP_FIRST_CAP) != 0) {
        free(d);
        return NULL;
    }
    return d;
}

void dedup_free(struct dedup *d)
{
    if (d == NULL)
        return;
    if (d->ring)
        for (size_t i = 0; i < d->count; i++)
            free(d->ring[(d->head + i) % d->cap].id);
    free(d->ring);
    free(d->buckets);
    free(d);
}

static void evict_oldest(struct dedup *d)
{
    int32_t idx = (int32_t)d->head;
    struct entry *e = &d->ring[idx];
    int32_t *p = &d->buckets[e->hash & (d->nbuckets - 1)];
    while (*p != -1 && *p != idx)
        p = &d->ring[*p].chain;
    if (*p == idx)
        *p = e->chain;
    free(e->id);
    e->id = NULL;
    d->head = (d->head + 1) % d->cap;
    d->count--;
}

static void expire(struct dedup *d, int64_t now_ms)
{
    while (d->count > 0 && now_ms - d->ring[d->head].t_ms > d->window_ms)
        evict_oldest(d);
}

int dedup_lookup(struct dedup *d, const char *id, int64_t now_ms, uint64_t *offset)
{
    expire(d, now_ms);
    uint32_t h = hash_str(id);
    for (int32_t i = d->buckets[h & (d->nbuckets - 1)]; i != -1; i = d->ring[i].chain) {
        if (d->ring[i].hash == h && strcmp(d->ring[i].id, id) == 0) {
            *offset = d->ring[i].offset;
            return 1;
        }
    }
    return 0;
}

int dedup_insert(struct dedup *d, const char *id, uint64_t offset, int64_t now_ms)
{
    expire(d, now_ms);
    /* Full: a bigger ring while below max (else, or out of memory, the oldest id goes). */
    if (d->count == d->cap &&
        (d->cap == d->max || resize(d, d->cap * 2 < d->max ? d->cap * 2 : d->max) != 0))
        evict_oldest(d);
    char *copy = strdup(id);
    if (copy == NULL)
        return -1;
    size_t idx = (d->head + d->count) % d->cap;
    struct entry *e = &d->ring[idx];
    e->id = copy;
    e->hash = hash_str(id);
    e->offset = offset;
    e->t_ms = now_ms;
    int32_t *b = &d->buckets[e->hash & (d->nbuckets - 1)];
    e->chain = *b;
    *b = (int32_t)idx;
    d->count++;
    return 0;
}

size_t dedup_size(const struct dedup *d)
{
    return d->count;
}

size_t dedup_capacity(const struct dedup *d)
{
    return d->cap;
}
