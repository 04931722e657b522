#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MAX 256

struct metric {
    enum metric_kind kind;
    char *name;
    char *labels;
    char *help;
    _Atomic int64_t value;
};

struct metrics {
    /* One thread adds (at start), any thread renders meanwhile (a relay's intake answers
     * /metrics while it waits for MongoDB): an item is in place before n counts it. */
    _Atomic size_t n;
    struct metric *items[METRICS_MAX];
};

struct metrics *metrics_new(void)
{
    return calloc(1, sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    size_t n = atomic_load(&m->n);
    for (size_t i = 0; i < n; i++) {
        free(m->items[i]->name);
        free(m->items[i]->labels);
        free(m->items[i]->help);
        free(m->items[i]);
    }
    free(m);
}

struct metric *metrics_add(struct metrics *m, enum metric_kind kind, const char *name,
                           const char *labels, const char *help)
{
    size_t n = atomic_load_explicit(&m->n, memory_order_relaxed);
    if (n >= METRICS_MAX)
        return NULL;
    struct metric *x = calloc(1, sizeof *x);
    if (x == NULL)
        return NULL;
    x->kind = kind;
    x->name = strdup(name);
    x->labels = labels ? strdup(labels) : NULL;
    x->help = strdup(help ? help : "");
    if (x->name == NULL || x->help == NULL || (labels && x->labels == NULL)) {
        free(x->name);
        free(x->labels);
        free(x->help);
        free(x);
        return NULL;
    }
    atomic_init(&x->value, 0);
    m->items[n] = x;
    atomic_store_explicit(&m->n, n + 1, memory_order_release);
    return x;
}

void metric_inc(struct metric *x)
{
    if (x)
        atomic_fetch_add_explicit(&x->value, 1, memory_order_relaxed);
}

void metric_add(struct metric *x, uint64_t v)
{
    if (x)
        atomic_fetch_add_explicit(&x->value, (int64_t)v, memory_order_relaxed);
}

void metric_sub(struct metric *x, uint64_t v)
{
    if (x)
        atomic_fetch_sub_explicit(&x->value, (int64_t)v, memory_order_relaxed);
}

void metric_set(struct metric *x, int64_t v)
{
    if (x)
        atomic_store_explicit(&x->value, v, memory_order_relaxed);
}

int64_t metric_get(const struct metric *x)
{
    return x ? atomic_load_explicit(&((struct metric *)x)->value, memory_order_relaxed) : 0;
}

char *metrics_render(const struct metrics *m, size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (f == NULL)
        return NULL;
    size_t n = atomic_load_explicit(&((struct metrics *)m)->n, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        const struct metric *x = m->items[i];
        /* HELP and TYPE once per name: labelled series of one name are declared together. */
        int first = 1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->items[j]->name, x->name) == 0)
                first = 0;
        if (first)
            fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", x->name, x->help, x->name,
                    x->kind == METRIC_COUNTER ? "counter" : "gauge");
        if (x->labels)
            fprintf(f, "%s{%s} %lld\n", x->name, x->labels, (long long)metric_get(x));
        else
            fprintf(f, "%s %lld\n", x->name, (long long)metric_get(x));
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    if (len)
        *len = size;
    return buf;
}
