/*
 * sim — the shared state of one mongosim process: configuration, data set, replica-set
 * state, cursors and sessions. Every command handler receives a struct msim; only the
 * event loop (server.c) owns sockets.
 */
#ifndef MONGOSIM_SIM_H
#define MONGOSIM_SIM_H

#include <stdint.h>
#include <time.h>

struct mongosim_config;
struct store;
struct repl;
struct cursors;
struct sessions;

struct msim {
    const struct mongosim_config *cfg; /* borrowed */
    struct store *store;
    struct repl *repl;
    struct cursors *cursors;
    struct sessions *sessions;
    int changed; /* data or topology changed since the loop last woke its waiters */
};

/* Monotonic milliseconds. */
static inline int64_t msim_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wall-clock milliseconds since the epoch (for BSON dates). */
static inline int64_t msim_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Creates the whole simulated state for cfg (which must outlive it). Returns NULL with a
 * message in err on failure. Free with msim_free.
 */
struct msim *msim_new(const struct mongosim_config *cfg, char *err, size_t errlen);

/* Frees everything msim_new created. Accepts NULL. */
void msim_free(struct msim *sim);

#endif
