/*
 * product — the product document: validation of what clients send (pure functions, no I/O)
 * and the JSON shape of what is stored and returned.
 *
 * A stored product is {"_id":"<24 hex>","name","price","req_id","pod","created_at"} plus
 * "store" when the client gave one; the same object is the websocket payload (data) of
 * new_product.
 */
#ifndef FAKEAPP_PRODUCT_H
#define FAKEAPP_PRODUCT_H

#include <jansson.h>
#include <stddef.h>

#define PRODUCT_NAME_MAX 200  /* characters (code points) */
#define PRODUCT_REQ_ID_MAX 64 /* bytes of [A-Za-z0-9_.:-] */
#define PRODUCT_PRICE_MAX 1000000000.0
#define PRODUCT_MAX_DEPTH 8 /* JSON nesting accepted in a body */
#define PRODUCT_LIST_DEFAULT 20
#define PRODUCT_LIST_MAX 1000
#define PRODUCT_ID_LEN 24    /* hex characters of an ObjectId */
#define PRODUCT_STORE_MAX 32 /* bytes of [A-Za-z0-9_-] */

struct product_input {
    char name[PRODUCT_NAME_MAX * 4 + 1]; /* UTF-8, NUL-terminated */
    double price;
    char req_id[PRODUCT_REQ_ID_MAX + 1];
    char store[PRODUCT_STORE_MAX + 1]; /* optional: "" when absent */
};

/*
 * Validates a POST /products body. Returns 0 and fills out, or -1 with a message in err that
 * names the field ("missing field 'price'", "'name' must be a string, got integer", ...).
 */
int product_parse(const char *body, size_t len, struct product_input *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Parses the limit query parameter of GET /products: NULL means PRODUCT_LIST_DEFAULT, else
 * a decimal integer 1..PRODUCT_LIST_MAX. Returns 0, or -1 with a message in err.
 */
int product_parse_limit(const char *s, long *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* 1 when s is exactly 24 hexadecimal digits (an ObjectId), else 0. */
int product_id_valid(const char *s);

/* 1 when s is 1..PRODUCT_REQ_ID_MAX characters of [A-Za-z0-9_.:-], else 0. */
int product_req_id_valid(const char *s, size_t len);

#endif
