/*
 * skiplist — an ordered set of nodes under a caller-supplied comparison, with O(log n)
 * insert, remove and seek, and O(1) steps forwards and backwards. It orders a
 * collection's records (by record id) and every index (by key, then record id). The
 * caller allocates nodes with sl_node_new, which leaves room for the caller's payload.
 */
#ifndef MONGOSIM_SKIPLIST_H
#define MONGOSIM_SKIPLIST_H

#include <stddef.h>
#include <stdint.h>

#define SL_MAX_LEVEL 24

struct sl_node {
    struct sl_node *prev; /* level 0, NULL for the first node */
    void *item;           /* the caller's pointer */
    int level;
    struct sl_node *next[]; /* level pointers, followed by the payload */
};

/*
 * Compares node n with a probe: <0 when n orders before it, 0 equal, >0 after. The same
 * function must order every node consistently with the probes it is used with.
 */
typedef int (*sl_cmp_fn)(const struct sl_node *n, const void *probe, const void *ctx);

struct skiplist {
    struct sl_node *head; /* sentinel, SL_MAX_LEVEL pointers */
    struct sl_node *tail; /* last node or NULL */
    int level;
    size_t n;
    uint64_t rng;
};

/* Initialises an empty list. Returns 0, or -1 on OOM. */
int sl_init(struct skiplist *sl, uint64_t seed);

/* Frees the sentinel and every node (node payloads need no cleanup, or the caller did it). */
void sl_cleanup(struct skiplist *sl);

/* Allocates a node of a random level with payload bytes after it (8-byte aligned). NULL on
 * OOM. Free with free() once it is out of the list. */
struct sl_node *sl_node_new(struct skiplist *sl, size_t payload);

/* The payload area of a node from sl_node_new. */
void *sl_payload(const struct sl_node *n);

/* Links node in at its place under cmp (probe: what cmp compares nodes with for this node). */
void sl_insert(struct skiplist *sl, struct sl_node *node, sl_cmp_fn cmp, const void *probe,
               const void *ctx);

/* Unlinks and returns the node comparing equal to probe, or NULL. The caller frees it. */
struct sl_node *sl_remove(struct skiplist *sl, sl_cmp_fn cmp, const void *probe, const void *ctx);

/* First node n with cmp(n, probe) >= 0 (> 0 when strict), or NULL. */
struct sl_node *sl_seek(const struct skiplist *sl, sl_cmp_fn cmp, const void *probe,
                        const void *ctx, int strict);

/* Last node n with cmp(n, probe) <= 0 (< 0 when strict), or NULL. */
struct sl_node *sl_seek_last(const struct skiplist *sl, sl_cmp_fn cmp, const void *probe,
                             const void *ctx, int strict);

static inline struct sl_node *sl_first(const struct skiplist *sl)
{
    return sl->head->next[0];
}

static inline struct sl_node *sl_last(const struct skiplist *sl)
{
    return sl->tail;
}

static inline struct sl_node *sl_next(const struct sl_node *n)
{
    return n->next[0];
}

static inline struct sl_node *sl_prev(const struct sl_node *n)
{
    return n->prev;
}

#endif
