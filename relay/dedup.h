/*
 * dedup — remembers recent emit ids so a retried emit is acknowledged with its original
 * offset instead of being broadcast twice. Bounded in count (oldest evicted first) and in
 * time (entries older than the window are forgotten). Its memory follows the ids the window
 * holds (about 32 bytes + the id each), not the count bound. Not thread-safe: the caller locks.
 */
#ifndef RELAY_DEDUP_H
#define RELAY_DEDUP_H

#include <stddef.h>
#include <stdint.h>

struct dedup;

/* Returns NULL when out of memory. Caller frees with dedup_free. */
struct dedup *dedup_new(size_t max_entries, int64_t window_ms);
void dedup_free(struct dedup *d); /* accepts NULL */

/* Returns 1 and the stored offset when id was recorded within the window, else 0. */
int dedup_lookup(struct dedup *d, const char *id, int64_t now_ms, uint64_t *offset);
/* Records id -> offset (id is copied). Returns 0, or -1 when out of memory. */
int dedup_insert(struct dedup *d, const char *id, uint64_t offset, int64_t now_ms);
size_t dedup_size(const struct dedup *d);
/* Slots allocated now: they grow (doubling) with the ids held within the window, up to
 * max_entries, and do not shrink. */
size_t dedup_capacity(const struct dedup *d);

#endif
