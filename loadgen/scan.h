/*
 * scan — a small allocation-free JSON scanner for the hot path.
 *
 * loadgen reads two kinds of JSON at high rates: server frames (one per received message)
 * and history lines (one per record when checking). Neither needs a DOM: the scanner walks
 * one object's members and hands back each value as a span of the input, so a frame costs
 * one pass over its bytes and no malloc. Strings are returned raw (escapes not decoded).
 */
#ifndef LOADGEN_SCAN_H
#define LOADGEN_SCAN_H

#include <stddef.h>

enum js_type { JS_NONE = 0, JS_STRING, JS_NUMBER, JS_OBJECT, JS_ARRAY, JS_TRUE, JS_FALSE, JS_NULL };

/* A value inside the input. For strings p/len cover the bytes between the quotes. */
struct js_val {
    enum js_type type;
    const char *p;
    size_t len;
};

/* A cursor over the members of one object. */
struct js_obj {
    const char *p, *end;
    int first;
};

/*
 * Starts walking the object in v (which must be JS_OBJECT), or in the text [p, p+len)
 * when it is an object. Returns 0, or -1 when it is not an object.
 */
int js_obj_open(struct js_obj *o, const char *p, size_t len);
int js_obj_open_val(struct js_obj *o, const struct js_val *v);

/* Next member: returns 1 with key (a string span) and val, 0 at the end, -1 when malformed. */
int js_obj_next(struct js_obj *o, struct js_val *key, struct js_val *val);

/* A cursor over the elements of one array (the same walk as js_obj, without keys). */
struct js_arr {
    const char *p, *end;
    int first;
};

/* Starts walking the array in [p, p+len) or in v. Returns 0, or -1 when it is not an array. */
int js_arr_open(struct js_arr *a, const char *p, size_t len);
int js_arr_open_val(struct js_arr *a, const struct js_val *v);
/* Next element: returns 1 with val, 0 at the end, -1 when malformed. */
int js_arr_next(struct js_arr *a, struct js_val *val);

/*
 * Looks up a dotted path ("req_id", "product.id", "items.0.id": a number walks into an
 * array) inside the object or array v. Keys are compared raw (no escapes in path keys).
 * Returns 1 with *out set, 0 when the path is absent, -1 when v is malformed on the way.
 */
int js_path(const struct js_val *v, const char *path, struct js_val *out);

/* 1 when the string span v equals the NUL-terminated lit, else 0. */
int js_eq(const struct js_val *v, const char *lit);
/* Integer value of a JS_NUMBER without fraction or exponent. Returns 0, or -1. */
int js_int(const struct js_val *v, long long *out);
/* Numeric value of a JS_NUMBER. Returns 0, or -1. */
int js_double(const struct js_val *v, double *out);
/*
 * Copies the decoded string v into buf (NUL-terminated, truncated to cap-1 bytes).
 * \uXXXX escapes outside ASCII become '?'. Returns the decoded length before truncation.
 */
size_t js_str_copy(const struct js_val *v, char *buf, size_t cap);

#endif
