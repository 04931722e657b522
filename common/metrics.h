/*
 * metrics — counters and gauges rendered as Prometheus text (exposition format 0.0.4).
 *
 * A registry holds a fixed set of metrics declared at start-up; values are 64-bit atomics,
 * so any thread may update them without locks. Rendering walks the registry once.
 */
#ifndef RELAYLAB_METRICS_H
#define RELAYLAB_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct metrics;
struct metric;

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE };

/* Returns an empty registry, or NULL when out of memory. Caller frees with metrics_free. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m); /* accepts NULL */

/*
 * Declares a metric. name must be a valid Prometheus name, labels either NULL or a
 * preformatted label set such as `pod="app-1"`. The strings are copied. Returns a handle
 * owned by the registry, or NULL when out of memory or the registry is full (256 metrics).
 * One thread at a time may add; metrics_render() may run meanwhile on others.
 */
struct metric *metrics_add(struct metrics *m, enum metric_kind kind, const char *name,
                           const char *labels, const char *help);

void metric_inc(struct metric *x);
void metric_add(struct metric *x, uint64_t v);
void metric_sub(struct metric *x, uint64_t v);
void metric_set(struct metric *x, int64_t v);
int64_t metric_get(const struct metric *x);

/* Renders every metric as Prometheus text. Returns a NUL-terminated string (caller frees) or NULL.
 */
char *metrics_render(const struct metrics *m, size_t *len);

#endif
