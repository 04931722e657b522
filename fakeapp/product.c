#include "product.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

int product_req_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > PRODUCT_REQ_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

int product_id_valid(const char *s)
{
    size_t i;
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        if (i >= PRODUCT_ID_LEN ||
            !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return i == PRODUCT_ID_LEN;
}

/* Counts code points of valid UTF-8 (jansson has validated it). */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static int has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            return 1;
    return 0;
}

static int only_spaces(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ')
            return 0;
    return 1;
}

static int check_name(json_t *v, struct product_input *out, char *err, size_t errlen)
{
    if (!json_is_string(v)) {
        snprintf(err, errlen, "'name' must be a string, got %s", jsonx_type_name(v));
        return -1;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0 || only_spaces(s, len)) {
        snprintf(err, errlen, "'name' must not be empty");
        return -1;
    }
    size_t chars = utf8_chars(s, len);
    if (chars > PRODUCT_NAME_MAX || len >= sizeof out->name) {
        snprintf(err, errlen, "'name' must be at most %d characters, got %zu", PRODUCT_NAME_MAX,
                 chars);
        return -1;
    }
    if (has_control(s, len)) { /* also catches \u0000 inside the string */
        snprintf(err, errlen, "'name' must not contain control characters");
        return -1;
    }
    memcpy(out->name, s, len + 1);
    return 0;
}

static int check_price(json_t *v, struct product_input *out, char *err, size_t errlen)
{
    if (!json_is_number(v)) {
        snprintf(err, errlen, "'price' must be a number, got %s", jsonx_type_name(v));
        return -1;
    }
    double p = json_number_value(v);
    if (!isfinite(p) || p < 0 || p > PRODUCT_PRICE_MAX) {
        snprintf(err, errlen, "'price' must be between 0 and %.0f", PRODUCT_PRICE_MAX);
        return -1;
    }
    out->price = p;
    return 0;
}

static int check_req_id(json_t *v, struct product_input *out, char *err, size_t errlen)
{
    if (!json_is_string(v)) {
        snprintf(err, errlen, "'req_id' must be a string, got %s", jsonx_type_name(v));
        return -1;
    }
    if (!product_req_id_valid(json_string_value(v), json_string_length(v))) {
        snprintf(err, errlen, "'req_id' must be 1-%d characters of [A-Za-z0-9_.:-]",
                 PRODUCT_REQ_ID_MAX);
        return -1;
    }
    memcpy(out->req_id, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int check_store(json_t *v, struct product_input *out, char *err, size_t errlen)
{
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        snprintf(err, errlen, "'store' must be a string, got %s", jsonx_type_name(v));
        return -1;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    int ok = n >= 1 && n <= PRODUCT_STORE_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-';
    if (!ok) {
        snprintf(err, errlen, "'store' must be 1-%d characters of [A-Za-z0-9_-]",
                 PRODUCT_STORE_MAX);
        return -1;
    }
    memcpy(out->store, s, n + 1);
    return 0;
}

int product_parse(const char *body, size_t len, struct product_input *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *root = jsonx_parse_object(body, len, PRODUCT_MAX_DEPTH, err, errlen);
    if (root == NULL)
        return -1;
    int rc = -1;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "name") != 0 && strcmp(key, "price") != 0 && strcmp(key, "req_id") != 0 &&
            strcmp(key, "store") != 0) {
            /* %.64s of a key with control bytes would be echoed; keep the message printable. */
            if (has_control(key, strlen(key)))
                snprintf(err, errlen, "unknown field (allowed: name, price, req_id, store)");
            else
                snprintf(err, errlen, "unknown field '%.64s' (allowed: name, price, req_id, store)",
                         key);
            goto out;
        }
    }
    static const char *const required[] = {"name", "price", "req_id"};
    for (size_t i = 0; i < 3; i++) {
        if (json_object_get(root, required[i]) == NULL) {
            snprintf(err, errlen, "missing field '%s'", required[i]);
            goto out;
        }
    }
    if (check_name(json_object_get(root, "name"), out, err, errlen) != 0 ||
        check_price(json_object_get(root, "price"), out, err, errlen) != 0 ||
        check_req_id(json_object_get(root, "req_id"), out, err, errlen) != 0 ||
        check_store(json_object_get(root, "store"), out, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int product_parse_limit(const char *s, long *out, char *err, size_t errlen)
{
    if (s == NULL) {
        *out = PRODUCT_LIST_DEFAULT;
        return 0;
    }
    char *end;
    errno = 0;
    long v = (*s >= '0' && *s <= '9') ? strtol(s, &end, 10) : -1;
    if (v < 1 || errno != 0 || *end != '\0' || v > PRODUCT_LIST_MAX) {
        snprintf(err, errlen, "'limit' must be an integer from 1 to %d", PRODUCT_LIST_MAX);
        return -1;
    }
    *out = v;
    return 0;
}
