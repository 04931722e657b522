#include "hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * Layout: values 0..255 have a bucket each; every range [2^k, 2^(k+1)) for k = 8..63 is
 * split into 256 buckets of width 2^(k-8). A bucket's width is at most 1/256 of its lower
 * bound, which bounds the relative error of every reported value.
 */
#define SUB_BITS 8
#define SUB_COUNT (1u << SUB_BITS)
#define RANGES (64 - SUB_BITS + 1)
#define NBUCKETS (RANGES * SUB_COUNT)

struct hist {
    uint64_t count;
    uint64_t min, max;
    long double sum;
    uint64_t buckets[NBUCKETS];
};

static unsigned bucket_of(uint64_t v)
{
    if (v < SUB_COUNT)
        return (unsigned)v;
    unsigned k = 63u - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)(v >> (k - SUB_BITS)) - SUB_COUNT;
    return SUB_COUNT + (k - SUB_BITS) * SUB_COUNT + sub;
}

static uint64_t bucket_upper(unsigned i)
{
    if (i < SUB_COUNT)
        return i;
    unsigned k = (i - SUB_COUNT) / SUB_COUNT + SUB_BITS;
    uint64_t sub = (i - SUB_COUNT) % SUB_COUNT;
    uint64_t lower = (SUB_COUNT + sub) << (k - SUB_BITS);
    return lower + ((1ULL << (k - SUB_BITS)) - 1);
}

struct hist *hist_new(void)
{
    struct hist *h = calloc(1, sizeof *h);
    return h;
}

void hist_free(struct hist *h)
{
    free(h);
}

void hist_reset(struct hist *h)
{
    memset(h, 0, sizeof *h);
}

void hist_record_n(struct hist *h, uint64_t value, uint64_t count)
{
    if (count == 0)
        return;
    if (h->count == 0 || value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    h->count += count;
    h->sum += (long double)value * (long double)count;
    h->buckets[bucket_of(value)] += count;
}

void hist_record(struct hist *h, uint64_t value)
{
    hist_record_n(h, value, 1);
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
    for (unsigned i = 0; i < NBUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
}

uint64_t hist_count(const struct hist *h)
{
    return h->count;
}

uint64_t hist_min(const struct hist *h)
{
    return h->min;
}

uint64_t hist_max(const struct hist *h)
{
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? (double)(h->sum / (long double)h->count) : 0.0;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p < 0)
        p = 0;
    if (p > 100)
        p = 100;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = bucket_of(h->min); i < NBUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = bucket_upper(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

void hist_foreach(const struct hist *h, int (*fn)(uint64_t value, uint64_t count, void *ud),
                  void *ud)
{
    if (h->count == 0)
        return;
    for (unsigned i = bucket_of(h->min); i <= bucket_of(h->max); i++) {
        if (h->buckets[i] == 0)
            continue;
        uint64_t v = bucket_upper(i);
        if (v > h->max)
            v = h->max;
        if (fn(v, h->buckets[i], ud) != 0)
            return;
    }
}
