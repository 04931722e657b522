/*
 * monoclock — milliseconds on CLOCK_MONOTONIC, for deadlines and durations (never wall time).
 */
#ifndef RELAYLAB_MONOCLOCK_H
#define RELAYLAB_MONOCLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
static inline int64_t monoclock_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

#endif
