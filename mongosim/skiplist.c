#include "skiplist.h"

#include <stdlib.h>
#include <string.h>

static uint64_t rnd(struct skiplist *sl)
{
    uint64_t x = sl->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sl->rng = x;
    return x;
}

int sl_init(struct skiplist *sl, uint64_t seed)
{
    memset(sl, 0, sizeof *sl);
    sl->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
    sl->head = calloc(1, sizeof *sl->head + SL_MAX_LEVEL * sizeof(struct sl_node *));
    if (sl->head == NULL)
        return -1;
    sl->head->level = SL_MAX_LEVEL;
    sl->level = 1;
    return 0;
}

void sl_cleanup(struct skiplist *sl)
{
    if (sl->head == NULL)
        return;
    struct sl_node *n = sl->head->next[0];
    while (n) {
        struct sl_node *next = n->next[0];
        free(n);
        n = next;
    }
    free(sl->head);
    memset(sl, 0, sizeof *sl);
}

/* Bytes of a node of level lv up to its payload, rounded to 8. */
static size_t header_size(int lv)
{
    size_t h = sizeof(struct sl_node) + (size_t)lv * sizeof(struct sl_node *);
    return (h + 7) & ~(size_t)7;
}

struct sl_node *sl_node_new(struct skiplist *sl, size_t payload)
{
    int lv = 1;
    /* p = 1/4 per level: about 1.33 pointers per node. */
    for (uint64_t r = rnd(sl); lv < SL_MAX_LEVEL && (r & 3) == 0; r >>= 2)
        lv++;
    struct sl_node *n = calloc(1, header_size(lv) + payload);
    if (n)
        n->level = lv;
    return n;
}

void *sl_payload(const struct sl_node *n)
{
    return (char *)n + header_size(n->level);
}

/* Fills upd[i] with the last node at level i ordering before probe (strictly when strict). */
static void find_path(const struct skiplist *sl, sl_cmp_fn cmp, const void *probe, const void *ctx,
                      int strict, struct sl_node **upd)
{
    struct sl_node *x = sl->head;
    for (int i = sl->level - 1; i >= 0; i--) {
        while (x->next[i]) {
            int c = cmp(x->next[i], probe, ctx);
            if (c < 0 || (!strict && c == 0))
                x = x->next[i];
            else
                break;
        }
        if (upd)
            upd[i] = x;
    }
    if (upd)
        for (int i = sl->level; i < SL_MAX_LEVEL; i++)
            upd[i] = sl->head;
}

void sl_insert(struct skiplist *sl, struct sl_node *node, sl_cmp_fn cmp, const void *probe,
               const void *ctx)
{
    struct sl_node *upd[SL_MAX_LEVEL];
    find_path(sl, cmp, probe, ctx, 1, upd);
    if (node->level > sl->level)
        sl->level = node->level;
    for (int i = 0; i < node->level; i++) {
        node->next[i] = upd[i]->next[i];
        upd[i]->next[i] = node;
    }
    node->prev = upd[0] == sl->head ? NULL : upd[0];
    if (node->next[0])
        node->next[0]->prev = node;
    else
        sl->tail = node;
    sl->n++;
}

struct sl_node *sl_remove(struct skiplist *sl, sl_cmp_fn cmp, const void *probe, const void *ctx)
{
    struct sl_node *upd[SL_MAX_LEVEL];
    find_path(sl, cmp, probe, ctx, 1, upd);
    struct sl_node *x = upd[0]->next[0];
    if (x == NULL || cmp(x, probe, ctx) != 0)
        return NULL;
    for (int i = 0; i < x->level; i++)
        if (upd[i]->next[i] == x)
            upd[i]->next[i] = x->next[i];
    if (x->next[0])
        x->next[0]->prev = x->prev;
    else
        sl->tail = x->prev;
    while (sl->level > 1 && sl->head->next[sl->level - 1] == NULL)
        sl->level--;
    sl->n--;
    return x;
}

struct sl_node *sl_seek(const struct skiplist *sl, sl_cmp_fn cmp, const void *probe,
                        const void *ctx, int strict)
{
    /* The last node before the answer is the last one with cmp < 0 (<= 0 when strict). */
    struct sl_node *x = sl->head;
    for (int i = sl->level - 1; i >= 0; i--) {
        while (x->next[i]) {
            int c = cmp(x->next[i], probe, ctx);
            if (c < 0 || (strict && c == 0))
                x = x->next[i];
            else
                break;
        }
    }
    return x->next[0];
}

struct sl_node *sl_seek_last(const struct skiplist *sl, sl_cmp_fn cmp, const void *probe,
                             const void *ctx, int strict)
{
    struct sl_node *after = sl_seek(sl, cmp, probe, ctx, !strict);
    return after ? after->prev : sl->tail;
}
