#include "template.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char lg_template_default[] =
    "{\"name\":\"product-{{n}}\",\"price\":{{price}},\"req_id\":\"{{req_id}}\"}";
const char lg_template_default_store[] = "{\"name\":\"product-{{n}}\",\"price\":{{price}},\"req_"
                                         "id\":\"{{req_id}}\",\"store\":\"{{store}}"
                                         "\"}";

enum ph { PH_NONE = -1, PH_REQ_ID, PH_I, PH_N, PH_STORE, PH_PRICE };
static const char *const names[] = {"req_id", "i", "n", "store", "price"};

/* At p ("{{..."), the placeholder and its full length, or PH_NONE. */
static enum ph placeholder(const char *p, size_t *len)
{
    if (p[0] != '{' || p[1] != '{')
        return PH_NONE;
    const char *close = strstr(p + 2, "}}");
    if (close == NULL)
        return PH_NONE;
    size_t n = (size_t)(close - p - 2);
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (strlen(names[k]) == n && memcmp(p + 2, names[k], n) == 0) {
            *len = n + 4;
            return (enum ph)k;
        }
    }
    return PH_NONE;
}

int lg_template_check(const char *tpl, char *err, size_t errlen)
{
    if (strlen(tpl) > LG_TEMPLATE_MAX) {
        snprintf(err, errlen, "--body is limited to %d bytes", LG_TEMPLATE_MAX);
        return -1;
    }
    int has_id = 0;
    for (const char *p = tpl; (p = strstr(p, "{{")) != NULL;) {
        size_t len;
        enum ph k = placeholder(p, &len);
        if (k == PH_NONE) {
            size_t n = strcspn(p + 2, "}");
            snprintf(err, errlen,
                     "--body: unknown placeholder '{{%.*s}}' (known: {{req_id}} {{i}} {{n}} "
                     "{{store}} {{price}})",
                     (int)(n > 40 ? 40 : n), p + 2);
            return -1;
        }
        has_id |= k == PH_REQ_ID;
        p += len;
    }
    if (!has_id) {
        snprintf(err, errlen, "--body must contain {{req_id}}: events are matched by it");
        return -1;
    }
    return 0;
}

size_t lg_template_cap(const char *tpl)
{
    size_t n = strlen(tpl) + 1;
    for (const char *p = tpl; (p = strstr(p, "{{")) != NULL; p += 2)
        n += 80; /* a request id (< 64) or a number, minus nothing: generous */
    return n;
}

long lg_template_render(const char *tpl, const struct lg_template_vars *v, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = tpl; *p;) {
        size_t len;
        enum ph k = *p == '{' ? placeholder(p, &len) : PH_NONE;
        char num[48];
        const char *val = num;
        if (k == PH_NONE) {
            if (o + 1 >= cap)
                return -1;
            out[o++] = *p++;
            continue;
        }
        switch (k) {
        case PH_REQ_ID:
            val = v->req_id;
            break;
        case PH_I:
            snprintf(num, sizeof num, "%" PRIu64, v->i);
            break;
        case PH_N:
            snprintf(num, sizeof num, "%" PRIu64, v->i + 1);
            break;
        case PH_STORE:
            snprintf(num, sizeof num, "%" PRIu64, v->store);
            break;
        case PH_PRICE:
            snprintf(num, sizeof num, "%" PRIu64 ".5", v->i % 1000);
            break;
        case PH_NONE:
            break;
        }
        size_t vl = strlen(val);
        if (o + vl + 1 > cap)
            return -1;
        memcpy(out + o, val, vl);
        o += vl;
        p += len;
    }
    if (o >= cap)
        return -1;
    out[o] = '\0';
    return (long)o;
}
