#include "scan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define JS_MAX_DEPTH 64

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p points at the opening quote. Returns the position after the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
    p++;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (q == NULL)
            return NULL;
        /* The quote is escaped when preceded by an odd number of backslashes. */
        size_t bs = 0;
        while (q - bs > p && q[-1 - (long)bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            return q + 1;
        p = q + 1;
    }
    return NULL;
}

/* Skips a nested object or array starting at p. Returns the position after it, or NULL. */
static const char *skip_nested(const char *p, const char *end)
{
    char stack[JS_MAX_DEPTH];
    int depth = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            p = skip_string(p, end);
            if (p == NULL)
                return NULL;
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth == JS_MAX_DEPTH)
                return NULL;
            stack[depth++] = c == '{' ? '}' : ']';
        } else if (c == '}' || c == ']') {
            if (depth == 0 || stack[depth - 1] != c)
                return NULL;
            if (--depth == 0)
                return p + 1;
        }
        p++;
    }
    return NULL;
}

/* Reads one value at p into v. Returns the position after it, or NULL when malformed. */
static const char *read_value(const char *p, const char *end, struct js_val *v)
{
    if (p >= end)
        return NULL;
    const char *start = p;
    switch (*p) {
    case '"':
        p = skip_string(p, end);
        if (p == NULL)
            return NULL;
        v->type = JS_STRING;
        v->p = start + 1;
        v->len = (size_t)(p - start - 2);
        return p;
    case '{':
    case '[':
        p = skip_nested(p, end);
        if (p == NULL)
            return NULL;
        v->type = *start == '{' ? JS_OBJECT : JS_ARRAY;
        break;
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4) != 0)
            return NULL;
        p += 4;
        v->type = JS_TRUE;
        break;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5) != 0)
            return NULL;
        p += 5;
        v->type = JS_FALSE;
        break;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4) != 0)
            return NULL;
        p += 4;
        v->type = JS_NULL;
        break;
    default:
        if (*p != '-' && (*p < '0' || *p > '9'))
            return NULL;
        p++;
        while (p < end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
                           *p == '+' || *p == '-'))
            p++;
        v->type = JS_NUMBER;
        break;
    }
    v->p = start;
    v->len = (size_t)(p - start);
    return p;
}

int js_obj_open(struct js_obj *o, const char *p, size_t len)
{
    const char *end = p + len;
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    o->p = p + 1;
    o->end = end;
    o->first = 1;
    return 0;
}

int js_obj_open_val(struct js_obj *o, const struct js_val *v)
{
    if (v->type != JS_OBJECT)
        return -1;
    return js_obj_open(o, v->p, v->len);
}

int js_obj_next(struct js_obj *o, struct js_val *key, struct js_val *val)
{
    const char *p = skip_ws(o->p, o->end);
    if (p >= o->end)
        return -1;
    if (*p == '}') {
        o->p = p + 1;
        return 0;
    }
    if (!o->first) {
        if (*p != ',')
            return -1;
        p = skip_ws(p + 1, o->end);
    }
    if (p >= o->end || *p != '"')
        return -1;
    p = read_value(p, o->end, key);
    if (p == NULL)
        return -1;
    p = skip_ws(p, o->end);
    if (p >= o->end || *p != ':')
        return -1;
    p = read_value(skip_ws(p + 1, o->end), o->end, val);
    if (p == NULL)
        return -1;
    o->p = p;
    o->first = 0;
    return 1;
}

int js_arr_open(struct js_arr *a, const char *p, size_t len)
{
    const char *end = p + len;
    p = skip_ws(p, end);
    if (p >= end || *p != '[')
        return -1;
    a->p = p + 1;
    a->end = end;
    a->first = 1;
    return 0;
}

int js_arr_open_val(struct js_arr *a, const struct js_val *v)
{
    if (v->type != JS_ARRAY)
        return -1;
    return js_arr_open(a, v->p, v->len);
}

int js_arr_next(struct js_arr *a, struct js_val *val)
{
    const char *p = skip_ws(a->p, a->end);
    if (p >= a->end)
        return -1;
    if (*p == ']') {
        a->p = p + 1;
        return 0;
    }
    if (!a->first) {
        if (*p != ',')
            return -1;
        p = skip_ws(p + 1, a->end);
    }
    p = read_value(p, a->end, val);
    if (p == NULL)
        return -1;
    a->p = p;
    a->first = 0;
    return 1;
}

/* One step of js_path: the member named seg[0..n) of an object, or element n of an array. */
static int path_step(const struct js_val *v, const char *seg, size_t n, struct js_val *out)
{
    int rc;
    if (v->type == JS_OBJECT) {
        struct js_obj o;
        struct js_val k;
        if (js_obj_open_val(&o, v) != 0)
            return -1;
        while ((rc = js_obj_next(&o, &k, out)) == 1)
            if (k.len == n && memcmp(k.p, seg, n) == 0)
                return 1;
        return rc;
    }
    if (v->type == JS_ARRAY && n > 0 && n < 10 && strspn(seg, "0123456789") >= n) {
        struct js_arr a;
        long idx = strtol(seg, NULL, 10);
        if (js_arr_open_val(&a, v) != 0)
            return -1;
        while ((rc = js_arr_next(&a, out)) == 1)
            if (idx-- == 0)
                return 1;
        return rc;
    }
    return 0;
}

int js_path(const struct js_val *v, const char *path, struct js_val *out)
{
    struct js_val cur = *v;
    const char *seg = path;
    for (;;) {
        size_t n = strcspn(seg, ".");
        int rc = path_step(&cur, seg, n, out);
        if (rc != 1)
            return rc;
        if (seg[n] == '\0')
            return 1;
        cur = *out;
        seg += n + 1;
    }
}

int js_eq(const struct js_val *v, const char *lit)
{
    size_t n = strlen(lit);
    return v->type == JS_STRING && v->len == n && memcmp(v->p, lit, n) == 0;
}

int js_int(const struct js_val *v, long long *out)
{
    if (v->type != JS_NUMBER || v->len == 0 || v->len > 20)
        return -1;
    const char *p = v->p, *end = v->p + v->len;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p == end)
        return -1;
    unsigned long long x = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (x > (9223372036854775807ULL - 9) / 10)
            return -1;
        x = x * 10 + (unsigned)(*p - '0');
    }
    *out = neg ? -(long long)x : (long long)x;
    return 0;
}

int js_double(const struct js_val *v, double *out)
{
    char buf[64];
    if (v->type != JS_NUMBER || v->len >= sizeof buf)
        return -1;
    memcpy(buf, v->p, v->len);
    buf[v->len] = '\0';
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = d;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

size_t js_str_copy(const struct js_val *v, char *buf, size_t cap)
{
    size_t n = 0;
    const char *p = v->p, *end = v->p + v->len;
    while (p < end) {
        char c = *p++;
        if (c == '\\' && p < end) {
            char e = *p++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                int cp = 0, ok = end - p >= 4;
                for (int i = 0; ok && i < 4; i++) {
                    int h = hexval(p[i]);
                    ok = h >= 0;
                    cp = cp * 16 + h;
                }
                if (ok)
                    p += 4;
                c = ok && cp > 0 && cp < 0x80 ? (char)cp : '?';
                break;
            }
            default:
                c = e;
                break;
            }
        }
        if (cap > 0 && n < cap - 1)
            buf[n] = c;
        n++;
    }
    if (cap > 0)
        buf[n < cap - 1 ? n : cap - 1] = '\0';
    return n;
}
