#include "checker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

#include "checker_impl.h"

/* The fields of one history record that the checker reads. */
struct rec {
    long long t, client, offset, code, clients, wall_us;
    int has_t, has_client, has_offset, has_code, has_clients, has_wall, recovered, final;
    int exists; /* verify: 1 exists, 0 absent, -1 not said (the check itself failed) */
    struct js_val type, req_id, pod, epoch, src, channel, channels, stage;
};

struct lg_check *lg_check_new(void)
{
    struct lg_check *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->req_ids = strtab_new();
    c->epochs = strtab_new();
    c->pods = strtab_new();
    c->channels = strtab_new();
    c->aligned = 1;
    c->skew_margin_us = LG_DEFAULT_SKEW_MARGIN_US;
    if (c->req_ids == NULL || c->epochs == NULL || c->pods == NULL || c->channels == NULL) {
        lg_check_free(c);
        return NULL;
    }
    return c;
}

void lg_check_free(struct lg_check *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nclients; i++) {
        free(c->clients[i].frames);
        free(c->clients[i].iv);
        free(c->clients[i].chans);
    }
    free(c->clients);
    free(c->shard_last);
    free(c->reqs);
    free(c->codes);
    strtab_free(c->req_ids);
    strtab_free(c->epochs);
    strtab_free(c->pods);
    strtab_free(c->channels);
    free(c);
}

/* Grows *p (elements of size sz) so that index need - 1 fits. Returns 0 or -1. */
static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * sz);
    if (q == NULL)
        return -1;
    memset((char *)q + *cap * sz, 0, (n - *cap) * sz);
    *p = q;
    *cap = n;
    return 0;
}

/* Returns the request for a req_id span (creating it), or NULL when out of memory. */
static struct req *req_get(struct lg_check *c, const struct js_val *id, uint32_t *idx)
{
    char buf[LG_REQ_ID_MAX];
    size_t n = js_str_copy(id, buf, sizeof buf);
    *idx = strtab_intern(c->req_ids, buf, n < sizeof buf ? n : sizeof buf - 1);
    if (*idx == STRTAB_NONE)
        return NULL;
    if (grow((void **)&c->reqs, &c->capreqs, (size_t)*idx + 1, sizeof *c->reqs) != 0)
        return NULL;
    return &c->reqs[*idx];
}

static uint32_t intern_span(struct strtab *t, const struct js_val *v)
{
    char buf[128];
    size_t n = js_str_copy(v, buf, sizeof buf);
    return strtab_intern(t, buf, n < sizeof buf ? n : sizeof buf - 1);
}

static int parse_rec(const char *line, size_t len, struct rec *r)
{
    struct js_obj o;
    struct js_val k, v;
    int rc;
    memset(r, 0, sizeof *r);
    r->exists = -1;
    if (js_obj_open(&o, line, len) != 0)
        return -1;
    while ((rc = js_obj_next(&o, &k, &v)) == 1) {
        if (k.len == 0)
            continue;
        switch (k.p[0]) {
        case 't':
            if (js_eq(&k, "t"))
                r->has_t = js_int(&v, &r->t) == 0;
            else if (js_eq(&k, "type") && v.type == JS_STRING)
                r->type = v;
            break;
        case 'c':
            if (js_eq(&k, "client"))
                r->has_client = js_int(&v, &r->client) == 0 && r->client >= 0;
            else if (js_eq(&k, "code"))
                r->has_code = js_int(&v, &r->code) == 0;
            else if (js_eq(&k, "clients"))
                r->has_clients = js_int(&v, &r->clients) == 0 && r->clients >= 0;
            else if (js_eq(&k, "channel") && v.type == JS_STRING)
                r->channel = v;
            else if (js_eq(&k, "channels") && v.type == JS_STRING)
                r->channels = v;
            break;
        case 'r':
            if (js_eq(&k, "req_id") && v.type == JS_STRING)
                r->req_id = v;
            else if (js_eq(&k, "recovered"))
                r->recovered = v.type == JS_TRUE;
            break;
        case 'o':
            if (js_eq(&k, "offset"))
                r->has_offset = js_int(&v, &r->offset) == 0;
            break;
        case 'p':
            if (js_eq(&k, "pod") && v.type == JS_STRING)
                r->pod = v;
            break;
        case 'e':
            if (js_eq(&k, "epoch") && v.type == JS_STRING)
                r->epoch = v;
            else if (js_eq(&k, "exists") && (v.type == JS_TRUE || v.type == JS_FALSE))
                r->exists = v.type == JS_TRUE;
            break;
        case 'w':
            if (js_eq(&k, "wall_us"))
                r->has_wall = js_int(&v, &r->wall_us) == 0;
            break;
        case 's':
            if (js_eq(&k, "src") && v.type == JS_STRING)
                r->src = v;
            else if (js_eq(&k, "stage") && v.type == JS_STRING)
                r->stage = v;
            break;
        case 'f':
            if (js_eq(&k, "final"))
                r->final = v.type == JS_TRUE;
            break;
        default:
            break;
        }
    }
    if (rc != 0 || !r->has_t || r->type.type != JS_STRING)
        return -1;
    return 0;
}

/* The client of the current shard with local id `local` (its global id is local + base). */
static struct client *client_get(struct lg_check *c, long long local)
{
    if (local < 0 || (unsigned long long)local + c->client_base >= MAX_CLIENT_ID)
        return NULL;
    long long id = local + (long long)c->client_base;
    if ((uint32_t)id + 1 > c->next_base)
        c->next_base = (uint32_t)id + 1;
    size_t cap = c->nclients;
    if ((size_t)id >= c->nclients) {
        size_t n = c->nclients ? c->nclients : 16;
        while (n <= (size_t)id)
            n *= 2;
        struct client *p = realloc(c->clients, n * sizeof *p);
        if (p == NULL)
            return NULL;
        memset(p + cap, 0, (n - cap) * sizeof *p);
        c->clients = p;
        c->nclients = n;
    }
    struct client *cl = &c->clients[id];
    cl->seen = 1;
    cl->shard = c->shard;
    return cl;
}

static void count_code(struct lg_check *c, int code)
{
    for (size_t i = 0; i < c->ncodes; i++) {
        if (c->codes[i].code == code) {
            c->codes[i].count++;
            return;
        }
    }
    if (grow((void **)&c->codes, &c->capcodes, c->ncodes + 1, sizeof *c->codes) == 0) {
        c->codes[c->ncodes].code = code;
        c->codes[c->ncodes].count = 1;
        c->ncodes++;
    }
}

/* Records the channels of a connect ("a,b"; names never hold commas) for interval iv. */
static int add_channels(struct lg_check *c, struct client *cl, struct interval *iv,
                        const struct js_val *list)
{
    iv->chan_off = (uint32_t)cl->nchans;
    iv->chan_n = 0;
    if (list->type != JS_STRING)
        return 0;
    for (size_t i = 0; i < list->len;) {
        size_t n = 0;
        while (i + n < list->len && list->p[i + n] != ',')
            n++;
        if (n > 0) {
            struct js_val one = {JS_STRING, list->p + i, n};
            uint32_t ch = intern_span(c->channels, &one);
            if (ch == STRTAB_NONE ||
                grow((void **)&cl->chans, &cl->capchans, cl->nchans + 1, sizeof *cl->chans) != 0)
                return -1;
            cl->chans[cl->nchans++] = ch;
            iv->chan_n++;
        }
        i += n + 1;
    }
    return 0;
}

/* Applies one record of a client. Returns 0, 1 when malformed, -1 when out of memory. */
static int apply_client(struct lg_check *c, const struct rec *r)
{
    if (!r->has_client)
        return 1;
    struct client *cl = client_get(c, r->client);
    if (cl == NULL)
        return 1;
    const struct js_val *ty = &r->type;
    if (js_eq(ty, "frame")) {
        if (grow((void **)&cl->frames, &cl->capframes, cl->nframes + 1, sizeof *cl->frames) != 0)
            return -1;
        struct frame_rec *f = &cl->frames[cl->nframes++];
        f->t = r->t;
        f->offset = r->has_offset ? r->offset : -1;
        f->req = STRTAB_NONE;
        f->epoch = STRTAB_NONE;
        if (r->req_id.type == JS_STRING && r->req_id.len > 0 &&
            req_get(c, &r->req_id, &f->req) == NULL)
            return -1;
        if (r->epoch.type == JS_STRING)
            f->epoch = intern_span(c->epochs, &r->epoch);
    } else if (js_eq(ty, "connect")) {
        if (cl->niv > 0 && cl->iv[cl->niv - 1].until == T_OPEN)
            cl->iv[cl->niv - 1].until = r->t; /* a missing disconnect: end it here */
        if (grow((void **)&cl->iv, &cl->capiv, cl->niv + 1, sizeof *cl->iv) != 0)
            return -1;
        cl->iv[cl->niv].from = r->t;
        cl->iv[cl->niv].until = T_OPEN;
        if (add_channels(c, cl, &cl->iv[cl->niv], &r->channels) != 0)
            return -1;
        cl->niv++;
        cl->connects++;
        c->opened++;
        if (r->src.type == JS_STRING)
            js_str_copy(&r->src, cl->src, sizeof cl->src);
    } else if (js_eq(ty, "disconnect")) {
        if (cl->niv > 0 && cl->iv[cl->niv - 1].until == T_OPEN)
            cl->iv[cl->niv - 1].until = r->t;
        if (!r->final) {
            cl->drops++;
            count_code(c, r->has_code ? (int)r->code : 0);
        }
    } else if (js_eq(ty, "connect_fail")) {
        cl->failed++;
        if (js_eq(&r->stage, "handshake") && !r->final)
            c->sio_handshake_failed++;
    } else if (js_eq(ty, "recovery")) {
        if (!r->recovered) {
            c->recovery_failed++;
        } else {
            c->recovered++;
            if (cl->niv >= 2 && cl->iv[cl->niv - 1].until == T_OPEN) {
                cl->iv[cl->niv - 2].until = T_OPEN;
                cl->niv--;
            }
        }
    }
    return 0;
}

/* Applies one record of a request. Returns 0, 1 when malformed, -1 when out of memory. */
static int apply_request(struct lg_check *c, const struct rec *r)
{
    if (r->req_id.type != JS_STRING)
        return 1;
    uint32_t idx;
    struct req *q = req_get(c, &r->req_id, &idx);
    if (q == NULL)
        return -1;
    const struct js_val *ty = &r->type;
    if (js_eq(ty, "invoke")) {
        q->invoked = 1;
        q->invoke_t = r->t;
        q->shard = c->shard;
        if (r->channel.type == JS_STRING && r->channel.len > 0) {
            uint32_t ch = intern_span(c->channels, &r->channel);
            if (ch == STRTAB_NONE)
                return -1;
            q->chan1 = ch + 1;
        }
        return 0;
    }
    if (js_eq(ty, "verify")) {
        c->verify_records++;
        /* The first definite answer counts; a failed check leaves room for a later one. */
        if (q->verified == VER_NONE || q->verified == VER_ERROR)
            q->verified = r->exists < 0 ? VER_ERROR : r->exists ? VER_EXISTS : VER_ABSENT;
        return 0;
    }
    if (q->outcome != OUT_NONE)
        return 0; /* the first outcome counts */
    q->ack_t = r->t;
    if (js_eq(ty, "ok")) {
        q->outcome = OUT_OK;
        if (r->pod.type == JS_STRING) {
            uint32_t pod = intern_span(c->pods, &r->pod);
            if (pod == STRTAB_NONE)
                return -1;
            q->pod1 = pod + 1;
        }
    } else if (js_eq(ty, "fail")) {
        q->outcome = OUT_FAIL;
    } else {
        q->outcome = OUT_INFO;
    }
    return 0;
}

/*
 * A shard's start record: its wall clock at t = 0 puts it on the timeline of the first shard
 * that had one (times of other shards are shifted by the difference).
 */
static void start_shard_clock(struct lg_check *c, const struct rec *r)
{
    if (!r->has_wall)
        return;
    c->shard_has_wall = 1;
    if (!c->has_ref_wall) {
        c->has_ref_wall = 1;
        c->ref_wall = r->wall_us;
    }
    c->t_offset = r->wall_us - c->ref_wall;
}

long long lg_shard_end(const struct lg_check *c, uint16_t shard)
{
    if (shard < c->capshards && c->shard_last[shard] != T_OPEN)
        return c->shard_last[shard];
    return c->last_t;
}

void lg_check_next_shard(struct lg_check *c)
{
    if (!c->shard_has_wall)
        c->aligned = 0;
    c->shard++;
    c->client_base =
        c->next_base > c->declared_clients ? c->next_base : (uint32_t)c->declared_clients;
    c->next_base = c->client_base;
    c->t_offset = 0;
    c->shard_has_wall = 0;
}

void lg_check_set_skew_margin(struct lg_check *c, long long us)
{
    c->skew_margin_us = us < 0 ? 0 : us;
}

int lg_check_line(struct lg_check *c, const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0)
        return 0;
    c->lines++;
    struct rec r;
    if (parse_rec(line, len, &r) != 0) {
        c->malformed++;
        return 0;
    }
    const struct js_val *ty = &r.type;
    if (js_eq(ty, "start"))
        start_shard_clock(c, &r);
    r.t += c->t_offset;
    if (!c->has_t || r.t > c->last_t)
        c->last_t = r.t;
    size_t had = c->capshards;
    if (grow((void **)&c->shard_last, &c->capshards, (size_t)c->shard + 1, sizeof(long long)) != 0)
        return -1;
    for (size_t i = had; i < c->capshards; i++)
        c->shard_last[i] = T_OPEN;
    if (c->shard_last[c->shard] == T_OPEN || r.t > c->shard_last[c->shard])
        c->shard_last[c->shard] = r.t;
    if (!c->has_t || r.t < c->first_t)
        c->first_t = r.t;
    c->has_t = 1;
    int rc = 0;
    if (js_eq(ty, "invoke") || js_eq(ty, "ok") || js_eq(ty, "fail") || js_eq(ty, "info") ||
        js_eq(ty, "verify"))
        rc = apply_request(c, &r);
    else if (js_eq(ty, "frame") || js_eq(ty, "connect") || js_eq(ty, "disconnect") ||
             js_eq(ty, "connect_fail") || js_eq(ty, "recovery"))
        rc = apply_client(c, &r);
    else if (js_eq(ty, "start") && r.has_clients &&
             c->client_base + (uint64_t)r.clients > c->declared_clients)
        c->declared_clients = c->client_base + (uint64_t)r.clients;
    else if (js_eq(ty, "transport_error")) {
        c->sio_transport_errors++;
        c->sio_unknown_sid += r.has_code && r.code == 1;
    } else if (js_eq(ty, "upgrade"))
        c->sio_upgraded++;
    else if (js_eq(ty, "upgrade_fail"))
        c->sio_upgrade_failed++;
    /* hello, end and unknown types carry nothing the checker judges. */
    if (rc > 0)
        c->malformed++;
    return rc < 0 ? -1 : 0;
}

int lg_check_file(struct lg_check *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        if (lg_check_line(c, line, (size_t)n) != 0) {
            snprintf(err, errlen, "out of memory reading %s", path);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

int lg_check_files(struct lg_check *c, const char *const *paths, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            lg_check_next_shard(c);
        if (lg_check_file(c, paths[i], err, errlen) != 0)
            return -1;
    }
    return 0;
}
