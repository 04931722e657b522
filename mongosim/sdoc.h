/*
 * sdoc — an immutable, reference-counted BSON document. A stored document is shared by the
 * collection, the oplog entry that recorded it and any cursor or change event that returns
 * it, so none of them copies it. Updates never modify an sdoc: they build a new one.
 */
#ifndef MONGOSIM_SDOC_H
#define MONGOSIM_SDOC_H

#include <bson/bson.h>
#include <stdint.h>

struct sdoc {
    uint32_t refs;
    uint32_t len;
    uint8_t data[]; /* len bytes of BSON */
};

/* Copies len bytes of BSON into a new sdoc with one reference. NULL on OOM. */
struct sdoc *sdoc_new(const uint8_t *data, uint32_t len);

/* sdoc_new from a bson_t. NULL on OOM. */
struct sdoc *sdoc_from_bson(const bson_t *b);

/* Adds a reference and returns d. Accepts NULL. */
struct sdoc *sdoc_ref(struct sdoc *d);

/* Drops a reference; frees d with the last one. Accepts NULL. */
void sdoc_unref(struct sdoc *d);

/* Initialises *out as a read-only view of d (no copy; valid while d is referenced). */
static inline void sdoc_view(const struct sdoc *d, bson_t *out)
{
    bson_init_static(out, d->data, d->len);
}

#endif
