#include "oplog.h"

#include <stdlib.h>
#include <string.h>

#include "sdoc.h"
#include "sim.h"

#define ENTRY_OVERHEAD 64

struct oplog {
    struct oplog_entry *ring;
    size_t cap, head, count; /* entries ring[head .. head+count) modulo cap */
    size_t max_entries, max_bytes, bytes;
    uint64_t last_seq;
    uint32_t ts_t, ts_i;
    int64_t wall_ms;
    char **names; /* interned database and collection names */
    size_t nnames, capnames;
};

struct oplog *oplog_new(size_t max_entries, size_t max_bytes)
{
    struct oplog *o = calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    o->max_entries = max_entries ? max_entries : 1;
    o->max_bytes = max_bytes ? max_bytes : 1;
    o->wall_ms = msim_wall_ms();
    o->ts_t = (uint32_t)(o->wall_ms / 1000);
    o->ts_i = 1;
    return o;
}

static size_t entry_bytes(const struct oplog_entry *e)
{
    return ENTRY_OVERHEAD + (e->doc ? e->doc->len : 0) + (e->key ? e->key->len : 0) +
           (e->desc ? e->desc->len : 0);
}

static void entry_clear(struct oplog_entry *e)
{
    sdoc_unref(e->doc);
    sdoc_unref(e->key);
    sdoc_unref(e->desc);
    memset(e, 0, sizeof *e);
}

static void drop_oldest(struct oplog *o)
{
    struct oplog_entry *e = &o->ring[o->head];
    o->bytes -= entry_bytes(e);
    entry_clear(e);
    o->head = (o->head + 1) % o->cap;
    o->count--;
}

void oplog_free(struct oplog *o)
{
    if (o == NULL)
        return;
    while (o->count)
        drop_oldest(o);
    free(o->ring);
    for (size_t i = 0; i < o->nnames; i++)
        free(o->names[i]);
    free(o->names);
    free(o);
}

static const char *intern(struct oplog *o, const char *s)
{
    for (size_t i = 0; i < o->nnames; i++)
        if (strcmp(o->names[i], s) == 0)
            return o->names[i];
    if (o->nnames == o->capnames) {
        size_t cap = o->capnames ? o->capnames * 2 : 16;
        char **n = realloc(o->names, cap * sizeof *n);
        if (n == NULL)
            return NULL;
        o->names = n;
        o->capnames = cap;
    }
    char *copy = strdup(s);
    if (copy == NULL)
        return NULL;
    o->names[o->nnames++] = copy;
    return copy;
}

/* Makes room for one more entry: grows the ring up to max_entries, else drops the oldest. */
static int make_room(struct oplog *o)
{
    if (o->count < o->cap)
        return 0;
    if (o->cap < o->max_entries) {
        size_t ncap = o->cap ? o->cap * 2 : 1024;
        if (ncap > o->max_entries)
            ncap = o->max_entries;
        struct oplog_entry *r = calloc(ncap, sizeof *r);
        if (r != NULL) {
            for (size_t i = 0; i < o->count; i++)
                r[i] = o->ring[(o->head + i) % o->cap];
            free(o->ring);
            o->ring = r;
            o->cap = ncap;
            o->head = 0;
            return 0;
        }
    }
    if (o->count == 0)
        return -1;
    drop_oldest(o);
    return 0;
}

const char *oplog_op_name(char op)
{
    switch (op) {
    case 'i':
        return "insert";
    case 'u':
        return "update";
    case 'r':
        return "replace";
    case 'd':
        return "delete";
    case 'c':
        return "drop";
    default:
        return "dropDatabase";
    }
}

int oplog_append(struct oplog *o, char op, const char *db, const char *coll, struct sdoc *doc,
                 struct sdoc *key, struct sdoc *desc)
{
    const char *idb = intern(o, db), *icoll = intern(o, coll);
    if (idb == NULL || icoll == NULL || make_room(o) != 0) {
        sdoc_unref(doc);
        sdoc_unref(key);
        sdoc_unref(desc);
        return -1;
    }
    int64_t wall = msim_wall_ms();
    uint32_t t = (uint32_t)(wall / 1000);
    if (t > o->ts_t) {
        o->ts_t = t;
        o->ts_i = 1;
    } else {
        o->ts_i++;
    }
    o->wall_ms = wall;
    struct oplog_entry *e = &o->ring[(o->head + o->count) % o->cap];
    *e = (struct oplog_entry){.seq = ++o->last_seq,
                              .ts_t = o->ts_t,
                              .ts_i = o->ts_i,
                              .wall_ms = wall,
                              .op = op,
                              .db = idb,
                              .coll = icoll,
                              .doc = doc,
                              .key = key,
                              .desc = desc};
    o->count++;
    o->bytes += entry_bytes(e);
    while (o->count > 1 && (o->count > o->max_entries || o->bytes > o->max_bytes))
        drop_oldest(o);
    return 0;
}

uint64_t oplog_last_seq(const struct oplog *o)
{
    return o->last_seq;
}

uint64_t oplog_first_seq(const struct oplog *o)
{
    return o->last_seq - o->count + 1;
}

const struct oplog_entry *oplog_get(const struct oplog *o, uint64_t seq)
{
    if (seq == 0 || seq > o->last_seq || seq < oplog_first_seq(o))
        return NULL;
    return &o->ring[(o->head + (size_t)(seq - oplog_first_seq(o))) % o->cap];
}

void oplog_last_ts(const struct oplog *o, uint32_t *t, uint32_t *i)
{
    *t = o->ts_t;
    *i = o->ts_i;
}

int64_t oplog_last_wall(const struct oplog *o)
{
    return o->wall_ms;
}
