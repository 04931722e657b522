#include "rollback.h"

#include <stdlib.h>

#include "oplog.h"
#include "store.h"

struct rollbacks {
    bson_t **ops; /* a ring of max_ops slots: head is the oldest, n kept */
    size_t max_ops, head, n;
    size_t bytes, max_bytes;
    uint64_t count; /* rollbacks */
    struct rollback_sum total;
};

struct rollbacks *rollbacks_new(size_t max_ops, size_t max_bytes)
{
    struct rollbacks *rb = calloc(1, sizeof *rb);
    if (rb == NULL)
        return NULL;
    rb->max_ops = max_ops ? max_ops : 1;
    rb->max_bytes = max_bytes;
    rb->ops = calloc(rb->max_ops, sizeof *rb->ops);
    if (rb->ops == NULL) {
        free(rb);
        return NULL;
    }
    return rb;
}

void rollbacks_free(struct rollbacks *rb)
{
    if (rb == NULL)
        return;
    for (size_t k = 0; k < rb->n; k++)
        bson_destroy(rb->ops[(rb->head + k) % rb->max_ops]);
    free(rb->ops);
    free(rb);
}

static void drop_oldest(struct rollbacks *rb)
{
    bson_t *old = rb->ops[rb->head];
    rb->bytes -= old->len;
    bson_destroy(old);
    rb->ops[rb->head] = NULL;
    rb->head = (rb->head + 1) % rb->max_ops;
    rb->n--;
}

static void keep(struct rollbacks *rb, bson_t *op)
{
    while (rb->n > 0 && (rb->n == rb->max_ops || rb->bytes + op->len > rb->max_bytes))
        drop_oldest(rb);
    rb->ops[(rb->head + rb->n) % rb->max_ops] = op;
    rb->n++;
    rb->bytes += op->len;
}

/* One rolled-back operation: the document as the stale primary wrote it (none for a delete
 * or a drop), as mongod's rollback files hold the documents as the member had them. */
static bson_t *op_doc(uint64_t rollback, int member, const struct oplog_entry *e)
{
    bson_t *op = bson_new(), v;
    bson_iter_t it;
    char ns[512];
    bson_snprintf(ns, sizeof ns, "%s%s%s", e->db, e->coll[0] ? "." : "", e->coll);
    BSON_APPEND_INT64(op, "rollback", (int64_t)rollback);
    BSON_APPEND_INT32(op, "member", member);
    BSON_APPEND_UTF8(op, "ns", ns);
    BSON_APPEND_UTF8(op, "op", oplog_op_name(e->op));
    const struct sdoc *idsrc = e->key ? e->key : e->doc;
    if (idsrc) {
        sdoc_view(idsrc, &v);
        if (bson_iter_init_find(&it, &v, "_id"))
            bson_append_value(op, "_id", 3, bson_iter_value(&it));
    }
    if (e->doc) {
        sdoc_view(e->doc, &v);
        BSON_APPEND_DOCUMENT(op, "doc", &v);
    }
    BSON_APPEND_DATE_TIME(op, "wall", e->wall_ms);
    return op;
}

void rollbacks_record(struct rollbacks *rb, int member, const struct store *copy,
                      struct rollback_sum *sum)
{
    *sum = (struct rollback_sum){0};
    uint64_t last = store_last_seq(copy), first = store_first_seq(copy);
    if (last == 0)
        return;
    rb->count++;
    sum->ops = last;           /* the copy's oplog began empty at the cut */
    sum->unlisted = first - 1; /* gone from the copy's bounded oplog before the heal */
    for (uint64_t seq = first; seq <= last; seq++) {
        const struct oplog_entry *e = store_oplog(copy, seq);
        if (e == NULL) {
            sum->unlisted++;
            continue;
        }
        sum->inserts += e->op == 'i';
        sum->updates += e->op == 'u' || e->op == 'r';
        sum->deletes += e->op == 'd';
        sum->others += e->op == 'c' || e->op == 'D';
        bson_t *op = op_doc(rb->count, member, e);
        if (op->len > rb->max_bytes) {
            bson_destroy(op);
            sum->unlisted++;
            continue;
        }
        keep(rb, op);
    }
    rb->total.ops += sum->ops;
    rb->total.inserts += sum->inserts;
    rb->total.updates += sum->updates;
    rb->total.deletes += sum->deletes;
    rb->total.others += sum->others;
    rb->total.unlisted += sum->unlisted;
}

void rollbacks_report(const struct rollbacks *rb, bson_t *reply)
{
    bson_t arr;
    BSON_APPEND_INT64(reply, "rollbacks", (int64_t)rb->count);
    BSON_APPEND_INT64(reply, "ops", (int64_t)rb->total.ops);
    BSON_APPEND_INT64(reply, "inserts", (int64_t)rb->total.inserts);
    BSON_APPEND_INT64(reply, "updates", (int64_t)rb->total.updates);
    BSON_APPEND_INT64(reply, "deletes", (int64_t)rb->total.deletes);
    BSON_APPEND_INT64(reply, "others", (int64_t)rb->total.others);
    BSON_APPEND_INT64(reply, "unlisted", (int64_t)rb->total.unlisted);
    BSON_APPEND_INT64(reply, "listed", (int64_t)rb->n);
    BSON_APPEND_ARRAY_BEGIN(reply, "operations", &arr);
    for (size_t k = 0; k < rb->n; k++) {
        char kb[16];
        const char *key;
        bson_uint32_to_string((uint32_t)k, &key, kb, sizeof kb);
        bson_append_document(&arr, key, -1, rb->ops[(rb->head + k) % rb->max_ops]);
    }
    bson_append_array_end(reply, &arr);
}
