/*
 * memstat — the process's memory as a user and as the allocator see it, for /metrics: the
 * resident set (what `ps` and the kernel count), the heap in use (bytes malloc has handed
 * out and not had back) and the heap free (bytes malloc holds in its arenas, not in use and
 * not returned to the system). RSS that grows while the heap in use stays flat is not a
 * leak: it is memory the allocator keeps (free) or pages written for the first time in
 * blocks allocated earlier; a leak grows the heap in use.
 */
#ifndef RELAYLAB_MEMSTAT_H
#define RELAYLAB_MEMSTAT_H

#include <stdint.h>

struct memstat {
    uint64_t rss_bytes;       /* resident set size (/proc/self/statm); 0 when unreadable */
    uint64_t heap_bytes;      /* in use: glibc mallinfo2 uordblks + hblkhd (ASan: its count) */
    uint64_t heap_free_bytes; /* free in the arenas: mallinfo2 fordblks (ASan: its free) */
};

/* Fills m. Thread-safe; walks malloc's free lists (a fraction of a millisecond), so it is
 * meant for a metrics scrape, not a hot path. */
void memstat_read(struct memstat *m);

#endif
