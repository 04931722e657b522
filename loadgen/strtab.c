#include "strtab.h"

#include <stdlib.h>
#include <string.h>

struct strtab {
    uint32_t *slots; /* index + 1, 0 = empty */
    size_t nslots;   /* power of two */
    size_t *offs;    /* offset of string i in arena */
    uint32_t *lens;
    uint32_t *hashes;
    uint32_t n, cap;
    char *arena;
    size_t used, size;
};

static uint32_t hash_bytes(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

struct strtab *strtab_new(void)
{
    struct strtab *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->nslots = 64;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    if (t->slots == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void strtab_free(struct strtab *t)
{
    if (t == NULL)
        return;
    free(t->slots);
    free(t->offs);
    free(t->lens);
    free(t->hashes);
    free(t->arena);
    free(t);
}

static uint32_t lookup(const struct strtab *t, const char *s, size_t len, uint32_t h, size_t *slot)
{
    size_t mask = t->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t v = t->slots[i];
        if (v == 0) {
            *slot = i;
            return STRTAB_NONE;
        }
        uint32_t idx = v - 1;
        if (t->hashes[idx] == h && t->lens[idx] == len &&
            memcmp(t->arena + t->offs[idx], s, len) == 0)
            return idx;
    }
}

static int grow_slots(struct strtab *t)
{
    size_t n = t->nslots * 2;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (slots == NULL)
        return -1;
    for (uint32_t idx = 0; idx < t->n; idx++) {
        size_t i = t->hashes[idx] & (n - 1);
        while (slots[i] != 0)
            i = (i + 1) & (n - 1);
        slots[i] = idx + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    return 0;
}

uint32_t strtab_find(const struct strtab *t, const char *s, size_t len)
{
    size_t slot;
    return lookup(t, s, len, hash_bytes(s, len), &slot);
}

uint32_t strtab_intern(struct strtab *t, const char *s, size_t len)
{
    uint32_t h = hash_bytes(s, len);
    size_t slot;
    uint32_t idx = lookup(t, s, len, h, &slot);
    if (idx != STRTAB_NONE)
        return idx;
    if (len > UINT32_MAX / 2 || t->n >= UINT32_MAX - 1)
        return STRTAB_NONE;
    if ((size_t)(t->n + 1) * 2 > t->nslots) {
        if (grow_slots(t) != 0)
            return STRTAB_NONE;
        lookup(t, s, len, h, &slot);
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        size_t *offs = realloc(t->offs, cap * sizeof *offs);
        if (offs == NULL)
            return STRTAB_NONE;
        t->offs = offs;
        uint32_t *lens = realloc(t->lens, cap * sizeof *lens);
        if (lens == NULL)
            return STRTAB_NONE;
        t->lens = lens;
        uint32_t *hashes = realloc(t->hashes, cap * sizeof *hashes);
        if (hashes == NULL)
            return STRTAB_NONE;
        t->hashes = hashes;
        t->cap = cap;
    }
    if (t->used + len + 1 > t->size) {
        size_t size = t->size ? t->size : 4096;
        while (t->used + len + 1 > size)
            size *= 2;
        char *arena = realloc(t->arena, size);
        if (arena == NULL)
            return STRTAB_NONE;
        t->arena = arena;
        t->size = size;
    }
    idx = t->n++;
    t->offs[idx] = t->used;
    t->lens[idx] = (uint32_t)len;
    t->hashes[idx] = h;
    memcpy(t->arena + t->used, s, len);
    t->arena[t->used + len] = '\0';
    t->used += len + 1;
    t->slots[slot] = idx + 1;
    return idx;
}

const char *strtab_get(const struct strtab *t, uint32_t idx)
{
    return idx < t->n ? t->arena + t->offs[idx] : "";
}

uint32_t strtab_count(const struct strtab *t)
{
    return t->n;
}
