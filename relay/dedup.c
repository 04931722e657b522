#include "dedup.h"

#include <stdlib.h>
#include <string.h>

/* Entries live in a FIFO ring (insertion order = age); a chained hash indexes them. */
struct entry {
    char *id;
    uint32_t hash;
    int32_t chain; /* next entry index in the same bucket, -1 = end */
    uint64_t offset;
    int64_t t_ms;
};

struct dedup {
    struct entry *ring;
    size_t cap, head, count; /* oldest at head */
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

struct dedup *dedup_new(size_t max_entries, int64_t window_ms)
{
    if (max_entries < 1)
        max_entries = 1;
    struct dedup *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->cap = max_entries;
    d->nbuckets = 16;
    while (d->nbuckets < max_entries * 2)
        d->nbuckets *= 2;
    d->ring = calloc(d->cap, sizeof *d->ring);
    d->buckets = malloc(d->nbuckets * sizeof *d->buckets);
    if (d->ring == NULL || d->buckets == NULL) {
        dedup_free(d);
        return NULL;
    }
    memset(d->buckets, 0xff, d->nbuckets * sizeof *d->buckets);
    d->window_ms = window_ms;
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
    if (d->count == d->cap)
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
