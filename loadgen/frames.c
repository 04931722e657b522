#include "frames.h"

#include <string.h>

#include "scan.h"

static void reset(struct lg_frame_fields *f)
{
    memset(f, 0, sizeof *f);
    f->offset = -1;
    f->recovered = -1;
}

static void set_id(struct lg_frame_fields *f, const struct js_val *v)
{
    if (v->type == JS_STRING || v->type == JS_NUMBER) {
        f->req_id = v->p;
        f->req_id_len = v->len;
    }
}

/*
 * Reads the members of the event's data object: the request id, pod, and the offset, epoch
 * and recovered of control events (into *offset / *epoch, which the caller uses only when
 * the envelope has none). A dotted id path is looked up separately.
 */
static void scan_data(const struct js_val *data, const char *id_path, struct lg_frame_fields *f,
                      long long *offset, const char **epoch, size_t *epoch_len)
{
    struct js_obj d;
    struct js_val k, v;
    int dotted = strchr(id_path, '.') != NULL;
    if (js_obj_open_val(&d, data) != 0)
        return;
    while (js_obj_next(&d, &k, &v) == 1) {
        if (!dotted && js_eq(&k, id_path)) {
            set_id(f, &v);
        } else if (js_eq(&k, "pod") && v.type == JS_STRING) {
            f->pod = v.p;
            f->pod_len = v.len;
        } else if (js_eq(&k, "offset")) {
            js_int(&v, offset);
        } else if (js_eq(&k, "epoch") && v.type == JS_STRING) {
            *epoch = v.p;
            *epoch_len = v.len;
        } else if (js_eq(&k, "recovered")) {
            f->recovered = v.type == JS_TRUE ? 1 : v.type == JS_FALSE ? 0 : -1;
        }
    }
    if (dotted && js_path(data, id_path, &v) == 1)
        set_id(f, &v);
}

/* Fills offset/epoch from data when the envelope had none. */
static void fallback(struct lg_frame_fields *f, long long offset, const char *epoch, size_t n)
{
    if (f->offset < 0)
        f->offset = offset;
    if (f->epoch == NULL) {
        f->epoch = epoch;
        f->epoch_len = n;
    }
}

int lg_scan_frame(const char *data, size_t len, const char *id_path, struct lg_frame_fields *f)
{
    return lg_scan_frame_keys(data, len, id_path, "event", "data", f);
}

int lg_scan_frame_keys(const char *data, size_t len, const char *id_path, const char *event_key,
                       const char *data_key, struct lg_frame_fields *f)
{
    struct js_obj o;
    struct js_val k, v;
    long long data_offset = -1;
    const char *data_epoch = NULL;
    size_t data_epoch_len = 0;
    int rc;
    reset(f);
    if (js_obj_open(&o, data, len) != 0)
        return -1;
    while ((rc = js_obj_next(&o, &k, &v)) == 1) {
        if (js_eq(&k, event_key) && v.type == JS_STRING) {
            f->event = v.p;
            f->event_len = v.len;
        } else if (js_eq(&k, "offset")) {
            js_int(&v, &f->offset);
        } else if (js_eq(&k, "epoch") && v.type == JS_STRING) {
            f->epoch = v.p;
            f->epoch_len = v.len;
        } else if (js_eq(&k, "channel") && v.type == JS_STRING) {
            f->channel = v.p;
            f->channel_len = v.len;
        } else if (js_eq(&k, data_key)) {
            scan_data(&v, id_path, f, &data_offset, &data_epoch, &data_epoch_len);
        }
    }
    if (rc < 0)
        return -1;
    fallback(f, data_offset, data_epoch, data_epoch_len);
    return 0;
}

/* "P:N" -> epoch P, offset N (the last ':' splits; N all digits). Leaves f alone otherwise. */
static void split_offset(const struct js_val *v, struct lg_frame_fields *f)
{
    const char *colon = NULL;
    for (const char *p = v->p; p < v->p + v->len; p++)
        if (*p == ':')
            colon = p;
    if (colon == NULL || colon == v->p)
        return;
    struct js_val num = {JS_NUMBER, colon + 1, (size_t)(v->p + v->len - colon - 1)};
    long long n;
    for (size_t i = 0; i < num.len; i++)
        if (num.p[i] < '0' || num.p[i] > '9')
            return;
    if (num.len == 0 || js_int(&num, &n) != 0)
        return;
    f->offset = n;
    f->epoch = v->p;
    f->epoch_len = (size_t)(colon - v->p);
}

/* The relay's older last argument: {"offset":N,"epoch":"P"}. */
static void meta_offset(const struct js_val *v, struct lg_frame_fields *f)
{
    struct js_obj o;
    struct js_val k, x;
    if (js_obj_open_val(&o, v) != 0)
        return;
    while (js_obj_next(&o, &k, &x) == 1) {
        if (js_eq(&k, "offset"))
            js_int(&x, &f->offset);
        else if (js_eq(&k, "epoch") && x.type == JS_STRING) {
            f->epoch = x.p;
            f->epoch_len = x.len;
        }
    }
}

int lg_scan_sio_event(const char *pkt, size_t len, const char *id_path, struct lg_frame_fields *f)
{
    const char *p = pkt, *end = pkt + len;
    reset(f);
    if (p >= end || *p != '2')
        return -1;
    p++;
    if (p < end && *p == '/') {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        if (comma == NULL)
            return -1;
        if (comma - p != 1)
            return 1; /* "/other," */
        p = comma + 1;
    }
    while (p < end && *p >= '0' && *p <= '9')
        p++; /* an ack id */
    struct js_arr a;
    struct js_val v, data = {JS_NONE, NULL, 0}, last = {JS_NONE, NULL, 0};
    int rc, n = 0;
    if (js_arr_open(&a, p, (size_t)(end - p)) != 0)
        return -1;
    while ((rc = js_arr_next(&a, &v)) == 1) {
        if (n == 0) {
            if (v.type != JS_STRING)
                return -1;
            f->event = v.p;
            f->event_len = v.len;
        } else if (n == 1) {
            data = v;
        }
        last = v;
        n++;
    }
    if (rc < 0 || n == 0)
        return -1;
    if (n >= 3 && last.type == JS_STRING) {
        f->sio_offset = last.p;
        f->sio_offset_len = last.len;
        split_offset(&last, f);
    } else if (n >= 3 && last.type == JS_OBJECT) {
        meta_offset(&last, f);
    }
    long long data_offset = -1;
    const char *data_epoch = NULL;
    size_t data_epoch_len = 0;
    if (n >= 2)
        scan_data(&data, id_path, f, &data_offset, &data_epoch, &data_epoch_len);
    fallback(f, data_offset, data_epoch, data_epoch_len);
    return 0;
}
