/*
 * hist — a log-linear latency histogram in the manner of HdrHistogram.
 *
 * Values are unsigned integers (the lab records microseconds). Each power-of-two range is
 * split into 256 linear sub-buckets, so any reported percentile is within 1/256 (< 0.4 %)
 * of a value that was recorded. Recording is O(1) and allocation-free; memory is fixed
 * (64 ranges x 256 counters). Not thread-safe: keep one per thread and merge.
 */
#ifndef RELAYLAB_HIST_H
#define RELAYLAB_HIST_H

#include <stddef.h>
#include <stdint.h>

struct hist;

/* Returns a zeroed histogram, or NULL when out of memory. Caller frees with hist_free. */
struct hist *hist_new(void);
void hist_free(struct hist *h); /* accepts NULL */
void hist_reset(struct hist *h);

void hist_record(struct hist *h, uint64_t value);
void hist_record_n(struct hist *h, uint64_t value, uint64_t count);
/* Adds every count of src into dst. */
void hist_merge(struct hist *dst, const struct hist *src);

uint64_t hist_count(const struct hist *h);
uint64_t hist_min(const struct hist *h); /* 0 when empty */
uint64_t hist_max(const struct hist *h); /* exact, 0 when empty */
double hist_mean(const struct hist *h);
/*
 * The value at percentile p (0..100): the smallest recorded bucket whose cumulative count
 * reaches ceil(p/100 * count), reported as the bucket's upper bound clamped to the exact max.
 * Returns 0 when empty.
 */
uint64_t hist_percentile(const struct hist *h, double p);

/*
 * Calls fn for each non-empty bucket in increasing order with the bucket's representative
 * value and its count (for CDF plots). Stops early when fn returns non-zero.
 */
void hist_foreach(const struct hist *h, int (*fn)(uint64_t value, uint64_t count, void *ud),
                  void *ud);

#endif
