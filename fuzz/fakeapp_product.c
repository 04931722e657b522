/*
 * libFuzzer target for fakeapp's POST /products body parser (fakeapp/product.c): any byte
 * string is either a product whose fields satisfy every documented rule, or a refusal with
 * a message; never a crash, a leak or an out-of-bounds read.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "product.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct product_input p;
    char err[256];
    err[0] = '\0';
    if (product_parse((const char *)data, size, &p, err, sizeof err) != 0) {
        if (err[0] == '\0')
            abort(); /* every refusal names its problem */
        return 0;
    }
    size_t n = strlen(p.name);
    if (n == 0 || n >= sizeof p.name || strspn(p.name, " ") == n)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p.name[i] < 0x20 || p.name[i] == 0x7f)
            abort();
    if (!isfinite(p.price) || p.price < 0 || p.price > PRODUCT_PRICE_MAX)
        abort();
    if (!product_req_id_valid(p.req_id, strlen(p.req_id)))
        abort();
    long limit;
    char s[32];
    memcpy(s, data, size < sizeof s - 1 ? size : sizeof s - 1);
    s[size < sizeof s - 1 ? size : sizeof s - 1] = '\0';
    if (product_parse_limit(s, &limit, err, sizeof err) == 0 &&
        (limit < 1 || limit > PRODUCT_LIST_MAX))
        abort();
    return 0;
}
