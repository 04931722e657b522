#include "changestream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "sdoc.h"
#include "store.h"

struct cs {
    char db[128];
    char coll[128]; /* "" for database- or cluster-wide streams */
    int all_dbs;
    int lookup;             /* fullDocument: "updateLookup" */
    uint64_t pos;           /* every oplog entry up to pos has been examined */
    int pending_invalidate; /* the drop at pos ends this stream: an invalidate event is due */
    int invalidated;        /* the invalidate event was produced */
    bson_t *match;          /* $match over events, or NULL */
};

void cs_append_token(bson_t *b, const char *key, uint64_t seq, int inval)
{
    char hex[32];
    snprintf(hex, sizeof hex, "82%016" PRIX64 "%s", seq, inval ? "01" : "");
    bson_t t;
    bson_append_document_begin(b, key, -1, &t);
    BSON_APPEND_UTF8(&t, "_data", hex);
    bson_append_document_end(b, &t);
}

int cs_parse_token(const bson_t *token, uint64_t *seq, int *inval)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, token, "_data") || !BSON_ITER_HOLDS_UTF8(&it))
        return -1;
    uint32_t len;
    const char *s = bson_iter_utf8(&it, &len);
    if ((len != 18 && len != 20) || s[0] != '8' || s[1] != '2')
        return -1;
    if (len == 20 && (s[18] != '0' || s[19] != '1'))
        return -1;
    uint64_t v = 0;
    for (int i = 2; i < 18; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *seq = v;
    *inval = len == 20;
    return 0;
}

void cs_free(struct cs *c)
{
    if (c == NULL)
        return;
    if (c->match)
        bson_destroy(c->match);
    free(c);
}

/* Reads the rest of the pipeline: $match stages only. */
static int parse_rest(struct cs *c, const bson_t *rest, char *err, size_t errlen)
{
    bson_iter_t it;
    if (rest == NULL || !bson_iter_init(&it, rest))
        return 0;
    while (bson_iter_next(&it)) {
        bson_iter_t st;
        if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &st) ||
            !bson_iter_next(&st) || strcmp(bson_iter_key(&st), "$match") != 0 ||
            !BSON_ITER_HOLDS_DOCUMENT(&st)) {
            snprintf(err, errlen, "mongosim supports only $match after $changeStream");
            return 40324;
        }
        uint32_t l;
        const uint8_t *d;
        bson_iter_document(&st, &l, &d);
        bson_t m;
        if (!bson_init_static(&m, d, l) || c->match || query_check(&m, err, errlen) != 0) {
            if (c->match)
                snprintf(err, errlen, "only one $match after $changeStream is supported");
            return 2;
        }
        c->match = bson_copy(&m);
    }
    return 0;
}

/* Does oplog entry e concern this stream? */
static int wanted(const struct cs *c, const struct oplog_entry *e)
{
    if (c->all_dbs)
        return strcmp(e->db, "admin") != 0 && strcmp(e->db, "config") != 0 &&
               strcmp(e->db, "local") != 0;
    if (strcmp(e->db, c->db) != 0)
        return 0;
    if (e->op == 'D')
        return c->coll[0] == '\0';
    return c->coll[0] == '\0' || strcmp(e->coll, c->coll) == 0;
}

/* Does entry e end this stream (a drop of its collection or database)? */
static int ends_stream(const struct cs *c, const struct oplog_entry *e)
{
    if (c->all_dbs)
        return 0;
    return c->coll[0] ? e->op == 'c' : e->op == 'D';
}

static int open_position(struct cs *c, const struct store *s, bson_iter_t *it, const char *k,
                         char *err, size_t errlen)
{
    uint32_t l;
    const uint8_t *d;
    bson_t tok;
    uint64_t seq;
    int inval;
    if (!BSON_ITER_HOLDS_DOCUMENT(it)) {
        snprintf(err, errlen, "%s must be a resume token document", k);
        return 14;
    }
    bson_iter_document(it, &l, &d);
    if (!bson_init_static(&tok, d, l) || cs_parse_token(&tok, &seq, &inval) != 0) {
        snprintf(err, errlen, "malformed resume token in %s", k);
        return 9;
    }
    if (inval && strcmp(k, "resumeAfter") == 0) {
        snprintf(err, errlen,
                 "Attempting to resume a change stream using 'resumeAfter' is not allowed from "
                 "an invalidate notification.");
        return 260;
    }
    c->pos = seq;
    const struct oplog_entry *e = store_oplog(s, seq);
    c->pending_invalidate = !inval && e && wanted(c, e) && ends_stream(c, e);
    return 0;
}

int cs_open(struct cs **out, const struct store *s, uint64_t last, const char *db, const char *coll,
            const bson_t *spec, const bson_t *rest, char *err, size_t errlen)
{
    struct cs *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return 146;
    }
    snprintf(c->db, sizeof c->db, "%s", db);
    snprintf(c->coll, sizeof c->coll, "%s", coll ? coll : "");
    c->pos = last < store_last_seq(s) ? last : store_last_seq(s);
    int code = 0;
    bson_iter_t it;
    if (bson_iter_init_find(&it, spec, "allChangesForCluster"))
        c->all_dbs = bson_iter_as_bool(&it);
    if (!bson_iter_init(&it, spec)) {
        code = 9;
        goto fail;
    }
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (strcmp(k, "resumeAfter") == 0 || strcmp(k, "startAfter") == 0) {
            if ((code = open_position(c, s, &it, k, err, errlen)) != 0)
                goto fail;
        } else if (strcmp(k, "startAtOperationTime") == 0) {
            uint32_t t, i;
            if (!BSON_ITER_HOLDS_TIMESTAMP(&it)) {
                code = 14;
                snprintf(err, errlen, "startAtOperationTime must be a Timestamp");
                goto fail;
            }
            bson_iter_timestamp(&it, &t, &i);
            uint64_t want = (uint64_t)t << 32 | i;
            uint64_t seq = store_first_seq(s);
            for (; seq <= store_last_seq(s); seq++) {
                const struct oplog_entry *e = store_oplog(s, seq);
                if (((uint64_t)e->ts_t << 32 | e->ts_i) >= want)
                    break;
            }
            c->pos = seq - 1;
        } else if (strcmp(k, "fullDocument") == 0) {
            const char *v = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
            if (strcmp(v, "updateLookup") == 0 || strcmp(v, "whenAvailable") == 0) {
                c->lookup = 1;
            } else if (strcmp(v, "default") != 0) {
                code = 2;
                snprintf(err, errlen,
                         "fullDocument must be \"default\" or \"updateLookup\" in mongosim "
                         "(it keeps no post-images)");
                goto fail;
            }
        } else if (strcmp(k, "fullDocumentBeforeChange") == 0) {
            const char *v = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
            if (strcmp(v, "off") != 0 && strcmp(v, "whenAvailable") != 0) {
                code = 2;
                snprintf(err, errlen,
                         "mongosim keeps no pre-images: fullDocumentBeforeChange "
                         "must be \"off\" or \"whenAvailable\"");
                goto fail;
            }
        } else if (strcmp(k, "allChangesForCluster") != 0 && strcmp(k, "showExpandedEvents") != 0) {
            code = 40415;
            snprintf(err, errlen, "BSON field '$changeStream.%s' is an unknown field.", k);
            goto fail;
        }
    }
    if (c->all_dbs && (strcmp(db, "admin") != 0 || coll != NULL)) {
        code = 40324;
        snprintf(err, errlen, "allChangesForCluster needs aggregate: 1 on the admin database");
        goto fail;
    }
    if (c->pos + 1 < store_first_seq(s)) {
        code = 286;
        snprintf(err, errlen,
                 "Resume of change stream was not possible, as the resume point "
                 "may no longer be in the oplog.");
        goto fail;
    }
    if ((code = parse_rest(c, rest, err, errlen)) != 0)
        goto fail;
    *out = c;
    return 0;
fail:
    if (code == 9 && err[0] == '\0')
        snprintf(err, errlen, "malformed $changeStream stage");
    cs_free(c);
    return code;
}

static void append_sdoc(bson_t *b, const char *key, const struct sdoc *d)
{
    bson_t v;
    sdoc_view(d, &v);
    BSON_APPEND_DOCUMENT(b, key, &v);
}

/* Builds the change event for e into ev. */
static void make_event(const struct cs *c, struct store *s, const struct oplog_entry *e, bson_t *ev)
{
    cs_append_token(ev, "_id", e->seq, 0);
    BSON_APPEND_UTF8(ev, "operationType", oplog_op_name(e->op));
    bson_append_timestamp(ev, "clusterTime", -1, e->ts_t, e->ts_i);
    bson_append_date_time(ev, "wallTime", -1, e->wall_ms);
    if (e->op == 'i' || e->op == 'r') {
        append_sdoc(ev, "fullDocument", e->doc);
    } else if (e->op == 'u' && c->lookup) {
        /* updateLookup: the document as it is now (null once deleted), as MongoDB does. */
        bson_t key;
        bson_iter_t it;
        sdoc_view(e->key, &key);
        struct rec *r = NULL;
        if (bson_iter_init_find(&it, &key, "_id"))
            r = coll_find_id(store_coll(s, e->db, e->coll, 0), bson_iter_value(&it));
        if (r)
            append_sdoc(ev, "fullDocument", r->doc);
        else
            BSON_APPEND_NULL(ev, "fullDocument");
    }
    bson_t ns;
    BSON_APPEND_DOCUMENT_BEGIN(ev, "ns", &ns);
    BSON_APPEND_UTF8(&ns, "db", e->db);
    if (e->op != 'D')
        BSON_APPEND_UTF8(&ns, "coll", e->coll);
    bson_append_document_end(ev, &ns);
    if (e->op == 'i') {
        bson_t d, key;
        bson_iter_t it;
        sdoc_view(e->doc, &d);
        if (bson_iter_init_find(&it, &d, "_id")) {
            BSON_APPEND_DOCUMENT_BEGIN(ev, "documentKey", &key);
            bson_append_value(&key, "_id", 3, bson_iter_value(&it));
            bson_append_document_end(ev, &key);
        }
    } else if (e->key) {
        append_sdoc(ev, "documentKey", e->key);
    }
    if (e->op == 'u' && e->desc)
        append_sdoc(ev, "updateDescription", e->desc);
}

static void make_invalidate(uint64_t seq, const struct oplog_entry *e, bson_t *ev)
{
    cs_append_token(ev, "_id", seq, 1);
    BSON_APPEND_UTF8(ev, "operationType", "invalidate");
    if (e) {
        bson_append_timestamp(ev, "clusterTime", -1, e->ts_t, e->ts_i);
        bson_append_date_time(ev, "wallTime", -1, e->wall_ms);
    }
}

/* Appends ev to arr at index *n when it passes the $match. */
static void emit(const struct cs *c, bson_t *arr, const bson_t *ev, int *n)
{
    if (c->match && !query_match(ev, c->match))
        return;
    char kbuf[16];
    const char *k;
    bson_uint32_to_string((uint32_t)*n, &k, kbuf, sizeof kbuf);
    bson_append_document(arr, k, -1, ev);
    (*n)++;
}

int cs_next_batch(struct cs *c, struct store *s, uint64_t upto, struct store *view, bson_t *arr,
                  int max, enum cs_state *state)
{
    *state = CS_CAUGHT_UP;
    if (c->invalidated) {
        *state = CS_INVALIDATED;
        return 0;
    }
    if (c->pos + 1 < store_first_seq(s) && !c->pending_invalidate)
        return -1;
    int n = 0, examined = 0;
    uint64_t last = store_last_seq(s) < upto ? store_last_seq(s) : upto;
    for (;;) {
        if (c->pending_invalidate) {
            if (n >= max) {
                *state = CS_MORE;
                return n;
            }
            bson_t ev = BSON_INITIALIZER;
            make_invalidate(c->pos, store_oplog(s, c->pos), &ev);
            emit(c, arr, &ev, &n);
            bson_destroy(&ev);
            c->pending_invalidate = 0;
            c->invalidated = 1;
            *state = CS_INVALIDATED;
            return n;
        }
        if (c->pos >= last || n >= max)
            break;
        if (examined++ >= CS_SCAN_MAX) {
            *state = CS_MORE;
            break;
        }
        const struct oplog_entry *e = store_oplog(s, c->pos + 1);
        c->pos++;
        if (e == NULL || !wanted(c, e))
            continue;
        bson_t ev = BSON_INITIALIZER;
        make_event(c, view, e, &ev);
        emit(c, arr, &ev, &n);
        bson_destroy(&ev);
        c->pending_invalidate = ends_stream(c, e);
    }
    if (*state == CS_CAUGHT_UP && c->pos < last)
        *state = CS_MORE;
    return n;
}

void cs_append_pbrt(const struct cs *c, bson_t *b, const char *key)
{
    cs_append_token(b, key, c->pos, c->invalidated);
}
