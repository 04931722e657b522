#include "sdoc.h"

#include <stdlib.h>
#include <string.h>

struct sdoc *sdoc_new(const uint8_t *data, uint32_t len)
{
    struct sdoc *d = malloc(sizeof *d + len);
    if (d == NULL)
        return NULL;
    d->refs = 1;
    d->len = len;
    memcpy(d->data, data, len);
    return d;
}

struct sdoc *sdoc_from_bson(const bson_t *b)
{
    return sdoc_new(bson_get_data(b), b->len);
}

struct sdoc *sdoc_ref(struct sdoc *d)
{
    if (d)
        d->refs++;
    return d;
}

void sdoc_unref(struct sdoc *d)
{
    if (d && --d->refs == 0)
        free(d);
}
