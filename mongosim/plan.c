#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "store.h"

#define MAX_PREDS 64
#define MAX_INTERVALS 4096
#define TRIAL_WORKS 128
#define MAX_CANDIDATES 16

/* A condition of the filter on one field: a literal, or an operator document. */
struct pred {
    const char *path;
    bson_value_t cond; /* views into the filter */
};

/* What the filter's conditions say about one field, in value order. */
struct fbound {
    size_t npts; /* > 0: the field equals one of pts (sorted, distinct) */
    bson_value_t *pts;
    int has_lo, lo_incl, has_hi, hi_incl;
    bson_value_t lo, hi;
    int nullish; /* some bound admits null (or a missing field) */
};

/* How a filter bounds one index. */
struct ixsum {
    int npfx;  /* leading fields bounded by points */
    int range; /* field npfx is bounded by a range */
    size_t niv;
    int single[INDEX_MAX_FIELDS]; /* field j is one point */
    int nullish0;                 /* the leading field's bound admits null */
};

static int is_op_doc(const bson_value_t *v)
{
    bson_iter_t it;
    return v->value_type == BSON_TYPE_DOCUMENT &&
           bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len) &&
           bson_iter_next(&it) && bson_iter_key(&it)[0] == '$';
}

static void collect(const bson_t *f, struct pred *p, int *n, int depth)
{
    bson_iter_t it;
    if (depth > 20 || !bson_iter_init(&it, f))
        return;
    while (bson_iter_next(&it) && *n < MAX_PREDS) {
        const char *k = bson_iter_key(&it);
        if (strcmp(k, "$and") == 0 && BSON_ITER_HOLDS_ARRAY(&it)) {
            bson_iter_t ai;
            if (!bson_iter_recurse(&it, &ai))
                continue;
            while (bson_iter_next(&ai)) {
                uint32_t l;
                const uint8_t *d;
                bson_t sub;
                if (!BSON_ITER_HOLDS_DOCUMENT(&ai))
                    continue;
                bson_iter_document(&ai, &l, &d);
                if (bson_init_static(&sub, d, l))
                    collect(&sub, p, n, depth + 1);
            }
        } else if (k[0] != '$') {
            p[*n].path = k;
            p[(*n)++].cond = *bson_iter_value(&it);
        }
    }
}

static int cmp_values(const void *a, const void *b)
{
    return query_compare(a, b);
}

static int null_rank(const bson_value_t *v)
{
    return query_type_rank(v->value_type) == query_type_rank(BSON_TYPE_NULL);
}

/* Sets fb's points to the values of array arr (or the one value v). */
static void set_points(struct fbound *fb, const bson_value_t *v, int is_in)
{
    size_t n = 1;
    bson_iter_t it;
    if (is_in) {
        n = 0;
        if (bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len))
            while (bson_iter_next(&it))
                n++;
        if (n == 0)
            return; /* $in: [] matches nothing; leave it to the matcher */
    }
    fb->pts = malloc(n * sizeof *fb->pts);
    if (fb->pts == NULL)
        return;
    if (!is_in) {
        fb->pts[0] = *v;
    } else {
        size_t i = 0;
        bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len);
        while (bson_iter_next(&it) && i < n)
            fb->pts[i++] = *bson_iter_value(&it);
    }
    qsort(fb->pts, n, sizeof *fb->pts, cmp_values);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || query_compare(&fb->pts[k - 1], &fb->pts[i]) != 0)
            fb->pts[k++] = fb->pts[i];
    fb->npts = k;
    for (size_t i = 0; i < k; i++)
        fb->nullish |= null_rank(&fb->pts[i]);
}

static void field_bound(const struct pred *p, int n, const char *path, struct fbound *fb)
{
    memset(fb, 0, sizeof *fb);
    for (int i = 0; i < n; i++) {
        if (strcmp(p[i].path, path) != 0)
            continue;
        if (!is_op_doc(&p[i].cond)) {
            if (fb->npts == 0)
                set_points(fb, &p[i].cond, 0);
            continue;
        }
        bson_iter_t it;
        if (!bson_iter_init_from_data(&it, p[i].cond.value.v_doc.data,
                                      p[i].cond.value.v_doc.data_len))
            continue;
        while (bson_iter_next(&it)) {
            const char *op = bson_iter_key(&it);
            const bson_value_t *v = bson_iter_value(&it);
            if (strcmp(op, "$eq") == 0 && fb->npts == 0) {
                set_points(fb, v, 0);
            } else if (strcmp(op, "$in") == 0 && BSON_ITER_HOLDS_ARRAY(&it) && fb->npts == 0) {
                set_points(fb, v, 1);
            } else if (strcmp(op, "$gt") == 0 || strcmp(op, "$gte") == 0) {
                if (!fb->has_lo ||
                    (query_type_rank(v->value_type) == query_type_rank(fb->lo.value_type) &&
                     query_compare(v, &fb->lo) > 0)) {
                    fb->has_lo = 1;
                    fb->lo = *v;
                    fb->lo_incl = op[3] == 'e';
                }
            } else if (strcmp(op, "$lt") == 0 || strcmp(op, "$lte") == 0) {
                if (!fb->has_hi ||
                    (query_type_rank(v->value_type) == query_type_rank(fb->hi.value_type) &&
                     query_compare(v, &fb->hi) < 0)) {
                    fb->has_hi = 1;
                    fb->hi = *v;
                    fb->hi_incl = op[3] == 'e';
                }
            }
        }
    }
    if (fb->npts == 0)
        fb->nullish = (fb->has_lo && null_rank(&fb->lo)) || (fb->has_hi && null_rank(&fb->hi));
}

static void fbounds_free(struct fbound *fb, int n)
{
    for (int i = 0; i < n; i++)
        free(fb[i].pts);
}

/* Summarises how fb (one per field of ix) bounds ix. */
static void summarise(const struct index *ix, const struct fbound *fb, struct ixsum *s)
{
    memset(s, 0, sizeof *s);
    s->niv = 1;
    while (s->npfx < ix->nf && fb[s->npfx].npts > 0 && s->niv * fb[s->npfx].npts <= MAX_INTERVALS) {
        s->single[s->npfx] = fb[s->npfx].npts == 1;
        s->niv *= fb[s->npfx].npts;
        s->npfx++;
    }
    s->range =
        s->npfx < ix->nf && fb[s->npfx].npts == 0 && (fb[s->npfx].has_lo || fb[s->npfx].has_hi);
    s->nullish0 = fb[0].nullish;
}

static struct ibound bound_of(enum bkind k, const bson_value_t *v)
{
    struct ibound b = {.kind = k};
    if (v)
        b.v = *v;
    return b;
}

/* Builds sc's intervals on ix from fb. Returns 0 or -1 on OOM. */
static int build_intervals(struct scan *sc, const struct index *ix, const struct fbound *fb)
{
    struct ixsum s;
    int nf = ix->nf;
    summarise(ix, fb, &s);
    sc->niv = s.niv;
    sc->b = calloc(s.niv * 2 * (size_t)nf, sizeof *sc->b);
    sc->strict = calloc(s.niv, 1);
    if (sc->b == NULL || sc->strict == NULL)
        return -1;
    for (size_t k = 0; k < s.niv; k++) {
        struct ibound *start = sc->b + k * 2 * (size_t)nf, *end = start + nf;
        size_t rest = k;
        for (int j = s.npfx - 1; j >= 0; j--) {
            size_t np = fb[j].npts, at = rest % np;
            rest /= np;
            const bson_value_t *v = &fb[j].pts[ix->dirs[j] > 0 ? at : np - 1 - at];
            start[j] = end[j] = bound_of(B_VALUE, v);
        }
        int q = s.npfx, sx = 0, ex = 0;
        if (s.range) {
            const struct fbound *f = &fb[q];
            struct ibound lo =
                f->has_lo ? bound_of(B_VALUE, &f->lo) : bound_of(B_CLASS_MIN, &f->hi);
            struct ibound hi =
                f->has_hi ? bound_of(B_VALUE, &f->hi) : bound_of(B_CLASS_MAX, &f->lo);
            int lox = f->has_lo && !f->lo_incl, hix = f->has_hi && !f->hi_incl;
            if (ix->dirs[q] > 0) {
                start[q] = lo;
                end[q] = hi;
                sx = lox;
                ex = hix;
            } else {
                start[q] = hi;
                end[q] = lo;
                sx = hix;
                ex = lox;
            }
            q++;
        }
        for (int j = q; j < nf; j++) {
            start[j] = bound_of(sx ? B_MAX : B_MIN, NULL);
            end[j] = bound_of(ex ? B_MIN : B_MAX, NULL);
        }
        sc->strict[k] = (unsigned char)(sx | ex << 1);
    }
    return 0;
}

int scan_open(struct scan *sc, const struct coll *c, const struct plan *p, const bson_t *filter)
{
    memset(sc, 0, sizeof *sc);
    sc->c = c;
    sc->dir = p->dir;
    if (p->ix == PLAN_COLLSCAN || c == NULL) {
        sc->dir = 1;
        return 0;
    }
    struct pred preds[MAX_PREDS];
    int np = 0;
    collect(filter, preds, &np, 0);
    sc->ix = coll_index(c, (size_t)p->ix);
    sc->nf = sc->ix->nf;
    struct fbound fb[INDEX_MAX_FIELDS];
    for (int j = 0; j < sc->ix->nf; j++)
        field_bound(preds, np, sc->ix->paths[j], &fb[j]);
    int rc = build_intervals(sc, sc->ix, fb);
    fbounds_free(fb, sc->ix->nf);
    if (rc != 0)
        scan_close(sc);
    return rc;
}

void scan_close(struct scan *sc)
{
    free(sc->b);
    free(sc->strict);
    if (sc->parked)
        for (int j = 0; j < sc->nf; j++)
            bson_value_destroy(&sc->pos_kv[j]);
    memset(sc, 0, sizeof *sc);
}

/* Where entry n lies relative to the current interval in walk order: -1 before, 0 in, 1 past. */
static int walk_rel(const struct scan *sc, const struct sl_node *n)
{
    int nf = sc->ix->nf;
    const struct ibound *s = sc->b + (size_t)sc->cur * 2 * (size_t)nf, *e = s + nf;
    unsigned char x = sc->strict[sc->cur];
    int cs = index_cmp_bound(sc->ix, index_kv(n), s), ce = index_cmp_bound(sc->ix, index_kv(n), e);
    int below = cs < 0 || (cs == 0 && (x & 1)), above = ce > 0 || (ce == 0 && (x & 2));
    if (sc->dir > 0)
        return below ? -1 : above ? 1 : 0;
    return above ? -1 : below ? 1 : 0;
}

/* The first entry of the current interval in walk order (or beyond it), or NULL. */
static struct sl_node *walk_start(const struct scan *sc)
{
    int nf = sc->ix->nf;
    const struct ibound *s = sc->b + (size_t)sc->cur * 2 * (size_t)nf, *e = s + nf;
    unsigned char x = sc->strict[sc->cur];
    return sc->dir > 0 ? index_seek(sc->ix, s, x & 1) : index_seek_last(sc->ix, e, (x >> 1) & 1);
}

/* From entry n on, the first entry inside an interval, moving to later intervals as needed. */
static struct sl_node *settle(struct scan *sc, struct sl_node *n)
{
    while (n) {
        int r = walk_rel(sc, n);
        if (r == 0)
            return n;
        if (r < 0) {
            n = walk_start(sc);
            if (n == NULL || walk_rel(sc, n) < 0)
                return NULL;
            continue;
        }
        sc->cur += sc->dir;
        if (sc->cur < 0 || (size_t)sc->cur >= sc->niv)
            return NULL;
        n = walk_start(sc);
    }
    return NULL;
}

struct rec *scan_next(struct scan *sc)
{
    if (sc->eof || sc->c == NULL)
        return NULL;
    if (sc->ix == NULL) {
        struct rec *r;
        if (!sc->started)
            r = coll_first(sc->c);
        else if (sc->parked)
            r = coll_seek_rid(sc->c, sc->pos_rid, 1);
        else
            r = sc->node ? coll_next(sl_payload(sc->node)) : NULL;
        sc->started = 1;
        sc->parked = 0;
        sc->node = r ? r->node : NULL;
        sc->eof = r == NULL;
        sc->works++;
        return r;
    }
    struct sl_node *n;
    if (!sc->started) {
        sc->started = 1;
        if (sc->niv == 0) {
            sc->eof = 1;
            return NULL;
        }
        sc->cur = sc->dir > 0 ? 0 : (long)sc->niv - 1;
        n = walk_start(sc);
    } else if (sc->parked) {
        n = index_after(sc->ix, sc->pos_kv, sc->pos_rid, sc->dir);
        for (int j = 0; j < sc->nf; j++)
            bson_value_destroy(&sc->pos_kv[j]);
        sc->parked = 0;
    } else {
        n = sc->node ? (sc->dir > 0 ? sl_next(sc->node) : sl_prev(sc->node)) : NULL;
    }
    n = settle(sc, n);
    sc->node = n;
    sc->works++;
    if (n == NULL) {
        sc->eof = 1;
        return NULL;
    }
    return index_rec(n);
}

void scan_park(struct scan *sc)
{
    if (!sc->started || sc->eof || sc->parked || sc->node == NULL) {
        sc->c = sc->eof ? sc->c : NULL;
        return;
    }
    if (sc->ix) {
        const bson_value_t *kv = index_kv(sc->node);
        for (int j = 0; j < sc->ix->nf; j++)
            bson_value_copy(&kv[j], &sc->pos_kv[j]);
        sc->pos_rid = index_rec(sc->node)->rid;
    } else {
        sc->pos_rid = ((struct rec *)sl_payload(sc->node))->rid;
    }
    sc->parked = 1;
    sc->node = NULL;
    sc->c = NULL;
}

void scan_resume(struct scan *sc, const struct coll *c)
{
    sc->c = c;
}

struct sortkey {
    const char *path;
    int dir;
};

/* The walk direction along ix that yields the sort keys' order, or 0 when none does. */
static int sort_dir(const struct index *ix, const struct ixsum *s, const struct sortkey *k, int nk)
{
    int j = 0, rel = 0;
    for (int f = 0; f < ix->nf && j < nk; f++) {
        if (strcmp(ix->paths[f], k[j].path) == 0) {
            int r = ix->dirs[f] == k[j].dir ? 1 : -1;
            if (rel != 0 && rel != r)
                return 0;
            rel = r;
            j++;
        } else if (!s->single[f]) {
            return 0;
        }
    }
    return j == nk ? (rel ? rel : 1) : 0;
}

struct cand {
    struct plan p;
    double score;
};

/* Runs p for a few entries and scores how promising it is (higher is better). */
static double trial(const struct coll *c, const struct plan *p, const bson_t *filter, int64_t want)
{
    struct scan sc;
    if (scan_open(&sc, c, p, filter) != 0)
        return -1;
    int64_t results = 0;
    struct rec *r = NULL;
    while (sc.works < TRIAL_WORKS && (r = scan_next(&sc)) != NULL) {
        bson_t d;
        sdoc_view(r->doc, &d);
        results += query_match(&d, filter);
        if (p->sorted && want > 0 && results >= want)
            break;
    }
    int64_t works = sc.works ? sc.works : 1;
    int done = r == NULL || (p->sorted && want > 0 && results >= want);
    scan_close(&sc);
    if (done)
        return 1e9 - (double)works;
    return (p->sorted ? (double)results : 0) / (double)works + (p->sorted ? 1e-6 : 0);
}

void plan_choose(const struct coll *c, const bson_t *filter, const bson_t *sort, int64_t want,
                 struct plan *out)
{
    struct pred preds[MAX_PREDS];
    int np = 0;
    collect(filter, preds, &np, 0);
    struct sortkey keys[INDEX_MAX_FIELDS];
    int nk = 0;
    bson_iter_t it;
    if (sort && bson_iter_init(&it, sort)) {
        while (bson_iter_next(&it) && nk < INDEX_MAX_FIELDS) {
            struct fbound fb;
            field_bound(preds, np, bson_iter_key(&it), &fb);
            int constant = fb.npts == 1; /* sorting on a field the filter fixes is a no-op */
            fbounds_free(&fb, 1);
            if (!constant)
                keys[nk++] =
                    (struct sortkey){bson_iter_key(&it), bson_iter_as_int64(&it) < 0 ? -1 : 1};
        }
    }
    struct cand cands[MAX_CANDIDATES];
    int nc = 0;
    for (size_t i = 0; i < coll_nindexes(c) && nc < MAX_CANDIDATES; i++) {
        const struct index *ix = coll_index(c, i);
        if (ix->multikey)
            continue;
        struct fbound fb[INDEX_MAX_FIELDS];
        struct ixsum s;
        for (int j = 0; j < ix->nf; j++)
            field_bound(preds, np, ix->paths[j], &fb[j]);
        summarise(ix, fb, &s);
        fbounds_free(fb, ix->nf);
        int sd = nk > 0 ? sort_dir(ix, &s, keys, nk) : 0;
        int bounded = (s.npfx > 0 || s.range) && !(ix->sparse && s.nullish0);
        if (bounded) {
            cands[nc++].p = (struct plan){(int)i, sd ? sd : 1, nk == 0 || sd != 0};
            if (ix->unique && s.npfx == ix->nf && s.niv == 1) {
                *out = cands[nc - 1].p; /* at most one document: nothing beats it */
                return;
            }
        } else if (sd != 0 && !ix->sparse) {
            cands[nc++].p = (struct plan){(int)i, sd, 1};
        }
    }
    if (nc == 0) {
        *out = (struct plan){PLAN_COLLSCAN, 1, nk == 0};
        return;
    }
    int best = 0;
    if (nc > 1) {
        for (int k = 0; k < nc; k++) {
            cands[k].score = trial(c, &cands[k].p, filter, want);
            if (cands[k].score > cands[best].score)
                best = k;
        }
    }
    *out = cands[best].p;
}
