#include "session.h"

#include <stdlib.h>
#include <string.h>

struct sess {
    bson_t *lsid;
    int64_t txn;
    bson_t *reply;
    int64_t last_used;
    struct sess *next;
};

struct sessions {
    struct sess *head;
    size_t n, max;
};

struct sessions *sessions_new(size_t max)
{
    struct sessions *t = calloc(1, sizeof *t);
    if (t)
        t->max = max ? max : 1;
    return t;
}

static void sess_free(struct sess *s)
{
    bson_destroy(s->lsid);
    if (s->reply)
        bson_destroy(s->reply);
    free(s);
}

void sessions_free(struct sessions *t)
{
    if (t == NULL)
        return;
    while (t->head) {
        struct sess *s = t->head;
        t->head = s->next;
        sess_free(s);
    }
    free(t);
}

struct sessions *sessions_copy(const struct sessions *t)
{
    struct sessions *n = sessions_new(t->max);
    struct sess **tail = n ? &n->head : NULL;
    for (const struct sess *s = t->head; n && s; s = s->next) {
        struct sess *c = calloc(1, sizeof *c);
        if (c == NULL) {
            sessions_free(n);
            return NULL;
        }
        c->lsid = bson_copy(s->lsid);
        c->txn = s->txn;
        c->reply = s->reply ? bson_copy(s->reply) : NULL;
        c->last_used = s->last_used;
        *tail = c; /* in the same order */
        tail = &c->next;
        n->n++;
    }
    return n;
}

static struct sess **find(struct sessions *t, const bson_t *lsid)
{
    for (struct sess **pp = &t->head; *pp; pp = &(*pp)->next)
        if (bson_equal((*pp)->lsid, lsid))
            return pp;
    return NULL;
}

enum session_check sessions_check(struct sessions *t, const bson_t *lsid, int64_t txn,
                                  bson_t *reply, int64_t now)
{
    struct sess **pp = find(t, lsid);
    if (pp == NULL)
        return SESSION_EXECUTE;
    struct sess *s = *pp;
    s->last_used = now;
    if (txn < s->txn)
        return SESSION_TOO_OLD;
    if (txn == s->txn && s->reply) {
        bson_copy_to(s->reply, reply);
        return SESSION_RETRY;
    }
    return SESSION_EXECUTE;
}

void sessions_record(struct sessions *t, const bson_t *lsid, int64_t txn, const bson_t *reply,
                     int64_t now)
{
    struct sess **pp = find(t, lsid);
    struct sess *s;
    if (pp) {
        s = *pp;
        if (s->reply)
            bson_destroy(s->reply);
    } else {
        if (t->n >= t->max) {
            /* Evict the least recently used session. */
            struct sess **victim = &t->head;
            for (struct sess **q = &t->head; *q; q = &(*q)->next)
                if ((*q)->last_used < (*victim)->last_used)
                    victim = q;
            struct sess *v = *victim;
            *victim = v->next;
            sess_free(v);
            t->n--;
        }
        s = calloc(1, sizeof *s);
        if (s == NULL)
            return;
        s->lsid = bson_copy(lsid);
        s->next = t->head;
        t->head = s;
        t->n++;
    }
    s->txn = txn;
    s->reply = bson_copy(reply);
    s->last_used = now;
}

void sessions_end(struct sessions *t, const bson_t *lsid)
{
    struct sess **pp = find(t, lsid);
    if (pp) {
        struct sess *s = *pp;
        *pp = s->next;
        sess_free(s);
        t->n--;
    }
}
